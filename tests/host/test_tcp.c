/*
 * Host unit test of TCP (src/net/tcp.c, with the echo of src/net/tcp_echo.c
 * on port 7), built with AddressSanitizer and UBSan by `make host-tests`
 * over chapter 7's stack and the fakes of tests/host/net_host.h: a clock
 * the test moves, and a card that records what the stack sends.
 *
 * The test is the client. Every segment it sends is built here byte by
 * byte from RFC 9293 §3.1's layout, with its own checksum over the
 * pseudo-header (a byte-at-a-time RFC 1071 sum, not the stack's), and
 * every segment fern sends is read back with the test's own parsing, its
 * checksum checked. Besides the echo, the test listens on port 8080 with
 * an application of its own, which lets it call tcp_send(), tcp_close()
 * and tcp_abort() when it likes and see every callback. A malformed
 * segment must be counted under exactly the reason tcp.h names (looked up
 * by its `netstat` name), under no other, answer nothing, and give every
 * packet buffer back.
 */
#include <fern/boot.h>
#include <fern/errno.h>
#include <fern/net.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>
#include <fern/tcp.h>

#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "wire.h"

extern int (*const host_initcall_net_start)(const struct boot_info *);
extern int (*const host_initcall_tcp_echo_start)(const struct boot_info *);
extern const kcmd_fn host_kcmd_netstat;

static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define OUR_IP		0x0a00020fU	/* 10.0.2.15 */
#define PEER_IP		0x0a000202U	/* 10.0.2.2: the client, as slirp's hostfwd is */

/* Flags, RFC 9293 §3.1. */
#define FIN	0x01
#define SYN	0x02
#define RST	0x04
#define PSH	0x08
#define ACK	0x10

#define ECHO_PORT	7
#define APP_PORT	8080

/* The test's own byte order and checksums: tests/host/wire.h. */

/* ---- segments to the stack, byte by byte ---- */

/* An IPv4 packet (IHL 5, TTL 64) from the client to us in an Ethernet frame. */
static size_t build_ip(uint8_t *f, const void *payload, size_t plen)
{
	uint8_t *h = f + 14;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	wr16(f + 12, 0x0800);
	h[0] = 0x45;
	h[1] = 0;
	wr16(h + 2, (unsigned int)(20 + plen));
	wr16(h + 4, 0x1234);
	wr16(h + 6, 0);
	h[8] = 64;
	h[9] = 6;
	wr16(h + 10, 0);
	wr32(h + 12, PEER_IP);
	wr32(h + 16, OUR_IP);
	wr16(h + 10, ref_checksum(h, 20));
	memcpy(h + 20, payload, plen);
	return 14 + 20 + plen;
}

/*
 * A TCP segment at @t: ports, numbers, @flags, window @wnd, @optlen bytes
 * of options (a multiple of 4), @n bytes of data; its length.
 */
static size_t build_tcp(uint8_t *t, unsigned int sport, unsigned int dport, uint32_t seq,
			uint32_t ack, uint8_t flags, unsigned int wnd, const uint8_t *opt,
			size_t optlen, const void *data, size_t n)
{
	size_t hl = 20 + optlen;

	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = flags;
	wr16(t + 14, wnd);
	wr16(t + 16, 0);
	wr16(t + 18, 0);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	if (n)
		memcpy(t + hl, data, n);
	wr16(t + 16, ref_pseudo_checksum(PEER_IP, OUR_IP, 6, t, hl + n));
	return hl + n;
}


/* Send the @tl bytes of TCP at @t in a frame. */
static void inject_tcp(const uint8_t *t, size_t tl)
{
	uint8_t f[2048];

	host_inject(f, build_ip(f, t, tl));
}

/* The client's side of one connection, as the test plays it. */
struct client {
	unsigned int port, lport;	/* the client's port and fern's */
	uint32_t snd;			/* the client's next sequence number */
	uint32_t rcv;			/* the next one expected from fern */
	uint32_t iss;			/* fern's initial sequence number */
	unsigned int wnd;		/* the window the client advertises */
};

/* A segment of @c's with these numbers and flags. */
static void seg(const struct client *c, uint32_t seq, uint32_t ack, uint8_t flags,
		const void *data, size_t n)
{
	uint8_t t[2048];

	inject_tcp(t, build_tcp(t, c->port, c->lport, seq, ack, flags, c->wnd, NULL, 0, data, n));
}

/* Data from the client at its next sequence number, acknowledging all. */
static void client_send(struct client *c, const void *data, size_t n)
{
	seg(c, c->snd, c->rcv, ACK | PSH, data, n);
	c->snd += (uint32_t)n;
}

/* ---- segments from the stack ---- */

/* What the test reads out of a frame fern sent. */
struct tseg {
	bool tcp;
	uint32_t dst;
	unsigned int sport, dport, wnd, hlen;
	uint32_t seq, ack;
	uint8_t flags;
	int mss;			/* -1: no MSS option */
	const uint8_t *data;
	size_t len;
	char problem[120];		/* the first wrong length or checksum */
};

static struct tseg parse(const struct host_frame *hf)
{
	struct tseg s;
	const uint8_t *b = hf->data, *h = b + 14, *t = b + 34;
	size_t total, tl;

	memset(&s, 0, sizeof(s));
	s.mss = -1;
	if (hf->len < 34 || rd16(b + 12) != 0x0800) {
		snprintf(s.problem, sizeof(s.problem), "not IPv4 (%zu bytes)", hf->len);
		return s;
	}
	total = rd16(h + 2);
	if (h[0] != 0x45 || total < 40 || total > hf->len - 14 || h[9] != 6) {
		snprintf(s.problem, sizeof(s.problem), "not TCP: IPv4 byte 0 %#x proto %u total %zu",
			 h[0], h[9], total);
		return s;
	}
	if (ref_checksum(h, 20) != 0)
		snprintf(s.problem, sizeof(s.problem), "IPv4 header checksum wrong");
	if (memcmp(b, peer_mac, 6) || memcmp(b + 6, our_mac, 6))
		snprintf(s.problem, sizeof(s.problem), "Ethernet addresses wrong");
	tl = total - 20;
	s.tcp = true;
	s.dst = rd32(h + 16);
	s.sport = rd16(t);
	s.dport = rd16(t + 2);
	s.seq = rd32(t + 4);
	s.ack = rd32(t + 8);
	s.hlen = (unsigned int)(t[12] >> 4) * 4;
	s.flags = t[13];
	s.wnd = rd16(t + 14);
	if (s.hlen < 20 || s.hlen > tl) {
		snprintf(s.problem, sizeof(s.problem), "data offset %u in %zu", s.hlen, tl);
		return s;
	}
	if (ref_pseudo_checksum(rd32(h + 12), s.dst, 6, t, tl) != 0)
		snprintf(s.problem, sizeof(s.problem), "TCP checksum wrong");
	for (size_t i = 20; i + 1 < s.hlen;) {
		if (t[i] == 0)
			break;
		if (t[i] == 1) {
			i++;
			continue;
		}
		if (t[i] == 2 && t[i + 1] == 4 && i + 4 <= s.hlen)
			s.mss = (int)rd16(t + i + 2);
		if (t[i + 1] < 2)
			break;
		i += t[i + 1];
	}
	s.data = t + s.hlen;
	s.len = tl - s.hlen;
	return s;
}

/* The @i-th frame sent since mark(). */
static struct tseg sent(unsigned int i)
{
	static const struct host_frame none;

	return parse(i < host_frame_count ? &host_frames[i] : &none);
}

