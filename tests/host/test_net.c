/*
 * Host unit test of the network stack (src/net/, src/lib/checksum.c),
 * built with AddressSanitizer and UBSan by `make host-tests`, over the
 * fakes of tests/host/net_host.h: a clock the test moves, and a card
 * that records what the stack sends.
 *
 * The test plays the rest of the network. Every frame it sends is built
 * here byte by byte from the RFCs' layouts, with its own checksum (a
 * byte-at-a-time RFC 1071 sum, not the stack's), and every frame the
 * stack sends is read back with the test's own parsing. A malformed frame
 * must be counted under exactly the reason the contract names (looked up
 * by its `netstat` name), under no other, answer nothing, and give every
 * packet buffer back.
 */
#include <fern/boot.h>
#include <fern/checksum.h>
#include <fern/net.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>

#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "wire.h"

extern int (*const host_initcall_net_start)(const struct boot_info *);
extern int (*const host_initcall_dhcp_init)(const struct boot_info *);
extern const kcmd_fn host_kcmd_ifconfig, host_kcmd_arp, host_kcmd_ping, host_kcmd_netstat;

/* The network of QEMU's user networking, as the test plays it. */
static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x08 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define OUR_IP		0x0a00020fU	/* 10.0.2.15 */
#define PEER_IP		0x0a000202U	/* 10.0.2.2: gateway, DHCP server */
#define DNS_IP		0x0a000203U	/* 10.0.2.3 */
#define OTHER_IP	0x0a000208U	/* 10.0.2.8: answers ARP when asked to */
#define SILENT_IP	0x0a000209U	/* 10.0.2.9: never answers */

/* The test's own byte order and checksums: tests/host/wire.h. */

/* ---- frames to the stack, byte by byte ---- */

/*
 * An Ethernet frame to @eth_dst (NULL: us) from the peer, carrying an
 * IPv4 header (RFC 791 §3.1: IHL 5 plus @optlen/4 words, TTL 64, id
 * 0x1234) and @payload. Returns the frame's length.
 */
static size_t build_ip(uint8_t *f, const uint8_t *eth_dst, uint32_t src, uint32_t dst,
		       uint8_t proto, const uint8_t *opt, size_t optlen, const void *payload,
		       size_t plen)
{
	uint8_t *h = f + 14;
	size_t hl = 20 + optlen;

	memcpy(f, eth_dst ? eth_dst : our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, 0x0800);
	h[0] = (uint8_t)(0x40 | hl / 4);
	h[1] = 0;
	wr16(h + 2, (unsigned int)(hl + plen));
	wr16(h + 4, 0x1234);
	wr16(h + 6, 0);
	h[8] = 64;
	h[9] = proto;
	wr16(h + 10, 0);
	wr32(h + 12, src);
	wr32(h + 16, dst);
	if (optlen)
		memcpy(h + 20, opt, optlen);
	wr16(h + 10, ref_checksum(h, hl));
	memcpy(h + hl, payload, plen);
	return 14 + hl + plen;
}

/* Recompute the IPv4 header checksum of frame @f after a test changed it. */
static void fix_ip_checksum(uint8_t *f, size_t len)
{
	uint8_t *h = f + 14;
	size_t hl = (size_t)(h[0] & 15) * 4;

	if (hl < 20)
		hl = 20;
	if (hl > len - 14)
		hl = len - 14;
	wr16(h + 10, 0);
	wr16(h + 10, ref_checksum(h, hl));
}

/* A UDP datagram (RFC 768) at @u; returns its length. */
static size_t build_udp(uint8_t *u, uint32_t src, uint32_t dst, unsigned int sport,
			unsigned int dport, const void *data, size_t n)
{
	uint16_t c;

	wr16(u, sport);
	wr16(u + 2, dport);
	wr16(u + 4, (unsigned int)(8 + n));
	wr16(u + 6, 0);
	memcpy(u + 8, data, n);
	c = ref_pseudo_checksum(src, dst, 17, u, 8 + n);
	wr16(u + 6, c ? c : 0xffff);
	return 8 + n;
}

/* A whole frame: UDP from the peer's port @sport to our @dport. */
static size_t udp_frame(uint8_t *f, unsigned int sport, unsigned int dport, const void *data,
			size_t n)
{
	uint8_t u[1600];
	size_t ul = build_udp(u, PEER_IP, OUR_IP, sport, dport, data, n);

	return build_ip(f, NULL, PEER_IP, OUR_IP, 17, NULL, 0, u, ul);
}

/* An ICMP echo message (RFC 792) of @type at @m; returns its length. */
static size_t build_echo(uint8_t *m, uint8_t type, unsigned int id, unsigned int seq,
			 const void *data, size_t n)
{
	m[0] = type;
	m[1] = 0;
	wr16(m + 2, 0);
	wr16(m + 4, id);
	wr16(m + 6, seq);
	memcpy(m + 8, data, n);
	wr16(m + 2, ref_checksum(m, 8 + n));
	return 8 + n;
}

static size_t ping_frame(uint8_t *f, unsigned int id, unsigned int seq, const void *data,
			 size_t n)
{
	uint8_t m[1600];
	size_t ml = build_echo(m, 8, id, seq, data, n);

	return build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, ml);
}

/* ---- frames from the stack ---- */

/* What the test reads out of a frame the stack sent. */
struct seen {
	const uint8_t *raw;
	size_t len;
	bool arp, ip, udp, icmp;
	const uint8_t *l3;	/* ARP packet or IPv4 header */
	const uint8_t *l4;	/* UDP datagram or ICMP message */
	size_t l4_len;
	char problem[120];	/* the first wrong length or checksum */
};

static struct seen parse(const struct host_frame *hf)
{
	struct seen s;
	const uint8_t *b = hf->data;

	memset(&s, 0, sizeof(s));
	s.raw = b;
	s.len = hf->len;
	if (hf->len < 14) {
		snprintf(s.problem, sizeof(s.problem), "a frame of %zu bytes", hf->len);
		return s;
	}
	s.l3 = b + 14;
	if (rd16(b + 12) == 0x0806) {
		s.arp = hf->len >= 14 + 28;
		if (!s.arp)
			snprintf(s.problem, sizeof(s.problem), "a short ARP");
		return s;
	}
	if (rd16(b + 12) != 0x0800 || hf->len < 34)
		return s;
	s.ip = true;
	{
		const uint8_t *h = s.l3;
		size_t total = rd16(h + 2);

		if (h[0] != 0x45 || total < 20 || total > hf->len - 14) {
			snprintf(s.problem, sizeof(s.problem), "IPv4 byte 0 %#x, total %zu in %zu",
				 h[0], total, hf->len - 14);
			return s;
		}
		if (ref_checksum(h, 20) != 0)
			snprintf(s.problem, sizeof(s.problem), "IPv4 header checksum wrong");
		s.l4 = h + 20;
		s.l4_len = total - 20;
		if (h[9] == 17 && s.l4_len >= 8) {
			s.udp = true;
			if (rd16(s.l4 + 4) != s.l4_len)
				snprintf(s.problem, sizeof(s.problem), "UDP length %u in %zu",
					 rd16(s.l4 + 4), s.l4_len);
			else if (rd16(s.l4 + 6) == 0)
				snprintf(s.problem, sizeof(s.problem), "UDP checksum 0 (none)");
			else if (ref_pseudo_checksum(rd32(h + 12), rd32(h + 16), 17, s.l4, s.l4_len) != 0)
				snprintf(s.problem, sizeof(s.problem), "UDP checksum wrong");
		} else if (h[9] == 1 && s.l4_len >= 8) {
			s.icmp = true;
			if (ref_checksum(s.l4, s.l4_len) != 0)
				snprintf(s.problem, sizeof(s.problem), "ICMP checksum wrong");
		}
	}
	return s;
}

static struct seen last_sent(void)
{
	static const struct host_frame none;

	return parse(host_frame_count ? &host_frames[host_frame_count - 1] : &none);
}

/* ---- the peer: the other end of the wire, run by host_pump ---- */

