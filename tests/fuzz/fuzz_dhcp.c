/*
 * Fuzz target: DHCP replies into the DHCP client (src/net/dhcp.c), from
 * its DISCOVER on: offers, acks, naks, through renewal, rebinding and
 * the lease's end, with the clock moving between them.
 *
 * An input is a sequence of records (net_fuzz.h), each the bytes of one
 * BOOTP message (RFC 2131 §2: the fixed part, the magic cookie, the
 * options). This file puts each in UDP from the server 10.0.2.2, port 67,
 * to port 68, broadcast, with right checksums, after the fixes its @ctl
 * asks for (FUZZ_TX_FAIL and FUZZ_NO_BUFFERS mean what they always do):
 *
 *   0x01  the transaction id is the one fern sent last
 *   0x02  the client hardware address is fern's MAC
 *   0x04  unicast, to 10.0.2.15 and fern's MAC, as a server may answer
 *   0x08  from port 68 instead of 67
 *   0x80  no UDP checksum (0, which IPv4 allows)
 *
 * Each input starts with no address, the client just booted; at its end
 * the client is stopped and the ARP cache emptied, and then no timer may
 * be armed and every packet buffer must be back (net_fuzz.c).
 */
#include <fern/boot.h>
#include <fern/net.h>

#include "../host/wire.h"
#include "net_fuzz.h"
#include "reset.h"

#define BOOTP_XID	4
#define BOOTP_CHADDR	28

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_net_boot("");
	return 0;
}

void fuzz_target_begin(void)
{
	struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	bi.cmdline = "dhcp_wait_ms=0";
	fuzz_dhcp_start(&bi);
}

void fuzz_target_end(void)
{
	fuzz_dhcp_stop();
	fuzz_arp_reset();
}

static size_t frame(uint8_t ctl, const uint8_t *in, size_t n, uint8_t *f)
{
	uint8_t *h = f + 14, *u = h + 20, *m = u + 8;
	bool unicast = ctl & 0x04;
	uint32_t dst = unicast ? FUZZ_OUR_IP : 0xffffffffU;
	uint16_t c;

	if (n > FUZZ_FRAME_MAX - 14 - 20 - 8)
		n = FUZZ_FRAME_MAX - 14 - 20 - 8;
	memcpy(m, in, n);
	if ((ctl & 0x01) && n >= BOOTP_XID + 4)
		wr32(m + BOOTP_XID, fuzz_dhcp_xid());
	if ((ctl & 0x02) && n >= BOOTP_CHADDR + 6)
		memcpy(m + BOOTP_CHADDR, fuzz_our_mac, 6);
	if (unicast)
		memcpy(f, fuzz_our_mac, 6);
	else
		memset(f, 0xff, 6);
	memcpy(f + 6, fuzz_peer_mac, 6);
	wr16(f + 12, 0x0800);
	h[0] = 0x45;
	h[1] = 0;
	wr16(h + 2, (unsigned int)(20 + 8 + n));
	wr16(h + 4, 0);
	wr16(h + 6, 0);
	h[8] = 64;
	h[9] = 17;
	wr16(h + 10, 0);
	wr32(h + 12, FUZZ_PEER_IP);
	wr32(h + 16, dst);
	wr16(h + 10, ref_checksum(h, 20));
	wr16(u, (ctl & 0x08) ? 68 : 67);
	wr16(u + 2, 68);
	wr16(u + 4, (unsigned int)(8 + n));
	wr16(u + 6, 0);
	if (!(ctl & 0x80)) {
		c = ref_pseudo_checksum(FUZZ_PEER_IP, dst, 17, u, 8 + n);
		wr16(u + 6, c ? c : 0xffff);
	}
	return 14 + 20 + 8 + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_net_run(data, size, frame);
	return 0;
}
