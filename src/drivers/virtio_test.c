/*
 * Chapter 6's in-kernel tests: memory for devices, and virtio-rng and
 * virtio-blk doing I/O through the virtqueue. The harness boots them with
 * the devices attached (tests/ch06_virtio.py) and checks from outside
 * what the kernel cannot judge alone: that the sector it read is the one
 * the harness wrote, that the sector it wrote reached the disk image.
 */
#include <fern/blk.h>
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/ktest.h>
#include <fern/mm.h>
#include <fern/pci.h>
#include <fern/rng.h>
#include <fern/string.h>
#include <fern/virtio.h>

KTEST(dma, "dma_alloc: five pages, physically contiguous, aligned, zeroed, and given back")
{
	uint64_t before = pmm_free_frames(), phys = 0;
	unsigned char *p = dma_alloc(5 * PAGE_SIZE - 100, &phys);

	KTEST_ASSERT(p != NULL);
	KTEST_EXPECT(phys % PAGE_SIZE == 0);
	KTEST_EXPECT_EQ(pmm_free_frames(), before - 5);
	for (unsigned int i = 0; i < 5; i++) {
		uint64_t pa = 0;

		KTEST_EXPECT_EQ(vm_translate(vm_active(), (uintptr_t)p + i * PAGE_SIZE, &pa, NULL), 0);
		KTEST_EXPECT_EQ(pa, phys + i * PAGE_SIZE);
	}
	for (size_t i = 0; i < 5 * PAGE_SIZE; i++) {
		if (p[i] != 0) {
			KTEST_EXPECT_EQ(p[i], 0);
			break;
		}
	}
	dma_free(p, 5 * PAGE_SIZE - 100);
	KTEST_EXPECT_EQ(pmm_free_frames(), before);
}

KTEST(dma, "mmio_map: device memory is mapped uncached and not executable")
{
	/* The VGA framebuffer's first page stands in for a BAR. */
	volatile unsigned char *p = mmio_map(0xb8000 + 12, 4);
	pte_t flags = 0;
	uint64_t pa = 0;

	KTEST_ASSERT(p != NULL);
	KTEST_EXPECT(((uintptr_t)p & (PAGE_SIZE - 1)) == 12);
	KTEST_EXPECT_EQ(vm_translate(vm_active(), (uintptr_t)p, &pa, &flags), 0);
	KTEST_EXPECT_EQ(pa, 0xb8000 + 12);
	KTEST_EXPECT(flags & PTE_PCD);
	KTEST_EXPECT(flags & PTE_NX);
	KTEST_EXPECT(mm_region_name((uintptr_t)p) != NULL);
}

KTEST(virtio, "rng: two reads of 32 bytes differ")
{
	unsigned char a[32], b[32];

	KTEST_EXPECT_STREQ(rng_source(), "virtio-rng");
	KTEST_ASSERT_EQ(rng_fill(a, sizeof(a)), 0);
	KTEST_ASSERT_EQ(rng_fill(b, sizeof(b)), 0);
	KTEST_EXPECT(memcmp(a, b, sizeof(a)) != 0);
	ktest_checkpoint("virtio: rng read %02x%02x%02x%02x%02x%02x%02x%02x",
			 a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
}

KTEST(virtio, "rng: 4096 bytes are not all equal and reach both halves of the byte range")
{
	static unsigned char buf[4096];
	unsigned int low = 0, high = 0, same = 0;

	KTEST_ASSERT_EQ(rng_fill(buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] < 128)
			low++;
		else
			high++;
		if (buf[i] == buf[0])
			same++;
	}
	KTEST_EXPECT(same < sizeof(buf));
	/* For uniform bytes each half gets 2048 +- 32; allow far more. */
	KTEST_EXPECT(low > 1500 && high > 1500);
}

/*
 * The harness wrote a line with its nonce at the start of sector 1; this
 * test prints what it read, and writes "copied: " and the line into
 * sector 2, where the harness looks after QEMU has exited.
 */
KTEST(virtio, "blk: sector 1 is read and copied into sector 2, flushed")
{
	static char sector[BLK_SECTOR_SIZE], copy[BLK_SECTOR_SIZE];
	struct blk_info info;
	size_t len;

	KTEST_ASSERT_EQ(blk_info(&info), 0);
	KTEST_ASSERT_EQ(blk_read(1, sector, 1), 0);
	sector[80] = '\0';
	len = strlen(sector);
	ktest_checkpoint("virtio: blk sector 1 reads \"%s\"", sector);
	memset(copy, 0, sizeof(copy));
	memcpy(copy, "copied: ", 8);
	memcpy(copy + 8, sector, len);
	KTEST_ASSERT_EQ(blk_write(2, copy, 1), 0);
	KTEST_ASSERT_EQ(blk_flush(), 0);
}

KTEST(virtio, "blk: past the end of the disk is an error, not a request")
{
	static char sector[BLK_SECTOR_SIZE];
	struct blk_info info;

	KTEST_ASSERT_EQ(blk_info(&info), 0);
	KTEST_EXPECT(blk_read(info.sectors, sector, 1) < 0);
	KTEST_EXPECT(blk_read(info.sectors - 1, sector, 2) < 0);
	KTEST_EXPECT_EQ(blk_read(info.sectors - 1, sector, 1), 0);
}

/* Last: how each device's requests completed, for the harness. */
KTEST(virtio, "every device with an interrupt line completed by interrupt")
{
	struct virtio_device *vdev;

	for (unsigned int i = 0; (vdev = virtio_device(i)) != NULL; i++) {
		if (vdev->irq)
			ktest_checkpoint("virtio: %s: irq %u, %lu interrupts", vdev->name,
					 vdev->pci->irq_line, (uint64_t)vdev->interrupts);
		else
			ktest_checkpoint("virtio: %s: no irq, polled", vdev->name);
		if (vdev->irq)
			KTEST_EXPECT(vdev->interrupts > 0);
	}
}

/*
 * The rings' indices are 16 bits and wrap from 65535 to 0: push more
 * requests than that through the entropy device's queue, one byte each.
 */
KTEST_EXPLICIT(virtq-wrap, "70000 requests go through the wrap of the 16-bit ring indices")
{
	unsigned char b;
	unsigned int failed = 0;

	/* Without the device, rng_fill() falls back and no ring would wrap. */
	KTEST_ASSERT_STREQ(rng_source(), "virtio-rng");
	for (unsigned int i = 0; i < 70000; i++) {
		if (rng_fill(&b, 1) != 0)
			failed++;
	}
	KTEST_EXPECT_EQ(failed, 0);
	ktest_checkpoint("virtq-wrap: 70000 requests, %u failed", failed);
}
