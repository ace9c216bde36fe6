/*
 * A few lines of TAP for the host unit tests: `ok N - what` or
 * `not ok N - what`, diagnostics as `# ...` lines, and a last line
 * `N passed, N failed`. Each test binary includes this once.
 */
#ifndef FERN_HOST_TAP_H
#define FERN_HOST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_passed, tap_failed;

/* Report one test; returns @ok so a caller can add diagnostics. */
__attribute__((format(printf, 2, 3), unused))
static bool tap_ok(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", tap_passed + tap_failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	/* A sanitizer that aborts later must not take this line with it. */
	fflush(stdout);
	if (ok)
		tap_passed++;
	else
		tap_failed++;
	return ok;
}

/* Compare two strings as a test of its own. */
__attribute__((format(printf, 3, 4), unused))
static bool tap_streq(const char *got, const char *expected, const char *fmt, ...)
{
	bool ok = (got == expected) ||
		  (got && expected && strcmp(got, expected) == 0);
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", tap_passed + tap_failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	/* A sanitizer that aborts later must not take this line with it. */
	fflush(stdout);
	if (!ok)
		printf("# got \"%s\" expected \"%s\"\n", got ? got : "(NULL)",
		       expected ? expected : "(NULL)");
	if (ok)
		tap_passed++;
	else
		tap_failed++;
	return ok;
}

/* Print the plan and the summary; the process's exit status. */
__attribute__((unused)) static int tap_done(void)
{
	printf("1..%d\n", tap_passed + tap_failed);
	printf("%d passed, %d failed\n", tap_passed, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif
