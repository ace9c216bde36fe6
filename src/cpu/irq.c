/*
 * IRQs: the table of handlers that drivers register, and the dispatch of
 * each IRQ to the handlers of its line.
 *
 * A driver calls irq_register(line, handler, device, name); that unmasks
 * its line. When the line interrupts, trap_dispatch() calls irq_dispatch()
 * with the line, which runs every handler of the line and then sends the
 * EOI that lets the controller deliver the next one. Several devices can
 * share a line (the firmware routes PCI devices to a few), so each handler
 * gets its own device back as @ctx and says whether the interrupt was its
 * device's. Handlers run with interrupts off and must be short: take the
 * byte, count the tick, and return.
 *
 * The controller is whatever struct irq_chip irq_set_chip() installed
 * (chapter 3's 8259 pair, pic.c): this file never touches its ports.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/shell.h>
#include <fern/x86.h>

/* One handler of a line: the function, its device, its name for `irqs`. */
struct irq_action {
	irq_handler_fn fn;
	void *ctx;
	const char *name;
};

static struct irq_action handlers[NR_IRQS][IRQ_HANDLERS_PER_LINE];
static volatile uint64_t counts[NR_IRQS];
static volatile uint64_t unclaimed[NR_IRQS];
static volatile uint64_t spurious[2];	/* IRQ 7, IRQ 15 */
static const struct irq_chip *chip;

static bool line_in_use(unsigned int irq)
{
	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
		if (handlers[irq][i].fn)
			return true;
	}
	return false;
}

void irq_set_chip(const struct irq_chip *c)
{
	uint64_t flags = irq_save();

	chip = c;
	for (unsigned int irq = 0; irq < NR_IRQS; irq++) {
		if (line_in_use(irq))
			chip->unmask(irq);
	}
	irq_restore(flags);
}

void irq_mask(unsigned int irq)
{
	if (chip)
		chip->mask(irq);
}

void irq_eoi(unsigned int irq)
{
	if (chip)
		chip->eoi(irq);
}

bool irq_masked(unsigned int irq)
{
	return !chip || chip->masked(irq);
}

int irq_register(unsigned int irq, irq_handler_fn fn, void *ctx, const char *name)
{
	struct irq_action *free_slot = NULL;
	uint64_t flags;
	int err = 0;

	if (irq >= NR_IRQS || !fn)
		return -EINVAL;
	flags = irq_save();
	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
		struct irq_action *a = &handlers[irq][i];

		if (a->fn == fn && a->ctx == ctx)
			err = -EEXIST;
		if (!a->fn && !free_slot)
			free_slot = a;
	}
	if (!err && !free_slot)
		err = -ENOSPC;
	if (!err) {
		*free_slot = (struct irq_action){ fn, ctx, name };
		if (chip)
			chip->unmask(irq);
	}
	irq_restore(flags);
	return err;
}

int irq_unregister(unsigned int irq, irq_handler_fn fn, void *ctx)
{
	uint64_t flags;
	int err = -ENOENT;

	if (irq >= NR_IRQS)
		return -EINVAL;
	flags = irq_save();
	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
		struct irq_action *a = &handlers[irq][i];

		if (a->fn == fn && a->ctx == ctx) {
			*a = (struct irq_action){ NULL, NULL, NULL };
			err = 0;
		}
	}
	if (!err && !line_in_use(irq))
		irq_mask(irq);
	irq_restore(flags);
	return err;
}

/*
 * An IRQ with no handler: its line should have been masked. Mask it now,
 * and acknowledge it, so that the device cannot keep the kernel busy.
 */
static void irq_unhandled(unsigned int irq)
{
	kprintf("irq: nothing handles IRQ %u; masking the line\n", irq);
	irq_mask(irq);
	irq_eoi(irq);
}

/*
 * Run every handler of line @irq; return how many claimed the interrupt.
 * All of them run, even after one has claimed it: two devices may have
 * asked at once, and the line stays asserted until both are served.
 */
static int run_handlers(unsigned int irq)
{
	int claimed = 0;

	for (int i = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
		struct irq_action *a = &handlers[irq][i];

		if (a->fn && a->fn(a->ctx) == IRQ_HANDLED)
			claimed++;
	}
	return claimed;
}

void irq_dispatch(unsigned int irq)
{
	/* Only `int` reaches here before a controller is installed. */
	if (!chip) {
		irq_unhandled(irq);
		return;
	}
	/* LAB 3 BEGIN: count a spurious IRQ (chip->spurious()) and return with no EOI; else count it, run its handlers (run_handlers(); none claiming it counts in unclaimed[]) and send the EOI (irq_eoi()), or irq_unhandled() if the line has none */
	if (chip->spurious(irq)) {
		spurious[irq == IRQ_SPURIOUS_SLAVE]++;
		return;
	}
	counts[irq]++;
	if (!line_in_use(irq)) {
		irq_unhandled(irq);
		return;
	}
	if (run_handlers(irq) == 0)
		unclaimed[irq]++;
	irq_eoi(irq);
	/* LAB 3 STUB: (void)run_handlers; irq_unhandled(irq); */
	/* LAB 3 END */
}

uint64_t irq_count(unsigned int irq)
{
	return irq < NR_IRQS ? counts[irq] : 0;
}

uint64_t irq_unclaimed_count(unsigned int irq)
{
	return irq < NR_IRQS ? unclaimed[irq] : 0;
}

uint64_t irq_spurious_count(unsigned int irq)
{
	if (irq == IRQ_SPURIOUS_MASTER)
		return spurious[0];
	if (irq == IRQ_SPURIOUS_SLAVE)
		return spurious[1];
	return 0;
}

/* irqs: per line, how many interrupts it delivered and who handles it. */
static int cmd_irqs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!interrupts_on())
		kprintf("irqs: interrupts are off\n");
	for (unsigned int irq = 0; irq < NR_IRQS; irq++) {
		if (!line_in_use(irq) && !counts[irq])
			continue;
		kprintf("irq %u (", irq);
		if (!line_in_use(irq))
			kprintf("no handler");
		for (int i = 0, n = 0; i < IRQ_HANDLERS_PER_LINE; i++) {
			if (handlers[irq][i].fn)
				kprintf("%s%s", n++ ? ", " : "", handlers[irq][i].name);
		}
		kprintf("): %lu", counts[irq]);
		if (unclaimed[irq])
			kprintf(", %lu unclaimed", unclaimed[irq]);
		kprintf("\n");
	}
	kprintf("spurious: irq 7: %lu, irq 15: %lu\n", spurious[0], spurious[1]);
	return 0;
}
KCMD(irqs, "interrupts delivered by each IRQ line", cmd_irqs);
