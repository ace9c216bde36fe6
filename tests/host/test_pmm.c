/*
 * Host unit test of the frame allocator (src/mm/pmm.c) over fake memory
 * maps: which frames it manages, that it hands each out once and takes
 * each back once, and that it names every misuse. Built with the
 * sanitizers by `make host-tests`; tests/host/mm_host.h fakes physical
 * memory.
 *
 * The expected totals are computed here the slow, obvious way, frame by
 * frame, from the same map and reservations.
 */
#include <fern/errno.h>
#include <fern/mm.h>

#include <stdlib.h>

#include "tap.h"

/* Only the low part of "physical memory" is ever touched: the bitmap. */
#define RAM_BYTES	(16UL << 20)

/* QEMU -M pc with -m 4G: 3 GiB below the PCI hole, 1 GiB above 4 GiB. */
static const struct mem_region qemu_4g[] = {
	{ 0x0, 0x9fc00, MB2_MEMORY_AVAILABLE },
	{ 0x9fc00, 0x400, MB2_MEMORY_RESERVED },
	{ 0xf0000, 0x10000, MB2_MEMORY_RESERVED },
	{ 0x100000, 0xbfee0000, MB2_MEMORY_AVAILABLE },
	{ 0xbffe0000, 0x20000, MB2_MEMORY_RESERVED },
	{ 0xfffc0000, 0x40000, MB2_MEMORY_RESERVED },
	{ 0x100000000, 0x40000000, MB2_MEMORY_AVAILABLE },
	{ 0xfd00000000, 0x300000000, MB2_MEMORY_RESERVED },
};

static const struct phys_range boot_reserved[] = {
	{ 0, 0x100000, "the first MiB" },
	{ 0x100000, 0x13a123, "the kernel image" },	/* not page-aligned */
	{ 0x13a200, 0x13b100, "the boot information" },	/* 2 partial frames */
};

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static bool frame_reserved(uint64_t f, const struct phys_range *res, size_t nres)
{
	for (size_t i = 0; i < nres; i++) {
		if (f + PAGE_SIZE > res[i].start && f < res[i].end)
			return true;
	}
	return false;
}

/* Frames wholly inside available regions and touching no reservation. */
static uint64_t expected_total(const struct mem_region *map, size_t count,
			       const struct phys_range *res, size_t nres)
{
	uint64_t n = 0;

	for (size_t i = 0; i < count; i++) {
		if (map[i].type != MB2_MEMORY_AVAILABLE)
			continue;
		for (uint64_t f = (map[i].base + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
		     f + PAGE_SIZE <= map[i].base + map[i].length; f += PAGE_SIZE) {
			if (!frame_reserved(f, res, nres))
				n++;
		}
	}
	return n;
}

static bool frame_in_ram(uint64_t f, const struct mem_region *map, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (map[i].type == MB2_MEMORY_AVAILABLE && f >= map[i].base &&
		    f + PAGE_SIZE <= map[i].base + map[i].length)
			return true;
	}
	return false;
}

/* Try pmm_free(frame); return whether it panicked, with the message. */
static bool free_panics(uint64_t frame, const char *words)
{
	bool panicked = false;

	host_expect_panic = true;
	if (setjmp(host_on_panic) == 0)
		pmm_free(frame);
	else
		panicked = true;
	host_expect_panic = false;
	if (panicked && !strstr(host_printed, words)) {
		printf("# panic message \"%s\" lacks \"%s\"\n", host_printed, words);
		return false;
	}
	return panicked;
}

