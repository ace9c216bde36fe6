/*
 * Tests of the VGA console (vga.c), checked against the hardware itself:
 * the text memory at 0xb8000 and the CRT controller's cursor registers.
 *
 * The tests write to the real screen, so each saves the screen first and
 * puts it back before checking anything: a failed check prints a line,
 * and that line must not land in the middle of the screen under test.
 */
#include <fern/console.h>
#include <fern/ktest.h>
#include <fern/layout.h>
#include <fern/x86.h>

/* Text mode 3, as the hardware defines it. */
#define SCREEN_COLS	80
#define SCREEN_ROWS	25
#define SCREEN_CELLS	(SCREEN_COLS * SCREEN_ROWS)

static volatile uint16_t *const screen =
	(volatile uint16_t *)PHYS_TO_VIRT(0xb8000);

static struct {
	uint16_t cells[SCREEN_CELLS];
	int row, col;
} saved;

static void screen_save(void)
{
	for (int i = 0; i < SCREEN_CELLS; i++)
		saved.cells[i] = screen[i];
	vga_get_cursor(&saved.row, &saved.col);
	vga_clear();
}

static void screen_restore(void)
{
	for (int i = 0; i < SCREEN_CELLS; i++)
		screen[i] = saved.cells[i];
	vga_set_cursor(saved.row, saved.col);
	vga_set_color(VGA_LIGHT_GREY, VGA_BLACK);
}

static uint16_t cell(int row, int col)
{
	return screen[row * SCREEN_COLS + col];
}

static void put(const char *s)
{
	while (*s)
		vga_putc(*s++);
}

/* The cursor position the CRT controller holds (Cursor Location High/Low). */
static int hardware_cursor(void)
{
	int pos;

	outb(0x3d4, 0x0e);
	pos = inb(0x3d5) << 8;
	outb(0x3d4, 0x0f);
	return pos | inb(0x3d5);
}

KTEST(vga, "a character lands in the cursor's cell in the current colour")
{
	uint16_t a, b;

	screen_save();
	vga_set_cursor(3, 10);
	vga_set_color(VGA_YELLOW, VGA_BLUE);
	put("A");
	vga_set_color(VGA_LIGHT_GREY, VGA_BLACK);
	put("b");
	a = cell(3, 10);
	b = cell(3, 11);
	screen_restore();

	/* character in the low byte, background << 4 | foreground above */
	KTEST_EXPECT_EQ(a, 0x1e00 | 'A');
	KTEST_EXPECT_EQ(b, 0x0700 | 'b');
}

KTEST(vga, "a newline goes to the start of the next row")
{
	int row, col;
	uint16_t c;

	screen_save();
	put("abc\nd");
	vga_get_cursor(&row, &col);
	c = cell(1, 0);
	screen_restore();

	KTEST_EXPECT_EQ(row, 1);
	KTEST_EXPECT_EQ(col, 1);
	KTEST_EXPECT_EQ(c & 0xff, 'd');
}

KTEST(vga, "a tab moves to the next multiple of 8 columns")
{
	int row, col1, col2, col3;

	screen_save();
	put("abc\t");
	vga_get_cursor(&row, &col1);
	put("\t");
	vga_get_cursor(&row, &col2);
	put("12345678\t");
	vga_get_cursor(&row, &col3);
	screen_restore();

	KTEST_EXPECT_EQ(col1, 8);
	KTEST_EXPECT_EQ(col2, 16);
	KTEST_EXPECT_EQ(col3, 32);
}

KTEST(vga, "backspace and carriage return move the cursor, not the text")
{
	int row, col_bs, col_cr, col_start;
	uint16_t c;

	screen_save();
	put("abc\b");
	vga_get_cursor(&row, &col_bs);
	c = cell(0, 2);
	put("\r");
	vga_get_cursor(&row, &col_cr);
	put("\b");
	vga_get_cursor(&row, &col_start);
	screen_restore();

	KTEST_EXPECT_EQ(col_bs, 2);
	KTEST_EXPECT_EQ(c & 0xff, 'c');
	KTEST_EXPECT_EQ(col_cr, 0);
	KTEST_EXPECT_EQ(col_start, 0);
}

KTEST(vga, "a line longer than 80 columns wraps to the next row")
{
	int row, col;
	uint16_t last, next;

	screen_save();
	for (int i = 0; i < SCREEN_COLS; i++)
		put("x");
	put("y");
	vga_get_cursor(&row, &col);
	last = cell(0, SCREEN_COLS - 1);
	next = cell(1, 0);
	screen_restore();

	KTEST_EXPECT_EQ(last & 0xff, 'x');
	KTEST_EXPECT_EQ(next & 0xff, 'y');
	KTEST_EXPECT_EQ(row, 1);
	KTEST_EXPECT_EQ(col, 1);
}

KTEST(vga, "a newline on the last row scrolls up and clears the last row")
{
	uint16_t top, second_last, last_row[SCREEN_COLS];
	int row, col;

	screen_save();
	/* Row r holds the letter 'A' + r. */
	for (int r = 0; r < SCREEN_ROWS; r++) {
		vga_set_cursor(r, 0);
		vga_putc((char)('A' + r));
	}
	vga_set_cursor(SCREEN_ROWS - 1, 5);
	vga_set_color(VGA_WHITE, VGA_RED);
	put("\n");
	vga_get_cursor(&row, &col);
	top = cell(0, 0);
	second_last = cell(SCREEN_ROWS - 2, 0);
	for (int c = 0; c < SCREEN_COLS; c++)
		last_row[c] = cell(SCREEN_ROWS - 1, c);
	screen_restore();

	KTEST_EXPECT_EQ(top & 0xff, 'B');
	KTEST_EXPECT_EQ(second_last & 0xff, 'A' + SCREEN_ROWS - 1);
	KTEST_EXPECT_EQ(row, SCREEN_ROWS - 1);
	KTEST_EXPECT_EQ(col, 0);
	/* Blank, in the colour of the text that caused the scroll. */
	for (int c = 0; c < SCREEN_COLS; c++) {
		if (!KTEST_EXPECT_EQ(last_row[c], 0x4f00 | ' '))
			break;
	}
}

KTEST(vga, "the hardware cursor follows the text")
{
	int at_home, after;

	screen_save();
	at_home = hardware_cursor();
	put("ab\ncd");
	after = hardware_cursor();
	screen_restore();

	KTEST_EXPECT_EQ(at_home, 0);
	KTEST_EXPECT_EQ(after, 1 * SCREEN_COLS + 2);
}

/*
 * For the harness: print numbered lines until the screen has scrolled,
 * then (with idle=1) the kernel halts and the harness compares the VGA
 * text memory, read through QEMU's monitor, with the serial output.
 */
KTEST_EXPLICIT(scroll, "40 numbered lines scroll the screen")
{
	(void)ktest;
	for (int i = 1; i <= 40; i++)
		ktest_checkpoint("scroll: line %02d", i);
}
