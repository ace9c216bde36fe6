/*
 * ICMP (RFC 792), the part fern speaks: echo. A request (type 8) gets a
 * reply (type 0) with the same identifier, sequence number and data; a
 * reply is matched against the one `ping` waits for.
 */
#include <fern/checksum.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

#define ICMP_ECHO_REPLY		0
#define ICMP_ECHO_REQUEST	8

struct icmp_echo_reply icmp_awaited;

/*
 * Answer in the request's own buffer: the data is already where the
 * reply needs it; only the type and the checksum change.
 */
static void echo_reply(struct pbuf *p, uint32_t src)
{
	uint8_t *m = p->data;

	m[0] = ICMP_ECHO_REPLY;
	put16(m + 2, 0);
	put16(m + 2, checksum(m, p->len));
	net_stats.icmp_tx++;
	ipv4_output(p, src, IP_PROTO_ICMP);
}

static void icmp_input(struct pbuf *p, uint32_t src, uint32_t dst, uint8_t ttl)
{
	const uint8_t *m = p->data;

	(void)dst;
	net_stats.icmp_rx++;
	if (p->len < ICMP_HDR_LEN) {
		net_drop(p, NET_DROP_ICMP_SHORT);
		return;
	}
	if (checksum(m, p->len) != 0) {
		net_drop(p, NET_DROP_ICMP_CHECKSUM);
		return;
	}
	if (m[0] == ICMP_ECHO_REQUEST && m[1] == 0) {
		echo_reply(p, src);
		return;
	}
	if (m[0] == ICMP_ECHO_REPLY && m[1] == 0) {
		if (get16(m + 4) == icmp_awaited.id && get16(m + 6) == icmp_awaited.seq) {
			icmp_awaited.ttl = ttl;
			icmp_awaited.len = p->len;
			icmp_awaited.arrived = true;
		}
		pbuf_free(p);
		return;
	}
	net_drop(p, NET_DROP_ICMP_TYPE);
}

static const struct ip_protocol icmp TABLE_ENTRY(ip_protocols) = {
	.number = IP_PROTO_ICMP,
	.input = icmp_input,
};

int icmp_echo_request(uint32_t dst, uint16_t id, uint16_t seq, size_t len)
{
	struct pbuf *p = pbuf_alloc();
	uint8_t *m;

	if (!p) {
		net_drop(NULL, NET_DROP_NO_BUFFER);
		return -1;
	}
	m = pbuf_put(p, ICMP_HDR_LEN + len);
	m[0] = ICMP_ECHO_REQUEST;
	m[1] = 0;
	put16(m + 2, 0);
	put16(m + 4, id);
	put16(m + 6, seq);
	for (size_t i = 0; i < len; i++)
		m[ICMP_HDR_LEN + i] = (uint8_t)i;
	put16(m + 2, checksum(m, ICMP_HDR_LEN + len));
	net_stats.icmp_tx++;
	return ipv4_output(p, dst, IP_PROTO_ICMP);
}
