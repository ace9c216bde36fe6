/*
 * The test runner: choose the cases the command line asks for, run each,
 * and report in KTAP so that a program (tests/ in this repository, or any
 * TAP consumer) can read the results and a person can too.
 *
 * The cases are the struct ktest entries that KTEST() placed in the
 * `.ktests` section; the linker script brackets that section with
 * __ktests_start and __ktests_end, so together they are an array.
 */
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/ktest.h>
#include <fern/string.h>

extern const struct ktest __ktests_start[], __ktests_end[];

/* The selection is a comma-separated list of suite names, or "all". */
#define KTEST_SELECTION_MAX	256
#define KTEST_SUITE_NAME_MAX	32
#define KTEST_NONCE_MAX		64

static char nonce[KTEST_NONCE_MAX];

/* Print the nonce suffix and end the line. */
static void end_line(void)
{
	if (nonce[0])
		kprintf(" [%s]", nonce);
	kprintf("\n");
}

void ktest_checkpoint(const char *fmt, ...)
{
	va_list ap;
	/*
	 * The line takes several prints; with the console held for all of
	 * them, a line printed by an interrupt handler waits until it is
	 * whole (see the console lock in console.c).
	 */
	uint64_t flags = console_lock();

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	end_line();
	console_unlock(flags);
}

bool ktest_check(struct ktest_ctx *ktest, bool ok, const char *expr,
		 const char *file, int line)
{
	if (!ok) {
		kprintf("# %s:%d: expected %s, got false\n", file, line, expr);
		ktest->failed = true;
	}
	return ok;
}

static void print_integer(long long v, bool is_signed)
{
	if (is_signed)
		kprintf("%lld", v);
	else
		kprintf("%llu", (unsigned long long)v);
}

bool ktest_check_eq(struct ktest_ctx *ktest, long long a, bool a_signed,
		    long long b, bool b_signed, const char *a_expr,
		    const char *b_expr, const char *file, int line)
{
	if (a == b)
		return true;
	kprintf("# %s:%d: expected %s == %s, got ", file, line, a_expr, b_expr);
	print_integer(a, a_signed);
	kprintf(" and ");
	print_integer(b, b_signed);
	kprintf("\n");
	ktest->failed = true;
	return false;
}

/* A string in quotes, or NULL as such. */
static void print_string(const char *s)
{
	if (s)
		kprintf("\"%s\"", s);
	else
		kprintf("NULL");
}

bool ktest_check_streq(struct ktest_ctx *ktest, const char *a, const char *b,
		       const char *a_expr, const char *b_expr,
		       const char *file, int line)
{
	if (a == b || (a && b && strcmp(a, b) == 0))
		return true;
	kprintf("# %s:%d: expected %s == %s, got ", file, line, a_expr, b_expr);
	print_string(a);
	kprintf(" and ");
	print_string(b);
	kprintf("\n");
	ktest->failed = true;
	return false;
}

/*
 * Call @fn once for each name in the comma-separated @list, with the name
 * copied out NUL-terminated (cut to KTEST_SUITE_NAME_MAX - 1 characters).
 * Stops and returns false as soon as @fn does.
 */
static bool for_each_name(const char *list, bool (*fn)(const char *name))
{
	while (*list) {
		char name[KTEST_SUITE_NAME_MAX];
		size_t n = 0;

		for (; *list && *list != ','; list++) {
			if (n + 1 < sizeof(name))
				name[n++] = *list;
		}
		name[n] = '\0';
		if (*list == ',')
			list++;
		if (!fn(name))
			return false;
	}
	return true;
}

static bool suite_exists(const char *name)
{
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		if (strcmp(t->suite, name) == 0)
			return true;
	}
	return false;
}

static bool check_name(const char *name)
{
	if (strcmp(name, "all") == 0 || suite_exists(name))
		return true;
	if (name[0])
		kprintf("# error: no test suite \"%s\"\n", name);
	else
		kprintf("# error: an empty test suite name\n");
	return false;
}

/* Whether @t runs for the selection @list ("all", or suite names). */
static bool is_selected(const struct ktest *t, const char *list)
{
	const char *p = list;
	size_t len = strlen(t->suite);

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && strncmp(p, t->suite, n) == 0)
			return true;
		if (n == 3 && strncmp(p, "all", 3) == 0 &&
		    !(t->flags & KTEST_F_EXPLICIT))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* test=list: every case, by suite, as "suite: name". */
static void list_cases(void)
{
	int cases = 0;

	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		kprintf("%s: %s%s\n", t->suite, t->name,
			t->flags & KTEST_F_EXPLICIT ? " (explicit)" : "");
		cases++;
	}
	kprintf("# %d test cases", cases);
	end_line();
}

/* Run the selected cases; return how many failed. */
static int run_cases(const char *list)
{
	int total = 0, number = 0, failed = 0;
	const struct ktest *t;

	for (t = __ktests_start; t < __ktests_end; t++)
		total += is_selected(t, list);

	kprintf("1..%d\n", total);
	for (t = __ktests_start; t < __ktests_end; t++) {
		struct ktest_ctx ctx = { .failed = false };
		uint64_t flags;

		if (!is_selected(t, list))
			continue;
		t->run(&ctx);
		/* The result line whole, as in ktest_checkpoint(). */
		flags = console_lock();
		/* A test may change the colour; results are in the default. */
		vga_set_color(VGA_LIGHT_GREY, VGA_BLACK);
		kprintf("%sok %d - %s: %s", ctx.failed ? "not " : "", ++number,
			t->suite, t->name);
		end_line();
		console_unlock(flags);
		failed += ctx.failed;
	}
	kprintf("# fern tests: %d passed, %d failed", number - failed, failed);
	end_line();
	return failed;
}

enum ktest_result ktest_main(const char *cmdline)
{
	char list[KTEST_SELECTION_MAX];
	int failed = 0;

	if (!cmdline_get(cmdline, "test", list, sizeof(list)))
		return KTEST_NOT_ASKED;
	if (!cmdline_get(cmdline, "nonce", nonce, sizeof(nonce)))
		nonce[0] = '\0';

	/*
	 * The served image (built with KTESTS=0) links no test cases: say so,
	 * rather than run nothing and look as if everything passed.
	 */
	if (__ktests_end - __ktests_start == 0) {
		kprintf("KTAP version 1\n");
		kprintf("# error: this image has no in-kernel tests (KTESTS=%d); "
			"'make CHAPTER=N' or 'make KTESTS=1' builds them in\n",
			FERN_KTESTS);
		kprintf("Bail out!\n");
		return KTEST_FAILED;
	}

	if (strcmp(list, "list") == 0) {
		list_cases();
	} else {
		kprintf("KTAP version 1\n");
		if (!list[0])
			kprintf("# error: test= names no suite\n");
		if (!list[0] || !for_each_name(list, check_name)) {
			kprintf("Bail out!\n");
			return KTEST_FAILED;
		}
		failed = run_cases(list);
	}
	return failed ? KTEST_FAILED : KTEST_PASSED;
}