static void test_qemu_4g(void)
{
	uint64_t total = expected_total(qemu_4g, N(qemu_4g), boot_reserved, N(boot_reserved));
	uint64_t bitmap_frames = ((0x140000000UL / PAGE_SIZE + 63) / 64 * 8 + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t free0, n = 0, top_frame = 0x140000000UL / PAGE_SIZE;
	uint64_t *frames = malloc(total * sizeof(*frames));
	uint8_t *seen = calloc(top_frame, 1);
	bool unique = true, valid = true, above_4g = false;
	uint64_t f, again = 0;

	tap_ok(pmm_init(qemu_4g, N(qemu_4g), boot_reserved, N(boot_reserved)) == 0,
	       "pmm: a QEMU -m 4G map initialises");
	tap_ok(pmm_total_frames() == total,
	       "pmm: it manages the frames inside available regions, minus the reserved ones (%lu, expected %lu)",
	       pmm_total_frames(), total);
	tap_ok(pmm_free_frames() == total - bitmap_frames,
	       "pmm: all are free but the bitmap's own %lu frames (%lu free)",
	       bitmap_frames, pmm_free_frames());
	free0 = pmm_free_frames();

	while ((f = pmm_alloc()) != 0) {
		if (n == total)
			break;
		frames[n++] = f;
		if (f % PAGE_SIZE || f / PAGE_SIZE >= top_frame ||
		    !frame_in_ram(f, qemu_4g, N(qemu_4g)) ||
		    frame_reserved(f, boot_reserved, N(boot_reserved)))
			valid = false;
		else if (seen[f / PAGE_SIZE]++)
			unique = false;
		if (f >= 0x100000000UL)
			above_4g = true;
	}
	tap_ok(n == free0, "pmm: every free frame can be allocated (%lu of %lu)", n, free0);
	tap_ok(valid, "pmm: every frame handed out is aligned RAM outside the reservations");
	tap_ok(unique, "pmm: no frame is handed out twice");
	tap_ok(above_4g, "pmm: frames above 4 GiB are handed out too");
	tap_ok(pmm_alloc() == 0 && pmm_free_frames() == 0,
	       "pmm: with every frame in use, pmm_alloc() returns 0");

	pmm_free(frames[n / 2]);
	tap_ok(pmm_free_frames() == 1 && pmm_alloc() == frames[n / 2],
	       "pmm: the one freed frame is the next one handed out");

	for (uint64_t i = 0; i < n; i++)
		pmm_free(frames[i]);
	tap_ok(pmm_free_frames() == free0, "pmm: freeing every frame restores the free count");
	while (pmm_alloc() != 0)
		again++;
	tap_ok(again == free0, "pmm: after freeing all, all can be allocated again (%lu)", again);
	for (uint64_t i = 0; i < n; i++)
		pmm_free(frames[i]);

	f = pmm_alloc();
	pmm_free(f);
	tap_ok(free_panics(f, "freed twice"), "pmm: a double free panics and says so");
	tap_ok(free_panics(0x100000, "reserved (the kernel image)"),
	       "pmm: freeing a frame of the kernel image panics, naming it");
	tap_ok(free_panics(f + 8, "not 4 KiB aligned"), "pmm: freeing a misaligned address panics");
	tap_ok(free_panics(0xc0000000, "not RAM"), "pmm: freeing a frame in the PCI hole panics");
	tap_ok(free_panics(0x200000000, "not RAM"), "pmm: freeing a frame past the end of RAM panics");
	tap_ok(pmm_free_frames() == free0, "pmm: a refused free changes nothing");
	free(frames);
	free(seen);
}

static void test_small_maps(void)
{
	static const struct mem_region partial[] = {
		{ 0x100800, 0x3000, MB2_MEMORY_AVAILABLE },	/* frames 0x101000, 0x102000 */
		{ 0x200000, 0x4000, MB2_MEMORY_RESERVED },
		{ 0x300000, 0x10000, MB2_MEMORY_AVAILABLE },
	};
	static const struct mem_region none[] = {
		{ 0x0, 0x9fc00, MB2_MEMORY_RESERVED },
	};
	static const struct mem_region low_full[] = {
		/* Too small for the bitmap below 1 GiB after the reservation. */
		{ 0x100000, 0x1000, MB2_MEMORY_AVAILABLE },
		{ 0x40000000, 0x40000000, MB2_MEMORY_AVAILABLE },
	};
	static const struct mem_region huge[] = {
		/* 4 MiB: the bitmap for 64 GiB takes 2 MiB of it. */
		{ 0x100000, 0x400000, MB2_MEMORY_AVAILABLE },
		{ PMM_MAX_PHYS - 0x2000, 0x10000, MB2_MEMORY_AVAILABLE },
	};
	static const struct phys_range overlapping[] = {
		{ 0x300000, 0x302000, "a" },
		{ 0x301000, 0x304000, "b" },
	};
	static const struct phys_range unordered[] = {
		{ 0x308000, 0x309000, "high" },
		{ 0x302000, 0x303000, "low" },
	};
	struct phys_range many[PMM_MAX_RESERVED + 1];
	int err;

	err = pmm_init(partial, N(partial), NULL, 0);
	tap_ok(err == 0 && pmm_total_frames() == 2 + 16,
	       "pmm: partial frames at region edges are left out (%lu frames)", pmm_total_frames());
	err = pmm_init(partial, N(partial), overlapping, N(overlapping));
	tap_ok(err == 0 && pmm_total_frames() == 2 + 12,
	       "pmm: overlapping reservations are subtracted once (%lu frames)", pmm_total_frames());
	err = pmm_init(partial, N(partial), unordered, N(unordered));
	tap_ok(err == 0 && pmm_total_frames() == 2 + 14,
	       "pmm: reservations in any order are all subtracted (%lu frames)", pmm_total_frames());
	tap_ok(pmm_init(none, N(none), NULL, 0) == -ENOMEM,
	       "pmm: a map without available memory fails with -ENOMEM");
	tap_ok(pmm_init(low_full, N(low_full), boot_reserved, N(boot_reserved)) == -ENOMEM,
	       "pmm: no room for the bitmap below 1 GiB fails with -ENOMEM");
	for (size_t i = 0; i < N(many); i++)
		many[i] = (struct phys_range){ i * PAGE_SIZE, (i + 1) * PAGE_SIZE, "x" };
	tap_ok(pmm_init(partial, N(partial), many, N(many)) == -EINVAL,
	       "pmm: more reserved ranges than it keeps fail with -EINVAL");
	host_printed[0] = '\0';
	err = pmm_init(huge, N(huge), NULL, 0);
	tap_ok(err == 0 && pmm_total_frames() == 1024 + 2 && strstr(host_printed, "ignoring"),
	       "pmm: RAM above PMM_MAX_PHYS is ignored, and said so (%lu frames)",
	       pmm_total_frames());
	tap_ok(pmm_free_frames() == 1024 + 2 - 512,
	       "pmm: a 64 GiB bitmap takes 2 MiB (%lu frames free)", pmm_free_frames());
}

int main(void)
{
	host_ram = calloc(RAM_BYTES, 1);
	test_qemu_4g();
	test_small_maps();
	free(host_ram);
	return tap_done();
}
