/**
 * @file drivers.h
 * @brief Device drivers that sit above the CPU layer: chapter 3's PS/2
 *        keyboard, and COM1's receive interrupt.
 *
 * Both feed the console's input queue (console_input_push() in console.h)
 * from their interrupt handlers, so that console_getc(), and the shell
 * above it, get keys and serial bytes alike without knowing where they
 * come from.
 */
#ifndef FERN_DRIVERS_H
#define FERN_DRIVERS_H

#include <stdbool.h>
#include <stdint.h>

/**
 * What a keyboard driver has to remember between scancodes: which
 * modifier keys are down, whether Caps Lock is on, and whether the last
 * byte was the 0xe0 prefix of an extended key.
 */
struct kbd_state {
	bool left_shift;	/**< left Shift is held */
	bool right_shift;	/**< right Shift is held */
	bool ctrl;		/**< either Ctrl is held */
	bool caps_lock;		/**< Caps Lock is on (it toggles on each press) */
	bool extended;		/**< the last byte was 0xe0 */
	uint8_t pause_skip;	/**< bytes of the Pause key's sequence to skip */
};

/**
 * Feed one byte of scancode set 1 (the IBM PC XT's, which the PS/2
 * controller translates the keyboard's codes into) to the state machine.
 *
 * @return the ASCII character the key makes (Enter is `\n`, Backspace
 *         `\b`), with Shift, Caps Lock (letters only) and Ctrl (letters
 *         become 1-26) applied; or -1 if the byte makes no character: a
 *         key release, a modifier, a prefix or a key fern does not map.
 */
int kbd_translate(struct kbd_state *state, uint8_t scancode);

/**
 * Set up the PS/2 controller (keyboard port on, its interrupt on,
 * translation to set 1 on) and register the handler of IRQ 1, which puts
 * each key's character in the console's input queue.
 *
 * @return 0, or -1 (after a line saying so) if no controller answers.
 */
int keyboard_init(void);

/**
 * Take COM1's input by interrupt: register the handler of IRQ 4, which
 * moves each received byte to the console's input queue, make the UART
 * interrupt on each byte, and tell the console to stop polling.
 */
void serial_irq_init(void);

#endif
