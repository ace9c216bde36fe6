/*
 * In-kernel tests of the kernel heap: kmalloc() and friends on real page
 * tables and real frames. The host test (tests/host/test_heap.c) checks
 * the allocator core in depth under sanitizers; these check that the
 * kernel's heap keeps the same promises, stated in heap.h.
 *
 * Each test puts back what it took, and checks it: the statistics return
 * to what they were before the test, and heap_check() finds the heap's
 * invariants intact. The KTEST_EXPLICIT cases at the end are deliberate
 * misuse: each stops the kernel, so each runs alone (test=heap-double-free
 * and so on) and the harness reads the report.
 */
#include <fern/console.h>
#include <fern/heap.h>
#include <fern/ktest.h>
#include <fern/mm.h>
#include <fern/string.h>

/* ---- helpers ------------------------------------------------------- */

/* The statistics before a test, and a check that they came back. */
static struct heap_stats before;

static void take_baseline(void)
{
	kheap_stats(&before);
}

/*
 * Everything the test allocated is freed: the same bytes and blocks are
 * in use as before it.
 */
static void expect_freed(struct ktest_ctx *ktest)
{
	struct heap_stats now;

	kheap_stats(&now);
	KTEST_EXPECT_EQ(now.bytes_in_use, before.bytes_in_use);
	KTEST_EXPECT_EQ(now.blocks, before.blocks);
}

/* The invariants of heap.h hold: heap_check() walks the whole heap. */
static void expect_consistent(struct ktest_ctx *ktest)
{
	const char *problem;
	uintptr_t where;

	if (heap_check(kheap(), &problem, &where) != 0) {
		kprintf("# heap_check: %s (at 0x%lx)\n", problem, where);
		KTEST_EXPECT(!"the heap's invariants hold");
	}
}

/*
 * expect_freed(), and the memory came back: no more pages are held than
 * before the test, and the heap is consistent. Only blocks that merge
 * when freed give all their pages back.
 */
static void expect_baseline(struct ktest_ctx *ktest)
{
	struct heap_stats now;

	expect_freed(ktest);
	kheap_stats(&now);
	if (!KTEST_EXPECT(now.pages_held <= before.pages_held))
		kprintf("# %zu pages held, %zu before the test\n", now.pages_held,
			before.pages_held);
	expect_consistent(ktest);
}

static uint64_t rng;

/* xorshift64 (Marsaglia, 2003): a fixed seed gives a fixed sequence. */
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Byte @i of the block with tag @tag: differs by block and position. */
static unsigned char pattern(unsigned tag, size_t i)
{
	return (unsigned char)(tag * 31 + i * 7 + (i >> 8));
}

static void fill(unsigned char *p, size_t size, unsigned tag)
{
	for (size_t i = 0; i < size; i++)
		p[i] = pattern(tag, i);
}

static bool intact(const unsigned char *p, size_t size, unsigned tag)
{
	for (size_t i = 0; i < size; i++) {
		if (p[i] != pattern(tag, i))
			return false;
	}
	return true;
}

/* ---- suite heap ----------------------------------------------------- */

KTEST(heap, "every size from 1 to 4096 is aligned to 16 and keeps its bytes")
{
	unsigned char **blocks;
	bool aligned = true, kept = true;
	size_t n;

	take_baseline();
	blocks = kmalloc(4096 * sizeof(*blocks));
	KTEST_ASSERT(blocks != NULL);
	/* All live at once: a block that overlapped another would lose bytes. */
	for (n = 0; n < 4096; n++) {
		blocks[n] = kmalloc(n + 1);
		if (!blocks[n])
			break;
		aligned &= (uintptr_t)blocks[n] % 16 == 0;
		fill(blocks[n], n + 1, (unsigned)n);
	}
	KTEST_EXPECT_EQ(n, 4096);
	KTEST_EXPECT(aligned);
	for (size_t i = 0; i < n; i++)
		kept &= intact(blocks[i], i + 1, (unsigned)i);
	KTEST_EXPECT(kept);
	/* Free in a scrambled order, so that blocks merge on both sides. */
	for (size_t i = 0; i < n; i++)
		kfree(blocks[(i * 2053) % n]);
	kfree(blocks);
	expect_freed(ktest);
}