/* Is @s a clean segment of @c's with these flags, numbers and @n bytes? */
static bool is_seg(const struct tseg *s, const struct client *c, uint8_t flags, uint32_t seq,
		   uint32_t ack, size_t n)
{
	bool ok = s->tcp && !s->problem[0] && s->dst == PEER_IP && s->sport == c->lport &&
		  s->dport == c->port && s->flags == flags && s->seq == seq &&
		  (!(flags & ACK) || s->ack == ack) && s->len == n;

	if (!ok)
		printf("# got %s%s flags %#x seq %u ack %u len %zu ports %u>%u; expected flags %#x "
		       "seq %u ack %u len %zu\n", s->problem, s->problem[0] ? ";" : "", s->flags,
		       s->seq, s->ack, s->len, s->sport, s->dport, flags, seq, ack, n);
	return ok;
}

/* Exactly one segment since mark(), as is_seg() says. */
static bool one_seg(const struct client *c, uint8_t flags, uint32_t seq, uint32_t ack, size_t n)
{
	struct tseg s = sent(0);

	if (host_frame_count != 1)
		printf("# %u frames sent, expected 1\n", host_frame_count);
	return is_seg(&s, c, flags, seq, ack, n) && host_frame_count == 1;
}

/* ---- counting ---- */

/* The index of the TCP drop reason named @name in netstat, or -1. */
static int reason(const char *name)
{
	for (int i = 0; i < TCP_DROPS; i++) {
		if (strcmp(tcp_drop_name((enum tcp_drop)i), name) == 0)
			return i;
	}
	return -1;
}

static uint64_t tcp_before[TCP_DROPS], net_before[NET_DROPS];
static struct tcp_stats stats_before;

/* Start watching: forget what was sent, remember the counters. */
static void mark(void)
{
	host_frames_reset();
	memcpy(tcp_before, tcp_stats.drops, sizeof(tcp_before));
	memcpy(net_before, net_stats.drops, sizeof(net_before));
	stats_before = tcp_stats;
}

#define DS_QUIET	1	/* nothing may have been sent */
#define DS_BUFFERS	2	/* every buffer must be back */

/*
 * Since mark(): did the TCP reason @name (NULL: none) go up by one and no
 * other reason of TCP's or the stack's, was nothing sent (if DS_QUIET),
 * is every buffer back (if DS_BUFFERS)? Prints what went wrong.
 */
static bool drops_since(const char *name, int flags)
{
	int r = name ? reason(name) : -1;
	char why[400];
	size_t at = 0;

	why[0] = '\0';
	if (name && r < 0) {
		printf("# netstat has no reason %s\n", name);
		return false;
	}
	for (int i = 0; i < TCP_DROPS && at < sizeof(why); i++) {
		uint64_t want = tcp_before[i] + (i == r ? 1 : 0);

		if (tcp_stats.drops[i] != want)
			at += (size_t)snprintf(why + at, sizeof(why) - at, "%s +%lu; ",
					       tcp_drop_name((enum tcp_drop)i),
					       (unsigned long)(tcp_stats.drops[i] - tcp_before[i]));
	}
	for (int i = 0; i < NET_DROPS && at < sizeof(why); i++) {
		if (net_stats.drops[i] != net_before[i])
			at += (size_t)snprintf(why + at, sizeof(why) - at, "%s +%lu; ",
					       net_drop_name((enum net_drop)i),
					       (unsigned long)(net_stats.drops[i] - net_before[i]));
	}
	if ((flags & DS_QUIET) && host_frame_count && at < sizeof(why))
		at += (size_t)snprintf(why + at, sizeof(why) - at, "%u frames sent; ",
				       host_frame_count);
	if ((flags & DS_BUFFERS) && pbuf_available() != PBUF_COUNT && at < sizeof(why))
		at += (size_t)snprintf(why + at, sizeof(why) - at, "%u of %u buffers back; ",
				       pbuf_available(), PBUF_COUNT);
	if (at)
		printf("# %s\n", why);
	return at == 0;
}

/* Inject the @tl bytes of TCP at @t and expect a drop as @name. */
static void expect_drop(const char *what, const uint8_t *t, size_t tl, const char *name)
{
	mark();
	inject_tcp(t, tl);
	tap_ok(drops_since(name, DS_QUIET | DS_BUFFERS),
	       "tcp: %s is dropped as %s, once, nothing sent, every buffer back", what, name);
}

/* How many connections netstat shows in @state ("ESTABLISHED"). */
static unsigned int in_state(const char *state)
{
	char key[40];
	const char *at;

	host_printed_reset();
	host_kcmd_netstat(1, (char *[]){ "netstat", NULL });
	snprintf(key, sizeof(key), "tcp %s ", state);
	at = strstr(host_printed, key);
	return at ? (unsigned int)strtoul(at + strlen(key), NULL, 10) : 0;
}

/* How many connections exist at all, in any state. */
static unsigned int conns_open(void)
{
	static const char *const states[] = {
		"SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "FIN-WAIT-1",
		"FIN-WAIT-2", "CLOSING", "TIME-WAIT",
	};
	unsigned int n = 0;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		n += in_state(states[i]);
	return n;
}

/* Move the clock in @step ms steps until something is sent, at most @max ms; the time taken. */
static uint64_t advance_until_sent(uint64_t step, uint64_t max)
{
	uint64_t t = 0;

	while (!host_frame_count && t < max) {
		host_advance(step);
		t += step;
	}
	return t;
}

/* ---- the test's application on port 8080 ---- */

static struct {
	struct tcp_conn *c;		/* the connection accepted last */
	unsigned int accepts, closed_calls, sent_calls, fins;
	int closed_err;
	bool refuse;			/* accept returns an error */
	bool close_on_fin;		/* tcp_close() when the client's FIN comes */
	uint8_t got[16384];
	size_t got_len;
} app;

static void app_reset(void)
{
	memset(&app, 0, sizeof(app));
}

static void app_recv(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	if (!len) {
		app.fins++;
		if (app.close_on_fin)
			tcp_close(c);
		return;
	}
	if (app.got_len + len <= sizeof(app.got)) {
		memcpy(app.got + app.got_len, data, len);
		app.got_len += len;
	}
}

static void app_sent(struct tcp_conn *c)
{
	(void)c;
	app.sent_calls++;
}

static void app_closed(struct tcp_conn *c, int err)
{
	if (c == app.c)
		app.c = NULL;
	app.closed_calls++;
	app.closed_err = err;
}

static const struct tcp_ops app_ops = {
	.recv = app_recv,
	.sent = app_sent,
	.closed = app_closed,
};

static int app_accept(struct tcp_listener *l, struct tcp_conn *c)
{
	(void)l;
	app.accepts++;
	if (app.refuse)
		return -EEXIST;
	app.c = c;
	tcp_set_ops(c, &app_ops, &app);
	return 0;
}

static struct tcp_listener app_listener, again_listener;

/* ---- opening connections ---- */

static const uint8_t mss_1460[4] = { 2, 4, 0x05, 0xb4 };

/*
 * The client's SYN (with MSS 1460) and, if @complete, its ACK of fern's
 * SYN-ACK. Fills in @c; false (and says why) if fern did not answer so.
 */
static bool open_conn(struct client *c, unsigned int port, unsigned int lport, uint32_t isn,
		      unsigned int wnd, bool complete)
{
	uint8_t t[64];
	struct tseg s;

	memset(c, 0, sizeof(*c));
	c->port = port;
	c->lport = lport;
	c->snd = isn;
	c->wnd = wnd;
	mark();
	inject_tcp(t, build_tcp(t, port, lport, isn, 0, SYN, wnd, mss_1460, 4, NULL, 0));
	s = sent(0);
	if (host_frame_count != 1 || !s.tcp || s.flags != (SYN | ACK) || s.ack != isn + 1) {
		printf("# the SYN from port %u got %u frames (flags %#x ack %u)\n", port,
		       host_frame_count, s.flags, s.ack);
		return false;
	}
	c->snd = isn + 1;
	c->iss = s.seq;
	c->rcv = s.seq + 1;
	if (complete) {
		mark();
		seg(c, c->snd, c->rcv, ACK, NULL, 0);
	}
	return true;
}

