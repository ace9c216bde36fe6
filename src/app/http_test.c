/*
 * Chapter 8's in-kernel tests of the HTTP request parser (http_parse.c),
 * on the edge of the address space's cliff: every request is copied so
 * that its last byte is the last byte of a mapped page, and the page after
 * it is not mapped. A parser that looks one byte too far (for the LF
 * after a CR that ends the bytes, for a space, for a terminator that was
 * never sent) takes a page fault here, with a report naming the scratch
 * page, instead of reading some other connection's bytes in silence.
 *
 * The outside tests (tests/ch08_unikernel.py) send the same kinds of
 * requests over TCP; this suite is what proves the bounds.
 */
#include <fern/console.h>
#include <fern/http.h>
#include <fern/ktest.h>
#include <fern/mm.h>
#include <fern/string.h>

/* A page of the tests' window (layout.h), after vm_test.c's. */
#define EDGE_VA	(MM_TEST_BASE + 0x200000)

static uint8_t *edge;

/* Map the page at EDGE_VA (the next one stays unmapped), once. */
static bool edge_ready(struct ktest_ctx *ktest)
{
	uint64_t frame;
	uint64_t pa;

	if (edge)
		return true;
	if (vm_translate(vm_active(), EDGE_VA + PAGE_SIZE, &pa, NULL) == 0) {
		kprintf("# the page after the test page is mapped: the test would prove nothing\n");
		KTEST_EXPECT(false);
		return false;
	}
	frame = pmm_alloc();
	KTEST_EXPECT(frame != 0);
	if (!frame)
		return false;
	if (vm_map(vm_active(), EDGE_VA, frame, PAGE_SIZE, PTE_WRITABLE | PTE_NX) != 0) {
		pmm_free(frame);
		KTEST_EXPECT(false);
		return false;
	}
	edge = (uint8_t *)EDGE_VA;
	return true;
}

/* Parse the @n bytes of @text placed against the unmapped page. */
static int parse_at_edge(const char *text, size_t n, struct http_request *r)
{
	uint8_t *at = edge + PAGE_SIZE - n;

	memcpy(at, text, n);
	return http_parse_request(at, n, r);
}

/* A request given as a C string, and the status the parser must give. */
struct vector {
	const char *text;
	int status;
};

static void check_vectors(struct ktest_ctx *ktest, const struct vector *v, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct http_request r;
		int got = parse_at_edge(v[i].text, strlen(v[i].text), &r);

		if (got != v[i].status)
			kprintf("# vector %zu (%zu bytes): %d, not %d\n", i + 1,
				strlen(v[i].text), got, v[i].status);
		KTEST_EXPECT_EQ(got, v[i].status);
	}
}

KTEST(http, "a request line and its fields are read, the bytes ending at an unmapped page")
{
	static const char req[] = "GET /blog/07-net.html?x=1 HTTP/1.1\r\n"
				  "Host: fern\r\nConnection: close\r\nIf-None-Match: \"a\"\r\n\r\n";
	struct http_request r;

	if (!edge_ready(ktest))
		return;
	KTEST_EXPECT_EQ(parse_at_edge(req, sizeof(req) - 1, &r), 0);
	KTEST_EXPECT(r.method_len == 3 && memcmp(r.method, "GET", 3) == 0);
	KTEST_EXPECT(r.target_len == 21 && memcmp(r.target, "/blog/07-net.html?x=1", 21) == 0);
	KTEST_EXPECT_EQ(r.minor, 1);
	KTEST_EXPECT(!r.keep_alive);
	KTEST_EXPECT(r.if_none_match_len == 3 && memcmp(r.if_none_match, "\"a\"", 3) == 0);
}

KTEST(http, "a request line cut short anywhere is a 400 and no read past its end")
{
	static const char whole[] = "HEAD /index.html HTTP/1.0\r\n\r\n";
	struct http_request r;

	if (!edge_ready(ktest))
		return;
	/* Every prefix: each ends where the client stopped sending. */
	for (size_t n = 0; n < sizeof(whole) - 1; n++)
		KTEST_EXPECT_EQ(parse_at_edge(whole, n, &r), 400);
	KTEST_EXPECT_EQ(parse_at_edge(whole, sizeof(whole) - 1, &r), 0);
	KTEST_EXPECT_EQ(r.minor, 0);
	KTEST_EXPECT(!r.keep_alive);
}

KTEST(http, "the request line's three parts are checked, and the version decides 505")
{
	static const struct vector v[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0 },
		{ "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },	/* two spaces */
		{ "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },	/* a third space */
		{ "GET /\r\nHost: x\r\n\r\n", 400 },		/* HTTP/0.9 */
		{ "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },	/* not a token */
		{ " / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },	/* no method */
		{ "GET \x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400 },	/* not visible ASCII */
		{ "GET / HTTP/1.1\nHost: x\r\n\r\n", 400 },	/* a bare LF */
		{ "GET / HTTP/1.1\rHost: x\r\n\r\n", 400 },	/* a bare CR */
		{ "GET / HTTP/1.0\rXX: y\r\n\r\n", 400 },	/* ... that must not end the line */
		{ "GET / http/1.1\r\nHost: x\r\n\r\n", 400 },	/* the name is case-sensitive */
		{ "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/1\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
		{ "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505 },
		{ "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 0 },	/* a token: the server decides */
	};

	if (!edge_ready(ktest))
		return;
	check_vectors(ktest, v, sizeof(v) / sizeof(v[0]));
}

KTEST(http, "a target of HTTP_TARGET_MAX bytes is read; one byte more is a 414")
{
	static char req[HTTP_TARGET_MAX + 64];
	struct http_request r;
	size_t n;

	if (!edge_ready(ktest))
		return;
	for (size_t len = HTTP_TARGET_MAX; len <= HTTP_TARGET_MAX + 1; len++) {
		int want = len == HTTP_TARGET_MAX ? 0 : 414;

		memcpy(req, "GET /", 5);
		memset(req + 5, 'a', len - 1);
		n = 4 + len;
		memcpy(req + n, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
		n += 22;
		KTEST_EXPECT_EQ(parse_at_edge(req, n, &r), want);
	}
}

KTEST(http, "field lines that RFC 9112 forbids are a 400; a body coding is a 501")
{
	static const struct vector v[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 400 },			/* no Host */
		{ "GET / HTTP/1.0\r\n\r\n", 0 },			/* 1.0 needs none */
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
		  0 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nNo-Colon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 400 },		/* no empty line */
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r", 400 },
	};

	if (!edge_ready(ktest))
		return;
	check_vectors(ktest, v, sizeof(v) / sizeof(v[0]));
}

KTEST(http, "If-None-Match matches our tag, weakly, in a list, or as *")
{
	static const char tag[] = "\"1f-0badcafe\"";
	static const struct {
		const char *list;
		bool match;
	} v[] = {
		{ "\"1f-0badcafe\"", true },
		{ "W/\"1f-0badcafe\"", true },
		{ "\"x\", \"1f-0badcafe\"", true },
		{ "*", true },
		{ "\"1f-0badcaf\"", false },
		{ "1f-0badcafe", false },
		{ "\"1f-0badcafe", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		KTEST_EXPECT(http_etag_matches(v[i].list, strlen(v[i].list), tag,
					       sizeof(tag) - 1) == v[i].match);
}