static struct {
	bool arp;		/* answer ARP requests for PEER_IP and OTHER_IP */
	bool ping;		/* answer echo requests to PEER_IP */
	unsigned int skip_seq;	/* ...except this sequence number */
	bool dhcp;		/* a DHCP server that answers at once */
	unsigned int looked;	/* host_frames read so far */
	uint64_t when[HOST_FRAMES_MAX];	/* the clock when each frame was seen */
} peer;

static void sent_reset(void)
{
	host_frames_reset();
	peer.looked = 0;
}

static size_t dhcp_reply(uint8_t *f, uint8_t type, uint32_t xid, const uint8_t *chaddr,
			 const uint8_t *opts, size_t optlen, bool unicast);
static size_t good_options(uint8_t *o, uint8_t type, uint32_t lease);
static uint8_t dhcp_type(const struct seen *s);

static void peer_look(const struct seen *s)
{
	uint8_t f[1600];
	size_t n;

	if (peer.arp && s->arp && rd16(s->l3 + 6) == 1) {
		uint32_t tpa = rd32(s->l3 + 24);

		if (tpa == PEER_IP || tpa == OTHER_IP) {
			n = arp_frame(f, s->l3 + 8, 2, tpa == PEER_IP ? peer_mac : other_mac, tpa,
				      s->l3 + 8, rd32(s->l3 + 14));
			host_inject(f, n);
		}
	}
	if (peer.ping && s->icmp && s->l4[0] == 8 && rd32(s->l3 + 16) == PEER_IP &&
	    rd16(s->l4 + 6) != peer.skip_seq) {
		uint8_t m[1600];
		size_t ml = build_echo(m, 0, rd16(s->l4 + 4), rd16(s->l4 + 6), s->l4 + 8,
				       s->l4_len - 8);

		n = build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, ml);
		f[14 + 8] = 255;	/* slirp's TTL */
		fix_ip_checksum(f, n);
		host_inject(f, n);
	}
	if (peer.dhcp && s->udp && rd16(s->l4 + 2) == 67) {
		uint8_t t = dhcp_type(s), o[64];
		const uint8_t *m = s->l4 + 8;

		if (t == 1 || t == 3) {
			n = dhcp_reply(f, t == 1 ? 2 : 5, rd32(m + 4), m + 28, o,
				       good_options(o, t == 1 ? 2 : 5, 86400), false);
			host_inject(f, n);
		}
	}
}

static void pump(void)
{
	while (peer.looked < host_frame_count) {
		struct seen s = parse(&host_frames[peer.looked]);

		peer.when[peer.looked++] = host_now_ms;
		peer_look(&s);
	}
}

/* ---- checking drops ---- */

/* The index of the drop reason named @name in netstat, or -1. */
static int reason(const char *name)
{
	for (int i = 0; i < NET_DROPS; i++) {
		if (strcmp(net_drop_name((enum net_drop)i), name) == 0)
			return i;
	}
	return -1;
}

static uint64_t drops_before[NET_DROPS];
static unsigned int sent_before;

static void mark(void)
{
	memcpy(drops_before, net_stats.drops, sizeof(drops_before));
	pump();
	sent_before = host_frame_count;
}

/*
 * Since mark(): did the reason @name go up by @n and no other, was nothing
 * sent (if @quiet), and is every buffer back? Says what went wrong.
 */
#define DS_QUIET	1	/* nothing may have been sent */
#define DS_BUFFERS	2	/* every buffer must be back */

static bool drops_since(const char *name, unsigned int n, int flags, char *why, size_t size)
{
	bool quiet = flags & DS_QUIET;

	int r = reason(name);
	size_t at = 0;

	why[0] = '\0';
	if (r < 0) {
		snprintf(why, size, "netstat has no reason %s", name);
		return false;
	}
	if (net_stats.drops[r] != drops_before[r] + n)
		at += (size_t)snprintf(why + at, size - at, "%s +%lu (expected +%u); ", name,
				       (unsigned long)(net_stats.drops[r] - drops_before[r]), n);
	for (int i = 0; i < NET_DROPS && at < size; i++) {
		if (i != r && net_stats.drops[i] != drops_before[i])
			at += (size_t)snprintf(why + at, size - at, "%s +%lu; ",
					       net_drop_name((enum net_drop)i),
					       (unsigned long)(net_stats.drops[i] - drops_before[i]));
	}
	if (quiet && host_frame_count != sent_before && at < size)
		at += (size_t)snprintf(why + at, size - at, "%u frames sent; ",
				       host_frame_count - sent_before);
	if ((flags & DS_BUFFERS) && pbuf_available() != PBUF_COUNT && at < size)
		at += (size_t)snprintf(why + at, size - at, "%u of %u buffers back; ",
				       pbuf_available(), PBUF_COUNT);
	return at == 0;
}

static void expect_drop(const char *what, const uint8_t *f, size_t len, const char *name)
{
	char why[300];

	mark();
	host_inject(f, len);
	if (!tap_ok(drops_since(name, 1, DS_QUIET | DS_BUFFERS, why, sizeof(why)),
		    "%s: dropped as %s, once, nothing sent, every buffer back", what, name))
		printf("# %s\n", why);
}

/* ---- the shell ---- */

static int run(kcmd_fn fn, const char *line)
{
	char buf[128], *argv[8];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 8; t = strtok(NULL, " "))
		argv[argc++] = t;
	host_printed_reset();
	return fn(argc, argv);
}

static bool printed_has(const char *line)
{
	return strstr(host_printed, line) != NULL;
}

static void boot(const char *cmdline, int (*const fn)(const struct boot_info *))
{
	struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	bi.cmdline = cmdline;
	host_printed_reset();
	fn(&bi);
}

/* ==== the Internet checksum ==== */

static void test_checksum(void)
{
	/* RFC 1071 §3's example: these bytes sum to 0xddf2 (ones' complement). */
	static const uint8_t rfc[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t odd[3] = { 0x01, 0x02, 0x03 };
	static uint8_t buf[1601];
	bool all = true, chained = true;
	uint32_t s;

	tap_ok(checksum(rfc, 8) == (uint16_t)~0xddf2,
	       "checksum: RFC 1071 section 3's example sums to 0xddf2 (checksum %#06x)",
	       checksum(rfc, 8));
	s = checksum_add(0, rfc, 4);
	s = checksum_add(s, rfc + 4, 4);
	tap_ok(checksum_finish(s) == (uint16_t)~0xddf2,
	       "checksum: the example summed in two halves gives the same");
	/* 0x0102 + 0x0300 = 0x0402: the odd byte is the high half of a word. */
	tap_ok(checksum(odd, 3) == (uint16_t)~0x0402,
	       "checksum: an odd last byte is padded with zero (%#06x)", checksum(odd, 3));
	tap_ok(checksum(odd, 0) == 0xffff, "checksum: of nothing is 0xffff");
	{
		uint8_t ff[4] = { 0xff, 0xff, 0xff, 0xff };

		tap_ok(checksum(ff, 4) == 0x0000, "checksum: all ones sums to 0xffff, checksum 0");
	}
	srand(7);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)rand() % sizeof(buf), cut = (size_t)(rand() % 800) * 2;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		if (checksum(buf, n) != ref_checksum(buf, n)) {
			if (all)
				printf("# differs at %zu bytes: %#06x, expected %#06x\n", n,
				       checksum(buf, n), ref_checksum(buf, n));
			all = false;
		}
		if (cut > n)
			cut = n & ~(size_t)1;
		if (checksum_finish(checksum_add(checksum_add(0, buf, cut), buf + cut, n - cut)) !=
		    ref_checksum(buf, n))
			chained = false;
	}
	tap_ok(all, "checksum: equals a byte-at-a-time sum over 2000 random buffers of 0-1600 bytes");
	tap_ok(chained, "checksum: a sum cut at any even offset and chained equals the whole");
	{
		/* A header carrying its own checksum sums to 0 (how receivers check). */
		uint8_t h[20] = { 0x45, 0, 0, 0x54, 0x12, 0x34, 0, 0, 64, 1, 0, 0,
				  10, 0, 2, 2, 10, 0, 2, 15 };

		wr16(h + 10, checksum(h, 20));
		tap_ok(checksum(h, 20) == 0 && ref_checksum(h, 20) == 0,
		       "checksum: a header with its checksum filled in checks to 0");
	}
}

