/*
 * Host unit test of the heap allocator's core (src/mm/heap.c), built with
 * AddressSanitizer and UBSan by `make host-tests`.
 *
 * The heap gets a fake page source: a range of address space reserved
 * with mmap(PROT_NONE), whose pages the heap maps and unmaps through
 * mprotect(). Touching a page the heap gave back is a SIGSEGV, so a heap
 * that reads freed metadata or writes into a hole fails loudly, and the
 * fake checks that the heap never maps a page twice or unmaps one that
 * is not mapped. A page budget makes memory run out on demand.
 *
 * Every test keeps a shadow record of the live blocks (address, size,
 * alignment, a fill pattern) and checks the heap's answers against it:
 * contents survive, blocks do not overlap, alignment holds, and the
 * statistics agree. The random runs use fixed seeds, so a failure can be
 * replayed; `test_heap --long` (or FERN_HEAP_LONG=1) runs many more.
 */
#define _DEFAULT_SOURCE
#include <fern/heap.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "tap.h"

#define PAGE		HEAP_PAGE_SIZE
#define RANGE		(64UL << 20)		/* the heap's virtual range */
#define RANGE_PAGES	(RANGE / PAGE)
#define CALLER		((const void *)0xca11e7)
#define FRESH_BYTE	0xdb			/* what a newly mapped page holds */

/* ---- the fake page source ------------------------------------------ */

struct fake {
	uintptr_t base;
	unsigned char mapped[RANGE_PAGES];
	size_t mapped_count;
	size_t budget;			/* most pages mapped at once */
	int errors;			/* map of a mapped page, and the like */
	const char *first_error;
	int reports;
	enum heap_misuse last_kind;
	const void *last_ptr, *last_caller;
};

static struct fake fake;
static struct heap heap;

static void fake_error(struct fake *f, const char *what)
{
	if (!f->errors++)
		f->first_error = what;
}

static bool in_range(struct fake *f, uintptr_t va, size_t count)
{
	return va % PAGE == 0 && va >= f->base &&
	       count <= RANGE_PAGES && va - f->base <= RANGE - count * PAGE;
}

static int fake_map(void *ctx, uintptr_t va, size_t count)
{
	struct fake *f = ctx;
	size_t first = (va - f->base) / PAGE;

	if (count == 0 || !in_range(f, va, count)) {
		fake_error(f, "map of a range outside the heap, or of no pages");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (f->mapped[first + i])
			fake_error(f, "map of a page that is mapped");
	}
	if (f->mapped_count + count > f->budget)
		return -1;
	if (mprotect((void *)va, count * PAGE, PROT_READ | PROT_WRITE) != 0) {
		fake_error(f, "mprotect failed");
		return -1;
	}
	memset((void *)va, FRESH_BYTE, count * PAGE);
	for (size_t i = 0; i < count; i++)
		f->mapped[first + i] = 1;
	f->mapped_count += count;
	return 0;
}

static void fake_unmap(void *ctx, uintptr_t va, size_t count)
{
	struct fake *f = ctx;
	size_t first = (va - f->base) / PAGE;

	if (count == 0 || !in_range(f, va, count)) {
		fake_error(f, "unmap of a range outside the heap, or of no pages");
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (!f->mapped[first + i])
			fake_error(f, "unmap of a page that is not mapped");
		f->mapped[first + i] = 0;
	}
	madvise((void *)va, count * PAGE, MADV_DONTNEED);
	mprotect((void *)va, count * PAGE, PROT_NONE);
	f->mapped_count -= count;
}

static bool fake_is_mapped(void *ctx, uintptr_t va)
{
	struct fake *f = ctx;

	if (va < f->base || va - f->base >= RANGE)
		return false;
	return f->mapped[(va - f->base) / PAGE];
}

static void fake_report(void *ctx, enum heap_misuse kind, const void *ptr,
			const void *caller)
{
	struct fake *f = ctx;

	f->reports++;
	f->last_kind = kind;
	f->last_ptr = ptr;
	f->last_caller = caller;
}

static const struct heap_page_source fake_source = {
	.map = fake_map,
	.unmap = fake_unmap,
	.is_mapped = fake_is_mapped,
	.report = fake_report,
	.ctx = &fake,
};

/* A fresh heap over the whole range, with at most @budget pages. */
static void setup(size_t budget)
{
	uintptr_t base = fake.base;

	/* Whatever a test left mapped goes. */
	mprotect((void *)base, RANGE, PROT_NONE);
	madvise((void *)base, RANGE, MADV_DONTNEED);
	memset(&fake, 0, sizeof(fake));
	fake.base = base;
	fake.budget = budget;
	if (heap_init(&heap, base, RANGE, &fake_source) != 0) {
		printf("Bail out! heap_init refused the test range\n");
		exit(1);
	}
}

