/**
 * @file i8254.h
 * @brief The PC's 8254 Programmable Interval Timer: its ports, its control
 *        word, and a countdown on channel 2 that needs no interrupt.
 *
 * The 8254 (Intel 8254 datasheet) has three 16-bit counters fed by one
 * 1.193182 MHz clock. On a PC, channel 0's output is IRQ 0 (chapter 3's
 * tick), channel 1 once refreshed DRAM, and channel 2 drives the speaker.
 * Channel 2 is the one a program may use freely: its gate (whether it
 * counts) and its output (whether it has run out) are both wired to
 * "port B" at 0x61, so code that has no interrupts yet can still time an
 * interval by polling one port. Chapter 2 bounds the UART's self-test with
 * it; chapter 3 programs channel 0.
 */
#ifndef FERN_I8254_H
#define FERN_I8254_H

#include <stdbool.h>
#include <stdint.h>
#include <fern/x86.h>

#define PIT_INPUT_HZ	1193182	/**< the 8254's clock: 14.31818 MHz / 12 */

/** @name Ports
 * Each channel's counter has a data port; one command port takes the
 * control word. @{ */
#define PIT_CHANNEL0	0x40	/**< channel 0's counter: IRQ 0 */
#define PIT_CHANNEL2	0x42	/**< channel 2's counter: the speaker */
#define PIT_COMMAND	0x43	/**< the control word register */
/** @} */

/** @name The control word (8254 datasheet, "Control Word Format")
 * Which channel, how its count will be written, the mode, binary or BCD.
 * @{ */
#define PIT_SELECT_CHANNEL0	(0 << 6)
#define PIT_SELECT_CHANNEL2	(2 << 6)
#define PIT_ACCESS_LOHI		(3 << 4)	/**< low byte, then high byte */
#define PIT_MODE_TERMINAL	(0 << 1)	/**< mode 0: out rises at zero */
#define PIT_MODE_RATE		(2 << 1)	/**< mode 2: rate generator */
#define PIT_BINARY		0		/**< count in binary, not BCD */
/** @} */

/** @name Port B (0x61), the PC's system control port
 * Bit 0 is channel 2's gate, bit 1 connects its output to the speaker,
 * bit 5 reads its output back. @{ */
#define PORT_B			0x61
#define PORT_B_TIMER2_GATE	0x01
#define PORT_B_SPEAKER		0x02
#define PORT_B_TIMER2_OUT	0x20
/** @} */

/** The longest countdown: 65535 counts of the 1.193182 MHz clock. */
#define PIT_COUNTDOWN_MAX_US	54900

/**
 * Start channel 2 counting down @p us microseconds (at most
 * PIT_COUNTDOWN_MAX_US), with the speaker off. In mode 0 the output goes
 * low when the control word is written and rises when the count reaches
 * zero, so pit_countdown_done() can tell the moment without an interrupt.
 * Uses channel 2 only: chapter 3's tick on channel 0 goes on.
 */
static inline void pit_countdown_start(uint32_t us)
{
	uint32_t count = (uint32_t)((uint64_t)us * PIT_INPUT_HZ / 1000000);

	if (count > 0xffff)
		count = 0xffff;
	if (count == 0)
		count = 1;
	outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_TIMER2_GATE);
	outb(PIT_COMMAND, PIT_SELECT_CHANNEL2 | PIT_ACCESS_LOHI |
			  PIT_MODE_TERMINAL | PIT_BINARY);
	outb(PIT_CHANNEL2, count & 0xff);
	outb(PIT_CHANNEL2, count >> 8);
}

/** True once the countdown pit_countdown_start() began has run out. */
static inline bool pit_countdown_done(void)
{
	return inb(PORT_B) & PORT_B_TIMER2_OUT;
}

#endif