/* ==== bringing the interface up ==== */

#define STATIC_LINE "ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3"

static void test_bring_up(void)
{
	struct seen s;

	boot("", host_initcall_net_start);
	tap_streq(host_printed, "net: no interface\n", "boot: without a card the stack says so");
	netdev_register(&host_dev);
	sent_reset();
	boot("shell " STATIC_LINE, host_initcall_net_start);
	(void)(tap_ok(printed_has("net: 10.0.2.15/24 gw 10.0.2.2 (static)\n"),
	       "boot: ip= gives net: 10.0.2.15/24 gw 10.0.2.2 (static)") ||
		printf("# printed: %s", host_printed));
	tap_ok(host_dev.input != NULL, "boot: the stack set the card's input");
	s = parse(&host_frames[0]);
	tap_ok(host_frame_count >= 1 && s.arp && !memcmp(s.raw, bcast_mac, 6) &&
	       !memcmp(s.raw + 6, our_mac, 6) && rd16(s.l3 + 6) == 1 &&
	       !memcmp(s.l3 + 8, our_mac, 6) && rd32(s.l3 + 14) == OUR_IP &&
	       rd32(s.l3 + 24) == OUR_IP,
	       "boot: the new address is announced: a broadcast ARP request from and for "
	       "10.0.2.15 (RFC 5227 section 3)");
	s = last_sent();
	tap_ok(host_frame_count == 2 && s.arp && !memcmp(s.raw, bcast_mac, 6) &&
	       rd16(s.l3 + 6) == 1 && rd32(s.l3 + 14) == OUR_IP && rd32(s.l3 + 24) == PEER_IP,
	       "boot: then the gateway is asked for, before anything waits for it: a broadcast "
	       "ARP request for 10.0.2.2 (%u frames)", host_frame_count);
	sent_reset();
	boot("shell " STATIC_LINE, host_initcall_dhcp_init);
	host_advance(5000);
	{
		unsigned int udp = 0;

		for (unsigned int i = 0; i < host_frame_count; i++)
			udp += parse(&host_frames[i]).udp;
		tap_ok(udp == 0, "boot: with ip= no DHCP message is sent (%u of %u frames)", udp,
		       host_frame_count);
	}
	run(host_kcmd_ifconfig, "ifconfig");
	tap_streq(host_printed, "eth0: fake-net 00:00.0 mac 52:54:00:12:34:56 mtu 1500\n"
		  "  inet 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 (static)\n",
		  "ifconfig: the card, its MAC and MTU, and the static address");
}

/* ==== what the stack answers ==== */

static void test_answers(void)
{
	uint8_t f[1600], data[1472];
	size_t n;
	struct seen s;

	/* ARP: a request for our address from the gateway. */
	sent_reset();
	n = arp_frame(f, bcast_mac, 1, peer_mac, PEER_IP, (const uint8_t[6]){ 0 }, OUR_IP);
	host_inject(f, n);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.arp && !memcmp(s.raw, peer_mac, 6) &&
	       !memcmp(s.raw + 6, our_mac, 6) && rd16(s.l3) == 1 && rd16(s.l3 + 2) == 0x0800 &&
	       s.l3[4] == 6 && s.l3[5] == 4 && rd16(s.l3 + 6) == 2 &&
	       !memcmp(s.l3 + 8, our_mac, 6) && rd32(s.l3 + 14) == OUR_IP &&
	       !memcmp(s.l3 + 18, peer_mac, 6) && rd32(s.l3 + 24) == PEER_IP,
	       "arp: a request for 10.0.2.15 gets a reply to the asker alone, every field right");
	run(host_kcmd_arp, "arp");
	tap_streq(host_printed, "arp: 1 entries\n  10.0.2.2 52:55:0a:00:02:02 expires in 300 s\n",
		  "arp: the asker is learned, for the default 300 s");
	host_advance(2000);
	run(host_kcmd_arp, "arp");
	tap_ok(printed_has("  10.0.2.2 52:55:0a:00:02:02 expires in 298 s\n"),
	       "arp: two seconds later it expires in 298 s");

	sent_reset();
	n = arp_frame(f, bcast_mac, 1, other_mac, OTHER_IP, (const uint8_t[6]){ 0 }, SILENT_IP);
	mark();
	host_inject(f, n);
	tap_ok(host_frame_count == 0 && !memcmp(drops_before, net_stats.drops, sizeof(drops_before))
	       && pbuf_available() == PBUF_COUNT,
	       "arp: a request for another address is not answered, and is no drop");
	run(host_kcmd_arp, "arp");
	tap_ok(!printed_has("10.0.2.8 "), "arp: nor is its sender learned (it is not talking to us)");

	/* ICMP echo. */
	for (size_t i = 0; i < 56; i++)
		data[i] = (uint8_t)(0xa0 + i);
	sent_reset();
	n = ping_frame(f, 0x4242, 7, data, 56);
	host_inject(f, n);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.icmp && !s.problem[0] && !memcmp(s.raw, peer_mac, 6) &&
	       rd32(s.l3 + 12) == OUR_IP && rd32(s.l3 + 16) == PEER_IP && s.l3[8] == 64 &&
	       (rd16(s.l3 + 6) & 0x3fff) == 0 && s.l4[0] == 0 && s.l4[1] == 0 &&
	       rd16(s.l4 + 4) == 0x4242 && rd16(s.l4 + 6) == 7 && s.l4_len == 64 &&
	       !memcmp(s.l4 + 8, data, 56) && s.len == 14 + 20 + 64,
	       "icmp: an echo request gets a reply with the same id, seq and data, TTL 64, "
	       "checksums right%s%s", s.problem[0] ? ": " : "", s.problem);

	/* UDP echo on port 7. */
	sent_reset();
	n = udp_frame(f, 40000, 7, "hello, fern", 11);
	host_inject(f, n);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.udp && !s.problem[0] && rd16(s.l4) == 7 &&
	       rd16(s.l4 + 2) == 40000 && s.l4_len == 8 + 11 && !memcmp(s.l4 + 8, "hello, fern", 11)
	       && rd32(s.l3 + 16) == PEER_IP,
	       "udp: a datagram to port 7 comes back from port 7, with a right checksum%s%s",
	       s.problem[0] ? ": " : "", s.problem);

	sent_reset();
	n = udp_frame(f, 40001, 7, "no checksum", 11);
	wr16(f + 14 + 20 + 6, 0);
	host_inject(f, n);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.udp && !memcmp(s.l4 + 8, "no checksum", 11) &&
	       rd16(s.l4 + 6) != 0,
	       "udp: checksum 0 means none (RFC 768): echoed, and the echo has one");

	sent_reset();
	n = udp_frame(f, 40002, 7, "padded", 6);
	memcpy(f + n, "PADDING-NOT-DATA", 16);
	host_inject(f, n + 16);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.udp && s.l4_len == 8 + 6 && !s.problem[0],
	       "ipv4: bytes after the total length are padding: the echo has 6 bytes, not 22");

	sent_reset();
	n = ping_frame(f, 0x60, 1, "", 0);
	memset(f + n, 0, 60 - n);
	host_inject(f, 60);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.icmp && s.l4_len == 8 && !s.problem[0],
	       "icmp: a 60-byte frame (an echo with no data, padded) gets an 8-byte reply");

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	sent_reset();
	n = udp_frame(f, 40003, 7, data, sizeof(data));
	host_inject(f, n);
	s = last_sent();
	tap_ok(n == 1514 && host_frame_count == 1 && s.udp && s.len == 1514 &&
	       !memcmp(s.l4 + 8, data, sizeof(data)) && !s.problem[0],
	       "udp: a 1514-byte frame (1472 bytes of data) is echoed whole");
	tap_ok(pbuf_available() == PBUF_COUNT, "pbuf: every buffer is back after the answers");
}

/* ==== malformed and unsupported input: each counted once, under its reason ==== */

/* A good UDP datagram to port 7 in @f, for the IPv4 cases to break. */
static size_t good_udp(uint8_t *f)
{
	return udp_frame(f, 40000, 7, "malformed", 9);
}

