/*
 * A deliberate stack overrun, run only when named (test=stack-smash): the
 * harness checks that the stack protector (stack_protector.c) catches it
 * before the function returns, that the report names the function, and
 * that QEMU exits with the failure status.
 */
#include <fern/console.h>
#include <fern/ktest.h>
#include <stddef.h>

/*
 * How many bytes past the buffer to write: the canary, the saved RBP and
 * the return address above it, whatever padding the compiler put between
 * them. Volatile, so that the compiler cannot see the overrun coming: it
 * would warn at build time, or treat the write as undefined and drop it.
 */
static volatile size_t smash_extra = 32;
static volatile char smash_sink;

/* Not inlined, so that the write is through a pointer the compiler cannot follow. */
__attribute__((noinline)) static void smash_fill(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = 'A';
}

/*
 * A function with a local array, which -fstack-protector-strong protects.
 * Its return address ends up 0x4141414141414141 ("AAAAAAAA"): an
 * attacker's choice of where to go next, if it were allowed to return.
 */
__attribute__((noinline)) static void smash_victim(void)
{
	char buf[16];

	smash_fill(buf, sizeof(buf) + smash_extra);
	smash_sink = buf[0];
}

KTEST_EXPLICIT(stack-smash, "a write past a stack buffer is caught when its function returns")
{
	smash_victim();
	KTEST_EXPECT(!"a function whose canary was overwritten returned");
}
