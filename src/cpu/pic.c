/*
 * The two 8259A Programmable Interrupt Controllers of the PC (Intel 8259A
 * datasheet). Each takes eight IRQ lines from devices and, when one asks,
 * interrupts the CPU with a vector number. The slave's output is wired to
 * the master's line 2, so together they serve IRQ 0-15.
 *
 * Two things make them need care:
 *
 * - At power-on the BIOS programs the master to deliver IRQ 0-7 as vectors
 *   8-15, a choice from the 8086 era. In protected and long mode those are
 *   exceptions: the timer's IRQ 0 would look like a double fault. So the
 *   first job is to remap them, to 32-47, with the four initialization
 *   command words (ICW1-ICW4), the only way to set the vector base.
 * - A PIC does not know when a handler is done: the handler must say so,
 *   with an End Of Interrupt (EOI). Until then, the PIC delivers no other
 *   IRQ of the same or lower priority.
 *
 * Every line starts masked; a driver unmasks its own by registering a
 * handler (irq.c), which reaches this file only through pic_chip, the
 * struct irq_chip at the end.
 */
#include <fern/cpu.h>
#include <fern/x86.h>

static const struct irq_chip pic_chip;

/* Each PIC has a command port and a data port (the mask, after init). */
#define PIC1_COMMAND	0x20
#define PIC1_DATA	0x21
#define PIC2_COMMAND	0xa0
#define PIC2_DATA	0xa1

/* The initialization command words (8259A datasheet, "Initialization"). */
#define ICW1_ICW4	0x01	/* ICW4 will follow */
#define ICW1_INIT	0x10	/* this is ICW1: start initialization */
#define ICW4_8086	0x01	/* 8086 mode, not 8080 */

/* The operation command words (8259A datasheet, "Operation"). */
#define OCW2_EOI	0x20	/* non-specific EOI: the highest in service */
#define OCW3_READ_ISR	0x0b	/* the next read of the command port gives ISR */

/*
 * Start both PICs over and give them new vector bases. Once ICW1 is
 * written to a PIC's command port, the next writes to its data port are
 * ICW2 (the vector of its line 0), ICW3 (how it is wired to the other PIC:
 * the master wants a bit mask of the lines with a slave, the slave the
 * number of the master's line it is on), and ICW4 (the mode). An old
 * 8259 needs a moment between the words: io_wait().
 */
static int pic_remap(void)
{
	/* LAB 3 BEGIN: ICW1 to both command ports, then ICW2 (vector base), ICW3 (the cascade wiring) and ICW4 (8086 mode) to each data port, io_wait() after each write; return 0 */
	outb(PIC1_COMMAND, ICW1_INIT | ICW1_ICW4);
	io_wait();
	outb(PIC2_COMMAND, ICW1_INIT | ICW1_ICW4);
	io_wait();
	outb(PIC1_DATA, IRQ_VECTOR_BASE);
	io_wait();
	outb(PIC2_DATA, IRQ_VECTOR_BASE + 8);
	io_wait();
	outb(PIC1_DATA, 1 << IRQ_CASCADE);
	io_wait();
	outb(PIC2_DATA, IRQ_CASCADE);
	io_wait();
	outb(PIC1_DATA, ICW4_8086);
	io_wait();
	outb(PIC2_DATA, ICW4_8086);
	io_wait();
	return 0;
	/* LAB 3 STUB: return -1; */
	/* LAB 3 END */
}

/* The mask of all 16 lines; a set bit is a masked line. */
static uint16_t mask = 0xffff;

static void write_mask(void)
{
	outb(PIC1_DATA, mask & 0xff);
	outb(PIC2_DATA, mask >> 8);
}

int pic_init(void)
{
	int status = pic_remap();

	/*
	 * Mask everything, remapped or not: ICW1 cleared the mask registers,
	 * and a PIC that still uses the BIOS's vectors must never deliver.
	 */
	mask = 0xffff;
	write_mask();
	if (status == 0)
		irq_set_chip(&pic_chip);
	return status;
}

static void pic_mask(unsigned int irq)
{
	mask |= (uint16_t)(1 << irq);
	/* The slave's lines all pass through the master's line 2. */
	if ((mask & 0xff00) == 0xff00)
		mask |= 1 << IRQ_CASCADE;
	write_mask();
}

static void pic_unmask(unsigned int irq)
{
	mask &= (uint16_t)~(1 << irq);
	if (irq >= 8)
		mask &= (uint16_t)~(1 << IRQ_CASCADE);
	write_mask();
}

uint16_t pic_get_mask(void)
{
	return (uint16_t)(inb(PIC2_DATA) << 8 | inb(PIC1_DATA));
}

static bool pic_masked(unsigned int irq)
{
	return pic_get_mask() & (1 << irq);
}

/*
 * An IRQ of the slave went through the master's line 2 too, so both have
 * it in service and both need an EOI.
 */
static void pic_eoi(unsigned int irq)
{
	if (irq >= 8)
		outb(PIC2_COMMAND, OCW2_EOI);
	outb(PIC1_COMMAND, OCW2_EOI);
}

/* The In-Service Register: which lines are being handled right now. */
static uint8_t read_isr(uint16_t command_port)
{
	outb(command_port, OCW3_READ_ISR);
	return inb(command_port);
}

/*
 * A PIC that raised its output for a line that then dropped before the CPU
 * acknowledged it has nothing to deliver, and delivers its lowest-priority
 * line instead, 7, without marking it in service (8259A datasheet, "Interrupt
 * Sequence"). So an IRQ 7 (or 15 from the slave) whose in-service bit is
 * clear did not happen. It must not get an EOI: a non-specific EOI would
 * end whatever real IRQ is in service. Except that a spurious 15 went
 * through the master's line 2, which is really in service on the master.
 */
static bool pic_spurious(unsigned int irq)
{
	if (irq == IRQ_SPURIOUS_MASTER)
		return !(read_isr(PIC1_COMMAND) & 0x80);
	if (irq == IRQ_SPURIOUS_SLAVE) {
		if (read_isr(PIC2_COMMAND) & 0x80)
			return false;
		outb(PIC1_COMMAND, OCW2_EOI);
		return true;
	}
	return false;
}

/* What irq.c asks of an interrupt controller, done by the 8259 pair. */
static const struct irq_chip pic_chip = {
	.name = "8259 PIC",
	.mask = pic_mask,
	.unmask = pic_unmask,
	.eoi = pic_eoi,
	.spurious = pic_spurious,
	.masked = pic_masked,
};
