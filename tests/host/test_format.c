/*
 * Host unit test of the printf engine (src/lib/format.c): the kernel's
 * formatting must agree with the host C library's snprintf wherever C99
 * §7.19.6.1 defines the result.
 *
 * The same format.c the kernel uses is compiled here, for the host, with
 * AddressSanitizer and UBSan: an out-of-bounds write or an overflow in a
 * conversion stops the test. Built and run by `make host-tests`.
 */
#include <fern/format.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"

#define OUT_MAX		256
#define SHOW_MISMATCHES	5

/* The kernel's formatting into a buffer. */
#if FERN_CHAPTER >= 2
#define fern_snprintf ksnprintf
#else
struct sink {
	char *buf;
	size_t size, used;
};

static void sink_put(char c, void *arg)
{
	struct sink *s = arg;

	if (s->used + 1 < s->size)
		s->buf[s->used] = c;
	s->used++;
}

static int fern_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct sink s = { buf, size, 0 };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvformat(sink_put, &s, fmt, ap);
	va_end(ap);
	if (size)
		buf[s.used < size ? s.used : size - 1] = '\0';
	return n;
}
#endif

/* One group of comparisons: how many, and the first few mismatches. */
struct group {
	long checks, mismatches;
};

static void mismatch(struct group *g, const char *fmt, const char *value,
		     const char *got, int got_n, const char *want, int want_n)
{
	if (g->mismatches++ < SHOW_MISMATCHES)
		printf("# format \"%s\" value %s: got \"%s\" (%d) expected \"%s\" (%d)\n",
		       fmt, value, got, got_n, want, want_n);
}

#define COMPARE(g, fmt, shown, ...)					\
	do {								\
		char got[OUT_MAX], want[OUT_MAX];			\
		int got_n = fern_snprintf(got, sizeof(got), fmt, __VA_ARGS__); \
		int want_n = snprintf(want, sizeof(want), fmt, __VA_ARGS__); \
		(g)->checks++;						\
		if (got_n != want_n || strcmp(got, want) != 0)		\
			mismatch(g, fmt, shown, got, got_n, want, want_n); \
	} while (0)

static void end_group(const struct group *g, const char *what)
{
	tap_ok(g->mismatches == 0, "%s: %ld formats and values agree with snprintf%s",
	       what, g->checks, g->mismatches ? " (mismatches above)" : "");
	if (g->mismatches > SHOW_MISMATCHES)
		printf("# ... %ld mismatches in all\n", g->mismatches);
}

/* The pieces of a conversion specification that we combine. */
static const char *const int_flags[] = {
	"", "0",
#if FERN_CHAPTER >= 2
	"-", "-0",
#endif
};

static const char *const precisions[] = {
	"",
#if FERN_CHAPTER >= 2
	".", ".0", ".1", ".2", ".5", ".19", ".20", ".25",
#endif
};

#define WIDTH_MAX 20

static const long long int_values[] = {
	0, 1, -1, 7, -7, 42, -42, 127, -128, 128, 255, 256, 300, -300,
	32767, -32768, 65535, 65536, INT_MAX, INT_MIN, (long long)UINT_MAX,
	0x123456789LL, LLONG_MAX, LLONG_MIN,
};

/* Call both with the argument typed as the length modifier says. */
static void compare_int(struct group *g, const char *fmt, const char *length,
			bool is_signed, long long v)
{
	char shown[32];

	snprintf(shown, sizeof(shown), "%lld", v);
	if (strcmp(length, "l") == 0) {
		if (is_signed)
			COMPARE(g, fmt, shown, (long)v);
		else
			COMPARE(g, fmt, shown, (unsigned long)v);
	} else if (strcmp(length, "ll") == 0) {
		if (is_signed)
			COMPARE(g, fmt, shown, v);
		else
			COMPARE(g, fmt, shown, (unsigned long long)v);
	} else if (strcmp(length, "z") == 0) {
		if (is_signed)
			COMPARE(g, fmt, shown, (long)v);
		else
			COMPARE(g, fmt, shown, (size_t)v);
	} else {
		/* "", h and hh: the argument is an int; printf narrows it. */
		if (is_signed)
			COMPARE(g, fmt, shown, (int)v);
		else
			COMPARE(g, fmt, shown, (unsigned int)v);
	}
}

