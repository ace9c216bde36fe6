/*
 * Tests of the printf engine (format.c) through ksnprintf(), which formats
 * into a buffer we can compare. The expected strings are what C99
 * §7.19.6.1 says, and what the host's snprintf prints for the same format
 * (tests/host/test_format.c checks the two against each other on many
 * more cases).
 */
#include <fern/console.h>
#include <fern/format.h>
#include <fern/ktest.h>
#include <fern/string.h>
#include <limits.h>
#include <stdint.h>

static char out[128];

/* Format into `out` and return it, so a test reads as one line. */
__attribute__((format(printf, 1, 2)))
static const char *fmt(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	kvsnprintf(out, sizeof(out), format, ap);
	va_end(ap);
	return out;
}

/* The same without the compiler's format check, for malformed formats. */
static const char *fmt_unchecked(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	kvsnprintf(out, sizeof(out), format, ap);
	va_end(ap);
	return out;
}

KTEST(printf, "%d prints decimal, with a minus sign when negative")
{
	KTEST_EXPECT_STREQ(fmt("%d", 0), "0");
	KTEST_EXPECT_STREQ(fmt("%d", 42), "42");
	KTEST_EXPECT_STREQ(fmt("%d", -42), "-42");
	KTEST_EXPECT_STREQ(fmt("%i", -7), "-7");
}

KTEST(printf, "%d of INT_MIN and INT_MAX")
{
	KTEST_EXPECT_STREQ(fmt("%d", INT_MIN), "-2147483648");
	KTEST_EXPECT_STREQ(fmt("%d", INT_MAX), "2147483647");
}

KTEST(printf, "%ld and %lld of LLONG_MIN")
{
	KTEST_EXPECT_STREQ(fmt("%ld", LONG_MIN), "-9223372036854775808");
	KTEST_EXPECT_STREQ(fmt("%lld", LLONG_MIN), "-9223372036854775808");
	KTEST_EXPECT_STREQ(fmt("%lld", LLONG_MAX), "9223372036854775807");
}

KTEST(printf, "%llu and %lx of the largest unsigned values")
{
	KTEST_EXPECT_STREQ(fmt("%llu", ULLONG_MAX), "18446744073709551615");
	KTEST_EXPECT_STREQ(fmt("%lx", ULONG_MAX), "ffffffffffffffff");
	KTEST_EXPECT_STREQ(fmt("%u", UINT_MAX), "4294967295");
}

KTEST(printf, "%x and %X print hex in lower and upper case")
{
	KTEST_EXPECT_STREQ(fmt("%x", 0xbeefu), "beef");
	KTEST_EXPECT_STREQ(fmt("%X", 0xbeefu), "BEEF");
	KTEST_EXPECT_STREQ(fmt("%x", 0u), "0");
}

KTEST(printf, "%o prints octal")
{
	KTEST_EXPECT_STREQ(fmt("%o", 8u), "10");
	KTEST_EXPECT_STREQ(fmt("%o", 0755u), "755");
	KTEST_EXPECT_STREQ(fmt("%llo", ULLONG_MAX), "1777777777777777777777");
}

KTEST(printf, "%hhd and %hd convert the argument to char and short")
{
	KTEST_EXPECT_STREQ(fmt("%hhd", (signed char)-128), "-128");
	KTEST_EXPECT_STREQ(fmt("%hhu", (unsigned char)255), "255");
	KTEST_EXPECT_STREQ(fmt("%hd", (short)-32768), "-32768");
	KTEST_EXPECT_STREQ(fmt("%hu", (unsigned short)65535), "65535");
	KTEST_EXPECT_STREQ(fmt("%hhx", (unsigned char)0xab), "ab");
}

KTEST(printf, "%zu and %zd print size_t values")
{
	KTEST_EXPECT_STREQ(fmt("%zu", (size_t)4096), "4096");
	KTEST_EXPECT_STREQ(fmt("%zu", SIZE_MAX), "18446744073709551615");
	KTEST_EXPECT_STREQ(fmt("%zd", (long)-1), "-1");
}

