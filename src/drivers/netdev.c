/*
 * The registry of network devices, and the one call through which a
 * driver hands a frame up. Neither side includes the other: drivers
 * register here, and the stack attaches its input function here.
 */
#include <fern/errno.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>

static struct netdev *devices[NETDEV_MAX];

int netdev_register(struct netdev *dev)
{
	for (unsigned int i = 0; i < NETDEV_MAX; i++) {
		if (!devices[i]) {
			devices[i] = dev;
			return 0;
		}
	}
	return -ENOSPC;
}

struct netdev *netdev_get(unsigned int i)
{
	return i < NETDEV_MAX ? devices[i] : NULL;
}

void netdev_receive(struct netdev *dev, struct pbuf *p)
{
	dev->rx_frames++;
	dev->rx_bytes += p->len;
	if (!dev->input) {
		dev->rx_no_input++;
		pbuf_free(p);
		return;
	}
	dev->input(dev, p);
}
