/**
 * @file mm.h
 * @brief Memory: physical frames, page tables and the kernel's address
 *        space.
 *
 * Three layers, each built on the one before:
 *
 * - **Frames** (`pmm_*`, src/mm/pmm.c): physical memory in 4 KiB frames,
 *   taken from the Multiboot2 memory map, minus what is already in use.
 * - **Page tables** (`vm_*`, src/mm/vm.c): x86_64's 4-level paging (Intel
 *   SDM vol. 3 §4.5): map, unmap, protect and translate, in 4 KiB pages, or
 *   2 MiB pages where a range allows them.
 * - **The kernel's address space** (`mm_*`, src/mm/layout.c): what is
 *   mapped where, built once at boot, and named in page-fault reports.
 *
 * The layout of the address space is include/fern/layout.h's table. Of
 * it, this chapter builds the direct map (all RAM at DIRECT_MAP_BASE, in
 * 2 MiB pages, except where the kernel image lies: its alias there has the
 * permissions of its section minus execute, so the kernel's code cannot
 * be rewritten through it either) and the kernel window at KERNEL_VMA,
 * section by section:
 *
 * | part of the kernel window | what                                        | access |
 * |---------------------------|---------------------------------------------|--------|
 * | the first MiB             | low memory (VGA text at 0xb8000)            | rw-    |
 * | .boot                     | Multiboot2 header, 32-bit boot code         | r--    |
 * | .text                     | code                                        | r-x    |
 * | .rodata                   | constants, the test and command tables      | r--    |
 * | .data, .bss               | variables and the stacks (guard pages: ---) | rw-    |
 * | .ksyms                    | the symbol table of panic()                 | r--    |
 * | the boot information      | wherever GRUB put it                        | r--    |
 *
 * No page is both writable and executable (W^X). Nothing in the lower
 * half is mapped, and neither are the windows layout.h reserves for later
 * chapters (the heap's and the device window) until those chapters map
 * them.
 *
 * All of this fits a machine of QEMU's `-m 3M` (with less, SeaBIOS and
 * GRUB do not boot reliably); memory above 4 GiB is used when QEMU gives
 * some.
 */
#ifndef FERN_MM_H
#define FERN_MM_H

#include <fern/boot.h>
#include <fern/layout.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The size of a page and of a frame: 4 KiB. */
#define PAGE_SIZE	4096UL
/** log2(PAGE_SIZE): a physical address >> PAGE_SHIFT is a frame number. */
#define PAGE_SHIFT	12
/** The size of a large page, mapped by one page-directory entry: 2 MiB. */
#define LARGE_PAGE_SIZE	(2UL << 20)

/** Round @p x down to a multiple of @p align (a power of two). */
#define ALIGN_DOWN(x, align)	((x) & ~((uint64_t)(align) - 1))
/** Round @p x up to a multiple of @p align (a power of two). */
#define ALIGN_UP(x, align)	ALIGN_DOWN((x) + (align) - 1, (align))

/**
 * The virtual address of physical address @p phys, in the direct map.
 *
 * Before mm_init() it works for the first GiB only; after it, for all RAM.
 */
static inline void *phys_to_virt(uint64_t phys)
{
	return (void *)(uintptr_t)(phys + DIRECT_MAP_BASE);
}

/**
 * The physical address behind @p virt, which must be in the direct map or
 * in the kernel image (the two places that are a fixed offset from their
 * physical address). For any other address, use vm_translate().
 */
static inline uint64_t virt_to_phys(const void *virt)
{
	uintptr_t v = (uintptr_t)virt;

	if (v >= KERNEL_VMA)
		return v - KERNEL_VMA;
	return v - DIRECT_MAP_BASE;
}

/*
 * Frames.
 */

/** A range of physical addresses, [start, end), and why it is there. */
struct phys_range {
	uint64_t start;		/**< the first byte */
	uint64_t end;		/**< one past the last byte */
	const char *what;	/**< for messages: "kernel image", ... */
};

/** The most reserved ranges pmm_init() takes. */
#define PMM_MAX_RESERVED	16
/** Frames above this physical address are ignored (and reported). */
#define PMM_MAX_PHYS		(64UL << 30)

/**
 * Build the frame allocator from the memory map: every 4 KiB frame that
 * lies wholly inside an available region and outside every @p reserved
 * range is managed, and free. The allocator's bitmap is placed in managed
 * memory below 1 GiB (reachable through phys_to_virt() before the direct
 * map is complete) and its frames are marked in use.
 *
 * @return 0, or -ENOMEM if the map has no room for the bitmap, -EINVAL if
 *         there are more than PMM_MAX_RESERVED reserved ranges.
 */