KTEST(heap, "kmalloc(0) gives distinct blocks and kfree(NULL) does nothing")
{
	void *a, *b;

	take_baseline();
	a = kmalloc(0);
	b = kmalloc(0);
	KTEST_EXPECT(a != NULL && b != NULL && a != b);
	kfree(NULL);
	kfree(a);
	kfree(b);
	expect_freed(ktest);
}

KTEST(heap, "a request bigger than the heap can hold is NULL, counted as failed")
{
	struct heap_stats after;

	take_baseline();
	KTEST_EXPECT(kmalloc(HEAP_MAX_ALLOC + 1) == NULL);
	KTEST_EXPECT(kmalloc((size_t)-1) == NULL);
	KTEST_EXPECT(kmalloc_aligned(16, 24) == NULL);
	kheap_stats(&after);
	KTEST_EXPECT_EQ(after.failed, before.failed + 3);
	expect_freed(ktest);
}

/* ---- suite heap-random --------------------------------------------- */

#define RANDOM_SLOTS	128
#define RANDOM_STEPS	4000

/* The shadow record: what each slot's block should hold. */
static struct {
	unsigned char *p;
	size_t size;
	unsigned tag;
} slot[RANDOM_SLOTS];

/* Mostly small, some of a few pages, a few of tens of KiB. */
static size_t random_size(void)
{
	size_t r = rnd_below(100);

	if (r < 70)
		return rnd_below(257);
	if (r < 95)
		return 257 + rnd_below(8192);
	return 8449 + rnd_below(64 * 1024);
}

/* No two live blocks of the record overlap. */
static bool no_overlap(void)
{
	for (int i = 0; i < RANDOM_SLOTS; i++) {
		for (int j = i + 1; slot[i].p && j < RANDOM_SLOTS; j++) {
			if (!slot[j].p)
				continue;
			if (slot[i].p < slot[j].p + slot[j].size + (slot[j].size == 0) &&
			    slot[j].p < slot[i].p + slot[i].size + (slot[i].size == 0))
				return false;
		}
	}
	return true;
}

KTEST(heap-random, "random kmalloc, kfree and krealloc keep every block's contents")
{
	unsigned tags = 0;
	int bad_steps = 0, nulls = 0;

	take_baseline();
	rng = 0x5eed0005;
	memset(slot, 0, sizeof(slot));
	for (int step = 1; step <= RANDOM_STEPS && bad_steps < 3; step++) {
		int i = (int)rnd_below(RANDOM_SLOTS);
		size_t size = random_size();

		if (!slot[i].p) {
			slot[i].p = rnd_below(4) ? kmalloc(size) : kcalloc(1, size);
			if (!slot[i].p) {
				nulls++;
				continue;
			}
			slot[i].size = size;
			slot[i].tag = ++tags;
			fill(slot[i].p, size, slot[i].tag);
		} else if (rnd_below(3)) {
			if (!intact(slot[i].p, slot[i].size, slot[i].tag)) {
				kprintf("# step %d: a %zu-byte block changed before kfree\n",
					step, slot[i].size);
				bad_steps++;
			}
			kfree(slot[i].p);
			slot[i].p = NULL;
		} else {
			size_t keep = size < slot[i].size ? size : slot[i].size;
			unsigned char *q = krealloc(slot[i].p, size);

			if (!q) {
				nulls++;
				continue;
			}
			if (!intact(q, keep, slot[i].tag)) {
				kprintf("# step %d: krealloc %zu -> %zu lost the contents\n",
					step, slot[i].size, size);
				bad_steps++;
			}
			slot[i].p = q;
			slot[i].size = size;
			fill(q, size, slot[i].tag);
		}
		if ((uintptr_t)slot[i].p % 16) {
			kprintf("# step %d: a block at 0x%lx is not aligned to 16\n",
				step, (uintptr_t)slot[i].p);
			bad_steps++;
		}
		if (step % 500 == 0 && !no_overlap()) {
			kprintf("# step %d: two live blocks overlap\n", step);
			bad_steps++;
		}
		/* Contents alone would not notice free blocks left unmerged. */
		if (step % 500 == 0)
			expect_consistent(ktest);
	}
	KTEST_EXPECT_EQ(bad_steps, 0);
	KTEST_EXPECT_EQ(nulls, 0);
	for (int i = 0; i < RANDOM_SLOTS; i++) {
		if (!slot[i].p)
			continue;
		KTEST_EXPECT(intact(slot[i].p, slot[i].size, slot[i].tag));
		kfree(slot[i].p);
	}
	expect_freed(ktest);
}

