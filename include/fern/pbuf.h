/**
 * @file pbuf.h
 * @brief Packet buffers (chapter 7): fixed-size buffers in DMA memory,
 *        with room in front of the packet for headers to be prepended.
 *
 * A packet is built from the inside out: UDP writes its payload, then
 * prepends its header, IPv4 prepends its own, Ethernet its own, and the
 * virtio-net driver the device's header. If each layer had to copy the
 * packet to make room, sending would copy it four times. Instead each
 * buffer keeps PBUF_HEADROOM bytes free in front of the data, and
 * pbuf_push() just moves the start back (the idea of lwIP's pbufs and
 * Linux's sk_buff, in its simplest form: one buffer, no chains).
 *
 * The buffers are DMA memory (dma.h), so a device reads and writes them
 * where they are: the driver hands the device pbuf_phys() of a buffer it
 * sends, and posts empty buffers for the device to receive into. One pool
 * of PBUF_COUNT buffers serves both directions; when it is empty,
 * pbuf_alloc() fails and the caller drops the packet (and counts it).
 */
#ifndef FERN_PBUF_H
#define FERN_PBUF_H

#include <stddef.h>
#include <stdint.h>

#define PBUF_SIZE	2048	/**< bytes in each buffer, headroom included */
#define PBUF_HEADROOM	128	/**< bytes kept free in front of new data */
#define PBUF_COUNT	128	/**< buffers in the pool */

/** One packet buffer. The packet is the @c len bytes at @c data. */
struct pbuf {
	uint8_t *data;		/**< the packet's first byte */
	uint16_t len;		/**< the packet's length */
	uint8_t *start;		/**< the buffer's first byte */
	uint64_t phys;		/**< the physical address of @c start */
	struct pbuf *next;	/**< for whoever holds it: a queue's link */
};

/**
 * Take a buffer from the pool, empty, with PBUF_HEADROOM bytes in front
 * of its data. NULL if the pool is empty (or its memory could not be
 * allocated, which is said once).
 */
struct pbuf *pbuf_alloc(void);

/** Give @p p back to the pool (NULL is allowed). */
void pbuf_free(struct pbuf *p);

/**
 * Prepend @p n bytes to the packet: move its start back and return it.
 * NULL (the packet unchanged) if fewer than @p n bytes of headroom are
 * left.
 */
void *pbuf_push(struct pbuf *p, size_t n);

/**
 * Remove the first @p n bytes of the packet (a header that was read):
 * move its start forward, and return the new start. NULL (the packet
 * unchanged) if it is shorter than @p n.
 */
void *pbuf_pull(struct pbuf *p, size_t n);

/**
 * Append @p n bytes to the packet and return where they go. NULL (the
 * packet unchanged) if the buffer has no room for them.
 */
void *pbuf_put(struct pbuf *p, size_t n);

/** Cut the packet to its first @p len bytes (nothing if it is shorter). */
void pbuf_trim(struct pbuf *p, size_t len);

/** Bytes that can still be appended after the packet. */
size_t pbuf_tailroom(const struct pbuf *p);

/** The physical address of the packet's first byte, for a device. */
uint64_t pbuf_phys(const struct pbuf *p);

/** Buffers free in the pool now (for `netstat`). */
unsigned int pbuf_available(void);
/** The fewest buffers the pool has had. */
unsigned int pbuf_low_water(void);

#endif
