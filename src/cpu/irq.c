/*
 * IRQs: the table of handlers that drivers register, the dispatch of each
 * IRQ to its handler, and turning interrupts on at boot.
 *
 * A driver calls irq_register(line, handler, name); that unmasks its line
 * at the PIC. When the device interrupts, trap_dispatch() calls
 * irq_dispatch() with the line, which runs the handler and then sends the
 * EOI that lets the PIC deliver the next one. Handlers run with interrupts
 * off and must be short: take the byte, count the tick, and return.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/shell.h>
#include <fern/x86.h>

static irq_handler_fn handlers[NR_IRQS];
static const char *handler_names[NR_IRQS];
static volatile uint64_t counts[NR_IRQS];
static volatile uint64_t spurious[2];	/* IRQ 7, IRQ 15 */
static bool irqs_enabled;

irq_handler_fn irq_register(unsigned int irq, irq_handler_fn fn, const char *name)
{
	uint64_t flags = irq_save();
	irq_handler_fn old = handlers[irq];

	handlers[irq] = fn;
	handler_names[irq] = fn ? name : NULL;
	if (fn)
		pic_unmask(irq);
	else
		pic_mask(irq);
	irq_restore(flags);
	return old;
}

/*
 * An IRQ with no handler: its line should have been masked. Mask it now,
 * and acknowledge it, so that the device cannot keep the kernel busy.
 */
static void irq_unhandled(unsigned int irq)
{
	kprintf("irq: nothing handles IRQ %u; masking the line\n", irq);
	pic_mask(irq);
	pic_eoi(irq);
}

void irq_dispatch(unsigned int irq)
{
	/* LAB 3 BEGIN: count a spurious IRQ (pic_spurious()) and return with no EOI; else count it, run its handler and send the EOI (pic_eoi()), or irq_unhandled() if it has none */
	if (pic_spurious(irq)) {
		spurious[irq == IRQ_SPURIOUS_SLAVE]++;
		return;
	}
	counts[irq]++;
	if (!handlers[irq]) {
		irq_unhandled(irq);
		return;
	}
	handlers[irq](irq);
	pic_eoi(irq);
	/* LAB 3 STUB: irq_unhandled(irq); */
	/* LAB 3 END */
}

uint64_t irq_count(unsigned int irq)
{
	return irq < NR_IRQS ? counts[irq] : 0;
}

uint64_t irq_spurious_count(unsigned int irq)
{
	if (irq == IRQ_SPURIOUS_MASTER)
		return spurious[0];
	if (irq == IRQ_SPURIOUS_SLAVE)
		return spurious[1];
	return 0;
}

/*
 * The order matters. The GDT first: the IDT's gates name its code
 * segment, and its TSS holds the IST stacks. The IDT next, so that from
 * then on an exception is reported instead of resetting the machine. The
 * PICs then, every line masked, and the timer, whose handler unmasks IRQ
 * 0. Only then STI: an IRQ can arrive the instant it takes effect.
 *
 * Each step the lab fills in reports its own failure, and interrupts stay
 * off if any step failed: the rest of the boot goes on without them.
 */
int interrupts_init(void)
{
	int idt_status, pic_status;

	gdt_init();
	idt_status = idt_init();
	pic_status = pic_init();
	if (idt_status < 0) {
		kprintf("interrupts: off: the IDT is not right (see above), so an exception would reset the machine; is idt_set_gate() written? (lab 3)\n");
		return -1;
	}
	if (pic_status < 0) {
		kprintf("interrupts: exceptions on, IRQs off: the PIC is not remapped; is pic_remap() written? (lab 3)\n");
		return -1;
	}
	pit_init(TIMER_HZ);
	irqs_enabled = true;
	sti();
	kprintf("interrupts: on: IDT of %d gates, PIC at vectors %d-%d, timer at %d Hz\n",
		IDT_ENTRIES, IRQ_VECTOR_BASE, IRQ_VECTOR_BASE + NR_IRQS - 1, TIMER_HZ);
	return 0;
}

bool interrupts_on(void)
{
	return irqs_enabled;
}

void idle_forever(void)
{
	if (!irqs_enabled)
		halt_forever();
	for (;;)
		sti_hlt();
}

/* irqs: per line, how many interrupts it delivered and who handles it. */
static int cmd_irqs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!irqs_enabled)
		kprintf("irqs: interrupts are off\n");
	for (unsigned int irq = 0; irq < NR_IRQS; irq++) {
		if (handlers[irq] || counts[irq])
			kprintf("irq %u (%s): %lu\n", irq,
				handler_names[irq] ? handler_names[irq] : "no handler",
				counts[irq]);
	}
	kprintf("spurious: irq 7: %lu, irq 15: %lu\n", spurious[0], spurious[1]);
	return 0;
}
KCMD(irqs, "interrupts delivered by each IRQ line", cmd_irqs);
