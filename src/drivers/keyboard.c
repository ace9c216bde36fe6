/*
 * The PS/2 keyboard: the 8042 keyboard controller at ports 0x60 and 0x64
 * (IBM PS/2 Hardware Interface Technical Reference, "Keyboard/Auxiliary
 * Device Controller"), and the keyboard behind it.
 *
 * The keyboard does not send characters. It sends a scancode when a key
 * goes down (its "make" code) and another when it comes up (its "break"
 * code), and knows nothing of Shift or Caps Lock: which character a key
 * makes is the driver's business. The controller translates what the
 * keyboard sends into scancode set 1, the IBM PC XT's, where a key's break
 * code is its make code with bit 7 set, and keys added later (right Ctrl,
 * the arrows) send a 0xe0 prefix first.
 *
 * Each byte raises IRQ 1. The handler reads it, runs it through
 * kbd_translate() and puts any character in the console's input queue.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/drivers.h>
#include <fern/init.h>
#include <fern/x86.h>

#define PS2_DATA		0x60
#define PS2_STATUS		0x64	/* read */
#define PS2_COMMAND		0x64	/* write */

#define PS2_STATUS_OUTPUT_FULL	0x01	/* a byte waits at PS2_DATA */
#define PS2_STATUS_INPUT_FULL	0x02	/* the controller has not taken our last byte */
#define PS2_STATUS_AUX_DATA	0x20	/* the waiting byte is the mouse's */

#define PS2_CMD_READ_CONFIG	0x20	/* the configuration byte appears at PS2_DATA */
#define PS2_CMD_WRITE_CONFIG	0x60	/* the next byte written to PS2_DATA is it */
#define PS2_CONFIG_KBD_INT	0x01	/* interrupt (IRQ 1) when a key byte arrives */
#define PS2_CONFIG_KBD_CLOCK_OFF 0x10	/* keyboard port disabled */
#define PS2_CONFIG_TRANSLATE	0x40	/* translate to scancode set 1 */

/* How long to wait for the controller before deciding it is not there. */
#define PS2_TRIES		100000

/* Scancodes of set 1 that are not characters. */
#define SC_RELEASE		0x80	/* bit 7: the key came up */
#define SC_EXTENDED		0xe0	/* prefix of a later key */
#define SC_PAUSE		0xe1	/* prefix of Pause's 6-byte sequence */
#define SC_CTRL			0x1d
#define SC_LEFT_SHIFT		0x2a
#define SC_RIGHT_SHIFT		0x36
#define SC_CAPS_LOCK		0x3a
#define SC_ENTER		0x1c	/* after 0xe0: the keypad's Enter */
#define SC_SLASH		0x35	/* after 0xe0: the keypad's / */

/*
 * The US layout, indexed by make code (0x00 to 0x39): what each key makes
 * alone, and with Shift. A 0 is a key that makes no character (Esc makes
 * 0x1b, but the modifiers make none). Separate literals keep "\x1b" from
 * swallowing the digits after it.
 */
static const char keymap[] =
	"\0\x1b" "1234567890-=" "\b\t"		/* 0x00-0x0f */
	"qwertyuiop[]" "\n\0"			/* 0x10-0x1d */
	"asdfghjkl;'`" "\0\\"			/* 0x1e-0x2b */
	"zxcvbnm,./" "\0*\0 ";			/* 0x2c-0x39 */
static const char keymap_shift[] =
	"\0\x1b" "!@#$%^&*()_+" "\b\t"
	"QWERTYUIOP{}" "\n\0"
	"ASDFGHJKL:\"~" "\0|"
	"ZXCVBNM<>?" "\0*\0 ";

_Static_assert(sizeof(keymap) == 0x3a + 1 && sizeof(keymap_shift) == sizeof(keymap),
	       "one entry per make code from 0x00 to 0x39");

/*
 * Only the 0xe0 keys that make a character or change a modifier matter.
 * That also leaves out the "fake shifts" (0xe0 0x2a) that keyboards send
 * around some of them: they must not count as Shift.
 */
static int translate_extended(struct kbd_state *s, uint8_t code, bool release)
{
	switch (code) {
	case SC_CTRL:
		s->ctrl = !release;
		return -1;
	case SC_ENTER:
		return release ? -1 : '\n';
	case SC_SLASH:
		return release ? -1 : '/';
	default:
		return -1;
	}
}

