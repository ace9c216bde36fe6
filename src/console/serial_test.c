/*
 * Tests of the 16550 driver (serial.c) against the real UART QEMU gives
 * us, in the states QEMU never produces by itself: left in another line
 * format by someone before us, slow to loop a byte back, or not looping
 * it back at all.
 *
 * QEMU's UART loops a byte back the instant it is sent, so the slow and
 * the dead UART are played by a stand-in for the two registers the
 * self-test reads (serial_selftest_in): its line status says Data Ready
 * only once a deadline has passed, and its receive register is COM1's own,
 * which holds the byte the self-test sent. Every test ends with
 * serial_init() having run last, and the KTAP line that reports it goes
 * out on that UART: if the driver left it in loopback, the harness sees
 * the rest of the run go silent.
 */
#include <fern/console.h>
#include <fern/i8254.h>
#include <fern/ktest.h>
#include <fern/x86.h>

/* The registers as the PC16550D datasheet numbers them (§8.1, Table II). */
#define RBR	0	/* receiver buffer; with LCR.DLAB set: DLL */
#define IER	1	/* interrupt enable; with LCR.DLAB set: DLM */
#define DLM	1
#define LCR	3
#define MCR	4
#define LSR	5
#define LCR_DLAB	0x80
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define IER_RDA		0x01	/* interrupt on received data */

/* 8 data bits (WLS = 11), 1 stop bit, no parity, DLAB clear (§8.4). */
#define LCR_8N1		0x03
/* 115200 baud from the PC's 1.8432 MHz clock: 1843200 / (16 * 115200). */
#define DIVISOR_115200	1

static uint8_t uart(int reg)
{
	return inb(COM1_PORT + reg);
}

static uint16_t uart_divisor(void)
{
	uint8_t lcr = uart(LCR);
	uint16_t divisor;

	outb(COM1_PORT + LCR, lcr | LCR_DLAB);
	divisor = (uint16_t)(uart(RBR) | uart(DLM) << 8);
	outb(COM1_PORT + LCR, lcr);
	return divisor;
}

/*
 * The stand-in UART keeps real time: the TSC, counted against 10 ms of the
 * 8254's channel 2, the PC's reference clock (i8254.h). QEMU's TSC and its
 * 8254 both follow the host's clock, so a moment in which the host did not
 * run QEMU counts on both alike. A poll of the stand-in costs next to
 * nothing, so a driver that counts polls instead of time sees it answer
 * long after it has given up.
 */
#define CALIBRATE_US	10000
#define TSC_GIVE_UP	(1ULL << 36)	/* some 20 s at 3 GHz: no 8254 here */

static uint64_t cycles_per_us;
static uint64_t answer_after;	/* cycles from the first poll; 0: never */
static uint64_t first_poll;

static int calibrate(void)
{
	uint64_t t0 = rdtsc(), cycles = 0;

	pit_countdown_start(CALIBRATE_US);
	while (!pit_countdown_done()) {
		cycles = rdtsc() - t0;
		if (cycles > TSC_GIVE_UP)
			return -1;
	}
	cycles_per_us = cycles / CALIBRATE_US;
	return cycles_per_us ? 0 : -1;
}

static uint8_t slow_uart_in(uint16_t reg)
{
	uint64_t now = rdtsc();

	if (reg != LSR)
		return uart(reg);
	if (!first_poll)
		first_poll = now;
	if (answer_after && now - first_poll >= answer_after)
		return LSR_DR;
	return 0;
}

/* serial_init() turns the UART's interrupts off; chapter 3 wants its own. */
static void reenable_rx_interrupt(void)
{
#if FERN_CHAPTER >= 3
	serial_enable_rx_interrupt();
#endif
}

/* Run serial_init() with a stand-in that answers after @us (0: never). */
static int init_with_stand_in(uint64_t us)
{
	int found;

	answer_after = us * cycles_per_us;
	first_poll = 0;
	serial_selftest_in = slow_uart_in;
	found = serial_init();
	serial_selftest_in = NULL;
	reenable_rx_interrupt();
	return found;
}

KTEST(serial, "a UART left at 9600 baud, 5E2, DLAB set and in loopback is reprogrammed to 115200 8N1")
{
	/*
	 * The receive interrupt on (chapter 3's own setting, harmless before
	 * it: interrupts are off), then 9600 baud: divisor 12. Then 5 data
	 * bits, even parity, 2 stop bits, and DLAB left set.
	 */
	outb(COM1_PORT + LCR, LCR_8N1);
	outb(COM1_PORT + IER, IER_RDA);
	outb(COM1_PORT + LCR, LCR_DLAB);
	outb(COM1_PORT + RBR, 12);
	outb(COM1_PORT + DLM, 0);
	outb(COM1_PORT + LCR, LCR_DLAB | 0x18 | 0x04);
	outb(COM1_PORT + MCR, MCR_LOOP);

	KTEST_EXPECT_EQ(serial_init(), 0);
	KTEST_EXPECT_EQ(uart(IER), 0);
	reenable_rx_interrupt();
	KTEST_EXPECT_EQ(uart(LCR), LCR_8N1);
	KTEST_EXPECT_EQ(uart(MCR) & MCR_LOOP, 0);
	KTEST_EXPECT_EQ(uart_divisor(), DIVISOR_115200);
}

/*
 * 8 ms is some 90 character times at 115200 baud. A driver that gives up
 * after a fixed number of polls (fern's first one tried 1,000) has given
 * up long before on a machine that polls as fast as QEMU; one that waits
 * a time, as ours waits 10 ms, has not.
 */
KTEST(serial, "a UART that takes 8 ms to loop a byte back passes the self-test")
{
	KTEST_ASSERT_EQ(calibrate(), 0);
	KTEST_EXPECT_EQ(init_with_stand_in(8000), 0);
	KTEST_EXPECT_EQ(uart(MCR) & MCR_LOOP, 0);
}

KTEST(serial, "a UART that never loops back fails the self-test and is left out of loopback")
{
	KTEST_ASSERT_EQ(calibrate(), 0);
	KTEST_EXPECT_EQ(init_with_stand_in(0), -1);
	KTEST_EXPECT_EQ(uart(MCR) & MCR_LOOP, 0);
	KTEST_EXPECT_EQ(uart(LCR), LCR_8N1);
	/* The test byte, which the real UART did loop back, is not left for the reader. */
	KTEST_EXPECT_EQ(uart(LSR) & LSR_DR, 0);
}
