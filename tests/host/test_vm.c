/*
 * Host unit test of the page-table code (src/mm/vm.c): map, translate,
 * unmap and protect, large pages and their splitting, TLB invalidation,
 * and failures that leave nothing behind. The tables live in fake physical
 * memory (tests/host/mm_host.h); frames come from a small allocator here
 * that can be told to run out, and that catches double frees.
 *
 * Expected translations are written out by hand from the 4-level layout
 * (Intel SDM vol. 3 §4.5): 9 bits of index per level, 12 of offset.
 */
#include <fern/errno.h>
#include <fern/mm.h>

#include <stdlib.h>

#include "tap.h"

#define RAM_BYTES	(64UL << 20)
#define FIRST_FRAME	(1UL << 20)
#define FRAMES		((RAM_BYTES - FIRST_FRAME) / PAGE_SIZE)

/* The fake frame allocator: a stack of free frames, and a budget. */
static uint64_t free_stack[FRAMES];
static size_t free_count;
static bool in_use[RAM_BYTES / PAGE_SIZE];
static long budget = -1;	/* frames pmm_alloc() may still give; -1: no limit */
static int bad_frees;

uint64_t pmm_alloc(void)
{
	uint64_t f;

	if (budget == 0 || free_count == 0)
		return 0;
	if (budget > 0)
		budget--;
	f = free_stack[--free_count];
	in_use[f / PAGE_SIZE] = true;
	/* Stale contents, as real frames have: walk must zero its tables. */
	memset(host_ram + f, 0xa5, PAGE_SIZE);
	return f;
}

void pmm_free(uint64_t frame)
{
	if (frame % PAGE_SIZE || frame < FIRST_FRAME || frame >= RAM_BYTES ||
	    !in_use[frame / PAGE_SIZE]) {
		bad_frees++;
		return;
	}
	in_use[frame / PAGE_SIZE] = false;
	free_stack[free_count++] = frame;
}

static void frames_reset(void)
{
	free_count = 0;
	for (uint64_t f = RAM_BYTES - PAGE_SIZE; f >= FIRST_FRAME; f -= PAGE_SIZE)
		free_stack[free_count++] = f;
	memset(in_use, 0, sizeof(in_use));
	budget = -1;
	bad_frees = 0;
}

static size_t frames_used(void)
{
	return FRAMES - free_count;
}

static bool translates(pte_t *pml4, uintptr_t va, uint64_t want_pa, pte_t want_flags)
{
	uint64_t pa;
	pte_t flags;

	if (vm_translate(pml4, va, &pa, &flags) != 0)
		return false;
	return pa == want_pa &&
	       (flags & (PTE_PRESENT | PTE_WRITABLE | PTE_NX | PTE_HUGE)) == want_flags;
}

static bool unmapped(pte_t *pml4, uintptr_t va)
{
	return vm_translate(pml4, va, NULL, NULL) == -ENOENT;
}

