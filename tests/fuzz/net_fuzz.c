/*
 * The shared part of the network fuzz targets (net_fuzz.h): booting the
 * stack, reading an input as records, the fixes a record may ask for,
 * and the checks after each input.
 *
 * To fix TCP numbers the harness watches what fern sends, as a client
 * would: for each connection (fern's port and the peer's) the highest
 * sequence number fern has used and the last acknowledgment it sent.
 * A record with FUZZ_TCP_SEQ_REL then carries an offset from the
 * latter, so 0 is "exactly what fern expects" and small numbers are the
 * edges of its window; likewise FUZZ_TCP_ACK_REL for the former.
 * Every frame fern sends is also checked (check_sent()).
 */
#include <fern/boot.h>
#include <fern/net.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>

#include <stdio.h>
#include <stdlib.h>

#include "../host/wire.h"
#include "net_fuzz.h"

extern int (*const host_initcall_net_start)(const struct boot_info *);

const uint8_t fuzz_our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t fuzz_peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

#define TRACKED		64
#define SEQ_LT(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)

/* One connection as seen from the wire: fern's port and the peer's. */
static struct tracked {
	uint16_t lport, rport;
	uint32_t nxt;		/* past the highest number fern has sent */
	uint32_t ack;		/* the last acknowledgment fern sent */
	int used;
} tracked[TRACKED];
static unsigned int seen;	/* host_frames read so far */
static uint32_t dhcp_xid;
static int trace = -1;		/* FUZZ_TRACE=1: say what goes each way */

/* One line for a frame, for FUZZ_TRACE: its TCP fields, if it has them. */
static void say(const char *dir, const uint8_t *b, size_t len)
{
	const uint8_t *h = b + 14, *t;

	if (len < 34 || rd16(b + 12) != 0x0800) {
		fprintf(stderr, "%s %zu bytes, type %#x at %lu ms\n", dir, len,
			len >= 14 ? rd16(b + 12) : 0, (unsigned long)host_now_ms);
		return;
	}
	t = h + (h[0] & 15) * 4;
	if (h[9] != 6 || (size_t)(t - b) + 20 > len) {
		fprintf(stderr, "%s %zu bytes, IPv4 protocol %u at %lu ms\n", dir, len, h[9],
			(unsigned long)host_now_ms);
		return;
	}
	fprintf(stderr, "%s TCP %u>%u flags %#x seq %u ack %u wnd %u, %zu bytes at %lu ms\n",
		dir, rd16(t), rd16(t + 2), t[13], rd32(t + 4), rd32(t + 8), rd16(t + 14), len,
		(unsigned long)host_now_ms);
}

void fuzz_net_boot(const char *cmdline)
{
	struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	bi.cmdline = cmdline;
	netdev_register(&host_dev);
	host_now_ms = FUZZ_START_MS;
	host_initcall_net_start(&bi);
	/* The peer, once learned, stays for longer than any input lasts. */
	arp_set_timeout(1000000);
}

static struct tracked *track(uint16_t lport, uint16_t rport, int make)
{
	struct tracked *free_one = NULL;

	for (unsigned int i = 0; i < TRACKED; i++) {
		struct tracked *t = &tracked[i];

		if (t->used && t->lport == lport && t->rport == rport)
			return t;
		if (!t->used && !free_one)
			free_one = t;
	}
	if (!make)
		return NULL;
	if (!free_one)
		free_one = &tracked[lport % TRACKED];
	memset(free_one, 0, sizeof(*free_one));
	free_one->used = 1;
	free_one->lport = lport;
	free_one->rport = rport;
	return free_one;
}

/*
 * Whatever an input does, what fern sends must be well formed: an IPv4
 * header of 20 bytes whose total length is the frame's and whose
 * checksum is right, and a right ICMP, UDP or TCP checksum.
 */
