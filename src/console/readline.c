/*
 * Console input: one byte at a time, and a line at a time with the small
 * amount of editing a person at a terminal expects.
 *
 * A serial terminal sends what the keys make: printable ASCII, CR (0x0d)
 * for Enter, and DEL (0x7f) or BS (0x08) for Backspace depending on its
 * settings. Nothing appears on the terminal unless we send it back: the
 * "echo" is our job, and so is rubbing out a character with "\b \b" (back,
 * overwrite with a space, back again).
 */
#include <fern/console.h>
#include <fern/x86.h>
#include <stdbool.h>

#define ASCII_BS	0x08
#define ASCII_DEL	0x7f

/*
 * Chapter 2 has no interrupts, so waiting for input means asking the UART
 * again and again. Chapter 3 replaces this loop's body: the serial and
 * keyboard interrupt handlers put bytes in a queue, and console_getc()
 * sleeps until the queue has one. Callers do not change.
 */
int console_getc(void)
{
	int c;

	while ((c = serial_try_getc()) < 0)
		pause();
	return c;
}

size_t console_readline(char *buf, size_t size)
{
	/*
	 * Terminals end a line with CR, programs that write to a pipe with
	 * LF, and some send both. After a CR ends a line, an LF that follows
	 * it right away is the same line end, not an empty line.
	 */
	static bool last_was_cr;
	size_t len = 0;

	if (size == 0)
		return 0;
	for (;;) {
		int c = console_getc();
		char ch = (char)c;

		if (c == '\n' && last_was_cr) {
			last_was_cr = false;
			continue;
		}
		last_was_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			console_write("\n", 1);
			break;
		}
		if (c == ASCII_BS || c == ASCII_DEL) {
			if (len > 0) {
				len--;
				console_write("\b \b", 3);
			}
			continue;
		}
		/* Other control bytes, and anything that is not ASCII. */
		if (c < 0x20 || c > 0x7e)
			continue;
		/* Full: keep the last byte for the NUL; drop, do not echo. */
		if (len + 1 >= size)
			continue;
		buf[len++] = ch;
		console_write(&ch, 1);
	}
	buf[len] = '\0';
	return len;
}
