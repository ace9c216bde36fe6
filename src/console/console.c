/*
 * The console: one place that every message passes through on its way to
 * COM1 and the screen.
 */
#include <fern/console.h>
#include <fern/format.h>
#include <fern/x86.h>

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
#if FERN_CHAPTER >= 3

/*
 * The console lock. From chapter 3 on, interrupt handlers run in the
 * middle of other code, and some print: without a lock, a handler's line
 * could land in the middle of the line being printed when it struck.
 *
 * On one CPU the lock is simply "interrupts off" for the length of a
 * print. It must not be a flag that a handler waits on: the handler would
 * wait for the code it interrupted, which cannot run until the handler
 * returns, so it would wait forever. With interrupts off, the handler is
 * held back instead and runs, with its whole line, right after ours. Only
 * an exception raised inside the console itself can still cut in, and its
 * report must be printed anyway.
 */
uint64_t console_lock(void)
{
	return irq_save();
}

void console_unlock(uint64_t flags)
{
	irq_restore(flags);
}
#else

/*
 * Before chapter 3 nothing can cut into a print: interrupts stay off from
 * the first instruction on. The lock is the seam where chapter 3 puts one.
 */
uint64_t console_lock(void)
{
	return 0;
}

void console_unlock(uint64_t flags)
{
	(void)flags;
}
#endif

/* Every byte to both outputs; the caller holds the console lock. */
static void console_emit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* A terminal on the serial line wants CR LF. */
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
		vga_putc(s[i]);
	}
}

void console_write(const char *s, size_t len)
{
	uint64_t flags = console_lock();

	console_emit(s, len);
	console_unlock(flags);
}

static void console_sink(char c, void *arg)
{
	(void)arg;
	console_emit(&c, 1);
}

int kvprintf(const char *fmt, va_list ap)
{
	/* The whole formatted text under one hold of the lock. */
	uint64_t flags = console_lock();
	int n = kvformat(console_sink, NULL, fmt, ap);

	console_unlock(flags);
	return n;
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
