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
	bool counted;			/* in open_conns: not yet closed by us or by TCP */
	struct loop_timer idle;
};

struct http_stats http_stats;
static const struct http_config *config;
static struct tcp_listener listener;
static unsigned int open_conns;

static void pump(struct http_conn *h);
static void serve(struct http_conn *h);

/*
 * Close our end. The connection stops counting against max_connections
 * now, not when TCP is done with it: its closing handshake may take a
 * round trip or a retransmission, and a busy server's slots would fill
 * with connections that are only saying goodbye.
 */
static void http_close(struct http_conn *h)
{
	if (h->counted) {
		h->counted = false;
		open_conns--;
	}
	tcp_close(h->tcp);
}

static void idle_fired(void *ctx);

/* ---- responding ---------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/*
 * Queue a response: the head now, then @body (@len bytes, not copied:
 * the site image stays in memory) unless @head_only. @etag, if not NULL,
 * is the file's entity tag. A 304 has the head of the 200 it replaces
 * but no body, and so no Content-Length of its own (RFC 9110 §15.4.5).
 */
static void respond(struct http_conn *h, int status, const char *type, size_t type_len,
		    const uint8_t *body, size_t len, bool head_only, const char *etag)
{
	int n;

	if (status == 304) {
		n = ksnprintf(h->head, sizeof(h->head),
			      "HTTP/1.1 304 Not Modified\r\nServer: fern\r\nETag: %s\r\n%s\r\n",
			      etag, h->close_after ? "Connection: close\r\n" : "");
		head_only = true;
		len = 0;
	} else {
		n = ksnprintf(h->head, sizeof(h->head),
			      "HTTP/1.1 %d %s\r\nServer: fern\r\nContent-Type: %.*s\r\n"
			      "Content-Length: %zu\r\n%s%s%s%s%s\r\n",
			      status, reason(status), (int)type_len, type, len,
			      etag ? "ETag: " : "", etag ? etag : "", etag ? "\r\n" : "",
			      status == 405 ? "Allow: GET, HEAD\r\n" : "",
			      h->close_after ? "Connection: close\r\n" : "");
	}
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

/* An error's small page; @why, if not NULL, is a sentence more. */
static void respond_error(struct http_conn *h, int status, bool head_only, const char *why)
{
	static char page[256];
	int n = ksnprintf(page, sizeof(page),
			  "<!doctype html><title>%d</title><h1>%d %s</h1>\n%s%s%s",
			  status, status, reason(status), why ? "<p>" : "", why ? why : "",
			  why ? "</p>\n" : "");

	respond(h, status, "text/html; charset=utf-8", 24, (const uint8_t *)page,
		n > 0 ? (size_t)n : 0, head_only, NULL);
}

/* Answer the request in @r with the site's file, or the error it deserves. */
static void answer(struct http_conn *h, const struct http_request *r)
{
	bool get = r->method_len == 3 && memcmp(r->method, "GET", 3) == 0;
	bool head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
	static const char *const known[] = { "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
					     "CONNECT", "TRACE" };
	const struct site_file *f;
	const char *path = r->target;
	size_t len = r->target_len;
	const char *etag;
	size_t etag_len;

	if (!get && !head) {
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (strlen(known[i]) == r->method_len &&
			    memcmp(known[i], r->method, r->method_len) == 0) {
				respond_error(h, 405, false, NULL);
				return;
			}
		}
		respond_error(h, 501, false, NULL);
		return;
	}
	if (path[0] != '/') {
		respond_error(h, 400, head, NULL);	/* only origin-form (RFC 9112 §3.2.1) */
		h->close_after = true;
		return;
	}
	if (site_count() == 0) {
		respond_error(h, 503, head, "This fern booted without a site image it could read: "
			      "see the boot's <code>site:</code> line on its serial console.");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '?') {
			len = i;		/* the query means nothing to static files */
			break;
		}
	}
	if (len == 1 && config->index) {
		path = config->index;
		len = strlen(config->index);
	}
	f = site_find(path, len);
	if (!f) {
		respond_error(h, 404, head, NULL);
		return;
	}
	etag = site_etag(f, &etag_len);
	if (r->if_none_match &&
	    http_etag_matches(r->if_none_match, r->if_none_match_len, etag, etag_len)) {
		http_stats.not_modified++;
		respond(h, 304, NULL, 0, NULL, 0, true, etag);
		return;
	}
	respond(h, 200, f->type, f->type_len, f->data, f->len, head, etag);
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
	struct http_request r;
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
			respond_error(h, 400, false, NULL);
			h->in_len = 0;
			pump(h);
			return;
		}
		if (used + 3 >= h->in_len) {
			if (h->in_len == sizeof(h->in)) {
				h->close_after = true;
				respond_error(h, 431, false, NULL);
				h->in_len = 0;
				pump(h);
			} else if (h->peer_done) {
				http_close(h);
			}
			return;
		}
		used += 4;
		http_stats.requests++;
		loop_timer_start(&h->idle, "http idle", config->idle_ms, idle_fired, h);
		status = http_parse_request(h->in, used, &r);
		h->close_after = h->peer_done;
		if (status) {
			/* The framing cannot be trusted after a bad request. */
			h->close_after = true;
			respond_error(h, status, false, NULL);
		} else if (r.content_length > config->max_body) {
			/* GET and HEAD need no body: we would only skip it,
			 * but not for ever (RFC 9110 §15.5.14). */
			h->close_after = true;
			respond_error(h, 413, false, NULL);
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
		http_close(h);
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

/*
 * While a response goes out, requests that come after it wait in the
 * buffer, and the window is the room left there: a client that
 * pipelines more than the buffer holds is slowed down, not cut off.
 * Otherwise the buffer holds at most the start of one request, and the
 * window stays whole: a sender may wait for a window of a whole segment
 * before it sends (RFC 9293 §3.8.6.2.1), and a header section that
 * fills the buffer is a 431 however the rest arrives.
 */
static size_t on_room(const struct tcp_conn *c)
{
	const struct http_conn *h = tcp_ctx(c);

	return h->responding ? sizeof(h->in) - h->in_len : sizeof(h->in);
}

static void on_sent(struct tcp_conn *c)
{
	struct http_conn *h = tcp_ctx(c);

	/* A client reading a long response is not idle. */
	if (h->responding)
		loop_timer_start(&h->idle, "http idle", config->idle_ms, idle_fired, h);
	pump(h);
	if (!h->responding && !h->close_after)
		serve(h);
}

static void on_closed(struct tcp_conn *c, int err)
{
	struct http_conn *h = tcp_ctx(c);

	(void)err;
	loop_timer_stop(&h->idle);
	if (h->counted)
		open_conns--;
	kfree(h);
}

static const struct tcp_ops http_ops = {
	.recv = on_recv,
	.sent = on_sent,
	.room = on_room,
	.closed = on_closed,
};

/*
 * A connection that completed no request for idle_ms is closed; if it
 * is half-way through one (a slow client, or one that stopped), it is
 * told so first with a 408 (RFC 9110 §15.5.9). The timer starts again
 * only when a request is complete, so trickling bytes does not keep a
 * connection alive.
 */
static void idle_fired(void *ctx)
{
	struct http_conn *h = ctx;

	http_stats.idle_closed++;
	if (h->in_len && !h->responding) {
		h->close_after = true;
		h->in_len = 0;
		respond_error(h, 408, false, NULL);
		pump(h);
		return;
	}
	http_close(h);
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
	h->counted = true;
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
	kprintf("http requests %lu 2xx %lu 3xx %lu 4xx %lu 5xx %lu bytes %lu\n",
		http_stats.requests, http_stats.status[2], http_stats.status[3],
		http_stats.status[4], http_stats.status[5], http_stats.bytes);
	return 0;
}
KCMD(httpstat, "show the HTTP server's counters", cmd_httpstat);