int kbd_translate(struct kbd_state *s, uint8_t scancode)
{
	uint8_t code = scancode & ~SC_RELEASE;
	bool release = scancode & SC_RELEASE;
	bool shift = s->left_shift || s->right_shift;
	char c;

	/* Pause sends e1 1d 45 e1 9d c5 and no break code: skip it all. */
	if (s->pause_skip) {
		s->pause_skip--;
		return -1;
	}
	if (scancode == SC_PAUSE) {
		s->pause_skip = 2;
		return -1;
	}
	if (scancode == SC_EXTENDED) {
		s->extended = true;
		return -1;
	}
	if (s->extended) {
		s->extended = false;
		return translate_extended(s, code, release);
	}
	switch (code) {
	case SC_LEFT_SHIFT:
		s->left_shift = !release;
		return -1;
	case SC_RIGHT_SHIFT:
		s->right_shift = !release;
		return -1;
	case SC_CTRL:
		s->ctrl = !release;
		return -1;
	case SC_CAPS_LOCK:
		/* A lock key toggles on the press; its release does nothing. */
		if (!release)
			s->caps_lock = !s->caps_lock;
		return -1;
	}
	if (release || code >= sizeof(keymap) - 1)
		return -1;

	c = keymap[code];
	if (c >= 'a' && c <= 'z') {
		/* Ctrl-A is 1, ..., Ctrl-Z is 26: the letter's low five bits. */
		if (s->ctrl)
			return c & 0x1f;
		/* Caps Lock swaps the case of letters, and Shift swaps it back. */
		return shift != s->caps_lock ? c - 'a' + 'A' : c;
	}
	if (shift)
		c = keymap_shift[code];
	return c ? c : -1;
}

static struct kbd_state state;

/* @ctx is the keyboard's struct kbd_state; no byte waiting: not ours. */
static enum irq_result keyboard_interrupt(void *ctx)
{
	uint8_t status = inb(PS2_STATUS);
	uint8_t byte;
	int c;

	if (!(status & PS2_STATUS_OUTPUT_FULL))
		return IRQ_NONE;
	byte = inb(PS2_DATA);
	/* With a mouse, its bytes come through the same port. */
	if (status & PS2_STATUS_AUX_DATA)
		return IRQ_HANDLED;
	c = kbd_translate(ctx, byte);
	if (c >= 0)
		console_input_push((char)c);
	return IRQ_HANDLED;
}

/* Wait until status bit @bit is @set; false if the controller never says so. */
static bool wait_status(uint8_t bit, bool set)
{
	for (int i = 0; i < PS2_TRIES; i++) {
		if (!!(inb(PS2_STATUS) & bit) == set)
			return true;
		pause();
	}
	return false;
}

/*
 * The firmware leaves the controller in some state; make sure of the three
 * bits that matter. The configuration byte is read and written through
 * commands to port 0x64, with the data at port 0x60; each write waits until
 * the controller has taken the previous byte.
 */
int keyboard_init(void)
{
	uint8_t config;

	/* Throw away whatever the firmware left unread. */
	for (int i = 0; i < 16 && (inb(PS2_STATUS) & PS2_STATUS_OUTPUT_FULL); i++)
		inb(PS2_DATA);

	if (!wait_status(PS2_STATUS_INPUT_FULL, false))
		goto no_controller;
	outb(PS2_COMMAND, PS2_CMD_READ_CONFIG);
	if (!wait_status(PS2_STATUS_OUTPUT_FULL, true))
		goto no_controller;
	config = inb(PS2_DATA);

	config |= PS2_CONFIG_KBD_INT | PS2_CONFIG_TRANSLATE;
	config &= (uint8_t)~PS2_CONFIG_KBD_CLOCK_OFF;
	outb(PS2_COMMAND, PS2_CMD_WRITE_CONFIG);
	if (!wait_status(PS2_STATUS_INPUT_FULL, false))
		goto no_controller;
	outb(PS2_DATA, config);

	irq_register(IRQ_KEYBOARD, keyboard_interrupt, &state, "keyboard");
	return 0;

no_controller:
	kprintf("keyboard: no PS/2 controller answers; no keyboard input\n");
	return -1;
}

static int keyboard_start(const struct boot_info *info)
{
	(void)info;
	return keyboard_init();
}
INITCALL(INIT_DRIVERS, keyboard_start);
