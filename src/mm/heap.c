/*
 * The heap allocator's core: blocks of any size carved out of one range
 * of virtual addresses, given back and merged when freed.
 *
 * This file is pure bookkeeping. It never touches a page table: when it
 * needs memory behind an address it asks its page source (heap.h), and
 * when a page holds nothing any more it gives the page back. That is what
 * lets the same file run in the kernel and, under AddressSanitizer, on
 * the host (tests/host/test_heap.c).
 *
 * The heap is a row of blocks from h->base up to the *break*, h->brk:
 *
 *     base                                                 brk       limit
 *     | live | free ......... | live | live | free | live |  (untouched) |
 *
 * Each block starts with a 16-byte header and ends with an 8-byte end
 * tag; both hold the block's size, with bit 0 set if the block is free.
 * These are Knuth's *boundary tags* (TAOCP vol. 1 §2.5): from a block's
 * header, the next block is `size` bytes on; from the 8 bytes just below
 * a header, the previous block's end tag says how far back it starts and
 * whether it is free. So a block being freed finds both neighbours in
 * constant time and merges with the free ones, and two free blocks are
 * never neighbours.
 *
 *     live:  | size | magic requested | payload ... | redzone | size |
 *     free:  | size|1 | magic 0 | next | prev |  .......... | size|1 |
 *
 * Free blocks wait in *bins*, doubly linked lists by size: one bin per
 * exact size from 48 to 1024 bytes (every block there fits a request of
 * that size, so taking the first is enough), then one per power of two
 * (searched first fit). A bitmap says which bins have blocks, so finding
 * the smallest non-empty bin above a size is a count of trailing zeros.
 * When no free block fits, the heap *grows*: the new block goes at the
 * break and the break moves up.
 *
 * Memory is held only where something lives. The rule, which every
 * function below keeps:
 *
 *     a page is mapped if and only if it lies below the break and is not
 *     in the *hole* of a free block: the whole pages strictly between the
 *     free block's header (with its links) and its end tag.
 *
 * So freeing a large block gives its inner pages back at once, and a free
 * block that reaches the break is cut off (the break moves down): a heap
 * whose blocks are all free holds no page at all. Every change of the
 * blocks therefore ends with mapping or unmapping the pages whose status
 * changed, computed from holes before and after (span_minus()); the page
 * source only ever sees a page mapped once and unmapped once.
 *
 * Misuse checks. A live block's header holds a magic number and the size
 * its owner asked for; the bytes between that size and the end tag (at
 * least REDZONE_MIN of them) are the *redzone*, filled with REDZONE_BYTE.
 * Freeing checks the magic (a pointer the heap never returned, or one
 * freed already), the redzone and end tag (a write past the end) and the
 * neighbours' tags, and reports what it finds instead of acting on it.
 * What is not caught: a write past the end that skips the redzone, reads
 * of freed memory, and a double free of a block whose memory was handed
 * out again (its header looks live again) - catching those takes shadow
 * memory, as KASAN does.
 */
#include <fern/heap.h>
#include <fern/string.h>

/*
 * The header of every block. A free block also uses the 16 bytes after
 * the header for its bin links; in a live block they are the start of
 * the payload.
 */
struct heap_block {
	size_t size;		/* whole block, tags included; | BLOCK_FREE */
	uint32_t magic;		/* MAGIC_LIVE or MAGIC_FREE */
	uint32_t requested;	/* live: bytes asked for; free: 0 */
	struct heap_block *next, *prev;	/* free blocks only: the bin list */
};

#define BLOCK_FREE	1UL
#define SIZE_MASK	(~(HEAP_ALIGN - 1))
/* Unlikely by chance in a pointer or a small integer ("allocate", "free bloc"). */
#define MAGIC_LIVE	0xa110ca7eU
#define MAGIC_FREE	0xf4eeb10cU
#define HEADER_SIZE	offsetof(struct heap_block, next)
#define FREE_HEADER_SIZE sizeof(struct heap_block)
#define TAG_SIZE	sizeof(size_t)
#define REDZONE_MIN	8
#define REDZONE_BYTE	0xfd
/* The smallest block: a free header with its links, and an end tag. */
#define MIN_BLOCK	48
/* Bins 0..EXACT_BINS-1 hold one size each: 48, 64, ..., EXACT_MAX. */
#define EXACT_MAX	1024
#define EXACT_BINS	((EXACT_MAX - MIN_BLOCK) / HEAP_ALIGN + 1)