int pmm_init(const struct mem_region *map, size_t count,
	     const struct phys_range *reserved, size_t nreserved);

/**
 * Allocate one 4 KiB frame. Its contents are whatever was there: zero it
 * if that matters.
 *
 * @return its physical address, or 0 if no frame is free (frame 0 is never
 *         handed out: it lies in the first MiB, which is reserved).
 */
uint64_t pmm_alloc(void);

/**
 * Give back a frame that pmm_alloc() returned. Freeing a frame twice, or
 * one the allocator does not manage (misaligned, reserved, not RAM), is a
 * bug in the caller: the kernel panics and names the frame.
 */
void pmm_free(uint64_t frame);

/** The number of frames the allocator manages (free or not). */
uint64_t pmm_total_frames(void);

/** The number of frames free now. */
uint64_t pmm_free_frames(void);
#if FERN_CHAPTER >= 6

/**
 * Allocate @p count physically contiguous frames (chapter 6: a device
 * reads a buffer of several pages by its physical address, so they must
 * follow one another in RAM). Free them one by one with pmm_free().
 *
 * @return the physical address of the first, or 0 if no run of @p count
 *         free frames exists.
 */
uint64_t pmm_alloc_run(uint64_t count);
#endif

/*
 * Page tables.
 */

/**
 * A page-table entry, at any of the four levels. The low 12 bits and bit
 * 63 are flags (PTE_*); bits 12..51 hold the physical address of a frame
 * (a 4 KiB page or the next table) or of a 2 MiB page.
 */
typedef uint64_t pte_t;

/** @name Page-table entry flags (Intel SDM vol. 3 §4.5, Tables 4-15 to 4-20)
 * @{ */
#define PTE_PRESENT	(1UL << 0)	/**< P: the entry is in use */
#define PTE_WRITABLE	(1UL << 1)	/**< R/W: writes are allowed */
#define PTE_USER	(1UL << 2)	/**< U/S: user mode may access */
#define PTE_PWT		(1UL << 3)	/**< page-level write-through */
#define PTE_PCD		(1UL << 4)	/**< page-level cache disable (MMIO) */
#define PTE_ACCESSED	(1UL << 5)	/**< A: set by the CPU on any access */
#define PTE_DIRTY	(1UL << 6)	/**< D: set by the CPU on a write */
#define PTE_HUGE	(1UL << 7)	/**< PS: this entry maps a large page */
#define PTE_GLOBAL	(1UL << 8)	/**< G: kept in the TLB across CR3 loads */
#define PTE_NX		(1UL << 63)	/**< XD: no instruction fetches (needs EFER.NXE) */
/** The physical address bits of an entry (MAXPHYADDR up to 52). */
#define PTE_ADDR	0x000ffffffffff000UL
/**
 * The flag bits vm_map() and vm_protect() accept. Not PTE_USER: fern runs
 * everything in kernel mode, and its table entries do not allow user mode.
 */
#define PTE_FLAGS	(PTE_WRITABLE | PTE_PWT | PTE_PCD | PTE_GLOBAL | PTE_NX)
/** @} */

/** The entries in a table of any level: 512 entries of 8 bytes, 4 KiB. */
#define PT_ENTRIES	512

/**
 * Return the address of the entry that maps @p va at level @p level of the
 * page tables rooted at @p pml4: level 1 is the entry of a 4 KiB page, 2
 * that of a 2 MiB page. If an entry above that level maps a large page
 * instead of pointing to a table, return that entry (it has PTE_HUGE).
 *
 * If a table on the way is missing and @p alloc is true, create it (a
 * zeroed frame); if @p alloc is false, return NULL. Also NULL if no frame
 * is free.
 */
pte_t *vm_walk(pte_t *pml4, uintptr_t va, int level, bool alloc);

/**
 * Map @p size bytes at virtual @p va to physical @p pa with @p flags
 * (PTE_WRITABLE, PTE_NX, ...; PTE_PRESENT is implied). All three must be
 * multiples of PAGE_SIZE. Where @p va and @p pa are both 2 MiB aligned and
 * 2 MiB of the range remain, one large page maps them.
 *
 * @return 0; -EINVAL for bad alignment or flags; -EEXIST if a page of the
 *         range is mapped already; -ENOMEM if a table could not be
 *         allocated. On error nothing of the range stays mapped.
 */
