/*
 * A DHCP client (RFC 2131, options RFC 2132): how the interface gets its
 * address from the network. Four messages, all UDP from port 68 to 67:
 *
 *   DISCOVER (broadcast)  "is there a server?"
 *   OFFER                 "take 10.0.2.15, for a day"
 *   REQUEST  (broadcast)  "I take 10.0.2.15 from server 10.0.2.2"
 *   ACK                   "it is yours": configure, and set the timers
 *
 * Then at T1 (half the lease) the client asks its server again (a unicast
 * REQUEST), at T2 (7/8) any server (broadcast), and when the lease ends
 * it gives the address up and starts over. A message that is lost is
 * sent again after 1, 2, 4, 8 then 16 s (§4.1's backoff, without the
 * random part; `dhcp_retry_ms=` shortens the first wait for tests).
 *
 * The message (§2): op, htype, hlen, hops, xid, secs, flags, ciaddr,
 * yiaddr, siaddr, giaddr, chaddr (16), sname (64), file (128), then the
 * magic cookie 99.130.83.99 and the options: code, length, value, except
 * Pad (0) and End (255), which are one byte. Every option's length is
 * checked against what is left of the packet and against the size its
 * value must have; one broken option and the whole message is dropped.
 */
#include <fern/boot.h>
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/init.h>
#include <fern/net.h>
#include <fern/parse.h>
#include <fern/string.h>

#define DHCP_SERVER_PORT	67
#define DHCP_CLIENT_PORT	68
#define BOOTREQUEST		1
#define BOOTREPLY		2
#define DHCP_FIXED_LEN		236	/* up to the magic cookie */
#define DHCP_MAGIC		0x63825363
#define DHCP_FLAG_BROADCAST	0x8000	/* "answer by broadcast": we have no address yet */

/* Message types (option 53, RFC 2132 §9.6). */
#define DHCPDISCOVER	1
#define DHCPOFFER	2
#define DHCPREQUEST	3
#define DHCPACK		5
#define DHCPNAK		6

/* Options (RFC 2132). */
#define OPT_PAD		0
#define OPT_SUBNET_MASK	1
#define OPT_ROUTER	3
#define OPT_DNS		6
#define OPT_REQUESTED_IP 50
#define OPT_LEASE_TIME	51
#define OPT_MSG_TYPE	53
#define OPT_SERVER_ID	54
#define OPT_PARAM_LIST	55
#define OPT_END		255

#define RETRY_MAX_MS	16000
/*
 * A timer counts milliseconds in 32 bits, 49.7 days: a longer lease is
 * timed as that long, which only makes the client renew sooner. The
 * lease 0xffffffff is infinite (RFC 2132 §9.2) and sets no timers.
 */
#define LEASE_INFINITE	0xffffffffU
#define LEASE_TIMED_MAX	(0xffffffffU / 1000)
#define REQUEST_TRIES	4	/* REQUESTs before starting over */

enum dhcp_state { DHCP_INIT, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND,
		  DHCP_RENEWING, DHCP_REBINDING };

/* What a reply said, once every option was checked. */
struct dhcp_reply {
	uint8_t type;
	uint32_t yiaddr, mask, router, dns, server, lease;
};

static struct {
	enum dhcp_state state;
	uint32_t xid;
	uint32_t offered, server;	/* from the OFFER we took */
	uint32_t retry_ms, first_retry_ms;
	unsigned int tries;
	struct loop_timer retry, t1, t2, expiry;
	struct udp_socket sock;
	bool bound_once;
} dhcp = { .first_retry_ms = 1000 };

static void dhcp_send(uint8_t type);
static void dhcp_start(void);

/*
 * Parse the options of a reply into @r. Returns 0, or -1 if any option
 * is broken: it runs past the packet, or has a length its value cannot
 * have (zero where a value is needed, a mask that is not 4 bytes).
 */
static int parse_options(const uint8_t *o, size_t len, struct dhcp_reply *r)
{
	size_t at = 0;

	while (at < len) {
		uint8_t code = o[at], n;
		const uint8_t *v;

		if (code == OPT_PAD) {
			at++;
			continue;
		}
		if (code == OPT_END)
			return 0;
		if (at + 2 > len)
			return -1;		/* no room for the length byte */
		n = o[at + 1];
		if (at + 2 + n > len)
			return -1;		/* the value runs past the packet */
		v = o + at + 2;
		switch (code) {
		case OPT_MSG_TYPE:
			if (n != 1)
				return -1;
			r->type = v[0];
			break;
		case OPT_SUBNET_MASK:
		case OPT_LEASE_TIME:
		case OPT_SERVER_ID:
			if (n != 4)
				return -1;
			if (code == OPT_SUBNET_MASK)
				r->mask = get32(v);
			else if (code == OPT_LEASE_TIME)
				r->lease = get32(v);
			else
				r->server = get32(v);
			break;
		case OPT_ROUTER:
		case OPT_DNS:
			/* Lists of addresses: the first is ours to use. */
			if (n == 0 || n % 4)
				return -1;
			if (code == OPT_ROUTER)
				r->router = get32(v);
			else
				r->dns = get32(v);
			break;
		default:
			break;		/* an option fern does not use: skipped whole */
		}
		at += 2 + (size_t)n;
	}
	return 0;
}