/* A pattern the reader can check: byte i of a stream is (i * 7 + 3) & 0xff. */
static void pattern(uint8_t *b, size_t n, size_t from)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((from + i) * 7 + 3);
}

/* ==== set-up ==== */

static void test_setup(void)
{
	struct boot_info bi;
	uint8_t f[64];

	netdev_register(&host_dev);
	memset(&bi, 0, sizeof(bi));
	bi.cmdline = "shell ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3";
	host_initcall_net_start(&bi);
	/* The client is learned from its ARP request, for longer than the test runs. */
	arp_set_timeout(1000000);
	host_inject(f, arp_frame(f, bcast_mac, 1, peer_mac, PEER_IP, (const uint8_t[6]){ 0 },
				 OUR_IP));
	tap_ok(host_initcall_tcp_echo_start(&bi) == 0, "tcp: the echo listens on port 7 at boot");
	tap_ok(tcp_listen(&app_listener, APP_PORT, app_accept, NULL) == 0,
	       "tcp: a listener on port 8080 is taken");
	tap_ok(tcp_listen(&again_listener, APP_PORT, app_accept, NULL) == -EEXIST,
	       "tcp: a second listener on port 8080 gets -EEXIST");
	host_frames_reset();
}

/* ==== the echo: handshake, data, close ==== */

static void test_echo(void)
{
	static const char hello[] = "hello, fern";
	uint8_t t[64];
	struct client c = { .port = 40000, .lport = ECHO_PORT, .snd = 1000, .wnd = 8192 };
	struct tseg s;
	size_t n = strlen(hello);

	mark();
	inject_tcp(t, build_tcp(t, c.port, ECHO_PORT, 1000, 0, SYN, c.wnd, mss_1460, 4, NULL, 0));
	s = sent(0);
	tap_ok(host_frame_count == 1 && s.tcp && !s.problem[0] && s.flags == (SYN | ACK) &&
	       s.sport == ECHO_PORT && s.dport == c.port && s.ack == 1001 && s.mss == 1460 &&
	       s.hlen == 24 && s.wnd == 8192 && s.len == 0,
	       "tcp: a SYN to port 7 gets one SYN-ACK from port 7 with ack = ISN+1, MSS 1460 and "
	       "window 8192 (%u frames, flags %#x, ack %u, mss %d, %s)", host_frame_count,
	       s.flags, s.ack, s.mss, s.problem[0] ? s.problem : "checksum right");
	c.snd = 1001;
	c.iss = s.seq;
	c.rcv = s.seq + 1;
	tap_ok(in_state("SYN-RECEIVED") == 1 && tcp_stats.accepted == stats_before.accepted,
	       "tcp: after the SYN-ACK the connection is SYN-RECEIVED and not yet accepted");
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(host_frame_count == 0 && tcp_stats.accepted == stats_before.accepted + 1 &&
	       in_state("ESTABLISHED") == 1,
	       "tcp: the client's ACK completes the handshake: accepted, ESTABLISHED, nothing sent");

	mark();
	client_send(&c, hello, n);
	s = sent(0);
	tap_ok(one_seg(&c, ACK | PSH, c.rcv, c.snd, n) && !memcmp(s.data, hello, n),
	       "tcp: \"hello, fern\" comes back from the echo at seq ISN+1 with ack = the "
	       "client's seq + 11, in one segment that also acknowledges it");
	c.rcv += (uint32_t)n;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(host_frame_count == 0, "tcp: the client's ACK of the echo gets no answer");

	mark();
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);
	c.snd++;
	tap_ok(one_seg(&c, FIN | ACK, c.rcv, c.snd, 0),
	       "tcp: the client's FIN makes the echo close: one FIN|ACK acknowledging the FIN");
	c.rcv++;
	tap_ok(in_state("LAST-ACK") == 1, "tcp: ... and the connection is LAST-ACK");
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(host_frame_count == 0 && conns_open() == 0,
	       "tcp: the final ACK frees the connection, with nothing sent");
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(one_seg(&c, RST, c.rcv, 0, 0), "tcp: ... after which its ACK gets a RST");
	tap_ok(pbuf_available() == PBUF_COUNT, "tcp: every buffer is back after a whole connection");
}

/* ==== no connection ==== */

static void test_no_socket(void)
{
	struct client c = { .port = 40001, .lport = 9, .wnd = 8192 };
	uint8_t t[64];

	mark();
	seg(&c, 5000, 0, SYN, NULL, 0);
	tap_ok(one_seg(&c, RST | ACK, 0, 5001, 0) && drops_since("tcp-no-socket", DS_BUFFERS),
	       "tcp: a SYN to a closed port gets RST|ACK with seq 0 and ack = seq+1, counted "
	       "as tcp-no-socket");
	mark();
	seg(&c, 5000, 0, SYN, "abc", 3);
	tap_ok(one_seg(&c, RST | ACK, 0, 5004, 0),
	       "tcp: a SYN with 3 bytes of data to a closed port: ack = seq+4");
	mark();
	seg(&c, 6000, 0x12345678, ACK, NULL, 0);
	tap_ok(one_seg(&c, RST, 0x12345678, 0, 0) && drops_since("tcp-no-socket", DS_BUFFERS),
	       "tcp: a segment with ACK to no connection gets a RST (no ACK flag) with seq = its "
	       "ack");
	c.lport = ECHO_PORT;
	mark();
	seg(&c, 6000, 0x12345678, ACK | PSH, "x", 1);
	tap_ok(one_seg(&c, RST, 0x12345678, 0, 0),
	       "tcp: data to a listening port with no connection gets a RST too");
	mark();
	seg(&c, 6000, 0, RST, NULL, 0);
	tap_ok(drops_since("tcp-no-socket", DS_QUIET | DS_BUFFERS),
	       "tcp: a RST to no connection is not answered (tcp-no-socket)");
	mark();
	inject_tcp(t, build_tcp(t, c.port, ECHO_PORT, 7000, 0, SYN | ACK, 8192, NULL, 0, NULL, 0));
	tap_ok(one_seg(&c, RST, 0, 0, 0) && conns_open() == 0,
	       "tcp: a SYN|ACK to the listener opens nothing and gets a RST with seq = its ack");
}

/* ==== malformed segments ==== */