_Static_assert(HEADER_SIZE == HEAP_ALIGN, "payloads must stay 16-aligned");
_Static_assert(MIN_BLOCK >= FREE_HEADER_SIZE + TAG_SIZE &&
	       MIN_BLOCK % HEAP_ALIGN == 0, "a free block must fit in MIN_BLOCK");
_Static_assert(EXACT_BINS == 62, "heap.h's HEAP_BINS counts 62 exact bins");

/* A range of whole pages [lo, hi); empty when lo == hi. */
struct span {
	uintptr_t lo, hi;
};

static const struct span no_span;

/* ---- blocks -------------------------------------------------------- */

static uintptr_t addr(const struct heap_block *b)
{
	return (uintptr_t)b;
}

static struct heap_block *block_at(uintptr_t a)
{
	return (struct heap_block *)a;
}

static size_t block_size(const struct heap_block *b)
{
	return b->size & SIZE_MASK;
}

static bool block_is_free(const struct heap_block *b)
{
	return b->size & BLOCK_FREE;
}

static size_t *end_tag(const struct heap_block *b)
{
	return (size_t *)(addr(b) + block_size(b) - TAG_SIZE);
}

static void *payload(const struct heap_block *b)
{
	return (void *)(addr(b) + HEADER_SIZE);
}

static struct heap_block *block_of(const void *p)
{
	return block_at((uintptr_t)p - HEADER_SIZE);
}

/* Write @size_flags (a size, maybe | BLOCK_FREE) into both tags. */
static void set_tags(struct heap_block *b, size_t size_flags)
{
	b->size = size_flags;
	*end_tag(b) = size_flags;
}

/*
 * The block size that holds @requested bytes: header, payload, at least
 * REDZONE_MIN bytes of redzone and the end tag, rounded up to 16 so that
 * the next block's payload is aligned too.
 */
