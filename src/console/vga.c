/*
 * The VGA text screen: 80x25 cells of memory at physical 0xb8000, each a
 * character byte and an attribute byte (foreground colour in the low four
 * bits, background in the next three). Writing memory is all it takes for
 * a character to appear.
 */
#include <fern/boot.h>
#include <fern/console.h>

#define VGA_COLS	80
#define VGA_ROWS	25
#define VGA_TEXT_PHYS	0xb8000
#define VGA_ATTR	0x07	/* light grey on black */

static volatile uint16_t *const vga_cells =
	(volatile uint16_t *)PHYS_TO_VIRT(VGA_TEXT_PHYS);
static int vga_row, vga_col;

static uint16_t vga_cell(char c)
{
	return (uint16_t)(VGA_ATTR << 8) | (uint8_t)c;
}

void vga_clear(void)
{
	for (int i = 0; i < VGA_COLS * VGA_ROWS; i++)
		vga_cells[i] = vga_cell(' ');
	vga_row = 0;
	vga_col = 0;
}

/*
 * Start a new line. Chapter 1 keeps it simple: past the last row, writing
 * starts again at the top. Chapter 2 scrolls instead.
 */
static void vga_newline(void)
{
	vga_col = 0;
	if (++vga_row == VGA_ROWS)
		vga_row = 0;
	for (int col = 0; col < VGA_COLS; col++)
		vga_cells[vga_row * VGA_COLS + col] = vga_cell(' ');
}

void vga_putc(char c)
{
	if (c == '\n') {
		vga_newline();
		return;
	}
	vga_cells[vga_row * VGA_COLS + vga_col] = vga_cell(c);
	if (++vga_col == VGA_COLS)
		vga_newline();
}
