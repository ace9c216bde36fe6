/**
 * @file ktest.h
 * @brief In-kernel unit tests, in the spirit of Linux's KUnit.
 *
 * A test is a function declared next to the code it tests:
 *
 * @code
 * KTEST(string, "memmove handles overlap to the right")
 * {
 *	char buf[] = "abcdef";
 *
 *	memmove(buf + 1, buf, 4);
 *	KTEST_EXPECT_STREQ(buf, "aabcdf");
 * }
 * @endcode
 *
 * The declaration puts a struct ktest in the linker section `.ktests`, so
 * the runner finds every test without a list anyone must keep up to date.
 * The first argument is the suite, a bare word (it may contain `-`).
 *
 * The kernel command line chooses what runs, so a test run never needs a
 * rebuild: `test=all` runs every suite, `test=printf,string` those suites,
 * `test=list` prints the cases. Results are KTAP (Linux's
 * Documentation/dev-tools/ktap.rst), one line per case:
 *
 *     KTAP version 1
 *     1..2
 *     ok 1 - string: memmove handles overlap to the right [NONCE]
 *     # src/lib/string_test.c:40: expected n == 3, got 2 and 3
 *     not ok 2 - string: strlen counts bytes before the NUL [NONCE]
 *     # fern tests: 1 passed, 1 failed [NONCE]
 *
 * where NONCE is the `nonce=` option of the command line (the suffix is
 * left out when there is none): the test harness picks a fresh one for
 * each run, so output cannot pass by being hard-coded.
 */
#ifndef FERN_KTEST_H
#define FERN_KTEST_H

#include <stdbool.h>
#include <stddef.h>

/** The state of the test case that is running; assertions record into it. */
struct ktest_ctx {
	bool failed;		/**< an expectation failed */
};

/** Flags of a struct ktest. */
enum ktest_flags {
	/**
	 * Run only when the suite is named on the command line, never with
	 * `test=all`: for deliberate crashes and screen-filling demos.
	 */
	KTEST_F_EXPLICIT = 1,
};

/** One test case, as KTEST() lays it out in the `.ktests` section. */
struct ktest {
	const char *suite;			/**< e.g. "string" */
	const char *name;			/**< what it checks, as a sentence */
	void (*run)(struct ktest_ctx *ktest);	/**< the test body */
	unsigned long flags;			/**< enum ktest_flags */
};

/** Declare a test case of @p suite named @p name; the body follows. */
#define KTEST(suite, name) KTEST_DECLARE(#suite, name, 0, __LINE__)

/** Declare a test case that runs only when @p suite is named explicitly. */
#define KTEST_EXPLICIT(suite, name) \
	KTEST_DECLARE(#suite, name, KTEST_F_EXPLICIT, __LINE__)

/** @cond INTERNAL */
#define KTEST_DECLARE(suite, name, flags, line) \
	KTEST_DECLARE_(suite, name, flags, line)
/*
 * The explicit alignment keeps the compiler from padding the structs
 * apart: the runner walks the section as an array. gcc would emit a
 * file's cases in reverse order unless told not to reorder them (clang
 * keeps the order of the source and has no such attribute).
 */
#ifdef __clang__
#define KTEST_IN_ORDER
#else
#define KTEST_IN_ORDER __attribute__((no_reorder))
#endif
#define KTEST_DECLARE_(suite, name, flags, line)			\
	static void ktest_##line(struct ktest_ctx *ktest);		\
	static const struct ktest ktest_case_##line KTEST_IN_ORDER	\
		__attribute__((used, section(".ktests"), aligned(8))) =	\
		{ suite, name, ktest_##line, flags };			\
	static void ktest_##line(struct ktest_ctx *ktest)

#define KTEST_IS_SIGNED(x) _Generic((x),				\
	bool: false, unsigned char: false, unsigned short: false,	\
	unsigned int: false, unsigned long: false,			\
	unsigned long long: false, default: true)
/** @endcond */

/**
 * Expect @p cond to be true; if not, print a diagnostic and mark the case
 * failed, but go on. Evaluates to the outcome.
 */
#define KTEST_EXPECT(cond) \
	ktest_check(ktest, (cond), #cond, __FILE__, __LINE__)

/**
 * Expect the integers @p a and @p b to be equal; on failure print both
 * values. Both are compared as 64-bit numbers.
 */
#define KTEST_EXPECT_EQ(a, b)						\
	ktest_check_eq(ktest, (long long)(a), KTEST_IS_SIGNED(a),	\
		       (long long)(b), KTEST_IS_SIGNED(b),		\
		       #a, #b, __FILE__, __LINE__)

/** Expect the strings @p a and @p b to be equal; on failure print both. */
#define KTEST_EXPECT_STREQ(a, b) \
	ktest_check_streq(ktest, (a), (b), #a, #b, __FILE__, __LINE__)

/** KTEST_EXPECT(), but a failure also ends the test case. */
#define KTEST_ASSERT(cond)						\
	do {								\
		if (!KTEST_EXPECT(cond))				\
			return;						\
	} while (0)

/** KTEST_EXPECT_EQ(), but a failure also ends the test case. */
#define KTEST_ASSERT_EQ(a, b)						\
	do {								\
		if (!KTEST_EXPECT_EQ(a, b))				\
			return;						\
	} while (0)

/** KTEST_EXPECT_STREQ(), but a failure also ends the test case. */
#define KTEST_ASSERT_STREQ(a, b)					\
	do {								\
		if (!KTEST_EXPECT_STREQ(a, b))				\
			return;						\
	} while (0)

/** The check behind KTEST_EXPECT(). @return @p ok */
bool ktest_check(struct ktest_ctx *ktest, bool ok, const char *expr,
		 const char *file, int line);

/** The check behind KTEST_EXPECT_EQ(). @return whether @p a equals @p b */
bool ktest_check_eq(struct ktest_ctx *ktest, long long a, bool a_signed,
		    long long b, bool b_signed, const char *a_expr,
		    const char *b_expr, const char *file, int line);

/** The check behind KTEST_EXPECT_STREQ(). @return whether they are equal */
bool ktest_check_streq(struct ktest_ctx *ktest, const char *a, const char *b,
		       const char *a_expr, const char *b_expr,
		       const char *file, int line);

/**
 * Print one line of output for the test harness to check, followed by
 * ` [NONCE]` when the command line has a nonce, and a newline.
 */
void ktest_checkpoint(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/** What ktest_main() found: whether tests ran, and how they went. */
enum ktest_result {
	KTEST_NOT_ASKED,	/**< no `test=` option: nothing ran */
	KTEST_PASSED,		/**< every selected case passed (or `test=list`) */
	KTEST_FAILED,		/**< a case failed, or the selection was wrong */
};

/**
 * Run the tests that the `test=` option of @p cmdline selects and print
 * the results. It does not decide how the boot ends: kmain does, from the
 * result (exit with it, or idle with `idle=1`, or start the shell).
 * `test=NAME` with no suite NAME prints a KTAP "Bail out!" and fails.
 */
enum ktest_result ktest_main(const char *cmdline);

#endif
