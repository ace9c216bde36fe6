/*
 * Tests of IRQ handling (irq.c, pic.c, pit.c) and of what interrupts must
 * not break: the interrupted code's registers, and whole lines of output.
 *
 * The `irq` suite runs with test=all. The explicit ones print lines for
 * the harness to time or to check against each other: `timer` (the tick
 * rate against the harness's clock) and `irq-print` (the console lock).
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/ktest.h>
#include <fern/x86.h>

/*
 * A tick takes 10 ms. If none comes in this many TSC cycles (about half a
 * second at QEMU's usual TSC rates), the timer is dead: fail, do not hang.
 */
#define TSC_GIVE_UP	(1000UL * 1000 * 1000)

/* Wait for @n more ticks, spinning; false if they do not come. */
static bool wait_ticks(uint64_t n)
{
	uint64_t target = timer_ticks() + n, start = rdtsc();

	while (timer_ticks() < target) {
		if (rdtsc() - start > TSC_GIVE_UP)
			return false;
		pause();
	}
	return true;
}

/*
 * Whether the timer ticks; if not, say why and fail the case. A timer
 * found dead stays dead for the next cases, which then fail at once.
 */
static bool timer_works(struct ktest_ctx *ktest)
{
	static bool dead;

	if (!interrupts_on()) {
		kprintf("# interrupts are off (see the 'interrupts:' line of the boot)\n");
		KTEST_EXPECT(interrupts_on());
		return false;
	}
	if (dead || !wait_ticks(2)) {
		dead = true;
		kprintf("# no timer tick comes: is IRQ 0 routed, handled and acknowledged?\n");
		KTEST_EXPECT(!"the timer ticks");
		return false;
	}
	return true;
}

KTEST(irq, "the timer ticks while the kernel waits")
{
	uint64_t before = irq_count(IRQ_TIMER);

	if (!timer_works(ktest))
		return;
	KTEST_EXPECT(wait_ticks(3));
	KTEST_EXPECT(irq_count(IRQ_TIMER) >= before + 5);
}

/*
 * The register test works on memory only: its asm takes every general
 * register, so the compiler has none left to address operands with, and
 * static variables are reached relative to RIP. The patterns are easy to
 * check by eye: each register's name in its digits.
 */
static const char *const reg_names[15] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8",
	"r9", "r10", "r11", "r12", "r13", "r14", "r15",
};
static const uint64_t regs_in[15] = {
	0xaaaaaaaaaaaaaaaaUL, 0xbbbbbbbbbbbbbbbbUL, 0xccccccccccccccccUL,
	0xddddddddddddddddUL, 0x5151515151515151UL, 0xd1d1d1d1d1d1d1d1UL,
	0xb0b0b0b0b0b0b0b0UL, 0x0808080808080808UL, 0x0909090909090909UL,
	0x1010101010101010UL, 0x1111111111111111UL, 0x1212121212121212UL,
	0x1313131313131313UL, 0x1414141414141414UL, 0x1515151515151515UL,
};
static uint64_t regs_out[15], flags_out;
static volatile uint32_t halts_left;

/*
 * A second handler on the timer's line, for the test below: it records
 * the direction flag that C code finds when it runs. Interrupt gates do
 * not clear DF (SDM vol. 3 §6.12.1.3 clears IF, TF, NT, RF and VM only),
 * so the entry stub's CLD is all that stands between an interrupted STD
 * and a handler whose string instructions run backwards.
 */
static volatile uint32_t probe_runs, probe_saw_df;

static enum irq_result df_probe(void *ctx)
{
	uint64_t flags;

	(void)ctx;
	__asm__ volatile("pushfq\n\tpopq %0" : "=r"(flags));
	probe_runs++;
	if (flags & (1UL << 10))
		probe_saw_df++;
	return IRQ_NONE;
}

