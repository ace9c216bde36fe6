/*
 * Fuzz target: whole Ethernet frames into the network stack, as the card
 * would hand them up, with TCP and the HTTP server behind it.
 *
 * The stack is chapter 8's: Ethernet, ARP, IPv4, ICMP, UDP (the echo on
 * port 7), TCP with its echo on port 7, the HTTP server of src/app/main.c
 * on port 80 over a small site, and on port 9 an application of this
 * file's that aborts, closes or sends on the first byte of what it gets
 * ('A', 'C', 'S'), so that those calls come from inside TCP's callbacks.
 * The interface has the static address 10.0.2.15 and knows the peer
 * 10.0.2.2 from its ARP request, sent at the start of every input.
 *
 * An input is a sequence of frames (net_fuzz.h): with the clock moving
 * between them, one input can open a connection, send a request, let a
 * retransmission fire and close. After each input every connection is
 * aborted and the ARP cache emptied, and then no timer may be armed and
 * every packet buffer must be back (net_fuzz.c).
 */
#include <fern/boot.h>
#include <fern/net.h>
#include <fern/site.h>
#include <fern/tcp.h>

#include <stdio.h>
#include <stdlib.h>

#include "../host/wire.h"
#include "net_fuzz.h"
#include "reset.h"

extern int (*const host_initcall_tcp_echo_start)(const struct boot_info *);
extern int (*const host_initcall_app_start)(const struct boot_info *);

/* ---- the site: three files, one larger than TCP's send buffer ---- */

static uint8_t site[32 * 1024];

static void add_file(size_t i, size_t *at, const char *path, const char *type, size_t len)
{
	uint8_t *e = site + SITE_HEADER + i * SITE_ENTRY;
	size_t pl = strlen(path), tl = strlen(type);
	uint32_t v[6] = { (uint32_t)*at, (uint32_t)pl, (uint32_t)(*at + pl), (uint32_t)tl,
			  (uint32_t)(*at + pl + tl), (uint32_t)len };

	for (int k = 0; k < 6; k++)
		for (int b = 0; b < 4; b++)
			e[k * 4 + b] = (uint8_t)(v[k] >> (8 * b));
	memcpy(site + *at, path, pl);
	memcpy(site + *at + pl, type, tl);
	for (size_t k = 0; k < len; k++)
		site[*at + pl + tl + k] = (uint8_t)('a' + k % 26);
	*at += pl + tl + len;
}

static void make_site(void)
{
	size_t at = SITE_HEADER + 3 * SITE_ENTRY;

	memcpy(site, SITE_MAGIC, 8);
	site[8] = SITE_VERSION;
	site[12] = 3;
	add_file(0, &at, "/index.html", "text/html", 300);
	add_file(1, &at, "/big.html", "text/html", 20000);
	add_file(2, &at, "/a.css", "text/css", 10);
	if (site_load(site, at) != 0) {
		fprintf(stderr, "fuzz: the target's own site image was refused\n");
		abort();
	}
}

/* ---- port 9: an application that acts on what it is sent ---- */

static uint8_t pattern[12000];

static void chaos_recv(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	if (!len || data[0] == 'C')
		tcp_close(c);
	else if (data[0] == 'A')
		tcp_abort(c);
	else if (data[0] == 'S')
		tcp_send(c, pattern, sizeof(pattern));
}

static void chaos_sent(struct tcp_conn *c)
{
	tcp_send(c, pattern, sizeof(pattern) / 3);
}

static void chaos_closed(struct tcp_conn *c, int err)
{
	(void)c;
	(void)err;
}

static const struct tcp_ops chaos_ops = {
	.recv = chaos_recv,
	.sent = chaos_sent,
	.closed = chaos_closed,
};

static int chaos_accept(struct tcp_listener *l, struct tcp_conn *c)
{
	(void)l;
	tcp_set_ops(c, &chaos_ops, NULL);
	return 0;
}

static struct tcp_listener chaos;

/* ---- the target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct boot_info bi;

	(void)argc;
	(void)argv;
	memset(&bi, 0, sizeof(bi));
	fuzz_net_boot("ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3");
	make_site();
	memset(pattern, 'x', sizeof(pattern));
	if (host_initcall_tcp_echo_start(&bi) || host_initcall_app_start(&bi) ||
	    tcp_listen(&chaos, 9, chaos_accept, NULL)) {
		fprintf(stderr, "fuzz: a listener could not be set up\n");
		abort();
	}
	return 0;
}

/* The peer's ARP request for us: the stack learns where 10.0.2.2 is. */
void fuzz_target_begin(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6];
	uint8_t f[42];

	arp_announce();
	host_inject(f, arp_frame(f, bcast, 1, fuzz_peer_mac, FUZZ_PEER_IP, zero, FUZZ_OUR_IP));
}

void fuzz_target_end(void)
{
	fuzz_tcp_reset();
	fuzz_arp_reset();
}

static size_t frame(uint8_t ctl, const uint8_t *in, size_t n, uint8_t *f)
{
	memcpy(f, in, n);
	fuzz_fix_frame(ctl, f, n);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_net_run(data, size, frame);
	return 0;
}