static void test_malformed(void)
{
	uint8_t t[128];
	size_t n;

	/* Each is a SYN to the echo: one not dropped would get a SYN-ACK. */
	n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, NULL, 0, NULL, 0);
	expect_drop("a segment of 19 bytes", t, 19, "tcp-short");
	expect_drop("a segment of 0 bytes", t, 0, "tcp-short");
	t[12] = 4 << 4;
	wr16(t + 16, 0);
	wr16(t + 16, ref_pseudo_checksum(PEER_IP, OUR_IP, 6, t, n));
	expect_drop("a data offset of 4 words", t, n, "tcp-header-len");
	n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, NULL, 0, NULL, 0);
	t[12] = 6 << 4;
	wr16(t + 16, 0);
	wr16(t + 16, ref_pseudo_checksum(PEER_IP, OUR_IP, 6, t, n));
	expect_drop("a data offset of 24 bytes in a 20-byte segment", t, n, "tcp-header-len");
	n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, NULL, 0, "0123456789abcdefghij", 20);
	t[12] = 15 << 4;
	wr16(t + 16, 0);
	wr16(t + 16, ref_pseudo_checksum(PEER_IP, OUR_IP, 6, t, n));
	expect_drop("a data offset of 60 bytes in a 40-byte segment", t, n, "tcp-header-len");
	n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, mss_1460, 4, NULL, 0);
	t[17] ^= 1;
	expect_drop("a SYN whose checksum is one bit off", t, n, "tcp-checksum");
	n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, mss_1460, 4, "data", 4);
	t[n - 1] ^= 0x80;
	expect_drop("a segment whose last data byte changed after its checksum", t, n,
		    "tcp-checksum");
	{
		static const struct {
			const char *what;
			uint8_t opt[8];
			size_t len;
		} bad[] = {
			{ "an option of length 0", { 2, 0, 0, 0 }, 4 },
			{ "an option of length 1", { 8, 1, 0, 0 }, 4 },
			{ "an option running past the header", { 8, 10, 0, 0 }, 4 },
			{ "an option kind with no length byte left", { 1, 1, 1, 8 }, 4 },
			{ "an MSS option of length 3", { 2, 3, 5, 1 }, 4 },
			{ "an MSS option of length 6", { 2, 6, 5, 0xb4, 0, 0, 1, 1 }, 8 },
			{ "a good MSS then an option of length 0", { 2, 4, 5, 0xb4, 3, 0, 0, 0 }, 8 },
		};
		char what[100];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = build_tcp(t, 41000, ECHO_PORT, 100, 0, SYN, 8192, bad[i].opt, bad[i].len,
				      NULL, 0);
			snprintf(what, sizeof(what), "a SYN with %s", bad[i].what);
			expect_drop(what, t, n, "tcp-options");
		}
	}
	{
		/* NOPs, MSS 1200, a timestamp fern does not use, then the end. */
		static const uint8_t good[16] = { 1, 1, 2, 4, 0x04, 0xb0, 8, 10, 0, 0, 0, 1, 0, 0,
						  0, 0 };
		struct client c = { .port = 41001, .lport = ECHO_PORT, .wnd = 8192 };
		struct tseg s;

		mark();
		inject_tcp(t, build_tcp(t, c.port, ECHO_PORT, 100, 0, SYN, 8192, good, 16, NULL,
					0));
		s = sent(0);
		tap_ok(host_frame_count == 1 && s.flags == (SYN | ACK) && s.ack == 101 &&
		       drops_since(NULL, DS_BUFFERS),
		       "tcp: a SYN with NOPs, MSS, an unknown option and END is answered");
		c.snd = 101;
		c.rcv = s.seq + 1;
		mark();
		seg(&c, c.snd, 0, RST, NULL, 0);
		tap_ok(host_frame_count == 0 && conns_open() == 0,
		       "tcp: a RST at rcv_nxt forgets a half-open connection, answering nothing");
	}
}

/* ==== an established connection's checks (RFC 9293 §3.10.7.4, RFC 5961) ==== */

static void test_established_checks(void)
{
	struct client c;
	uint8_t ten[10] = "0123456789";
	struct tseg s;

	if (!tap_ok(open_conn(&c, 42000, ECHO_PORT, 77777, 8192, true),
		    "tcp: a second echo connection opens"))
		return;
	mark();
	seg(&c, c.snd + 9000, c.rcv, ACK, ten, 10);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-out-of-window", DS_BUFFERS),
	       "tcp: data 9000 bytes ahead (past the 8192 window) is acknowledged with the old "
	       "ack, not delivered (nothing echoed), counted as tcp-out-of-window");
	client_send(&c, ten, 10);
	c.rcv += 10;
	mark();
	seg(&c, c.snd - 10, c.rcv, ACK, ten, 10);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-out-of-window", DS_BUFFERS),
	       "tcp: data sent again (all before rcv_nxt) is acknowledged and not echoed again");
	mark();
	seg(&c, c.snd - 5, c.rcv, ACK | PSH, "56789abcde", 10);
	s = sent(0);
	tap_ok(one_seg(&c, ACK | PSH, c.rcv, c.snd + 5, 5) && !memcmp(s.data, "abcde", 5),
	       "tcp: a segment half old, half new: only the new 5 bytes are echoed");
	c.snd += 5;
	c.rcv += 5;
	mark();
	seg(&c, c.snd + 100, c.rcv, ACK, ten, 10);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-out-of-order", DS_BUFFERS),
	       "tcp: data 100 bytes ahead is acknowledged with the old ack, not delivered, "
	       "counted as tcp-out-of-order");
	mark();
	seg(&c, c.snd + 1, c.rcv, RST, NULL, 0);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-rst-ignored", DS_BUFFERS),
	       "tcp: a RST at rcv_nxt+1 gets a challenge ACK (RFC 5961 section 3.2), counted as "
	       "tcp-rst-ignored");
	mark();
	seg(&c, c.snd + 9000, c.rcv, RST, NULL, 0);
	tap_ok(host_frame_count == 0 && in_state("ESTABLISHED") == 1,
	       "tcp: a RST out of the window is dropped silently");
	mark();
	seg(&c, c.snd, c.rcv, SYN, NULL, 0);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-syn-ignored", DS_BUFFERS),
	       "tcp: a SYN on an established connection gets a challenge ACK (RFC 5961 section "
	       "4), counted as tcp-syn-ignored");
	mark();
	seg(&c, c.snd, c.rcv + 1000, ACK, NULL, 0);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-bad-ack", DS_BUFFERS),
	       "tcp: an ACK for 1000 bytes never sent is answered with an ACK, counted as "
	       "tcp-bad-ack");
	mark();
	seg(&c, c.snd, c.rcv + 1000, ACK | PSH, ten, 10);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && drops_since("tcp-bad-ack", DS_BUFFERS),
	       "tcp: ... and data with such an ACK is not delivered");
	mark();
	seg(&c, c.snd, 0, PSH, ten, 10);
	tap_ok(drops_since("tcp-no-ack", DS_QUIET | DS_BUFFERS),
	       "tcp: data without the ACK flag is dropped silently as tcp-no-ack");
	mark();
	client_send(&c, "still", 5);
	s = sent(0);
	tap_ok(one_seg(&c, ACK | PSH, c.rcv, c.snd, 5) && !memcmp(s.data, "still", 5),
	       "tcp: after all that the connection still echoes, at the numbers it had");
	c.rcv += 5;
	mark();
	seg(&c, c.snd, c.rcv, RST, NULL, 0);
	tap_ok(host_frame_count == 0 && conns_open() == 0 && drops_since(NULL, DS_BUFFERS),
	       "tcp: a RST at rcv_nxt ends the connection, answering nothing");
}

/* ==== the application's side ==== */