/* ---- the shadow record --------------------------------------------- */

struct shadow {
	unsigned char *p;
	size_t size;
	size_t align;
	uint32_t seed;
};

#define MAX_LIVE 8192
static struct shadow live[MAX_LIVE];
static size_t nlive;

/*
 * A block's contents: bytes of a fixed random table, from a place that
 * depends on the block's seed. Every block and position differs, and
 * filling and checking are memcpy() and memcmp() of table slices.
 */
#define PERIOD 4093
static unsigned char table[2 * PERIOD];

static void make_table(void)
{
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof(table); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		table[i] = (unsigned char)x;
	}
	memcpy(table + PERIOD, table, PERIOD);
}

static const unsigned char *expected(const struct shadow *s, size_t i)
{
	return table + (s->seed * 131u + i) % PERIOD;
}

static void fill(const struct shadow *s, size_t from)
{
	for (size_t i = from, n; i < s->size; i += n) {
		n = s->size - i < PERIOD ? s->size - i : PERIOD;
		memcpy(s->p + i, expected(s, i), n);
	}
}

/* The first of the first @upto bytes of @s that lost its pattern, or -1. */
static long damaged_at(const struct shadow *s, size_t upto)
{
	if (upto > s->size)
		upto = s->size;
	for (size_t i = 0, n; i < upto; i += n) {
		n = upto - i < PERIOD ? upto - i : PERIOD;
		if (memcmp(s->p + i, expected(s, i), n) == 0)
			continue;
		for (size_t j = i; j < i + n; j++) {
			if (s->p[j] != *expected(s, j))
				return (long)j;
		}
	}
	return -1;
}

