/*
 * The network host tests' own view of the wire (tests/host/test_net.c,
 * test_tcp.c): big-endian fields and the Internet checksum, written here
 * the slow and obvious way rather than taken from the stack, so that a
 * frame the stack gets wrong cannot agree with the test by construction.
 */
#ifndef FERN_TEST_WIRE_H
#define FERN_TEST_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void wr16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline unsigned int rd16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 1071 the slow way: even bytes are high halves, odd bytes low. */
static inline uint16_t ref_checksum(const uint8_t *b, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += i % 2 == 0 ? (uint64_t)b[i] << 8 : b[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * The checksum of @n bytes at @d (a UDP datagram or TCP segment) with
 * the pseudo-header of @src, @dst and protocol @proto in front (RFC 768,
 * RFC 9293 §3.1).
 */
static inline uint16_t ref_pseudo_checksum(uint32_t src, uint32_t dst, uint8_t proto,
					   const uint8_t *d, size_t n)
{
	static uint8_t buf[12 + 2048];

	if (n > sizeof(buf) - 12)
		return 0xffff;		/* longer than any frame: never right */
	wr32(buf, src);
	wr32(buf + 4, dst);
	buf[8] = 0;
	buf[9] = proto;
	wr16(buf + 10, (unsigned int)n);
	memcpy(buf + 12, d, n);
	return ref_checksum(buf, 12 + n);
}

/* An ARP packet (RFC 826) in a frame to @eth_dst from @sha. */
static inline size_t arp_frame(uint8_t *f, const uint8_t *eth_dst, unsigned int op,
				       const uint8_t *sha, uint32_t spa, const uint8_t *tha,
				       uint32_t tpa)
{
	uint8_t *a = f + 14;

	memcpy(f, eth_dst, 6);
	memcpy(f + 6, sha, 6);
	wr16(f + 12, 0x0806);
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, sha, 6);
	wr32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	wr32(a + 24, tpa);
	return 14 + 28;
}

#endif
