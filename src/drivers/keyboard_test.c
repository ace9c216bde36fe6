/*
 * Tests of the scancode translation (keyboard.c), by feeding it the bytes
 * a keyboard sends. Make codes and break codes are those of scancode set 1
 * (a key's break code is its make code + 0x80), so each sequence below can
 * be checked against any set 1 table.
 */
#include <fern/drivers.h>
#include <fern/ktest.h>
#include <fern/string.h>

/* Set 1 make codes used below. */
#define A	0x1e
#define B	0x30
#define C	0x2e
#define H	0x23
#define ONE	0x02
#define SPACE	0x39
#define ENTER	0x1c
#define BKSP	0x0e
#define LSHIFT	0x2a
#define RSHIFT	0x36
#define CTRL	0x1d
#define CAPS	0x3a
#define UP	0x48	/* after 0xe0 */
#define SLASH	0x35	/* after 0xe0: the keypad's / */
#define UP_KEY(code)	((code) | 0x80)

/* Feed @n bytes to @s; the characters they make, as a string, in @out. */
static const char *feed(struct kbd_state *s, const uint8_t *codes, size_t n, char *out)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		int c = kbd_translate(s, codes[i]);

		if (c >= 0)
			out[len++] = (char)c;
	}
	out[len] = '\0';
	return out;
}

#define FEED(state, out, ...)						\
	({								\
		static const uint8_t codes_[] = { __VA_ARGS__ };	\
		feed((state), codes_, sizeof(codes_), (out));		\
	})

KTEST(keymap, "a key makes its character when pressed, nothing when released")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, A, UP_KEY(A), ONE, UP_KEY(ONE),
				SPACE, UP_KEY(SPACE)), "a1 ");
	KTEST_EXPECT_STREQ(FEED(&s, out, ENTER, UP_KEY(ENTER), BKSP, UP_KEY(BKSP)), "\n\b");
	/* A held key repeats its make code: each one is a character. */
	KTEST_EXPECT_STREQ(FEED(&s, out, H, H, H, UP_KEY(H)), "hhh");
}

KTEST(keymap, "either Shift gives capitals and symbols while it is held")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, LSHIFT, H, UP_KEY(H), UP_KEY(LSHIFT), H), "Hh");
	KTEST_EXPECT_STREQ(FEED(&s, out, RSHIFT, ONE, UP_KEY(RSHIFT), ONE), "!1");
	/* Releasing one Shift while the other is held keeps capitals. */
	KTEST_EXPECT_STREQ(FEED(&s, out, LSHIFT, RSHIFT, UP_KEY(LSHIFT), A,
				UP_KEY(RSHIFT), A), "Aa");
}

KTEST(keymap, "Caps Lock toggles capitals for letters only; Shift inverts it")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, CAPS, UP_KEY(CAPS), A, ONE), "A1");
	KTEST_EXPECT_STREQ(FEED(&s, out, LSHIFT, B, ONE, UP_KEY(LSHIFT)), "b!");
	KTEST_EXPECT_STREQ(FEED(&s, out, CAPS, UP_KEY(CAPS), C), "c");
}

KTEST(keymap, "Ctrl turns a letter into its control code")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, CTRL, C, UP_KEY(C), UP_KEY(CTRL), C), "\x03" "c");
	/* The right Ctrl is an extended key: 0xe0 0x1d. */
	KTEST_EXPECT_STREQ(FEED(&s, out, 0xe0, CTRL, A, 0xe0, UP_KEY(CTRL), A), "\x01" "a");
}

KTEST(keymap, "extended keys: the keypad's Enter and /, and no fake Shift")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, 0xe0, ENTER, 0xe0, UP_KEY(ENTER),
				0xe0, SLASH, 0xe0, UP_KEY(SLASH)), "\n/");
	/* An arrow, wrapped in the fake Shift some keyboards send. */
	KTEST_EXPECT_STREQ(FEED(&s, out, 0xe0, LSHIFT, 0xe0, UP, 0xe0, UP_KEY(UP),
				0xe0, UP_KEY(LSHIFT), A), "a");
}

KTEST(keymap, "the Pause key's six bytes make nothing and leave no modifier held")
{
	struct kbd_state s = { 0 };
	char out[16];

	KTEST_EXPECT_STREQ(FEED(&s, out, 0xe1, CTRL, 0x45, 0xe1, UP_KEY(CTRL), 0xc5, A), "a");
}