static int compare_address(const void *a, const void *b)
{
	const struct shadow *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/*
 * What must hold whatever the test did: the page source's view equals
 * the heap's, no misuse was reported, and heap_check() passes. Prints
 * the first problem as a diagnostic; returns whether all held.
 */
static bool check_heap(const char *when)
{
	const char *problem;
	uintptr_t where;

	if (heap.stats.pages_held != fake.mapped_count) {
		printf("# %s: pages_held %zu, but %zu pages are mapped\n", when,
		       heap.stats.pages_held, fake.mapped_count);
		return false;
	}
	if (fake.errors) {
		printf("# %s: page source: %s\n", when, fake.first_error);
		return false;
	}
	if (fake.reports) {
		printf("# %s: unexpected misuse report: %s at %p\n", when,
		       heap_misuse_name(fake.last_kind), fake.last_ptr);
		return false;
	}
	if (heap_check(&heap, &problem, &where) != 0) {
		printf("# %s: heap_check: %s (at 0x%lx)\n", when, problem,
		       (unsigned long)where);
		return false;
	}
	return true;
}

/*
 * Everything the shadow record promises, and check_heap(): alignment, no
 * overlap, statistics equal to the record's sums, and (if @contents) every
 * block's contents intact.
 */
static bool verify(const char *when, bool contents)
{
	static struct shadow sorted[MAX_LIVE];
	size_t bytes = 0;

	for (size_t i = 0; i < nlive; i++) {
		long bad = contents ? damaged_at(&live[i], live[i].size) : -1;

		if (bad >= 0) {
			printf("# %s: block %p (%zu bytes) changed at byte %ld\n",
			       when, (void *)live[i].p, live[i].size, bad);
			return false;
		}
		if ((uintptr_t)live[i].p % live[i].align) {
			printf("# %s: block %p is not aligned to %zu\n", when,
			       (void *)live[i].p, live[i].align);
			return false;
		}
		bytes += live[i].size;
	}
	memcpy(sorted, live, nlive * sizeof(live[0]));
	qsort(sorted, nlive, sizeof(sorted[0]), compare_address);
	for (size_t i = 1; i < nlive; i++) {
		if (sorted[i - 1].p + sorted[i - 1].size > sorted[i].p ||
		    sorted[i - 1].p == sorted[i].p) {
			printf("# %s: blocks %p (%zu bytes) and %p overlap\n", when,
			       (void *)sorted[i - 1].p, sorted[i - 1].size,
			       (void *)sorted[i].p);
			return false;
		}
	}
	if (heap.stats.bytes_in_use != bytes || heap.stats.blocks != nlive) {
		printf("# %s: stats say %zu bytes in %zu blocks; the record %zu in %zu\n",
		       when, heap.stats.bytes_in_use, heap.stats.blocks, bytes, nlive);
		return false;
	}
	return check_heap(when);
}

static bool verify_all(const char *when)
{
	return verify(when, true);
}

/* Whether the heap is back to its empty state: nothing held at all. */
static bool at_baseline(const char *when)
{
	if (heap.stats.bytes_in_use || heap.stats.blocks || heap.stats.free_blocks ||
	    heap.stats.pages_held || heap.stats.heap_bytes || fake.mapped_count) {
		printf("# %s: not empty: %zu bytes in %zu blocks, %zu free blocks, "
		       "%zu pages held (%zu mapped), heap %zu bytes\n", when,
		       heap.stats.bytes_in_use, heap.stats.blocks,
		       heap.stats.free_blocks, heap.stats.pages_held,
		       fake.mapped_count, heap.stats.heap_bytes);
		return false;
	}
	return true;
}

static uint32_t next_seed = 1;

/* Allocate, record and fill; false (recording nothing) on NULL. */
static bool add(size_t size, size_t align)
{
	unsigned char *p = heap_alloc(&heap, size, align);
	struct shadow *s;

	if (!p || nlive == MAX_LIVE)
		return false;
	s = &live[nlive++];
	*s = (struct shadow){ p, size, align < HEAP_ALIGN ? HEAP_ALIGN : align,
			      next_seed++ };
	fill(s, 0);
	return true;
}

/* Check the pattern of live[i], free it and drop it from the record. */
static bool drop(size_t i)
{
	bool ok = damaged_at(&live[i], live[i].size) < 0;

	heap_free(&heap, live[i].p, CALLER);
	live[i] = live[--nlive];
	return ok;
}

static bool drop_all(void)
{
	bool ok = true;

	while (nlive)
		ok &= drop(nlive - 1);
	return ok;
}

/* ---- random runs --------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* (Vigna, 2016): fixed seeds give fixed runs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Mostly small blocks, some page-sized, a few large ones. */
static size_t rnd_size(void)
{
	unsigned r = (unsigned)rnd_below(100);

	if (r < 60)
		return 1 + rnd_below(256);
	if (r < 85)
		return 257 + rnd_below(4096 - 256);
	if (r < 97)
		return 4097 + rnd_below(65536 - 4096);
	return 65537 + rnd_below(1 << 20);
}

static size_t rnd_align(void)
{
	if (rnd_below(10))
		return HEAP_ALIGN;
	return (size_t)1 << (4 + rnd_below(rnd_below(8) ? 9 : 14));
}

/*
 * One random run: allocations (plain, aligned, zeroed), frees and
 * reallocations in random order, each checked against the record, with
 * a verify() every @check_every steps (contents every tenth time). With a small @budget
 * allocations fail on the way; a NULL must leave everything as it was.
 */
static bool random_run(uint64_t seed, int steps, int check_every, size_t budget,
		       int *nulls)
{
	char when[64];

	setup(budget);
	nlive = 0;
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	*nulls = 0;
	for (int step = 1; step <= steps; step++) {
		unsigned op = (unsigned)rnd_below(100);

		snprintf(when, sizeof(when), "seed %llu step %d",
			 (unsigned long long)seed, step);
		if (op < 40 || nlive == 0) {
			size_t before = heap.stats.failed;

			if (nlive == MAX_LIVE)
				continue;
			if (!add(rnd_size(), rnd_align())) {
				(*nulls)++;
				if (heap.stats.failed != before + 1) {
					printf("# %s: a NULL was not counted as failed\n", when);
					return false;
				}
			}
		} else if (op < 45) {
			size_t n = 1 + rnd_below(64), size = 1 + rnd_below(64);
			unsigned char *p = heap_calloc(&heap, n, size);

			if (!p) {
				(*nulls)++;
				continue;
			}
			for (size_t i = 0; i < n * size; i++) {
				if (p[i]) {
					printf("# %s: kcalloc'd byte %zu is 0x%02x\n", when, i, p[i]);
					return false;
				}
			}
			live[nlive] = (struct shadow){ p, n * size, HEAP_ALIGN, next_seed++ };
			fill(&live[nlive++], 0);
		} else if (op < 75) {
			if (!drop(rnd_below(nlive))) {
				printf("# %s: a block changed before it was freed\n", when);
				return false;
			}
		} else {
			struct shadow *s = &live[rnd_below(nlive)];
			size_t size = rnd_below(3) ? rnd_size() : rnd_below(s->size + 1);
			unsigned char *q = heap_realloc(&heap, s->p, size, CALLER);
			size_t kept = size < s->size ? size : s->size;

			if (!q) {
				(*nulls)++;
				if (damaged_at(s, s->size) >= 0) {
					printf("# %s: a failed krealloc changed the block\n", when);
					return false;
				}
				continue;
			}
			if (q != s->p)
				s->align = HEAP_ALIGN;	/* a moved block is 16-aligned */
			s->p = q;
			if (damaged_at(s, kept) >= 0) {
				printf("# %s: krealloc from %zu to %zu bytes lost the contents\n",
				       when, s->size, size);
				return false;
			}
			s->size = size;
			fill(s, kept);
		}
		if (step % check_every == 0 &&
		    !verify(when, step % (check_every * 10) == 0))
			return false;
	}
	snprintf(when, sizeof(when), "seed %llu end", (unsigned long long)seed);
	if (!verify_all(when) || !drop_all())
		return false;
	return verify_all(when) && at_baseline(when);
}

/* ---- tests --------------------------------------------------------- */

static void test_init(void)
{
	struct heap h;

	tap_ok(heap_init(&h, fake.base + 8, RANGE - PAGE, &fake_source) < 0,
	       "heap_init refuses a range that does not start on a page");
	tap_ok(heap_init(&h, fake.base, PAGE + 1, &fake_source) < 0,
	       "heap_init refuses a size that is not whole pages");
	tap_ok(heap_init(&h, fake.base, 0, &fake_source) < 0,
	       "heap_init refuses an empty range");
	setup(RANGE_PAGES);
	tap_ok(at_baseline("new heap") && heap.stats.failed == 0,
	       "a new heap holds nothing");
}

static void test_every_size(void)
{
	bool aligned = true, ok;

	setup(RANGE_PAGES);
	nlive = 0;
	for (size_t size = 1; size <= 4096; size++) {
		if (!add(size, 0)) {
			printf("# kmalloc(%zu) returned NULL\n", size);
			aligned = false;
			break;
		}
		aligned &= (uintptr_t)live[nlive - 1].p % 16 == 0;
	}
	tap_ok(aligned, "every size 1..4096 is allocated aligned to 16");
	ok = verify_all("4096 live blocks");
	tap_ok(ok, "4096 live blocks keep their contents and do not overlap");
	/* Free in a scrambled order, so merges happen on both sides. */
	rng_state = 42;
	while (nlive) {
		size_t i = rnd_below(nlive);

		ok &= drop(i);
	}
	tap_ok(ok && verify_all("after freeing") && at_baseline("after freeing"),
	       "freeing all 4096 in random order gives every page back");
}

static void test_zero_size(void)
{
	void *a, *b;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 0, 0);
	b = heap_alloc(&heap, 0, 0);
	tap_ok(a && b && a != b, "kmalloc(0) gives distinct blocks, not NULL");
	heap_free(&heap, a, CALLER);
	heap_free(&heap, b, CALLER);
	heap_free(&heap, NULL, CALLER);
	tap_ok(fake.reports == 0 && at_baseline("zero-size"),
	       "they are freed like any block, and kfree(NULL) does nothing");
}