/* When the next retry is due: double the wait, up to RETRY_MAX_MS. */
static void arm_retry(void);

static void retry_fired(void *ctx)
{
	(void)ctx;
	if (dhcp.state == DHCP_SELECTING) {
		dhcp_send(DHCPDISCOVER);
	} else if (dhcp.state == DHCP_REQUESTING) {
		if (++dhcp.tries >= REQUEST_TRIES) {
			dhcp_start();
			return;
		}
		dhcp_send(DHCPREQUEST);
	} else {
		return;
	}
	arm_retry();
}

static void arm_retry(void)
{
	loop_timer_start(&dhcp.retry, "dhcp retry", dhcp.retry_ms, retry_fired, NULL);
	dhcp.retry_ms = dhcp.retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : dhcp.retry_ms * 2;
}

static void t1_fired(void *ctx)
{
	(void)ctx;
	dhcp.state = DHCP_RENEWING;
	dhcp_send(DHCPREQUEST);
}

static void t2_fired(void *ctx)
{
	(void)ctx;
	dhcp.state = DHCP_REBINDING;
	dhcp_send(DHCPREQUEST);
}

static void expired(void *ctx)
{
	(void)ctx;
	kprintf("dhcp: the lease ended; asking again\n");
	netif.addr = netif.mask = netif.gateway = netif.dns = 0;
	dhcp_start();
}

/* Build and send one message of @type for the current state. */
static void dhcp_send(uint8_t type)
{
	uint8_t m[DHCP_FIXED_LEN + 4 + 32];
	uint8_t *o = m + DHCP_FIXED_LEN + 4;
	bool renewing = dhcp.state == DHCP_RENEWING || dhcp.state == DHCP_REBINDING;

	memset(m, 0, sizeof(m));
	m[0] = BOOTREQUEST;
	m[1] = 1;			/* htype: Ethernet */
	m[2] = ETH_ADDR_LEN;
	put32(m + 4, dhcp.xid);
	if (!renewing)
		put16(m + 10, DHCP_FLAG_BROADCAST);
	else
		put32(m + 12, netif.addr);	/* ciaddr: the address we hold */
	memcpy(m + 28, netif.mac, ETH_ADDR_LEN);
	put32(m + DHCP_FIXED_LEN, DHCP_MAGIC);
	*o++ = OPT_MSG_TYPE;
	*o++ = 1;
	*o++ = type;
	if (type == DHCPREQUEST && !renewing) {
		*o++ = OPT_REQUESTED_IP;
		*o++ = 4;
		put32(o, dhcp.offered);
		o += 4;
		*o++ = OPT_SERVER_ID;
		*o++ = 4;
		put32(o, dhcp.server);
		o += 4;
	}
	*o++ = OPT_PARAM_LIST;
	*o++ = 4;
	*o++ = OPT_SUBNET_MASK;
	*o++ = OPT_ROUTER;
	*o++ = OPT_DNS;
	*o++ = OPT_LEASE_TIME;
	*o++ = OPT_END;
	net_stats.dhcp_tx++;
	udp_sendto(&dhcp.sock, dhcp.state == DHCP_RENEWING ? dhcp.server : IP4_BROADCAST,
		   DHCP_SERVER_PORT, m, (size_t)(o - m));
}

static void bind_lease(const struct dhcp_reply *r)
{
	uint32_t lease = r->lease ? r->lease : 3600;
	uint32_t timed = lease > LEASE_TIMED_MAX ? LEASE_TIMED_MAX : lease;
	char s[16], d[16];
	bool changed = netif.addr != r->yiaddr;

	loop_timer_stop(&dhcp.retry);
	loop_timer_stop(&dhcp.t1);
	loop_timer_stop(&dhcp.t2);
	loop_timer_stop(&dhcp.expiry);
	dhcp.state = DHCP_BOUND;
	dhcp.server = r->server;
	netif.lease_s = lease;
	if (lease != LEASE_INFINITE) {
		loop_timer_start(&dhcp.t1, "dhcp renew", timed / 2 * 1000, t1_fired, NULL);
		loop_timer_start(&dhcp.t2, "dhcp rebind", timed / 8 * 7 * 1000, t2_fired, NULL);
		loop_timer_start(&dhcp.expiry, "dhcp lease", timed * 1000, expired, NULL);
	}
	if (!changed && dhcp.bound_once)
		return;
	dhcp.bound_once = true;
	kprintf("dhcp: lease of %u s from %s, dns %s\n", lease, ip4_format(r->server, s),
		ip4_format(r->dns, d));
	net_configure(r->yiaddr, r->mask ? r->mask : 0xffffff00U, r->router, r->dns, "dhcp");
}

