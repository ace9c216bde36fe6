/*
 * COM1, the 16550-compatible UART (PC16550D datasheet). Registers sit at
 * consecutive I/O ports from the base; we name them after the datasheet.
 */
#include <fern/console.h>
#include <fern/x86.h>

#define UART_THR	0	/* transmit holding register (write) */
#define UART_LSR	5	/* line status register */
#define LSR_THR_EMPTY	0x20	/* THR can take another byte */
#if FERN_CHAPTER >= 2

/*
 * The rest of the register map (PC16550D §8.1, Table II). Offsets 0 and 1
 * mean two things each: with the Divisor Latch Access Bit (LCR bit 7) set
 * they are the two bytes of the baud rate divisor instead of THR/RBR and
 * IER.
 */
#define UART_RBR	0	/* receiver buffer register (read) */
#define UART_DLL	0	/* divisor latch, low byte (DLAB = 1) */
#define UART_IER	1	/* interrupt enable register */
#define UART_DLM	1	/* divisor latch, high byte (DLAB = 1) */
#define UART_FCR	2	/* FIFO control register (write) */
#define UART_LCR	3	/* line control register */
#define UART_MCR	4	/* modem control register */

#define LCR_WLS_8	0x03	/* word length select: 8 data bits */
#define LCR_DLAB	0x80	/* divisor latch access bit */
#define FCR_FIFO_ENABLE	0x01
#define FCR_RCVR_RESET	0x02	/* clear the receive FIFO */
#define FCR_XMIT_RESET	0x04	/* clear the transmit FIFO */
#define FCR_TRIGGER_14	0xc0	/* receive interrupt at 14 bytes */
#define MCR_DTR		0x01	/* data terminal ready */
#define MCR_RTS		0x02	/* request to send */
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08	/* on a PC, gates the UART's IRQ line */
#define MCR_LOOP	0x10	/* loopback: transmit feeds receive */
#define LSR_DR		0x01	/* data ready: RBR holds a byte */

/* The UART's clock is 1.8432 MHz and it samples each bit 16 times. */
#define UART_BASE_BAUD	115200
#define SERIAL_BAUD	115200
#endif
#if FERN_CHAPTER >= 3
#define IER_ERBFI	0x01	/* interrupt when received data is available */
#define FCR_TRIGGER_1	0x00	/* receive interrupt at each byte */
#endif

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
#if FERN_CHAPTER >= 2

/*
 * Program the UART from scratch instead of trusting what the firmware
 * left: interrupts off (chapter 3 turns on the receive interrupt), the
 * baud rate divisor, the frame format, the FIFOs, and the modem control
 * lines. In between, a loopback test checks that a UART is there at all.
 */
int serial_init(void)
{
	uint16_t divisor = UART_BASE_BAUD / SERIAL_BAUD;

	outb(COM1_PORT + UART_IER, 0);

	/* The divisor latch hides behind THR and IER while DLAB is set. */
	outb(COM1_PORT + UART_LCR, LCR_DLAB);
	outb(COM1_PORT + UART_DLL, divisor & 0xff);
	outb(COM1_PORT + UART_DLM, divisor >> 8);

	/* Clearing DLAB sets 8 data bits, no parity, 1 stop bit: "8N1". */
	outb(COM1_PORT + UART_LCR, LCR_WLS_8);
	outb(COM1_PORT + UART_FCR, FCR_FIFO_ENABLE | FCR_RCVR_RESET |
				   FCR_XMIT_RESET | FCR_TRIGGER_14);

	/*
	 * In loopback mode what we transmit comes straight back to the
	 * receiver and nothing leaves on the wire (§8.6, MCR bit 4). If
	 * the byte does not come back, there is no working UART here.
	 */
	outb(COM1_PORT + UART_MCR, MCR_LOOP | MCR_RTS | MCR_OUT1 | MCR_OUT2);
	outb(COM1_PORT + UART_THR, 0xae);
	for (int tries = 0; !(inb(COM1_PORT + UART_LSR) & LSR_DR); tries++) {
		if (tries == 1000)
			return -1;
	}
	if (inb(COM1_PORT + UART_RBR) != 0xae)
		return -1;

	/* Normal operation, with the lines a terminal expects. */
	outb(COM1_PORT + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	return 0;
}

/*
 * Polling: the line status register's Data Ready bit says whether the
 * receiver buffer (or its FIFO) holds a byte; reading RBR takes it.
 */
int serial_try_getc(void)
{
	if (!(inb(COM1_PORT + UART_LSR) & LSR_DR))
		return -1;
	return inb(COM1_PORT + UART_RBR);
}

void serial_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s);
	}
}
#endif
#if FERN_CHAPTER >= 3

/*
 * Chapter 3 takes COM1's input by interrupt. The UART raises its line when
 * the receive FIFO reaches its trigger level; chapter 2 set 14 bytes, good
 * for bulk data but not for a person typing, so drop it to one byte. The
 * FIFO keeps what it holds: the reset bits stay clear. MCR's OUT2, set in
 * serial_init(), already connects the UART's interrupt to IRQ 4.
 */
void serial_enable_rx_interrupt(void)
{
	outb(COM1_PORT + UART_FCR, FCR_FIFO_ENABLE | FCR_TRIGGER_1);
	outb(COM1_PORT + UART_IER, IER_ERBFI);
}
#endif