static void test_coalescing(void)
{
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	bool ok = true;

	for (int o = 0; o < 6; o++) {
		unsigned char *p[3], *guard, *merged;

		setup(RANGE_PAGES);
		for (int i = 0; i < 3; i++)
			p[i] = heap_alloc(&heap, 1000, 0);
		guard = heap_alloc(&heap, 1000, 0);
		ok &= p[0] < p[1] && p[1] < p[2] && p[2] < guard;
		for (int i = 0; i < 3; i++)
			heap_free(&heap, p[orders[o][i]], CALLER);
		/* Three blocks held 3 x 1000 bytes: merged, they hold 3000. */
		merged = heap_alloc(&heap, 3000, 0);
		if (merged != p[0]) {
			printf("# order %d %d %d: 3000 bytes went to %p, not %p\n",
			       orders[o][0], orders[o][1], orders[o][2],
			       (void *)merged, (void *)p[0]);
			ok = false;
		}
		heap_free(&heap, merged, CALLER);
		heap_free(&heap, guard, CALLER);
		ok &= at_baseline("coalescing") && fake.reports == 0;
	}
	tap_ok(ok, "three freed neighbours merge, in all six orders");
}

static void test_pages_back(void)
{
	unsigned char *a, *big, *b;
	size_t held;
	bool ok;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 100, 0);
	big = heap_alloc(&heap, 1 << 20, 0);
	b = heap_alloc(&heap, 100, 0);
	held = heap.stats.pages_held;
	ok = held >= (1 << 20) / PAGE;
	heap_free(&heap, big, CALLER);
	/* A free block keeps at most its first and last page mapped. */
	ok &= heap.stats.pages_held <= held - (1 << 20) / PAGE + 2;
	tap_ok(ok && check_heap("big freed"),
	       "freeing a 1 MiB block in the middle gives its inner pages back");
	big = heap_alloc(&heap, 1 << 20, 0);
	memset(big, 0x55, 1 << 20);
	tap_ok(big && check_heap("big again"),
	       "the same space is mapped again when it is allocated again");
	heap_free(&heap, b, CALLER);
	tap_ok(heap.stats.heap_bytes < (1 << 20) + 4 * PAGE,
	       "freeing the last block moves the break down");
	heap_free(&heap, big, CALLER);
	heap_free(&heap, a, CALLER);
	tap_ok(at_baseline("all freed"), "a heap whose blocks are all free holds no page");
}

