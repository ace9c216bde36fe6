/**
 * @file virtio.h
 * @brief virtio (chapter 6): the devices a hypervisor offers instead of
 *        real hardware, their PCI transport, and the split virtqueue
 *        through which a driver hands them buffers.
 *
 * Sections are those of the OASIS virtio 1.2 specification
 * (docs.oasis-open.org/virtio/virtio/v1.2).
 *
 * A virtio device, whatever it does (disk, network card, entropy), talks
 * to its driver the same way: a status byte the driver walks through a
 * fixed sequence (§3.1.1), feature bits both sides agree on (§2.2), a
 * configuration space of the device's own, and one or more virtqueues
 * (§2.7): rings in guest memory where the driver puts buffers and the
 * device gives them back used. Only how those registers are reached
 * differs, by transport; fern has PCI, in both its forms (§4.1):
 *
 * - *legacy* (virtio 0.9.5): one I/O BAR with the registers at fixed
 *   offsets, 32 feature bits, queues at a page frame number;
 * - *modern* (virtio 1.x): vendor capabilities in configuration space
 *   that point into memory BARs: common configuration, notification,
 *   ISR status and device configuration, 64 feature bits.
 *
 * QEMU's `-M pc` devices are *transitional* (both); `disable-modern=on`
 * leaves legacy only, `disable-legacy=on` modern only. struct
 * virtio_transport hides which one a device uses, so the device drivers
 * (virtio_rng.c, virtio_blk.c; chapter 7's virtio_net.c) are written once.
 */
#ifndef FERN_VIRTIO_H
#define FERN_VIRTIO_H

#include <fern/table.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pci_device;

/** @name Device status bits (§2.1) @{ */
#define VIRTIO_STATUS_ACKNOWLEDGE	1	/**< the guest noticed the device */
#define VIRTIO_STATUS_DRIVER		2	/**< and has a driver for it */
#define VIRTIO_STATUS_DRIVER_OK		4	/**< the driver is ready */
#define VIRTIO_STATUS_FEATURES_OK	8	/**< features agreed (modern only) */
#define VIRTIO_STATUS_NEEDS_RESET	64	/**< the device gave up */
#define VIRTIO_STATUS_FAILED		128	/**< the driver gave up */
/** @} */

/** @name Device-independent feature bits (§6) @{ */
#define VIRTIO_F_INDIRECT_DESC		28
#define VIRTIO_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32	/**< the device is modern; required there */
/** @} */

/** @name Device types (§5) @{ */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_ENTROPY	4
/** @} */

/** The feature bit @p b as a mask. */
#define VIRTIO_BIT(b)	(1ULL << (b))

/** @name The split virtqueue (§2.7) @{ */
#define VIRTQ_DESC_F_NEXT	1	/**< the chain goes on in `next` */
#define VIRTQ_DESC_F_WRITE	2	/**< the device writes this buffer */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1	/**< driver: don't interrupt me */
#define VIRTQ_USED_F_NO_NOTIFY	1	/**< device: don't notify me */
/** The legacy interface's alignment of the used ring (§2.7.2). */
#define VIRTQ_LEGACY_ALIGN	4096
/** The biggest queue fern drives (a legacy device imposes its own size). */
#define VIRTQ_MAX_SIZE		256

/** A descriptor: one buffer, by physical address (§2.7.5). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;		/**< VIRTQ_DESC_F_* */
	uint16_t next;		/**< the next descriptor of the chain */
};

/** The available ring: chains the driver offers (§2.7.6). */
struct virtq_avail {
	uint16_t flags;		/**< VIRTQ_AVAIL_F_* */
	uint16_t idx;		/**< where the driver puts the next entry, mod 2^16 */
	uint16_t ring[];	/**< heads of chains, idx % size */
};

/** One entry of the used ring: a chain the device is done with. */
struct virtq_used_elem {
	uint32_t id;		/**< the head of the chain */
	uint32_t len;		/**< bytes the device wrote into it */
};

/** The used ring: chains the device gives back (§2.7.8). */
struct virtq_used {
	uint16_t flags;		/**< VIRTQ_USED_F_* */
	uint16_t idx;		/**< where the device puts the next entry, mod 2^16 */
	struct virtq_used_elem ring[];
};
/** @} */