static size_t block_need(size_t requested)
{
	size_t need = (HEADER_SIZE + requested + REDZONE_MIN + TAG_SIZE +
		       HEAP_ALIGN - 1) & SIZE_MASK;

	return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/*
 * Where to put a block in free space that starts at @start so that its
 * payload is aligned to @align: the first such place that leaves either
 * no gap before it or a gap big enough to be a free block of its own.
 */
static uintptr_t place(uintptr_t start, size_t align)
{
	uintptr_t at = ((start + HEADER_SIZE + align - 1) & ~(align - 1)) -
		       HEADER_SIZE;

	while (at != start && at - start < MIN_BLOCK)
		at += align;
	return at;
}

/* ---- bins ---------------------------------------------------------- */

/* Bin of a block of @size bytes: exact up to EXACT_MAX, then log2. */
static unsigned bin_index(size_t size)
{
	unsigned log2, i;

	if (size <= EXACT_MAX)
		return (unsigned)((size - MIN_BLOCK) / HEAP_ALIGN);
	log2 = 63 - (unsigned)__builtin_clzll((unsigned long long)size);
	i = EXACT_BINS + log2 - 10;
	return i < HEAP_BINS ? i : HEAP_BINS - 1;
}

static void bin_insert(struct heap *h, struct heap_block *b)
{
	unsigned i = bin_index(block_size(b));

	b->prev = NULL;
	b->next = h->bins[i];
	if (b->next)
		b->next->prev = b;
	h->bins[i] = b;
	h->nonempty[i / 64] |= 1ULL << (i % 64);
	h->stats.free_blocks++;
}

static void bin_remove(struct heap *h, struct heap_block *b)
{
	unsigned i = bin_index(block_size(b));

	if (b->prev)
		b->prev->next = b->next;
	else
		h->bins[i] = b->next;
	if (b->next)
		b->next->prev = b->prev;
	if (!h->bins[i])
		h->nonempty[i / 64] &= ~(1ULL << (i % 64));
	h->stats.free_blocks--;
}

/* The first bin at or above @i that has a block, or HEAP_BINS. */
static unsigned next_nonempty(const struct heap *h, unsigned i)
{
	while (i < HEAP_BINS) {
		uint64_t word = h->nonempty[i / 64] >> (i % 64);

		if (word)
			return i + (unsigned)__builtin_ctzll(word);
		i = (i / 64 + 1) * 64;
	}
	return HEAP_BINS;
}

/*
 * A free block of at least @need bytes, or NULL. An exact bin's first
 * block fits by construction; a power-of-two bin holds sizes on both
 * sides of @need, so it is searched first fit. Any block in a higher bin
 * is bigger than @need.
 */
static struct heap_block *find_fit(const struct heap *h, size_t need)
{
	unsigned i = bin_index(need);

	if (i >= EXACT_BINS) {
		for (struct heap_block *b = h->bins[i]; b; b = b->next) {
			if (block_size(b) >= need)
				return b;
		}
		i++;
	}
	i = next_nonempty(h, i);
	return i < HEAP_BINS ? h->bins[i] : NULL;
}

/* ---- pages --------------------------------------------------------- */

static uintptr_t page_down(uintptr_t a)
{
	return a & ~(HEAP_PAGE_SIZE - 1);
}

static uintptr_t page_up(uintptr_t a)
{
	return page_down(a + HEAP_PAGE_SIZE - 1);
}

/*
 * The hole of a free block [start, end): the whole pages after its header
 * and links and before its end tag. Nothing lives there, so they are
 * unmapped. Small blocks have an empty hole.
 */
static struct span hole(uintptr_t start, uintptr_t end)
{
	struct span s = { page_up(start + FREE_HEADER_SIZE),
			  page_down(end - TAG_SIZE) };

	if (s.hi < s.lo)
		s.hi = s.lo;
	return s;
}

/*
 * The pages of @all outside @a and @b, as up to three spans in @out;
 * returns how many. @a and @b lie inside @all (or are empty), @a before
 * @b. This is how each operation finds the pages whose status changes:
 * a free block's hole, minus the holes of the free blocks it becomes.
 */
static int span_minus(struct span all, struct span a, struct span b,
		      struct span out[3])
{
	const struct span cut[2] = { a, b };
	uintptr_t from = all.lo;
	int n = 0;

	for (int i = 0; i < 2; i++) {
		if (cut[i].lo >= cut[i].hi)
			continue;
		if (cut[i].lo > from)
			out[n++] = (struct span){ from, cut[i].lo };
		if (cut[i].hi > from)
			from = cut[i].hi;
	}
	if (all.hi > from)
		out[n++] = (struct span){ from, all.hi };
	return n;
}

static size_t span_pages(struct span s)
{
	return (s.hi - s.lo) / HEAP_PAGE_SIZE;
}

static bool page_is_mapped(const struct heap *h, uintptr_t va)
{
	return h->src->is_mapped(h->src->ctx, va);
}

/* Map the @n spans, all or none: 0, or -1 when memory ran out. */
static int commit(struct heap *h, const struct span *s, int n)
{
	for (int i = 0; i < n; i++) {
		if (h->src->map(h->src->ctx, s[i].lo, span_pages(s[i])) < 0) {
			while (i-- > 0) {
				h->src->unmap(h->src->ctx, s[i].lo, span_pages(s[i]));
				h->stats.pages_held -= span_pages(s[i]);
			}
			return -1;
		}
		h->stats.pages_held += span_pages(s[i]);
	}
	if (h->stats.pages_held > h->stats.peak_pages_held)
		h->stats.peak_pages_held = h->stats.pages_held;
	return 0;
}

static void decommit(struct heap *h, const struct span *s, int n)
{
	for (int i = 0; i < n; i++) {
		h->src->unmap(h->src->ctx, s[i].lo, span_pages(s[i]));
		h->stats.pages_held -= span_pages(s[i]);
	}
}

static void set_brk(struct heap *h, uintptr_t brk)
{
	h->brk = brk;
	h->stats.heap_bytes = brk - h->base;
}

/* ---- statistics and reports ---------------------------------------- */

static void account_alloc(struct heap *h, size_t requested)
{
	h->stats.bytes_in_use += requested;
	if (h->stats.bytes_in_use > h->stats.peak_bytes_in_use)
		h->stats.peak_bytes_in_use = h->stats.bytes_in_use;
	h->stats.blocks++;
	h->stats.allocations++;
}

static void account_free(struct heap *h, size_t requested)
{
	h->stats.bytes_in_use -= requested;
	h->stats.blocks--;
	h->stats.frees++;
}

static void report(struct heap *h, enum heap_misuse kind, const void *p,
		   const void *caller)
{
	h->stats.misuses++;
	if (h->src->report)
		h->src->report(h->src->ctx, kind, p, caller);
}

const char *heap_misuse_name(enum heap_misuse kind)
{
	switch (kind) {
	case HEAP_MISUSE_BAD_POINTER:
		return "bad pointer";
	case HEAP_MISUSE_DOUBLE_FREE:
		return "double free";
	case HEAP_MISUSE_OVERRUN:
		return "overrun";
	case HEAP_MISUSE_CORRUPT:
		return "corrupt heap";
	}
	return "misuse";
}

/* ---- making blocks ------------------------------------------------- */

/* Make [start, start + size) a free block and put it in its bin. */
static void make_free(struct heap *h, uintptr_t start, size_t size)
{
	struct heap_block *b = block_at(start);

	set_tags(b, size | BLOCK_FREE);
	b->magic = MAGIC_FREE;
	b->requested = 0;
	bin_insert(h, b);
}

/* Make @b a live block of @size bytes holding @requested, redzone filled. */
static void make_live(struct heap_block *b, size_t size, size_t requested)
{
	set_tags(b, size);
	b->magic = MAGIC_LIVE;
	b->requested = (uint32_t)requested;
	memset((char *)payload(b) + requested, REDZONE_BYTE,
	       size - HEADER_SIZE - TAG_SIZE - requested);
}

/*
 * Allocate from the free block @f (already out of its bin): a block of
 * @need bytes at @at, inside @f. What is left before @at becomes a free
 * block; what is left after it too, if it is big enough to be one, and
 * otherwise goes with the allocation. The pages of @f's hole that are not
 * in the holes of the leftovers are mapped first, so that on failure
 * nothing has changed but @f going back to its bin.
 */
static struct heap_block *carve(struct heap *h, struct heap_block *f,
				uintptr_t at, size_t need, size_t requested)
{
	uintptr_t start = addr(f), end = start + block_size(f);
	uintptr_t stop = at + need;
	struct span before = no_span, after = no_span, map[3];
	int n;

	if (end - stop < MIN_BLOCK)
		stop = end;
	if (at > start)
		before = hole(start, at);
	if (stop < end)
		after = hole(stop, end);
	n = span_minus(hole(start, end), before, after, map);
	if (commit(h, map, n) < 0) {
		bin_insert(h, f);
		return NULL;
	}
	if (at > start)
		make_free(h, start, at - start);
	if (stop < end)
		make_free(h, stop, end - stop);
	make_live(block_at(at), stop - at, requested);
	return block_at(at);
}

/*
 * Allocate at the break: the heap grows. An aligned block may leave a
 * free block between the old break and itself. The new pages are mapped
 * now: those from the break's page up, except the gap block's hole.
 */
static struct heap_block *grow(struct heap *h, size_t need, size_t align,
			       size_t requested)
{
	uintptr_t at = place(h->brk, align);
	struct span gap = no_span, map[3];
	int n;

	if (at > h->limit || h->limit - at < need)
		return NULL;
	if (at > h->brk)
		gap = hole(h->brk, at);
	n = span_minus((struct span){ page_up(h->brk), page_up(at + need) },
		       gap, no_span, map);
	if (commit(h, map, n) < 0)
		return NULL;
	if (at > h->brk)
		make_free(h, h->brk, at - h->brk);
	set_brk(h, at + need);
	make_live(block_at(at), need, requested);
	return block_at(at);
}

/* ---- checking a pointer -------------------------------------------- */

/* Whether a size from a tag is one a block at @a could have. */
static bool size_fits(const struct heap *h, uintptr_t a, size_t size_flags)
{
	size_t size = size_flags & SIZE_MASK;

	return (size_flags & ~SIZE_MASK & ~BLOCK_FREE) == 0 &&
	       size >= MIN_BLOCK && size <= h->brk - a;
}

/*
 * Whether every byte between the end of @b's payload and its end tag
 * still holds REDZONE_BYTE, as make_live() left it. A write past the end
 * of the payload lands here first.
 */
static bool redzone_intact(const struct heap_block *b)
{
	/* LAB 5 BEGIN: compare every byte from payload + requested up to the end tag with REDZONE_BYTE */
	const unsigned char *p = (const unsigned char *)payload(b) + b->requested;
	const unsigned char *end = (const unsigned char *)end_tag(b);

	for (; p < end; p++) {
		if (*p != REDZONE_BYTE)
			return false;
	}
	return true;
	/* LAB 5 STUB: (void)b; return true; */
	/* LAB 5 END */
}

/*
 * The neighbours' tags, checked before freeing @b merges with them: the
 * end tag just below @b and the header just after it must describe real
 * blocks, and a free neighbour's other tag must agree.
 */
static bool neighbours_sane(const struct heap *h, const struct heap_block *b)
{
	uintptr_t end = addr(b) + block_size(b);

	if (addr(b) > h->base) {
		size_t tag = *(const size_t *)(addr(b) - TAG_SIZE);
		uintptr_t prev = addr(b) - (tag & SIZE_MASK);

		if ((tag & SIZE_MASK) > addr(b) - h->base || !size_fits(h, prev, tag))
			return false;
		if ((tag & BLOCK_FREE) &&
		    (!page_is_mapped(h, prev) || block_at(prev)->size != tag ||
		     block_at(prev)->magic != MAGIC_FREE))
			return false;
	}
	if (end < h->brk) {
		const struct heap_block *next = block_at(end);

		if (!size_fits(h, end, next->size))
			return false;
		if (next->magic != (block_is_free(next) ? MAGIC_FREE : MAGIC_LIVE))
			return false;
		if (block_is_free(next) &&
		    (!page_is_mapped(h, (uintptr_t)end_tag(next)) ||
		     *end_tag(next) != next->size))
			return false;
	}
	return true;
}

/*
 * What is wrong with freeing (or resizing) @p, or 0 if it is a live
 * block whose tags, redzone and neighbours are all intact. Only memory
 * that is mapped is read: a pointer into a hole or past the break is
 * answered from the addresses alone.
 */
static enum heap_misuse check_block(const struct heap *h, const void *p)
{
	uintptr_t a = (uintptr_t)p;
	const struct heap_block *b = block_of(p);

	if (a % HEAP_ALIGN || a < h->base + HEADER_SIZE || a >= h->limit)
		return HEAP_MISUSE_BAD_POINTER;
	/* LAB 5 BEGIN: a header at or past the break, in an unmapped page, or with MAGIC_FREE means the memory is free already */
	if (addr(b) >= h->brk || !page_is_mapped(h, addr(b)))
		return HEAP_MISUSE_DOUBLE_FREE;
	if (b->magic == MAGIC_FREE)
		return HEAP_MISUSE_DOUBLE_FREE;
	/* LAB 5 STUB: if (addr(b) >= h->brk || !page_is_mapped(h, addr(b))) return HEAP_MISUSE_BAD_POINTER; */
	/* LAB 5 END */
	if (b->magic != MAGIC_LIVE)
		return HEAP_MISUSE_BAD_POINTER;
	if (block_is_free(b) || !size_fits(h, addr(b), b->size) ||
	    b->requested + REDZONE_MIN > block_size(b) - HEADER_SIZE - TAG_SIZE)
		return HEAP_MISUSE_CORRUPT;
	if (*end_tag(b) != b->size || !redzone_intact(b))
		return HEAP_MISUSE_OVERRUN;
	if (!neighbours_sane(h, b))
		return HEAP_MISUSE_CORRUPT;
	return 0;
}

/* The live block of @p, or NULL after reporting why it is not one. */
static struct heap_block *live_block(struct heap *h, const void *p,
				     const void *caller)
{
	enum heap_misuse kind = check_block(h, p);

	if (kind) {
		report(h, kind, p, caller);
		return NULL;
	}
	return block_of(p);
}

/* ---- freeing ------------------------------------------------------- */

/* The free block just before @b, or NULL (tags checked already). */
static struct heap_block *free_block_before(const struct heap *h,
					    const struct heap_block *b)
{
	size_t tag;

	if (addr(b) == h->base)
		return NULL;
	tag = *(const size_t *)(addr(b) - TAG_SIZE);
	if (!(tag & BLOCK_FREE))
		return NULL;
	return block_at(addr(b) - (tag & SIZE_MASK));
}

/* The free block just after @b, or NULL. */
static struct heap_block *free_block_after(const struct heap *h,
					   const struct heap_block *b)
{
	uintptr_t end = addr(b) + block_size(b);

	if (end >= h->brk || !block_is_free(block_at(end)))
		return NULL;
	return block_at(end);
}

/*
 * Merge the free block @b (tags written, in no bin) with the free blocks
 * on either side of it, taking them out of their bins. Returns the merged
 * block, its tags written, in no bin. The holes of the neighbours it
 * swallowed go to @before and @after: their pages are unmapped already,
 * and the caller must not unmap them twice.
 */
static struct heap_block *coalesce(struct heap *h, struct heap_block *b,
				   struct span *before, struct span *after)
{
	struct heap_block *prev = free_block_before(h, b);
	struct heap_block *next = free_block_after(h, b);

	/* LAB 5 BEGIN: merge b with prev and next (when not NULL): take them out of their bins, record their holes, write one set of tags */
	if (prev) {
		bin_remove(h, prev);
		*before = hole(addr(prev), addr(b));
		set_tags(prev, (block_size(prev) + block_size(b)) | BLOCK_FREE);
		b = prev;
	}
	if (next) {
		bin_remove(h, next);
		*after = hole(addr(next), addr(next) + block_size(next));
		set_tags(b, (block_size(b) + block_size(next)) | BLOCK_FREE);
	}
	/* LAB 5 STUB: (void)prev; (void)next; (void)before; (void)after; */
	/* LAB 5 END */
	return b;
}

/*
 * Turn the block @b (checked, accounted for) into free memory: merge it
 * with its free neighbours, then either cut it off at the break (the
 * break moves down and every page from the block's first whole page up
 * goes back) or unmap its hole and put it in its bin.
 */
static void release(struct heap *h, struct heap_block *b)
{
	struct span before = no_span, after = no_span, unmap[3];
	uintptr_t start, end;
	int n;

	set_tags(b, block_size(b) | BLOCK_FREE);
	b->magic = MAGIC_FREE;
	b->requested = 0;
	b = coalesce(h, b, &before, &after);
	start = addr(b);
	end = start + block_size(b);
	if (end == h->brk) {
		n = span_minus((struct span){ page_up(start), page_up(end) },
			       before, after, unmap);
		decommit(h, unmap, n);
		set_brk(h, start);
		return;
	}
	n = span_minus(hole(start, end), before, after, unmap);
	decommit(h, unmap, n);
	bin_insert(h, b);
}

/* ---- resizing ------------------------------------------------------ */

/*
 * Resize the live block @b to hold @requested bytes without moving it:
 * shrink it (its tail becomes free memory), or grow it over the free
 * block after it, or, if it is the last block, over the break.
 * Returns false, with nothing changed, if it cannot.
 */
static bool resize_in_place(struct heap *h, struct heap_block *b,
			    size_t requested)
{
	size_t need = block_need(requested), have = block_size(b);
	uintptr_t start = addr(b), end = start + have, stop = start + need;
	size_t old = b->requested;
	struct heap_block *next;
	struct span keep = no_span, map[3];
	int n;

	if (need <= have) {
		if (have - need >= MIN_BLOCK) {
			make_live(b, need, requested);
			set_tags(block_at(stop), have - need);
			release(h, block_at(stop));
		} else {
			make_live(b, have, requested);
		}
	} else if (end == h->brk) {
		if (h->limit - start < need)
			return false;
		map[0] = (struct span){ page_up(end), page_up(stop) };
		n = map[0].lo < map[0].hi ? 1 : 0;
		if (commit(h, map, n) < 0)
			return false;
		set_brk(h, stop);
		make_live(b, need, requested);
	} else {
		next = free_block_after(h, b);
		if (!next || have + block_size(next) < need)
			return false;
		end += block_size(next);
		if (end - stop < MIN_BLOCK)
			stop = end;
		if (stop < end)
			keep = hole(stop, end);
		n = span_minus(hole(addr(next), end), keep, no_span, map);
		bin_remove(h, next);
		if (commit(h, map, n) < 0) {
			bin_insert(h, next);
			return false;
		}
		if (stop < end)
			make_free(h, stop, end - stop);
		make_live(b, stop - start, requested);
	}
	h->stats.bytes_in_use = h->stats.bytes_in_use - old + requested;
	if (h->stats.bytes_in_use > h->stats.peak_bytes_in_use)
		h->stats.peak_bytes_in_use = h->stats.bytes_in_use;
	return true;
}

/* ---- the interface ------------------------------------------------- */

int heap_init(struct heap *h, uintptr_t base, size_t size,
	      const struct heap_page_source *src)
{
	if (base % HEAP_PAGE_SIZE || size % HEAP_PAGE_SIZE ||
	    size < HEAP_PAGE_SIZE || base + size < base || !src ||
	    !src->map || !src->unmap || !src->is_mapped)
		return -1;
	memset(h, 0, sizeof(*h));
	h->base = base;
	h->limit = base + size;
	h->brk = base;
	h->src = src;
	return 0;
}

void *heap_alloc(struct heap *h, size_t size, size_t align)
{
	struct heap_block *b, *f;
	size_t need, search;

	if (align < HEAP_ALIGN)
		align = HEAP_ALIGN;
	if (size > HEAP_MAX_ALLOC || align > HEAP_MAX_ALIGN ||
	    (align & (align - 1)))
		goto fail;
	need = block_need(size);
	/* Room to cut an aligned block out of any free block found. */
	search = align > HEAP_ALIGN ? need + align + MIN_BLOCK : need;
	f = find_fit(h, search);
	if (f) {
		bin_remove(h, f);
		b = carve(h, f, place(addr(f), align), need, size);
	} else {
		b = grow(h, need, align, size);
	}
	if (!b)
		goto fail;
	account_alloc(h, size);
	return payload(b);
fail:
	h->stats.failed++;
	return NULL;
}

void *heap_calloc(struct heap *h, size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		h->stats.failed++;
		return NULL;
	}
	p = heap_alloc(h, bytes, HEAP_ALIGN);
	if (p)
		memset(p, 0, bytes);
	return p;
}