/* ---- suite heap-merge ---------------------------------------------- */

KTEST(heap-merge, "freed neighbours merge into one block")
{
	unsigned char *a, *b, *c, *guard, *merged;

	take_baseline();
	a = kmalloc(1000);
	b = kmalloc(1000);
	c = kmalloc(1000);
	guard = kmalloc(1000);
	KTEST_ASSERT(a && b && c && guard);
	KTEST_EXPECT(a < b && b < c && c < guard);
	kfree(a);
	kfree(c);
	kfree(b);
	/* Three blocks held 3 x 1000 bytes; merged, they hold 3000. */
	merged = kmalloc(3000);
	KTEST_EXPECT(merged == a);
	kfree(merged);
	kfree(guard);
	expect_baseline(ktest);
}

KTEST(heap-merge, "a freed 1 MiB block gives its frames back")
{
	uint64_t frames = pmm_free_frames();
	struct heap_stats held;
	unsigned char *big;

	take_baseline();
	big = kmalloc(1 << 20);
	KTEST_ASSERT(big != NULL);
	memset(big, 0xa5, 1 << 20);
	kheap_stats(&held);
	KTEST_EXPECT(held.pages_held >= before.pages_held + (1 << 20) / PAGE_SIZE);
	KTEST_EXPECT(pmm_free_frames() + (1 << 20) / PAGE_SIZE <= frames);
	kfree(big);
	/* The page tables made for the block may stay; its 256 frames do not. */
	KTEST_EXPECT(pmm_free_frames() + 8 >= frames);
	expect_baseline(ktest);
}

KTEST(heap-merge, "a fragmented heap gives every page back once all is freed")
{
	const size_t count = 2000;
	unsigned char **blocks;
	struct heap_stats full, half;

	take_baseline();
	blocks = kmalloc(count * sizeof(*blocks));
	KTEST_ASSERT(blocks != NULL);
	rng = 0xf4a9;
	for (size_t i = 0; i < count; i++) {
		blocks[i] = kmalloc(32 + rnd_below(400));
		KTEST_ASSERT(blocks[i] != NULL);
	}
	kheap_stats(&full);
	/* Every other block: the gaps are smaller than a page, so all stay. */
	for (size_t i = 1; i < count; i += 2)
		kfree(blocks[i]);
	kheap_stats(&half);
	KTEST_EXPECT(half.pages_held * 10 >= full.pages_held * 9);
	kprintf("# %zu pages for %zu bytes in use: fragmentation %zu%%\n",
		half.pages_held, half.bytes_in_use - before.bytes_in_use,
		half.pages_held * PAGE_SIZE * 100 /
		(half.bytes_in_use - before.bytes_in_use + 1));
	for (size_t i = 0; i < count; i += 2)
		kfree(blocks[i]);
	kfree(blocks);
	expect_baseline(ktest);
}

/* ---- suite heap-api ------------------------------------------------ */

