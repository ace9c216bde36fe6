/**
 * @file layout.h
 * @brief The kernel's address space: every region, in one place, and the
 *        table of the kernel's stacks.
 *
 * x86_64 has 48-bit virtual addresses: two halves of 128 TiB, with a
 * non-canonical hole between them (Intel SDM vol. 1 §3.3.7.1). fern uses
 * only the upper half. Each region below starts on a PML4 slot of its own
 * (one slot covers 512 GiB), so that no two regions share a top-level
 * page-table entry.
 *
 * | virtual address            | PML4 slot | what                                   | chapter |
 * |----------------------------|-----------|----------------------------------------|---------|
 * | 0 .. LOWER_HALF_END        | 0-255     | nothing: no identity map, no NULL page | 4       |
 * | DIRECT_MAP_BASE + p        | 256       | the direct map: all RAM, p physical    | 4       |
 * | MMIO_BASE ...              | 320       | device memory (PCI BARs), uncached     | 6       |
 * | KHEAP_BASE ...             | 384       | the kernel heap, mapped on demand      | 5       |
 * | MM_TEST_BASE ...           | 448       | scratch pages of the in-kernel tests   | 4       |
 * | KERNEL_VMA + p             | 511       | the kernel window: the first MiB, the kernel image, the boot information | 1 |
 *
 * Until chapter 4 the boot page tables (src/boot/entry.asm) map the first
 * GiB (BOOT_MAPPED) twice, at 0 and at KERNEL_VMA. Chapter 4 lays out
 * the rest, windows for later chapters included: the heap's (chapter 5)
 * and the device window, reserved and mapped by nobody until chapter 6
 * maps each PCI device's registers there, uncached, instead of in the
 * direct map, which holds RAM only.
 *
 * This header is the ground floor: it includes only the compiler's
 * <stddef.h> and <stdint.h>, and its constants (everything outside
 * `#ifndef __ASSEMBLER__`) are plain numbers, so that the linker script
 * includes it and NASM gets them generated (the build writes `layout.inc`
 * from this file).
 */
#ifndef FERN_LAYOUT_H
#define FERN_LAYOUT_H

/** Where the kernel is linked: the top 2 GiB of the address space. */
#define KERNEL_VMA	0xffffffff80000000
/** How much physical memory the boot page tables map at KERNEL_VMA. */
#define BOOT_MAPPED	0x40000000
/** What the kernel window maps below the image: the first MiB. */
#define LOW_MEMORY_SIZE	0x100000
#if FERN_CHAPTER >= 4

/** The end of the lower half, where nothing is mapped. */
#define LOWER_HALF_END	0x0000800000000000
/** The first canonical address of the upper half. */
#define UPPER_HALF_BASE	0xffff800000000000

/*
 * The host unit tests (tests/host/) keep their fake physical memory in a
 * malloc'd buffer and define DIRECT_MAP_BASE as its address.
 */
#ifndef DIRECT_MAP_BASE
/** Where the direct map starts: physical address p is at this + p. */
#define DIRECT_MAP_BASE	0xffff800000000000
#endif

/**
 * The device window: 64 GiB of virtual addresses for the registers of
 * devices (PCI BARs, chapter 6), mapped uncached where a driver asks.
 * Nothing is mapped here before then; `mm=verbose` lists the window.
 */
#define MMIO_BASE	0xffffa00000000000
/** The size of the device window. */
#define MMIO_SIZE	0x1000000000

/** The in-kernel tests' scratch window: 1 GiB they map and unmap. */
#define MM_TEST_BASE	0xffffe00000000000
/** The size of the tests' window. */
#define MM_TEST_SIZE	0x40000000

/**
 * Where the kernel heap's range starts (chapter 5): a PML4 slot of its
 * own, clear of the direct map and of the kernel image.
 */
#define KHEAP_BASE	0xffffc00000000000
/**
 * The size of the kernel heap's range: 64 GiB, as much as the frame
 * allocator manages, so that memory runs out before address space does.
 * Only the pages the heap uses are mapped.
 */
#define KHEAP_SIZE	0x1000000000
#endif

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/** The virtual address of physical address @p p (p < BOOT_MAPPED). */
#define PHYS_TO_VIRT(p)	((uintptr_t)(p) + KERNEL_VMA)

/**
 * One of the kernel's stacks: the boot stack, which kmain and everything
 * it calls run on (src/boot/entry.asm), and from chapter 3 the IST stacks
 * of double faults and NMIs (src/cpu/gdt.c). Whoever owns a stack
 * declares it with KERNEL_STACK(); panic() reads the table to follow
 * frame pointers only through stacks, and chapter 4's memory code to
 * leave the page below each stack unmapped (its guard page) and to name
 * an overflow.
 */
struct kernel_stack {
	const char *name;	/**< for reports: "the boot stack", ... */
	const char *bottom;	/**< the stack's lowest byte */
	const char *top;	/**< just past its highest byte */
};

/** @cond INTERNAL */
/* As in ktest.h: keep the stacks of a file in the order of the source. */
#ifdef __clang__
#define KERNEL_STACK_IN_ORDER
#else
#define KERNEL_STACK_IN_ORDER __attribute__((no_reorder))
#endif
/** @endcond */

/** Declare the stack [@p bottom, @p top), called @p name, as @p id. */
#define KERNEL_STACK(id, name, bottom, top)				\
	static const struct kernel_stack kstack_##id KERNEL_STACK_IN_ORDER \
	__attribute__((used, section(".kstacks"), aligned(8))) =	\
		{ name, (const char *)(bottom), (const char *)(top) }

/** @cond INTERNAL */
extern const struct kernel_stack __kstacks_start[], __kstacks_end[];
/** @endcond */

/** Visit every kernel stack, with @p s a `const struct kernel_stack *`. */
#define for_each_kernel_stack(s)					\
	for ((s) = __kstacks_start; (s) < __kstacks_end; (s)++)

/** The stack that holds @p addr, or NULL. */
static inline const struct kernel_stack *kernel_stack_at(uintptr_t addr)
{
	const struct kernel_stack *s;

	for_each_kernel_stack(s) {
		if (addr >= (uintptr_t)s->bottom && addr < (uintptr_t)s->top)
			return s;
	}
	return NULL;
}
#endif

#endif
