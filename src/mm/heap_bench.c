/*
 * The heap's benchmark (test=heap-bench; `make bench-heap` runs it and
 * reads the two lines it prints). It is not a test: it passes whatever
 * the figures are, and `make check` never selects it.
 *
 * 1. Throughput: a mixed workload (mostly small blocks, some of a few
 *    pages, a few large; frees and kreallocs mixed in) runs for about a
 *    second of timer ticks, and reports allocations per second and TSC
 *    cycles per operation.
 * 2. Fragmentation: a fixed random sequence of the same mix, then the
 *    bytes the heap holds in pages divided by the bytes in use.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/heap.h>
#include <fern/ktest.h>
#include <fern/mm.h>
#include <fern/string.h>
#include <fern/x86.h>

#define BENCH_SLOTS		512
#define BENCH_TICKS		TIMER_HZ	/* one second */
#define BENCH_BATCH		1000
#define FRAGMENT_STEPS		20000

static void *bench_slot[BENCH_SLOTS];
static uint64_t bench_rng;

static uint64_t bench_rnd(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

/* 75% 16..256 bytes, 22% up to 4 KiB, 3% up to 32 KiB. */
static size_t bench_size(void)
{
	uint64_t r = bench_rnd() % 100;

	if (r < 75)
		return 16 + bench_rnd() % 241;
	if (r < 97)
		return 257 + bench_rnd() % 3840;
	return 4097 + bench_rnd() % (28 * 1024);
}

/*
 * One operation on a random slot: an empty slot gets a block; a full one
 * is freed, or one time in eight resized. Returns 1 if it allocated.
 */
static int bench_step(void)
{
	unsigned i = (unsigned)(bench_rnd() % BENCH_SLOTS);
	void *p;

	if (!bench_slot[i]) {
		bench_slot[i] = kmalloc(bench_size());
		return bench_slot[i] != NULL;
	}
	if (bench_rnd() % 8 == 0) {
		p = krealloc(bench_slot[i], bench_size());
		if (p)
			bench_slot[i] = p;
		return p != NULL;
	}
	kfree(bench_slot[i]);
	bench_slot[i] = NULL;
	return 0;
}

static void bench_free_all(void)
{
	for (unsigned i = 0; i < BENCH_SLOTS; i++) {
		kfree(bench_slot[i]);
		bench_slot[i] = NULL;
	}
}

KTEST_EXPLICIT(heap-bench, "allocations per second and fragmentation (a benchmark)")
{
	uint64_t ops = 0, allocs = 0, t0, t1, c0, c1, ms;
	struct heap_stats s;

	if (!interrupts_on()) {
		kprintf("# heap-bench: the timer is off; no figures\n");
		KTEST_EXPECT(interrupts_on());
		return;
	}
	/* Start on a tick edge, so the second is measured whole. */
	bench_rng = 0xbe7c4;
	t0 = timer_ticks();
	while (timer_ticks() == t0)
		hlt();
	t0 = timer_ticks();
	c0 = rdtsc();
	do {
		for (int i = 0; i < BENCH_BATCH; i++)
			allocs += (uint64_t)bench_step();
		ops += BENCH_BATCH;
		t1 = timer_ticks();
	} while (t1 - t0 < BENCH_TICKS);
	c1 = rdtsc();
	bench_free_all();
	ms = (t1 - t0) * 1000 / TIMER_HZ;
	kprintf("heap-bench: throughput: %lu operations, %lu allocations in %lu ms: "
		"%lu allocations/s, %lu cycles per operation\n",
		ops, allocs, ms, allocs * 1000 / ms, (c1 - c0) / ops);

	bench_rng = 0xf7a6;
	for (int i = 0; i < FRAGMENT_STEPS; i++)
		bench_step();
	kheap_stats(&s);
	kprintf("heap-bench: fragmentation: %lu KiB held for %lu KiB in use in "
		"%lu blocks: %lu.%02lu\n",
		s.pages_held * PAGE_SIZE / 1024, s.bytes_in_use / 1024, s.blocks,
		s.pages_held * PAGE_SIZE / s.bytes_in_use,
		s.pages_held * PAGE_SIZE * 100 / s.bytes_in_use % 100);
	bench_free_all();
}