static void test_app(void)
{
	static uint8_t big[10000], check[8192];
	struct client c;
	struct tseg s;
	uint32_t addr = 0;
	uint16_t port = 0;
	bool ok;
	size_t took;

	app_reset();
	if (!tap_ok(open_conn(&c, 43000, APP_PORT, 3000000000U, 65535, false),
		    "tcp: a SYN to port 8080 gets a SYN-ACK"))
		return;
	tap_ok(app.accepts == 0, "tcp: accept does not run on the SYN");
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(app.accepts == 1 && app.c && host_frame_count == 0,
	       "tcp: the handshake's ACK runs the listener's accept");
	if (!app.c)
		return;
	tcp_peer(app.c, &addr, &port);
	tap_ok(addr == PEER_IP && port == 43000, "tcp: tcp_peer gives the client's address and port");
	tap_ok(tcp_ctx(app.c) == &app, "tcp: tcp_ctx gives what tcp_set_ops was given");

	mark();
	client_send(&c, "GET / HTTP/1.0\r\n", 16);
	tap_ok(app.got_len == 16 && !memcmp(app.got, "GET / HTTP/1.0\r\n", 16) &&
	       one_seg(&c, ACK, c.rcv, c.snd, 0),
	       "tcp: data reaches ops->recv and is acknowledged by a bare ACK");

	tap_ok(tcp_send_space(app.c) == 8192, "tcp: the send buffer holds 8 KiB");
	pattern(big, sizeof(big), 0);
	mark();
	took = tcp_send(app.c, big, sizeof(big));
	ok = host_frame_count == 6;
	for (unsigned int i = 0; i < host_frame_count && ok; i++) {
		size_t want = i < 5 ? 1460 : 8192 - 5 * 1460;

		s = sent(i);
		ok = is_seg(&s, &c, ACK | (i == 5 ? PSH : 0), c.rcv + i * 1460U, c.snd, want);
		if (ok) {
			pattern(check, want, i * 1460U);
			ok = !memcmp(s.data, check, want);
		}
	}
	tap_ok(took == 8192 && tcp_send_space(app.c) == 0,
	       "tcp: tcp_send of 10000 bytes takes 8192, and then there is no room (took %zu)",
	       took);
	tap_ok(ok, "tcp: they go at once as 5 segments of 1460 bytes and one of 892 with PSH, "
	       "in order (%u frames)", host_frame_count);
	mark();
	seg(&c, c.snd, c.rcv + 1460, ACK, NULL, 0);
	tap_ok(app.sent_calls == 1 && tcp_send_space(app.c) == 1460 && host_frame_count == 0,
	       "tcp: the client's ACK of 1460 bytes calls ops->sent once and makes 1460 bytes "
	       "of room (sent %u, room %zu)", app.sent_calls, tcp_send_space(app.c));
	c.rcv += 8192;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	host_advance(5000);
	tap_ok(app.sent_calls == 2 && tcp_send_space(app.c) == 8192 && host_frame_count == 0,
	       "tcp: the ACK of the rest empties the buffer, and nothing is sent again in 5 s");

	/* A zero window: fern must stop, and probe. */
	c.wnd = 0;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	took = tcp_send(app.c, big, 100);
	tap_ok(took == 100 && host_frame_count == 0,
	       "tcp: with the client's window 0, tcp_send takes 100 bytes and sends nothing");
	{
		unsigned int probes = 0;
		bool all_at_una = true;

		for (int i = 0; i < 10; i++) {
			mark();
			advance_until_sent(10, 120000);
			s = sent(0);
			if (host_frame_count != 1)
				break;
			if (!(s.seq == c.rcv && s.len >= 1 && s.len <= 100 && s.data[0] == big[0]))
				all_at_una = false;
			probes++;
			mark();
			seg(&c, c.snd, c.rcv, ACK, NULL, 0);	/* still shut */
		}
		tap_ok(probes == 10 && all_at_una,
		       "tcp: fern probes the shut window, at snd_una with the first byte queued "
		       "(%u probes)", probes);
		tap_ok(app.c && app.closed_calls == 0 && in_state("ESTABLISHED") == 1,
		       "tcp: a client that answers every probe keeps the connection however "
		       "long its window stays shut (RFC 1122 section 4.2.2.17)");
	}
	if (!app.c)
		return;
	c.wnd = 8192;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	advance_until_sent(10, 1000);
	s = sent(0);
	pattern(check, 100, 0);
	tap_ok(host_frame_count >= 1 && s.seq == c.rcv && s.len == 100 &&
	       !memcmp(s.data, check, 100),
	       "tcp: when the window opens, the 100 bytes come within a second (%u frames, "
	       "len %zu)", host_frame_count, s.len);
	c.rcv += 100;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	host_advance(120000);
	tap_ok(host_frame_count == 0 && tcp_send_space(app.c) == 8192,
	       "tcp: once acknowledged, they are not sent again");

	/* fern closes first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT. */
	mark();
	tcp_close(app.c);
	tap_ok(one_seg(&c, FIN | ACK, c.rcv, c.snd, 0) && in_state("FIN-WAIT-1") == 1,
	       "tcp: tcp_close sends a FIN|ACK at once: FIN-WAIT-1");
	tap_ok(tcp_send(app.c, "x", 1) == 0 && tcp_send_space(app.c) == 0,
	       "tcp: after tcp_close, tcp_send takes nothing");
	c.rcv++;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(host_frame_count == 0 && in_state("FIN-WAIT-2") == 1 && app.closed_calls == 0,
	       "tcp: the client's ACK of the FIN: FIN-WAIT-2, nothing sent, not closed yet");
	mark();
	client_send(&c, "bye", 3);
	tap_ok(app.got_len == 19 && !memcmp(app.got + 16, "bye", 3) &&
	       one_seg(&c, ACK, c.rcv, c.snd, 0),
	       "tcp: in FIN-WAIT-2 the client's data still arrives and is acknowledged");
	mark();
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);
	c.snd++;
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && app.closed_calls == 1 &&
	       app.closed_err == 0 && app.fins == 0 && in_state("TIME-WAIT") == 1,
	       "tcp: the client's FIN is acknowledged, ops->closed gets 0 once, TIME-WAIT");
	mark();
	host_advance(1000);
	seg(&c, c.snd - 1, c.rcv, FIN | ACK, NULL, 0);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 0) && in_state("TIME-WAIT") == 1,
	       "tcp: the client's FIN sent again in TIME-WAIT is acknowledged again");
	mark();
	host_advance(1999);
	tap_ok(in_state("TIME-WAIT") == 1, "tcp: TIME-WAIT lasts 2 s from the last FIN");
	host_advance(1);
	tap_ok(conns_open() == 0 && host_frame_count == 0 && app.closed_calls == 1,
	       "tcp: after 2 s it is freed, quietly, without another ops->closed");
}

/* The client closes, the application closes in answer: closed gets 0. */
static void test_app_passive_close(void)
{
	struct client c;

	app_reset();
	app.close_on_fin = true;
	if (!tap_ok(open_conn(&c, 43001, APP_PORT, 555, 8192, true) && app.c,
		    "tcp: another connection to port 8080"))
		return;
	mark();
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);
	c.snd++;
	tap_ok(app.fins == 1 && one_seg(&c, FIN | ACK, c.rcv, c.snd, 0),
	       "tcp: the client's FIN is ops->recv with length 0; the application's "
	       "tcp_close answers with FIN|ACK");
	c.rcv++;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(app.closed_calls == 1 && app.closed_err == 0 && conns_open() == 0 &&
	       host_frame_count == 0,
	       "tcp: the last ACK: ops->closed gets 0, and the connection is freed at once");
}

/* Both close at once: FIN-WAIT-1, CLOSING, TIME-WAIT. */
static void test_simultaneous_close(void)
{
	struct client c;

	app_reset();
	if (!tap_ok(open_conn(&c, 43002, APP_PORT, 999, 8192, true) && app.c,
		    "tcp: a connection to close from both ends"))
		return;
	mark();
	tcp_close(app.c);
	tap_ok(one_seg(&c, FIN | ACK, c.rcv, c.snd, 0), "tcp: fern's FIN goes");
	mark();
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);	/* crosses fern's FIN */
	c.snd++;
	tap_ok(one_seg(&c, ACK, c.rcv + 1, c.snd, 0) && in_state("CLOSING") == 1 &&
	       app.closed_calls == 0,
	       "tcp: the client's FIN before it acknowledges fern's: ACK, CLOSING");
	c.rcv++;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(in_state("TIME-WAIT") == 1 && app.closed_calls == 1 && app.closed_err == 0 &&
	       host_frame_count == 0,
	       "tcp: the ACK of fern's FIN: TIME-WAIT, ops->closed gets 0");
	host_advance(2000);
	tap_ok(conns_open() == 0, "tcp: and 2 s later the slot is free");

	/*
	 * The same close, but the client's ACK of fern's FIN comes on its
	 * FIN sent again (libslirp does this): the segment is old, its ACK
	 * is not, and waiting for fern's timer instead would add 200 ms or
	 * more to every such close.
	 */
	app_reset();
	if (!tap_ok(open_conn(&c, 43003, APP_PORT, 5555, 8192, true) && app.c,
		    "tcp: another connection to close from both ends"))
		return;
	tcp_close(app.c);
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);
	c.snd++;
	tap_ok(in_state("CLOSING") == 1, "tcp: both FINs crossed: CLOSING");
	mark();
	seg(&c, c.snd - 1, c.rcv + 1, FIN | ACK, NULL, 0);	/* the FIN again, with the ACK */
	tap_ok(in_state("TIME-WAIT") == 1 && app.closed_calls == 1 &&
	       one_seg(&c, ACK, c.rcv + 1, c.snd, 0),
	       "tcp: the client's FIN again, now acknowledging fern's: TIME-WAIT at once, and an ACK");
	host_advance(2000);
	tap_ok(conns_open() == 0, "tcp: and 2 s later that slot is free too");
}