KTEST(heap-api, "krealloc grows and shrinks a block keeping its contents")
{
	unsigned char *p, *q;
	size_t size = 10;

	take_baseline();
	p = kmalloc(size);
	KTEST_ASSERT(p != NULL);
	fill(p, size, 77);
	for (size_t next = 11; next < 200000; next = next * 3 / 2) {
		q = krealloc(p, next);
		KTEST_ASSERT(q != NULL);
		KTEST_EXPECT(intact(q, size, 77));
		p = q;
		size = next;
		fill(p, size, 77);
	}
	for (size_t next = size / 3; next > 0; next /= 3) {
		q = krealloc(p, next);
		KTEST_EXPECT(q == p);
		KTEST_EXPECT(intact(q, next, 77));
	}
	q = krealloc(NULL, 100);
	KTEST_EXPECT(q != NULL);
	kfree(q);
	kfree(p);
	expect_freed(ktest);
}

KTEST(heap-api, "kcalloc zeroes, and an overflowing n * size is NULL")
{
	unsigned char *p;
	struct heap_stats after;
	bool zero = true;

	take_baseline();
	p = kmalloc(6000);
	KTEST_ASSERT(p != NULL);
	memset(p, 0xff, 6000);
	kfree(p);
	p = kcalloc(1000, 6);
	KTEST_ASSERT(p != NULL);
	for (int i = 0; i < 6000; i++)
		zero &= p[i] == 0;
	KTEST_EXPECT(zero);
	kfree(p);
	KTEST_EXPECT(kcalloc((size_t)1 << 33, (size_t)1 << 33) == NULL);
	KTEST_EXPECT(kcalloc((size_t)-1 / 2 + 1, 2) == NULL);
	kheap_stats(&after);
	KTEST_EXPECT_EQ(after.failed, before.failed + 2);
	expect_freed(ktest);
}

KTEST(heap-api, "kmalloc_aligned aligns to every power of two from 16 to 4096")
{
	void *p[2][9];
	bool aligned = true, one_page = true;

	take_baseline();
	for (int k = 0; k < 2; k++) {
		for (int s = 0; s < 9; s++) {
			size_t align = (size_t)16 << s;
			size_t size = k ? align : 24 + (size_t)s;

			p[k][s] = kmalloc_aligned(size, align);
			aligned &= p[k][s] && (uintptr_t)p[k][s] % align == 0;
			/* A block no bigger than its alignment stays in one page. */
			one_page &= (uintptr_t)p[k][s] / PAGE_SIZE ==
				    ((uintptr_t)p[k][s] + size - 1) / PAGE_SIZE;
			if (p[k][s])
				memset(p[k][s], 0x3c, size);
		}
	}
	KTEST_EXPECT(aligned);
	KTEST_EXPECT(one_page);
	for (int k = 0; k < 2; k++) {
		for (int s = 0; s < 9; s++)
			kfree(p[k][s]);
	}
	expect_freed(ktest);
}

/* ---- running out ---------------------------------------------------- */

#define OOM_BLOCK	(64 * 1024)

/*
 * test=heap-oom, under a small -m: allocate until kmalloc() says no. The
 * blocks are chained through their first word, so the test needs no
 * array of its own.
 */
KTEST_EXPLICIT(heap-oom, "running out of memory is NULL, and all of it comes back")
{
	void **chain = NULL, *again;
	struct heap_stats full;
	size_t n = 0;

	take_baseline();
	for (;;) {
		void **p = kmalloc(OOM_BLOCK);

		if (!p)
			break;
		*p = chain;
		chain = p;
		n++;
	}
	kheap_stats(&full);
	ktest_checkpoint("heap-oom: %zu blocks of %d KiB (%zu KiB held) before NULL",
			 n, OOM_BLOCK / 1024, full.pages_held * PAGE_SIZE / 1024);
	KTEST_EXPECT(n > 0);
	KTEST_EXPECT_EQ(full.failed, before.failed + 1);
	while (chain) {
		void **next = *chain;

		kfree(chain);
		chain = next;
	}
	expect_freed(ktest);
	again = kmalloc(OOM_BLOCK);
	KTEST_EXPECT(again != NULL);
	kfree(again);
}

/* ---- misuse: each stops the kernel ---------------------------------- */

/*
 * Each victim is a function of its own, never inlined, so the report's
 * caller line can name it. Each prints the address it is about to misuse
 * (with the nonce) so the harness can check the report names that block.
 */
