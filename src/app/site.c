/*
 * The site image: the rendered posts and labs, from the Multiboot2 module
 * GRUB loaded (site.h has the format). Nothing of it is trusted before it
 * is checked: the image is input like a packet, only from further away.
 */
#include <fern/boot.h>
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/format.h>
#include <fern/heap.h>
#include <fern/init.h>
#include <fern/layout.h>
#include <fern/site.h>
#include <fern/string.h>
#include <stdbool.h>

#define SITE_MAX_FILES	1024

static struct site_file *files;
static size_t nfiles;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether [off, off + len) lies inside an image of @size bytes. */
static bool inside(uint32_t off, uint32_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* A path the server may answer with: "/" then bytes that need no escaping. */
static bool good_path(const uint8_t *p, size_t len)
{
	if (len < 2 || len > 255 || p[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '?' || p[i] == '#' || p[i] == '%')
			return false;
		if (p[i] == '.' && i > 0 && p[i - 1] == '/')
			return false;	/* no "/." segment: no "..", no hidden files */
	}
	return true;
}

/*
 * A type the server may copy into its Content-Type line: a field value
 * (RFC 9110 §5.5), visible ASCII and spaces. A CR or LF in it would end
 * the line and start a header field of the image's choosing (response
 * splitting); the path has good_path(), and the type needs as much.
 */
static bool good_type(const uint8_t *p, size_t len)
{
	if (len == 0 || len > 100)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((p[i] < ' ' && p[i] != '\t') || p[i] >= 0x7f)
			return false;
	}
	return true;
}

int site_load(const uint8_t *image, size_t size)
{
	uint32_t count;
	struct site_file *f;

	if (size < SITE_HEADER || memcmp(image, SITE_MAGIC, 8) != 0) {
		kprintf("site: error: the module is not a site image (no %s)\n", SITE_MAGIC);
		return -EINVAL;
	}
	if (le32(image + 8) != SITE_VERSION) {
		kprintf("site: error: version %u, fern reads %u\n", le32(image + 8), SITE_VERSION);
		return -EINVAL;
	}
	count = le32(image + 12);
	if (count == 0 || count > SITE_MAX_FILES ||
	    !inside(SITE_HEADER, count * SITE_ENTRY, size)) {
		kprintf("site: error: %u files do not fit a %zu-byte image\n", count, size);
		return -EINVAL;
	}
	f = kcalloc(count, sizeof(*f));
	if (!f) {
		kprintf("site: error: no memory for %u files\n", count);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = image + SITE_HEADER + (size_t)i * SITE_ENTRY;
		uint32_t po = le32(e), pl = le32(e + 4), to = le32(e + 8), tl = le32(e + 12);
		uint32_t d_off = le32(e + 16), dl = le32(e + 20);

		if (!inside(po, pl, size) || !inside(to, tl, size) || !inside(d_off, dl, size) ||
		    !good_path(image + po, pl) || !good_type(image + to, tl)) {
			kprintf("site: error: file %u of %u: an offset, a length, the path or the type is wrong\n",
				i + 1, count);
			kfree(f);
			return -EINVAL;
		}
		f[i].path = (const char *)image + po;
		f[i].path_len = pl;
		f[i].type = (const char *)image + to;
		f[i].type_len = tl;
		f[i].data = image + d_off;
		f[i].len = dl;
	}
	kfree(files);
	files = f;
	nfiles = count;
	return 0;
}

const struct site_file *site_find(const char *path, size_t len)
{
	for (size_t i = 0; i < nfiles; i++) {
		if (files[i].path_len == len && memcmp(files[i].path, path, len) == 0)
			return &files[i];
	}
	return NULL;
}

const char *site_etag(const struct site_file *f, size_t *len)
{
	struct site_file *mine = &files[f - files];

	if (!mine->etag[0]) {
		/* FNV-1a, 32 bits: not for secrets, only to tell versions apart. */
		uint32_t h = 2166136261U;

		for (size_t i = 0; i < f->len; i++)
			h = (h ^ f->data[i]) * 16777619U;
		ksnprintf(mine->etag, sizeof(mine->etag), "\"%zx-%08x\"", f->len, h);
	}
	*len = strlen(mine->etag);
	return mine->etag;
}

size_t site_count(void)
{
	return nfiles;
}

/*
 * At the app level: the first boot module is the site. Its memory was
 * reserved by the frame allocator (chapter 4) and is reached through the
 * direct map.
 */
static int site_start(const struct boot_info *info)
{
	size_t bytes = 0;

	if (info->module_count == 0) {
		kprintf("site: no site image (no boot module)\n");
		return 0;
	}
	if (site_load((const uint8_t *)(DIRECT_MAP_BASE + info->modules[0].start),
		      info->modules[0].end - info->modules[0].start) != 0)
		return 0;
	for (size_t i = 0; i < nfiles; i++)
		bytes += files[i].len;
	kprintf("site: %zu files, %zu KiB\n", nfiles, (bytes + 1023) / 1024);
	return 0;
}
INITCALL(INIT_APP, site_start);