void *heap_realloc(struct heap *h, void *p, size_t size, const void *caller)
{
	struct heap_block *b;
	void *q;

	if (!p)
		return heap_alloc(h, size, HEAP_ALIGN);
	b = live_block(h, p, caller);
	if (!b)
		return NULL;
	if (size > HEAP_MAX_ALLOC) {
		h->stats.failed++;
		return NULL;
	}
	if (resize_in_place(h, b, size))
		return p;
	q = heap_alloc(h, size, HEAP_ALIGN);
	if (!q)
		return NULL;
	memcpy(q, p, b->requested < size ? b->requested : size);
	account_free(h, b->requested);
	release(h, b);
	return q;
}

void heap_free(struct heap *h, void *p, const void *caller)
{
	struct heap_block *b;

	if (!p)
		return;
	b = live_block(h, p, caller);
	if (!b)
		return;
	account_free(h, b->requested);
	release(h, b);
}

size_t heap_block_size(struct heap *h, const void *p)
{
	return check_block(h, p) ? 0 : block_of(p)->requested;
}

/* ---- the consistency check ----------------------------------------- */

#define CHECK(cond, what, at)						\
	do {								\
		if (!(cond)) {						\
			*problem = (what);				\
			*where = (at);					\
			return -1;					\
		}							\
	} while (0)

