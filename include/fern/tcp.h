/**
 * @file tcp.h
 * @brief TCP (chapter 8): reliable byte streams on the event loop, for a
 *        server. RFC 9293 (which replaced RFC 793), with RFC 6298's
 *        retransmission timer, RFC 5681's congestion control and RFC
 *        5961's checks against blind resets.
 *
 * A server listens on a port (tcp_listen()); when a client's three-way
 * handshake completes, the listener's accept function gets the new
 * connection and gives it its callbacks (tcp_set_ops()). From then on
 * everything happens from the event loop, never from an interrupt:
 *
 * - received bytes are handed to ops->recv as they arrive, in order; a
 *   call with length 0 says the client will send no more (its FIN);
 * - tcp_send() copies bytes into the connection's send buffer and returns
 *   how many it took; ops->sent says when room was made (the client
 *   acknowledged some), so the server can send more;
 * - tcp_close() sends what is buffered, then a FIN; tcp_abort() sends a
 *   RST at once;
 * - ops->closed is called once, when the connection is over for the
 *   application (closed by both sides, reset, or timed out); after it
 *   the connection must not be used.
 *
 * What is not there, and why, is in docs/unikernel.md: no active open
 * (connect) yet, no window scaling, no SACK, no timestamps, no urgent
 * data; out-of-order segments are dropped (and acknowledged) rather than
 * queued, so a lost segment costs a retransmission.
 */
#ifndef FERN_TCP_H
#define FERN_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP_PROTO_TCP	6	/**< IPv4's protocol number for TCP */
#define TCP_HDR_LEN	20	/**< without options */

/**
 * Connections at once, TIME-WAIT included: the table is static. A SYN
 * that finds no slot is dropped unanswered (`tcp-full`).
 */
#define TCP_CONNS	128

/**
 * At most this many connections are half-open (SYN-RECEIVED) at once; a
 * SYN beyond it takes the place of the oldest (RFC 4987 §3.4's "oldest
 * half-open"). A flood of SYNs from forged addresses then fills half of
 * the table, never all of it, and a real client's handshake, which
 * completes in one round trip, is not pushed out by it. It must not be
 * small either: wrk, a browser or passt opens a burst of connections at
 * once, and one pushed out before its ACK came is lost. 64 holds a burst
 * as large as the HTTP server's max_connections (`src/app/main.c`).
 */
#define TCP_BACKLOG	64

/**
 * Why a segment was dropped: name (for `netstat`) and meaning. Each drop
 * is counted under exactly one of these.
 */
#define TCP_DROP_REASONS(X)						\
	X(SHORT, "tcp-short", "segment shorter than a TCP header")	\
	X(HEADER_LEN, "tcp-header-len", "data offset below 5 or beyond the segment") \
	X(CHECKSUM, "tcp-checksum", "checksum wrong")			\
	X(OPTIONS, "tcp-options", "an option whose length is 0, 1 or past the header") \
	X(NO_SOCKET, "tcp-no-socket", "no connection and no listener (answered with RST)") \
	X(FULL, "tcp-full", "a SYN when every connection is in use")	\
	X(OUT_OF_WINDOW, "tcp-out-of-window", "sequence number outside the window (acknowledged)") \
	X(OUT_OF_ORDER, "tcp-out-of-order", "data ahead of what is expected (not queued)") \
	X(BAD_ACK, "tcp-bad-ack", "acknowledges data never sent")	\
	X(NO_ACK, "tcp-no-ack", "no ACK flag on a synchronized connection") \
	X(RST_IGNORED, "tcp-rst-ignored", "a RST not at the expected sequence number (RFC 5961)") \
	X(SYN_IGNORED, "tcp-syn-ignored", "a SYN on a synchronized connection (RFC 5961)")

/** The drop reasons as numbers: TCP_DROP_SHORT, ... */
enum tcp_drop {
#define TCP_DROP_ENUM(id, name, why) TCP_DROP_##id,
	TCP_DROP_REASONS(TCP_DROP_ENUM)
#undef TCP_DROP_ENUM
	TCP_DROPS		/**< how many reasons there are */
};

/** What TCP counts, for `netstat`. */
struct tcp_stats {
	uint64_t rx, tx;		/**< segments received and sent */
	uint64_t retransmits;		/**< segments sent again */
	uint64_t accepted;		/**< connections that completed the handshake */
	uint64_t resets_sent;		/**< RSTs sent */
	uint64_t timeouts;		/**< connections given up after retransmitting */
	uint64_t syn_evicted;		/**< half-open connections forgotten for a newer SYN */
	uint64_t buffer_waits;		/**< times data waited for a free packet buffer */
	uint64_t drops[TCP_DROPS];	/**< by reason */
};

/** TCP's counters. */
extern struct tcp_stats tcp_stats;

struct tcp_conn;

/** What the application does with a connection's events. */
struct tcp_ops {
	/**
	 * @p len bytes arrived at @p data (valid only during the call), in
	 * order; @p len 0: the client sent its FIN and will send no more.
	 */
	void (*recv)(struct tcp_conn *c, const uint8_t *data, size_t len);
	/** The client acknowledged data: tcp_send() has room again. Optional. */
	void (*sent)(struct tcp_conn *c);
	/**
	 * How many more bytes recv() can take now. TCP advertises no larger
	 * window and delivers no more (the client sends the rest again), and
	 * tells the client when the room grows, after a callback made it
	 * grow. Optional: without it the window is always 8 KiB, and recv()
	 * must take every byte it is given.
	 */
	size_t (*room)(const struct tcp_conn *c);
	/**
	 * The connection is over for the application: @p err 0 (closed by
	 * both sides), -ECONNRESET or -ETIMEDOUT. @p c is not valid after.
	 */
	void (*closed)(struct tcp_conn *c, int err);
};

/** A port being listened on; its owner keeps the struct. */
struct tcp_listener {
	uint16_t port;			/**< the local port */
	/**
	 * A client completed the handshake: give @p c its callbacks with
	 * tcp_set_ops(). Return 0, or a negative error to refuse it (RST).
	 */
	int (*accept)(struct tcp_listener *l, struct tcp_conn *c);
	void *ctx;			/**< the owner's */
	struct tcp_listener *next;	/**< the listeners */
};

/** Listen on @p port. 0, or -EEXIST if the port is taken. */
int tcp_listen(struct tcp_listener *l, uint16_t port,
	       int (*accept)(struct tcp_listener *l, struct tcp_conn *c), void *ctx);

/** Give @p c its callbacks and the application's @p ctx. */
void tcp_set_ops(struct tcp_conn *c, const struct tcp_ops *ops, void *ctx);

/** The application's context of @p c. */
void *tcp_ctx(const struct tcp_conn *c);

/**
 * Queue up to @p len bytes of @p data to be sent on @p c. Returns how many
 * were taken (0 when the send buffer is full, or the connection is
 * closing); ops->sent says when there is room again.
 */
size_t tcp_send(struct tcp_conn *c, const void *data, size_t len);

/** How many bytes tcp_send() would take now. */
size_t tcp_send_space(const struct tcp_conn *c);

/** Send what is queued, then a FIN: this side will send no more. */
void tcp_close(struct tcp_conn *c);

/** Send a RST and forget @p c at once; ops->closed gets -ECONNRESET. */
void tcp_abort(struct tcp_conn *c);

/** The client's address and port of @p c. */
void tcp_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port);

/** The `netstat` name of @p why ("tcp-checksum"). */
const char *tcp_drop_name(enum tcp_drop why);

#endif
