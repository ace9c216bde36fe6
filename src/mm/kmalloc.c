/*
 * The kernel heap: one struct heap (the allocator core, heap.c) over its
 * own range of virtual addresses, fed with pages by chapter 4's frame
 * allocator and page tables, and the kmalloc() family on top.
 *
 * The core asks for pages at addresses it chooses; this file's page
 * source takes a frame for each page and maps it writable and not
 * executable, and on unmap frees the frame. The page tables are the
 * authority on what is mapped, so "is this page mapped?" is a walk of
 * them (vm_translate()).
 *
 * Misuse is fail-stop. A double free, a pointer kmalloc never returned or
 * a write past the end of a block means some code's idea of memory is
 * wrong, and whatever it does next may damage data that is still in use;
 * so the report names the code (the caller's address, with its function
 * name from chapter 2's symbol table) and panic_at() stops the kernel
 * with the failure status, blaming that code, after a backtrace. Running out of memory is not
 * misuse: kmalloc() returns NULL and the caller decides.
 *
 * Interrupt handlers may allocate (a network driver's receive path will),
 * so each call runs with interrupts off: the core is not reentrant.
 */
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/heap.h>
#include <fern/init.h>
#include <fern/mm.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <fern/x86.h>

static struct heap kernel_heap;

static void kheap_unmap(void *ctx, uintptr_t va, size_t count)
{
	pte_t *pml4 = vm_active();

	(void)ctx;
	for (size_t i = 0; i < count; i++, va += PAGE_SIZE) {
		uint64_t frame;

		if (vm_translate(pml4, va, &frame, NULL) != 0)
			continue;
		vm_unmap(pml4, va, PAGE_SIZE);
		pmm_free(frame);
	}
}

/*
 * One frame per page, mapped writable and never executable (the heap
 * holds data, and W^X holds for it too). If a frame or a page table
 * cannot be had, undo this call's pages: the core's rule is all or none.
 */
static int kheap_map(void *ctx, uintptr_t va, size_t count)
{
	pte_t *pml4 = vm_active();

	for (size_t i = 0; i < count; i++) {
		uint64_t frame = pmm_alloc();

		if (!frame || vm_map(pml4, va + i * PAGE_SIZE, frame, PAGE_SIZE,
				     PTE_WRITABLE | PTE_NX) != 0) {
			if (frame)
				pmm_free(frame);
			kheap_unmap(ctx, va, i);
			return -ENOMEM;
		}
	}
	return 0;
}

static bool kheap_is_mapped(void *ctx, uintptr_t va)
{
	(void)ctx;
	return vm_translate(vm_active(), va, NULL, NULL) == 0;
}

/* Say what was misused and by whom, then stop (see the top of the file). */
static void kheap_report(void *ctx, enum heap_misuse kind, const void *ptr,
			 const void *caller)
{
	uintptr_t p = (uintptr_t)ptr;

	(void)ctx;
	switch (kind) {
	case HEAP_MISUSE_DOUBLE_FREE:
		kprintf("heap: double free of 0x%lx\n", p);
		break;
	case HEAP_MISUSE_BAD_POINTER:
		kprintf("heap: bad pointer 0x%lx: kmalloc never returned it\n", p);
		break;
	case HEAP_MISUSE_OVERRUN:
		kprintf("heap: overrun: a write past the end of the block at 0x%lx\n", p);
		break;
	case HEAP_MISUSE_CORRUPT:
		kprintf("heap: corrupt heap at the block 0x%lx\n", p);
		break;
	}
	kprintf("heap: caller ");
	if (!ksym_print((uintptr_t)caller, KSYM_RETURN_ADDRESS))
		kprintf(" ??");
	kprintf("\n");
	panic_at(caller, "heap misuse: %s", heap_misuse_name(kind));
}

static const struct heap_page_source kheap_source = {
	.map = kheap_map,
	.unmap = kheap_unmap,
	.is_mapped = kheap_is_mapped,
	.report = kheap_report,
};

