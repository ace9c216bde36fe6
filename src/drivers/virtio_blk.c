/*
 * virtio-blk (virtio 1.2 §5.2): a disk. One request queue; each request
 * is a chain of three buffers: the header (device-readable), the data,
 * and the status byte (device-writable), in that order (§5.2.6).
 */
#include <fern/blk.h>
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/init.h>
#include <fern/parse.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <fern/virtio.h>

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_RO		5	/* the disk is read-only */
#define VIRTIO_BLK_F_FLUSH	9	/* it has a cache and takes FLUSH */

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

/* The configuration's capacity field, in 512-byte sectors (§5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY	0

/* Sectors per request: one page of bounce buffer. */
#define BLK_CHUNK	8
#define BLK_TIMEOUT_MS	5000

struct virtio_blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* What the device reads and writes besides the data: one DMA page. */
struct blk_dma {
	struct virtio_blk_req_header header;
	uint8_t status;
};

static struct {
	struct virtio_device *vdev;
	struct virtq *q;
	uint64_t sectors;
	struct blk_dma *req;		/* header and status */
	uint64_t req_phys;
	uint8_t *data;			/* BLK_CHUNK sectors */
	uint64_t data_phys;
} disk;

/*
 * Read the 64-bit capacity. A modern device may change its configuration
 * between our two 32-bit reads; the generation counter tells (§4.1.4.3.1).
 */
static uint64_t read_capacity(struct virtio_device *vdev)
{
	const struct virtio_transport *ops = vdev->ops;
	uint8_t gen;
	uint64_t lo, hi;

	do {
		gen = ops->config_generation(vdev);
		lo = ops->config_read(vdev, VIRTIO_BLK_CFG_CAPACITY, 4);
		hi = ops->config_read(vdev, VIRTIO_BLK_CFG_CAPACITY + 4, 4);
	} while (gen != ops->config_generation(vdev));
	return hi << 32 | lo;
}

/* Send one request of @count sectors (0 for a flush) and wait for it. */
static int request(uint32_t type, uint64_t lba, unsigned int count)
{
	struct virtq_buf bufs[3];
	unsigned int n = 0;
	int err;

	disk.req->header = (struct virtio_blk_req_header){ type, 0, lba };
	disk.req->status = 0xff;	/* the device overwrites it */
	bufs[n++] = (struct virtq_buf){ disk.req_phys, sizeof(disk.req->header), false };
	if (count)
		bufs[n++] = (struct virtq_buf){ disk.data_phys, count * BLK_SECTOR_SIZE,
						type == VIRTIO_BLK_T_IN };
	bufs[n++] = (struct virtq_buf){ disk.req_phys + sizeof(disk.req->header), 1, true };
	err = virtq_add(disk.q, bufs, n, &disk);
	if (err)
		return err;
	virtio_kick(disk.vdev, disk.q);
	err = virtio_wait(disk.vdev, disk.q, BLK_TIMEOUT_MS);
	if (err)
		return err;
	if (virtq_get(disk.q, NULL) != &disk)
		return -EIO;
	switch (disk.req->status) {
	case VIRTIO_BLK_S_OK:
		return 0;
	case VIRTIO_BLK_S_UNSUPP:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

int blk_info(struct blk_info *info)
{
	if (!disk.vdev)
		return -ENODEV;
	info->name = disk.vdev->name;
	info->sectors = disk.sectors;
	info->read_only = disk.vdev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO);
	info->flush = disk.vdev->features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	return 0;
}

static int check_range(uint64_t lba, unsigned int count)
{
	if (!disk.vdev)
		return -ENODEV;
	if (count == 0 || lba >= disk.sectors || count > disk.sectors - lba)
		return -EINVAL;
	return 0;
}

int blk_read(uint64_t lba, void *buf, unsigned int count)
{
	int err = check_range(lba, count);

	while (!err && count) {
		unsigned int k = count < BLK_CHUNK ? count : BLK_CHUNK;

		err = request(VIRTIO_BLK_T_IN, lba, k);
		if (!err)
			memcpy(buf, disk.data, k * BLK_SECTOR_SIZE);
		buf = (char *)buf + k * BLK_SECTOR_SIZE;
		lba += k;
		count -= k;
	}
	return err;
}

int blk_write(uint64_t lba, const void *buf, unsigned int count)
{
	int err = check_range(lba, count);

	if (!err && (disk.vdev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO)))
		return -EROFS;
	while (!err && count) {
		unsigned int k = count < BLK_CHUNK ? count : BLK_CHUNK;

		memcpy(disk.data, buf, k * BLK_SECTOR_SIZE);
		err = request(VIRTIO_BLK_T_OUT, lba, k);
		buf = (const char *)buf + k * BLK_SECTOR_SIZE;
		lba += k;
		count -= k;
	}
	return err;
}