KTEST(irq, "registers and the direction flag survive timer interrupts")
{
	uint64_t ticks_before;

	if (!timer_works(ktest))
		return;
	probe_runs = probe_saw_df = 0;
	KTEST_EXPECT_EQ(irq_register(IRQ_TIMER, df_probe, NULL, "df probe"), 0);
	ticks_before = timer_ticks();
	halts_left = 5;
	/*
	 * Load every general register (RBP too, saved on the stack first),
	 * set the direction flag, and halt until five interrupts have come
	 * and gone; the loop counts in memory. Then store the registers and
	 * RFLAGS, and clear DF again before any C code runs.
	 */
	__asm__ volatile("pushq %%rbp\n\t"
			 "movq 0+%[in], %%rax\n\t"
			 "movq 8+%[in], %%rbx\n\t"
			 "movq 16+%[in], %%rcx\n\t"
			 "movq 24+%[in], %%rdx\n\t"
			 "movq 32+%[in], %%rsi\n\t"
			 "movq 40+%[in], %%rdi\n\t"
			 "movq 48+%[in], %%rbp\n\t"
			 "movq 56+%[in], %%r8\n\t"
			 "movq 64+%[in], %%r9\n\t"
			 "movq 72+%[in], %%r10\n\t"
			 "movq 80+%[in], %%r11\n\t"
			 "movq 88+%[in], %%r12\n\t"
			 "movq 96+%[in], %%r13\n\t"
			 "movq 104+%[in], %%r14\n\t"
			 "movq 112+%[in], %%r15\n\t"
			 "std\n"
			 "1:\n\t"
			 "sti\n\t"
			 "hlt\n\t"
			 "decl %[left]\n\t"
			 "jnz 1b\n\t"
			 "pushfq\n\t"
			 "popq %[flags]\n\t"
			 "cld\n\t"
			 "movq %%rax, 0+%[out]\n\t"
			 "movq %%rbx, 8+%[out]\n\t"
			 "movq %%rcx, 16+%[out]\n\t"
			 "movq %%rdx, 24+%[out]\n\t"
			 "movq %%rsi, 32+%[out]\n\t"
			 "movq %%rdi, 40+%[out]\n\t"
			 "movq %%rbp, 48+%[out]\n\t"
			 "movq %%r8, 56+%[out]\n\t"
			 "movq %%r9, 64+%[out]\n\t"
			 "movq %%r10, 72+%[out]\n\t"
			 "movq %%r11, 80+%[out]\n\t"
			 "movq %%r12, 88+%[out]\n\t"
			 "movq %%r13, 96+%[out]\n\t"
			 "movq %%r14, 104+%[out]\n\t"
			 "movq %%r15, 112+%[out]\n\t"
			 "popq %%rbp"
			 : [out] "=m"(regs_out), [flags] "=m"(flags_out),
			   [left] "+m"(halts_left)
			 : [in] "m"(regs_in)
			 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			   "r10", "r11", "r12", "r13", "r14", "r15", "cc", "memory");

	for (int i = 0; i < 15; i++) {
		if (!KTEST_EXPECT_EQ(regs_out[i], regs_in[i]))
			kprintf("# %s changed\n", reg_names[i]);
	}
	irq_unregister(IRQ_TIMER, df_probe, NULL);
	/* RFLAGS.DF is bit 10; IRETQ must have given it back. */
	KTEST_EXPECT_EQ((flags_out >> 10) & 1, 1);
	/* And the handlers in between ran with it clear. */
	KTEST_EXPECT(probe_runs >= 3);
	if (!KTEST_EXPECT_EQ(probe_saw_df, 0))
		kprintf("# a C handler ran with DF set: the entry stub must clear it (cld) before calling C\n");
	/* HLT wakes for any interrupt; the timer's are the ones that come. */
	KTEST_EXPECT(timer_ticks() >= ticks_before + 3);
}

/*
 * What the harness looks for in QEMU's trace of the PICs' ports: an OCW3
 * "read IRR" (PIC 8259A datasheet, OCW3), which fern itself never sends,
 * marks where each spurious IRQ begins and ends, so that the harness can
 * see which EOIs the kernel sent for it (tests/ch03_interrupts.py).
 */
#define PIC1_COMMAND	0x20
#define OCW3_READ_IRR	0x0a

