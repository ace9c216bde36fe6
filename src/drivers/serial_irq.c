/*
 * COM1's receive interrupt: the seam between the UART driver in the
 * console layer, which knows the UART's registers, and the interrupt
 * machinery of chapter 3, which the console layer sits below.
 *
 * The UART raises IRQ 4 when a byte arrives; the handler moves every byte
 * the receive FIFO holds into the console's input queue. Once this runs,
 * nothing polls COM1 any more: console_getc() sleeps until a byte comes.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/drivers.h>
#include <fern/init.h>

/*
 * Whether COM1 asked is whether a byte waits: the receive interrupt is the
 * only one this driver turns on.
 */
static enum irq_result serial_interrupt(void *ctx)
{
	enum irq_result result = IRQ_NONE;
	int c;

	(void)ctx;
	/* Reading the last byte is what makes the UART drop its request. */
	while ((c = serial_try_getc()) >= 0) {
		console_input_push((char)c);
		result = IRQ_HANDLED;
	}
	return result;
}

void serial_irq_init(void)
{
	irq_register(IRQ_COM1, serial_interrupt, NULL, "com1");
	serial_enable_rx_interrupt();
	console_input_irq_on();
}

static int serial_irq_start(const struct boot_info *info)
{
	(void)info;
	serial_irq_init();
	return 0;
}
INITCALL(INIT_DRIVERS, serial_irq_start);