/* RST, abort and a refused accept. */
static void test_resets(void)
{
	struct client c;

	app_reset();
	if (open_conn(&c, 43003, APP_PORT, 1, 8192, true) && app.c) {
		mark();
		seg(&c, c.snd, c.rcv, RST, NULL, 0);
		tap_ok(app.closed_calls == 1 && app.closed_err == -ECONNRESET &&
		       host_frame_count == 0 && conns_open() == 0,
		       "tcp: a RST at rcv_nxt: ops->closed gets -ECONNRESET, the connection is "
		       "gone, nothing sent");
	} else {
		tap_ok(false, "tcp: a connection to reset");
	}
	app_reset();
	if (open_conn(&c, 43004, APP_PORT, 2, 8192, true) && app.c) {
		tcp_send(app.c, "unsent", 6);
		mark();
		tcp_abort(app.c);
		tap_ok(one_seg(&c, RST | ACK, c.rcv + 6, c.snd, 0) && app.closed_calls == 1 &&
		       app.closed_err == -ECONNRESET && conns_open() == 0,
		       "tcp: tcp_abort sends RST|ACK at snd_nxt, ops->closed gets -ECONNRESET");
		mark();
		host_advance(10000);
		tap_ok(host_frame_count == 0, "tcp: nothing of an aborted connection is sent later");
	} else {
		tap_ok(false, "tcp: a connection to abort");
	}
	app_reset();
	app.refuse = true;
	if (open_conn(&c, 43005, APP_PORT, 3, 8192, true)) {
		tap_ok(app.accepts == 1 && one_seg(&c, RST | ACK, c.rcv, c.snd, 0) &&
		       conns_open() == 0 && app.closed_calls == 0,
		       "tcp: an accept that refuses: RST|ACK, the connection is gone");
	} else {
		tap_ok(false, "tcp: a connection to refuse");
	}
	app_reset();
}

/* ==== timers ==== */

static void test_retransmission(void)
{
	static const uint64_t gaps[] = { 1000, 2000, 4000, 8000, 16000, 32000 };
	struct client c;
	uint8_t data[100];
	bool rhythm = true, same = true;
	uint64_t retransmits;

	app_reset();
	if (!tap_ok(open_conn(&c, 43100, APP_PORT, 4242, 8192, true) && app.c,
		    "tcp: a connection whose data will be lost"))
		return;
	pattern(data, sizeof(data), 50);
	mark();
	tcp_send(app.c, data, sizeof(data));
	tap_ok(one_seg(&c, ACK | PSH, c.rcv, c.snd, 100), "tcp: 100 bytes are sent (and lost)");
	retransmits = tcp_stats.retransmits;
	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		struct tseg s;

		mark();
		host_advance(gaps[i] - 1);
		if (host_frame_count)
			rhythm = false;
		host_advance(1);
		s = sent(0);
		if (host_frame_count != 1)
			rhythm = false;
		if (!is_seg(&s, &c, ACK | PSH, c.rcv, c.snd, 100) || memcmp(s.data, data, 100))
			same = false;
		if (i == 0)
			tap_ok(rhythm && same,
			       "tcp: 1 s later the same 100 bytes come again, at the same seq");
		if (i == 1)
			tap_ok(rhythm && same,
			       "tcp: the timer backs off: the second retransmission is 2 s after "
			       "the first, not 1 s");
	}
	tap_ok(rhythm && same && tcp_stats.retransmits == retransmits + 6,
	       "tcp: six retransmissions in all, each after twice the wait of the one before");
	tap_ok(app.closed_calls == 0, "tcp: ... and the connection is still there");
	/* RFC 6298 section 2.5: the timer may be capped, at 60 s or more. */
	mark();
	host_advance(59999);
	tap_ok(host_frame_count == 0, "tcp: nothing for 60 s after the sixth");
	advance_until_sent(1, 4001);
	tap_ok(one_seg(&c, RST | ACK, c.rcv + 100, c.snd, 0) && app.closed_calls == 1 &&
	       app.closed_err == -ETIMEDOUT && tcp_stats.timeouts == stats_before.timeouts + 1 &&
	       conns_open() == 0,
	       "tcp: then, by 64 s, the connection is reset (RST|ACK), ops->closed gets "
	       "-ETIMEDOUT, counted as a timeout");
}

/*
 * An ACK that was only slow: fern sent two segments, the timer went off
 * and sent the first again, and then the ACK of both arrives. It
 * acknowledges data fern did send, so it must be taken.
 */
static void test_late_ack(void)
{
	struct client c;
	static uint8_t data[2920];

	app_reset();
	if (!tap_ok(open_conn(&c, 43101, APP_PORT, 8888, 65535, true) && app.c,
		    "tcp: a connection whose ACK will be slow"))
		return;
	pattern(data, sizeof(data), 0);
	mark();
	tcp_send(app.c, data, sizeof(data));
	tap_ok(host_frame_count == 2, "tcp: 2920 bytes go as two segments");
	mark();
	host_advance(1000);
	tap_ok(one_seg(&c, ACK, c.rcv, c.snd, 1460),
	       "tcp: 1 s later the first segment is sent again");
	c.rcv += 2920;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(drops_since(NULL, DS_QUIET | DS_BUFFERS) && tcp_send_space(app.c) == 8192,
	       "tcp: the late ACK of both segments is taken (not tcp-bad-ack): the buffer is "
	       "empty, nothing sent (room %zu)", tcp_send_space(app.c));
	mark();
	host_advance(130000);
	tap_ok(host_frame_count == 0 && app.c && app.closed_calls == 0,
	       "tcp: nothing is sent again, and the connection lives on (%u frames)",
	       host_frame_count);
	if (app.c)
		tcp_abort(app.c);
	app_reset();
}

static void test_syn_ack_retransmission(void)
{
	static const uint64_t gaps[] = { 1000, 2000, 4000 };
	struct client c;
	bool ok = true;

	if (!tap_ok(open_conn(&c, 43200, ECHO_PORT, 31337, 8192, false),
		    "tcp: a SYN whose SYN-ACK will be lost"))
		return;
	for (size_t i = 0; i < 3; i++) {
		struct tseg s;

		mark();
		host_advance(gaps[i] - 1);
		if (host_frame_count)
			ok = false;
		host_advance(1);
		s = sent(0);
		if (host_frame_count != 1 || !is_seg(&s, &c, SYN | ACK, c.iss, c.snd, 0) ||
		    s.mss != 1460)
			ok = false;
	}
	tap_ok(ok, "tcp: the SYN-ACK is sent again, the same, after 1 s, 2 s more and 4 s more");
	mark();
	host_advance(7999);
	tap_ok(host_frame_count == 0 && in_state("SYN-RECEIVED") == 1,
	       "tcp: after the third, nothing for 8 s");
	host_advance(1);
	tap_ok(host_frame_count == 0 && conns_open() == 0 &&
	       tcp_stats.timeouts == stats_before.timeouts + 1,
	       "tcp: then the half-open connection is forgotten, quietly, counted as a timeout");
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(one_seg(&c, RST, c.rcv, 0, 0) && tcp_stats.accepted == stats_before.accepted,
	       "tcp: the client's late ACK gets a RST, and nothing is accepted");

	/* A SYN sent again (its SYN-ACK lost) gets the same SYN-ACK. */
	if (open_conn(&c, 43201, ECHO_PORT, 4000, 8192, false)) {
		mark();
		seg(&c, c.snd - 1, 0, SYN, NULL, 0);
		tap_ok(one_seg(&c, SYN | ACK, c.iss, c.snd, 0) && in_state("SYN-RECEIVED") == 1,
		       "tcp: the client's SYN sent again gets the same SYN-ACK");
		mark();
		seg(&c, c.snd, c.rcv + 5, ACK, NULL, 0);
		tap_ok(one_seg(&c, RST, c.rcv + 5, 0, 0) && drops_since("tcp-bad-ack", DS_BUFFERS),
		       "tcp: in SYN-RECEIVED an ACK of the wrong number gets a RST with seq = its "
		       "ack, counted as tcp-bad-ack");
		seg(&c, c.snd, 0, RST, NULL, 0);
	}
	tap_ok(conns_open() == 0, "tcp: and a RST forgets it");
}