static void test_small_pages(void)
{
	pte_t *pml4 = vm_create();
	uintptr_t va = 0xffffc00000201000UL;	/* PML4 384, PDPT 0, PD 1, PT 1 */
	pte_t *pte;

	tap_ok(pml4 && frames_used() == 1, "vm: vm_create() takes one zeroed frame");
	tap_ok(vm_walk(pml4, va, 1, false) == NULL,
	       "vm: vm_walk() without alloc finds no entry in an empty table");
	tap_ok(vm_map(pml4, va, 0x345000, PAGE_SIZE, PTE_WRITABLE | PTE_NX) == 0,
	       "vm: mapping one page succeeds");
	tap_ok(frames_used() == 4, "vm: it took a PDPT, a PD and a PT (%zu frames)", frames_used());
	pte = vm_walk(pml4, va, 1, false);
	tap_ok(pte && *pte == (0x345000 | PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: the level-1 entry holds the frame and the flags");
	tap_ok(pml4[384] & PTE_PRESENT && pml4[384] & PTE_WRITABLE && !(pml4[384] & PTE_NX),
	       "vm: table entries are present, writable and executable (pages decide)");
	tap_ok(translates(pml4, va + 0x123, 0x345123, PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: translate keeps the offset within the page");
	tap_ok(unmapped(pml4, va + PAGE_SIZE) && unmapped(pml4, va - PAGE_SIZE),
	       "vm: the pages beside it are not mapped");
	tap_ok(vm_map(pml4, va, 0x999000, PAGE_SIZE, 0) == -EEXIST,
	       "vm: mapping over a mapped page fails with -EEXIST");
	tap_ok(translates(pml4, va, 0x345000, PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: ...and leaves the old mapping alone");

	/* Three pages across a page-table boundary (PT index 511, then 0, 1). */
	tap_ok(vm_map(pml4, 0xffffc000003ff000UL, 0x700000, 3 * PAGE_SIZE, 0) == 0 &&
	       translates(pml4, 0xffffc000003ff000UL, 0x700000, PTE_PRESENT) &&
	       translates(pml4, 0xffffc00000400000UL, 0x701000, PTE_PRESENT) &&
	       translates(pml4, 0xffffc00000401000UL, 0x702000, PTE_PRESENT),
	       "vm: a range across two page tables maps page by page");

	host_invlpg_count = 0;
	tap_ok(vm_unmap(pml4, va, PAGE_SIZE) == 0 && unmapped(pml4, va),
	       "vm: an unmapped page no longer translates");
	tap_ok(host_invlpg_count == 1 && host_last_invlpg == va,
	       "vm: unmapping invalidates the page's TLB entry");
	tap_ok(vm_unmap(pml4, va, PAGE_SIZE) == -ENOENT,
	       "vm: unmapping a page that is not mapped says -ENOENT");
	tap_ok(vm_map(pml4, va, 0x346000, PAGE_SIZE, 0) == 0 &&
	       translates(pml4, va, 0x346000, PTE_PRESENT),
	       "vm: the page can be mapped again elsewhere");

	host_invlpg_count = 0;
	tap_ok(vm_protect(pml4, 0xffffc000003ff000UL, 3 * PAGE_SIZE, PTE_WRITABLE | PTE_NX) == 0 &&
	       translates(pml4, 0xffffc00000400000UL, 0x701000, PTE_PRESENT | PTE_WRITABLE | PTE_NX) &&
	       host_invlpg_count == 3,
	       "vm: protect changes the flags, keeps the frames, invalidates each page");
	tap_ok(vm_protect(pml4, 0xffffc00000401000UL, 2 * PAGE_SIZE, 0) == -ENOENT &&
	       translates(pml4, 0xffffc00000401000UL, 0x702000, PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: protect of a range with a hole fails with -ENOENT and changes nothing");

	vm_destroy(pml4);
	tap_ok(frames_used() == 0 && bad_frees == 0,
	       "vm: vm_destroy() frees every table, each once (%zu left)", frames_used());
}

static void test_large_pages(void)
{
	pte_t *pml4 = vm_create();
	uintptr_t va = 0xffff800000000000UL + (6UL << 20);	/* 2 MiB aligned */
	uint64_t pa = 6UL << 20;
	size_t before;
	uint64_t got;
	pte_t flags;

	tap_ok(vm_map(pml4, va, pa, 2 * LARGE_PAGE_SIZE, PTE_WRITABLE | PTE_NX) == 0,
	       "vm: mapping 4 MiB at 2 MiB-aligned addresses succeeds");
	tap_ok(frames_used() == 3, "vm: two large pages need no page table (%zu frames)",
	       frames_used());
	tap_ok(translates(pml4, va + 0x1234, pa + 0x1234,
			  PTE_PRESENT | PTE_WRITABLE | PTE_NX | PTE_HUGE) &&
	       translates(pml4, va + LARGE_PAGE_SIZE + 0x1fffff, pa + LARGE_PAGE_SIZE + 0x1fffff,
			  PTE_PRESENT | PTE_WRITABLE | PTE_NX | PTE_HUGE),
	       "vm: a large page translates its whole 2 MiB (21 bits of offset)");
	tap_ok(vm_walk(pml4, va + 0x5000, 1, false) == vm_walk(pml4, va, 2, false),
	       "vm: vm_walk() stops at the large page's entry");

	before = frames_used();
	tap_ok(vm_unmap(pml4, va + 0x5000, PAGE_SIZE) == 0 && unmapped(pml4, va + 0x5000),
	       "vm: unmapping one 4 KiB page of a large page works");
	tap_ok(frames_used() == before + 1 &&
	       translates(pml4, va + 0x4000, pa + 0x4000, PTE_PRESENT | PTE_WRITABLE | PTE_NX) &&
	       translates(pml4, va + 0x6000, pa + 0x6000, PTE_PRESENT | PTE_WRITABLE | PTE_NX) &&
	       translates(pml4, va + 0x1ff000, pa + 0x1ff000, PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: ...by splitting it: the other 511 pages keep frame and flags");
	tap_ok(host_last_invlpg == va + 0x5000, "vm: ...and invalidating the page");

	tap_ok(vm_protect(pml4, va + LARGE_PAGE_SIZE, PAGE_SIZE, PTE_NX) == 0 &&
	       translates(pml4, va + LARGE_PAGE_SIZE, pa + LARGE_PAGE_SIZE, PTE_PRESENT | PTE_NX) &&
	       translates(pml4, va + LARGE_PAGE_SIZE + PAGE_SIZE, pa + LARGE_PAGE_SIZE + PAGE_SIZE,
			  PTE_PRESENT | PTE_WRITABLE | PTE_NX),
	       "vm: protecting part of a large page splits it too");

	tap_ok(vm_map(pml4, va + 0x5000, 0x900000, PAGE_SIZE, 0) == 0 &&
	       vm_translate(pml4, va + 0x5000, &got, &flags) == 0 && got == 0x900000,
	       "vm: the hole can be mapped again");
	tap_ok(vm_map(pml4, va + 4 * LARGE_PAGE_SIZE, pa, LARGE_PAGE_SIZE, 0) == 0 &&
	       vm_unmap(pml4, va + 4 * LARGE_PAGE_SIZE, LARGE_PAGE_SIZE) == 0 &&
	       unmapped(pml4, va + 4 * LARGE_PAGE_SIZE + 0x123456),
	       "vm: unmapping a whole large page needs no split");
	vm_destroy(pml4);
	tap_ok(frames_used() == 0 && bad_frees == 0, "vm: vm_destroy() frees split tables too");
}

static void test_failures(void)
{
	pte_t *pml4 = vm_create();
	uintptr_t va = 0xffffc00000000000UL;

	tap_ok(vm_map(pml4, va + 1, 0x1000, PAGE_SIZE, 0) == -EINVAL &&
	       vm_map(pml4, va, 0x1001, PAGE_SIZE, 0) == -EINVAL &&
	       vm_map(pml4, va, 0x1000, 100, 0) == -EINVAL &&
	       vm_map(pml4, va, 0x1000, 0, 0) == -EINVAL,
	       "vm: misaligned addresses and sizes, and size 0, are -EINVAL");
	tap_ok(vm_map(pml4, 0x0000800000000000UL, 0x1000, PAGE_SIZE, 0) == -EINVAL &&
	       vm_map(pml4, 0x00007ffffffff000UL, 0x1000, 2 * PAGE_SIZE, 0) == -EINVAL,
	       "vm: non-canonical addresses cannot be mapped");
	tap_ok(vm_map(pml4, va, 0x1000, PAGE_SIZE, PTE_USER) == -EINVAL &&
	       vm_map(pml4, va, 0x1000, PAGE_SIZE, PTE_HUGE) == -EINVAL &&
	       vm_map(pml4, va, 0x1000, PAGE_SIZE, 1UL << 52) == -EINVAL,
	       "vm: flags other than the PTE_FLAGS ones are -EINVAL");
	tap_ok(vm_map(pml4, va, 1UL << 52, PAGE_SIZE, 0) == -EINVAL,
	       "vm: a physical address beyond 52 bits is -EINVAL");
	tap_ok(frames_used() == 1, "vm: refused calls allocate nothing");

	/* A mapping over an existing page, in the middle of the range. */
	vm_map(pml4, va + 2 * PAGE_SIZE, 0x5000, PAGE_SIZE, 0);
	tap_ok(vm_map(pml4, va, 0x10000, 4 * PAGE_SIZE, 0) == -EEXIST &&
	       unmapped(pml4, va) && unmapped(pml4, va + PAGE_SIZE) &&
	       unmapped(pml4, va + 3 * PAGE_SIZE) &&
	       translates(pml4, va + 2 * PAGE_SIZE, 0x5000, PTE_PRESENT),
	       "vm: -EEXIST undoes the pages it mapped and keeps the old one");

	/* The first page's table exists; the second page needs a new one. */
	budget = 0;
	tap_ok(vm_map(pml4, va + LARGE_PAGE_SIZE - PAGE_SIZE, 0x20000, 2 * PAGE_SIZE, 0) == -ENOMEM,
	       "vm: no frame for a table is -ENOMEM");
	tap_ok(unmapped(pml4, va + LARGE_PAGE_SIZE - PAGE_SIZE),
	       "vm: ...and nothing of the range stays mapped");
	tap_ok(vm_walk(pml4, 0xffffff8000000000UL, 1, true) == NULL,
	       "vm: vm_walk() with alloc returns NULL when no frame is free");
	budget = -1;
	vm_destroy(pml4);
	tap_ok(frames_used() == 0 && bad_frees == 0, "vm: vm_destroy() after failures frees all");
}

static void test_walk_zeroes(void)
{
	pte_t *pml4 = vm_create();
	pte_t *pte = vm_walk(pml4, 0x12345000, 1, true);
	pte_t *pt = (pte_t *)((uintptr_t)pte & ~(PAGE_SIZE - 1));
	bool zero = true;

	for (int i = 0; i < PT_ENTRIES; i++)
		zero &= pt[i] == 0;
	tap_ok(pte && zero, "vm: vm_walk() with alloc creates zeroed tables");
	tap_ok(pte == &pt[(0x12345000 >> 12) & 511],
	       "vm: ...and returns the entry at the address's PT index");
	host_cr3 = virt_to_phys(pml4);
	tap_ok(vm_active() == pml4, "vm: vm_active() is the table in CR3");
	vm_destroy(pml4);
}

int main(void)
{
	/* Page-aligned, so that a table's host address is page-aligned too. */
	host_ram = aligned_alloc(PAGE_SIZE, RAM_BYTES);
	memset(host_ram, 0, RAM_BYTES);
	frames_reset();
	test_small_pages();
	test_large_pages();
	test_failures();
	test_walk_zeroes();
	free(host_ram);
	return tap_done();
}
