/**
 * @file heap.h
 * @brief The kernel heap: kmalloc() and friends, and the allocator core
 *        behind them.
 *
 * Two layers share this header.
 *
 * **The core** (src/mm/heap.c, `heap_*`) is pure bookkeeping over one
 * range of virtual addresses. It never touches page tables itself: a
 * struct heap_page_source, given at heap_init(), maps and unmaps pages for
 * it and hears about misuse. The kernel's page source sits on chapter 4's
 * frame allocator and page tables; the host unit test's sits on mmap(), so
 * the same core runs under AddressSanitizer on the host
 * (tests/host/test_heap.c).
 *
 * **The kernel heap** (src/mm/kmalloc.c: kmalloc(), kfree(), kcalloc(),
 * krealloc(), kmalloc_aligned()) is one struct heap in the virtual range
 * chapter 4 sets aside for it, [KHEAP_BASE, KHEAP_BASE + KHEAP_SIZE)
 * (include/fern/layout.h).
 *
 * The core's design, in one paragraph (blog/05-heap.md has the long form):
 * the heap is a row of blocks from the start of its range up to a
 * *break*. Every block carries its size at both ends (Knuth's boundary
 * tags), so freeing a block finds both neighbours in constant time and
 * merges with the free ones. Free blocks wait in *bins*: one list per
 * exact size up to 1 KiB, one per power of two above. When no free block
 * fits, the break moves up. Pages are backed by memory only where
 * something lives: the whole pages inside a free block are unmapped, and
 * a free block at the break is cut off, so freed memory goes back to the
 * frame allocator at once.
 *
 * Misuse is looked for on every free and krealloc: a pointer the heap
 * never returned, a block freed twice, and writes past the end of a block
 * (each block ends with a *redzone* of known bytes, checked on free). The
 * page source's report() hears about it with the caller's address; the
 * kernel's prints a report and stops (fail-stop: a damaged heap must not
 * run on). Running out of memory is not misuse: the allocation returns
 * NULL and the heap counts a failure.
 */
#ifndef FERN_HEAP_H
#define FERN_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The size of the pages a page source maps (x86_64's small pages). */
#define HEAP_PAGE_SIZE		4096UL
/** Every block the heap returns is aligned to at least this many bytes. */
#define HEAP_ALIGN		16UL
/** The largest alignment heap_alloc() accepts. */
#define HEAP_MAX_ALIGN		(2UL << 20)
/** The largest request; anything bigger fails with NULL. */
#define HEAP_MAX_ALLOC		(1UL << 30)
/**
 * Free-list bins: one per block size 48, 64, ..., 1024 bytes (62 of them),
 * then one per power of two up to the largest block.
 */
#define HEAP_BINS		84

/** The kinds of misuse the heap detects. */
enum heap_misuse {
	/** The pointer is not one the heap returned: outside the heap,
	 *  misaligned, or not the start of a block. */
	HEAP_MISUSE_BAD_POINTER = 1,
	/** The pointer is into heap memory that is free already: freed
	 *  twice, or freed after the memory went back. */
	HEAP_MISUSE_DOUBLE_FREE,
	/** Bytes past the end of the block (its redzone or its end tag)
	 *  were overwritten. */
	HEAP_MISUSE_OVERRUN,
	/** The block's own header, or a neighbour's tags, are damaged. */
	HEAP_MISUSE_CORRUPT,
};

/**
 * What a heap needs from the machine: pages of memory at the virtual
 * addresses it chooses, and someone to tell about misuse.
 *
 * The heap calls map() only for pages that are not mapped and unmap() only
 * for pages that are, so a page source needs no bookkeeping of its own to
 * keep the two in step.
 */
struct heap_page_source {
	/**
	 * Back the @p count pages from @p va (page-aligned) with memory,
	 * readable and writable. The pages' contents are unspecified.
	 * @return 0, or a negative number if memory ran out; then no page of
	 *         the range is mapped.
	 */
	int (*map)(void *ctx, uintptr_t va, size_t count);
	/** Give back the memory behind the @p count pages from @p va. */
	void (*unmap)(void *ctx, uintptr_t va, size_t count);
	/** Whether the page that holds @p va is mapped now. */
	bool (*is_mapped)(void *ctx, uintptr_t va);
	/**
	 * Hear about misuse of @p kind at @p ptr (the pointer the caller
	 * passed), by the code at @p caller (a return address). If this
	 * returns, the heap goes on as if the call had not been made.
	 */
	void (*report)(void *ctx, enum heap_misuse kind, const void *ptr,
		       const void *caller);
	void *ctx;	/**< passed to each function as its first argument */
};

/** What a heap holds and has done, for tests and the `heap` command. */
struct heap_stats {
	size_t bytes_in_use;	/**< bytes asked for, summed over live blocks */
	size_t peak_bytes_in_use; /**< the most bytes_in_use has been */
	size_t blocks;		/**< live blocks */
	size_t free_blocks;	/**< free blocks waiting in the bins */
	size_t pages_held;	/**< pages the heap has mapped now */
	size_t peak_pages_held;	/**< the most pages_held has been */
	size_t heap_bytes;	/**< from the start of the range to the break */
	size_t allocations;	/**< allocations that succeeded, ever */
	size_t frees;		/**< blocks freed, ever */
	size_t failed;		/**< allocations that returned NULL */
	size_t misuses;		/**< misuse reports made */
};