int blk_flush(void)
{
	if (!disk.vdev)
		return -ENODEV;
	if (!(disk.vdev->features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)))
		return 0;
	return request(VIRTIO_BLK_T_FLUSH, 0, 0);
}

static int virtio_blk_probe(struct virtio_device *vdev)
{
	int err;

	if (disk.vdev) {
		kprintf("virtio: %s: a second disk; fern drives the first only\n", vdev->name);
		return -EEXIST;
	}
	err = virtio_negotiate(vdev, VIRTIO_BIT(VIRTIO_BLK_F_RO) |
				     VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	if (err)
		return err;
	err = virtio_queue_create(vdev, 0, &disk.q);
	if (err)
		return err;
	disk.req = dma_alloc(sizeof(*disk.req), &disk.req_phys);
	disk.data = dma_alloc(BLK_CHUNK * BLK_SECTOR_SIZE, &disk.data_phys);
	if (!disk.req || !disk.data)
		return virtio_fail(vdev, "no memory for requests", -ENOMEM);
	disk.sectors = read_capacity(vdev);
	disk.vdev = vdev;
	virtio_ready(vdev);
	kprintf("virtio: %s: ready, %lu sectors%s\n", vdev->name, disk.sectors,
		(vdev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO)) ? ", read-only" : "");
	return 0;
}

static const struct virtio_driver virtio_blk TABLE_ENTRY(virtio_drivers) = {
	.name = "virtio-blk",
	.type = VIRTIO_ID_BLOCK,
	.probe = virtio_blk_probe,
};

/* After the devices level's drivers (link order): a boot without a disk says so. */
static int blk_report(const struct boot_info *info)
{
	(void)info;
	if (!disk.vdev)
		kprintf("blk: no virtio-blk disk\n");
	return 0;
}
INITCALL(INIT_DEVICES, blk_report);

/* ---- the shell's `blk` ---------------------------------------------- */

static const char *blk_error(int err)
{
	switch (err) {
	case -ENODEV:
		return "no virtio-blk disk";
	case -EINVAL:
		return "sector past the end of the disk";
	case -EROFS:
		return "the disk is read-only";
	case -ENOTSUP:
		return "the device does not support the request";
	case -ETIMEDOUT:
		return "the device did not answer";
	default:
		return "the device reported an I/O error";
	}
}

static int fail(int err)
{
	kprintf("blk: error: %s\n", blk_error(err));
	return 1;
}

static void hexdump(const uint8_t *p, unsigned int n)
{
	for (unsigned int off = 0; off < n; off += 16) {
		kprintf("%03x:", off);
		for (unsigned int i = 0; i < 16; i++)
			kprintf(" %02x", p[off + i]);
		kprintf("  |");
		for (unsigned int i = 0; i < 16; i++) {
			uint8_t c = p[off + i];

			kprintf("%c", c >= 0x20 && c < 0x7f ? c : '.');
		}
		kprintf("|\n");
	}
}

static int cmd_blk(int argc, char **argv)
{
	static uint8_t sector[BLK_SECTOR_SIZE];
	struct blk_info info;
	uint64_t lba;
	int err;

	if (argc == 2 && strcmp(argv[1], "info") == 0) {
		err = blk_info(&info);
		if (err)
			return fail(err);
		kprintf("blk: %s: %lu sectors of %d bytes (%lu KiB), %s%s\n", info.name,
			info.sectors, BLK_SECTOR_SIZE, info.sectors / 2,
			info.read_only ? "read-only" : "read-write",
			info.flush ? ", write cache" : "");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "flush") == 0) {
		err = blk_flush();
		if (err)
			return fail(err);
		kprintf("blk: flushed\n");
		return 0;
	}
	if (argc >= 3 && parse_u64(argv[2], &lba) != 0) {
		kprintf("blk: error: '%s' is not a sector number\n", argv[2]);
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "read") == 0) {
		err = blk_read(lba, sector, 1);
		if (err)
			return fail(err);
		kprintf("blk: sector %lu:\n", lba);
		hexdump(sector, BLK_SECTOR_SIZE);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "write") == 0) {
		size_t len = 0;

		memset(sector, 0, sizeof(sector));
		for (int i = 3; i < argc; i++) {
			size_t k = strlen(argv[i]);

			if (len + k + (i > 3) > sizeof(sector)) {
				kprintf("blk: error: the text is longer than a sector\n");
				return 1;
			}
			if (i > 3)
				sector[len++] = ' ';
			memcpy(sector + len, argv[i], k);
			len += k;
		}
		err = blk_write(lba, sector, 1);
		if (err)
			return fail(err);
		kprintf("blk: wrote %u bytes of text to sector %lu\n", (unsigned)len, lba);
		return 0;
	}
	kprintf("blk: usage: blk info | blk read LBA | blk write LBA TEXT | blk flush\n");
	return 1;
}
KCMD(blk, "blk info | read LBA | write LBA TEXT | flush: the virtio-blk disk", cmd_blk);
