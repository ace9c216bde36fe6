/*
 * Tests of the frame allocator (pmm.c) on the machine's real memory map:
 * every frame it manages is handed out once, is RAM we may write, and
 * comes back when freed.
 *
 * To prove that no frame is handed out twice without a list of them all
 * (which would need memory of its own), each frame, as it is allocated,
 * gets its ordinal and the address of the frame before it written into
 * it. Walking that chain back from the last frame must meet the ordinals
 * n-1, n-2, ... 0 in turn: a frame handed out twice holds only its later
 * ordinal, and the walk finds it in the wrong place.
 */
#include <fern/boot.h>
#include <fern/ktest.h>
#include <fern/mm.h>

extern char __kernel_phys_start[], __kernel_phys_end[];

/* What each allocated frame holds during the tests. */
struct frame_note {
	uint64_t ordinal;	/* 0 for the first frame allocated */
	uint64_t previous;	/* the frame allocated before it, or 0 */
};

/* A frame the allocator must never hand out. */
static bool forbidden(uint64_t frame)
{
	return frame % PAGE_SIZE != 0 || frame < (1UL << 20) ||
	       (frame + PAGE_SIZE > (uintptr_t)__kernel_phys_start &&
		frame < (uintptr_t)__kernel_phys_end);
}

/*
 * Allocate every free frame, chaining them as above. Return the last one
 * (0 if none) and the count in @count; count the frames that should never
 * have been handed out in @bad.
 */
static uint64_t allocate_all(uint64_t *count, uint64_t *bad)
{
	uint64_t frame, last = 0;

	*count = 0;
	*bad = 0;
	while ((frame = pmm_alloc()) != 0) {
		struct frame_note *note;

		if (forbidden(frame)) {
			(*bad)++;
			continue;	/* never write to it; it stays "allocated" */
		}
		note = phys_to_virt(frame);
		note->ordinal = (*count)++;
		note->previous = last;
		last = frame;
	}
	return last;
}

/* Walk the chain from @last; return how many frames are where they belong. */
static uint64_t walk_chain(uint64_t last, uint64_t count)
{
	uint64_t ok = 0;

	for (uint64_t frame = last; frame && ok < count; ok++) {
		const struct frame_note *note = phys_to_virt(frame);

		if (note->ordinal != count - 1 - ok)
			break;
		frame = note->previous;
	}
	return ok;
}

static void free_chain(uint64_t last)
{
	while (last) {
		uint64_t previous = ((const struct frame_note *)phys_to_virt(last))->previous;

		pmm_free(last);
		last = previous;
	}
}

KTEST(pmm, "the counts add up: some frames are managed, no more are free")
{
	KTEST_EXPECT(pmm_total_frames() > 0);
	KTEST_EXPECT(pmm_free_frames() > 0);
	KTEST_EXPECT(pmm_free_frames() <= pmm_total_frames());
}

KTEST(pmm, "every free frame is handed out once, outside the reserved memory")
{
	uint64_t free = pmm_free_frames(), count, bad, last;

	KTEST_ASSERT(free > 0);
	last = allocate_all(&count, &bad);
	KTEST_EXPECT_EQ(bad, 0);
	KTEST_EXPECT_EQ(count, free);
	KTEST_EXPECT_EQ(pmm_free_frames(), 0);
	KTEST_EXPECT_EQ(pmm_alloc(), 0);
	KTEST_EXPECT_EQ(walk_chain(last, count), count);
	free_chain(last);
	KTEST_EXPECT_EQ(pmm_free_frames(), free);
}

KTEST(pmm, "after freeing every frame, all can be allocated again")
{
	uint64_t free = pmm_free_frames(), count, bad, last;

	KTEST_ASSERT(free > 0);
	free_chain(allocate_all(&count, &bad));
	last = allocate_all(&count, &bad);
	KTEST_EXPECT_EQ(count, free);
	KTEST_EXPECT_EQ(walk_chain(last, count), count);
	free_chain(last);
	KTEST_EXPECT_EQ(pmm_free_frames(), free);
}

KTEST(pmm, "with all frames in use, a freed frame is the next one handed out")
{
	uint64_t count, bad, last, previous, again;

	last = allocate_all(&count, &bad);
	KTEST_ASSERT(count >= 2);
	previous = ((const struct frame_note *)phys_to_virt(last))->previous;
	pmm_free(last);
	KTEST_EXPECT_EQ(pmm_free_frames(), 1);
	again = pmm_alloc();
	KTEST_EXPECT_EQ(again, last);
	KTEST_EXPECT_EQ(pmm_alloc(), 0);
	if (again != last) {
		/* Put the chain back together before freeing it. */
		if (again)
			pmm_free(again);
		last = previous;
	}
	free_chain(last);
}