static void test_malformed_eth_arp(void)
{
	uint8_t f[1600];
	size_t n;
	static const uint8_t zero[6];

	n = good_udp(f);
	expect_drop("eth: a 10-byte frame", f, 10, "eth-short");
	expect_drop("eth: a 13-byte frame", f, 13, "eth-short");
	n = good_udp(f);
	memcpy(f, other_mac, 6);
	expect_drop("eth: a frame to another MAC", f, n, "eth-not-ours");
	n = good_udp(f);
	wr16(f + 12, 0x86dd);
	expect_drop("eth: an IPv6 frame", f, n, "eth-type");

	n = arp_frame(f, bcast_mac, 1, peer_mac, PEER_IP, zero, OUR_IP);
	expect_drop("arp: 20 bytes of ARP", f, 14 + 20, "arp-short");
	expect_drop("arp: 27 bytes of ARP", f, 14 + 27, "arp-short");
	f[14 + 4] = 8;
	expect_drop("arp: hlen 8", f, n, "arp-format");
	f[14 + 4] = 6;
	f[14 + 5] = 6;
	expect_drop("arp: plen 6", f, n, "arp-format");
	f[14 + 5] = 4;
	wr16(f + 14, 6);
	expect_drop("arp: htype 6 (IEEE 802)", f, n, "arp-format");
	wr16(f + 14, 1);
	wr16(f + 14 + 2, 0x86dd);
	expect_drop("arp: ptype IPv6", f, n, "arp-format");
	wr16(f + 14 + 2, 0x0800);
	wr16(f + 14 + 6, 3);
	expect_drop("arp: op 3 (RARP)", f, n, "arp-op");
	wr16(f + 14 + 6, 0);
	expect_drop("arp: op 0", f, n, "arp-op");
}

static void test_malformed_ip(void)
{
	uint8_t f[1600], u[64];
	size_t n, ul;

	n = good_udp(f);
	expect_drop("ipv4: a header cut at 12 bytes", f, 14 + 12, "ip-short");
	expect_drop("ipv4: a header cut at 19 bytes", f, 14 + 19, "ip-short");
	f[14] = 0x65;
	fix_ip_checksum(f, n);
	expect_drop("ipv4: version 6", f, n, "ip-version");
	f[14] = 0x44;
	fix_ip_checksum(f, n);
	expect_drop("ipv4: IHL 4", f, n, "ip-ihl");
	f[14] = 0x40;
	fix_ip_checksum(f, n);
	expect_drop("ipv4: IHL 0", f, n, "ip-ihl");
	f[14] = 0x4f;
	fix_ip_checksum(f, n);
	expect_drop("ipv4: IHL 15 (60 bytes) in a 37-byte packet", f, n, "ip-header-len");

	n = good_udp(f);
	wr16(f + 14 + 2, (unsigned int)(n - 14 + 100));
	fix_ip_checksum(f, n);
	expect_drop("ipv4: total length 100 bytes past the frame", f, n, "ip-total-len");
	wr16(f + 14 + 2, (unsigned int)(n - 14 + 1));
	fix_ip_checksum(f, n);
	expect_drop("ipv4: total length 1 byte past the frame", f, n, "ip-total-len");
	wr16(f + 14 + 2, 19);
	fix_ip_checksum(f, n);
	expect_drop("ipv4: total length 19, inside the header", f, n, "ip-total-len");
	wr16(f + 14 + 2, 0);
	fix_ip_checksum(f, n);
	expect_drop("ipv4: total length 0", f, n, "ip-total-len");

	n = good_udp(f);
	f[14 + 10] ^= 0x01;
	f[14 + 11] ^= 0x01;
	expect_drop("ipv4: header checksum off by 0x0101", f, n, "ip-checksum");

	ul = build_udp(u, PEER_IP, OUR_IP, 40000, 7, "options", 7);
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 17, (const uint8_t *)"\x01\x01\x01\x00", 4, u, ul);
	expect_drop("ipv4: NOP options (IHL 6)", f, n, "ip-options");
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 17,
		     (const uint8_t *)"\x44\x04\x05\x00\x00\x00\x00\x00", 8, u, ul);
	expect_drop("ipv4: a timestamp option (IHL 7)", f, n, "ip-options");

	n = good_udp(f);
	wr16(f + 14 + 6, 0x2000);
	fix_ip_checksum(f, n);
	expect_drop("ipv4: a first fragment (MF)", f, n, "ip-fragment");
	wr16(f + 14 + 6, 0x0010);
	fix_ip_checksum(f, n);
	expect_drop("ipv4: a later fragment (offset 128 bytes)", f, n, "ip-fragment");
	wr16(f + 14 + 6, 0x4000);
	fix_ip_checksum(f, n);
	mark();
	host_inject(f, n);
	tap_ok(host_frame_count == sent_before + 1, "ipv4: DF alone is no fragment: echoed");

	n = good_udp(f);
	wr32(f + 14 + 16, 0x0a000263);
	fix_ip_checksum(f, n);
	expect_drop("ipv4: to 10.0.2.99", f, n, "ip-not-ours");
	n = good_udp(f);
	f[14 + 9] = 6;
	fix_ip_checksum(f, n);
	expect_drop("ipv4: TCP (protocol 6)", f, n, "ip-proto");

	/* The order of the checks: the first failing one names the drop. */
	n = good_udp(f);
	f[14] = 0x65;
	expect_drop("ipv4 order: version 6 and a wrong checksum", f, n, "ip-version");
	n = good_udp(f);
	f[14] = 0x46;
	expect_drop("ipv4 order: IHL 6 with a checksum over 20 bytes only", f, n, "ip-checksum");
	n = good_udp(f);
	wr16(f + 14 + 2, 200);
	f[14 + 11] ^= 0xff;
	expect_drop("ipv4 order: a lying total length and a wrong checksum", f, n, "ip-total-len");
	n = good_udp(f);
	wr16(f + 14 + 6, 0x2000);
	wr32(f + 14 + 16, 0x0a000263);
	fix_ip_checksum(f, n);
	expect_drop("ipv4 order: a fragment to another address", f, n, "ip-fragment");
	n = good_udp(f);
	wr32(f + 14 + 16, 0x0a000263);
	f[14 + 9] = 6;
	fix_ip_checksum(f, n);
	expect_drop("ipv4 order: TCP to another address", f, n, "ip-not-ours");
}

static void test_malformed_icmp_udp(void)
{
	uint8_t f[1600], m[64], u[64];
	size_t n, ml;

	/* A 4-byte ICMP message: type 8, code 0 and a checksum that fits. */
	m[0] = 8;
	m[1] = 0;
	wr16(m + 2, 0);
	wr16(m + 2, ref_checksum(m, 4));
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, 4);
	expect_drop("icmp: a 4-byte message", f, n, "icmp-short");
	ml = build_echo(m, 8, 1, 1, "x", 1);
	m[2] ^= 0x12;
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, ml);
	expect_drop("icmp: an echo request with a wrong checksum", f, n, "icmp-checksum");
	ml = build_echo(m, 13, 1, 1, "timestamp!!!", 12);
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, ml);
	expect_drop("icmp: a timestamp request (type 13)", f, n, "icmp-type");
	ml = build_echo(m, 0, 0x7777, 1, "stray", 5);
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 1, NULL, 0, m, ml);
	mark();
	host_inject(f, n);
	{
		char why[300];

		if (!tap_ok(drops_since("icmp-type", 0, DS_QUIET | DS_BUFFERS, why, sizeof(why)),
			    "icmp: an echo reply nobody waits for is taken, not counted as a drop"))
			printf("# %s\n", why);
	}

	wr16(u, 40000);
	wr16(u + 2, 7);
	n = build_ip(f, NULL, PEER_IP, OUR_IP, 17, NULL, 0, u, 4);
	expect_drop("udp: a 4-byte header", f, n, "udp-short");
	n = udp_frame(f, 40000, 7, "udp length", 10);
	wr16(f + 34 + 4, 8 + 10 + 40);
	expect_drop("udp: a length 40 bytes too long", f, n, "udp-length");
	wr16(f + 34 + 4, 8 + 10 - 3);
	expect_drop("udp: a length 3 bytes too short", f, n, "udp-length");
	wr16(f + 34 + 4, 4);
	expect_drop("udp: length 4, shorter than the header", f, n, "udp-length");
	n = udp_frame(f, 40000, 7, "udp checksum", 12);
	f[34 + 6] ^= 0x04;
	f[34 + 7] ^= 0x04;
	expect_drop("udp: a checksum off by 0x0404", f, n, "udp-checksum");
	n = udp_frame(f, 40000, 7, "udp checksum", 12);
	wr32(f + 14 + 12, 0x0a000204);	/* the pseudo-header's source changes */
	fix_ip_checksum(f, n);
	expect_drop("udp: a datagram whose source address changed (pseudo-header)", f, n,
		    "udp-checksum");
	n = udp_frame(f, 40000, 9, "discard", 7);
	expect_drop("udp: to port 9, where no socket is bound", f, n, "udp-port");
}