static void test_integers(void)
{
	static const char *const lengths[] = {
		"", "l",
#if FERN_CHAPTER >= 2
		"hh", "h", "ll", "z",
#endif
	};
	static const char convs[] = "dux"
#if FERN_CHAPTER >= 2
		"iXo"
#endif
		;

	for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
		for (const char *c = convs; *c; c++) {
			struct group g = { 0, 0 };
			bool is_signed = *c == 'd' || *c == 'i';
			char what[32];

			for (size_t f = 0; f < sizeof(int_flags) / sizeof(int_flags[0]); f++)
			for (int w = 0; w <= WIDTH_MAX; w++)
			for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++)
			for (size_t v = 0; v < sizeof(int_values) / sizeof(int_values[0]); v++) {
				char fmt[32];

				snprintf(fmt, sizeof(fmt), "[%%%s%.0d%s%s%c]",
					 int_flags[f], w, precisions[p],
					 lengths[l], *c);
				compare_int(&g, fmt, lengths[l], is_signed,
					    int_values[v]);
			}
			snprintf(what, sizeof(what), "%%%s%c", lengths[l], *c);
			end_group(&g, what);
		}
	}
}

static void test_strings_and_chars(void)
{
	static const char *const flags[] = {
		"",
#if FERN_CHAPTER >= 2
		"-",
#endif
	};
	static const char *const strings[] = {
		"", "a", "fern", "hello, world", "twenty-one characters",
	};
	static const char chars[] = { 'a', ' ', '~', '%' };
	struct group gs = { 0, 0 }, gc = { 0, 0 }, gn = { 0, 0 };

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
	for (int w = 0; w <= WIDTH_MAX; w++) {
		char fmt[32];

		for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++) {
			snprintf(fmt, sizeof(fmt), "[%%%s%.0d%ss]", flags[f], w,
				 precisions[p]);
			for (size_t s = 0; s < sizeof(strings) / sizeof(strings[0]); s++)
				COMPARE(&gs, fmt, strings[s], strings[s]);
		}
		snprintf(fmt, sizeof(fmt), "[%%%s%.0dc]", flags[f], w);
		for (size_t c = 0; c < sizeof(chars); c++)
			COMPARE(&gc, fmt, "a char", chars[c]);
		/*
		 * %s of NULL: glibc prints "(null)" too, but only when no
		 * precision shorter than 6 would cut it, so no precision here.
		 */
		snprintf(fmt, sizeof(fmt), "[%%%s%.0ds]", flags[f], w);
		COMPARE(&gn, fmt, "NULL", (char *)NULL);
	}
	end_group(&gs, "%s");
	end_group(&gc, "%c");
	end_group(&gn, "%s of NULL");
}

static void test_pointers(void)
{
	static const char *const flags[] = {
		"",
#if FERN_CHAPTER >= 2
		"-",
#endif
	};
	static void *const pointers[] = {
		NULL, (void *)1, (void *)0xb8000, (void *)0xffffffff80100000UL,
		(void *)UINTPTR_MAX,
	};
	struct group g = { 0, 0 };

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
	for (int w = 0; w <= WIDTH_MAX; w++) {
		char fmt[32];

		snprintf(fmt, sizeof(fmt), "[%%%s%.0dp]", flags[f], w);
		for (size_t i = 0; i < sizeof(pointers) / sizeof(pointers[0]); i++)
			COMPARE(&g, fmt, "a pointer", pointers[i]);
	}
	end_group(&g, "%p");
}

#if FERN_CHAPTER >= 2
/* `*` takes the width and precision from int arguments, negative ones too. */
static void test_star(void)
{
	struct group g = { 0, 0 };

	for (int w = -25; w <= 25; w++) {
		for (int p = -3; p <= 25; p++) {
			COMPARE(&g, "[%*d]", "-42", w, -42);
			COMPARE(&g, "[%.*d]", "-42", p, -42);
			COMPARE(&g, "[%*.*x]", "0xbeef", w, p, 0xbeefu);
			COMPARE(&g, "[%*.*s]", "fern", w, p, "fern");
		}
	}
	end_group(&g, "* width and precision");
}
#endif

