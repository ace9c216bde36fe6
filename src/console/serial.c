/*
 * COM1, the 16550-compatible UART (PC16550D datasheet). Registers sit at
 * consecutive I/O ports from the base; we name them after the datasheet.
 */
#include <fern/console.h>
#include <fern/x86.h>
#if FERN_CHAPTER >= 2
#include <fern/i8254.h>
#endif

#define UART_THR	0	/* transmit holding register (write) */
#define UART_LSR	5	/* line status register */
#define LSR_THR_EMPTY	0x20	/* THR can take another byte */

/*
 * Wait for the transmit holding register to be empty, then write. The line
 * itself (115200 baud, 8N1) was programmed by entry.asm before the first
 * byte; chapter 2 programs the rest of the UART.
 */
void serial_putc(char c)
{
	while (!(inb(COM1_PORT + UART_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1_PORT + UART_THR, (uint8_t)c);
}
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


/*
 * How long the loopback test waits for its byte, in microseconds. A real
 * 16550 shifts a looped-back byte through its transmitter and receiver
 * like any other, so it comes back one character time later: 10 bits
 * (start, 8 data, stop) at 115200 baud take 87 us. We allow over a hundred
 * character times; only a UART that is not there or broken waits it out,
 * once, at boot. There is no tick before chapter 3, so the 8254's channel
 * 2 counts the time (i8254.h): a time, not a number of polls, which a fast
 * CPU would get through before the byte is back.
 */
#define LOOPBACK_WAIT_US	10000
#define LOOPBACK_BYTE		0xae

uint8_t (*serial_selftest_in)(uint16_t reg);

/* Read a UART register for the self-test: the hardware, or a test's stand-in. */
static uint8_t selftest_in(uint16_t reg)
{
	if (serial_selftest_in)
		return serial_selftest_in(reg);
	return inb(COM1_PORT + reg);
}

/*
 * In loopback mode what we transmit comes straight back to the receiver
 * and nothing leaves on the wire (§8.6, MCR bit 4). If the byte does not
 * come back within LOOPBACK_WAIT_US, there is no working UART here. The
 * caller must turn loopback off again, whatever this returns.
 */
static int loopback_test(void)
{
	_Static_assert(LOOPBACK_WAIT_US <= PIT_COUNTDOWN_MAX_US,
		       "channel 2 counts at most 54.9 ms");
	outb(COM1_PORT + UART_MCR, MCR_LOOP | MCR_RTS | MCR_OUT1 | MCR_OUT2);
	outb(COM1_PORT + UART_THR, LOOPBACK_BYTE);
	pit_countdown_start(LOOPBACK_WAIT_US);
	for (;;) {
		/*
		 * The clock first, then the byte: give up only if the byte
		 * was still missing at a moment known to be past the
		 * deadline, even if the host stopped running us in between.
		 */
		bool late = pit_countdown_done();

		if (selftest_in(UART_LSR) & LSR_DR)
			break;
		if (late)
			return -1;
		pause();
	}
	return selftest_in(UART_RBR) == LOOPBACK_BYTE ? 0 : -1;
}

/*
 * Program the UART from scratch instead of trusting what the firmware (or
 * anyone before us) left: interrupts off (chapter 3 turns on the receive
 * interrupt), the baud rate divisor, the frame format, the FIFOs, a
 * loopback test that checks that a UART is there at all, and the modem
 * control lines. Safe to call again: it writes every register it needs.
 */
int serial_init(void)
{
	uint16_t divisor = UART_BASE_BAUD / SERIAL_BAUD;
	int found;

	/*
	 * The divisor latch hides behind THR and IER while DLAB is set, and
	 * whoever was here before may have left it set: clear it first, or
	 * "IER = 0" lands in DLM and the interrupts stay on.
	 */
	outb(COM1_PORT + UART_LCR, LCR_WLS_8);
	outb(COM1_PORT + UART_IER, 0);

	outb(COM1_PORT + UART_LCR, LCR_DLAB);
	outb(COM1_PORT + UART_DLL, divisor & 0xff);
	outb(COM1_PORT + UART_DLM, divisor >> 8);

	/* Clearing DLAB sets 8 data bits, no parity, 1 stop bit: "8N1". */
	outb(COM1_PORT + UART_LCR, LCR_WLS_8);
	outb(COM1_PORT + UART_FCR, FCR_FIFO_ENABLE | FCR_RCVR_RESET |
				   FCR_XMIT_RESET | FCR_TRIGGER_14);

	found = loopback_test();

	/*
	 * Normal operation, with the lines a terminal expects, even if the
	 * test failed: left in loopback, the UART would keep everything we
	 * send to itself. A byte that came back after we gave up must not
	 * reach the reader: empty the receive FIFO once more.
	 */
	outb(COM1_PORT + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	outb(COM1_PORT + UART_FCR, FCR_FIFO_ENABLE | FCR_RCVR_RESET |
				   FCR_TRIGGER_14);
	return found;
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

#define IER_ERBFI	0x01	/* interrupt when received data is available */
#define FCR_TRIGGER_1	0x00	/* receive interrupt at each byte */

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