KTEST(printf, "%c prints one character")
{
	KTEST_EXPECT_STREQ(fmt("%c", 'f'), "f");
	KTEST_EXPECT_STREQ(fmt("[%3c]", 'x'), "[  x]");
	KTEST_EXPECT_STREQ(fmt("[%-3c]", 'x'), "[x  ]");
}

KTEST(printf, "%s prints a string and (null) for NULL")
{
	KTEST_EXPECT_STREQ(fmt("%s", "fern"), "fern");
	KTEST_EXPECT_STREQ(fmt("%s", ""), "");
	/* Unchecked: the compiler rightly warns about %s of NULL. */
	KTEST_EXPECT_STREQ(fmt_unchecked("%s", (char *)NULL), "(null)");
}

KTEST(printf, "%p prints 0x and hex digits, (nil) for NULL")
{
	KTEST_EXPECT_STREQ(fmt("%p", (void *)0xb8000), "0xb8000");
	KTEST_EXPECT_STREQ(fmt("%p", (void *)0), "(nil)");
}

KTEST(printf, "%% prints a percent sign")
{
	KTEST_EXPECT_STREQ(fmt("100%%"), "100%");
	KTEST_EXPECT_STREQ(fmt("%d%%", 5), "5%");
}

KTEST(printf, "a width pads on the left with spaces")
{
	KTEST_EXPECT_STREQ(fmt("[%5d]", 42), "[   42]");
	KTEST_EXPECT_STREQ(fmt("[%5d]", -42), "[  -42]");
	KTEST_EXPECT_STREQ(fmt("[%2d]", 12345), "[12345]");
	KTEST_EXPECT_STREQ(fmt("[%6s]", "ab"), "[    ab]");
}

KTEST(printf, "the 0 flag pads with zeros after the sign")
{
	KTEST_EXPECT_STREQ(fmt("%05d", 42), "00042");
	KTEST_EXPECT_STREQ(fmt("%05d", -42), "-0042");
	KTEST_EXPECT_STREQ(fmt("%08lx", 0xbeefUL), "0000beef");
}

KTEST(printf, "the - flag pads on the right and wins over 0")
{
	KTEST_EXPECT_STREQ(fmt("[%-5d]", 42), "[42   ]");
	KTEST_EXPECT_STREQ(fmt("[%-6s]", "ab"), "[ab    ]");
	KTEST_EXPECT_STREQ(fmt_unchecked("[%-05d]", -4), "[-4   ]");
}

KTEST(printf, "a precision is the minimum number of digits and turns off 0")
{
	KTEST_EXPECT_STREQ(fmt("%.3d", 7), "007");
	KTEST_EXPECT_STREQ(fmt("%.3d", -7), "-007");
	KTEST_EXPECT_STREQ(fmt("[%8.3d]", -7), "[    -007]");
	KTEST_EXPECT_STREQ(fmt("[%-8.3x]", 0xau), "[00a     ]");
	KTEST_EXPECT_STREQ(fmt_unchecked("[%06.3d]", 7), "[   007]");
}

KTEST(printf, "precision 0 prints no digits for 0")
{
	KTEST_EXPECT_STREQ(fmt("[%.0d]", 0), "[]");
	KTEST_EXPECT_STREQ(fmt("[%3.0x]", 0u), "[   ]");
	KTEST_EXPECT_STREQ(fmt("[%.0d]", 5), "[5]");
}

KTEST(printf, "a precision cuts a string")
{
	KTEST_EXPECT_STREQ(fmt("%.2s", "fern"), "fe");
	KTEST_EXPECT_STREQ(fmt("[%5.1s]", "fern"), "[    f]");
	KTEST_EXPECT_STREQ(fmt("%.10s", "fern"), "fern");
}