static void test_fragmentation(void)
{
	size_t held_full, held_half;
	bool ok = true;

	setup(RANGE_PAGES);
	nlive = 0;
	rng_state = 7;
	for (int i = 0; i < 4000; i++)
		ok &= add(32 + rnd_below(400), 0);
	held_full = heap.stats.pages_held;
	/*
	 * Free every other block (the record is in allocation order): the
	 * holes are smaller than a page, so no page is entirely free.
	 */
	for (size_t i = 0, kept = 0, n = nlive; i < n; i++) {
		if (i % 2) {
			ok &= damaged_at(&live[i], live[i].size) < 0;
			heap_free(&heap, live[i].p, CALLER);
		} else {
			live[kept++] = live[i];
		}
		if (i == n - 1)
			nlive = kept;
	}
	held_half = heap.stats.pages_held;
	ok &= verify_all("half freed");
	tap_ok(ok && held_half * 10 >= held_full * 9,
	       "freeing every other small block keeps the pages (fragmentation: %zu of %zu)",
	       held_half, held_full);
	ok &= drop_all();
	tap_ok(ok && verify_all("all freed") && at_baseline("all freed"),
	       "freeing the rest merges everything and gives every page back");
}

/* Run one misuse and check the report: kind, pointer and caller. */
static bool expect_report(enum heap_misuse kind, const void *ptr,
			  size_t blocks_before, const char *what)
{
	bool ok = fake.reports == 1 && fake.last_kind == kind &&
		  fake.last_ptr == ptr && fake.last_caller == CALLER &&
		  heap.stats.blocks == blocks_before && heap.stats.misuses == 1;

	if (!ok)
		printf("# %s: %d reports, last %s at %p by %p\n", what, fake.reports,
		       fake.reports ? heap_misuse_name(fake.last_kind) : "-",
		       fake.last_ptr, fake.last_caller);
	fake.reports = 0;
	heap.stats.misuses = 0;
	return ok;
}

static void test_double_free(void)
{
	unsigned char *a, *b, *guard, *guard2, *big;
	size_t blocks;
	bool ok;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 64, 0);
	guard = heap_alloc(&heap, 64, 0);
	heap_free(&heap, a, CALLER);
	blocks = heap.stats.blocks;
	heap_free(&heap, a, CALLER);
	ok = expect_report(HEAP_MISUSE_DOUBLE_FREE, a, blocks, "small");
	tap_ok(ok && check_heap("double free"), "a double free is reported, and ignored");

	a = heap_alloc(&heap, 8192, 0);
	b = heap_alloc(&heap, 200, 0);
	guard2 = heap_alloc(&heap, 64, 0);
	heap_free(&heap, a, CALLER);
	heap_free(&heap, b, CALLER);
	blocks = heap.stats.blocks;
	heap_free(&heap, b, CALLER);
	ok = expect_report(HEAP_MISUSE_DOUBLE_FREE, b, blocks, "merged");
	tap_ok(ok && check_heap("merged double free"),
	       "a double free of a block merged into its neighbour is reported");

	a = heap_alloc(&heap, 8192, 0);
	big = heap_alloc(&heap, 65536, 0);
	b = heap_alloc(&heap, 64, 0);
	heap_free(&heap, a, CALLER);
	heap_free(&heap, big, CALLER);
	blocks = heap.stats.blocks;
	heap_free(&heap, big, CALLER);
	ok = expect_report(HEAP_MISUSE_DOUBLE_FREE, big, blocks, "given back");
	tap_ok(ok && check_heap("given-back double free"),
	       "a double free of memory already given back is reported, not a crash");

	heap_free(&heap, b, CALLER);
	blocks = heap.stats.blocks;
	heap_free(&heap, b, CALLER);
	ok = expect_report(HEAP_MISUSE_DOUBLE_FREE, b, blocks, "past the break");
	tap_ok(ok && check_heap("past the break"),
	       "a double free of the last block, now past the break, is reported");
	heap_free(&heap, guard, CALLER);
	heap_free(&heap, guard2, CALLER);
	tap_ok(at_baseline("double frees"), "the heap is whole after the double frees");
}