static void check_sent(const uint8_t *b, size_t len)
{
	const uint8_t *h = b + 14, *l4 = h + 20;
	const char *wrong = NULL;
	size_t n;

	if (len > FUZZ_FRAME_MAX)
		wrong = "longer than an Ethernet frame";
	else if (len < 14 || rd16(b + 12) != 0x0800)
		return;
	else if (len < 34 || h[0] != 0x45 || rd16(h + 2) != len - 14)
		wrong = "an IPv4 header that is not 20 bytes, or a total length not the frame's";
	else if (ref_checksum(h, 20) != 0)
		wrong = "a wrong IPv4 header checksum";
	else if ((n = len - 34), h[9] == 1 && ref_checksum(l4, n) != 0)
		wrong = "a wrong ICMP checksum";
	else if ((h[9] == 6 || h[9] == 17) &&
		 ref_pseudo_checksum(rd32(h + 12), rd32(h + 16), h[9], l4, n) != 0)
		wrong = "a wrong TCP or UDP checksum";
	if (wrong) {
		fprintf(stderr, "fuzz: fern sent a frame of %zu bytes with %s\n", len, wrong);
		abort();
	}
}

/* Read what fern sent since last time: TCP numbers, DHCP's xid. */
static void watch(void)
{
	for (; seen < host_frame_count; seen++) {
		const uint8_t *b = host_frames[seen].data, *h = b + 14, *l4;
		size_t len = host_frames[seen].len, ihl;

		if (trace)
			say("fern:", b, len);
		check_sent(b, len);
		if (len < 34 || rd16(b + 12) != 0x0800)
			continue;
		ihl = (size_t)(h[0] & 15) * 4;
		l4 = h + ihl;
		if (h[9] == 6 && len >= 14 + ihl + 20) {
			size_t off = (size_t)(l4[12] >> 4) * 4, n = rd16(h + 2) - ihl - off;
			uint8_t flags = l4[13];
			uint32_t end = rd32(l4 + 4) + (uint32_t)n + !!(flags & 0x02) + !!(flags & 0x01);
			struct tracked *t;

			/* A SYN-ACK starts a new connection on these ports. */
			if ((flags & 0x12) == 0x12 && (t = track(rd16(l4), rd16(l4 + 2), 0)))
				t->used = 0;
			t = track(rd16(l4), rd16(l4 + 2), 1);
			if (!t->nxt || SEQ_LT(t->nxt, end))
				t->nxt = end;
			if (flags & 0x10)
				t->ack = rd32(l4 + 8);
		} else if (h[9] == 17 && len >= 14 + ihl + 8 + 8 && rd16(l4 + 2) == 67) {
			dhcp_xid = rd32(l4 + 8 + 4);
		}
	}
	/* Keep room in the fake card's record of frames. */
	if (host_frame_count > HOST_FRAMES_MAX / 2) {
		host_frames_reset();
		seen = 0;
	}
}

uint32_t fuzz_dhcp_xid(void)
{
	return dhcp_xid;
}

