/*
 * Page tables: the map from virtual to physical addresses that the MMU
 * reads on every memory access (Intel SDM vol. 3 §4.5, "4-Level Paging").
 *
 * A 48-bit virtual address is cut into four 9-bit indexes and a 12-bit
 * offset:
 *
 *     47      39 38      30 29      21 20      12 11          0
 *    | PML4 idx | PDPT idx |  PD idx  |  PT idx  | page offset |
 *
 * CR3 holds the physical address of the top table, the PML4. Each table is
 * one 4 KiB frame of 512 8-byte entries, and each entry holds the physical
 * address of the next table down plus flags. The walk ends at a level-1
 * entry (in a PT), which maps a 4 KiB page, or earlier at an entry with the
 * PS flag (PTE_HUGE): in a PD it maps a 2 MiB page, and bits 20..0 of the
 * address are the offset into it.
 *
 * Level numbers here are the SDM's distance from the page: 4 is the PML4,
 * 3 the PDPT, 2 the PD, 1 the PT.
 *
 * The CPU caches translations in the TLB and does not notice when an
 * entry changes under it: after making an entry less permissive (or
 * removing it) we must invalidate the old translation with INVLPG (SDM
 * vol. 3 §4.10.4). A new entry where there was none needs nothing, since
 * the CPU never caches a not-present entry (§4.10.2.3).
 */
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/mm.h>
#include <fern/string.h>
#include <fern/x86.h>