/* ==== ARP: resolving, queueing, giving up, the cache's bounds ==== */

static struct {
	unsigned int count;
	uint32_t src;
	unsigned int sport;
	uint8_t data[64];
	size_t len;
} got;

static void test_recv(struct udp_socket *s, uint32_t src, uint16_t sport, const uint8_t *data,
		      size_t len)
{
	(void)s;
	got.count++;
	got.src = src;
	got.sport = sport;
	got.len = len < sizeof(got.data) ? len : sizeof(got.data);
	memcpy(got.data, data, got.len);
}

static struct udp_socket tsock;

/* The ARP requests the stack sent for @tpa since sent_reset(). */
static unsigned int requests_for(uint32_t tpa, uint64_t *when, unsigned int max)
{
	unsigned int n = 0;

	pump();
	for (unsigned int i = 0; i < host_frame_count; i++) {
		struct seen s = parse(&host_frames[i]);

		if (s.arp && rd16(s.l3 + 6) == 1 && rd32(s.l3 + 24) == tpa) {
			if (n < max)
				when[n] = peer.when[i];
			n++;
		}
	}
	return n;
}

static void test_arp_resolution(void)
{
	uint64_t when[8], t0;
	unsigned int n, queued = 0;
	int err;
	char why[300];
	struct seen s;
	bool ok = true;

	udp_bind(&tsock, 5000, test_recv, NULL);
	sent_reset();
	mark();
	t0 = host_now_ms;
	for (int i = 0; i < 4; i++)
		queued += udp_sendto(&tsock, SILENT_IP, 9, "queued", 6) == 0;
	pump();
	s = last_sent();
	tap_ok(queued == 4 && host_frame_count == 1 && s.arp && !memcmp(s.raw, bcast_mac, 6) &&
	       rd16(s.l3 + 6) == 1 && rd32(s.l3 + 14) == OUR_IP && rd32(s.l3 + 24) == SILENT_IP,
	       "arp: four datagrams to an unknown neighbour wait behind one broadcast request");
	err = udp_sendto(&tsock, SILENT_IP, 9, "fifth", 5);
	(void)(tap_ok(drops_since("arp-queue-full", 1, 0, why, sizeof(why)),
	       "arp: a fifth is dropped as arp-queue-full (send returned %d)", err) ||
		printf("# %s\n", why));
	run(host_kcmd_arp, "arp");
	(void)(tap_ok(printed_has("  10.0.2.9 (incomplete)\n"), "arp: the cache shows 10.0.2.9 (incomplete)")
		|| printf("# %s", host_printed));
	host_advance(10000);
	n = requests_for(SILENT_IP, when, 8);
	for (unsigned int i = 1; i < n && i < 8; i++)
		ok = ok && when[i] - when[i - 1] >= 1000 && when[i] - when[i - 1] <= 1250;
	tap_ok(n >= 3 && n <= 4 && when[0] == t0 && ok,
	       "arp: it asks %u times in all, about 1 s apart (first after %lu ms)", n,
	       (unsigned long)(n > 1 ? when[1] - when[0] : 0));
	{
		int qf = reason("arp-queue-full"), un = reason("arp-unresolved");

		tap_ok(qf >= 0 && un >= 0 && net_stats.drops[qf] == drops_before[qf] + 1 &&
		       net_stats.drops[un] == drops_before[un] + 4,
		       "arp: when nobody answers, the four waiting datagrams are dropped as "
		       "arp-unresolved");
	}
	tap_ok(pbuf_available() == PBUF_COUNT, "arp: and every buffer is back");
	run(host_kcmd_arp, "arp");
	tap_ok(!printed_has("10.0.2.9"), "arp: and the incomplete entry is gone");

	/* A neighbour that answers: what waited goes out, in order, to its MAC. */
	peer.arp = true;
	sent_reset();
	udp_sendto(&tsock, OTHER_IP, 9, "one", 3);
	udp_sendto(&tsock, OTHER_IP, 9, "two", 3);
	udp_sendto(&tsock, OTHER_IP, 9, "six", 3);
	pump();
	ok = host_frame_count == 4;
	for (unsigned int i = 1; ok && i < 4; i++) {
		s = parse(&host_frames[i]);
		ok = s.udp && !s.problem[0] && !memcmp(s.raw, other_mac, 6) &&
		     !memcmp(s.l4 + 8, i == 1 ? "one" : i == 2 ? "two" : "six", 3);
	}
	tap_ok(ok, "arp: when the reply comes, the three waiting datagrams go to its MAC, in order "
	       "(%u frames)", host_frame_count);
	sent_reset();
	udp_sendto(&tsock, OTHER_IP, 9, "now", 3);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.udp && !memcmp(s.raw, other_mac, 6),
	       "arp: the next one goes at once, without asking");
	sent_reset();
	udp_sendto(&tsock, 0x08080808U, 53, "far", 3);
	pump();
	s = last_sent();
	tap_ok(host_frame_count >= 1 && s.udp && !memcmp(s.raw, peer_mac, 6) &&
	       rd32(s.l3 + 16) == 0x08080808U,
	       "ipv4: a datagram off the subnet goes to the gateway's MAC, addressed to 8.8.8.8");
	sent_reset();
	udp_sendto(&tsock, 0x0a0002ffU, 9, "subnet", 6);
	s = last_sent();
	tap_ok(host_frame_count == 1 && s.udp && !memcmp(s.raw, bcast_mac, 6),
	       "ipv4: the subnet's broadcast 10.0.2.255 goes to the Ethernet broadcast, no ARP");
	peer.arp = false;
}

static void test_arp_cache(void)
{
	uint8_t f[64], mac[6] = { 0x02, 0, 0, 0, 0, 0 };
	static const uint8_t zero[6];
	char line[64];
	bool all = true;
	size_t n;

	/* Sixteen new neighbours ask for us, 10 ms apart. */
	for (unsigned int i = 0; i < 17; i++) {
		mac[5] = (uint8_t)(0x40 + i);
		n = arp_frame(f, bcast_mac, 1, mac, 0x0a000264U + i, zero, OUR_IP);
		host_inject(f, n);
		host_advance(10);
		if (i == 15) {
			run(host_kcmd_arp, "arp");
			(void)(tap_ok(printed_has("arp: 16 entries\n") && printed_has("  10.0.2.100 ") &&
			       printed_has("  10.0.2.115 ") && !printed_has("  10.0.2.2 "),
			       "arp: sixteen neighbours fill the cache; the oldest entries made room") ||
				printf("# %s", host_printed));
		}
	}
	run(host_kcmd_arp, "arp");
	(void)(tap_ok(printed_has("arp: 16 entries\n") && !printed_has("  10.0.2.100 ") &&
	       printed_has("  10.0.2.101 ") && printed_has("  10.0.2.116 02:00:00:00:00:50 "),
	       "arp: a seventeenth takes the place of the oldest, 10.0.2.100") ||
		printf("# %s", host_printed));
	for (unsigned int i = 0; i < 16; i++) {
		snprintf(line, sizeof(line), "  10.0.2.%u ", 101 + i);
		all = all && printed_has(line);
	}
	tap_ok(all, "arp: the other sixteen are all there");
	host_advance(301 * 1000);
	run(host_kcmd_arp, "arp");
	tap_streq(host_printed, "arp: 0 entries\n", "arp: after 301 s every entry has expired");
}

