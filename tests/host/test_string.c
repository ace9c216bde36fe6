/*
 * Host unit test of fern's memory and string functions (src/lib/string.c)
 * against the host C library's.
 *
 * Both define memcpy, strlen and the rest, so the Makefile compiles
 * string.c with each name renamed (-Dmemcpy=fern_memcpy ...) and with
 * -fno-builtin, so the compiler cannot swap in its own versions. Every
 * function is run over every offset and length of small buffers, and the
 * result compared with libc's.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"

void *fern_memcpy(void *restrict dst, const void *restrict src, size_t n);
void *fern_memmove(void *dst, const void *src, size_t n);
void *fern_memset(void *dst, int c, size_t n);
int fern_memcmp(const void *a, const void *b, size_t n);
size_t fern_strlen(const char *s);
size_t fern_strnlen(const char *s, size_t max);
int fern_strcmp(const char *a, const char *b);
int fern_strncmp(const char *a, const char *b, size_t n);
char *fern_strchr(const char *s, int c);

#define BUF 32

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void fill(unsigned char *buf, unsigned seed)
{
	for (int i = 0; i < BUF; i++)
		buf[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 2));
}

static void test_memcpy_memset(void)
{
	unsigned char a[BUF], b[BUF], src[BUF];
	bool ok_cpy = true, ok_set = true;

	fill(src, 1);
	for (int off = 0; off < 8; off++) {
		for (int n = 0; off + n <= BUF; n++) {
			fill(a, 2);
			fill(b, 2);
			ok_cpy &= fern_memcpy(a + off, src, (size_t)n) == a + off;
			memcpy(b + off, src, (size_t)n);
			ok_cpy &= memcmp(a, b, BUF) == 0;

			fill(a, 3);
			fill(b, 3);
			ok_set &= fern_memset(a + off, 0x1ab, (size_t)n) == a + off;
			memset(b + off, 0x1ab, (size_t)n);
			ok_set &= memcmp(a, b, BUF) == 0;
		}
	}
	tap_ok(ok_cpy, "memcpy copies n bytes at every offset and length, no more");
	tap_ok(ok_set, "memset fills n bytes with the low byte of c, no more");
}

static void test_memmove(void)
{
	bool ok = true;

	/* Every source and destination offset: overlapping both ways. */
	for (int from = 0; from < BUF; from++) {
		for (int to = 0; to < BUF; to++) {
			int max = BUF - (from > to ? from : to);

			for (int n = 0; n <= max; n++) {
				unsigned char a[BUF], b[BUF];

				fill(a, 4);
				fill(b, 4);
				ok &= fern_memmove(a + to, a + from, (size_t)n) == a + to;
				memmove(b + to, b + from, (size_t)n);
				if (memcmp(a, b, BUF) != 0) {
					if (ok)
						printf("# memmove(buf + %d, buf + %d, %d) differs\n",
						       to, from, n);
					ok = false;
				}
			}
		}
	}
	tap_ok(ok, "memmove matches libc for every overlap, both directions");
}

static void test_compare(void)
{
	static const char *const s[] = {
		"", "a", "b", "ab", "abc", "abd", "abcd", "\x80", "\x7f", "A",
	};
	size_t count = sizeof(s) / sizeof(s[0]);
	bool ok_cmp = true, ok_ncmp = true, ok_mem = true;

	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < count; j++) {
			ok_cmp &= sign(fern_strcmp(s[i], s[j])) == sign(strcmp(s[i], s[j]));
			for (size_t n = 0; n <= 5; n++) {
				size_t mn = n;

				ok_ncmp &= sign(fern_strncmp(s[i], s[j], n)) ==
					   sign(strncmp(s[i], s[j], n));
				/* memcmp may read only what both strings have. */
				if (mn > strlen(s[i]) + 1)
					mn = strlen(s[i]) + 1;
				if (mn > strlen(s[j]) + 1)
					mn = strlen(s[j]) + 1;
				ok_mem &= sign(fern_memcmp(s[i], s[j], mn)) ==
					  sign(memcmp(s[i], s[j], mn));
			}
		}
	}
	tap_ok(ok_cmp, "strcmp orders like libc, bytes as unsigned char");
	tap_ok(ok_ncmp, "strncmp orders like libc for n = 0..5");
	tap_ok(ok_mem, "memcmp orders like libc, bytes as unsigned char");
}

static void test_lengths(void)
{
	static const char *const s[] = { "", "a", "fern", "hello, world" };
	char unterminated[4] = { 'a', 'b', 'c', 'd' };
	bool ok = true;

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		ok &= fern_strlen(s[i]) == strlen(s[i]);
		for (size_t max = 0; max <= 14; max++)
			ok &= fern_strnlen(s[i], max) == strnlen(s[i], max);
	}
	tap_ok(ok, "strlen and strnlen agree with libc");
	tap_ok(fern_strnlen(unterminated, sizeof(unterminated)) == 4,
	       "strnlen reads no further than max on unterminated data");
}

static void test_strchr(void)
{
	const char *s = "banana split";
	bool ok = true;

	for (int c = 0; c < 256; c++)
		ok &= fern_strchr(s, c) == strchr(s, c);
	tap_ok(ok, "strchr finds the first match, the NUL, or nothing, like libc");
}

int main(void)
{
	test_memcpy_memset();
	test_memmove();
	test_compare();
	test_lengths();
	test_strchr();
	return tap_done();
}