KTEST(printf, "* takes the width and precision from the arguments")
{
	KTEST_EXPECT_STREQ(fmt("[%*d]", 4, 7), "[   7]");
	KTEST_EXPECT_STREQ(fmt("[%.*d]", 3, 7), "[007]");
	KTEST_EXPECT_STREQ(fmt("[%*.*s]", 4, 2, "fern"), "[  fe]");
}

KTEST(printf, "a negative * width left-justifies, a negative precision is none")
{
	KTEST_EXPECT_STREQ(fmt("[%*d]", -4, 7), "[7   ]");
	KTEST_EXPECT_STREQ(fmt("[%.*s]", -1, "fern"), "[fern]");
}

KTEST(printf, "an unknown conversion is printed as written")
{
	KTEST_EXPECT_STREQ(fmt_unchecked("a%yb"), "a%yb");
	KTEST_EXPECT_STREQ(fmt_unchecked("a%5yb"), "a%5yb");
	KTEST_EXPECT_STREQ(fmt_unchecked("ends with %"), "ends with %");
}

KTEST(printf, "truncation returns the length the whole output would have")
{
	char buf[4];

	KTEST_EXPECT_EQ(ksnprintf(buf, sizeof(buf), "%d", 123456), 6);
	KTEST_EXPECT_STREQ(buf, "123");
	KTEST_EXPECT_EQ(ksnprintf(buf, sizeof(buf), "%s", "ab"), 2);
	KTEST_EXPECT_STREQ(buf, "ab");
}

KTEST(printf, "truncation never writes past size")
{
	char buf[8];

	memset(buf, '#', sizeof(buf));
	KTEST_EXPECT_EQ(ksnprintf(buf, 4, "%s", "abcdefgh"), 8);
	KTEST_EXPECT_STREQ(buf, "abc");
	for (int i = 4; i < 8; i++)
		KTEST_EXPECT_EQ(buf[i], '#');
}

KTEST(printf, "size 0 writes nothing and still returns the length")
{
	char buf[2] = { '#', '#' };

	KTEST_EXPECT_EQ(ksnprintf(buf, 0, "%d", 42), 2);
	KTEST_EXPECT_EQ(buf[0], '#');
	KTEST_EXPECT_EQ(ksnprintf(NULL, 0, "%s", "fern"), 4);
}

KTEST(printf, "size 1 writes only the NUL")
{
	char buf[2] = { '#', '#' };

	KTEST_EXPECT_EQ(ksnprintf(buf, 1, "%d", 42), 2);
	KTEST_EXPECT_EQ(buf[0], '\0');
	KTEST_EXPECT_EQ(buf[1], '#');
}

/*
 * printf-vectors: not a check but a dump. Each line gives a format, an
 * argument and ksnprintf's output, and the test harness recomputes the
 * output with Python's own printf-style formatting:
 *
 *     vector 3: fmt "%5d" i32 42 -> "   42" [NONCE]
 *
 * Every format has exactly one conversion and the argument has the type
 * its length modifier names.
 */
enum vector_type { I8, I16, I32, I64, U8, U16, U32, U64, STR, CHR };

static const char *const vector_type_names[] = {
	[I8] = "i8", [I16] = "i16", [I32] = "i32", [I64] = "i64",
	[U8] = "u8", [U16] = "u16", [U32] = "u32", [U64] = "u64",
	[STR] = "str", [CHR] = "char",
};

struct vector {
	const char *format;
	enum vector_type type;
	long long i;		/* the value of signed types and CHR */
	unsigned long long u;	/* the value of unsigned types */
	const char *s;		/* the value of STR */
};