KTEST(irq, "spurious IRQs 7 and 15 are counted and reach no handler")
{
	uint64_t s7 = irq_spurious_count(7), s15 = irq_spurious_count(15);
	uint64_t c7 = irq_count(7), c15 = irq_count(15);
	uint64_t flags;

	if (!timer_works(ktest))
		return;
	/*
	 * INT n enters the IRQ's gate as the PIC would, but the PIC has not
	 * put line 7 (or 15) in service: exactly what a spurious IRQ looks
	 * like to the handler. Interrupts stay off between the markers, so
	 * the only port writes there are the handler's.
	 */
	flags = irq_save();
	outb(PIC1_COMMAND, OCW3_READ_IRR);
	__asm__ volatile("int %0" : : "i"(IRQ_VECTOR_BASE + 7));
	outb(PIC1_COMMAND, OCW3_READ_IRR);
	__asm__ volatile("int %0" : : "i"(IRQ_VECTOR_BASE + 15));
	outb(PIC1_COMMAND, OCW3_READ_IRR);
	irq_restore(flags);
	KTEST_EXPECT_EQ(irq_spurious_count(7), s7 + 1);
	KTEST_EXPECT_EQ(irq_spurious_count(15), s15 + 1);
	KTEST_EXPECT_EQ(irq_count(7), c7);
	KTEST_EXPECT_EQ(irq_count(15), c15);
	/* And the real IRQs still come. */
	KTEST_EXPECT(wait_ticks(2));
}

/*
 * A real IRQ 7, from the printer port LPT1. QEMU's port acknowledges every
 * write to its control register at once, as a printer would its strobe,
 * and raises IRQ 7 if the previous write had set the IRQ enable bit (it
 * needs INIT high, "not resetting", and SELECT). Reading the status
 * register drops the line again. So the PIC does put line 7 in service
 * here: unlike the INT 39 above, this one is real and must reach its
 * handler, which only a spurious check that reads the ISR can tell.
 */
#define LPT1_STATUS	0x379
#define LPT1_CONTROL	0x37a
#define LPT_CTR_INIT	0x04	/* high: not resetting the printer */
#define LPT_CTR_SELECT	0x08
#define LPT_CTR_IRQ_EN	0x10

static enum irq_result printer_interrupt(void *ctx)
{
	int *runs = ctx;

	(*runs)++;
	inb(LPT1_STATUS);
	return IRQ_HANDLED;
}

KTEST(irq, "spurious is decided by the ISR: a real IRQ 7, from the printer port, reaches its handler")
{
	uint64_t s7 = irq_spurious_count(7);
	int runs = 0;

	if (!timer_works(ktest))
		return;
	if (inb(LPT1_STATUS) == 0xff)
		kprintf("# no printer port answers at 0x378 (QEMU without -parallel none has one)\n");
	KTEST_ASSERT_EQ(irq_register(7, printer_interrupt, &runs, "printer-test"), 0);
	outb(LPT1_CONTROL, LPT_CTR_INIT | LPT_CTR_SELECT | LPT_CTR_IRQ_EN);
	outb(LPT1_CONTROL, LPT_CTR_INIT | LPT_CTR_SELECT | LPT_CTR_IRQ_EN);
	KTEST_EXPECT(wait_ticks(2));
	outb(LPT1_CONTROL, LPT_CTR_INIT | LPT_CTR_SELECT);
	inb(LPT1_STATUS);
	KTEST_EXPECT_EQ(irq_unregister(7, printer_interrupt, &runs), 0);
	KTEST_EXPECT(runs >= 1);
	KTEST_EXPECT_EQ(irq_spurious_count(7), s7);
}

/*
 * Two pretend devices on one line, each with its own context: a count of
 * the times its handler ran, and whether it claims the interrupt.
 */
struct fake_device {
	int runs;
	bool asking;
};

static enum irq_result fake_interrupt(void *ctx)
{
	struct fake_device *dev = ctx;

	dev->runs++;
	return dev->asking ? IRQ_HANDLED : IRQ_NONE;
}

