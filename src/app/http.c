/*
 * An HTTP/1.1 server for static files (RFC 9110 semantics, RFC 9112
 * syntax), on TCP connections of the event loop.
 *
 * A request is read into the connection's buffer until its header
 * section is complete (an empty line); then it is parsed strictly, in
 * the order of the bytes: the request line, each field line, and only
 * then what they mean. Whatever RFC 9112 says a server MUST reject is a
 * 400 and a closed connection (a field name followed by whitespace, a
 * folded line, a second Host, two different Content-Lengths), because a
 * server and a proxy that read such a request differently disagree on
 * where it ends: request smuggling. What is merely not supported gets
 * its own status: 405 or 501 for a method, 505 for a version, 414 for a
 * long target, 431 for a large header section.
 *
 * Responses come from the site image, unchanged; the only dynamic bytes
 * are the status line and the header fields. A response larger than the
 * send buffer goes out as the client acknowledges it (ops->sent). Several
 * requests may arrive in one segment (pipelining): they are answered in
 * order, one at a time.
 */
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/format.h>
#include <fern/heap.h>
#include <fern/http.h>
#include <fern/loop.h>
#include <fern/shell.h>
#include <fern/site.h>
#include <fern/string.h>
#include <fern/tcp.h>
#include <stdbool.h>

#define HTTP_HEAD_MAX	8192	/* the header section, request line included */
#define HTTP_TARGET_MAX	1024
#define HTTP_REPLY_HEAD	512	/* our status line and fields */

struct http_conn {
	struct tcp_conn *tcp;
	uint8_t in[HTTP_HEAD_MAX];	/* bytes received and not yet used */
	size_t in_len;
	size_t skip;			/* request body bytes still to discard */
	char head[HTTP_REPLY_HEAD];	/* the response's head being sent */
	size_t head_len, head_off;
	const uint8_t *body;		/* the response's body being sent */
	size_t body_len, body_off;
	bool responding;		/* a response is not yet all queued */
	bool close_after;		/* close once it is */
	bool peer_done;			/* the client sent its FIN */
	struct loop_timer idle;
};

/* What a request says, once parsed. */
struct request {
	const char *method, *target;
	size_t method_len, target_len;
	int minor;			/* HTTP/1.minor */
	bool keep_alive;
	uint64_t content_length;
};

struct http_stats http_stats;
static const struct http_config *config;
static struct tcp_listener listener;
static unsigned int open_conns;

static void pump(struct http_conn *h);
static void serve(struct http_conn *h);
static void idle_fired(void *ctx);

/* ---- parsing ----------------------------------------------------------- */

/* The first @c in the @n bytes at @p, or NULL (memchr, which fern's
 * string library does not have). */
static const void *find_byte(const void *p, int c, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i] == (uint8_t)c)
			return b + i;
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
 * Parse the header section @p (@n bytes, ending with the empty line's
 * CRLF) into @r. Returns 0, or the status to answer with.
 */
