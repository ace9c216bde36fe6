/*
 * Bringing up the CPU's interrupt machinery at boot, in its one right
 * order, and idling once the boot is done.
 *
 * It sits above the pieces it starts (gdt.c, idt.c, pic.c, pit.c, irq.c),
 * none of which knows about the others' order.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/init.h>
#include <fern/x86.h>

static bool irqs_enabled;

/*
 * The order matters. The GDT first: the IDT's gates name its code
 * segment, and its TSS holds the IST stacks. The IDT next, so that from
 * then on an exception is reported instead of resetting the machine. The
 * PICs then, every line masked, and the timer, whose handler unmasks IRQ
 * 0. Only then STI: an IRQ can arrive the instant it takes effect.
 *
 * Each step reports its own failure, and interrupts stay off if any step
 * failed: the rest of the boot goes on without them.
 */
int interrupts_init(void)
{
	int idt_status, pic_status;

	gdt_init();
	idt_status = idt_init();
	pic_status = pic_init();
	if (idt_status < 0) {
		kprintf("interrupts: off: the IDT is not right (see above), so an exception would reset the machine\n");
		return -1;
	}
	if (pic_status < 0) {
		kprintf("interrupts: exceptions on, IRQs off: the PIC is not remapped, so its vectors would collide with exceptions\n");
		return -1;
	}
	pit_init(TIMER_HZ);
	irqs_enabled = true;
	sti();
	kprintf("interrupts: on: IDT of %d gates, PIC at vectors %d-%d, timer at %d Hz\n",
		IDT_ENTRIES, IRQ_VECTOR_BASE, IRQ_VECTOR_BASE + NR_IRQS - 1, TIMER_HZ);
	return 0;
}

static int cpu_start(const struct boot_info *info)
{
	(void)info;
	return interrupts_init();
}
INITCALL(INIT_CPU, cpu_start);

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
