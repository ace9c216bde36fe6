/*
 * The timer: channel 0 of the PC's 8254 Programmable Interval Timer (Intel
 * 8254 datasheet), wired to IRQ 0.
 *
 * The 8254 counts down from a 16-bit divisor at PIT_INPUT_HZ, 1.193182 MHz
 * (the 14.31818 MHz crystal of the first PC, divided by 12). In mode 2,
 * "rate generator", channel 0 pulses its output each time the count
 * reaches 1, reloads the divisor and counts again: an interrupt every
 * divisor / 1193182 seconds. For TIMER_HZ = 100 the divisor is 11932, and
 * the ticks come at 99.998 Hz. The BIOS leaves the divisor at 0, which the
 * 8254 counts as 65536: 18.2 Hz.
 *
 * Each interrupt adds one to the tick count; sleep_ms() halts the CPU
 * until enough ticks have gone by.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/i8254.h>
#include <fern/shell.h>
#include <fern/x86.h>

static volatile uint64_t ticks;
static unsigned int pit_hz;

/* The PIT is alone on IRQ 0, and has no status to ask: it is always it. */
static enum irq_result timer_interrupt(void *ctx)
{
	(void)ctx;
	ticks++;
	return IRQ_HANDLED;
}

/*
 * Program channel 0 to interrupt @hz times a second. The divisor is the
 * input clock divided by the rate, rounded to the nearest integer; the
 * command byte says which channel, how the divisor will be written (two
 * bytes, low first) and the mode.
 */
static void pit_program(unsigned int hz)
{
	/* LAB 3 BEGIN: divisor = PIT_INPUT_HZ / hz, rounded; the command byte (channel 0, low then high byte, mode 2) to PIT_COMMAND; the divisor to PIT_CHANNEL0, low byte first */
	uint32_t divisor = (PIT_INPUT_HZ + hz / 2) / hz;

	outb(PIT_COMMAND, PIT_SELECT_CHANNEL0 | PIT_ACCESS_LOHI |
			  PIT_MODE_RATE | PIT_BINARY);
	outb(PIT_CHANNEL0, divisor & 0xff);
	outb(PIT_CHANNEL0, (divisor >> 8) & 0xff);
	/* LAB 3 STUB: kprintf("timer: pit_program() does not program the PIT yet, so it ticks at the BIOS's 18.2 Hz, not %u Hz\n", hz); */
	/* LAB 3 END */
}

void pit_set_rate(unsigned int hz)
{
	/* The divisor must fit in 16 bits, and 0 would mean 65536. */
	/* Mode 2 needs a divisor of at least 2 (8254 datasheet, mode 2). */
	assert(hz > PIT_INPUT_HZ / 65536 && hz <= PIT_INPUT_HZ / 2);
	pit_program(hz);
	pit_hz = hz;
}

void pit_init(unsigned int hz)
{
	pit_set_rate(hz);
	irq_register(IRQ_TIMER, timer_interrupt, NULL, "timer");
}

uint64_t timer_ticks(void)
{
	return ticks;
}

/*
 * The first tick may come at any moment after the call, so waiting for n
 * ticks lasts between n - 1 and n periods: wait one more, to wait at
 * least @ms.
 */
void sleep_ms(unsigned int ms)
{
	uint64_t target;

	if (!interrupts_on() || irq_masked(IRQ_TIMER))
		panic("sleep_ms(%u): the timer's interrupt is off, so no tick would ever come",
		      ms);
	target = ticks + ((uint64_t)ms * pit_hz + 999) / 1000 + 1;
	while (ticks < target)
		sti_hlt();
}

static int cmd_uptime(int argc, char **argv)
{
	uint64_t t = ticks;

	(void)argc;
	(void)argv;
	if (!pit_hz) {
		kprintf("uptime: the timer is not running\n");
		return 1;
	}
	kprintf("uptime: %lu ticks at %u Hz (%lu.%02lu s)\n", t, pit_hz,
		t / pit_hz, t % pit_hz * 100 / pit_hz);
	return 0;
}
KCMD(uptime, "time since the timer started", cmd_uptime);
