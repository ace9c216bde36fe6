/*
 * virtio-rng (virtio 1.2 §5.4): the simplest virtio device. One queue;
 * the driver offers empty buffers the device may write, and the device
 * gives each back filled with as many random bytes as it had.
 */
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/rng.h>
#include <fern/string.h>
#include <fern/virtio.h>

/* Bytes per request: the bounce buffer's size. */
#define RNG_CHUNK	256
/* How long one request may take. */
#define RNG_TIMEOUT_MS	1000

static struct {
	struct virtio_device *vdev;
	struct virtq *q;
	unsigned char *buf;	/* the bounce buffer: DMA memory */
	uint64_t buf_phys;
} rng;

/*
 * Ask for up to RNG_CHUNK bytes at a time into the bounce buffer (the
 * caller's buffer may be on the stack or in the heap, whose physical
 * pages are scattered), and copy out what came back.
 */
static int virtio_rng_fill(void *out, size_t n)
{
	unsigned char *p = out;

	while (n) {
		struct virtq_buf b = { rng.buf_phys, n < RNG_CHUNK ? (uint32_t)n : RNG_CHUNK, true };
		uint32_t got = 0;
		int err = virtq_add(rng.q, &b, 1, &rng);

		if (err)
			return err;
		virtio_kick(rng.vdev, rng.q);
		err = virtio_wait(rng.vdev, rng.q, RNG_TIMEOUT_MS);
		if (err)
			return err;
		if (virtq_get(rng.q, &got) != &rng)
			return -EIO;
		if (got > b.len)
			got = b.len;	/* a device that claims more than fits */
		memcpy(p, rng.buf, got);
		p += got;
		n -= got;
	}
	return 0;
}

static int virtio_rng_probe(struct virtio_device *vdev)
{
	int err;

	if (rng.vdev) {
		kprintf("virtio: %s: a second entropy device; using the first\n", vdev->name);
		return -EEXIST;
	}
	err = virtio_negotiate(vdev, 0);	/* §5.4.3: it has no features */
	if (err)
		return err;
	err = virtio_queue_create(vdev, 0, &rng.q);
	if (err)
		return err;
	rng.buf = dma_alloc(RNG_CHUNK, &rng.buf_phys);
	if (!rng.buf)
		return virtio_fail(vdev, "no memory for the bounce buffer", -ENOMEM);
	rng.vdev = vdev;
	virtio_ready(vdev);
	rng_set_source("virtio-rng", virtio_rng_fill);
	kprintf("virtio: %s: ready, queue of %u\n", vdev->name, rng.q->size);
	return 0;
}

static const struct virtio_driver virtio_rng TABLE_ENTRY(virtio_drivers) = {
	.name = "virtio-rng",
	.type = VIRTIO_ID_ENTROPY,
	.probe = virtio_rng_probe,
};
