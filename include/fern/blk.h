/**
 * @file blk.h
 * @brief The disk (chapter 6): sectors of the first virtio-blk device.
 *
 * A virtio-blk device (virtio 1.2 §5.2) is a disk of 512-byte sectors. A
 * request is one descriptor chain: a header the device reads (what to do,
 * at which sector), the data (read by the device for a write, written by
 * it for a read), and one status byte the device writes last.
 */
#ifndef FERN_BLK_H
#define FERN_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE	512	/**< virtio-blk addresses 512-byte sectors */

/** What blk_info() says about the disk. */
struct blk_info {
	const char *name;	/**< "virtio-blk 00:05.0" */
	uint64_t sectors;	/**< its capacity, in BLK_SECTOR_SIZE units */
	bool read_only;		/**< VIRTIO_BLK_F_RO: writes are refused */
	bool flush;		/**< VIRTIO_BLK_F_FLUSH: it has a write cache to flush */
};

/** Describe the disk in @p info. @return 0, or -ENODEV if there is none. */
int blk_info(struct blk_info *info);

/**
 * Read @p count sectors from @p lba into @p buf.
 *
 * @return 0; -ENODEV (no disk), -EINVAL (past the end), -EIO (the device
 *         said so), -ETIMEDOUT.
 */
int blk_read(uint64_t lba, void *buf, unsigned int count);

/**
 * Write @p count sectors from @p buf at @p lba.
 *
 * @return 0, -EROFS on a read-only disk (nothing is sent), or as
 *         blk_read().
 */
int blk_write(uint64_t lba, const void *buf, unsigned int count);

/**
 * Make every completed write durable (the device's write cache
 * emptied). Without VIRTIO_BLK_F_FLUSH the disk has no such cache: 0.
 */
int blk_flush(void);

#endif