/* A line no device of QEMU's PC uses: COM2's. */
#define IRQ_TEST_LINE	3

KTEST(irq, "a line stays masked until a driver registers its handler")
{
	struct fake_device dev = { 0, true };
	uint16_t mask;

	if (!timer_works(ktest))
		return;
	/*
	 * The timer, the keyboard and COM1 have drivers: every line but 0,
	 * 1 and 4 is masked, the cascade line 2 too, as no slave line (8-15)
	 * is in use.
	 */
	mask = pic_get_mask();
	KTEST_EXPECT_EQ(mask, 0xffff & ~(1 << IRQ_TIMER | 1 << IRQ_KEYBOARD | 1 << IRQ_COM1));

	KTEST_EXPECT_EQ(irq_register(IRQ_TEST_LINE, fake_interrupt, &dev, "test"), 0);
	KTEST_EXPECT_EQ(pic_get_mask() & (1 << IRQ_TEST_LINE), 0);
	KTEST_EXPECT_EQ(irq_register(IRQ_TEST_LINE, fake_interrupt, &dev, "test"), -EEXIST);
	KTEST_EXPECT_EQ(irq_unregister(IRQ_TEST_LINE, fake_interrupt, &dev), 0);
	KTEST_EXPECT_EQ(pic_get_mask() & (1 << IRQ_TEST_LINE), 1 << IRQ_TEST_LINE);
	KTEST_EXPECT_EQ(irq_unregister(IRQ_TEST_LINE, fake_interrupt, &dev), -ENOENT);
	KTEST_EXPECT_EQ(irq_register(NR_IRQS, fake_interrupt, &dev, "test"), -EINVAL);
}

KTEST(irq, "a shared line runs every handler, and counts what nobody claims")
{
	struct fake_device first = { 0, true }, second = { 0, false };
	struct fake_device extra[IRQ_HANDLERS_PER_LINE];
	uint64_t unclaimed = irq_unclaimed_count(IRQ_TEST_LINE);
	int registered = 0;

	if (!timer_works(ktest))
		return;
	KTEST_EXPECT_EQ(irq_register(IRQ_TEST_LINE, fake_interrupt, &first, "first"), 0);
	KTEST_EXPECT_EQ(irq_register(IRQ_TEST_LINE, fake_interrupt, &second, "second"), 0);

	/* INT n enters the line's gate as if the PIC had delivered it. */
	__asm__ volatile("int %0" : : "i"(IRQ_VECTOR_BASE + IRQ_TEST_LINE));
	KTEST_EXPECT_EQ(first.runs, 1);
	KTEST_EXPECT_EQ(second.runs, 1);
	KTEST_EXPECT_EQ(irq_unclaimed_count(IRQ_TEST_LINE), unclaimed);

	/* Now neither device asked: both still run, and the line counts it. */
	first.asking = false;
	__asm__ volatile("int %0" : : "i"(IRQ_VECTOR_BASE + IRQ_TEST_LINE));
	KTEST_EXPECT_EQ(first.runs, 2);
	KTEST_EXPECT_EQ(second.runs, 2);
	KTEST_EXPECT_EQ(irq_unclaimed_count(IRQ_TEST_LINE), unclaimed + 1);

	/* The table is static: a full line says so instead of evicting. */
	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
		if (irq_register(IRQ_TEST_LINE, fake_interrupt, &extra[i], "extra") == 0)
			registered++;
	}
	KTEST_EXPECT_EQ(registered, IRQ_HANDLERS_PER_LINE - 2);
	KTEST_EXPECT_EQ(irq_register(IRQ_TEST_LINE, fake_interrupt, &extra[0], "extra"), -EEXIST);
	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++)
		irq_unregister(IRQ_TEST_LINE, fake_interrupt, &extra[i]);

	/* Taking one away leaves the other, and the line open. */
	KTEST_EXPECT_EQ(irq_unregister(IRQ_TEST_LINE, fake_interrupt, &first), 0);
	KTEST_EXPECT_EQ(pic_get_mask() & (1 << IRQ_TEST_LINE), 0);
	__asm__ volatile("int %0" : : "i"(IRQ_VECTOR_BASE + IRQ_TEST_LINE));
	KTEST_EXPECT_EQ(first.runs, 2);
	KTEST_EXPECT_EQ(second.runs, 3);
	KTEST_EXPECT_EQ(irq_unregister(IRQ_TEST_LINE, fake_interrupt, &second), 0);
	KTEST_EXPECT_EQ(pic_get_mask() & (1 << IRQ_TEST_LINE), 1 << IRQ_TEST_LINE);
}

