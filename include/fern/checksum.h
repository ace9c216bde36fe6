/**
 * @file checksum.h
 * @brief The Internet checksum (RFC 1071), used by IPv4, ICMP and UDP.
 *
 * The sum is the ones' complement sum of the data as big-endian 16-bit
 * words (an odd last byte is padded with zero), and the checksum is its
 * complement. A header that carries its checksum sums to 0xffff, so
 * checksum_finish() of it is 0: that is how a receiver checks it.
 * Partial sums add up in any order, which is how the UDP pseudo-header
 * is folded in without copying it next to the datagram.
 */
#ifndef FERN_CHECKSUM_H
#define FERN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/** Add the @p len bytes at @p data to the running sum @p sum (start with 0). */
uint32_t checksum_add(uint32_t sum, const void *data, size_t len);

/** Fold @p sum to 16 bits and complement it: the checksum to send. */
uint16_t checksum_finish(uint32_t sum);

/** The checksum of the @p len bytes at @p data, in host byte order. */
uint16_t checksum(const void *data, size_t len);

#endif
