/*
 * The console: one place that every message passes through on its way to
 * COM1 and the screen.
 */
#include <fern/console.h>
#include <fern/format.h>

void console_init(void)
{
#if FERN_CHAPTER >= 2
	int serial_ok = serial_init();

	vga_clear();
	/* Only the screen can tell; writing to a missing UART is harmless. */
	if (serial_ok < 0)
		kprintf("console: no 16550 UART answers on COM1\n");
#else
	vga_clear();
#endif
}

void console_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* A terminal on the serial line wants CR LF. */
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
		vga_putc(s[i]);
	}
}

static void console_sink(char c, void *arg)
{
	(void)arg;
	console_write(&c, 1);
}

int kvprintf(const char *fmt, va_list ap)
{
	return kvformat(console_sink, NULL, fmt, ap);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