KTEST(irq, "sleep_ms(50) sleeps 5 to 7 ticks")
{
	uint64_t before, slept;

	if (!timer_works(ktest))
		return;
	before = timer_ticks();
	sleep_ms(50);
	slept = timer_ticks() - before;
	KTEST_EXPECT(slept >= 50 * TIMER_HZ / 1000);
	KTEST_EXPECT(slept <= 50 * TIMER_HZ / 1000 + 2);
}

/*
 * For the harness: two lines a known number of ticks apart, and a sleep.
 * The harness times the lines with its own clock and compares.
 */
KTEST_EXPLICIT(timer, "ticks and sleep_ms() for the harness's clock")
{
	uint64_t start;

	if (!timer_works(ktest))
		return;
	/* Start just after a tick, so that the count covers whole periods. */
	start = timer_ticks();
	while (timer_ticks() == start)
		sti_hlt();
	start = timer_ticks();
	ktest_checkpoint("timer: start at tick %lu", start);
	while (timer_ticks() < start + TIMER_HZ / 2)
		sti_hlt();
	ktest_checkpoint("timer: %d ticks at %d Hz", TIMER_HZ / 2, TIMER_HZ);
	sleep_ms(300);
	ktest_checkpoint("timer: slept 300 ms");
}

/*
 * For the harness, which reads QEMU's trace of the PIT's ports: the rate
 * changed to one the code cannot have built in, then back. A pit_program()
 * that ignores the rate it is given shows the same count twice. It needs
 * no tick: only what is written to the PIT counts.
 */
#define TIMER_TEST_HZ	250

KTEST_EXPLICIT(timer-rate, "the PIT is programmed for the rate asked, then back")
{
	(void)ktest;
	pit_set_rate(TIMER_TEST_HZ);
	ktest_checkpoint("timer-rate: at %d Hz", TIMER_TEST_HZ);
	pit_set_rate(TIMER_HZ);
	ktest_checkpoint("timer-rate: back at %d Hz", TIMER_HZ);
}

/*
 * The console lock. While this prints line after line, the timer's
 * handler prints lines of its own. With the lock (interrupts off while
 * kprintf() runs), each tick's line comes out between two whole lines;
 * without it, in the middle of one. The harness checks every line.
 */
#define IRQ_PRINT_TICKS	10
#define IRQ_PRINT_FILLER "the quick brown fox jumps over the lazy dog"

static volatile int tick_lines;

/* A second handler on the timer's line, beside the timer's own. */
static enum irq_result printing_timer(void *ctx)
{
	(void)ctx;
	if (tick_lines < IRQ_PRINT_TICKS)
		kprintf("irq-print: tick line %02d\n", ++tick_lines);
	return IRQ_NONE;
}

KTEST_EXPLICIT(irq-print, "an IRQ handler's line never lands inside another")
{
	int lines = 0;

	if (!timer_works(ktest))
		return;
	ktest_checkpoint("irq-print: start");
	tick_lines = 0;
	KTEST_EXPECT_EQ(irq_register(IRQ_TIMER, printing_timer, NULL, "irq-print"), 0);
	while (tick_lines < IRQ_PRINT_TICKS && lines < 5000)
		kprintf("irq-print: main line %04d %s\n", ++lines, IRQ_PRINT_FILLER);
	irq_unregister(IRQ_TIMER, printing_timer, NULL);
	ktest_checkpoint("irq-print: done: %d main lines, %d tick lines", lines, tick_lines);
	KTEST_EXPECT_EQ(tick_lines, IRQ_PRINT_TICKS);
}
