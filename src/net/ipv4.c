/*
 * IPv4 (RFC 791 §3.1). The header, 20 bytes without options:
 *   0 version (4 bits) and IHL (header length in 32-bit words, 4 bits)
 *   1 type of service  2 total length (header and data, in bytes)
 *   4 identification   6 flags (3 bits: reserved, DF, MF) and fragment offset
 *   8 TTL  9 protocol  10 header checksum  12 source  16 destination
 *
 * Input checks each field a later step relies on before that step reads
 * it, in an order where each check makes the next one safe: the header
 * must be there before its fields are read, IHL must be sane before the
 * header length is used, the total length must fit the frame before the
 * payload is handed up. The embedded stacks of Amnesia:33 and Ripple20
 * skipped one of these, and believed a length an attacker wrote.
 */
#include <fern/checksum.h>
#include <fern/console.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

#define IPV4_FLAG_MF		0x2000	/* more fragments follow */
#define IPV4_FRAG_OFFSET	0x1fff	/* in 8-byte units */
#define IPV4_TTL		64

static uint16_t next_id;

LINKER_TABLE(struct ip_protocol, ip_protocols);

/* Whether @dst is an address this interface takes packets for. */
static bool ours(uint32_t dst)
{
	if (dst == IP4_BROADCAST)
		return true;
	if (!netif.addr)
		return false;
	return dst == netif.addr || dst == (netif.addr | ~netif.mask);
}

/*
 * Check the IPv4 header at @pkt, @len bytes as received. Returns -1 if it
 * is fine, else the reason to drop it.
 */
static int ipv4_check(const uint8_t *pkt, size_t len)
{
	/* LAB 7 BEGIN: in this order: at least IPV4_HDR_LEN bytes (NET_DROP_IP_SHORT); version 4 (IP_VERSION); IHL >= 5 (IP_IHL); IHL * 4 <= len (IP_HEADER_LEN); IHL*4 <= total length <= len (IP_TOTAL_LEN); checksum over IHL*4 bytes (IP_CHECKSUM); no options (IP_OPTIONS); MF clear and offset 0 (IP_FRAGMENT) */
	size_t ihl, total;

	if (len < IPV4_HDR_LEN)
		return NET_DROP_IP_SHORT;
	if (pkt[0] >> 4 != 4)
		return NET_DROP_IP_VERSION;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_LEN)
		return NET_DROP_IP_IHL;
	if (ihl > len)
		return NET_DROP_IP_HEADER_LEN;
	total = get16(pkt + 2);
	if (total > len || total < ihl)
		return NET_DROP_IP_TOTAL_LEN;
	if (checksum(pkt, ihl) != 0)
		return NET_DROP_IP_CHECKSUM;
	if (ihl > IPV4_HDR_LEN)
		return NET_DROP_IP_OPTIONS;
	if (get16(pkt + 6) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET))
		return NET_DROP_IP_FRAGMENT;
	return -1;
	/* LAB 7 STUB: static bool said; (void)pkt; (void)len; if (!said) kprintf("lab 7: ipv4_check() is not implemented, so every IPv4 packet is dropped\n"); said = true; return NET_DROP_IP_VERSION; */
	/* LAB 7 END */
}

void ipv4_input(struct pbuf *p)
{
	const uint8_t *h = p->data;
	uint32_t src, dst;
	const struct ip_protocol *ip;
	uint8_t proto, ttl;
	int why;

	net_stats.ip_rx++;
	why = ipv4_check(p->data, p->len);
	if (why >= 0) {
		net_drop(p, (enum net_drop)why);
		return;
	}
	/* Bytes after the total length are the frame's padding. */
	pbuf_trim(p, get16(h + 2));
	src = get32(h + 12);
	dst = get32(h + 16);
	proto = h[9];
	ttl = h[8];
	/* Before it has an address, DHCP's answers (to port 68) must come in. */
	if (!ours(dst) && !(netif.addr == 0 && proto == IP_PROTO_UDP)) {
		net_drop(p, NET_DROP_IP_NOT_OURS);
		return;
	}
	pbuf_pull(p, (size_t)(h[0] & 0x0f) * 4);
	for_each_table_entry(ip, ip_protocols) {
		if (ip->number == proto) {
			ip->input(p, src, dst, ttl);
			return;
		}
	}
	net_drop(p, NET_DROP_IP_PROTO);
}

uint32_t ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	uint8_t ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	put16(ph + 10, (uint16_t)len);
	return checksum_add(0, ph, sizeof(ph));
}

int ipv4_output(struct pbuf *p, uint32_t dst, uint8_t proto)
{
	static const uint8_t broadcast[ETH_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *h = pbuf_push(p, IPV4_HDR_LEN);
	bool on_link;

	if (!h) {
		net_drop(p, NET_DROP_NO_BUFFER);
		return -1;
	}
	h[0] = 0x45;		/* version 4, 5 words */
	h[1] = 0;
	put16(h + 2, p->len);
	put16(h + 4, next_id++);
	put16(h + 6, 0);
	h[8] = IPV4_TTL;
	h[9] = proto;
	put16(h + 10, 0);
	put32(h + 12, netif.addr);
	put32(h + 16, dst);
	put16(h + 10, checksum(h, IPV4_HDR_LEN));
	net_stats.ip_tx++;
	if (dst == IP4_BROADCAST || (netif.addr && dst == (netif.addr | ~netif.mask)))
		return ether_output(p, broadcast, ETH_TYPE_IPV4);
	on_link = (dst & netif.mask) == (netif.addr & netif.mask);
	if (!on_link && !netif.gateway) {
		net_drop(p, NET_DROP_ARP_UNRESOLVED);
		return -1;
	}
	return arp_output(p, on_link ? dst : netif.gateway);
}
