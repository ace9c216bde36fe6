/*
 * virtio-net (virtio 1.2 §5.1): a network card that is two queues, one of
 * empty buffers the device fills with received frames (receiveq, queue 0)
 * and one of frames for it to send (transmitq, queue 1).
 *
 * Every frame in either direction starts with a struct virtio_net_hdr
 * (§5.1.6): what offloads apply to it. fern accepts none of the offload
 * features (checksums, segmentation), so the header it sends is all zeros
 * and the one it receives says nothing it must act on; and it does not
 * accept VIRTIO_NET_F_MRG_RXBUF, so each received frame arrives whole in
 * one buffer, which must then hold the header and 1514 bytes of frame.
 * The header is 10 bytes on a legacy device and 12 (with num_buffers) on
 * a modern one (§5.1.6.1).
 *
 * The buffers are packet buffers (pbuf.h): the device writes a received
 * frame straight into one, and the stack reads it there; a frame to send
 * gets the header pushed into its headroom and goes to the device as it
 * is. No frame is copied.
 *
 * Received frames are handed up from the event loop, never from the
 * interrupt handler (virtio_pci.c's, which only acknowledges the device):
 * the interrupt wakes the CPU from the loop's HLT, and the loop's next
 * round polls here.
 */
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/heap.h>
#include <fern/loop.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>
#include <fern/string.h>
#include <fern/virtio.h>

/** @name virtio-net feature bits (§5.1.3) */
#define VIRTIO_NET_F_MAC	5	/* the device config has a MAC address */
#define VIRTIO_NET_F_MRG_RXBUF	15	/* a frame may span several buffers (not accepted) */
#define VIRTIO_NET_F_STATUS	16	/* the device config has a link status */

/* The device configuration (§5.1.4): the MAC address, then the status. */
#define VIRTIO_NET_CFG_MAC	0
#define VIRTIO_NET_CFG_STATUS	6
#define VIRTIO_NET_S_LINK_UP	1

#define RX_QUEUE	0
#define TX_QUEUE	1

/* The header before every frame (§5.1.6), as a modern device has it. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;	/* modern only: not there on a legacy device */
} __attribute__((packed));

#define HDR_LEN_LEGACY	10
#define HDR_LEN_MODERN	12

/* An Ethernet frame without its FCS: 14 bytes of header, up to 1500 of
 * data, and at least 60 in all (shorter ones are padded). */
#define ETH_FRAME_MAX	1514
#define ETH_FRAME_MIN	60

/* Buffers kept posted in the receive queue; the pool has PBUF_COUNT. */
#define RX_POSTED_MAX	64
/* Frames handed up per poll, so that one flood cannot starve the shell. */
#define RX_BUDGET	32

struct vnet {
	struct netdev dev;
	struct virtio_device *vdev;
	struct virtq *rxq, *txq;
	unsigned int hdr_len;
	unsigned int rx_posted, rx_target;
	uint64_t rx_errors;	/* used buffers too short for a header */
	struct loop_poller poller;
};

/*
 * Post empty buffers until rx_target are in the queue. The device writes
 * the header just before where the frame's data should start, so that
 * the frame itself lands at the buffer's usual data position, headroom
 * and all, and the stack can later push headers onto a reply in place.
 */
static bool rx_refill(struct vnet *n)
{
	bool posted = false;

	while (n->rx_posted < n->rx_target) {
		struct pbuf *p = pbuf_alloc();
		struct virtq_buf b;

		if (!p) {
			n->dev.rx_no_buffer++;
			break;
		}
		b.phys = p->phys + PBUF_HEADROOM - n->hdr_len;
		b.len = PBUF_SIZE - PBUF_HEADROOM + n->hdr_len;
		b.device_writes = true;
		if (virtq_add(n->rxq, &b, 1, p) != 0) {
			pbuf_free(p);
			break;
		}
		n->rx_posted++;
		posted = true;
	}
	if (posted)
		virtio_kick(n->vdev, n->rxq);
	return posted;
}

/* Give back the buffers of frames the device has sent. */
static bool tx_reclaim(struct vnet *n)
{
	struct pbuf *p;
	bool did = false;

	while ((p = virtq_get(n->txq, NULL))) {
		pbuf_free(p);
		did = true;
	}
	return did;
}

/*
 * The loop's poller: hand up what the device received (at most RX_BUDGET
 * frames), post fresh buffers in place of those, and reclaim what it sent.
 */
static bool vnet_poll(void *ctx)
{
	struct vnet *n = ctx;
	bool did = false;
	unsigned int budget = RX_BUDGET;
	struct pbuf *p;
	uint32_t len;

	while (budget && (p = virtq_get(n->rxq, &len))) {
		n->rx_posted--;
		budget--;
		did = true;
		if (len < n->hdr_len || len - n->hdr_len > ETH_FRAME_MAX) {
			/* A device that says it wrote less than a header, or more
			 * than the buffer: count it, and trust nothing in it. */
			n->rx_errors++;
			pbuf_free(p);
			continue;
		}
		p->data = p->start + PBUF_HEADROOM;
		p->len = (uint16_t)(len - n->hdr_len);
		netdev_receive(&n->dev, p);
	}
	rx_refill(n);
	did |= tx_reclaim(n);
	if (!budget)
		loop_wake();	/* more may be waiting: another round first */
	return did;
}