/* ==== sequence numbers that wrap ==== */

static void test_wrap(void)
{
	static uint8_t data[1200], check[1200];
	struct client c;
	uint32_t want, iss;
	uint64_t wait;
	bool ok = true;
	size_t got = 0;

	/*
	 * fern's ISN grows by 250 a millisecond (RFC 6528's 4 µs clock) on
	 * top of a hash of the ports: learn it, then wait until fern's ISN
	 * falls between 600 and 350 short of 2^32.
	 */
	if (!open_conn(&c, 44000, ECHO_PORT, 0xffffff00U, 8192, false))
		return;
	iss = c.iss;
	seg(&c, c.snd, 0, RST, NULL, 0);
	want = (uint32_t)(0u - 600u);
	wait = (uint64_t)(uint32_t)(want - iss) / 250 + 1;
	host_advance(wait);
	if (!tap_ok(open_conn(&c, 44000, ECHO_PORT, 0xffffff00U, 8192, true) &&
		    c.iss - want <= 250,
		    "tcp: a connection with both ISNs near 2^32 (client 0xffffff00, fern %#x)",
		    c.iss))
		return;
	pattern(data, sizeof(data), 0);
	mark();
	client_send(&c, data, sizeof(data));
	for (unsigned int i = 0; i < host_frame_count; i++) {
		struct tseg s = sent(i);

		if (s.seq != c.rcv + got || got + s.len > sizeof(check) || s.ack != c.snd) {
			ok = false;
			break;
		}
		memcpy(check + got, s.data, s.len);
		got += s.len;
	}
	tap_ok(ok && got == sizeof(data) && !memcmp(check, data, sizeof(data)) &&
	       c.snd < 0x1000 && (uint32_t)(c.rcv + got) < 0x1000,
	       "tcp: 1200 bytes across the wrap of both sequence spaces are echoed intact, "
	       "acknowledged as %#x", c.snd);
	c.rcv += (uint32_t)got;
	mark();
	seg(&c, c.snd, c.rcv, FIN | ACK, NULL, 0);
	c.snd++;
	tap_ok(one_seg(&c, FIN | ACK, c.rcv, c.snd, 0), "tcp: and it closes after the wrap");
	c.rcv++;
	mark();
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	tap_ok(conns_open() == 0, "tcp: ... all the way");
}

/*
 * A client that sends without reading: the echo's send buffer fills with
 * what the client has not acknowledged, and the window follows it down to
 * zero, so that nothing is accepted that the echo could not send back.
 * When the client acknowledges, the window opens again and says so.
 */
static void test_echo_window(void)
{
	static uint8_t chunk[1024], back[3 * 8192];
	struct client c;
	size_t got = 0, sent_bytes = 0;
	unsigned int last_wnd = 8192;
	struct tseg s;

	if (!tap_ok(open_conn(&c, 43500, ECHO_PORT, 777, 8192, true),
		    "tcp: an echo connection for a client that does not read"))
		return;
	c.wnd = 65535;	/* the client's window: the echo may send all it has */
	/* 16 KiB in 1 KiB segments, never acknowledging the echo. */
	for (unsigned int i = 0; i < 16; i++) {
		pattern(chunk, sizeof(chunk), sent_bytes);
		mark();
		seg(&c, c.snd, c.rcv, ACK | PSH, chunk, sizeof(chunk));
		for (unsigned int f = 0; f < host_frame_count; f++) {
			s = sent(f);
			if (s.tcp && (s.flags & ACK) && s.ack == c.snd + sizeof(chunk))
				last_wnd = s.wnd;
		}
		/* What fern took: the ACK of the last frame says. */
		s = sent(host_frame_count - 1);
		if (s.ack == c.snd + sizeof(chunk)) {
			c.snd += sizeof(chunk);
			sent_bytes += sizeof(chunk);
		}
		for (unsigned int f = 0; f < host_frame_count; f++) {
			s = sent(f);
			if (s.len && s.seq == c.rcv + got && got + s.len <= sizeof(back)) {
				memcpy(back + got, s.data, s.len);
				got += s.len;
			}
		}
	}
	tap_ok(sent_bytes == 8192 && last_wnd == 0,
	       "tcp: with nothing acknowledged the echo takes 8192 bytes and then offers window 0 "
	       "(took %zu, last window %u)", sent_bytes, last_wnd);
	/* Now the client reads: it acknowledges what came back. */
	mark();
	seg(&c, c.snd, c.rcv + (uint32_t)got, ACK, NULL, 0);
	c.rcv += (uint32_t)got;
	s = sent(host_frame_count ? host_frame_count - 1 : 0);
	tap_ok(host_frame_count >= 1 && s.wnd >= 1024,
	       "tcp: the client's ACK opens the window again, and fern says so (window %u)", s.wnd);
	for (unsigned int f = 0; f < host_frame_count; f++) {
		s = sent(f);
		if (s.len && s.seq == c.rcv && got + s.len <= sizeof(back)) {
			memcpy(back + got, s.data, s.len);
			got += s.len;
			c.rcv += (uint32_t)s.len;
		}
	}
	pattern(chunk, sizeof(chunk), 0);
	tap_ok(got >= 1024 && memcmp(back, chunk, 1024) == 0,
	       "tcp: and the bytes that came back are the first ones sent, in order (%zu)", got);
	seg(&c, c.snd, 0, RST, NULL, 0);
	tap_ok(conns_open() == 0, "tcp: the connection ends with a RST");
}

/*
 * RFC 7323 §2: a client that offers a window scale gets a SYN-ACK that
 * offers one too (a shift of 0: fern's window fits 16 bits), and from
 * then on its windows are scaled; the SYN's own window never is. One
 * that offers none gets none, and its windows are taken as they are.
 */