/* The index of @va in the table at @level. */
static unsigned pt_index(uintptr_t va, int level)
{
	return (va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

/* How much an entry at @level maps: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
static uint64_t level_size(int level)
{
	return PAGE_SIZE << (9 * (level - 1));
}

/* The table an entry points to, through the direct map. */
static pte_t *next_table(pte_t entry)
{
	return phys_to_virt(entry & PTE_ADDR);
}

/*
 * A 48-bit address is canonical when bits 63..47 are all equal; the CPU
 * faults on any other (SDM vol. 1 §3.3.7.1), so nothing else can be mapped.
 */
static bool is_canonical(uintptr_t va)
{
	return (uintptr_t)((intptr_t)(va << 16) >> 16) == va;
}

/* Whether [va, va + size) is a page-aligned, non-empty, canonical range. */
static bool range_ok(uintptr_t va, size_t size)
{
	return va % PAGE_SIZE == 0 && size % PAGE_SIZE == 0 && size != 0 &&
	       va + size - 1 >= va && is_canonical(va) &&
	       is_canonical(va + size - 1);
}

/* A zeroed frame for a table, in the direct map; NULL if none is free. */
static pte_t *alloc_table(uint64_t *phys)
{
	uint64_t frame = pmm_alloc();

	if (!frame)
		return NULL;
	memset(phys_to_virt(frame), 0, PAGE_SIZE);
	*phys = frame;
	return phys_to_virt(frame);
}

/*
 * Return the address of the entry for @va at @level, creating missing
 * tables if @alloc. A table entry (one that points to a table, not a page)
 * is made present and writable: whether a page may be written is for its
 * own entry to say, since the CPU allows a write only if every entry on
 * the way allows it (SDM vol. 3 §4.6.1). Likewise no table entry has NX.
 */
pte_t *vm_walk(pte_t *pml4, uintptr_t va, int level, bool alloc)
{
	/* LAB 4 BEGIN: from the PML4 (level 4) down to @level: take the entry for va (pt_index); stop at a large page (PTE_HUGE); follow a present entry to its table (next_table); create a missing one with alloc_table() if @alloc (entry = its address | PTE_PRESENT | PTE_WRITABLE), else return NULL */
	pte_t *table = pml4;

	for (int l = 4; l > level; l--) {
		pte_t *entry = &table[pt_index(va, l)];
		uint64_t phys;

		if (*entry & PTE_PRESENT) {
			if (*entry & PTE_HUGE)
				return entry;
			table = next_table(*entry);
			continue;
		}
		if (!alloc)
			return NULL;
		table = alloc_table(&phys);
		if (!table)
			return NULL;
		*entry = phys | PTE_PRESENT | PTE_WRITABLE;
	}
	return &table[pt_index(va, level)];
	/* LAB 4 STUB: (void)pml4; (void)va; (void)level; (void)alloc; return NULL; */
	/* LAB 4 END */
}

/*
 * Follow @va down the tables as the MMU does, creating nothing. Return the
 * entry where the walk ends, present or not, and its level in @*level: a
 * level-1 entry, the entry of a large page, or the not-present entry that
 * stopped the walk.
 */
static pte_t *lookup(const pte_t *pml4, uintptr_t va, int *level)
{
	const pte_t *table = pml4;

	for (int l = 4;; l--) {
		const pte_t *entry = &table[pt_index(va, l)];

		if (l == 1 || !(*entry & PTE_PRESENT) || (*entry & PTE_HUGE)) {
			*level = l;
			return (pte_t *)entry;
		}
		table = next_table(*entry);
	}
}

/*
 * Replace the large page that @entry (at @level, mapping @va) maps by a
 * table of 512 pages one level down with the same flags, so that part of
 * it can be unmapped or protected. The translation for the large page must
 * go from the TLB (SDM vol. 3 §4.10.4.2 asks for it when a page's size
 * changes).
 */
static int split_large_page(pte_t *entry, int level, uintptr_t va)
{
	uint64_t base = *entry & PTE_ADDR & ~(level_size(level) - 1);
	pte_t flags = *entry & (PTE_FLAGS | PTE_PRESENT | PTE_ACCESSED | PTE_DIRTY);
	uint64_t phys;
	pte_t *table = alloc_table(&phys);

	if (!table)
		return -ENOMEM;
	if (level - 1 > 1)
		flags |= PTE_HUGE;
	for (int i = 0; i < PT_ENTRIES; i++)
		table[i] = (base + i * level_size(level - 1)) | flags;
	*entry = phys | PTE_PRESENT | PTE_WRITABLE;
	invlpg(ALIGN_DOWN(va, level_size(level)));
	return 0;
}

int vm_map(pte_t *pml4, uintptr_t va, uint64_t pa, size_t size, pte_t flags)
{
	size_t off = 0;
	int err;

	if (!range_ok(va, size) || pa % PAGE_SIZE != 0 ||
	    pa + size - 1 < pa || (pa + size - 1) > (PTE_ADDR | (PAGE_SIZE - 1)) ||
	    (flags & ~PTE_FLAGS))
		return -EINVAL;
	while (off < size) {
		uintptr_t v = va + off;
		uint64_t p = pa + off;
		bool large = v % LARGE_PAGE_SIZE == 0 && p % LARGE_PAGE_SIZE == 0 &&
			     size - off >= LARGE_PAGE_SIZE;
		pte_t *entry = vm_walk(pml4, v, large ? 2 : 1, true);

		/* A table already there means 4 KiB pages share these 2 MiB. */
		if (large && entry && (*entry & PTE_PRESENT) && !(*entry & PTE_HUGE)) {
			large = false;
			entry = vm_walk(pml4, v, 1, true);
		}
		if (!entry) {
			err = -ENOMEM;
			goto undo;
		}
		if (*entry & PTE_PRESENT) {
			err = -EEXIST;
			goto undo;
		}
		*entry = p | flags | PTE_PRESENT | (large ? PTE_HUGE : 0);
		off += large ? LARGE_PAGE_SIZE : PAGE_SIZE;
	}
	return 0;
undo:
	if (off)
		vm_unmap(pml4, va, off);
	return err;
}

/*
 * The one loop behind vm_unmap() and vm_protect(): clear the entry of
 * every page of the range (@unmap) or give it @flags, splitting a large
 * page the range covers only in part. -ENOENT if a page was not mapped.
 */
static int change_range(pte_t *pml4, uintptr_t va, size_t size, pte_t flags,
			bool unmap)
{
	size_t off = 0;
	int err = 0;

	while (off < size) {
		uintptr_t v = va + off;
		int level;
		pte_t *entry = lookup(pml4, v, &level);
		uint64_t span = level_size(level);

		if (!(*entry & PTE_PRESENT)) {
			/* Nothing here, maybe for a whole table's span: skip it. */
			err = -ENOENT;
			off += span - (v & (span - 1));
			continue;
		}
		if (level > 1 && (v % span != 0 || size - off < span)) {
			int e = split_large_page(entry, level, v);

			if (e < 0)
				return e;
			continue;	/* look again, one level down */
		}
		if (unmap)
			*entry = 0;
		else
			*entry = (*entry & PTE_ADDR) | flags | PTE_PRESENT |
				 (level > 1 ? PTE_HUGE : 0);
		invlpg(v);
		off += span;
	}
	return err;
}

int vm_unmap(pte_t *pml4, uintptr_t va, size_t size)
{
	if (!range_ok(va, size))
		return -EINVAL;
	return change_range(pml4, va, size, 0, true);
}

int vm_protect(pte_t *pml4, uintptr_t va, size_t size, pte_t flags)
{
	if (!range_ok(va, size) || (flags & ~PTE_FLAGS))
		return -EINVAL;
	/* All or nothing: first check that every page is mapped. */
	for (size_t off = 0; off < size;) {
		int level;
		pte_t *entry = lookup(pml4, va + off, &level);
		uint64_t span = level_size(level);

		if (!(*entry & PTE_PRESENT))
			return -ENOENT;
		off += span - ((va + off) & (span - 1));
	}
	return change_range(pml4, va, size, flags, false);
}

int vm_translate(const pte_t *pml4, uintptr_t va, uint64_t *pa, pte_t *flags)
{
	int level;
	pte_t *entry;
	uint64_t span;

	if (!is_canonical(va))
		return -ENOENT;
	entry = lookup(pml4, va, &level);
	if (!(*entry & PTE_PRESENT))
		return -ENOENT;
	span = level_size(level);
	if (pa)
		*pa = (*entry & PTE_ADDR & ~(span - 1)) | (va & (span - 1));
	if (flags)
		*flags = *entry & ~PTE_ADDR;
	return 0;
}

pte_t *vm_create(void)
{
	uint64_t phys;

	return alloc_table(&phys);
}

/* Free the tables below @table (at @level), not the pages they map. */
static void free_tables(pte_t *table, int level)
{
	for (int i = 0; i < PT_ENTRIES; i++) {
		pte_t entry = table[i];

		if (!(entry & PTE_PRESENT) || (entry & PTE_HUGE))
			continue;
		if (level > 2)
			free_tables(next_table(entry), level - 1);
		pmm_free(entry & PTE_ADDR);
	}
}

void vm_destroy(pte_t *pml4)
{
	free_tables(pml4, 4);
	pmm_free(virt_to_phys(pml4));
}

pte_t *vm_active(void)
{
	return phys_to_virt(read_cr3() & PTE_ADDR);
}
