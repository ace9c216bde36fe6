/*
 * Host unit test of the HTTP request parser (src/app/http_parse.c), built
 * with AddressSanitizer and UBSan by `make host-tests`. Every request is
 * copied into a heap block of exactly its length, so a parser that reads
 * one byte past what the client sent is an ASan report, not a pass.
 *
 * The expected statuses are RFC 9112's, written out by hand per request;
 * none is computed by code shared with the parser. Beyond the table, every
 * prefix and every one-byte change of a few good requests is parsed: the
 * parser must answer each with a status it is allowed to give, and never
 * take a request that does not end with an empty line.
 */
#include <fern/http.h>

#include <stdint.h>
#include <stdlib.h>

#include "tap.h"

/*
 * Parse @text's @n bytes from a block of exactly @n bytes. The block
 * lives until the next call, since @r points into it.
 */
static int parse_n(const char *text, size_t n, struct http_request *r)
{
	static uint8_t *block;

	free(block);
	block = malloc(n ? n : 1);
	memcpy(block, text, n);
	return http_parse_request(block + (n ? 0 : 1), n, r);
}

static int parse(const char *text, struct http_request *r)
{
	return parse_n(text, strlen(text), r);
}

static const struct {
	const char *what, *text;
	int status;
} vectors[] = {
	{ "a plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0 },
	{ "HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0 },
	{ "HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400 },
	{ "an unknown method is still a token", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 0 },
	{ "a method that is not a token", "G\"T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "no method", " / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "no target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "a tab for a space", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "a space after the version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },
	{ "HTTP/0.9 (no version)", "GET /\r\n\r\n", 400 },
	{ "a control byte in the target", "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "a byte over 0x7e in the target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "a lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "a three-digit version", "GET / HTTP/1.11\r\nHost: x\r\n\r\n", 400 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
	{ "HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505 },
	{ "HTTP/1.9 is HTTP/1", "GET / HTTP/1.9\r\nHost: x\r\n\r\n", 0 },
	{ "a bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400 },
	{ "a bare CR after the request line", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400 },
	{ "a bare CR is not a line end", "GET / HTTP/1.0\rXX: y\r\n\r\n", 400 },
	{ "whitespace before a colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
	{ "a folded line", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\tc\r\n\r\n", 400 },
	{ "a line with no colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400 },
	{ "an empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400 },
	{ "a control byte in a value", "GET / HTTP/1.1\r\nHost: x\r\nA: \x01\r\n\r\n", 400 },
	{ "a tab in a value is allowed", "GET / HTTP/1.1\r\nHost: x\r\nA: b\tc\r\n\r\n", 0 },
	{ "two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400 },
	{ "two equal Content-Lengths",
	  "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0 },
	{ "two different Content-Lengths",
	  "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400 },
	{ "an empty Content-Length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400 },
	{ "a list as Content-Length",
	  "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", 400 },
	{ "a Content-Length of 30 digits",
	  "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999999999999999999\r\n\r\n",
	  400 },
	{ "Transfer-Encoding", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
	{ "no empty line", "GET / HTTP/1.1\r\nHost: x\r\n", 400 },
	{ "nothing", "", 400 },
};

static void table(void)
{
	struct http_request r;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		int got = parse(vectors[i].text, &r);

		if (!tap_ok(got == vectors[i].status, "%s: %d", vectors[i].what, vectors[i].status))
			printf("# got %d\n", got);
	}
}

static void fields(void)
{
	struct http_request r;

	tap_ok(parse("HEAD /a/b.css?v=2 HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0 &&
	       r.method_len == 4 && memcmp(r.method, "HEAD", 4) == 0 && r.target_len == 12 &&
	       memcmp(r.target, "/a/b.css?v=2", 12) == 0 && r.minor == 1,
	       "method, target (query kept) and version are where the bytes are");
	tap_ok(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0 && r.keep_alive,
	       "HTTP/1.1 keeps the connection by default");
	tap_ok(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n", &r) == 0 &&
	       !r.keep_alive, "Connection: close in a list, any case, closes");
	tap_ok(parse("GET / HTTP/1.0\r\n\r\n", &r) == 0 && !r.keep_alive,
	       "HTTP/1.0 closes by default");
	tap_ok(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r) == 0 && r.keep_alive,
	       "HTTP/1.0 with Connection: keep-alive keeps it");
	tap_ok(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length:  42 \r\n\r\n", &r) == 0 &&
	       r.content_length == 42, "Content-Length with whitespace around it: 42");
	tap_ok(parse("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match:  W/\"a\" , \"b\"\t\r\n\r\n", &r) == 0
	       && r.if_none_match_len == 11 && memcmp(r.if_none_match, "W/\"a\" , \"b\"", 11) == 0,
	       "If-None-Match's value without the whitespace around it");
}

static void target_limit(void)
{
	static char req[HTTP_TARGET_MAX + 64];
	struct http_request r;

	for (size_t len = HTTP_TARGET_MAX - 1; len <= HTTP_TARGET_MAX + 1; len++) {
		size_t n;

		memcpy(req, "GET /", 5);
		memset(req + 5, 'a', len - 1);
		n = 4 + len;
		memcpy(req + n, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
		n += 22;
		tap_ok(parse_n(req, n, &r) == (len <= HTTP_TARGET_MAX ? 0 : 414),
		       "a target of %zu bytes: %s", len, len <= HTTP_TARGET_MAX ? "read" : "414");
	}
}

static void etags(void)
{
	static const char tag[] = "\"c-0000beef\"";
	size_t n = sizeof(tag) - 1;

	tap_ok(http_etag_matches(tag, n, tag, n), "If-None-Match: our tag matches");
	tap_ok(http_etag_matches("W/\"c-0000beef\"", 14, tag, n), "the weak form matches (GET)");
	tap_ok(http_etag_matches("\"a\",\"c-0000beef\"", 16, tag, n), "a list with our tag matches");
	tap_ok(http_etag_matches("*", 1, tag, n), "* matches");
	tap_ok(!http_etag_matches("\"c-0000bee\"", 11, tag, n), "a prefix of our tag does not");
	tap_ok(!http_etag_matches("\"c-0000beef", 11, tag, n), "an unclosed tag does not");
	tap_ok(!http_etag_matches("c-0000beef", 10, tag, n), "a tag without quotes does not");
}

/*
 * Every prefix, and every one-byte change, of a few good requests: each
 * answer is a status the parser may give, and a request is taken only if
 * it still ends with the empty line. ASan watches every read.
 */
static void mangled(void)
{
	static const char *const good[] = {
		"GET /index.html HTTP/1.1\r\nHost: fern\r\nIf-None-Match: \"x\"\r\n\r\n",
		"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 7\r\n\r\n",
	};
	static const uint8_t bytes[] = { 0, '\r', '\n', ' ', '\t', ':', '"', ',', 'H', '/', '1',
					 '.', 0x7f, 0xff };
	unsigned long tried = 0, wrong = 0;
	struct http_request r;

	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		size_t len = strlen(good[g]);
		char *m = malloc(len);

		for (size_t n = 0; n < len; n++) {
			int st = parse_n(good[g], n, &r);

			tried++;
			wrong += st != 400;	/* nothing shorter is a whole request */
		}
		for (size_t at = 0; at < len; at++) {
			for (size_t b = 0; b < sizeof(bytes); b++) {
				int st;

				memcpy(m, good[g], len);
				m[at] = (char)bytes[b];
				st = parse_n(m, len, &r);
				tried++;
				if (st != 0 && st != 400 && st != 414 && st != 501 && st != 505)
					wrong++;
				if (st == 0 && (m[len - 4] != '\r' || m[len - 3] != '\n' ||
						m[len - 2] != '\r' || m[len - 1] != '\n'))
					wrong++;
			}
		}
		free(m);
	}
	tap_ok(wrong == 0, "%lu prefixes and one-byte changes: each a status the parser may give",
	       tried);
}

int main(void)
{
	table();
	fields();
	target_limit();
	etags();
	mangled();
	return tap_done();
}