static void test_window_scale(void)
{
	static const uint8_t mss_ws7[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	static uint8_t data[1000];
	uint8_t t[64];
	struct client c = { .port = 43600, .lport = ECHO_PORT, .snd = 5000, .wnd = 2 };
	struct tseg s;
	size_t out = 0;

	mark();
	inject_tcp(t, build_tcp(t, c.port, ECHO_PORT, c.snd, 0, SYN, 65535, mss_ws7, 8, NULL, 0));
	s = sent(0);
	tap_ok(host_frame_count == 1 && s.flags == (SYN | ACK) && s.hlen == 28 && s.mss == 1460 &&
	       memcmp(s.data - 4, "\x01\x03\x03\x00", 4) == 0,
	       "tcp: a SYN with a window scale gets a SYN-ACK with MSS and a scale of 0 (header %u)",
	       s.hlen);
	c.snd++;
	c.iss = s.seq;
	c.rcv = s.seq + 1;
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);	/* window 2, scaled by 2^7: 256 bytes */
	pattern(data, sizeof(data), 0);
	mark();
	client_send(&c, data, sizeof(data));
	for (unsigned int f = 0; f < host_frame_count; f++)
		out += sent(f).len;
	tap_ok(out == 256, "tcp: then a window of 2 means 256 bytes: the echo sends 256 of 1000 "
	       "(%zu)", out);
	seg(&c, c.snd, 0, RST, NULL, 0);

	c = (struct client){ .port = 43601, .lport = ECHO_PORT, .snd = 6000, .wnd = 300 };
	mark();
	inject_tcp(t, build_tcp(t, c.port, ECHO_PORT, c.snd, 0, SYN, 65535, mss_1460, 4, NULL, 0));
	s = sent(0);
	tap_ok(s.flags == (SYN | ACK) && s.hlen == 24,
	       "tcp: a SYN without a scale gets a SYN-ACK without one (header %u)", s.hlen);
	c.snd++;
	c.rcv = s.seq + 1;
	seg(&c, c.snd, c.rcv, ACK, NULL, 0);
	mark();
	client_send(&c, data, sizeof(data));
	out = 0;
	for (unsigned int f = 0; f < host_frame_count; f++)
		out += sent(f).len;
	tap_ok(out == 300, "tcp: ... and its window of 300 is 300 bytes (%zu)", out);
	seg(&c, c.snd, 0, RST, NULL, 0);
	tap_ok(conns_open() == 0, "tcp: both connections end with a RST");
}

/*
 * Data that finds no free packet buffer waits for one instead of being
 * sent into nothing: once the card gives buffers back, the loop's next
 * round sends it, with no timer.
 */
static void test_buffer_wait(void)
{
	static struct pbuf *held[PBUF_COUNT];
	static const char msg[] = "no buffer yet";
	struct client c;
	unsigned int n = 0;
	uint64_t t0;
	struct tseg s;

	tap_ok(open_conn(&c, 45000, ECHO_PORT, 777, 8192, true), "tcp: a connection for the "
	       "buffer shortage is established");
	/* Keep one buffer for the client's segment itself. */
	while (pbuf_available() > 1 && n < PBUF_COUNT)
		held[n++] = pbuf_alloc();
	mark();
	t0 = host_now_ms;
	client_send(&c, msg, strlen(msg));
	tap_ok(host_frame_count == 0 || (host_frame_count == 1 && sent(0).len == 0),
	       "tcp: with no packet buffer free, the echo sends no data (%u frames)",
	       host_frame_count);
	tap_ok(tcp_stats.buffer_waits == stats_before.buffer_waits + 1,
	       "tcp: ... and counts one buffer wait (%lu)",
	       (unsigned long)(tcp_stats.buffer_waits - stats_before.buffer_waits));
	host_poll();
	tap_ok(host_frame_count == 0 || (host_frame_count == 1 && sent(0).len == 0),
	       "tcp: a round of the loop while none is back sends nothing either");
	while (n)
		pbuf_free(held[--n]);
	mark();
	host_poll();
	s = sent(0);
	tap_ok(one_seg(&c, ACK | PSH, c.rcv, c.snd, strlen(msg)) &&
	       !memcmp(s.data, msg, strlen(msg)) && host_now_ms == t0 &&
	       tcp_stats.retransmits == stats_before.retransmits,
	       "tcp: once buffers are back, the next round sends the echo, at once and not as a "
	       "retransmission");
	c.rcv += (uint32_t)strlen(msg);
	seg(&c, c.snd, 0, RST, NULL, 0);
	tap_ok(conns_open() == 0 && drops_since(NULL, DS_BUFFERS),
	       "tcp: the connection ends with a RST, every buffer back");
}

/* ==== the connection table ==== */

static void test_full(void)
{
	static struct client cs[TCP_CONNS];
	struct client extra, late;
	unsigned int opened = 0;
	/* More SYNs than the backlog holds: the first ones are forgotten. */
	const unsigned int flood = TCP_BACKLOG + TCP_BACKLOG / 2;
	const unsigned int forgotten = flood - TCP_BACKLOG;

	for (unsigned int i = 0; i < TCP_CONNS; i++)
		opened += open_conn(&cs[i], 50000 + i, ECHO_PORT, 1000 * i, 8192, true);
	tap_ok(opened == TCP_CONNS && conns_open() == TCP_CONNS &&
	       in_state("ESTABLISHED") == TCP_CONNS,
	       "tcp: a table's worth of connections established (%u of %u)", opened, TCP_CONNS);
	mark();
	seg(&(struct client){ .port = 50000 + TCP_CONNS, .lport = ECHO_PORT, .wnd = 8192 }, 1, 0,
	    SYN, NULL, 0);
	tap_ok(drops_since("tcp-full", DS_QUIET | DS_BUFFERS),
	       "tcp: one SYN more is dropped as tcp-full, unanswered");
	for (unsigned int i = 0; i < TCP_CONNS; i++)
		seg(&cs[i], cs[i].snd, 0, RST, NULL, 0);
	tap_ok(conns_open() == 0, "tcp: a RST at rcv_nxt ends each of them");

	/* A SYN flood: at most TCP_BACKLOG half-open connections, the oldest
	 * giving way. */
	opened = 0;
	for (unsigned int i = 0; i < flood; i++) {
		opened += open_conn(&cs[i], 51000 + i, ECHO_PORT, 7 * i, 8192, false);
		host_now_ms++;
	}
	tap_ok(opened == flood && in_state("SYN-RECEIVED") == TCP_BACKLOG &&
	       conns_open() == TCP_BACKLOG,
	       "tcp: %u SYNs each get a SYN-ACK, and %u stay half-open (%u, %u)", flood,
	       TCP_BACKLOG, opened, in_state("SYN-RECEIVED"));
	mark();
	seg(&cs[0], cs[0].snd, cs[0].rcv, ACK, NULL, 0);
	tap_ok(one_seg(&cs[0], RST, cs[0].rcv, 0, 0),
	       "tcp: the oldest was forgotten: its ACK gets a RST");
	tap_ok(open_conn(&late, 52000, ECHO_PORT, 99, 8192, true) &&
	       in_state("ESTABLISHED") == 1,
	       "tcp: a real client's handshake during the flood completes");
	seg(&late, late.snd, 0, RST, NULL, 0);
	for (unsigned int i = forgotten; i < flood; i++)
		seg(&cs[i], cs[i].snd, 0, RST, NULL, 0);
	tap_ok(conns_open() == 0, "tcp: the half-open ones end with a RST at rcv_nxt");
	tap_ok(open_conn(&extra, 50000 + TCP_CONNS, ECHO_PORT, 1, 8192, false),
	       "tcp: then a SYN gets its SYN-ACK again");
	seg(&extra, extra.snd, 0, RST, NULL, 0);
}

int main(void)
{
	host_now_ms = 1000000;	/* not 0: a clock that has run a while */
	test_setup();
	test_echo();
	test_no_socket();
	test_malformed();
	test_established_checks();
	test_app();
	test_app_passive_close();
	test_simultaneous_close();
	test_resets();
	test_retransmission();
	test_late_ack();
	test_syn_ack_retransmission();
	test_wrap();
	test_echo_window();
	test_window_scale();
	test_buffer_wait();
	test_full();
	tap_ok(conns_open() == 0, "tcp: at the end no connection is left");
	tap_ok(pbuf_available() == PBUF_COUNT, "tcp: at the end every packet buffer is back "
	       "(%u of %u)", pbuf_available(), PBUF_COUNT);
	tap_ok(host_frames_lost == 0, "test: no sent frame was lost by the fake card");
	return tap_done();
}