void fuzz_fix_frame(uint8_t ctl, uint8_t *f, size_t len)
{
	uint8_t *h = f + 14, *l4;
	size_t ihl, total;

	if (len < 14 + 20 || rd16(f + 12) != 0x0800)
		return;
	ihl = (size_t)(h[0] & 15) * 4;
	if (ihl < 20 || 14 + ihl > len)
		return;
	if (ctl & FUZZ_FIX_LENGTHS)
		wr16(h + 2, (unsigned int)(len - 14));
	total = rd16(h + 2);
	if (total < ihl || 14 + total > len)
		total = len - 14;	/* a lying length: fix the sums over what is there */
	l4 = h + ihl;
	if (h[9] == 17 && total >= ihl + 8 && (ctl & FUZZ_FIX_LENGTHS))
		wr16(l4 + 4, (unsigned int)(total - ihl));
	if (h[9] == 6 && total >= ihl + 20 && (ctl & (FUZZ_TCP_SEQ_REL | FUZZ_TCP_ACK_REL))) {
		struct tracked *t = track(rd16(l4 + 2), rd16(l4), 0);

		if (t && (ctl & FUZZ_TCP_SEQ_REL))
			wr32(l4 + 4, rd32(l4 + 4) + t->ack);
		if (t && (ctl & FUZZ_TCP_ACK_REL))
			wr32(l4 + 8, rd32(l4 + 8) + t->nxt);
	}
	if (ctl & FUZZ_FIX_IP_SUM) {
		wr16(h + 10, 0);
		wr16(h + 10, ref_checksum(h, ihl));
	}
	if (!(ctl & FUZZ_FIX_L4_SUM))
		return;
	if (h[9] == 1 && total >= ihl + 4) {
		wr16(l4 + 2, 0);
		wr16(l4 + 2, ref_checksum(l4, total - ihl));
	} else if (h[9] == 17 && total >= ihl + 8) {
		uint16_t c;

		wr16(l4 + 6, 0);
		c = ref_pseudo_checksum(rd32(h + 12), rd32(h + 16), 17, l4, total - ihl);
		wr16(l4 + 6, c ? c : 0xffff);
	} else if (h[9] == 6 && total >= ihl + 20) {
		wr16(l4 + 16, 0);
		wr16(l4 + 16, ref_pseudo_checksum(rd32(h + 12), rd32(h + 16), 6, l4, total - ihl));
	}
}

/* Move the clock as a record's delay byte says. */
static void advance(uint8_t delay)
{
	host_advance(delay < 200 ? delay * 10ULL : (delay - 199ULL) * 5000);
}

/* Inject @f with every packet buffer but the one it takes already taken. */
static void inject_starved(const uint8_t *f, size_t len)
{
	static struct pbuf *held[PBUF_COUNT];
	unsigned int n = 0;

	while (pbuf_available() > 1 && n < PBUF_COUNT)
		held[n++] = pbuf_alloc();
	host_inject(f, len);
	while (n)
		pbuf_free(held[--n]);
}

/* The checks after each input: nothing the input made may outlive it. */
static void check_clean(void)
{
	const char *name = "?";
	unsigned int timers = host_timers_armed(&name);

	if (timers) {
		fprintf(stderr, "fuzz: %u timers still armed after the reset (one is \"%s\")\n",
			timers, name);
		abort();
	}
	if (pbuf_available() != PBUF_COUNT) {
		fprintf(stderr, "fuzz: %u of %u packet buffers are back after the reset\n",
			pbuf_available(), PBUF_COUNT);
		abort();
	}
}

void fuzz_net_run(const uint8_t *data, size_t size, fuzz_frame_fn frame)
{
	static uint8_t in[FUZZ_FRAME_MAX], f[FUZZ_FRAME_MAX];
	size_t at = 0;

	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;
	host_now_ms = FUZZ_START_MS;
	host_printed_reset();
	host_frames_reset();
	seen = 0;
	dhcp_xid = 0;
	memset(tracked, 0, sizeof(tracked));
	fuzz_target_begin();
	watch();
	while (at + 4 <= size) {
		uint8_t ctl = data[at], delay = data[at + 1];
		size_t n = rd16(data + at + 2), len;

		at += 4;
		if (n > size - at)
			n = size - at;
		if (n > FUZZ_FRAME_MAX)
			n = FUZZ_FRAME_MAX;
		memcpy(in, data + at, n);
		at += n;
		advance(delay);
		watch();
		len = frame(ctl, in, n, f);
		if (!len)
			continue;
		if (trace)
			say("peer:", f, len);
		host_tx_fail = (ctl & FUZZ_TX_FAIL) != 0;
		if (ctl & FUZZ_NO_BUFFERS)
			inject_starved(f, len);
		else
			host_inject(f, len);
		host_tx_fail = false;
		watch();
	}
	fuzz_target_end();
	check_clean();
}
