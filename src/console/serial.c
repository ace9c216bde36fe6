/*
 * COM1, the 16550-compatible UART (PC16550D datasheet). Registers sit at
 * consecutive I/O ports from the base; we name them after the datasheet.
 */
#include <fern/console.h>
#include <fern/x86.h>

#define UART_THR	0	/* transmit holding register (write) */
#define UART_LSR	5	/* line status register */
#define LSR_THR_EMPTY	0x20	/* THR can take another byte */

/*
 * Wait for the transmit holding register to be empty, then write. The
 * firmware leaves COM1 set up well enough that this works from the first
 * instruction; chapter 2 programs the UART properly.
 */
void serial_putc(char c)
{
	while (!(inb(COM1_PORT + UART_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1_PORT + UART_THR, (uint8_t)c);
}