int vm_map(pte_t *pml4, uintptr_t va, uint64_t pa, size_t size, pte_t flags);

/**
 * Unmap @p size bytes at @p va (multiples of PAGE_SIZE) and invalidate
 * their TLB entries. A large page only partly in the range is split into
 * 4 KiB pages first. The frames are not freed: they belong to the caller,
 * and so do the now perhaps empty tables.
 *
 * @return 0; -EINVAL for bad alignment; -ENOENT if some page of the range
 *         was not mapped (the others are unmapped all the same); -ENOMEM if
 *         a large page had to be split and no frame was free.
 */
int vm_unmap(pte_t *pml4, uintptr_t va, size_t size);

/**
 * Give the pages of @p size bytes at @p va new @p flags (as in vm_map())
 * and invalidate their TLB entries; large pages only partly in the range
 * are split first.
 *
 * @return 0; -EINVAL for bad alignment or flags; -ENOENT if a page of the
 *         range is not mapped (nothing is changed then); -ENOMEM if a split
 *         found no free frame.
 */
int vm_protect(pte_t *pml4, uintptr_t va, size_t size, pte_t flags);

/**
 * Translate @p va as the MMU would, through the tables rooted at @p pml4:
 * store the physical address in @p *pa and the flags of the entry that maps
 * it in @p *flags (either pointer may be NULL).
 *
 * @return 0, or -ENOENT if @p va is not mapped.
 */
int vm_translate(const pte_t *pml4, uintptr_t va, uint64_t *pa, pte_t *flags);

/** A new, empty top-level table (PML4). @return it, or NULL if no frame is free. */
pte_t *vm_create(void);

/**
 * Free every page-table page below @p pml4, and @p pml4 itself; the frames
 * its pages map are the caller's. For tables made with vm_create() that
 * the CPU is not using, never for the kernel's.
 */
void vm_destroy(pte_t *pml4);

/** The top-level table the CPU uses now (CR3), in the direct map. */
pte_t *vm_active(void);

/*
 * The kernel's address space.
 */

/**
 * Set up memory: the frame allocator from @p info's memory map (with the
 * first MiB, the kernel image, the boot information and boot modules
 * reserved), then the kernel's own page tables as in the table above,
 * with EFER.NXE and CR0.WP on, and switch to them: the boot page tables
 * and their identity map are gone after this. Prints two lines.
 *
 * If a step fails (a CPU without NX, no frames, page tables that would not
 * work), it says why and keeps the boot page tables, and returns the
 * error: memory management has not started, so nothing that needs it (the
 * heap) starts on it. A CPU without NX is not supported from chapter 4
 * on: W^X needs it.
 *
 * @return 0, or a negative error number.
 */
int mm_init(const struct boot_info *info);

/**
 * The guard page of the kernel stack @p s (layout.h): the 4 KiB page
 * below the page that holds the stack's lowest byte, which mm_init()
 * leaves unmapped so that an overflow faults at once.
 */
static inline uintptr_t kernel_stack_guard(const struct kernel_stack *s)
{
	return ALIGN_DOWN((uintptr_t)s->bottom, PAGE_SIZE) - PAGE_SIZE;
}

/** Whether mm_init() switched to the kernel's own page tables. */
bool mm_remapped(void);

/**
 * Name the part of the address space @p addr lies in, for fault reports:
 * "the NULL page", "kernel text", "the boot stack", "a stack's guard
 * page", "the direct map", "no region (unmapped kernel space)", ...
 */
const char *mm_region_name(uintptr_t addr);

/**
 * If @p addr lies in the guard page below a kernel stack, return that
 * stack's name ("the boot stack", ...), else NULL.
 */
const char *mm_guard_page_stack(uintptr_t addr);

/**
 * Print one line for an exception report about @p addr, the address a page
 * fault tried: the region it lies in and how that is mapped, or, for a
 * stack's guard page, that a stack overflowed. mm_init() hands it to the
 * exception reports (exception_set_address_explainer()).
 */
void mm_explain_address(uintptr_t addr);

/**
 * Print the memory layout: the reserved physical ranges, each part of the
 * kernel's address space with its access (`rwx`), the guard pages, and the
 * free frames. The kernel option `mm=verbose` prints it at boot, and the
 * shell's `mm` command on demand.
 */
void mm_print_layout(void);

#endif
