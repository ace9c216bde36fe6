/**
 * @file netdev.h
 * @brief Network devices (chapter 7): what a network card's driver offers
 *        the network stack, and the one call by which it hands frames up.
 *
 * This is the seam between src/drivers/ and src/net/: the stack never
 * includes a driver, and a driver knows nothing of IP. A driver fills in a
 * struct netdev (its MAC address, its transmit function) and registers it
 * with netdev_register(); the stack, at the `net` init level, takes the
 * first device, sets its @c input and opens it. From then on the driver
 * hands each received Ethernet frame to netdev_receive(), from the event
 * loop (never from its interrupt handler), and the stack sends with
 * @c transmit.
 */
#ifndef FERN_NETDEV_H
#define FERN_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

struct pbuf;

#define ETH_ADDR_LEN	6	/**< bytes in a MAC address */
#define NETDEV_MAX	4	/**< devices netdev_register() keeps */

/** A network device, as its driver presents it. */
struct netdev {
	char name[32];			/**< "virtio-net 00:03.0" */
	uint8_t mac[ETH_ADDR_LEN];	/**< its own address */
	uint16_t mtu;			/**< the largest IP packet: 1500 */
	/**
	 * Send frames shorter than Ethernet's 60 bytes as they are, as
	 * Linux's virtio-net driver does (boot option eth_pad=0): a
	 * virtual card has no wire to pad for, and some software backends
	 * take a padded frame's length for its packet's.
	 */
	bool no_pad;
	/**
	 * Start receiving: from now on frames go to @c input. 0, or a
	 * negative error number.
	 */
	int (*open)(struct netdev *dev);
	/**
	 * Send the Ethernet frame in @p p (destination address first, no
	 * FCS; shorter than 60 bytes is padded by the driver unless @c no_pad). The driver owns
	 * @p p from here: it frees it once the device is done with it, or at
	 * once on an error. 0, or -ENOSPC if the device's queue is full.
	 */
	int (*transmit)(struct netdev *dev, struct pbuf *p);
	/** The stack's: receives each frame, and owns it. Set before open(). */
	void (*input)(struct netdev *dev, struct pbuf *p);
	void *stack;			/**< the stack's state for this device */
	void *priv;			/**< the driver's state */
	/* Counters, kept by the driver and netdev_receive(). */
	uint64_t rx_frames;		/**< frames received */
	uint64_t rx_bytes;		/**< their bytes */
	uint64_t tx_frames;		/**< frames handed to the device */
	uint64_t tx_bytes;		/**< their bytes */
	uint64_t rx_no_input;		/**< frames that came before open() */
	uint64_t rx_no_buffer;		/**< times the receive queue could not be refilled */
	uint64_t tx_full;		/**< frames dropped: the transmit queue was full */
};

/**
 * Make @p dev known to the stack. The driver calls it from its probe.
 * @return 0, or -ENOSPC if NETDEV_MAX devices are registered.
 */
int netdev_register(struct netdev *dev);

/** The @p i-th registered device, in probe order, or NULL. */
struct netdev *netdev_get(unsigned int i);

/**
 * Hand the received frame @p p up to the stack, which owns it from here;
 * counts it. Call from the event loop, not from an interrupt handler.
 */
void netdev_receive(struct netdev *dev, struct pbuf *p);

#endif
