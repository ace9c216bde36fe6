/*
 * The physical frame allocator: which 4 KiB frames of RAM are free.
 *
 * GRUB's memory map (Multiboot2 spec §3.6.8) says which ranges of physical
 * addresses are RAM ("available"); some of that RAM is already in use by
 * the time the kernel runs (the first MiB holds the BIOS's data and the
 * VGA buffer, then come the kernel image, the boot information and any
 * boot modules). The rest is ours, in frames: 4 KiB pieces aligned to
 * 4 KiB, the unit the page tables map.
 *
 * One bit per frame remembers whether it is free, in a bitmap that covers
 * physical memory from 0 to the end of the highest available region. A
 * set bit means "not free": in use, reserved, or not RAM at all. xv6's
 * kalloc.c keeps a linked list through the free frames instead, which is
 * simpler but writes into every frame at boot; the bitmap leaves memory
 * untouched until it is used, costs 32 KiB per GiB, and can tell a double
 * free from a first one.
 */
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/mm.h>
#include <fern/string.h>

#define BITS_PER_WORD	64

/*
 * Where the bitmap may go: it is written before the direct map covers all
 * of memory, and until then phys_to_virt() reaches only the first GiB.
 */
#define BITMAP_LIMIT	BOOT_MAPPED

static struct {
	uint64_t *bitmap;	/* bit f set: frame f is not free */
	uint64_t frames;	/* the bitmap covers frames 0 .. frames - 1 */
	uint64_t total;		/* frames managed: RAM, not reserved */
	uint64_t free;		/* of those, free now */
	uint64_t next;		/* where the next search for a free frame starts */
	struct phys_range self;	/* the bitmap's own frames */
	/* What pmm_free() checks a frame against. */
	struct phys_range ram[BOOT_MAX_REGIONS];
	size_t ram_count;
	struct phys_range reserved[PMM_MAX_RESERVED];
	size_t reserved_count;
} pmm;

static bool frame_is_used(uint64_t f)
{
	return pmm.bitmap[f / BITS_PER_WORD] & (1UL << (f % BITS_PER_WORD));
}

static void frame_set_used(uint64_t f)
{
	pmm.bitmap[f / BITS_PER_WORD] |= 1UL << (f % BITS_PER_WORD);
}

static void frame_set_free(uint64_t f)
{
	pmm.bitmap[f / BITS_PER_WORD] &= ~(1UL << (f % BITS_PER_WORD));
}

/* The reserved range that contains physical address @addr, or NULL. */
static const struct phys_range *reserved_at(uint64_t addr)
{
	for (size_t i = 0; i < pmm.reserved_count; i++) {
		if (addr >= pmm.reserved[i].start && addr < pmm.reserved[i].end)
			return &pmm.reserved[i];
	}
	return NULL;
}

/*
 * Of the reserved ranges that overlap [start, end), the one that starts
 * lowest, or NULL. (The ranges come in no particular order.)
 */
static const struct phys_range *reserved_in(uint64_t start, uint64_t end)
{
	const struct phys_range *lowest = NULL;

	for (size_t i = 0; i < pmm.reserved_count; i++) {
		const struct phys_range *r = &pmm.reserved[i];

		if (r->start < end && start < r->end && (!lowest || r->start < lowest->start))
			lowest = r;
	}
	return lowest;
}

static bool in_ram(uint64_t addr)
{
	for (size_t i = 0; i < pmm.ram_count; i++) {
		if (addr >= pmm.ram[i].start && addr < pmm.ram[i].end)
			return true;
	}
	return false;
}

/*
 * Remember the available regions, shrunk to whole frames (a region need
 * not start or end on a frame boundary, and a partial frame is useless)
 * and cut at PMM_MAX_PHYS. Return the end of the highest one.
 */
static uint64_t collect_ram(const struct mem_region *map, size_t count)
{
	uint64_t top = 0, ignored = 0;

	for (size_t i = 0; i < count; i++) {
		uint64_t start = ALIGN_UP(map[i].base, PAGE_SIZE);
		uint64_t end = ALIGN_DOWN(map[i].base + map[i].length, PAGE_SIZE);

		if (map[i].type != MB2_MEMORY_AVAILABLE || end <= start)
			continue;
		if (end > PMM_MAX_PHYS) {
			ignored += end - (start > PMM_MAX_PHYS ? start : PMM_MAX_PHYS);
			end = PMM_MAX_PHYS;
			if (end <= start)
				continue;
		}
		if (pmm.ram_count == BOOT_MAX_REGIONS)
			break;	/* the map itself holds at most this many */
		pmm.ram[pmm.ram_count++] = (struct phys_range){ start, end, "RAM" };
		if (end > top)
			top = end;
	}
	if (ignored)
		kprintf("pmm: ignoring %lu MiB of RAM above %lu GiB\n",
			ignored >> 20, PMM_MAX_PHYS >> 30);
	return top;
}

/*
 * Find @size bytes of RAM below BITMAP_LIMIT that no reserved range
 * touches, for the bitmap. Return its physical address, or 0.
 */
static uint64_t place_bitmap(uint64_t size)
{
	for (size_t i = 0; i < pmm.ram_count; i++) {
		uint64_t start = pmm.ram[i].start;
		const struct phys_range *r;

		while (start + size <= pmm.ram[i].end &&
		       start + size <= BITMAP_LIMIT) {
			r = reserved_in(start, start + size);
			if (!r)
				return start;
			start = ALIGN_UP(r->end, PAGE_SIZE);
		}
	}
	return 0;
}

