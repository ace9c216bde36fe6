/*
 * What the network fuzz targets (fuzz_frame.c, fuzz_dhcp.c) share: the
 * stack booted once over the fake card and clock of tests/host/net_host.h,
 * and an input read as a sequence of records, each one frame:
 *
 *   ctl (1 byte)  delay (1 byte)  length (2 bytes, big-endian)  bytes
 *
 * Before each frame the clock moves by @delay (0-199: ten milliseconds
 * each; 200-255: five seconds each, up to 280 s), firing the timers that
 * fall due on the way: retransmissions, TIME-WAIT, ARP expiry, a lease.
 * A record cut short by the end of the input takes what is there. The
 * target turns the record's bytes into a frame (struct fuzz_net_target's
 * frame()), which may ask for the fixes of @ctl below: a fuzzer that had
 * to guess a checksum or fern's initial sequence number would never get
 * past them, and so never reach what is behind.
 */
#ifndef FERN_NET_FUZZ_H
#define FERN_NET_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_FIX_LENGTHS	0x01	/* IPv4 total length (and UDP's) = the frame's */
#define FUZZ_FIX_IP_SUM		0x02	/* the IPv4 header checksum */
#define FUZZ_FIX_L4_SUM		0x04	/* the ICMP, UDP or TCP checksum */
#define FUZZ_TCP_SEQ_REL	0x08	/* TCP seq is added to what fern last acknowledged */
#define FUZZ_TCP_ACK_REL	0x10	/* TCP ack is added to fern's next sequence number */
#define FUZZ_TX_FAIL		0x20	/* the card refuses every frame meanwhile */
#define FUZZ_NO_BUFFERS		0x40	/* every packet buffer but this frame's is taken */

#define FUZZ_FRAME_MAX		1514	/* what virtio_net.c takes from the device */
#define FUZZ_START_MS		1000000	/* the clock at each input's start */

/* The addresses of QEMU's user network, as the host tests use them. */
#define FUZZ_OUR_IP		0x0a00020fU	/* 10.0.2.15 */
#define FUZZ_PEER_IP		0x0a000202U	/* 10.0.2.2 */
extern const uint8_t fuzz_our_mac[6], fuzz_peer_mac[6];

/**
 * Turn the @n bytes of a record into the frame at @f (FUZZ_FRAME_MAX
 * bytes of room); its length, or 0 to send nothing.
 */
typedef size_t (*fuzz_frame_fn)(uint8_t ctl, const uint8_t *in, size_t n, uint8_t *f);

/** Boot the stack with @p cmdline, once: the card, the interface, init calls. */
void fuzz_net_boot(const char *cmdline);
/** Play @p data as records through @p frame, then check nothing leaked. */
void fuzz_net_run(const uint8_t *data, size_t size, fuzz_frame_fn frame);

/** Apply the fixes of @p ctl to the @p len-byte frame at @p f. */
void fuzz_fix_frame(uint8_t ctl, uint8_t *f, size_t len);
/** The transaction id of the last DHCP message fern sent. */
uint32_t fuzz_dhcp_xid(void);

/* Each target's own part of an input's start and end (fuzz_frame.c ...). */
void fuzz_target_begin(void);
void fuzz_target_end(void);

#endif