static int parse_request(const uint8_t *p, size_t n, struct request *r)
{
	const uint8_t *end = p + n, *line = p, *eol, *sp1, *sp2;
	bool host = false, have_length = false, close = false, keep = false;

	memset(r, 0, sizeof(*r));
	/* The request line: method SP target SP HTTP/1.x CRLF (RFC 9112 §3). */
	eol = find_byte(line, '\r', (size_t)(end - line));
	if (!eol || eol + 1 >= end || eol[1] != '\n')
		return 400;
	sp1 = find_byte(line, ' ', (size_t)(eol - line));
	if (!sp1)
		return 400;
	sp2 = find_byte(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || find_byte(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
		return 400;
	if (!token(line, (size_t)(sp1 - line)))
		return 400;
	r->method = (const char *)line;
	r->method_len = (size_t)(sp1 - line);
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
	/* The field lines: name ":" OWS value OWS CRLF (RFC 9112 §5). */
	for (line = eol + 2; line < end; line = eol + 2) {
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
		}
	}
	if (r->minor >= 1 && !host)
		return 400;
	r->keep_alive = r->minor >= 1 ? !close : keep && !close;
	return 0;
}

/* ---- responding ---------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/*
 * Queue a response: the head now, then @body (@len bytes, not copied:
 * the site image stays in memory) unless @head_only.
 */
static void respond(struct http_conn *h, int status, const char *type, size_t type_len,
		    const uint8_t *body, size_t len, bool head_only)
{
	int n;

	n = ksnprintf(h->head, sizeof(h->head),
		      "HTTP/1.1 %d %s\r\nServer: fern\r\nContent-Type: %.*s\r\n"
		      "Content-Length: %zu\r\n%s%s\r\n",
		      status, reason(status), (int)type_len, type, len,
		      status == 405 ? "Allow: GET, HEAD\r\n" : "",
		      h->close_after ? "Connection: close\r\n" : "");
	h->head_len = n > 0 && (size_t)n < sizeof(h->head) ? (size_t)n : 0;
	h->head_off = 0;
	h->body = head_only ? NULL : body;
	h->body_len = head_only ? 0 : len;
	h->body_off = 0;
	h->responding = true;
	if (status >= 100 && status < 600)
		http_stats.status[status / 100]++;
	http_stats.bytes += h->body_len;
}

static void respond_error(struct http_conn *h, int status, bool head_only)
{
	static char page[128];
	int n = ksnprintf(page, sizeof(page), "<!doctype html><title>%d</title><h1>%d %s</h1>\n",
			  status, status, reason(status));

	respond(h, status, "text/html; charset=utf-8", 24, (const uint8_t *)page,
		n > 0 ? (size_t)n : 0, head_only);
}

/* Answer the request in @r with the site's file, or the error it deserves. */
static void answer(struct http_conn *h, const struct request *r)
{
	bool get = r->method_len == 3 && memcmp(r->method, "GET", 3) == 0;
	bool head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
	static const char *const known[] = { "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
					     "CONNECT", "TRACE" };
	const struct site_file *f;
	const char *path = r->target;
	size_t len = r->target_len;
	const char *q;

	if (!get && !head) {
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (strlen(known[i]) == r->method_len &&
			    memcmp(known[i], r->method, r->method_len) == 0) {
				respond_error(h, 405, false);
				return;
			}
		}
		respond_error(h, 501, false);
		return;
	}
	if (path[0] != '/') {
		respond_error(h, 400, head);	/* only origin-form (RFC 9112 §3.2.1) */
		h->close_after = true;
		return;
	}
	q = find_byte(path, '?', len);
	if (q)
		len = (size_t)(q - path);
	if (len == 1 && config->index) {
		path = config->index;
		len = strlen(config->index);
	}
	f = site_find(path, len);
	if (!f) {
		respond_error(h, 404, head);
		return;
	}
	respond(h, 200, f->type, f->type_len, f->data, f->len, head);
}

/* Whether the @n bytes at @p hold an LF that no CR precedes. */
static bool bare_lf(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return true;
	}
	return false;
}

/* Take the next request from the buffer, if a whole header section is there. */
static void serve(struct http_conn *h)
{
	struct request r;
	size_t used = 0;
	int status;

	while (!h->responding && h->tcp) {
		/* The rest of a body we do not read. */
		if (h->skip) {
			size_t n = h->skip < h->in_len ? h->skip : h->in_len;

			memmove(h->in, h->in + n, h->in_len - n);
			h->in_len -= n;
			h->skip -= n;
			if (h->skip)
				return;
		}
		for (used = 0; used + 3 < h->in_len; used++) {
			if (memcmp(h->in + used, "\r\n\r\n", 4) == 0)
				break;
		}
		if (bare_lf(h->in, used + 3 < h->in_len ? used + 4 : h->in_len)) {
			/* Lines end with CRLF (RFC 9112 §2.2); a bare LF would
			 * otherwise leave the request unfinished for ever. */
			h->close_after = true;
			http_stats.requests++;
			respond_error(h, 400, false);
			h->in_len = 0;
			pump(h);
			return;
		}
		if (used + 3 >= h->in_len) {
			if (h->in_len == sizeof(h->in)) {
				h->close_after = true;
				respond_error(h, 431, false);
				h->in_len = 0;
				pump(h);
			} else if (h->peer_done) {
				tcp_close(h->tcp);
			}
			return;
		}
		used += 4;
		http_stats.requests++;
		loop_timer_start(&h->idle, "http idle", config->idle_ms, idle_fired, h);
		status = parse_request(h->in, used, &r);
		h->close_after = h->peer_done;
		if (status) {
			/* The framing cannot be trusted after a bad request. */
			h->close_after = true;
			respond_error(h, status, false);
		} else {
			h->close_after |= !r.keep_alive;
			answer(h, &r);
			h->skip = r.content_length;
		}
		memmove(h->in, h->in + used, h->in_len - used);
		h->in_len -= used;
		pump(h);
		if (h->close_after)
			return;
	}
}