/**
 * One buffer of a request, for virtq_add(): its physical address, its
 * length, and whether the device writes it (a read from disk) or reads
 * it (a request header).
 */
struct virtq_buf {
	uint64_t phys;
	uint32_t len;
	bool device_writes;
};

/**
 * A split virtqueue and the driver's bookkeeping of it. The three parts
 * live in one physically contiguous area laid out as the legacy interface
 * requires (virtq_layout_bytes()), which suits modern devices too.
 */
struct virtq {
	struct virtq_desc *desc;	/**< size descriptors */
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint64_t phys;			/**< the area's physical address */
	uint16_t size;			/**< entries; a power of two */
	uint16_t index;			/**< the queue's number at its device */
	uint16_t free_head;		/**< first free descriptor, linked by `next` */
	uint16_t num_free;		/**< free descriptors */
	uint16_t avail_idx;		/**< the driver's copy of avail->idx */
	uint16_t last_used;		/**< used entries harvested so far, mod 2^16 */
	uint64_t added, completed;	/**< chains, since the queue was made */
	void *token[VIRTQ_MAX_SIZE];	/**< what each chain's head stands for */
};

/**
 * Bytes a virtqueue of @p size entries needs: descriptors, then the
 * available ring, then, at the next VIRTQ_LEGACY_ALIGN boundary, the used
 * ring (§2.7.2, "Legacy Interfaces").
 */
size_t virtq_layout_bytes(uint16_t size);

/**
 * Lay out a virtqueue of @p size entries (a power of two, at most
 * VIRTQ_MAX_SIZE) in @p mem, zeroed memory of virtq_layout_bytes(size)
 * bytes at physical address @p phys, with every descriptor free.
 */
void virtq_init(struct virtq *q, uint16_t size, void *mem, uint64_t phys);

/**
 * Offer the device a chain of @p n buffers, those it reads first (§2.7.4:
 * device-readable before device-writable), standing for @p token (given
 * back by virtq_get()). Publishes the chain in the available ring; the
 * device learns of it at the next virtio_kick().
 *
 * @return 0; -EINVAL if @p n is 0 or a readable buffer follows a writable
 *         one; -ENOSPC if fewer than @p n descriptors are free.
 */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned int n,
	      void *token);

/**
 * Take the next chain the device has used back: free its descriptors and
 * return its token, with the bytes the device wrote in @p *len (if not
 * NULL). NULL if the device has returned nothing new.
 */
void *virtq_get(struct virtq *q, uint32_t *len);

/** Whether the device has used a chain that virtq_get() has not taken. */
bool virtq_has_used(const struct virtq *q);

/**
 * Whether the device wants to be notified of new chains now: false while
 * it says it is already working through the ring (VIRTQ_USED_F_NO_NOTIFY,
 * §2.7.10). Issues the full barrier the check needs.
 */
bool virtq_notify_needed(const struct virtq *q);

/**
 * Ask the device not to interrupt when it uses a chain (@p off false),
 * or to interrupt again (§2.7.7): a driver that polls needs no interrupt.
 */
void virtq_interrupts(struct virtq *q, bool on);

/** @name Memory barriers (§2.7.13)
 *
 * The device reads the rings while the driver writes them, so the order in
 * which writes become visible matters: a device that saw the new avail->idx
 * before the ring entry it counts would take a stale head. x86 keeps
 * stores in order and loads in order (Intel SDM vol. 3 §8.2.2), so the
 * write and read barriers need only stop the *compiler* from reordering;
 * a load after a store can pass it, so the full barrier is MFENCE. @{ */
