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
#if FERN_CHAPTER >= 3

/*
 * Chapter 3: the input queue, a ring of bytes between the interrupt
 * handlers that add to its head and console_getc(), which takes from its
 * tail. The indices only ever grow; with a power-of-two size, index % size
 * is the slot, and head - tail is how many bytes wait, even after the
 * counters wrap around.
 */
#define INPUT_QUEUE_SIZE	256

static char input_queue[INPUT_QUEUE_SIZE];
static volatile unsigned int input_head, input_tail;
static bool input_by_irq;

/*
 * Interrupts are off while the queue changes hands: a handler can then
 * never see it half-updated, even when this is called outside one.
 */
void console_input_push(char c)
{
	uint64_t flags = irq_save();

	if (input_head - input_tail < INPUT_QUEUE_SIZE) {
		input_queue[input_head % INPUT_QUEUE_SIZE] = c;
		input_head++;
	}
	irq_restore(flags);
}

/* Take the oldest byte; -1 if there is none. Call with interrupts off. */
static int input_pop(void)
{
	if (input_tail == input_head)
		return -1;
	return (unsigned char)input_queue[input_tail++ % INPUT_QUEUE_SIZE];
}

void console_input_irq_on(void)
{
	input_by_irq = true;
}

/*
 * Wait for a byte: take it from the queue, and if the queue is empty,
 * sleep until an interrupt comes, which may have brought one.
 *
 * The check and the sleep must not be separable: if the check ran with
 * interrupts on, a byte could arrive just after it, and HLT would then
 * sleep through it until some later interrupt. So the check runs with
 * interrupts off, and sti_hlt() turns them on only as HLT starts.
 *
 * Until COM1's interrupt is on (see console_input_irq_on()), its bytes
 * reach nobody's queue, so COM1 is polled as in chapter 2; the queue is
 * still checked, for the keyboard.
 */
int console_getc(void)
{
	for (;;) {
		uint64_t flags = irq_save();
		int c = input_pop();

		if (c < 0 && input_by_irq) {
			sti_hlt();
			continue;
		}
		irq_restore(flags);
		if (c < 0)
			c = serial_try_getc();
		if (c >= 0)
			return c;
		pause();
	}
}

/* console_getc() without the wait: what is queued, or what COM1 holds. */
int console_try_getc(void)
{
	uint64_t flags = irq_save();
	int c = input_pop();

	irq_restore(flags);
	if (c < 0 && !input_by_irq)
		c = serial_try_getc();
	return c;
}

/*
 * console_getc()'s wait on its own: sleep until an interrupt if nothing is
 * queued, with the same check-then-halt under interrupts off. Before
 * COM1's interrupt is on, nothing would wake us for its bytes: spin once.
 */
void console_wait_input(void)
{
	uint64_t flags = irq_save();

	if (input_head == input_tail && input_by_irq) {
		sti_hlt();
		return;
	}
	irq_restore(flags);
	if (!input_by_irq)
		pause();
}
#else

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

int console_try_getc(void)
{
	return serial_try_getc();
}

/* Without interrupts there is nothing to sleep on: spin once. */
void console_wait_input(void)
{
	pause();
}
#endif

/*
 * Terminals end a line with CR, programs that write to a pipe with LF, and
 * some send both. After a CR ends a line, an LF that follows it right away
 * is the same line end, not an empty line. This is remembered across
 * lines, and across everyone who reads them.
 */
static bool last_was_cr;

bool console_line_feed(struct console_line *line, int c)
{
	char ch = (char)c;

	if (c == '\n' && last_was_cr) {
		last_was_cr = false;
		return false;
	}
	last_was_cr = c == '\r';
	if (c == '\r' || c == '\n') {
		console_write("\n", 1);
		line->buf[line->len] = '\0';
		return true;
	}
	if (c == ASCII_BS || c == ASCII_DEL) {
		if (line->len > 0) {
			line->len--;
			console_write("\b \b", 3);
		}
		return false;
	}
	/* Other control bytes, and anything that is not ASCII. */
	if (c < 0x20 || c > 0x7e)
		return false;
	/* Full: keep the last byte for the NUL; drop, do not echo. */
	if (line->len + 1 >= line->size)
		return false;
	line->buf[line->len++] = ch;
	console_write(&ch, 1);
	return false;
}

size_t console_readline(char *buf, size_t size)
{
	struct console_line line = { .buf = buf, .size = size, .len = 0 };

	if (size == 0)
		return 0;
	while (!console_line_feed(&line, console_getc()))
		;
	return line.len;
}
