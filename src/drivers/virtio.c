/*
 * What every virtio driver does the same way, whatever the device and the
 * transport: the initialisation sequence, creating queues, notifying the
 * device and waiting for it.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/heap.h>
#include <fern/virtio.h>
#include <fern/x86.h>

LINKER_TABLE(struct virtio_driver, virtio_drivers);

/* Without a timer, how many polls stand for a millisecond (a generous guess). */
#define POLLS_PER_MS	20000U

static struct virtio_device *devices[VIRTIO_MAX_DEVICES];

void virtio_add_device(struct virtio_device *vdev)
{
	for (unsigned int i = 0; i < VIRTIO_MAX_DEVICES; i++) {
		if (!devices[i]) {
			devices[i] = vdev;
			return;
		}
	}
}

struct virtio_device *virtio_device(unsigned int i)
{
	return i < VIRTIO_MAX_DEVICES ? devices[i] : NULL;
}

int virtio_fail(struct virtio_device *vdev, const char *why, int err)
{
	kprintf("virtio: %s: error: %s; device left alone\n", vdev->name, why);
	vdev->ops->set_status(vdev, vdev->ops->get_status(vdev) | VIRTIO_STATUS_FAILED);
	return err;
}

/*
 * §3.1.1: reset (write 0), ACKNOWLEDGE, DRIVER, read the device's
 * features, write the subset we implement, then (modern only: a legacy
 * device has no FEATURES_OK, §3.1.2) set FEATURES_OK and read it back: a
 * device that does not accept our subset clears it.
 */
int virtio_negotiate(struct virtio_device *vdev, uint64_t supported)
{
	const struct virtio_transport *ops = vdev->ops;
	uint64_t want = supported;

	ops->set_status(vdev, 0);
	if (ops->get_status(vdev) != 0)
		return virtio_fail(vdev, "the device did not reset", -EIO);
	ops->set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE);
	ops->set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev->device_features = ops->get_features(vdev);
	if (!ops->legacy)
		want |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	vdev->features = vdev->device_features & want;
	if (!ops->legacy && !(vdev->features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return virtio_fail(vdev, "a modern device without VERSION_1", -ENOTSUP);
	ops->set_features(vdev, vdev->features);
	if (!ops->legacy) {
		ops->set_status(vdev, ops->get_status(vdev) | VIRTIO_STATUS_FEATURES_OK);
		if (!(ops->get_status(vdev) & VIRTIO_STATUS_FEATURES_OK))
			return virtio_fail(vdev, "the device refused our features", -ENOTSUP);
	}
	kprintf("virtio: %s: %s transport, features 0x%lx (device offers 0x%lx)\n",
		vdev->name, ops->name, vdev->features, vdev->device_features);
	return 0;
}

int virtio_queue_create(struct virtio_device *vdev, uint16_t index,
			struct virtq **out)
{
	uint16_t size = vdev->ops->queue_size(vdev, index);
	struct virtq *q;
	uint64_t phys;
	void *mem;
	int err;

	if (size == 0)
		return -ENOENT;
	if (size & (size - 1))
		return virtio_fail(vdev, "a queue size that is not a power of two", -ENOTSUP);
	if (size > VIRTQ_MAX_SIZE) {
		/* A modern device takes a smaller queue; a legacy one cannot. */
		if (vdev->ops->legacy)
			return virtio_fail(vdev, "a legacy queue bigger than VIRTQ_MAX_SIZE",
					   -ENOTSUP);
		size = VIRTQ_MAX_SIZE;
	}
	q = kcalloc(1, sizeof(*q));
	mem = dma_alloc(virtq_layout_bytes(size), &phys);
	if (!q || !mem) {
		kfree(q);
		if (mem)
			dma_free(mem, virtq_layout_bytes(size));
		return virtio_fail(vdev, "no memory for a queue", -ENOMEM);
	}
	virtq_init(q, size, mem, phys);
	q->index = index;
	/* Until there is a handler on its line, the device need not interrupt. */
	virtq_interrupts(q, vdev->irq);
	err = vdev->ops->queue_setup(vdev, q);
	if (err) {
		dma_free(mem, virtq_layout_bytes(size));
		kfree(q);
		return virtio_fail(vdev, "the device did not take a queue", err);
	}
	*out = q;
	return 0;
}

void virtio_ready(struct virtio_device *vdev)
{
	vdev->ops->set_status(vdev, vdev->ops->get_status(vdev) | VIRTIO_STATUS_DRIVER_OK);
}

void virtio_kick(struct virtio_device *vdev, struct virtq *q)
{
	if (virtq_notify_needed(q))
		vdev->ops->notify(vdev, q);
}

/*
 * With a handler on the device's line and interrupts on, halt until an
 * interrupt comes (the device's, or the next tick) and look again; the
 * check and the halt run with interrupts off until STI; HLT, whose
 * interrupt shadow lets no interrupt in between (so none is missed and
 * slept through). Otherwise poll. Either way the wait has a deadline.
 */
int virtio_wait(struct virtio_device *vdev, struct virtq *q, unsigned int ms)
{
	if (vdev->irq && interrupts_on()) {
		uint64_t deadline = timer_ticks() + (uint64_t)ms * TIMER_HZ / 1000 + 2;

		for (;;) {
			cli();
			if (virtq_has_used(q)) {
				sti();
				return 0;
			}
			if (timer_ticks() > deadline) {
				sti();
				return -ETIMEDOUT;
			}
			sti_hlt();
		}
	}
	for (uint64_t n = 0; n < (uint64_t)ms * POLLS_PER_MS; n++) {
		if (virtq_has_used(q))
			return 0;
		pause();
	}
	return -ETIMEDOUT;
}