static void test_bad_pointer(void)
{
	unsigned char *a = NULL;
	int local;
	bool ok = true;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 256, 0);
	heap_free(&heap, &local, CALLER);
	ok &= expect_report(HEAP_MISUSE_BAD_POINTER, &local, 1, "stack");
	heap_free(&heap, a + 8, CALLER);
	ok &= expect_report(HEAP_MISUSE_BAD_POINTER, a + 8, 1, "misaligned");
	heap_free(&heap, a + 64, CALLER);
	ok &= expect_report(HEAP_MISUSE_BAD_POINTER, a + 64, 1, "inside");
	heap_free(&heap, (void *)(fake.base + RANGE + 4096), CALLER);
	ok &= expect_report(HEAP_MISUSE_BAD_POINTER, (void *)(fake.base + RANGE + 4096),
			    1, "past the range");
	tap_ok(ok && check_heap("bad pointers"),
	       "a pointer the heap never returned is reported (stack, misaligned, inside a block, outside)");
	ok = heap_realloc(&heap, a + 64, 10, CALLER) == NULL;
	ok &= expect_report(HEAP_MISUSE_BAD_POINTER, a + 64, 1, "realloc");
	tap_ok(ok, "krealloc of a bad pointer is reported and returns NULL");
	heap_free(&heap, a, CALLER);
	tap_ok(at_baseline("bad pointers") && fake.reports == 0,
	       "the real block is still freed normally afterwards");
}

static void test_overrun(void)
{
	unsigned char *a, *b;
	bool ok;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 100, 0);
	b = heap_alloc(&heap, 100, 0);
	a[100] = 0;
	heap_free(&heap, a, CALLER);
	ok = expect_report(HEAP_MISUSE_OVERRUN, a, 2, "one byte");
	tap_ok(ok, "a one-byte write past the end is caught when the block is freed");
	ok = heap_realloc(&heap, a, 200, CALLER) == NULL;
	ok &= expect_report(HEAP_MISUSE_OVERRUN, a, 2, "realloc");
	tap_ok(ok, "krealloc of an overrun block is reported and returns NULL");
	memset(b + 100, 0, 24);
	heap_free(&heap, b, CALLER);
	ok = expect_report(HEAP_MISUSE_OVERRUN, b, 2, "24 bytes");
	tap_ok(ok, "a longer overrun, over the end tag, is caught");
	a = heap_alloc(&heap, 100, 0);
	a[-1] ^= 0x40;
	heap_free(&heap, a, CALLER);
	ok = expect_report(HEAP_MISUSE_CORRUPT, a, 3, "header");
	tap_ok(ok, "a write into a block's header is reported as corruption");
}

/*
 * Every block has at least 8 bytes of redzone: a write to the 8th alone,
 * the first 7 untouched, must be caught too (a check of the first byte
 * only passes every other test).
 */
static void test_overrun_far(void)
{
	unsigned char *a, *b;
	bool ok;

	setup(RANGE_PAGES);
	a = heap_alloc(&heap, 40, 0);
	b = heap_alloc(&heap, 40, 0);
	a[47] = 0;
	heap_free(&heap, a, CALLER);
	ok = expect_report(HEAP_MISUSE_OVERRUN, a, 2, "last redzone byte");
	tap_ok(ok, "a write to the redzone's last byte alone is caught, not only its first");
	heap_free(&heap, b, CALLER);
}

