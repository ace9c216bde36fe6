/*
 * Ethernet II (IEEE 802.3 §3.2.6's type interpretation): six bytes of
 * destination, six of source, two of type, then the payload. What reaches
 * the stack is what the card received: frames to our address, to
 * broadcast, and (a card may deliver them) to anyone else. Only the first
 * two, carrying IPv4 or ARP, go further.
 */
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

static const uint8_t broadcast[ETH_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void ether_input(struct netdev *dev, struct pbuf *p)
{
	const uint8_t *h = p->data;
	uint16_t type;

	(void)dev;
	net_stats.eth_rx++;
	if (p->len < ETH_HDR_LEN) {
		net_drop(p, NET_DROP_ETH_SHORT);
		return;
	}
	if (memcmp(h, netif.mac, ETH_ADDR_LEN) != 0 && memcmp(h, broadcast, ETH_ADDR_LEN) != 0) {
		net_drop(p, NET_DROP_ETH_NOT_OURS);
		return;
	}
	type = get16(h + 12);
	pbuf_pull(p, ETH_HDR_LEN);
	if (type == ETH_TYPE_IPV4)
		ipv4_input(p);
	else if (type == ETH_TYPE_ARP)
		arp_input(p);
	else
		net_drop(p, NET_DROP_ETH_TYPE);
}

int ether_output(struct pbuf *p, const uint8_t dst[ETH_ADDR_LEN], uint16_t type)
{
	uint8_t *h = pbuf_push(p, ETH_HDR_LEN);

	if (!h) {
		net_drop(p, NET_DROP_NO_BUFFER);
		return -1;
	}
	memcpy(h, dst, ETH_ADDR_LEN);
	memcpy(h + 6, netif.mac, ETH_ADDR_LEN);
	put16(h + 12, type);
	net_stats.eth_tx++;
	if (netif.dev->transmit(netif.dev, p) != 0) {
		net_drop(NULL, NET_DROP_TX_FULL);
		return -1;
	}
	return 0;
}