static const struct vector vectors[] = {
	{ "%d", I32, .i = 0 },
	{ "%d", I32, .i = INT_MIN },
	{ "%d", I32, .i = INT_MAX },
	{ "%i", I32, .i = -42 },
	{ "%5d", I32, .i = 42 },
	{ "%-5d|", I32, .i = 42 },
	{ "%05d", I32, .i = -42 },
	{ "%.3d", I32, .i = 7 },
	{ "%8.3d", I32, .i = -7 },
	{ "%-8.3d|", I32, .i = 7 },
	{ "%.0d", I32, .i = 0 },
	{ "%hhd", I8, .i = -128 },
	{ "%hhu", U8, .u = 255 },
	{ "%hhx", U8, .u = 171 },
	{ "%hd", I16, .i = -32768 },
	{ "%hu", U16, .u = 65535 },
	{ "%hx", U16, .u = 4660 },
	{ "%ld", I64, .i = LLONG_MIN },
	{ "%lld", I64, .i = LLONG_MIN },
	{ "%025lld", I64, .i = LLONG_MIN },
	{ "%llu", U64, .u = ULLONG_MAX },
	{ "%lu", U64, .u = ULLONG_MAX },
	{ "%.20llu", U64, .u = 1 },
	{ "%zu", U64, .u = 123456789 },
	{ "%zd", I64, .i = -1 },
	{ "%u", U32, .u = UINT_MAX },
	{ "%10u", U32, .u = 0 },
	{ "%-10u|", U32, .u = 1 },
	{ "%x", U32, .u = 0xdeadbeef },
	{ "%X", U32, .u = 0xdeadbeef },
	{ "%08x", U32, .u = 0xbeef },
	{ "%x", U32, .u = 0 },
	{ "%.0x", U32, .u = 0 },
	{ "%lx", U64, .u = ULLONG_MAX },
	{ "%llX", U64, .u = 0x0123456789abcdefULL },
	{ "%o", U32, .u = 8 },
	{ "%llo", U64, .u = ULLONG_MAX },
	{ "%c", CHR, .i = 'A' },
	{ "%3c", CHR, .i = 'x' },
	{ "%-3c|", CHR, .i = 'x' },
	{ "%s", STR, .s = "fern" },
	{ "%8s", STR, .s = "fern" },
	{ "%-8s|", STR, .s = "fern" },
	{ "%.2s", STR, .s = "fern" },
	{ "%5.1s", STR, .s = "fern" },
	{ "%s", STR, .s = "" },
};

/* Format one vector, passing the argument with the type it names. */
static void format_vector(const struct vector *v, char *buf, size_t size)
{
	switch (v->type) {
	case I8:
		ksnprintf(buf, size, v->format, (signed char)v->i);
		break;
	case I16:
		ksnprintf(buf, size, v->format, (short)v->i);
		break;
	case I32:
	case CHR:
		ksnprintf(buf, size, v->format, (int)v->i);
		break;
	case I64:
		ksnprintf(buf, size, v->format, v->i);
		break;
	case U8:
		ksnprintf(buf, size, v->format, (unsigned char)v->u);
		break;
	case U16:
		ksnprintf(buf, size, v->format, (unsigned short)v->u);
		break;
	case U32:
		ksnprintf(buf, size, v->format, (unsigned int)v->u);
		break;
	case U64:
		ksnprintf(buf, size, v->format, v->u);
		break;
	case STR:
		ksnprintf(buf, size, v->format, v->s);
		break;
	}
}

KTEST_EXPLICIT(printf-vectors, "ksnprintf of each vector, for the harness to recompute")
{
	(void)ktest;
	for (size_t n = 0; n < sizeof(vectors) / sizeof(vectors[0]); n++) {
		const struct vector *v = &vectors[n];
		char result[64];

		format_vector(v, result, sizeof(result));
		kprintf("vector %zu: fmt \"%s\" %s ", n + 1, v->format,
			vector_type_names[v->type]);
		if (v->type == STR)
			kprintf("\"%s\"", v->s);
		else if (v->type >= U8 && v->type <= U64)
			kprintf("%llu", v->u);
		else
			kprintf("%lld", v->i);
		ktest_checkpoint(" -> \"%s\"", result);
	}
}