/* ==== sending: the UDP API, and drops on the way out ==== */

static void test_sending(void)
{
	uint8_t f[1600], big[1473], u[32];
	struct pbuf *held[PBUF_COUNT];
	unsigned int nheld = 0;
	struct udp_socket other;
	struct seen s;
	char why[300];
	size_t n;
	int err;

	/* The gateway asks for us again, so that its address is known. */
	n = arp_frame(f, bcast_mac, 1, peer_mac, PEER_IP, (const uint8_t[6]){ 0 }, OUR_IP);
	host_inject(f, n);

	tap_ok(udp_bind(&other, 5000, test_recv, NULL) < 0, "udp: a second bind of port 5000 fails");
	got.count = 0;
	n = udp_frame(f, 1234, 5000, "to the socket", 13);
	host_inject(f, n);
	tap_ok(got.count == 1 && got.src == PEER_IP && got.sport == 1234 && got.len == 13 &&
	       !memcmp(got.data, "to the socket", 13),
	       "udp: a bound socket gets the datagram, its source and port");

	memset(big, 'x', sizeof(big));
	sent_reset();
	mark();
	err = udp_sendto(&tsock, PEER_IP, 9, big, 1473);
	tap_ok(err < 0 && host_frame_count == 0 && pbuf_available() == PBUF_COUNT,
	       "udp: 1473 bytes do not fit a 1500-byte MTU: an error (%d), nothing sent", err);
	err = udp_sendto(&tsock, PEER_IP, 9, big, 1472);
	s = last_sent();
	tap_ok(err == 0 && host_frame_count == 1 && s.len == 1514 && s.udp && !s.problem[0],
	       "udp: 1472 bytes go in one 1514-byte frame");

	/*
	 * Two data bytes chosen so that the checksum computes to 0, which
	 * must go on the wire as 0xffff (RFC 768).
	 */
	wr16(u, 5000);
	wr16(u + 2, 9);
	wr16(u + 4, 10);
	wr16(u + 6, 0);
	wr16(u + 8, 0);
	wr16(u + 8, ref_pseudo_checksum(OUR_IP, PEER_IP, 17, u, 10));
	sent_reset();
	udp_sendto(&tsock, PEER_IP, 9, u + 8, 2);
	s = last_sent();
	tap_ok(s.udp && rd16(s.l4 + 6) == 0xffff && !s.problem[0],
	       "udp: a checksum that computes to 0 is sent as 0xffff (got %#06x)",
	       s.udp ? rd16(s.l4 + 6) : 0);

	mark();
	host_tx_fail = true;
	n = ping_frame(f, 9, 9, "full", 4);
	host_inject(f, n);
	host_tx_fail = false;
	(void)(tap_ok(drops_since("tx-full", 1, DS_BUFFERS, why, sizeof(why)),
	       "ether: a reply the card's full queue refused is counted as tx-full, its buffer back")
		|| printf("# %s\n", why));

	while (nheld < PBUF_COUNT && (held[nheld] = pbuf_alloc()))
		nheld++;
	sent_reset();
	mark();
	err = udp_sendto(&tsock, PEER_IP, 9, "no room", 7);
	for (unsigned int i = 0; i < nheld; i++)
		pbuf_free(held[i]);
	(void)(tap_ok(err < 0 && drops_since("no-buffer", 1, DS_QUIET | DS_BUFFERS, why, sizeof(why)),
	       "udp: with every buffer taken a send fails (%d) and counts no-buffer", err) ||
		printf("# %s\n", why));

	udp_unbind(&tsock);
	n = udp_frame(f, 1234, 5000, "unbound", 7);
	expect_drop("udp: to port 5000 after its socket was unbound", f, n, "udp-port");
}

/* ==== the shell's ping and netstat ==== */

static const char *const contract_reasons[] = {
	"eth-short", "eth-not-ours", "eth-type", "arp-short", "arp-format", "arp-op",
	"arp-queue-full", "arp-unresolved", "ip-short", "ip-version", "ip-ihl", "ip-header-len",
	"ip-total-len", "ip-checksum", "ip-options", "ip-fragment", "ip-not-ours", "ip-proto",
	"icmp-short", "icmp-checksum", "icmp-type", "udp-short", "udp-length", "udp-checksum",
	"udp-port", "dhcp-malformed", "dhcp-ignored", "no-buffer", "tx-full",
};

static void test_shell(void)
{
	uint64_t t0;
	int rc;
	bool ok = true;
	char line[64];
	unsigned int lines = 0, seq = 0;

	peer.arp = peer.ping = true;
	peer.skip_seq = 0;
	sent_reset();
	t0 = host_now_ms;
	rc = run(host_kcmd_ping, "ping 10.0.2.2");
	tap_streq(host_printed, "64 bytes from 10.0.2.2: icmp_seq=1 ttl=255 time=0.000 ms\n"
		  "64 bytes from 10.0.2.2: icmp_seq=2 ttl=255 time=0.000 ms\n"
		  "64 bytes from 10.0.2.2: icmp_seq=3 ttl=255 time=0.000 ms\n"
		  "ping: 3 sent, 3 received\n", "ping: three replies by default, then the tally");
	tap_ok(rc == 0 && host_now_ms - t0 >= 2000 && host_now_ms - t0 < 2100,
	       "ping: returns 0, the requests 1 s apart (%lu ms in all)",
	       (unsigned long)(host_now_ms - t0));
	for (unsigned int i = 0; i < host_frame_count; i++) {
		struct seen s = parse(&host_frames[i]);

		if (s.icmp && s.l4[0] == 8) {
			ok = ok && s.l4_len == 64 && rd16(s.l4 + 6) == ++seq && !s.problem[0];
		}
	}
	tap_ok(ok && seq == 3, "ping: the requests carry 56 data bytes and icmp_seq 1, 2, 3");

	peer.skip_seq = 2;
	rc = run(host_kcmd_ping, "ping 10.0.2.2 3");
	(void)(tap_ok(rc == 0 && printed_has("icmp_seq=1 ") && printed_has("no reply for icmp_seq=2\n") &&
	       printed_has("icmp_seq=3 ") && printed_has("ping: 3 sent, 2 received\n"),
	       "ping: a lost reply says no reply for icmp_seq=2") || printf("# %s", host_printed));
	peer.ping = false;
	rc = run(host_kcmd_ping, "ping 10.0.2.2 2");
	(void)(tap_ok(rc == 1 && printed_has("ping: 2 sent, 0 received\n"),
	       "ping: returns 1 when no reply came") || printf("# %s", host_printed));
	rc = run(host_kcmd_ping, "ping nowhere");
	tap_ok(rc != 0, "ping: a host that is no address is refused");
	peer.arp = false;

	run(host_kcmd_netstat, "netstat");
	(void)(tap_ok(printed_has("eth rx ") && printed_has("\nip rx ") && printed_has("\nicmp rx ") &&
	       printed_has("\nudp rx ") && printed_has("\narp rx ") && printed_has("\ndhcp rx ") &&
	       printed_has("\npbufs free 128 of 128 (low "),
	       "netstat: the per-layer lines and the pool's") || printf("# %s", host_printed));
	ok = true;
	for (size_t i = 0; i < sizeof(contract_reasons) / sizeof(contract_reasons[0]); i++) {
		int r = reason(contract_reasons[i]);

		snprintf(line, sizeof(line), "\ndrop %s %lu\n", contract_reasons[i],
			 r >= 0 ? (unsigned long)net_stats.drops[r] : 0UL);
		if (r < 0 || !printed_has(line)) {
			printf("# no line%s", line);
			ok = false;
		}
	}
	for (const char *p = host_printed; (p = strstr(p, "\ndrop ")); p++)
		lines++;
	tap_ok(ok && lines == 29, "netstat: one 'drop NAME N' line for each of the 29 reasons "
	       "(%u lines)", lines);
}

/* ==== DHCP ==== */