/** A block of the heap; its layout is private to src/mm/heap.c. */
struct heap_block;

/**
 * One heap: its range, its break, its bins and its statistics. The caller
 * provides the storage (a static variable, say) and calls heap_init();
 * the fields are for reading only.
 */
struct heap {
	uintptr_t base;		/**< first address of the heap's range */
	uintptr_t limit;	/**< end of the range; the break never passes it */
	uintptr_t brk;		/**< the break: blocks lie in [base, brk) */
	const struct heap_page_source *src;	/**< where pages come from */
	struct heap_block *bins[HEAP_BINS];	/**< free lists, by size */
	uint64_t nonempty[(HEAP_BINS + 63) / 64]; /**< bit i: bins[i] has blocks */
	struct heap_stats stats;		/**< kept up to date */
};

/**
 * Make @p h an empty heap over the virtual range [@p base, @p base +
 * @p size), which nothing else may use; its pages must all be unmapped.
 * Pages are mapped as the heap needs them, through @p src.
 *
 * @return 0, or -1 if the range is not page-aligned or is too small.
 */
int heap_init(struct heap *h, uintptr_t base, size_t size,
	      const struct heap_page_source *src);

/**
 * Allocate @p size bytes aligned to @p align (a power of two; values
 * below HEAP_ALIGN mean HEAP_ALIGN). A request for 0 bytes gets a block
 * of its own, like any other.
 *
 * @return the block, or NULL if @p size or @p align is out of range or
 *         memory ran out (counted in heap_stats.failed).
 */
void *heap_alloc(struct heap *h, size_t size, size_t align);

/**
 * heap_alloc() for an array of @p n elements of @p size bytes, zeroed.
 * @return the block, or NULL if n * size overflows or memory ran out.
 */
void *heap_calloc(struct heap *h, size_t n, size_t size);

/**
 * Change the size of the block @p p to @p size bytes, keeping its
 * contents up to the smaller size. The block grows in place when the
 * memory after it is free; otherwise it moves (and loses any alignment
 * above HEAP_ALIGN). @p p NULL is heap_alloc(); @p size 0 leaves a 0-byte
 * block (it does not free @p p), so NULL always means failure.
 *
 * @return the block, or NULL if memory ran out or @p p is misused (then
 *         @p p is untouched). @p caller is reported with misuse.
 */
void *heap_realloc(struct heap *h, void *p, size_t size, const void *caller);

/**
 * Free the block @p p (NULL is ignored). Misuse is reported with
 * @p caller, the return address of the code that called the allocator.
 */
void heap_free(struct heap *h, void *p, const void *caller);

/**
 * How many bytes of the block @p p its owner may use: its size as asked.
 * @return that size, or 0 if @p p is not a live block (not reported).
 */
size_t heap_block_size(struct heap *h, const void *p);

/**
 * Walk every block and bin and check the heap's invariants: tags agree,
 * redzones are intact, no two free blocks are neighbours, the bins hold
 * exactly the free blocks, and exactly the pages that hold something are
 * mapped. Slow (it visits every page); for tests.
 *
 * @return 0 if all hold; otherwise -1, with a description of the first
 *         problem in @p *problem and its address in @p *where.
 */
int heap_check(const struct heap *h, const char **problem, uintptr_t *where);

/** A name for a misuse kind, e.g. "double free". */
const char *heap_misuse_name(enum heap_misuse kind);

/* ---- the kernel heap (src/mm/kmalloc.c) ---------------------------- */

/**
 * Allocate @p size bytes, aligned to 16.
 * @return the block, or NULL when memory ran out (never panics).
 */
void *kmalloc(size_t size);

/** Allocate an array of @p n elements of @p size bytes, zeroed; NULL if
 *  the product overflows or memory ran out. */
void *kcalloc(size_t n, size_t size);

/** Resize the block @p p as heap_realloc() does. */
void *krealloc(void *p, size_t size);

/**
 * Allocate @p size bytes aligned to @p align (a power of two up to
 * HEAP_MAX_ALIGN), for DMA buffers and page-aligned tables. A block of at
 * most @p align bytes (when @p align is at most HEAP_PAGE_SIZE) lies
 * within one page, so it is contiguous in physical memory too.
 */
void *kmalloc_aligned(size_t size, size_t align);

/**
 * Free @p p (NULL is ignored). A double free, a pointer kmalloc never
 * returned or a block whose end was overwritten is reported with the
 * caller's address and a backtrace, and the kernel stops with failure.
 */
void kfree(void *p);

/** Copy the kernel heap's statistics into @p out. */
void kheap_stats(struct heap_stats *out);

/** The kernel heap itself, for tests that check its invariants. */
struct heap *kheap(void);

/**
 * Set up the kernel heap in its virtual range. It runs at init level
 * INIT_HEAP, after paging (chapter 4) is up and before anything allocates,
 * and not at all if paging could not start.
 *
 * @return 0, or a negative number if the heap could not be set up.
 */
int kheap_init(void);

#endif
