/*
 * The Internet checksum, RFC 1071 §4.1's loop in C: add 16-bit words
 * into a 32-bit accumulator, and fold the carries back in at the end.
 * A 32-bit sum of 16-bit words cannot overflow before 2^16 words
 * (128 KiB), far more than a frame; checksum_add() folds as it goes all
 * the same, so partial sums can be chained without limit.
 */
#include <fern/checksum.h>

uint32_t checksum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len >= 2) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t checksum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t checksum(const void *data, size_t len)
{
	return checksum_finish(checksum_add(0, data, len));
}
