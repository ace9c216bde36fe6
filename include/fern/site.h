/**
 * @file site.h
 * @brief The site image (chapter 8): the files the HTTP server serves,
 *        made at build time by tools/site.py and loaded by GRUB as a
 *        Multiboot2 module, so that the kernel image stays the kernel.
 *
 * The format, every number a little-endian uint32_t:
 *
 *     "FERNSITE"  version (1)  count
 *     count entries: path_off path_len type_off type_len data_off data_len
 *     then the strings and the files' bytes
 *
 * Offsets count from the image's first byte. site_load() checks every
 * offset and length against the image's size, and every path, before it
 * trusts one: a broken image is refused with one line saying why.
 */
#ifndef FERN_SITE_H
#define FERN_SITE_H

#include <stddef.h>
#include <stdint.h>

#define SITE_MAGIC	"FERNSITE"
#define SITE_VERSION	1
#define SITE_HEADER	16	/**< magic, version, count */
#define SITE_ENTRY	24	/**< six uint32_t */

/** One file of the site. */
struct site_file {
	const char *path;	/**< "/blog/07-net.html" (not NUL-terminated) */
	size_t path_len;
	const char *type;	/**< its Content-Type */
	size_t type_len;
	const uint8_t *data;
	size_t len;
	char etag[24];		/**< "length-hash", quotes included; "" until site_etag() */
};

/**
 * Check the image of @p size bytes at @p image and make it the site.
 * 0, or -EINVAL (and a line saying what is wrong) if it is broken.
 */
int site_load(const uint8_t *image, size_t size);

/** The file at @p path (@p len bytes), or NULL. */
const struct site_file *site_find(const char *path, size_t len);

/**
 * The entity tag of @p f (RFC 9110 §8.8.3): its length and a hash of its
 * bytes, in quotes, so that a file changed by a rebuild gets a new one.
 * Worked out on first use, not at boot. Sets *@p len.
 */
const char *site_etag(const struct site_file *f, size_t *len);

/** How many files the site has (0: none loaded). */
size_t site_count(void);

#endif