/*
 * Send what the connection's send buffer takes of the response. It does
 * not go on to the next request itself (serve()'s loop and on_sent() do):
 * a buffer of pipelined requests must not become as many nested calls.
 */
static void pump(struct http_conn *h)
{
	if (!h->responding || !h->tcp)
		return;
	while (h->head_off < h->head_len) {
		size_t n = tcp_send(h->tcp, h->head + h->head_off, h->head_len - h->head_off);

		if (!n)
			return;
		h->head_off += n;
	}
	while (h->body_off < h->body_len) {
		size_t n = tcp_send(h->tcp, h->body + h->body_off, h->body_len - h->body_off);

		if (!n)
			return;
		h->body_off += n;
	}
	h->responding = false;
	if (h->close_after)
		tcp_close(h->tcp);
}

/* ---- the connection's events ------------------------------------------- */

static void on_recv(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	struct http_conn *h = tcp_ctx(c);

	if (!len) {
		h->peer_done = true;
		if (!h->responding)
			serve(h);
		return;
	}
	if (len > sizeof(h->in) - h->in_len)
		len = sizeof(h->in) - h->in_len;	/* serve() then answers 431 */
	memcpy(h->in + h->in_len, data, len);
	h->in_len += len;
	serve(h);
}

static void on_sent(struct tcp_conn *c)
{
	struct http_conn *h = tcp_ctx(c);

	pump(h);
	if (!h->responding && !h->close_after)
		serve(h);
}

static void on_closed(struct tcp_conn *c, int err)
{
	struct http_conn *h = tcp_ctx(c);

	(void)err;
	loop_timer_stop(&h->idle);
	open_conns--;
	kfree(h);
}

static const struct tcp_ops http_ops = {
	.recv = on_recv,
	.sent = on_sent,
	.closed = on_closed,
};

/* A connection that sent nothing for idle_ms is closed. */
static void idle_fired(void *ctx)
{
	struct http_conn *h = ctx;

	http_stats.idle_closed++;
	tcp_close(h->tcp);
}

static int on_accept(struct tcp_listener *l, struct tcp_conn *c)
{
	struct http_conn *h;

	(void)l;
	if (open_conns >= config->max_connections) {
		http_stats.refused++;
		return -ENOSPC;
	}
	h = kcalloc(1, sizeof(*h));
	if (!h) {
		http_stats.refused++;
		return -ENOMEM;
	}
	h->tcp = c;
	open_conns++;
	http_stats.connections++;
	tcp_set_ops(c, &http_ops, h);
	loop_timer_start(&h->idle, "http idle", config->idle_ms, idle_fired, h);
	return 0;
}

int http_start(const struct http_config *c)
{
	int err;

	config = c;
	err = tcp_listen(&listener, c->port, on_accept, NULL);
	if (err)
		kprintf("http: error: port %u: %d\n", c->port, err);
	else
		kprintf("http: serving %zu files on port %u\n", site_count(), c->port);
	return err;
}

static int cmd_httpstat(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("http connections %lu open %u refused %lu idle-closed %lu\n",
		http_stats.connections, open_conns, http_stats.refused, http_stats.idle_closed);
	kprintf("http requests %lu 2xx %lu 4xx %lu 5xx %lu bytes %lu\n", http_stats.requests,
		http_stats.status[2], http_stats.status[4], http_stats.status[5], http_stats.bytes);
	return 0;
}
KCMD(httpstat, "show the HTTP server's counters", cmd_httpstat);
