/*
 * Exceptions raised on purpose, one suite each, run only when named
 * (test=page-fault, ...): each ends the run with its report, which the
 * harness checks against what the case announced it would do. Each
 * exception comes from a small function of its own, so that the report
 * can name it: raise_divide_error, raise_invalid_opcode, ...
 *
 * Values the harness must find in the report (the address of a page
 * fault, the selector of a #GP) come from the time-stamp counter, so that
 * they change from boot to boot.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/ktest.h>
#include <fern/layout.h>
#include <fern/x86.h>

/* Zero, and a bound never reached, that the compiler cannot see through. */
static volatile unsigned int zero;
static volatile unsigned long no_limit = ~0UL;

/* A number that changes from boot to boot. */
static uint64_t boot_random(void)
{
	return rdtsc() * 0x9e3779b97f4a7c15UL >> 16;
}

/* Raising an exception without an IDT would reset the machine: check. */
static bool idt_ready(struct ktest_ctx *ktest)
{
	if (idt_loaded())
		return true;
	kprintf("# the IDT is not loaded (see the 'interrupts:' line of the boot), so raising an exception would reset the machine\n");
	KTEST_EXPECT(idt_loaded());
	return false;
}

/* DIV by 0: #DE, a fault, so RIP is the DIV itself. */
__attribute__((noinline)) static void raise_divide_error(unsigned int divisor)
{
	unsigned int eax = 1, edx = 0;

	__asm__ volatile("divl %2" : "+a"(eax), "+d"(edx) : "r"(divisor));
}

KTEST_EXPLICIT(divide-error, "DIV by zero is reported as #DE")
{
	if (!idt_ready(ktest))
		return;
	ktest_checkpoint("divide-error: dividing by zero in raise_divide_error");
	raise_divide_error(zero);
	KTEST_EXPECT(!"the division by zero went on");
}

/* int3: #BP, a trap; the handler reports it and execution goes on. */
__attribute__((noinline)) static void raise_breakpoint(void)
{
	__asm__ volatile("int3");
}

KTEST_EXPLICIT(breakpoint, "int3 is reported and execution resumes after it")
{
	unsigned long before = breakpoint_count();

	if (!idt_ready(ktest))
		return;
	ktest_checkpoint("breakpoint: executing int3 in raise_breakpoint");
	raise_breakpoint();
	ktest_checkpoint("breakpoint: resumed after int3");
	KTEST_EXPECT_EQ(breakpoint_count(), before + 1);
}

/* UD2 exists to be an invalid opcode (SDM vol. 2B, UD). */
__attribute__((noinline)) static void raise_invalid_opcode(void)
{
	__asm__ volatile("ud2");
}

KTEST_EXPLICIT(invalid-opcode, "ud2 is reported as #UD")
{
	if (!idt_ready(ktest))
		return;
	ktest_checkpoint("invalid-opcode: executing ud2 in raise_invalid_opcode");
	raise_invalid_opcode();
	KTEST_EXPECT(!"ud2 went on");
}

/*
 * Loading a segment register with a selector past the end of the GDT is a
 * #GP whose error code is the selector (SDM vol. 2B, MOV: "#GP(selector)
 * if segment selector index is outside descriptor table limits").
 */
__attribute__((noinline)) static void raise_general_protection(uint16_t selector)
{
	__asm__ volatile("movw %0, %%ds" : : "r"(selector) : "memory");
}

KTEST_EXPLICIT(general-protection, "a selector past the GDT's end is a #GP naming it")
{
	/* An index from 16 to 8191: well past the GDT's 5 entries. */
	unsigned int index = 16 + (unsigned int)(boot_random() % (8192 - 16));
	uint16_t selector = (uint16_t)(index << 3);

	if (!idt_ready(ktest))
		return;
	ktest_checkpoint("general-protection: loading selector 0x%x (GDT index %u) into DS",
			 selector, index);
	raise_general_protection(selector);
	KTEST_EXPECT(!"loading the selector went on");
}

/*
 * The boot page tables map only the first GiB of the lower half (at 0)
 * and the kernel's 1 GiB at KERNEL_VMA: an address from 1 GiB to 256 GiB
 * is mapped by nothing.
 */
__attribute__((noinline)) static void raise_page_fault(volatile uint64_t *addr)
{
	*addr = 0xfe4efe4efe4efe4eUL;
}

KTEST_EXPLICIT(page-fault, "a write to an unmapped address is a #PF with it in CR2")
{
	uintptr_t addr = ((1UL << 30) + boot_random() % (255UL << 30)) & ~7UL;

	if (!idt_ready(ktest))
		return;
	ktest_checkpoint("page-fault: writing to 0x%016lx in raise_page_fault", addr);
	raise_page_fault((volatile uint64_t *)addr);
	KTEST_EXPECT(!"the write went on");
}

/*
 * Recursion without end on the boot stack. Each call takes a frame of
 * more than 256 bytes, and the work after the call keeps it a real call
 * rather than a loop. When RSP reaches the guard page below the stack, the
 * next push faults (#PF); the CPU then pushes the #PF's frame on the same
 * stack, which faults again: a fault while delivering a page fault is a
 * double fault (SDM vol. 3 §6.15, Table 6-5). Only a #DF gate with its own
 * IST stack can run; without one, the machine resets (a triple fault).
 */
__attribute__((noinline)) static void overflow_stack(unsigned long depth)
{
	volatile char frame[256];

	frame[0] = (char)depth;
	if (depth < no_limit)
		overflow_stack(depth + 1);
	frame[1] = frame[0];
}

KTEST_EXPLICIT(double-fault, "a kernel stack overflow ends in a #DF on its own stack")
{
	/* The test runs on the boot stack, whose guard page is the one below it. */
	const struct kernel_stack *boot = kernel_stack_at((uintptr_t)__builtin_frame_address(0));
	uintptr_t bottom, top;

	if (!idt_ready(ktest))
		return;
	KTEST_ASSERT(boot != NULL);
	ist_stack_bounds(IST_DOUBLE_FAULT, &bottom, &top);
	ktest_checkpoint("double-fault: recursing until the boot stack overflows into its guard page 0x%016lx-0x%016lx; IST1 is 0x%016lx-0x%016lx",
			 (uintptr_t)boot->bottom - 4096, (uintptr_t)boot->bottom,
			 bottom, top);
	overflow_stack(0);
	KTEST_EXPECT(!"the recursion ended");
}