/* Mark frames [first, end) free, whole words at a time where possible. */
static void mark_free(uint64_t first, uint64_t end)
{
	uint64_t f = first;

	while (f < end) {
		if (f % BITS_PER_WORD == 0 && f + BITS_PER_WORD <= end) {
			pmm.bitmap[f / BITS_PER_WORD] = 0;
			f += BITS_PER_WORD;
		} else {
			frame_set_free(f++);
		}
	}
	pmm.total += end - first;
	pmm.free += end - first;
}

int pmm_init(const struct mem_region *map, size_t count,
	     const struct phys_range *reserved, size_t nreserved)
{
	uint64_t top, bytes, at;

	if (nreserved > PMM_MAX_RESERVED)
		return -EINVAL;
	memset(&pmm, 0, sizeof(pmm));
	for (size_t i = 0; i < nreserved; i++) {
		/* Whole frames: a frame that is partly reserved is reserved. */
		pmm.reserved[i] = reserved[i];
		pmm.reserved[i].start = ALIGN_DOWN(reserved[i].start, PAGE_SIZE);
		pmm.reserved[i].end = ALIGN_UP(reserved[i].end, PAGE_SIZE);
	}
	pmm.reserved_count = nreserved;

	top = collect_ram(map, count);
	pmm.frames = top >> PAGE_SHIFT;
	bytes = ALIGN_UP(pmm.frames, BITS_PER_WORD) / 8;
	at = place_bitmap(ALIGN_UP(bytes, PAGE_SIZE));
	if (pmm.frames == 0 || at == 0) {
		pmm.frames = 0;
		return -ENOMEM;
	}

	/* Everything starts "not free"; then the RAM outside reservations is freed. */
	pmm.bitmap = phys_to_virt(at);
	memset(pmm.bitmap, 0xff, bytes);
	for (size_t i = 0; i < pmm.ram_count; i++) {
		uint64_t start = pmm.ram[i].start;
		const struct phys_range *r;

		while (start < pmm.ram[i].end) {
			uint64_t end = pmm.ram[i].end;

			r = reserved_in(start, end);
			if (r && r->start <= start) {
				start = r->end;
				continue;
			}
			if (r)
				end = r->start;
			mark_free(start >> PAGE_SHIFT, end >> PAGE_SHIFT);
			start = end;
		}
	}

	/* The bitmap lives in managed frames: they are in use from now on. */
	pmm.self = (struct phys_range){ at, at + ALIGN_UP(bytes, PAGE_SIZE),
					"the frame allocator's bitmap" };
	for (uint64_t p = pmm.self.start; p < pmm.self.end; p += PAGE_SIZE) {
		frame_set_used(p >> PAGE_SHIFT);
		pmm.free--;
	}
	return 0;
}

/*
 * Search from where the last search ended, not from 0: the frames just
 * behind it were most likely handed out recently, and the search would
 * step over them again every time ("next fit").
 */
uint64_t pmm_alloc(void)
{
	if (pmm.free == 0)
		return 0;
	/* LAB 4 BEGIN: find a free frame (a clear bit) from pmm.next on, wrapping around once; mark it used, count it in pmm.free, move pmm.next past it and return its physical address */
	for (uint64_t n = 0; n < pmm.frames; n++) {
		uint64_t f = (pmm.next + n) % pmm.frames;

		if (!frame_is_used(f)) {
			frame_set_used(f);
			pmm.free--;
			pmm.next = (f + 1) % pmm.frames;
			return f << PAGE_SHIFT;
		}
	}
	return 0;
	/* LAB 4 STUB: return 0; */
	/* LAB 4 END */
}

/*
 * Panic unless @frame is a frame pmm_alloc() handed out and nobody has
 * freed since: each mistake gets its own message.
 */
static void check_freeable(uint64_t frame)
{
	const struct phys_range *r;

	if (frame % PAGE_SIZE != 0)
		panic("pmm: freeing 0x%lx, which is not a frame address "
		      "(not 4 KiB aligned)", frame);
	if ((frame >> PAGE_SHIFT) >= pmm.frames || !in_ram(frame))
		panic("pmm: freeing 0x%lx, which is not RAM the allocator manages",
		      frame);
	r = reserved_at(frame);
	if (r)
		panic("pmm: freeing 0x%lx, which is reserved (%s)", frame, r->what);
	if (frame >= pmm.self.start && frame < pmm.self.end)
		panic("pmm: freeing 0x%lx, which holds %s", frame, pmm.self.what);
	if (!frame_is_used(frame >> PAGE_SHIFT))
		panic("pmm: frame 0x%lx freed twice", frame);
}

void pmm_free(uint64_t frame)
{
	check_freeable(frame);
	/* LAB 4 BEGIN: clear the frame's bit and count it in pmm.free */
	frame_set_free(frame >> PAGE_SHIFT);
	pmm.free++;
	/* LAB 4 STUB: (void)frame; */
	/* LAB 4 END */
}

#if FERN_CHAPTER >= 6
/*
 * First fit from the bottom of memory: runs are asked for rarely (a few
 * per device, at boot), so finding one matters more than speed, and the
 * single frames pmm_alloc() hands out are then taken from above them.
 */
uint64_t pmm_alloc_run(uint64_t count)
{
	uint64_t run = 0;

	if (count == 0 || count > pmm.free)
		return 0;
	for (uint64_t f = 0; f < pmm.frames; f++) {
		if (frame_is_used(f)) {
			run = 0;
			continue;
		}
		if (++run == count) {
			uint64_t first = f + 1 - count;

			for (uint64_t g = first; g <= f; g++)
				frame_set_used(g);
			pmm.free -= count;
			return first << PAGE_SHIFT;
		}
	}
	return 0;
}

#endif
uint64_t pmm_total_frames(void)
{
	return pmm.total;
}

uint64_t pmm_free_frames(void)
{
	return pmm.free;
}