static size_t good_options(uint8_t *o, uint8_t type, uint32_t lease)
{
	uint8_t *p = o;

	*p++ = 53; *p++ = 1; *p++ = type;
	*p++ = 54; *p++ = 4; wr32(p, PEER_IP); p += 4;
	*p++ = 51; *p++ = 4; wr32(p, lease); p += 4;
	*p++ = 1; *p++ = 4; wr32(p, 0xffffff00U); p += 4;
	*p++ = 3; *p++ = 4; wr32(p, PEER_IP); p += 4;
	*p++ = 6; *p++ = 4; wr32(p, DNS_IP); p += 4;
	*p++ = 255;
	return (size_t)(p - o);
}

/*
 * A BOOTP reply (RFC 2131 §2) from the server offering 10.0.3.15 with the
 * option bytes @opts, broadcast (or @unicast to our address and MAC).
 */
static size_t dhcp_reply(uint8_t *f, uint8_t type, uint32_t xid, const uint8_t *chaddr,
			 const uint8_t *opts, size_t optlen, bool unicast)
{
	uint8_t m[600], u[640];
	size_t ul;

	(void)type;
	memset(m, 0, sizeof(m));
	m[0] = 2;
	m[1] = 1;
	m[2] = 6;
	wr32(m + 4, xid);
	wr16(m + 10, unicast ? 0 : 0x8000);
	wr32(m + 16, OUR_IP);
	wr32(m + 20, PEER_IP);
	memcpy(m + 28, chaddr, 6);
	wr32(m + 236, 0x63825363);
	memcpy(m + 240, opts, optlen);
	ul = build_udp(u, PEER_IP, unicast ? OUR_IP : 0xffffffffU, 67, 68, m, 240 + optlen);
	return build_ip(f, unicast ? our_mac : bcast_mac, PEER_IP, unicast ? OUR_IP : 0xffffffffU,
			17, NULL, 0, u, ul);
}

/* Option @code of the client's message in @s: its value and length, or NULL. */
static const uint8_t *dhcp_option(const struct seen *s, uint8_t code, size_t *len)
{
	const uint8_t *m = s->l4 + 8;
	size_t n = s->l4_len - 8, at = 240;

	if (!s->udp || n < 240 || rd32(m + 236) != 0x63825363)
		return NULL;
	while (at < n && m[at] != 255) {
		if (m[at] == 0) {
			at++;
			continue;
		}
		if (at + 2 > n || at + 2 + m[at + 1] > n)
			return NULL;
		if (m[at] == code) {
			*len = m[at + 1];
			return m + at + 2;
		}
		at += 2 + (size_t)m[at + 1];
	}
	return NULL;
}

static uint8_t dhcp_type(const struct seen *s)
{
	size_t len = 0;
	const uint8_t *v;

	if (!s->udp || rd16(s->l4) != 68 || rd16(s->l4 + 2) != 67)
		return 0;
	v = dhcp_option(s, 53, &len);
	return v && len == 1 ? v[0] : 0;
}

/* The last DHCP message of @type sent since sent_reset(): false (and @out empty) if none. */
static bool find_dhcp(uint8_t type, struct seen *out, unsigned int *index)
{
	memset(out, 0, sizeof(*out));
	if (index)
		*index = 0;
	pump();
	for (unsigned int i = host_frame_count; i-- > 0;) {
		struct seen s = parse(&host_frames[i]);

		if (dhcp_type(&s) == type) {
			*out = s;
			if (index)
				*index = i;
			return true;
		}
	}
	return false;
}

static unsigned int count_dhcp(void)
{
	unsigned int n = 0;

	pump();
	for (unsigned int i = 0; i < host_frame_count; i++) {
		struct seen s = parse(&host_frames[i]);

		n += dhcp_type(&s) != 0;
	}
	return n;
}

static uint32_t xid_of(const struct seen *s)
{
	return s->udp && s->l4_len >= 8 + 8 ? rd32(s->l4 + 8 + 4) : 0;
}

static void expect_dhcp_drop(const char *what, uint32_t xid, const uint8_t *chaddr,
			     const uint8_t *opts, size_t optlen, const char *name)
{
	uint8_t f[1600];
	size_t n = dhcp_reply(f, 2, xid, chaddr, opts, optlen, false);

	expect_drop(what, f, n, name);
}