static bool vnet_ready(void *ctx)
{
	struct vnet *n = ctx;

	return virtq_has_used(n->rxq) || virtq_has_used(n->txq);
}

static int vnet_open(struct netdev *dev)
{
	(void)dev;
	return 0;
}

/*
 * Send one frame: pad it to the minimum, push a zeroed header (no
 * offloads) into its headroom, and offer it to the device as one buffer.
 * Frames the device has finished are reclaimed first, so the queue is
 * full only when the device really is behind.
 */
static int vnet_transmit(struct netdev *dev, struct pbuf *p)
{
	struct vnet *n = dev->priv;
	struct virtq_buf b;
	void *hdr;

	tx_reclaim(n);
	if (p->len > ETH_FRAME_MAX) {
		pbuf_free(p);
		return -EINVAL;
	}
	if (p->len < ETH_FRAME_MIN && !dev->no_pad) {
		size_t pad = ETH_FRAME_MIN - p->len;

		memset(pbuf_put(p, pad), 0, pad);
	}
	hdr = pbuf_push(p, n->hdr_len);
	if (!hdr) {
		pbuf_free(p);
		return -EINVAL;
	}
	memset(hdr, 0, n->hdr_len);
	b.phys = pbuf_phys(p);
	b.len = p->len;
	b.device_writes = false;
	if (virtq_add(n->txq, &b, 1, p) != 0) {
		dev->tx_full++;
		pbuf_free(p);
		return -ENOSPC;
	}
	dev->tx_frames++;
	dev->tx_bytes += p->len - n->hdr_len;
	virtio_kick(n->vdev, n->txq);
	return 0;
}

static void read_mac(struct vnet *n)
{
	struct virtio_device *vdev = n->vdev;

	if (vdev->features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) {
		for (unsigned int i = 0; i < ETH_ADDR_LEN; i++)
			n->dev.mac[i] = (uint8_t)vdev->ops->config_read(vdev, VIRTIO_NET_CFG_MAC + i, 1);
		return;
	}
	/* No address from the device: a locally administered one (bit 1 of
	 * the first byte, IEEE 802 §8.2), unicast (bit 0 clear). */
	static const uint8_t fallback[ETH_ADDR_LEN] = { 0x02, 0, 0, 0, 0, 0x01 };

	memcpy(n->dev.mac, fallback, ETH_ADDR_LEN);
	kprintf("virtio: %s: no MAC address offered; using 02:00:00:00:00:01\n", vdev->name);
}

static int virtio_net_probe(struct virtio_device *vdev)
{
	struct vnet *n;
	int err;

	err = virtio_negotiate(vdev, VIRTIO_BIT(VIRTIO_NET_F_MAC));
	if (err)
		return err;
	n = kcalloc(1, sizeof(*n));
	if (!n)
		return virtio_fail(vdev, "no memory for the driver's state", -ENOMEM);
	n->vdev = vdev;
	n->hdr_len = vdev->ops->legacy ? HDR_LEN_LEGACY : HDR_LEN_MODERN;
	err = virtio_queue_create(vdev, RX_QUEUE, &n->rxq);
	if (!err)
		err = virtio_queue_create(vdev, TX_QUEUE, &n->txq);
	if (err) {
		kfree(n);
		return err == -ENOENT ? virtio_fail(vdev, "a queue is missing", err) : err;
	}
	/* Sent frames are reclaimed when the next is sent or the loop polls:
	 * no interrupt is needed for them. */
	virtq_interrupts(n->txq, false);
	read_mac(n);
	memcpy(n->dev.name, vdev->name, sizeof(n->dev.name));
	n->dev.mtu = 1500;
	n->dev.open = vnet_open;
	n->dev.transmit = vnet_transmit;
	n->dev.priv = n;
	n->rx_target = n->rxq->size < RX_POSTED_MAX ? n->rxq->size : RX_POSTED_MAX;
	vdev->driver_data = n;
	if (!rx_refill(n)) {
		kfree(n);
		return virtio_fail(vdev, "no packet buffers for the receive queue", -ENOMEM);
	}
	virtio_ready(vdev);
	n->poller.name = "virtio-net";
	n->poller.poll = vnet_poll;
	n->poller.ready = vnet_ready;
	n->poller.ctx = n;
	loop_add_poller(&n->poller);
	if (netdev_register(&n->dev) != 0)
		kprintf("virtio: %s: more network devices than fern keeps; not used\n", vdev->name);
	kprintf("virtio: %s: ready, mac %02x:%02x:%02x:%02x:%02x:%02x, queues of %u and %u, %u receive buffers\n",
		vdev->name, n->dev.mac[0], n->dev.mac[1], n->dev.mac[2], n->dev.mac[3],
		n->dev.mac[4], n->dev.mac[5], n->rxq->size, n->txq->size, n->rx_posted);
	return 0;
}

static const struct virtio_driver virtio_net TABLE_ENTRY(virtio_drivers) = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.probe = virtio_net_probe,
};
