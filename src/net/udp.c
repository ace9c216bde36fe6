/*
 * UDP (RFC 768): ports on top of IPv4, and a checksum that also covers a
 * pseudo-header of the IP addresses, protocol and length, so that a
 * datagram delivered to the wrong address is caught too.
 *   0 source port  2 destination port  4 length (header and data)  6 checksum
 * A checksum of 0 means the sender computed none (IPv4 only); a computed
 * 0 is sent as 0xffff, its other ones'-complement form.
 */
#include <fern/checksum.h>
#include <fern/errno.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

static struct udp_socket *sockets;

int udp_bind(struct udp_socket *s, uint16_t port, udp_recv_fn recv, void *ctx)
{
	for (struct udp_socket *o = sockets; o; o = o->next) {
		if (o->port == port)
			return -EEXIST;
	}
	s->port = port;
	s->recv = recv;
	s->ctx = ctx;
	s->next = sockets;
	sockets = s;
	return 0;
}

void udp_unbind(struct udp_socket *s)
{
	for (struct udp_socket **pp = &sockets; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static void udp_input(struct pbuf *p, uint32_t src, uint32_t dst, uint8_t ttl)
{
	const uint8_t *u = p->data;
	uint16_t dport, csum;
	size_t len;

	(void)ttl;
	net_stats.udp_rx++;
	if (p->len < UDP_HDR_LEN) {
		net_drop(p, NET_DROP_UDP_SHORT);
		return;
	}
	len = get16(u + 4);
	if (len < UDP_HDR_LEN || len != p->len) {
		net_drop(p, NET_DROP_UDP_LENGTH);
		return;
	}
	csum = get16(u + 6);
	if (csum != 0 &&
	    checksum_finish(checksum_add(ipv4_pseudo_sum(src, dst, IP_PROTO_UDP, len), u, len)) != 0) {
		net_drop(p, NET_DROP_UDP_CHECKSUM);
		return;
	}
	dport = get16(u + 2);
	for (struct udp_socket *s = sockets; s; s = s->next) {
		if (s->port == dport) {
			s->recv(s, src, get16(u), u + UDP_HDR_LEN, len - UDP_HDR_LEN);
			pbuf_free(p);
			return;
		}
	}
	net_drop(p, NET_DROP_UDP_PORT);
}

static const struct ip_protocol udp TABLE_ENTRY(ip_protocols) = {
	.number = IP_PROTO_UDP,
	.input = udp_input,
};

int udp_sendto(struct udp_socket *s, uint32_t dst, uint16_t dport, const void *data,
	       size_t len)
{
	struct pbuf *p;
	uint8_t *u;
	uint16_t csum;

	if (len > (size_t)netif.dev->mtu - IPV4_HDR_LEN - UDP_HDR_LEN)
		return -EINVAL;
	p = pbuf_alloc();
	if (!p) {
		net_drop(NULL, NET_DROP_NO_BUFFER);
		return -ENOSPC;
	}
	u = pbuf_put(p, UDP_HDR_LEN + len);
	put16(u, s->port);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(UDP_HDR_LEN + len));
	put16(u + 6, 0);
	memcpy(u + UDP_HDR_LEN, data, len);
	csum = checksum_finish(checksum_add(ipv4_pseudo_sum(netif.addr, dst, IP_PROTO_UDP,
							    UDP_HDR_LEN + len),
					    u, UDP_HDR_LEN + len));
	put16(u + 6, csum ? csum : 0xffff);
	net_stats.udp_tx++;
	return ipv4_output(p, dst, IP_PROTO_UDP);
}