static void test_oom(void)
{
	void *p[64];
	int n = 0;
	bool ok;

	setup(64);
	while (n < 64 && (p[n] = heap_alloc(&heap, 16 * 1024, 0)))
		n++;
	tap_ok(n > 0 && n < 64 && heap.stats.failed == 1 && fake.reports == 0,
	       "with 64 pages, 16 KiB blocks run out: NULL, counted as failed (%d fit)", n);
	ok = check_heap("out of memory");
	heap_free(&heap, p[n / 2], CALLER);
	p[n / 2] = heap_alloc(&heap, 16 * 1024, 0);
	tap_ok(ok && p[n / 2] && check_heap("after oom"),
	       "after a NULL the heap is consistent, and a freed block can be had again");
	for (int i = 0; i < n; i++)
		heap_free(&heap, p[i], CALLER);
	tap_ok(at_baseline("oom freed"), "freeing everything after running out gives all back");

	setup(RANGE_PAGES);
	tap_ok(heap_alloc(&heap, RANGE, 0) == NULL && heap.stats.failed == 1 &&
	       at_baseline("too big"),
	       "a block bigger than the heap's range is NULL, and nothing stays mapped");
	tap_ok(heap_alloc(&heap, SIZE_MAX, 0) == NULL &&
	       heap_alloc(&heap, HEAP_MAX_ALLOC + 1, 0) == NULL,
	       "absurd sizes are NULL, not an overflow");

	/* Run out while splitting a free block whose pages were given back. */
	setup(RANGE_PAGES);
	nlive = 0;
	{
		void *big = heap_alloc(&heap, 1 << 20, 0);

		add(100, 0);
		heap_free(&heap, big, CALLER);
		fake.budget = fake.mapped_count + 8;
		ok = heap_alloc(&heap, 512 * 1024, 0) == NULL;
		ok &= verify_all("split failed");
		fake.budget = RANGE_PAGES;
		ok &= add(512 * 1024, 0) && verify_all("split again");
	}
	tap_ok(ok, "running out while reusing a free block leaves it free and whole");
	/* And while growing a block in place. */
	fake.budget = fake.mapped_count;
	{
		struct shadow *s = &live[nlive - 1];

		ok = heap_realloc(&heap, s->p, s->size + (256 << 10), CALLER) == NULL;
		ok &= damaged_at(s, s->size) < 0 && verify_all("realloc failed");
	}
	fake.budget = RANGE_PAGES;
	tap_ok(ok, "a krealloc that runs out returns NULL and keeps the block");
	tap_ok(drop_all() && at_baseline("oom end"), "and all of it is freed cleanly");
}

static void test_realloc(void)
{
	unsigned char *a, *b, *guard, *q;
	bool ok = true;

	setup(RANGE_PAGES);
	nlive = 0;
	add(10, 0);
	for (size_t size = 11; size < 70000; size = size * 3 / 2) {
		struct shadow *s = &live[0];
		size_t old = s->size;

		q = heap_realloc(&heap, s->p, size, CALLER);
		ok &= q != NULL;
		if (!q)
			break;
		s->p = q;
		ok &= damaged_at(s, old) < 0;
		s->size = size;
		fill(s, old);
	}
	tap_ok(ok && verify_all("grown"), "krealloc grows a block step by step keeping its contents");
	for (size_t size = live[0].size; size > 0; size /= 3) {
		q = heap_realloc(&heap, live[0].p, size, CALLER);
		ok &= q == live[0].p;
		live[0].size = size;
		ok &= damaged_at(&live[0], size) < 0;
	}
	tap_ok(ok && verify_all("shrunk"), "krealloc shrinks in place keeping the start");
	q = heap_realloc(&heap, live[0].p, 0, CALLER);
	live[0].p = q;
	live[0].size = 0;
	tap_ok(q != NULL && verify_all("size 0"), "krealloc to 0 bytes gives a 0-byte block, not NULL");
	ok = drop_all();

	a = heap_alloc(&heap, 100, 0);
	b = heap_alloc(&heap, 1000, 0);
	guard = heap_alloc(&heap, 100, 0);
	heap_free(&heap, b, CALLER);
	memset(a, 0x11, 100);
	q = heap_realloc(&heap, a, 900, CALLER);
	tap_ok(q == a && q[99] == 0x11, "krealloc grows in place over a free neighbour");
	memset(guard, 0x22, 100);
	q = heap_realloc(&heap, guard, 50000, CALLER);
	tap_ok(q == guard && q[99] == 0x22, "krealloc grows the last block in place over the break");
	heap_free(&heap, a, CALLER);
	heap_free(&heap, q, CALLER);
	q = heap_realloc(&heap, NULL, 77, CALLER);
	tap_ok(q && heap.stats.blocks == 1, "krealloc(NULL, n) allocates");
	heap_free(&heap, q, CALLER);
	tap_ok(ok && fake.reports == 0 && at_baseline("realloc"), "all krealloc'd blocks free cleanly");
}