__attribute__((noinline)) static void heap_free_twice(void)
{
	char *p = kmalloc(48);

	ktest_checkpoint("heap-double-free: freeing 0x%lx twice", (uintptr_t)p);
	kfree(p);
	kfree(p);
}

KTEST_EXPLICIT(heap-double-free, "a double free stops the kernel, naming the caller")
{
	heap_free_twice();
	KTEST_EXPECT(!"the second kfree returned");
}

/*
 * A double free after the block merged with the free block below it: its
 * header now lies inside that free block, still mapped, and still says
 * it was freed. The guard keeps the merged block below the break.
 */
__attribute__((noinline)) static void heap_free_merged_twice(void)
{
	char *a = kmalloc(48), *b = kmalloc(48), *guard = kmalloc(48);

	kfree(a);
	kfree(b);
	ktest_checkpoint("heap-double-free-merged: freeing 0x%lx twice, after it merged",
			 (uintptr_t)b);
	kfree(b);
	kfree(guard);
}

KTEST_EXPLICIT(heap-double-free-merged, "a double free of a merged block stops the kernel")
{
	heap_free_merged_twice();
	KTEST_EXPECT(!"the second kfree returned");
}

/*
 * The same with blocks of several pages: the merged free block's inner
 * pages go back to the frame allocator, so the second kfree() finds the
 * header in an unmapped page, which it must test before reading it.
 */
__attribute__((noinline)) static void heap_free_unmapped_twice(void)
{
	char *a = kmalloc(5 * PAGE_SIZE), *b = kmalloc(5 * PAGE_SIZE);
	char *guard = kmalloc(48);

	kfree(a);
	kfree(b);
	ktest_checkpoint("heap-double-free-unmapped: freeing 0x%lx twice, its page unmapped",
			 (uintptr_t)b);
	kfree(b);
	kfree(guard);
}

KTEST_EXPLICIT(heap-double-free-unmapped,
	       "a double free whose header page was given back stops the kernel")
{
	heap_free_unmapped_twice();
	KTEST_EXPECT(!"the second kfree returned");
}

__attribute__((noinline)) static void heap_free_stack(void)
{
	long on_stack[4] = { 0 };

	ktest_checkpoint("heap-bad-pointer: freeing 0x%lx", (uintptr_t)on_stack);
	kfree(on_stack);
}

KTEST_EXPLICIT(heap-bad-pointer, "freeing what kmalloc never returned stops the kernel")
{
	heap_free_stack();
	KTEST_EXPECT(!"kfree of a stack address returned");
}

__attribute__((noinline)) static void heap_write_past_end(void)
{
	char *p = kmalloc(40);

	ktest_checkpoint("heap-overrun: writing p[40] of a 40-byte block at 0x%lx",
			 (uintptr_t)p);
	p[40] = 'x';
	kfree(p);
}

KTEST_EXPLICIT(heap-overrun, "a write past the end of a block is caught by kfree")
{
	heap_write_past_end();
	KTEST_EXPECT(!"kfree of an overrun block returned");
}

/*
 * A write that misses the redzone's first byte: every request gets at
 * least 8 bytes of redzone (REDZONE_MIN in heap.c), so p[47] of a 40-byte
 * block is its last guaranteed byte, with p[40] to p[46] untouched.
 */
__attribute__((noinline)) static void heap_write_far_past_end(void)
{
	char *p = kmalloc(40);

	ktest_checkpoint("heap-overrun-far: writing p[47] of a 40-byte block at 0x%lx",
			 (uintptr_t)p);
	p[47] = 'x';
	kfree(p);
}

KTEST_EXPLICIT(heap-overrun-far, "a write to the redzone's last byte is caught by kfree")
{
	heap_write_far_past_end();
	KTEST_EXPECT(!"kfree of an overrun block returned");
}

/* Last of the non-explicit cases: what all the tests above left behind. */
KTEST(heap-merge, "the heap's invariants hold after all the heap tests")
{
	expect_consistent(ktest);
}
