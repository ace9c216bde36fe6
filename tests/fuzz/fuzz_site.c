/*
 * Fuzz target: the site-image reader (src/app/site.c) on the input as the
 * image GRUB would load, exactly the input's bytes.
 *
 * An image site_load() accepts is then used as the server uses it: every
 * file is looked up by its path and gets its entity tag, which hashes all
 * of its bytes (each must lie inside the image). What the server copies
 * into a response head must be safe there: the Content-Type, so it must
 * be a field value (RFC 9110 §5.5: no CR, LF or other control byte), and
 * the path, which good_path() already limits to visible ASCII.
 *
 * Every input ends by loading a small image of this file's own, so that
 * the site never points into an input libFuzzer has freed.
 */
#include <fern/site.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One file, "/a", of type "t", holding "x". */
static const uint8_t fallback[] = {
	'F', 'E', 'R', 'N', 'S', 'I', 'T', 'E', 1, 0, 0, 0, 1, 0, 0, 0,
	40, 0, 0, 0, 2, 0, 0, 0, 42, 0, 0, 0, 1, 0, 0, 0, 43, 0, 0, 0, 1, 0, 0, 0,
	'/', 'a', 't', 'x',
};

static void broken(const char *what, size_t i)
{
	fprintf(stderr, "fuzz: site file %zu: %s\n", i, what);
	abort();
}

static bool field_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (site_load(fallback, sizeof(fallback)) != 0 || site_count() != 1) {
		fprintf(stderr, "fuzz: the target's own image was refused\n");
		abort();
	}
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The image was accepted: use each of its files as the server would. */
static void use(const uint8_t *image)
{
	size_t n = site_count();

	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = image + SITE_HEADER + i * SITE_ENTRY;
		const char *path = (const char *)image + le32(e);
		const struct site_file *f = site_find(path, le32(e + 4));
		const char *etag;
		size_t len;

		if (!f || f->path_len != le32(e + 4) || memcmp(f->path, path, f->path_len))
			broken("its path does not find it", i);
		if (!field_value(f->type, f->type_len))
			broken("its type is not a field value (a CR, LF or control byte)", i);
		etag = site_etag(f, &len);
		if (len < 2 || len >= sizeof(f->etag) || etag[0] != '"' || etag[len - 1] != '"')
			broken("its entity tag is not a quoted string", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	host_printed_reset();
	if (site_load(data, size) == 0)
		use(data);
	site_load(fallback, sizeof(fallback));
	return 0;
}