int kheap_init(void)
{
	int err = heap_init(&kernel_heap, KHEAP_BASE, KHEAP_SIZE, &kheap_source);

	if (err)
		kprintf("heap: error: cannot set up the heap at 0x%lx\n", KHEAP_BASE);
	else
		kprintf("heap: %lu GiB of address space at 0x%lx, mapped on demand\n",
			KHEAP_SIZE >> 30, KHEAP_BASE);
	return err;
}

static int heap_start(const struct boot_info *info)
{
	(void)info;
	return kheap_init();
}
INITCALL(INIT_HEAP, heap_start);

struct heap *kheap(void)
{
	return &kernel_heap;
}

/*
 * The wrappers share one shape, so it is written once: before kheap_init()
 * (src is NULL) every call fails, rather than the core touching memory it
 * does not have; after it, the core runs with interrupts off, because a
 * handler may allocate too. krealloc() and kfree() pass their caller's
 * return address down for misuse reports.
 */
enum kheap_op { KHEAP_ALLOC, KHEAP_CALLOC, KHEAP_REALLOC, KHEAP_FREE };

static void *kheap_call(enum kheap_op op, void *p, size_t a, size_t b,
			const void *caller)
{
	uint64_t flags;
	void *result = NULL;

	if (!kernel_heap.src)
		return NULL;
	flags = irq_save();
	switch (op) {
	case KHEAP_ALLOC:
		result = heap_alloc(&kernel_heap, a, b);
		break;
	case KHEAP_CALLOC:
		result = heap_calloc(&kernel_heap, a, b);
		break;
	case KHEAP_REALLOC:
		result = heap_realloc(&kernel_heap, p, a, caller);
		break;
	case KHEAP_FREE:
		heap_free(&kernel_heap, p, caller);
		break;
	}
	irq_restore(flags);
	return result;
}

void *kmalloc_aligned(size_t size, size_t align)
{
	return kheap_call(KHEAP_ALLOC, NULL, size, align, NULL);
}

void *kmalloc(size_t size)
{
	return kmalloc_aligned(size, HEAP_ALIGN);
}

void *kcalloc(size_t n, size_t size)
{
	return kheap_call(KHEAP_CALLOC, NULL, n, size, NULL);
}

void *krealloc(void *p, size_t size)
{
	return kheap_call(KHEAP_REALLOC, p, size, 0, __builtin_return_address(0));
}

void kfree(void *p)
{
	if (p)
		kheap_call(KHEAP_FREE, p, 0, 0, __builtin_return_address(0));
}

void kheap_stats(struct heap_stats *out)
{
	uint64_t flags = irq_save();

	*out = kernel_heap.stats;
	irq_restore(flags);
}

/* `heap`: the statistics; `heap check`: walk the heap and check it. */
static int cmd_heap(int argc, char **argv)
{
	struct heap_stats s;
	const char *problem;
	uintptr_t where;
	uint64_t flags;
	int err;

	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		flags = irq_save();
		err = heap_check(&kernel_heap, &problem, &where);
		irq_restore(flags);
		if (err) {
			kprintf("heap: inconsistent: %s (at 0x%lx)\n", problem, where);
			return err;
		}
		kprintf("heap: consistent\n");
		return 0;
	}
	if (argc > 1) {
		kprintf("usage: heap [check]\n");
		return -EINVAL;
	}
	kheap_stats(&s);
	kprintf("heap: %zu bytes in use (peak %zu) in %zu blocks; %zu free blocks\n",
		s.bytes_in_use, s.peak_bytes_in_use, s.blocks, s.free_blocks);
	kprintf("heap: %zu pages held (peak %zu); %zu bytes below the break\n",
		s.pages_held, s.peak_pages_held, s.heap_bytes);
	kprintf("heap: %zu allocations, %zu frees, %zu failed allocations, %zu misuse reports\n",
		s.allocations, s.frees, s.failed, s.misuses);
	return 0;
}
KCMD(heap, "heap statistics; 'heap check' checks its invariants", cmd_heap);
