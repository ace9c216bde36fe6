/*
 * The stack protector's two halves that the compiler does not supply: the
 * canary, and what happens when one is found overwritten.
 *
 * From chapter 2 on every kernel file is compiled with
 * -fstack-protector-strong (chapters/02-console.mk). Each function with a
 * local array, or a local whose address is taken, then copies the canary
 * `__stack_chk_guard` into its frame on entry, between its locals and the
 * saved RBP and return address, and compares the copy with the original
 * before it returns:
 *
 *     higher addresses   return address
 *                        saved rbp
 *                        canary copy       <- a write running up from
 *                        char buf[16]         buf must cross this first
 *     lower addresses    ...
 *
 * A copy that differs means something wrote past the end of a local
 * buffer, most likely over the return address too, and the function calls
 * __stack_chk_fail() instead of returning through it. The check costs two
 * loads, a compare and a branch, in the functions that have buffers only.
 *
 * gcc's default on x86_64 reads the canary from thread-local storage
 * (%fs:0x28, where glibc keeps it); fern has no TLS and FS is zero, so the
 * manifest adds -mstack-protector-guard=global: the canary is the plain
 * global below, for gcc and clang alike.
 */
#include <fern/console.h>
#include <fern/x86.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The canary. Zero until stack_guard_init() runs, the first thing kmain
 * does. Its low byte stays zero: a string copy that runs past a buffer
 * stops at a NUL, so it can neither write a canary it has not seen nor
 * print one it should not (a C string ends at the canary's first byte).
 */
uintptr_t __stack_chk_guard;

#define CPUID_1_ECX_RDRAND	(1U << 30)
/* RDRAND may fail for a moment when the DRNG is drained: retry (SDM vol. 1 §7.3.17.1). */
#define RDRAND_RETRIES		10

/*
 * Choose the canary: 64 bits from RDRAND (Intel SDM vol. 2, "RDRAND") if
 * CPUID.1:ECX bit 30 says the CPU has it, else the time stamp counter run
 * through SplitMix64's finaliser. The TSC is no secret a careful attacker
 * could not estimate, but it differs from boot to boot, which a constant
 * does not; chapter 6's entropy source, rng.c, prefers the same two in the
 * same order when no virtio-rng device has answered, as none has this
 * early.
 *
 * Changing the canary breaks every protected frame that is live at that
 * moment: its copy is the old value, and its check fails when it returns.
 * So this runs once, first thing in kmain, which never returns; and it is
 * itself unprotected, so that it keeps no copy of its own. Nothing else
 * may ever write __stack_chk_guard.
 */
__attribute__((no_stack_protector)) void stack_guard_init(void)
{
	uint64_t v = 0;
	bool ok = false;

	if (cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND) {
		for (int i = 0; i < RDRAND_RETRIES && !ok; i++)
			__asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
	}
	if (!ok) {
		v = rdtsc() + 0x9e3779b97f4a7c15UL;
		v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9UL;
		v = (v ^ (v >> 27)) * 0x94d049bb133111ebUL;
		v ^= v >> 31;
	}
	/* The NUL byte (above); and never all zero, the value before this ran. */
	v &= ~(uint64_t)0xff;
	__stack_chk_guard = v ? v : 0xdeadbeef00UL;
}

/*
 * Called by a protected function, in place of its return, when the canary
 * copy in its frame differs. Its return address therefore points into
 * that function, just past the call: a lookup one byte back (the call may
 * be the function's last instruction) names the function whose frame was
 * smashed. The return address and frame pointer of that function's own
 * frame may be overwritten, so the report trusts neither: the name comes
 * from the address this call pushed, and panic()'s backtrace checks each
 * frame pointer before it follows one. Going on would mean returning
 * through a return address an overrun may have chosen: stop instead.
 */
__attribute__((noreturn, no_stack_protector)) void __stack_chk_fail(void)
{
	uintptr_t at = (uintptr_t)__builtin_return_address(0), offset;
	const char *name = ksym_lookup(at - 1, &offset);

	if (name)
		panic("stack smashing detected in %s+0x%lx: its frame's canary was overwritten",
		      name, offset + 1);
	panic("stack smashing detected at 0x%lx: its frame's canary was overwritten", at);
}
