/*
 * Parsing an HTTP/1.1 request's header section (RFC 9112), strictly and
 * in the order of the bytes: the request line, each field line, and only
 * then what they mean. Like a packet format in src/net/, this file keeps
 * no state and touches no connection, so the host tests
 * (tests/host/test_http.c) and an in-kernel test against an unmapped page
 * (src/app/http_test.c) run it on the very bytes a client might send.
 *
 * Whatever RFC 9112 says a server MUST reject is a 400, because a server
 * and a proxy that read such a request differently disagree on where it
 * ends (request smuggling): a field name followed by whitespace, a folded
 * line, a second Host, two different Content-Lengths. What is merely not
 * supported gets its own status: 501 for Transfer-Encoding, 505 for a
 * version, 414 for a long target.
 *
 * Every scan is bounded by the end of the bytes given, never by a
 * terminator that may not be there: the buffer a connection fills ends
 * where the client stopped sending.
 */
#include <fern/http.h>
#include <fern/string.h>
#include <stdbool.h>

/* The first @c in the @n bytes at @p, or NULL (memchr, which fern's
 * string library does not have). */
static const uint8_t *find_byte(const uint8_t *p, int c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == (uint8_t)c)
			return p + i;
	}
	return NULL;
}

/* RFC 9110 §5.6.2: tchar. */
static bool tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 §5.6.2: token = 1*tchar. */
static bool token(const uint8_t *p, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!tchar(p[i]))
			return false;
	}
	return true;
}

/* Whether the @n bytes at @p are @s, ignoring ASCII case (field names). */
static bool equal_nocase(const uint8_t *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++) {
		uint8_t a = p[i], b = (uint8_t)s[i];

		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		if (a != b)
			return false;
	}
	return i == n && !s[i];
}

/* Whether the comma-separated list @v (@n bytes) holds the token @t. */
static bool list_has(const uint8_t *v, size_t n, const char *t)
{
	size_t at = 0;

	while (at < n) {
		size_t start, end;

		while (at < n && (v[at] == ' ' || v[at] == '\t' || v[at] == ','))
			at++;
		start = at;
		while (at < n && v[at] != ',')
			at++;
		end = at;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end > start && equal_nocase(v + start, end - start, t))
			return true;
	}
	return false;
}

/*
 * The request line, RFC 9112 §3: method SP request-target SP HTTP-version
 * CRLF, with exactly one space between the three parts, the method a
 * token, the target visible ASCII of at most HTTP_TARGET_MAX bytes and
 * the version "HTTP/" DIGIT "." DIGIT. Returns 0 and sets @r's method,
 * target and minor version, and *@next to the byte after the line's LF;
 * or the status to answer with.
 */