static inline void virtio_wmb(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void virtio_rmb(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void virtio_mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}
/** @} */

struct virtio_device;

/**
 * What a transport does for a device: the registers every virtio device
 * has, wherever they are (§4.1.4 modern, §4.1.4.8 legacy).
 */
struct virtio_transport {
	const char *name;			/**< "legacy" or "modern" */
	bool legacy;				/**< 32 feature bits, no FEATURES_OK, fixed queue sizes */
	uint8_t (*get_status)(struct virtio_device *vdev);
	void (*set_status)(struct virtio_device *vdev, uint8_t status);
	uint64_t (*get_features)(struct virtio_device *vdev);
	void (*set_features)(struct virtio_device *vdev, uint64_t features);
	/** Read @p len (1, 2 or 4) bytes of device configuration at @p off. */
	uint32_t (*config_read)(struct virtio_device *vdev, unsigned int off,
				unsigned int len);
	/** A counter that changes whenever the configuration changes (0 on legacy). */
	uint8_t (*config_generation)(struct virtio_device *vdev);
	/** The size the device offers for queue @p index, 0 if it has none. */
	uint16_t (*queue_size)(struct virtio_device *vdev, uint16_t index);
	/** Tell the device where @p q is, and enable it. */
	int (*queue_setup)(struct virtio_device *vdev, struct virtq *q);
	/** Tell the device that @p q has new chains. */
	void (*notify)(struct virtio_device *vdev, struct virtq *q);
	/** Read (and so clear) the ISR status: bit 0 queue, bit 1 configuration. */
	uint8_t (*isr)(struct virtio_device *vdev);
};

/** A virtio device, as the PCI transport found it. */
struct virtio_device {
	struct pci_device *pci;
	const struct virtio_transport *ops;
	uint16_t type;			/**< VIRTIO_ID_* */
	char name[32];			/**< "virtio-blk 00:05.0", for messages */
	uint64_t device_features;	/**< what the device offered */
	uint64_t features;		/**< what the driver accepted */
	bool irq;			/**< a handler is on its interrupt line */
	volatile uint64_t interrupts;	/**< interrupts this device claimed */
	void *driver_data;		/**< the device driver's state */
	/* legacy: the I/O BAR's first port */
	uint16_t io;
	/* modern: the capabilities' structures, mapped */
	volatile uint8_t *common, *notify_base, *isr_status, *device_cfg;
	uint32_t notify_multiplier;
};

/**
 * A driver for one virtio device type, in the `virtio_drivers` table: the
 * PCI transport calls @c probe with the device reset, its features read.
 */
struct virtio_driver {
	const char *name;
	uint16_t type;				/**< VIRTIO_ID_* */
	int (*probe)(struct virtio_device *vdev);
};

DECLARE_LINKER_TABLE(struct virtio_driver, virtio_drivers);

/**
 * The initialisation sequence of §3.1.1 up to the features: reset,
 * ACKNOWLEDGE, DRIVER, accept the offered features that are also in
 * @p supported (plus VERSION_1 on a modern device), and on a modern device
 * set FEATURES_OK and read it back. Prints the features agreed.
 *
 * @return 0; -ENOTSUP (after setting FAILED) if the device refused them.
 */
int virtio_negotiate(struct virtio_device *vdev, uint64_t supported);

/**
 * Create queue @p index of @p vdev: allocate its rings (DMA memory), lay
 * them out and tell the device. Stores the queue in @p *q.
 *
 * @return 0, -ENOENT if the device has no such queue, -ENOMEM, or the
 *         transport's error.
 */
int virtio_queue_create(struct virtio_device *vdev, uint16_t index,
			struct virtq **q);

/** Set DRIVER_OK: the device may use its queues now (§3.1.1 step 8). */
void virtio_ready(struct virtio_device *vdev);

/** Say why, set FAILED, and return @p err: the device is left alone. */
int virtio_fail(struct virtio_device *vdev, const char *why, int err);

/** How many devices virtio_device() keeps. */
#define VIRTIO_MAX_DEVICES	8

/** Remember @p vdev, whose driver took it, for virtio_device(). */
void virtio_add_device(struct virtio_device *vdev);

/** The @p i-th device that has a driver, in probe order, or NULL. */
struct virtio_device *virtio_device(unsigned int i);

/** Notify the device of @p q's new chains, unless it asked not to be. */
void virtio_kick(struct virtio_device *vdev, struct virtq *q);

/**
 * Wait until the device has used a chain of @p q, at most @p ms
 * milliseconds: halting until its interrupt where it has one, polling
 * otherwise.
 *
 * @return 0, or -ETIMEDOUT.
 */
int virtio_wait(struct virtio_device *vdev, struct virtq *q, unsigned int ms);

#endif