static void test_calloc(void)
{
	unsigned char *p;
	bool zero = true;

	setup(RANGE_PAGES);
	tap_ok(heap_calloc(&heap, SIZE_MAX / 2 + 1, 2) == NULL && heap.stats.failed == 1,
	       "kcalloc(n, size) with n * size overflowing is NULL, counted as failed");
	tap_ok(heap_calloc(&heap, (size_t)1 << 32, (size_t)1 << 32) == NULL,
	       "kcalloc(2^32, 2^32) is NULL");
	p = heap_alloc(&heap, 5000, 0);
	memset(p, 0xff, 5000);
	heap_free(&heap, p, CALLER);
	p = heap_calloc(&heap, 1000, 5);
	for (int i = 0; p && i < 5000; i++)
		zero &= p[i] == 0;
	tap_ok(p && zero, "kcalloc zeroes memory that was used before");
	heap_free(&heap, p, CALLER);
	tap_ok(heap_calloc(&heap, 0, 10) != NULL, "kcalloc(0, n) gives a 0-byte block");
}

static void test_aligned(void)
{
	static const size_t sizes[] = { 1, 15, 16, 100, 4095, 4096, 5000 };
	bool ok = true, in_page = true;

	setup(RANGE_PAGES);
	nlive = 0;
	rng_state = 99;
	/* Plain blocks around, half freed: aligned ones come from free space too. */
	for (int i = 0; i < 300; i++)
		ok &= add(1 + rnd_below(3000), 0);
	for (int i = 0; i < 150; i++)
		ok &= drop(rnd_below(nlive));
	for (size_t align = 16; align <= HEAP_MAX_ALIGN; align *= 2) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			unsigned char *p;

			if (!add(sizes[i], align)) {
				printf("# kmalloc_aligned(%zu, %zu) is NULL\n", sizes[i], align);
				ok = false;
				continue;
			}
			p = live[nlive - 1].p;
			ok &= (uintptr_t)p % align == 0;
			if (sizes[i] <= align && align <= PAGE)
				in_page &= (uintptr_t)p / PAGE == ((uintptr_t)p + sizes[i] - 1) / PAGE;
		}
	}
	tap_ok(ok && verify_all("aligned"),
	       "aligned allocations for every power of two 16..2 MiB are aligned and intact");
	tap_ok(in_page, "a block no bigger than its alignment (up to a page) stays in one page");
	tap_ok(heap_alloc(&heap, 10, 24) == NULL && heap_alloc(&heap, 10, HEAP_MAX_ALIGN * 2) == NULL,
	       "an alignment that is not a power of two, or too big, is NULL");
	ok = drop_all();
	tap_ok(ok && at_baseline("aligned freed"), "freeing them gives everything back");
}

static void test_block_size(void)
{
	void *p;

	setup(RANGE_PAGES);
	p = heap_alloc(&heap, 123, 0);
	tap_ok(heap_block_size(&heap, p) == 123 && heap_block_size(&heap, (char *)p + 16) == 0,
	       "heap_block_size gives the size asked for, and 0 for a non-block");
	heap_free(&heap, p, CALLER);
	tap_ok(fake.reports == 0, "heap_block_size reports nothing");
}

static void test_random(bool longer)
{
	int seeds = longer ? 200 : 8;
	int steps = longer ? 20000 : 3000;
	int every = longer ? 500 : 25;
	int nulls;

	for (int seed = 1; seed <= seeds; seed++) {
		bool ok = random_run((uint64_t)seed, steps, every, RANGE_PAGES, &nulls);

		tap_ok(ok, "random run, seed %d: %d steps match the shadow record", seed, steps);
	}
	for (int seed = 1; seed <= (longer ? 50 : 4); seed++) {
		bool ok = random_run((uint64_t)seed + 1000, steps, every, 600, &nulls);

		tap_ok(ok && nulls > 0,
		       "random run with 600 pages, seed %d: %d NULLs, the rest matches the record",
		       seed + 1000, nulls);
	}
}

int main(int argc, char **argv)
{
	bool longer = (argc > 1 && strcmp(argv[1], "--long") == 0) ||
		      (getenv("FERN_HEAP_LONG") && strcmp(getenv("FERN_HEAP_LONG"), "0"));
	void *range = mmap(NULL, RANGE, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (range == MAP_FAILED) {
		printf("Bail out! cannot reserve %lu MiB of address space\n", RANGE >> 20);
		return 1;
	}
	fake.base = (uintptr_t)range;
	make_table();
	test_init();
	test_every_size();
	test_zero_size();
	test_coalescing();
	test_pages_back();
	test_fragmentation();
	test_double_free();
	test_bad_pointer();
	test_overrun();
	test_oom();
	test_realloc();
	test_calloc();
	test_aligned();
	test_block_size();
	test_random(longer);
	test_overrun_far();
	munmap(range, RANGE);
	return tap_done();
}