static int parse_request_line(const uint8_t *p, size_t n, struct http_request *r,
			      const uint8_t **next)
{
	/* LAB 8 BEGIN: find the CR within the n bytes (and an LF after it); the two spaces before it (a third is a 400); method a token; target 1..HTTP_TARGET_MAX bytes (longer: 414) of visible ASCII; version exactly HTTP/d.d (other major: 505); never read p[n] or beyond */
	const uint8_t *end = p + n, *eol, *sp1, *sp2;

	eol = find_byte(p, '\r', n);
	if (!eol || eol + 1 >= end || eol[1] != '\n')
		return 400;
	sp1 = find_byte(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return 400;
	sp2 = find_byte(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || find_byte(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
		return 400;
	if (!token(p, (size_t)(sp1 - p)))
		return 400;
	r->method = (const char *)p;
	r->method_len = (size_t)(sp1 - p);
	r->target = (const char *)sp1 + 1;
	r->target_len = (size_t)(sp2 - sp1 - 1);
	if (r->target_len == 0)
		return 400;
	if (r->target_len > HTTP_TARGET_MAX)
		return 414;
	for (size_t i = 0; i < r->target_len; i++) {
		uint8_t c = (uint8_t)r->target[i];

		if (c <= ' ' || c >= 0x7f)
			return 400;
	}
	if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[7] != '.' || sp2[8] < '0' || sp2[8] > '9')
		return 400;
	if (sp2[6] != '1')
		return 505;
	r->minor = sp2[8] - '0';
	*next = eol + 2;
	return 0;
	/* LAB 8 STUB: (void)p; (void)n; (void)r; (void)next; return 501; */
	/* LAB 8 END */
}

int http_parse_request(const uint8_t *p, size_t n, struct http_request *r)
{
	const uint8_t *end = p + n, *line, *eol;
	bool host = false, have_length = false, close = false, keep = false;
	int status;

	memset(r, 0, sizeof(*r));
	status = parse_request_line(p, n, r, &line);
	if (status)
		return status;
	/* The field lines: name ":" OWS value OWS CRLF (RFC 9112 §5). */
	for (; line < end; line = eol + 2) {
		const uint8_t *colon, *v, *ve;

		eol = find_byte(line, '\r', (size_t)(end - line));
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return 400;
		if (eol == line)
			break;			/* the empty line: the end */
		if (*line == ' ' || *line == '\t')
			return 400;		/* obs-fold (§5.2) */
		colon = find_byte(line, ':', (size_t)(eol - line));
		if (!colon || !token(line, (size_t)(colon - line)))
			return 400;		/* includes whitespace before the colon (§5.1) */
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		for (const uint8_t *c = v; c < ve; c++) {
			if ((*c < ' ' && *c != '\t') || *c == 0x7f)
				return 400;
		}
		if (equal_nocase(line, (size_t)(colon - line), "host")) {
			if (host)
				return 400;	/* a second Host (RFC 9112 §3.2) */
			host = true;
		} else if (equal_nocase(line, (size_t)(colon - line), "content-length")) {
			uint64_t len = 0;

			if (v == ve)
				return 400;
			for (const uint8_t *c = v; c < ve; c++) {
				if (*c < '0' || *c > '9' || len > 1000000000)
					return 400;
				len = len * 10 + (uint64_t)(*c - '0');
			}
			if (have_length && len != r->content_length)
				return 400;
			have_length = true;
			r->content_length = len;
		} else if (equal_nocase(line, (size_t)(colon - line), "transfer-encoding")) {
			return 501;		/* no request bodies, so no codings */
		} else if (equal_nocase(line, (size_t)(colon - line), "connection")) {
			close |= list_has(v, (size_t)(ve - v), "close");
			keep |= list_has(v, (size_t)(ve - v), "keep-alive");
		} else if (equal_nocase(line, (size_t)(colon - line), "if-none-match")) {
			r->if_none_match = (const char *)v;
			r->if_none_match_len = (size_t)(ve - v);
		}
	}
	if (line >= end)
		return 400;			/* no empty line: the section is cut short */
	if (r->minor >= 1 && !host)
		return 400;
	r->keep_alive = r->minor >= 1 ? !close : keep && !close;
	return 0;
}

/*
 * RFC 9110 §13.1.2: If-None-Match is "*" or a list of entity tags, each
 * maybe weak (W/"..."); for GET and HEAD it is compared weakly, so W/ is
 * ignored. @etag is ours, quotes included.
 */
bool http_etag_matches(const char *list, size_t n, const char *etag, size_t etag_len)
{
	const uint8_t *v = (const uint8_t *)list;
	size_t at = 0;

	while (at < n) {
		size_t start;

		while (at < n && (v[at] == ' ' || v[at] == '\t' || v[at] == ','))
			at++;
		if (at < n && v[at] == '*')
			return true;
		if (n - at >= 2 && v[at] == 'W' && v[at + 1] == '/')
			at += 2;
		start = at;
		if (at >= n || v[at] != '"')
			return false;		/* not an entity tag: no match */
		for (at++; at < n && v[at] != '"'; at++)
			;
		if (at >= n)
			return false;
		at++;
		if (at - start == etag_len && memcmp(v + start, etag, etag_len) == 0)
			return true;
	}
	return false;
}
