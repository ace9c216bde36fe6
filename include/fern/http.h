/**
 * @file http.h
 * @brief The application (chapter 8): an HTTP/1.1 server for static
 *        files, configured in C, and the site it serves.
 *
 * MirageOS's idea in C: the server is a library, and the unikernel's
 * configuration is a value of ordinary code, checked by the compiler,
 * instead of a file parsed at run time:
 *
 * @code
 * static const struct http_config blog = {
 *	.port = 80,
 *	.index = "/index.html",
 *	.max_connections = 32,
 *	.idle_ms = 30000,
 *	.max_body = 65536,
 * };
 * @endcode
 *
 * The files come from the site image (site.h), which GRUB loads as a
 * Multiboot2 module: the posts and labs rendered to HTML at build time.
 */
#ifndef FERN_HTTP_H
#define FERN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX	8192	/**< the largest header section, request line included */
#define HTTP_TARGET_MAX	1024	/**< the longest request target */

/** How the server is set up: one value, in the application's code. */
struct http_config {
	uint16_t port;			/**< the TCP port: 80 */
	const char *index;		/**< the file "/" stands for */
	unsigned int max_connections;	/**< at once; more are refused (RST) */
	uint32_t idle_ms;		/**< a connection with no request for this long is closed */
	uint64_t max_body;		/**< a request announcing a longer body gets a 413 */
};

/** What the server counts, for `httpstat`. */
struct http_stats {
	uint64_t connections;		/**< accepted */
	uint64_t requests;		/**< complete requests parsed */
	uint64_t status[6];		/**< responses by class: [2] 2xx ... [5] 5xx */
	uint64_t bytes;			/**< body bytes queued */
	uint64_t refused;		/**< connections over max_connections */
	uint64_t idle_closed;		/**< closed for idleness */
	uint64_t not_modified;		/**< 304s: the client's copy was current */
};

/** What a request's header section says (http_parse_request()). */
struct http_request {
	const char *method;		/**< in the parsed bytes, not NUL-terminated */
	size_t method_len;
	const char *target;		/**< "/blog/07-net.html?x", as sent */
	size_t target_len;
	int minor;			/**< HTTP/1.minor */
	bool keep_alive;		/**< the connection stays open after the answer */
	uint64_t content_length;	/**< the body's bytes (which the server skips) */
	const char *if_none_match;	/**< the field's value, or NULL */
	size_t if_none_match_len;
};

/**
 * Parse the header section @p (@p n bytes, the request line to the empty
 * line's CRLF) into @p r. Returns 0, or the status to answer with: 400 for
 * what RFC 9112 forbids (and for a section cut short), 414, 501, 505.
 * Never reads outside the @p n bytes.
 */
int http_parse_request(const uint8_t *p, size_t n, struct http_request *r);

/**
 * Whether the If-None-Match value @p list (@p n bytes) names @p etag
 * (quotes included), compared weakly as RFC 9110 §13.1.2 says for GET.
 */
bool http_etag_matches(const char *list, size_t n, const char *etag, size_t etag_len);

/** The server's counters. */
extern struct http_stats http_stats;

/** Start serving @p config. 0, or a negative error. */
int http_start(const struct http_config *config);

#endif
