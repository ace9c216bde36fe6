/*
 * Host unit test of the site-image reader (src/app/site.c), built with
 * AddressSanitizer and UBSan by `make host-tests`. Each image is built
 * here from site.h's format and copied into a heap block of exactly its
 * length, so a read past the image is an ASan report. An image that is
 * refused must leave the site that was loaded before it in place.
 */
#include <fern/site.h>

#include <stdint.h>
#include <stdlib.h>

#include "tap.h"

struct file {
	const char *path, *type, *data;
};

static uint8_t image[4096];

static void le32(uint8_t *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The image of @n files, laid out as tools/site.py does; its length. */
static size_t build(const struct file *f, size_t n)
{
	size_t at = SITE_HEADER + n * SITE_ENTRY;

	memcpy(image, SITE_MAGIC, 8);
	le32(image + 8, SITE_VERSION);
	le32(image + 12, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = image + SITE_HEADER + i * SITE_ENTRY;
		size_t pl = strlen(f[i].path), tl = strlen(f[i].type), dl = strlen(f[i].data);

		le32(e, at);
		le32(e + 4, pl);
		le32(e + 8, at + pl);
		le32(e + 12, tl);
		le32(e + 16, at + pl + tl);
		le32(e + 20, dl);
		memcpy(image + at, f[i].path, pl);
		memcpy(image + at + pl, f[i].type, tl);
		memcpy(image + at + pl + tl, f[i].data, dl);
		at += pl + tl + dl;
	}
	return at;
}

/* site_load() on a heap copy of exactly @len bytes, kept until the next call. */
static int load(size_t len)
{
	static uint8_t *block;
	uint8_t *old = block;
	int err;

	block = malloc(len);
	memcpy(block, image, len);
	err = site_load(block, len);
	/* The site keeps pointing into the image it accepted. */
	if (err) {
		free(block);
		block = old;
	} else {
		free(old);
	}
	return err;
}

static const struct file good[] = {
	{ "/index.html", "text/html; charset=utf-8", "<p>fern</p>" },
	{ "/style.css", "text/css", "p{}" },
};

static void test_good(void)
{
	const struct site_file *f;
	const char *etag;
	size_t len;

	tap_ok(load(build(good, 2)) == 0 && site_count() == 2, "site: an image of two files loads");
	f = site_find("/style.css", 10);
	tap_ok(f && f->len == 3 && !memcmp(f->data, "p{}", 3) && f->type_len == 8 &&
	       !memcmp(f->type, "text/css", 8), "site: /style.css is found with its type and bytes");
	tap_ok(!site_find("/style.cs", 9) && !site_find("/nothing", 8),
	       "site: a path that is not in the image is not found");
	etag = f ? site_etag(f, &len) : "";
	tap_ok(f && len >= 4 && etag[0] == '"' && etag[len - 1] == '"' && !strncmp(etag, "\"3-", 3),
	       "site: the entity tag is the length and a hash, in quotes (%s)", etag);
}

/* The image of @len bytes is refused, and the two good files loaded before it stay. */
static void refused(const char *what, size_t len)
{
	static uint8_t broken[sizeof(image)];

	memcpy(broken, image, len);
	load(build(good, 2));
	memcpy(image, broken, len);
	tap_ok(load(len) != 0 && site_count() == 2 && site_find("/index.html", 11),
	       "site: %s is refused, and the site before it stays", what);
}

static void test_broken(void)
{
	struct file f[1] = { { "/a", "text/plain", "x" } };
	size_t len;

	f[0].type = "text/html\r\nSet-Cookie: a=b";
	refused("a type with CR LF in it (it would split the response head)", build(f, 1));
	f[0].type = "text/\x01plain";
	refused("a type with a control byte", build(f, 1));
	f[0].type = "";
	refused("an empty type", build(f, 1));
	f[0].type = "text/plain";
	f[0].path = "/../etc";
	refused("a path with a /. segment", build(f, 1));
	f[0].path = "/a";
	len = build(f, 1);
	refused("an image cut one byte short of its last file", len - 1);
	le32(image + 12, 0);
	refused("an image of no files", len);
	le32(image + 12, 100);
	refused("a count of entries that do not fit the image", len);
	len = build(f, 1);
	image[0] = 'X';
	refused("an image without the magic", len);
}

int main(void)
{
	test_good();
	test_broken();
	return tap_done();
}
