/*
 * Deliberate crashes, run only when named (test=crash): the harness
 * checks that panic() reports the message, the caller and a backtrace
 * that names each function of the call chain, innermost first, and that
 * QEMU exits with the failure status.
 */
#include <fern/console.h>
#include <fern/ktest.h>

/*
 * Three real calls, none inlined and none a tail call (each does work
 * after the call returns), so each keeps its own frame.
 */
static volatile int crash_depth;

__attribute__((noinline)) static void crash_inner(void)
{
	crash_depth++;
	panic("crash test: giving up %d calls deep", crash_depth);
}

__attribute__((noinline)) static void crash_middle(void)
{
	crash_depth++;
	crash_inner();
	crash_depth--;
}

__attribute__((noinline)) static void crash_outer(void)
{
	crash_depth = 1;
	crash_middle();
	crash_depth--;
}

KTEST_EXPLICIT(crash, "panic from a nested call")
{
	crash_outer();
	KTEST_EXPECT(!"panic() returned");
}

/* test=assert: the panic message names the condition, file and line. */
KTEST_EXPLICIT(assert, "a failed assert panics naming the condition")
{
	volatile int two = 2;

	assert(two + two == 5);
	KTEST_EXPECT(!"assert() returned");
}
