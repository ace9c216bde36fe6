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
 * };
 * @endcode
 *
 * The files come from the site image (site.h), which GRUB loads as a
 * Multiboot2 module: the posts and labs rendered to HTML at build time.
 */
#ifndef FERN_HTTP_H
#define FERN_HTTP_H

#include <stddef.h>
#include <stdint.h>

/** How the server is set up: one value, in the application's code. */
struct http_config {
	uint16_t port;			/**< the TCP port: 80 */
	const char *index;		/**< the file "/" stands for */
	unsigned int max_connections;	/**< at once; more are refused (RST) */
	uint32_t idle_ms;		/**< a connection with no request for this long is closed */
};

/** What the server counts, for `httpstat`. */
struct http_stats {
	uint64_t connections;		/**< accepted */
	uint64_t requests;		/**< complete requests parsed */
	uint64_t status[6];		/**< responses by class: [2] 2xx ... [5] 5xx */
	uint64_t bytes;			/**< body bytes queued */
	uint64_t refused;		/**< connections over max_connections */
	uint64_t idle_closed;		/**< closed for idleness */
};

/** The server's counters. */
extern struct http_stats http_stats;

/** Start serving @p config. 0, or a negative error. */
int http_start(const struct http_config *config);

#endif
