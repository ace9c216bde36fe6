/*
 * The VGA text screen: 80x25 cells of memory at physical 0xb8000, each a
 * character byte and an attribute byte (foreground colour in the low four
 * bits, background in the next three). Writing memory is all it takes for
 * a character to appear.
 */
#include <fern/console.h>
#include <fern/layout.h>
#include <fern/x86.h>

#define VGA_COLS	80
#define VGA_ROWS	25
#define VGA_TEXT_PHYS	0xb8000
#define VGA_ATTR	0x07	/* light grey on black */

static volatile uint16_t *const vga_cells =
	(volatile uint16_t *)PHYS_TO_VIRT(VGA_TEXT_PHYS);
static int vga_row, vga_col;
static uint8_t vga_attr = VGA_ATTR;

static uint16_t vga_cell(char c)
{
	return (uint16_t)(vga_attr << 8) | (uint8_t)c;
}
#if FERN_CHAPTER >= 2

/*
 * The blinking cursor is not in the text memory: the CRT controller draws
 * it over the cell whose index (row * 80 + col) is in its Cursor Location
 * registers. The controller has dozens of registers behind two ports:
 * write a register's number to the index port, then access it through the
 * data port (IBM VGA Technical Reference, "CRT Controller Registers").
 */
#define CRTC_INDEX		0x3d4
#define CRTC_DATA		0x3d5
#define CRTC_CURSOR_LOC_HIGH	0x0e
#define CRTC_CURSOR_LOC_LOW	0x0f

#define VGA_TAB_WIDTH	8

/* Bit 7 of an attribute means "blink", so backgrounds have three bits. */
#define VGA_BG_MASK	0x7

/* Tell the CRT controller where to draw the cursor. */
static void vga_update_cursor(void)
{
	uint16_t pos = (uint16_t)(vga_row * VGA_COLS + vga_col);

	outb(CRTC_INDEX, CRTC_CURSOR_LOC_HIGH);
	outb(CRTC_DATA, pos >> 8);
	outb(CRTC_INDEX, CRTC_CURSOR_LOC_LOW);
	outb(CRTC_DATA, pos & 0xff);
}

void vga_set_color(enum vga_color fg, enum vga_color bg)
{
	vga_attr = (uint8_t)((bg & VGA_BG_MASK) << 4 | (fg & 0xf));
}

void vga_get_cursor(int *row, int *col)
{
	*row = vga_row;
	*col = vga_col;
}

void vga_set_cursor(int row, int col)
{
	if (row < 0 || row >= VGA_ROWS || col < 0 || col >= VGA_COLS)
		return;
	vga_row = row;
	vga_col = col;
	vga_update_cursor();
}

/*
 * Scroll the text up by one row: row 1 moves to row 0, ..., row 24 to row
 * 23, and row 24 becomes blank. Text memory is ordinary memory, so this is
 * a copy; the cells overlap only in the "to a lower address" direction, so
 * copying from the start forwards never reads a cell it already wrote.
 *
 * This runs in the middle of printing a line, so it must not print
 * anything itself: the lab's stub clears the screen instead of scrolling.
 */
static void vga_scroll(void)
{
	/* LAB 2 BEGIN: copy rows 1..24 onto rows 0..23, then fill row 24 with blanks in the current colour */
	for (int i = 0; i < (VGA_ROWS - 1) * VGA_COLS; i++)
		vga_cells[i] = vga_cells[i + VGA_COLS];
	for (int col = 0; col < VGA_COLS; col++)
		vga_cells[(VGA_ROWS - 1) * VGA_COLS + col] = vga_cell(' ');
	/* LAB 2 STUB: vga_clear(); */
	/* LAB 2 END */
}
#else

/*
 * Chapter 1 keeps the screen simple; these are the two places where
 * chapter 2 makes it a console. The hardware cursor stays where the BIOS
 * left it, and past the last row writing starts again at the top of a
 * blank screen instead of scrolling.
 */
static void vga_update_cursor(void)
{
}

static void vga_scroll(void)
{
	vga_clear();
}
#endif

void vga_clear(void)
{
	for (int i = 0; i < VGA_COLS * VGA_ROWS; i++)
		vga_cells[i] = vga_cell(' ');
	vga_row = 0;
	vga_col = 0;
	vga_update_cursor();
}

/* Start a new line; on the last row, scroll instead of moving down. */
static void vga_newline(void)
{
	vga_col = 0;
	if (vga_row == VGA_ROWS - 1)
		vga_scroll();
	else
		vga_row++;
}

/*
 * Put one character at the cursor and move the cursor past it. The four
 * control characters a console needs move the cursor instead of printing:
 * newline, carriage return, tab (to the next multiple of 8 columns) and
 * backspace (one column left, but not past the start of the row; erasing
 * is "\b \b", which is what the line reader sends). Chapter 1 knows only
 * newline.
 */
void vga_putc(char c)
{
	switch (c) {
	case '\n':
		vga_newline();
		break;
#if FERN_CHAPTER >= 2
	case '\r':
		vga_col = 0;
		break;
	case '\t':
		vga_col = (vga_col / VGA_TAB_WIDTH + 1) * VGA_TAB_WIDTH;
		if (vga_col >= VGA_COLS)
			vga_newline();
		break;
	case '\b':
		if (vga_col > 0)
			vga_col--;
		break;
#endif
	default:
		vga_cells[vga_row * VGA_COLS + vga_col] = vga_cell(c);
		if (++vga_col == VGA_COLS)
			vga_newline();
		break;
	}
	vga_update_cursor();
}