static void test_fixed(void)
{
	char out[OUT_MAX];

	fern_snprintf(out, sizeof(out), "100%%");
	tap_streq(out, "100%", "%%%% prints one percent sign");
	fern_snprintf(out, sizeof(out), "a%d%s%c%%", 1, "b", 'c');
	tap_streq(out, "a1bc%", "several conversions in one format");
	fern_snprintf(out, sizeof(out), "no conversions");
	tap_streq(out, "no conversions", "a format without conversions is copied");
}

/* Formats glibc would not agree on (or warn about): fern's own rules. */
static int (*volatile unchecked)(char *, size_t, const char *, ...) = fern_snprintf;

static void test_unknown(void)
{
	char out[OUT_MAX];

	unchecked(out, sizeof(out), "a%yb");
	tap_streq(out, "a%yb", "an unknown conversion is printed as written");
	unchecked(out, sizeof(out), "a%5yb");
	tap_streq(out, "a%5yb", "an unknown conversion keeps its width as written");
	unchecked(out, sizeof(out), "ends with %");
	tap_streq(out, "ends with %", "a lone %% at the end is printed");
}

#if FERN_CHAPTER >= 2
/*
 * Truncation: at every buffer size from 0 to past the full length, the
 * bytes written and the return value are exactly snprintf's, and nothing
 * past `size` changes. Each buffer is filled with a canary first; then
 * the same call is made into a heap block of exactly `size` bytes, where
 * AddressSanitizer catches a write one byte too far.
 */
#define CANARY 0xa5

static bool truncation_case(int size, const char *fmt, ...)
{
	unsigned char got[OUT_MAX], want[OUT_MAX];
	int got_n, want_n;
	va_list ap, aq;
	char *exact;
	bool ok;

	memset(got, CANARY, sizeof(got));
	memset(want, CANARY, sizeof(want));
	va_start(ap, fmt);
	va_copy(aq, ap);
	got_n = kvsnprintf((char *)got, (size_t)size, fmt, ap);
	want_n = vsnprintf((char *)want, (size_t)size, fmt, aq);
	va_end(aq);
	va_end(ap);
	ok = got_n == want_n && memcmp(got, want, sizeof(got)) == 0;
	if (!ok) {
		printf("# format \"%s\" size %d: returned %d (expected %d), "
		       "got \"%.*s\" expected \"%.*s\"\n", fmt, size, got_n,
		       want_n, size, (char *)got, size, (char *)want);
		for (int i = size; i < OUT_MAX; i++) {
			if (got[i] != CANARY) {
				printf("# byte %d past the size was written\n", i);
				break;
			}
		}
	}

	exact = size ? malloc((size_t)size) : NULL;
	va_start(ap, fmt);
	kvsnprintf(exact, (size_t)size, fmt, ap);
	va_end(ap);
	free(exact);
	return ok;
}

static void test_truncation(void)
{
	int len;
	bool ok = true;

	len = snprintf(NULL, 0, "%d", INT_MIN);
	for (int size = 0; size <= len + 2; size++)
		ok &= truncation_case(size, "%d", INT_MIN);
	tap_ok(ok, "truncating %%d of INT_MIN at every size 0..%d", len + 2);

	ok = true;
	len = snprintf(NULL, 0, "%llu", ULLONG_MAX);
	for (int size = 0; size <= len + 2; size++)
		ok &= truncation_case(size, "%llu", ULLONG_MAX);
	tap_ok(ok, "truncating %%llu of ULLONG_MAX at every size 0..%d", len + 2);

	ok = true;
	len = snprintf(NULL, 0, "[%-12s|%08lx|%c]", "fern", 0xbeefUL, 'z');
	for (int size = 0; size <= len + 2; size++)
		ok &= truncation_case(size, "[%-12s|%08lx|%c]", "fern", 0xbeefUL, 'z');
	tap_ok(ok, "truncating a mixed format at every size 0..%d", len + 2);

	ok = true;
	for (int size = 0; size <= 4; size++)
		ok &= truncation_case(size, "%s", "");
	tap_ok(ok, "an empty result at every size 0..4");

	tap_ok(ksnprintf(NULL, 0, "%s", "fern") == 4,
	       "size 0 with a NULL buffer returns the length and writes nothing");
}
#endif

int main(void)
{
	test_integers();
	test_strings_and_chars();
	test_pointers();
#if FERN_CHAPTER >= 2
	test_star();
#endif
	test_fixed();
	test_unknown();
#if FERN_CHAPTER >= 2
	test_truncation();
#endif
	return tap_done();
}
