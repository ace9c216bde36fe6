/*
 * What the memory code (src/mm/pmm.c, src/mm/vm.c) needs from the machine,
 * faked for the host unit tests. The Makefile puts `-include` this header
 * before everything else when it compiles them.
 *
 * - Physical memory is a malloc'd buffer: physical address p is at
 *   host_ram + p, so DIRECT_MAP_BASE (include/fern/mm.h) is its address.
 *   Only the part of it the code touches needs to exist: the allocator's
 *   bitmap and the page tables, not the frames it hands out.
 * - The console is a buffer, and panic() a longjmp() back to the test
 *   that expected it (tests/host/mm_host.c, linked into every such test).
 * - The privileged instructions of include/fern/x86.h would fault in a
 *   user process. Its include guard is defined here, so that header adds
 *   nothing, and the few functions the memory code uses are replaced by
 *   ones that record what the kernel asked for.
 */
#ifndef FERN_MM_HOST_H
#define FERN_MM_HOST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

/** The fake physical memory, set up by each test. */
extern uint8_t *host_ram;
#define DIRECT_MAP_BASE	((uintptr_t)host_ram)

/** What the code printed since a test last emptied it (mm_host.c). */
#define HOST_PRINTED_MAX	4096
extern char host_printed[HOST_PRINTED_MAX];
/** panic() longjmp()s here when host_expect_panic is set; else it aborts. */
extern jmp_buf host_on_panic;
extern bool host_expect_panic;

/* Keep the real x86.h out; its privileged instructions are faked here. */
#define FERN_X86_H

/** The last address invalidated with invlpg(), and how many were. */
extern uintptr_t host_last_invlpg;
extern unsigned long host_invlpg_count;
/** What read_cr3() returns: the physical address of the "active" PML4. */
extern uint64_t host_cr3;

static inline void invlpg(uintptr_t va)
{
	host_last_invlpg = va;
	host_invlpg_count++;
}

static inline uint64_t read_cr3(void)
{
	return host_cr3;
}

#endif