static void test_dhcp(void)
{
	uint8_t f[1600], o[128];
	struct seen s;
	unsigned int idx, n;
	uint32_t xid;
	uint64_t bound_at;
	size_t len;
	bool ok = true;
	const uint8_t *v;

	/* Forget the static address, as a boot without ip= would start. */
	netif.addr = netif.mask = netif.gateway = netif.dns = 0;
	sent_reset();
	boot("shell dhcp_wait_ms=3000", host_initcall_dhcp_init);
	(void)(tap_ok(printed_has("net: dhcp: no lease yet; still asking in the background\n"),
	       "dhcp: with no server the boot waits 3 s, then says it goes on asking") ||
		printf("# printed: %s", host_printed));
	tap_ok(find_dhcp(1, &s, NULL) && !memcmp(s.raw, bcast_mac, 6) &&
	       !memcmp(s.raw + 6, our_mac, 6) && rd32(s.l3 + 12) == 0 &&
	       rd32(s.l3 + 16) == 0xffffffffU && !s.problem[0] && s.l4[8] == 1 &&
	       s.l4[9] == 1 && s.l4[10] == 6 && (rd16(s.l4 + 8 + 10) & 0x8000) &&
	       !memcmp(s.l4 + 8 + 28, our_mac, 6),
	       "dhcp: a DISCOVER from 0.0.0.0 to 255.255.255.255, BROADCAST flag, our MAC in "
	       "chaddr, checksums right%s%s", s.problem[0] ? ": " : "", s.problem);
	host_advance(60000);
	n = 0;
	for (unsigned int i = 0; i < host_frame_count && n < 8; i++) {
		struct seen d = parse(&host_frames[i]);

		if (dhcp_type(&d) == 1)
			peer.when[n++] = peer.when[i];
	}
	{
		static const uint64_t gaps[] = { 1000, 2000, 4000, 8000, 16000, 16000 };

		for (unsigned int i = 0; i < 6; i++)
			ok = ok && i + 1 < n && peer.when[i + 1] - peer.when[i] == gaps[i];
		tap_ok(ok, "dhcp: DISCOVER is sent again after 1, 2, 4, 8, 16 and 16 s (%u in 63 s)",
		       n);
	}

	/* Broken offers, to the DISCOVER's xid: each dropped whole. */
	find_dhcp(1, &s, NULL);
	xid = xid_of(&s);
	{
		uint8_t lie[32], *p = lie;

		*p++ = 53; *p++ = 1; *p++ = 2;
		*p++ = 54; *p++ = 4; wr32(p, PEER_IP); p += 4;
		*p++ = 51; *p++ = 4; *p++ = 0; *p++ = 0;
		expect_dhcp_drop("dhcp: an offer whose lease option runs past the packet", xid,
				 our_mac, lie, (size_t)(p - lie), "dhcp-malformed");
		p = lie;
		*p++ = 53; *p++ = 1; *p++ = 2;
		*p++ = 51;
		expect_dhcp_drop("dhcp: an offer ending in an option code with no length", xid,
				 our_mac, lie, (size_t)(p - lie), "dhcp-malformed");
	}
	o[0] = 1;
	o[1] = 0;
	len = 2 + good_options(o + 2, 2, 86400);
	expect_dhcp_drop("dhcp: an offer whose subnet mask has length 0", xid, our_mac, o, len,
			 "dhcp-malformed");
	memcpy(o, "\x03\x03\x0a\x00\x02", 5);
	len = 5 + good_options(o + 5, 2, 86400);
	expect_dhcp_drop("dhcp: an offer whose router has length 3", xid, our_mac, o, len,
			 "dhcp-malformed");
	len = good_options(o, 2, 86400);
	o[1] = 2;	/* message type of length 2: the 2 and the 54 that follows */
	expect_dhcp_drop("dhcp: an offer whose message type has length 2", xid, our_mac, o, len,
			 "dhcp-malformed");
	len = good_options(o, 2, 86400);
	o[4] = 5;	/* server identifier of length 5 */
	expect_dhcp_drop("dhcp: an offer whose server identifier has length 5", xid, our_mac, o,
			 len, "dhcp-malformed");
	len = good_options(o, 2, 86400);
	o[10] = 0;	/* lease time of length 0 */
	expect_dhcp_drop("dhcp: an offer whose lease time has length 0", xid, our_mac, o, len,
			 "dhcp-malformed");
	len = good_options(o, 2, 86400);
	expect_dhcp_drop("dhcp: a good offer to another xid", xid ^ 1, our_mac, o, len,
			 "dhcp-ignored");
	expect_dhcp_drop("dhcp: a good offer to another MAC", xid, other_mac, o, len,
			 "dhcp-ignored");
	len = good_options(o, 5, 86400);
	expect_dhcp_drop("dhcp: an ACK while it is still selecting", xid, our_mac, o, len,
			 "dhcp-ignored");
	run(host_kcmd_ifconfig, "ifconfig");
	tap_ok(printed_has("  inet none\n"), "ifconfig: no address yet: inet none");

	/* The good offer, and the exchange. */
	sent_reset();
	len = good_options(o, 2, 86400);
	n = (unsigned int)dhcp_reply(f, 2, xid, our_mac, o, len, false);
	host_inject(f, n);
	tap_ok(find_dhcp(3, &s, NULL) && xid_of(&s) == xid && !memcmp(s.raw, bcast_mac, 6) &&
	       rd32(s.l3 + 16) == 0xffffffffU && (v = dhcp_option(&s, 50, &len)) && len == 4 &&
	       rd32(v) == OUR_IP && (v = dhcp_option(&s, 54, &len)) && len == 4 &&
	       rd32(v) == PEER_IP && !s.problem[0],
	       "dhcp: the offer is answered by a broadcast REQUEST for 10.0.2.15 from server "
	       "10.0.2.2, same xid");
	sent_reset();
	host_printed_reset();
	len = good_options(o, 5, 86400);
	n = (unsigned int)dhcp_reply(f, 5, xid, our_mac, o, len, false);
	host_inject(f, n);
	bound_at = host_now_ms;
	tap_streq(host_printed, "dhcp: lease of 86400 s from 10.0.2.2, dns 10.0.2.3\n"
		  "net: 10.0.2.15/24 gw 10.0.2.2 (dhcp)\n",
		  "dhcp: the ACK prints the lease, then the address line");
	tap_ok(netif.addr == OUR_IP && netif.mask == 0xffffff00U && netif.gateway == PEER_IP &&
	       netif.dns == DNS_IP, "dhcp: the interface has the lease's address, mask, gateway, dns");
	s = last_sent();
	tap_ok(s.arp && rd16(s.l3 + 6) == 1 && rd32(s.l3 + 14) == OUR_IP &&
	       rd32(s.l3 + 24) == OUR_IP, "dhcp: the new address is announced by gratuitous ARP");
	run(host_kcmd_ifconfig, "ifconfig");
	(void)(tap_ok(printed_has("  inet 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 (dhcp, lease 86400 s)\n"),
	       "ifconfig: inet 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 (dhcp, lease 86400 s)") ||
		printf("# %s", host_printed));

	/* T1, renewing: a unicast REQUEST to the server. */
	peer.arp = true;
	sent_reset();
	host_advance(43200 * 1000 - 1000);
	tap_ok(count_dhcp() == 0, "dhcp: bound, nothing is sent before T1 (%u messages)",
	       count_dhcp());
	host_advance(2000);
	tap_ok(find_dhcp(3, &s, &idx) && rd32(s.l3 + 16) == PEER_IP && !memcmp(s.raw, peer_mac, 6)
	       && rd32(s.l3 + 12) == OUR_IP && rd32(s.l4 + 8 + 12) == OUR_IP &&
	       !dhcp_option(&s, 50, &len) && peer.when[idx] - bound_at == 43200 * 1000,
	       "dhcp: at T1 (half the lease) a REQUEST goes to the server alone, ciaddr "
	       "10.0.2.15, no requested-address option (RFC 2131 4.3.2)");
	xid = xid_of(&s);
	host_printed_reset();
	len = good_options(o, 5, 86400);
	n = (unsigned int)dhcp_reply(f, 5, xid, our_mac, o, len, true);
	mark();
	host_inject(f, n);
	bound_at = host_now_ms;
	tap_ok(netif.addr == OUR_IP && !memcmp(drops_before, net_stats.drops, sizeof(drops_before)),
	       "dhcp: the server's unicast ACK renews the lease");
	tap_ok(!printed_has("net: "), "dhcp: a renewal of the same address prints no address line");
	sent_reset();
	host_advance(43200 * 1000 - 1000);
	tap_ok(count_dhcp() == 0 && netif.addr == OUR_IP,
	       "dhcp: the renewed lease's clock starts again: nothing until the new T1 (%u)",
	       count_dhcp());

	/* A server that is gone: T1, T2 (broadcast), then the lease ends. */
	host_advance(2000);
	tap_ok(find_dhcp(3, &s, NULL) && rd32(s.l3 + 16) == PEER_IP, "dhcp: the new T1 asks again");
	sent_reset();
	host_advance(bound_at + 75600 * 1000 - host_now_ms);
	tap_ok(find_dhcp(3, &s, &idx) && rd32(s.l3 + 16) == 0xffffffffU &&
	       !memcmp(s.raw, bcast_mac, 6) && rd32(s.l4 + 8 + 12) == OUR_IP &&
	       peer.when[idx] - bound_at == 75600 * 1000,
	       "dhcp: at T2 (7/8 of the lease) the REQUEST is broadcast to any server");
	tap_ok(netif.addr == OUR_IP, "dhcp: until the lease ends the address is kept");
	sent_reset();
	host_advance(bound_at + 86400 * 1000 - host_now_ms);
	run(host_kcmd_ifconfig, "ifconfig");
	tap_ok(netif.addr == 0 && printed_has("  inet none\n"),
	       "dhcp: when the lease ends the address is given up");
	tap_ok(find_dhcp(1, &s, NULL) && xid_of(&s) != xid,
	       "dhcp: and a DISCOVER with a new xid starts over");

	/* A server that answers at once: the boot's wait ends with the lease. */
	peer.dhcp = true;
	sent_reset();
	boot("shell dhcp_wait_ms=3000", host_initcall_dhcp_init);
	(void)(tap_ok(printed_has("dhcp: lease of 86400 s from 10.0.2.2, dns 10.0.2.3\n") &&
	       printed_has("net: 10.0.2.15/24 gw 10.0.2.2 (dhcp)\n") &&
	       !printed_has("no lease yet"), "dhcp: a server that answers: the boot prints the "
	       "lease and the address, and no 'no lease yet'") || printf("# %s", host_printed));
	peer.dhcp = false;

	/* A long lease: 50 days, more milliseconds than 32 bits hold. */
	bound_at = host_now_ms;
	sent_reset();
	host_advance(43200 * 1000 + 10);
	if (find_dhcp(3, &s, NULL)) {
		len = good_options(o, 5, 50 * 86400);
		n = (unsigned int)dhcp_reply(f, 5, xid_of(&s), our_mac, o, len, true);
		host_inject(f, n);
	}
	sent_reset();
	host_advance(2 * 86400 * 1000);
	tap_ok(netif.addr == OUR_IP && count_dhcp() == 0,
	       "dhcp: a 50-day lease is kept, and nothing sent, two days later (%u messages)",
	       count_dhcp());
	peer.arp = false;
	tap_ok(pbuf_available() == PBUF_COUNT, "pbuf: every buffer is back after DHCP");
}

int main(void)
{
	host_pump = pump;
	host_now_ms = 1000000;	/* not 0: a clock that has run a while */
	test_checksum();
	test_bring_up();
	test_answers();
	test_malformed_eth_arp();
	test_malformed_ip();
	test_malformed_icmp_udp();
	test_arp_resolution();
	test_arp_cache();
	test_sending();
	test_shell();
	test_dhcp();
	tap_ok(host_frames_lost == 0, "test: no sent frame was lost by the fake card");
	return tap_done();
}