/* Check that the pages of [lo, hi) are all mapped, or all unmapped. */
static bool pages_are(const struct heap *h, uintptr_t lo, uintptr_t hi,
		      bool mapped, uintptr_t *bad)
{
	for (uintptr_t va = page_down(lo); va < hi; va += HEAP_PAGE_SIZE) {
		if (page_is_mapped(h, va) != mapped) {
			*bad = va;
			return false;
		}
	}
	return true;
}

int heap_check(const struct heap *h, const char **problem, uintptr_t *where)
{
	size_t blocks = 0, free_blocks = 0, in_use = 0, pages = 0, listed = 0;
	bool prev_free = false;
	uintptr_t a, bad;

	for (a = h->base; a < h->brk; ) {
		const struct heap_block *b = block_at(a);
		size_t size;

		CHECK(page_is_mapped(h, a), "a block header is not mapped", a);
		CHECK(size_fits(h, a, b->size), "a block size is out of range", a);
		size = block_size(b);
		CHECK(page_is_mapped(h, a + size - TAG_SIZE) && *end_tag(b) == b->size,
		      "a block's end tag differs from its header", a);
		if (block_is_free(b)) {
			struct span s = hole(a, a + size);

			CHECK(b->magic == MAGIC_FREE, "a free block has no free magic", a);
			CHECK(!prev_free, "two free blocks are neighbours", a);
			CHECK(a + size < h->brk, "the block at the break is free", a);
			CHECK(bin_index(size) < HEAP_BINS, "a free block has no bin", a);
			CHECK(pages_are(h, a, a + FREE_HEADER_SIZE, true, &bad) &&
			      pages_are(h, s.lo, s.hi, false, &bad),
			      "a free block's pages are mapped wrongly", bad);
			free_blocks++;
		} else {
			CHECK(b->magic == MAGIC_LIVE, "a live block has no live magic", a);
			CHECK(b->requested + REDZONE_MIN <= size - HEADER_SIZE - TAG_SIZE,
			      "a block's requested size does not fit", a);
			CHECK(redzone_intact(b), "a redzone was overwritten", a);
			CHECK(pages_are(h, a, a + size, true, &bad),
			      "a page of a live block is not mapped", bad);
			blocks++;
			in_use += b->requested;
		}
		prev_free = block_is_free(b);
		a += size;
	}
	CHECK(a == h->brk, "the blocks do not end at the break", a);
	for (a = h->base; a < page_up(h->brk); a += HEAP_PAGE_SIZE)
		pages += page_is_mapped(h, a);
	CHECK(pages == h->stats.pages_held, "pages_held is not the mapped pages", h->brk);

	for (unsigned i = 0; i < HEAP_BINS; i++) {
		bool bit = h->nonempty[i / 64] >> (i % 64) & 1;

		CHECK(bit == (h->bins[i] != NULL), "a bin's bitmap bit is wrong", 0);
		for (const struct heap_block *b = h->bins[i]; b; b = b->next) {
			CHECK(addr(b) >= h->base && addr(b) < h->brk &&
			      addr(b) % HEAP_ALIGN == 0 && block_is_free(b) &&
			      b->magic == MAGIC_FREE, "a bin lists a block that is not free",
			      addr(b));
			CHECK(bin_index(block_size(b)) == i, "a block is in the wrong bin",
			      addr(b));
			CHECK(b->next == NULL || b->next->prev == b,
			      "a bin's links disagree", addr(b));
			CHECK(++listed <= free_blocks, "the bins list more blocks than are free",
			      addr(b));
		}
	}
	CHECK(listed == free_blocks, "a free block is in no bin", h->brk);
	CHECK(free_blocks == h->stats.free_blocks, "free_blocks is wrong", h->brk);
	CHECK(blocks == h->stats.blocks, "blocks is wrong", h->brk);
	CHECK(in_use == h->stats.bytes_in_use, "bytes_in_use is wrong", h->brk);
	CHECK(h->stats.heap_bytes == h->brk - h->base, "heap_bytes is wrong", h->brk);
	return 0;
}