/* A datagram to port 68: check it is a reply to us, then act on it. */
static void dhcp_recv(struct udp_socket *s, uint32_t src, uint16_t sport,
		      const uint8_t *m, size_t len)
{
	struct dhcp_reply r;

	(void)s;
	(void)src;
	net_stats.dhcp_rx++;
	if (sport != DHCP_SERVER_PORT || len < DHCP_FIXED_LEN + 4 || m[0] != BOOTREPLY ||
	    get32(m + 4) != dhcp.xid || memcmp(m + 28, netif.mac, ETH_ADDR_LEN) != 0 ||
	    get32(m + DHCP_FIXED_LEN) != DHCP_MAGIC) {
		net_drop(NULL, NET_DROP_DHCP_IGNORED);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (parse_options(m + DHCP_FIXED_LEN + 4, len - DHCP_FIXED_LEN - 4, &r) != 0) {
		net_drop(NULL, NET_DROP_DHCP_MALFORMED);
		return;
	}
	r.yiaddr = get32(m + 16);
	if (r.type == DHCPOFFER && dhcp.state == DHCP_SELECTING && r.yiaddr && r.server) {
		dhcp.offered = r.yiaddr;
		dhcp.server = r.server;
		dhcp.state = DHCP_REQUESTING;
		dhcp.tries = 0;
		dhcp.retry_ms = dhcp.first_retry_ms;
		dhcp_send(DHCPREQUEST);
		arm_retry();
	} else if (r.type == DHCPACK && r.yiaddr &&
		   (dhcp.state == DHCP_REQUESTING || dhcp.state == DHCP_RENEWING ||
		    dhcp.state == DHCP_REBINDING)) {
		if (!r.server)
			r.server = dhcp.server;
		bind_lease(&r);
	} else if (r.type == DHCPNAK && dhcp.state != DHCP_SELECTING) {
		kprintf("dhcp: the server refused the address; asking again\n");
		netif.addr = 0;
		dhcp_start();
	} else {
		net_drop(NULL, NET_DROP_DHCP_IGNORED);
	}
}

static void dhcp_start(void)
{
	loop_timer_stop(&dhcp.t1);
	loop_timer_stop(&dhcp.t2);
	loop_timer_stop(&dhcp.expiry);
	dhcp.xid = dhcp.xid * 1103515245U + 12345U + (uint32_t)loop_now_ms() + netif.mac[5];
	dhcp.state = DHCP_SELECTING;
	dhcp.retry_ms = dhcp.first_retry_ms;
	dhcp_send(DHCPDISCOVER);
	arm_retry();
}

static bool bound(void *ctx)
{
	(void)ctx;
	return dhcp.state == DHCP_BOUND;
}

/*
 * After the interface (netif.c's init call, linked before this one): if
 * the command line gave no address, ask for one, and wait for the lease a
 * while (3 s, or `dhcp_wait_ms=`) so that the address line comes before
 * `fern: ready`; a lease that comes later is configured when it comes.
 */
static int dhcp_init(const struct boot_info *info)
{
	char value[16];
	uint64_t ms = 3000, v;

	if (!netif.dev || netif.addr || cmdline_get(info->cmdline, "ip", NULL, 0))
		return 0;
	if (cmdline_get(info->cmdline, "dhcp_retry_ms", value, sizeof(value)) &&
	    parse_u64(value, &v) == 0 && v >= 10 && v <= RETRY_MAX_MS)
		dhcp.first_retry_ms = (uint32_t)v;
	if (cmdline_get(info->cmdline, "dhcp_wait_ms", value, sizeof(value)) &&
	    parse_u64(value, &v) == 0 && v <= 60000)
		ms = v;
	dhcp.xid = (uint32_t)netif.mac[2] << 24 | (uint32_t)netif.mac[3] << 16 |
		   (uint32_t)netif.mac[4] << 8 | netif.mac[5];
	udp_bind(&dhcp.sock, DHCP_CLIENT_PORT, dhcp_recv, NULL);
	dhcp_start();
	if (loop_wait(bound, NULL, (uint32_t)ms) != 0)
		kprintf("net: dhcp: no lease yet; still asking in the background\n");
	return 0;
}
INITCALL(INIT_NET, dhcp_init);
