/*
 * TCP (RFC 9293): a byte stream in each direction, made reliable over
 * IPv4 by numbering every byte and retransmitting what the other side
 * does not acknowledge. The header, 20 bytes without options:
 *   0 source port  2 destination port  4 sequence number  8 acknowledgment
 *   12 data offset (4 bits, in words) and flags  14 window  16 checksum
 *   18 urgent pointer, then options (up to 40 bytes), then data
 *
 * fern is the server end: a listener answers a SYN with a SYN-ACK, and a
 * connection exists for the application once the client's ACK completes
 * the handshake. Each connection is one slot of a static table, with a
 * send buffer taken from the heap when it is first needed, and one timer
 * (retransmission, zero-window probe or TIME-WAIT, whichever applies).
 *
 * Input is checked like every other protocol of fern's before a field is
 * trusted: the header's length, the data offset against the segment, the
 * checksum over the pseudo-header and the whole segment, and every
 * option's length against what is left (the bug class of Amnesia:33's
 * picoTCP option loop). Then RFC 9293 §3.10.7's order: sequence number,
 * RST, SYN, ACK, data, FIN.
 */
#include <fern/checksum.h>
#include <fern/console.h>
#include <fern/errno.h>
#include <fern/heap.h>
#include <fern/loop.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/rng.h>
#include <fern/string.h>
#include <fern/tcp.h>

/* Flags (RFC 9293 §3.1). */
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_ACK		0x10
#define TCP_URG		0x20

/* Options (RFC 9293 §3.2). */
#define OPT_END		0
#define OPT_NOP		1
#define OPT_MSS		2
#define OPT_WSCALE	3	/* RFC 7323 §2 */
#define WSCALE_MAX	14	/* RFC 7323 §2.3: a larger shift is taken as 14 */

#define TCP_SNDBUF	8192	/* bytes queued per connection */
#define TCP_WINDOW	8192	/* what we advertise: data is handed up at once */
#define TCP_MSS_DEFAULT	536	/* the peer's MSS when it sends none (RFC 9293 §3.7.1) */
#define RTO_INITIAL_MS	1000	/* RFC 6298 §2.1 */
#define RTO_MIN_MS	200	/* below RFC 6298's 1 s, as Linux does */
#define RTO_MAX_MS	60000
#define TCP_RETRIES	6	/* retransmissions before giving up */
#define SYN_RETRIES	3	/* SYN-ACKs before forgetting a half-open connection */
/*
 * Data and FINs wait while fewer packet buffers than this are free: the
 * last ones are kept for ACKs, SYN-ACKs and RSTs, which are not queued
 * anywhere, and for the receive ring, which brings the ACKs that free
 * the send buffers.
 */
#define TX_RESERVE	8
/*
 * TIME-WAIT lasts 2 MSL, four minutes in RFC 9293. fern keeps 2 s: its
 * initial sequence numbers change with time (RFC 6528), and a slot in
 * TIME-WAIT is reused for a new SYN when the table is full (RFC 6191).
 */
#define TIME_WAIT_MS	2000

/* Sequence numbers wrap: compare them as differences (RFC 1982). */
#define SEQ_LT(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)

enum tcp_state {
	TCP_FREE, TCP_SYN_RECEIVED, TCP_ESTABLISHED, TCP_CLOSE_WAIT, TCP_LAST_ACK,
	TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSING, TCP_TIME_WAIT,
};

static const char *const state_names[] = {
	"free", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "TIME-WAIT",
};

struct tcp_conn {
	enum tcp_state state;
	uint32_t raddr;			/* the client */
	uint16_t rport, lport;
	struct tcp_listener *listener;
	/* Sending (RFC 9293 §3.3.1): snd_una is the oldest unacknowledged
	 * sequence number, snd_nxt the next to send. snd_max is the most
	 * ever sent: a timeout takes snd_nxt back to snd_una, and an ACK of
	 * what was sent before it may still come. */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint16_t mss;			/* the most we put in one segment */
	uint8_t snd_shift;		/* the client's window scale (RFC 7323), 0 if none */
	bool wscale;			/* it offered one, so our SYN-ACK answers with 0 */
	uint8_t *buf;			/* TCP_SNDBUF bytes, a ring */
	size_t head, len;		/* the bytes from snd_una on: buf[head], len of them */
	bool fin_queued, fin_sent;	/* tcp_close() was called; the FIN is out */
	bool buffer_wait;		/* output() stopped for want of a packet buffer */
	/* Receiving: rcv_nxt is the next byte expected, rcv_acked the
	 * last acknowledgment number sent, rcv_wnd_sent the window it
	 * carried. */
	uint32_t rcv_nxt, rcv_acked, rcv_wnd_sent;
	/* Congestion control (RFC 5681) and the timer (RFC 6298). */
	uint32_t cwnd, ssthresh;
	unsigned int dupacks;
	uint32_t srtt, rttvar, rto;	/* ms; srtt 0: no sample yet */
	bool timing;			/* an RTT sample is running */
	uint32_t timed_seq;		/* ... until this is acknowledged */
	uint64_t timed_at;
	uint64_t opened_ms;		/* when the SYN came */
	unsigned int retries;
	struct loop_timer timer;
	/* The application. */
	const struct tcp_ops *ops;
	void *ctx;
	unsigned int busy;		/* inside tcp_input() or a callback */
	bool dead;			/* free it when no longer busy */
};

struct tcp_stats tcp_stats;
static struct tcp_conn conns[TCP_CONNS];
static unsigned int buffer_waiting;	/* connections with buffer_wait set */
static struct tcp_listener *listeners;
static uint64_t isn_secret;

static const char *const drop_names[TCP_DROPS] = {
#define TCP_DROP_NAME(id, name, why) [TCP_DROP_##id] = name,
	TCP_DROP_REASONS(TCP_DROP_NAME)
#undef TCP_DROP_NAME
};

const char *tcp_drop_name(enum tcp_drop why)
{
	return why < TCP_DROPS ? drop_names[why] : "?";
}

static void tcp_drop(struct pbuf *p, enum tcp_drop why)
{
	if (why < TCP_DROPS)
		tcp_stats.drops[why]++;
	pbuf_free(p);
}

static void conn_timer(void *ctx);
static void output(struct tcp_conn *c, bool force);

/*
 * The receive window: TCP_WINDOW, or less if the application says it
 * has less room (ops->room). Data is handed up as it arrives, so the
 * window is what the application can still take, never a buffer of
 * TCP's own.
 */
static uint32_t rcv_window(const struct tcp_conn *c)
{
	size_t room;

	if (!c->ops || !c->ops->room)
		return TCP_WINDOW;
	room = c->ops->room(c);
	return room < TCP_WINDOW ? (uint32_t)room : TCP_WINDOW;
}

/* ---- the pieces of a segment ------------------------------------------ */

/*
 * Send one segment to @raddr:@rport from @lport: @flags, @seq, @ack,
 * with @len bytes of data taken from @c's send buffer at @off (if @c),
 * and the MSS option on a SYN. A connection's segments carry its window.
 */
static void send_segment(struct tcp_conn *c, uint32_t raddr, uint16_t rport, uint16_t lport,
			 uint8_t flags, uint32_t seq, uint32_t ack, size_t off, size_t len)
{
	bool wscale = (flags & TCP_SYN) && c && c->wscale;
	size_t hlen = TCP_HDR_LEN + ((flags & TCP_SYN) ? 4 : 0) + (wscale ? 4 : 0);
	struct pbuf *p = pbuf_alloc();
	uint8_t *t;

	if (!p) {
		net_drop(NULL, NET_DROP_NO_BUFFER);
		return;
	}
	t = pbuf_put(p, hlen + len);
	put16(t, lport);
	put16(t + 2, rport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(hlen / 4 << 4);
	t[13] = flags;
	put16(t + 14, c ? rcv_window(c) : 0);
	put16(t + 16, 0);
	put16(t + 18, 0);
	if (flags & TCP_SYN) {
		t[20] = OPT_MSS;
		t[21] = 4;
		put16(t + 22, (uint16_t)(netif.dev->mtu - IPV4_HDR_LEN - TCP_HDR_LEN));
	}
	if (wscale) {
		/* A shift of 0 for our window, which fits 16 bits, and with it
		 * the client's scale is in effect (RFC 7323 §2.2). */
		t[24] = OPT_NOP;
		t[25] = OPT_WSCALE;
		t[26] = 3;
		t[27] = 0;
	}
	for (size_t i = 0; i < len; i++)
		t[hlen + i] = c->buf[(c->head + off + i) % TCP_SNDBUF];
	put16(t + 16, checksum_finish(checksum_add(ipv4_pseudo_sum(netif.addr, raddr, IP_PROTO_TCP,
								   hlen + len),
						   t, hlen + len)));
	tcp_stats.tx++;
	if (c && (flags & TCP_ACK)) {
		c->rcv_acked = ack;
		c->rcv_wnd_sent = rcv_window(c);
	}
	if (flags & TCP_RST)
		tcp_stats.resets_sent++;
	ipv4_output(p, raddr, IP_PROTO_TCP);
}

/* An ACK (or another control segment) of @c's, with no data. */
static void send_control(struct tcp_conn *c, uint8_t flags, uint32_t seq)
{
	send_segment(c, c->raddr, c->rport, c->lport, flags, seq, c->rcv_nxt, 0, 0);
}

/* ---- connections ----------------------------------------------------- */

/*
 * The initial sequence number (RFC 6528): a clock that advances 4 µs a
 * step, plus a hash of the connection and a secret, so that numbers are
 * neither guessable nor reused soon by the same pair of ports.
 */
static uint32_t initial_seq(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	uint64_t x = isn_secret ^ ((uint64_t)raddr << 32 | (uint32_t)rport << 16 | lport);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9UL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebUL;
	x ^= x >> 31;
	return (uint32_t)x + (uint32_t)(loop_now_ms() * 250);
}

/*
 * The ISNs' secret, from chapter 6's random source (virtio-rng, RDRAND,
 * or at worst the TSC, which the boot's "rng: source" line calls weak).
 * It is taken when the first port is listened on, at boot, not in the
 * middle of a packet: a virtio-rng request waits for the device.
 */
static void isn_seed(void)
{
	rng_fill(&isn_secret, sizeof(isn_secret));
	if (!isn_secret) {
		struct loop_stamp st;

		loop_stamp(&st);
		isn_secret = st.tsc * 0x9e3779b97f4a7c15UL;
	}
	isn_secret |= 1;
}

static struct tcp_conn *lookup(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	for (unsigned int i = 0; i < TCP_CONNS; i++) {
		struct tcp_conn *c = &conns[i];

		if (c->state != TCP_FREE && c->raddr == raddr && c->rport == rport &&
		    c->lport == lport)
			return c;
	}
	return NULL;
}

static void conn_free(struct tcp_conn *c)
{
	if (c->buffer_wait)
		buffer_waiting--;
	loop_timer_stop(&c->timer);
	kfree(c->buf);
	memset(c, 0, sizeof(*c));
}

/* A free slot, or the TIME-WAIT one closest to its end. */
static struct tcp_conn *conn_take(void)
{
	struct tcp_conn *oldest = NULL;

	for (unsigned int i = 0; i < TCP_CONNS; i++) {
		struct tcp_conn *c = &conns[i];

		if (c->state == TCP_FREE)
			return c;
		if (c->state == TCP_TIME_WAIT &&
		    (!oldest || c->timer.due_ms < oldest->timer.due_ms))
			oldest = c;
	}
	if (oldest)
		conn_free(oldest);
	return oldest;
}

/*
 * The connection is over for the application: tell it once, then keep
 * the slot only for TIME-WAIT, or free it (later, if we are inside a
 * callback or tcp_input()).
 */
static void conn_end(struct tcp_conn *c, int err, bool time_wait)
{
	const struct tcp_ops *ops = c->ops;

	c->ops = NULL;
	if (ops && ops->closed) {
		c->busy++;
		ops->closed(c, err);
		c->busy--;
	}
	if (time_wait) {
		c->state = TCP_TIME_WAIT;
		kfree(c->buf);
		c->buf = NULL;
		c->len = 0;
		loop_timer_start(&c->timer, "tcp time-wait", TIME_WAIT_MS, conn_timer, c);
		return;
	}
	if (c->busy)
		c->dead = true;
	else
		conn_free(c);
}

static void arm_rto(struct tcp_conn *c)
{
	loop_timer_start(&c->timer, "tcp retransmit", c->rto, conn_timer, c);
}

/* Bytes sent and not acknowledged, the SYN and the FIN counted. */
static uint32_t in_flight(const struct tcp_conn *c)
{
	return c->snd_nxt - c->snd_una;
}

/* Whether data may take a packet buffer: more than TX_RESERVE are free. */
static bool buffers_free(void)
{
	return pbuf_available() > TX_RESERVE;
}

/*
 * Whether a segment of data (or the FIN) may take a packet buffer now.
 * If not, @c waits: tcp_buffers_back() calls output() again once the
 * device has given buffers back. Sending the segment anyway would lose
 * it, and only the retransmission timer, 200 ms or more later, would
 * notice.
 */
static bool buffer_for(struct tcp_conn *c)
{
	if (buffers_free())
		return true;
	if (!c->buffer_wait) {
		c->buffer_wait = true;
		buffer_waiting++;
		tcp_stats.buffer_waits++;
	}
	return false;
}

/*
 * Send what the windows allow: data from the buffer while the peer's
 * window and the congestion window have room, then the FIN once every
 * byte is out. With @force, one segment goes even into a closed window:
 * a retransmission, or a zero-window probe.
 */
static void output(struct tcp_conn *c, bool force)
{
	uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;

	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	    c->state != TCP_FIN_WAIT_1 && c->state != TCP_LAST_ACK && c->state != TCP_CLOSING)
		return;
	for (;;) {
		size_t off = in_flight(c);	/* data already sent (no SYN now) */
		size_t n;

		if (c->fin_sent || off >= c->len)
			break;
		if (in_flight(c) >= wnd && !force)
			break;
		if (!buffer_for(c))
			break;
		n = c->len - off;
		if (n > c->mss)
			n = c->mss;
		if (!force && n > wnd - in_flight(c))
			n = wnd - in_flight(c);
		if (n == 0)
			n = 1;
		if (!c->timing) {
			c->timing = true;
			c->timed_seq = c->snd_nxt + (uint32_t)n;
			c->timed_at = loop_now_ms();
		}
		send_segment(c, c->raddr, c->rport, c->lport,
			     TCP_ACK | (off + n == c->len ? TCP_PSH : 0),
			     c->snd_nxt, c->rcv_nxt, off, n);
		c->snd_nxt += (uint32_t)n;
		force = false;
	}
	if (c->fin_queued && !c->fin_sent && in_flight(c) == c->len &&
	    (in_flight(c) < wnd || force || c->len == 0) && buffer_for(c)) {
		send_control(c, TCP_FIN | TCP_ACK, c->snd_nxt);
		c->snd_nxt++;
		c->fin_sent = true;
		if (c->state == TCP_ESTABLISHED)
			c->state = TCP_FIN_WAIT_1;
		else if (c->state == TCP_CLOSE_WAIT)
			c->state = TCP_LAST_ACK;
	}
	if (SEQ_LT(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
	if (in_flight(c) && !c->timer.armed)
		arm_rto(c);
	else if (!in_flight(c) && c->len && !c->timer.armed)
		arm_rto(c);		/* the peer's window is shut: probe it */
}

/*
 * The connection's one timer: TIME-WAIT's end, a SYN-ACK or a segment
 * to send again (RFC 6298 §5: back off, and go back to snd_una), or a
 * probe of a shut window.
 */
static void conn_timer(void *ctx)
{
	struct tcp_conn *c = ctx;

	if (c->state == TCP_TIME_WAIT) {
		conn_free(c);
		return;
	}
	if (++c->retries > (c->state == TCP_SYN_RECEIVED ? SYN_RETRIES : TCP_RETRIES)) {
		tcp_stats.timeouts++;
		if (c->state != TCP_SYN_RECEIVED)
			send_control(c, TCP_RST | TCP_ACK, c->snd_nxt);
		conn_end(c, -ETIMEDOUT, false);
		return;
	}
	c->rto = c->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto * 2;
	c->timing = false;		/* Karn: no sample from a retransmission */
	tcp_stats.retransmits++;
	if (c->state == TCP_SYN_RECEIVED) {
		send_segment(c, c->raddr, c->rport, c->lport, TCP_SYN | TCP_ACK, c->iss,
			     c->rcv_nxt, 0, 0);
		arm_rto(c);
		return;
	}
	if (in_flight(c)) {
		uint32_t half = in_flight(c) / 2;

		c->ssthresh = half > 2U * c->mss ? half : 2U * c->mss;
		c->cwnd = c->mss;
		c->snd_nxt = c->snd_una;
		c->fin_sent = false;
	}
	output(c, true);
	if (!c->timer.armed)
		arm_rto(c);
}

/*
 * The loop's poller for connections that stopped for want of a packet
 * buffer (buffer_for()). It runs after the card's poller, which gives
 * back the buffers of frames sent and refills the receive ring first.
 * It starts where it stopped last time, so that under a long shortage
 * every waiting connection gets its turn rather than the first few.
 */
static bool tcp_buffers_back(void *ctx)
{
	static unsigned int next;
	uint64_t sent = tcp_stats.tx;

	(void)ctx;
	for (unsigned int k = 0; k < TCP_CONNS && buffer_waiting; k++) {
		struct tcp_conn *c = &conns[next];

		next = (next + 1) % TCP_CONNS;
		if (!c->buffer_wait)
			continue;
		if (!buffers_free())
			break;
		c->buffer_wait = false;
		buffer_waiting--;
		output(c, false);
	}
	return tcp_stats.tx != sent;
}

static bool tcp_buffers_ready(void *ctx)
{
	(void)ctx;
	return buffer_waiting && buffers_free();
}

static struct loop_poller buffers_poller = {
	.name = "tcp buffer wait",
	.poll = tcp_buffers_back,
	.ready = tcp_buffers_ready,
};

/* ---- input ------------------------------------------------------------ */

/* What a segment says, once its header was checked. */
struct segment {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, mss;		/* mss 0: no option */
	bool wscale;			/* a window scale option came ... */
	uint8_t shift;			/* ... with this shift */
	const uint8_t *data;
	size_t len;
};

/*
 * The options between byte 20 and the data offset: every length checked
 * against what is left, and never 0 or 1, which would make a loop that
 * does not advance (picoTCP's CVE-2020-24337). Only MSS is used.
 */
static int parse_options(const uint8_t *o, size_t len, struct segment *s)
{
	size_t at = 0;

	while (at < len) {
		uint8_t kind = o[at], n;

		if (kind == OPT_END)
			return 0;
		if (kind == OPT_NOP) {
			at++;
			continue;
		}
		if (at + 2 > len)
			return -1;
		n = o[at + 1];
		if (n < 2 || at + n > len)
			return -1;
		if (kind == OPT_MSS) {
			if (n != 4)
				return -1;
			s->mss = get16(o + at + 2);
		} else if (kind == OPT_WSCALE) {
			if (n != 3)
				return -1;
			s->wscale = true;
			s->shift = o[at + 2] > WSCALE_MAX ? WSCALE_MAX : o[at + 2];
		}
		at += n;
	}
	return 0;
}

/* The answer to a segment for no connection (RFC 9293 §3.10.7.1). */
static void send_reset(const struct segment *s, uint32_t src)
{
	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK)
		send_segment(NULL, src, s->sport, s->dport, TCP_RST, s->ack, 0, 0, 0);
	else
		send_segment(NULL, src, s->sport, s->dport, TCP_RST | TCP_ACK, 0,
			     s->seq + (uint32_t)s->len + ((s->flags & TCP_SYN) ? 1 : 0) +
			     ((s->flags & TCP_FIN) ? 1 : 0), 0, 0);
}

/*
 * A slot for a new half-open connection: a free one, unless TCP_BACKLOG
 * are half-open already, in which case the oldest of them is forgotten.
 */
static struct tcp_conn *conn_take_half_open(void)
{
	struct tcp_conn *oldest = NULL;
	unsigned int half_open = 0;

	for (unsigned int i = 0; i < TCP_CONNS; i++) {
		struct tcp_conn *c = &conns[i];

		if (c->state != TCP_SYN_RECEIVED)
			continue;
		half_open++;
		if (!oldest || c->opened_ms < oldest->opened_ms)
			oldest = c;
	}
	if (half_open >= TCP_BACKLOG) {
		tcp_stats.syn_evicted++;
		conn_free(oldest);
		return oldest;
	}
	return conn_take();
}

/*
 * A SYN to a listening port (RFC 9293 §3.10.7.2): a new connection in
 * SYN-RECEIVED, answered with our SYN-ACK. The client's SYN takes one
 * sequence number, and so does ours.
 */
static void passive_open(struct tcp_listener *l, const struct segment *s, uint32_t src)
{
	struct tcp_conn *c = conn_take_half_open();

	if (!c) {
		tcp_stats.drops[TCP_DROP_FULL]++;
		return;
	}
	if (!isn_secret)
		isn_seed();
	c->state = TCP_SYN_RECEIVED;
	c->raddr = src;
	c->rport = s->sport;
	c->lport = s->dport;
	c->listener = l;
	c->opened_ms = loop_now_ms();
	c->rto = RTO_INITIAL_MS;
	c->cwnd = 10U * TCP_MSS_DEFAULT;	/* RFC 6928's initial window, once mss is known */
	c->ssthresh = 0xffffffffU;
	/* The window of a SYN is never scaled; those after it are, if the
	 * client offered a scale: the SYN-ACK then offers one too (of 0). */
	c->wscale = s->wscale;
	c->snd_shift = s->wscale ? s->shift : 0;
	/* LAB 8 BEGIN: rcv_nxt after the client's SYN; iss = initial_seq(); snd_una, snd_nxt and snd_max as our SYN leaves them; snd_wnd, snd_wl1, snd_wl2 from the SYN; mss: the client's option or TCP_MSS_DEFAULT, at most what the MTU holds (mtu - IPV4_HDR_LEN - TCP_HDR_LEN), at least 64; then send our SYN-ACK (send_segment) and arm_rto() */
	c->rcv_nxt = s->seq + 1;
	c->iss = initial_seq(src, s->sport, s->dport);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss + 1;
	c->snd_max = c->snd_nxt;
	c->snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = c->iss;
	c->mss = s->mss ? s->mss : TCP_MSS_DEFAULT;
	if (c->mss > netif.dev->mtu - IPV4_HDR_LEN - TCP_HDR_LEN)
		c->mss = (uint16_t)(netif.dev->mtu - IPV4_HDR_LEN - TCP_HDR_LEN);
	if (c->mss < 64)
		c->mss = 64;
	send_segment(c, src, s->sport, s->dport, TCP_SYN | TCP_ACK, c->iss, c->rcv_nxt, 0, 0);
	arm_rto(c);
	/* LAB 8 STUB: static bool said; (void)initial_seq; if (!said) kprintf("lab 8: passive_open() is not implemented, so no SYN is answered\n"); said = true; conn_free(c); return; */
	/* LAB 8 END */
	c->cwnd = 10U * c->mss;
}

/* A sample of the round trip (RFC 6298 §2). */
static void rtt_sample(struct tcp_conn *c, uint32_t ms)
{
	uint32_t delta;

	if (!c->srtt) {
		c->srtt = ms ? ms : 1;
		c->rttvar = ms / 2;
	} else {
		delta = c->srtt > ms ? c->srtt - ms : ms - c->srtt;
		c->rttvar = (3 * c->rttvar + delta) / 4;
		c->srtt = (7 * c->srtt + ms) / 8;
		if (!c->srtt)
			c->srtt = 1;
	}
	c->rto = c->srtt + (4 * c->rttvar > 10 ? 4 * c->rttvar : 10);
	if (c->rto < RTO_MIN_MS)
		c->rto = RTO_MIN_MS;
	if (c->rto > RTO_MAX_MS)
		c->rto = RTO_MAX_MS;
}

/*
 * An ACK that moves snd_una: forget what it covers, grow the windows.
 * The buffer holds the bytes from snd_una on, and the FIN is the one
 * sequence number after them, so an ACK beyond the buffer acknowledges
 * the FIN. An ACK beyond snd_nxt (up to snd_max) is for what was sent
 * before a timeout took snd_nxt back: nothing of it needs sending again.
 */
static void acked(struct tcp_conn *c, uint32_t ack)
{
	uint32_t n = ack - c->snd_una;
	bool fin_acked = n > c->len;
	uint32_t data = fin_acked ? (uint32_t)c->len : n;

	if (SEQ_LT(c->snd_nxt, ack))
		c->snd_nxt = ack;
	if (fin_acked)
		c->fin_sent = true;
	c->head = (c->head + data) % TCP_SNDBUF;
	c->len -= data;
	c->snd_una = ack;
	if (c->timing && SEQ_LEQ(c->timed_seq, ack)) {
		c->timing = false;
		rtt_sample(c, (uint32_t)(loop_now_ms() - c->timed_at));
	}
	if (c->cwnd < c->ssthresh)
		c->cwnd += n < c->mss ? n : c->mss;		/* slow start */
	else
		c->cwnd += (uint32_t)c->mss * c->mss / c->cwnd + 1;	/* congestion avoidance */
	c->retries = 0;
	c->dupacks = 0;
	loop_timer_stop(&c->timer);
	if (in_flight(c))
		arm_rto(c);
	if (fin_acked) {
		if (c->state == TCP_FIN_WAIT_1)
			c->state = TCP_FIN_WAIT_2;
		else if (c->state == TCP_CLOSING)
			conn_end(c, 0, true);
		else if (c->state == TCP_LAST_ACK)
			conn_end(c, 0, false);
	}
}

/* The three-way handshake's last step: the connection is the application's. */
static void established(struct tcp_conn *c)
{
	c->state = TCP_ESTABLISHED;
	c->snd_una = c->snd_nxt;
	c->retries = 0;
	loop_timer_stop(&c->timer);
	tcp_stats.accepted++;
	c->busy++;
	if (!c->listener->accept || c->listener->accept(c->listener, c) != 0 || !c->ops) {
		c->busy--;
		send_control(c, TCP_RST | TCP_ACK, c->snd_nxt);
		conn_end(c, -ECONNRESET, false);
		return;
	}
	c->busy--;
}

/*
 * RFC 9293 §3.10.7.4's test: is any of a segment of @n sequence numbers
 * (its data and FIN) from @seq inside the receive window, rcv_nxt up to
 * rcv_nxt + TCP_WINDOW? An empty segment is if @seq is in the window; a
 * longer one is if its first or its last number is. The test keeps the
 * whole TCP_WINDOW even when the window advertised is smaller (what the
 * application can take): the data step trims what is beyond it, so the
 * RFC's rows for a zero window do not arise. Sequence numbers wrap at 2^32: compare them with
 * SEQ_LT and SEQ_LEQ, never with < on the numbers themselves.
 */
static bool acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t n)
{
	/* LAB 8 BEGIN: the window is [c->rcv_nxt, c->rcv_nxt + TCP_WINDOW); n == 0: acceptable if seq is in it; else if seq or seq + n - 1 is; use SEQ_LEQ/SEQ_LT, which survive wrap-around */
	uint32_t first = c->rcv_nxt, end = c->rcv_nxt + TCP_WINDOW;

	if (n == 0)
		return SEQ_LEQ(first, seq) && SEQ_LT(seq, end);
	return (SEQ_LEQ(first, seq) && SEQ_LT(seq, end)) ||
	       (SEQ_LEQ(first, seq + n - 1) && SEQ_LT(seq + n - 1, end));
	/* LAB 8 STUB: static bool said; (void)c; (void)seq; (void)n; if (!said) kprintf("lab 8: acceptable() is not implemented, so every segment is dropped as out of window\n"); said = true; return false; */
	/* LAB 8 END */
}

/*
 * Whether the window grew enough since it was last advertised that the
 * client should hear of it: from zero, or by a segment's worth (the
 * receiver's side of silly window avoidance, RFC 9293 §3.8.6.2.2).
 */
static bool window_opened(const struct tcp_conn *c)
{
	uint32_t now = rcv_window(c);

	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2)
		return false;
	return now > c->rcv_wnd_sent &&
	       (c->rcv_wnd_sent == 0 || now - c->rcv_wnd_sent >= c->mss ||
		now - c->rcv_wnd_sent >= TCP_WINDOW / 2);
}

/* A segment for connection @c (RFC 9293 §3.10.7.4). */
static void conn_input(struct tcp_conn *c, const struct segment *s)
{
	const uint8_t *data = s->data;
	size_t len = s->len;
	uint32_t seq = s->seq;
	bool ack_now = false, cut = false;

	if (c->state == TCP_SYN_RECEIVED && (s->flags & TCP_SYN) && !(s->flags & TCP_ACK) &&
	    seq + 1 == c->rcv_nxt) {
		/* The client's SYN again: our SYN-ACK was lost. */
		send_segment(c, c->raddr, c->rport, c->lport, TCP_SYN | TCP_ACK, c->iss,
			     c->rcv_nxt, 0, 0);
		return;
	}
	/* First, the sequence number: is any of the segment in our window? */
	if (!acceptable(c, seq, (uint32_t)len + ((s->flags & TCP_FIN) ? 1 : 0))) {
		tcp_stats.drops[TCP_DROP_OUT_OF_WINDOW]++;
		/*
		 * A segment that ends exactly at rcv_nxt is old (a FIN sent
		 * again because our ACK of it crossed it), but its ACK may be
		 * news: in a close from both ends, libslirp acknowledges our
		 * FIN on its FIN sent again. Take that ACK, as Linux does,
		 * rather than leave the close to our retransmission timer.
		 */
		if ((s->flags & (TCP_ACK | TCP_RST | TCP_SYN)) == TCP_ACK &&
		    seq + (uint32_t)len + ((s->flags & TCP_FIN) ? 1 : 0) == c->rcv_nxt &&
		    c->state != TCP_SYN_RECEIVED && SEQ_LT(c->snd_una, s->ack) &&
		    SEQ_LEQ(s->ack, c->snd_max)) {
			acked(c, s->ack);
			if (c->state == TCP_FREE || c->dead)
				return;
		}
		if (!(s->flags & TCP_RST))
			send_control(c, TCP_ACK, c->snd_nxt);
		/* In TIME-WAIT this is the peer's FIN again (its number is
		 * behind rcv_nxt): our ACK was lost, so wait 2 MSL from now
		 * (RFC 9293 §3.10.7.4). */
		if (c->state == TCP_TIME_WAIT && (s->flags & TCP_FIN))
			loop_timer_start(&c->timer, "tcp time-wait", TIME_WAIT_MS, conn_timer, c);
		return;
	}
	/* Second, RST: only exactly at rcv_nxt (RFC 5961 §3.2). */
	if (s->flags & TCP_RST) {
		if (seq != c->rcv_nxt) {
			tcp_stats.drops[TCP_DROP_RST_IGNORED]++;
			send_control(c, TCP_ACK, c->snd_nxt);	/* the challenge ACK */
			return;
		}
		conn_end(c, -ECONNRESET, false);
		return;
	}
	/* Third, a SYN here is an attack or a confused peer (RFC 5961 §4). */
	if (s->flags & TCP_SYN) {
		tcp_stats.drops[TCP_DROP_SYN_IGNORED]++;
		send_control(c, TCP_ACK, c->snd_nxt);
		return;
	}
	if (!(s->flags & TCP_ACK)) {
		tcp_stats.drops[TCP_DROP_NO_ACK]++;
		return;
	}
	/* Fourth, the ACK. */
	if (c->state == TCP_SYN_RECEIVED) {
		if (s->ack != c->snd_nxt) {
			tcp_stats.drops[TCP_DROP_BAD_ACK]++;
			send_segment(NULL, c->raddr, c->rport, c->lport, TCP_RST, s->ack, 0, 0, 0);
			return;
		}
		established(c);
		if (c->dead)
			return;
	}
	if (SEQ_LT(c->snd_max, s->ack)) {
		tcp_stats.drops[TCP_DROP_BAD_ACK]++;
		send_control(c, TCP_ACK, c->snd_nxt);
		return;
	}
	if (SEQ_LT(c->snd_wl1, seq) || (c->snd_wl1 == seq && SEQ_LEQ(c->snd_wl2, s->ack))) {
		bool was_shut = c->snd_wnd == 0;

		c->snd_wnd = (uint32_t)s->wnd << c->snd_shift;
		c->snd_wl1 = seq;
		c->snd_wl2 = s->ack;
		/*
		 * The window opens: what the probes carried was outside it,
		 * so send from snd_una now rather than when the backed-off
		 * timer says (up to a minute).
		 */
		if (was_shut && c->snd_wnd && in_flight(c)) {
			c->snd_nxt = c->snd_una;
			c->fin_sent = false;
			loop_timer_stop(&c->timer);
		}
	}
	/*
	 * An answer while the window is shut says the peer is there: its
	 * probes do not count towards giving up, however long it keeps
	 * the window shut (RFC 1122 §4.2.2.17), as long as the application
	 * still holds the connection. Once it has closed it, nobody will
	 * read what the window lets through, and a peer that answers every
	 * probe and never opens would keep the connection's memory for
	 * ever, one connection after another: then the probes count like
	 * retransmissions, and the connection ends as they do.
	 */
	if (c->snd_wnd == 0 && !c->fin_queued)
		c->retries = 0;
	if (SEQ_LT(c->snd_una, s->ack)) {
		bool had_room = tcp_send_space(c) > 0;

		acked(c, s->ack);
		if (c->state == TCP_FREE || c->dead || c->state == TCP_TIME_WAIT)
			return;
		if (c->ops && c->ops->sent && (!had_room || c->len < TCP_SNDBUF)) {
			c->busy++;
			c->ops->sent(c);
			c->busy--;
			if (c->dead)
				return;
		}
	} else if (s->ack == c->snd_una && len == 0 && !(s->flags & TCP_FIN) && in_flight(c)) {
		/* A duplicate ACK; the third says a segment was lost (RFC 5681 §3.2). */
		if (++c->dupacks == 3) {
			uint32_t half = in_flight(c) / 2;
			size_t n = c->len < c->mss ? c->len : c->mss;

			c->ssthresh = half > 2U * c->mss ? half : 2U * c->mss;
			c->cwnd = c->ssthresh;
			c->timing = false;
			if (n) {
				tcp_stats.retransmits++;
				send_segment(c, c->raddr, c->rport, c->lport, TCP_ACK, c->snd_una,
					     c->rcv_nxt, 0, n);
			}
		}
	}
	/* Fifth, the data: what is new of it, if it starts where we are. */
	if (len && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
		    c->state == TCP_FIN_WAIT_2)) {
		uint32_t win = rcv_window(c);

		if (SEQ_LT(c->rcv_nxt, seq)) {
			tcp_stats.drops[TCP_DROP_OUT_OF_ORDER]++;
			send_control(c, TCP_ACK, c->snd_nxt);
			return;
		}
		data += c->rcv_nxt - seq;
		len -= c->rcv_nxt - seq;
		if (len > win) {
			len = win;		/* the rest is past the window, FIN too */
			cut = true;
		}
		seq = c->rcv_nxt;
		c->rcv_nxt += (uint32_t)len;
		ack_now = true;
		if (c->ops && c->ops->recv && len) {
			c->busy++;
			c->ops->recv(c, data, len);
			c->busy--;
			if (c->dead)
				return;
		}
	}
	/* Sixth, the FIN, if nothing is missing before it. */
	if ((s->flags & TCP_FIN) && !cut && seq + (uint32_t)len == c->rcv_nxt &&
	    c->state != TCP_CLOSE_WAIT && c->state != TCP_LAST_ACK && c->state != TCP_CLOSING &&
	    c->state != TCP_TIME_WAIT) {
		c->rcv_nxt++;
		ack_now = true;
		if (c->state == TCP_ESTABLISHED) {
			c->state = TCP_CLOSE_WAIT;
			if (c->ops && c->ops->recv) {
				c->busy++;
				c->ops->recv(c, NULL, 0);
				c->busy--;
				if (c->dead)
					return;
			}
		} else if (c->state == TCP_FIN_WAIT_1) {
			c->state = TCP_CLOSING;
		} else if (c->state == TCP_FIN_WAIT_2) {
			send_control(c, TCP_ACK, c->snd_nxt);
			conn_end(c, 0, true);
			return;
		}
	}
	if (c->state == TCP_FREE || c->state == TCP_TIME_WAIT)
		return;
	/* Data (or the FIN) that output() sends carries the ACK; else a bare one. */
	output(c, false);
	if (ack_now && c->rcv_acked != c->rcv_nxt)
		send_control(c, TCP_ACK, c->snd_nxt);
	else if (window_opened(c))
		send_control(c, TCP_ACK, c->snd_nxt);	/* a window update */
}

static void tcp_input(struct pbuf *p, uint32_t src, uint32_t dst, uint8_t ttl)
{
	const uint8_t *t = p->data;
	struct segment s;
	struct tcp_conn *c;
	size_t off;

	(void)ttl;
	tcp_stats.rx++;
	if (p->len < TCP_HDR_LEN) {
		tcp_drop(p, TCP_DROP_SHORT);
		return;
	}
	off = (size_t)(t[12] >> 4) * 4;
	if (off < TCP_HDR_LEN || off > p->len) {
		tcp_drop(p, TCP_DROP_HEADER_LEN);
		return;
	}
	if (checksum_finish(checksum_add(ipv4_pseudo_sum(src, dst, IP_PROTO_TCP, p->len), t,
					 p->len)) != 0) {
		tcp_drop(p, TCP_DROP_CHECKSUM);
		return;
	}
	memset(&s, 0, sizeof(s));
	if (parse_options(t + TCP_HDR_LEN, off - TCP_HDR_LEN, &s) != 0) {
		tcp_drop(p, TCP_DROP_OPTIONS);
		return;
	}
	s.sport = get16(t);
	s.dport = get16(t + 2);
	s.seq = get32(t + 4);
	s.ack = get32(t + 8);
	s.flags = t[13];
	s.wnd = get16(t + 14);
	s.data = t + off;
	s.len = p->len - off;
	c = lookup(src, s.sport, s.dport);
	if (c) {
		c->busy++;
		conn_input(c, &s);
		c->busy--;
		if (c->dead && !c->busy)
			conn_free(c);
		pbuf_free(p);
		return;
	}
	if ((s.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && dst == netif.addr) {
		for (struct tcp_listener *l = listeners; l; l = l->next) {
			if (l->port == s.dport) {
				passive_open(l, &s, src);
				pbuf_free(p);
				return;
			}
		}
	}
	if (dst == netif.addr)
		send_reset(&s, src);
	tcp_drop(p, TCP_DROP_NO_SOCKET);
}

static const struct ip_protocol tcp TABLE_ENTRY(ip_protocols) = {
	.number = IP_PROTO_TCP,
	.input = tcp_input,
};

/* ---- the application's side ------------------------------------------ */

int tcp_listen(struct tcp_listener *l, uint16_t port,
	       int (*accept)(struct tcp_listener *l, struct tcp_conn *c), void *ctx)
{
	for (struct tcp_listener *o = listeners; o; o = o->next) {
		if (o->port == port)
			return -EEXIST;
	}
	if (!isn_secret)
		isn_seed();
	loop_add_poller(&buffers_poller);	/* once: the loop ignores a second add */
	l->port = port;
	l->accept = accept;
	l->ctx = ctx;
	l->next = listeners;
	listeners = l;
	return 0;
}

void tcp_set_ops(struct tcp_conn *c, const struct tcp_ops *ops, void *ctx)
{
	c->ops = ops;
	c->ctx = ctx;
}

void *tcp_ctx(const struct tcp_conn *c)
{
	return c->ctx;
}

void tcp_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
	*addr = c->raddr;
	*port = c->rport;
}

size_t tcp_send_space(const struct tcp_conn *c)
{
	if (c->fin_queued || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT))
		return 0;
	return TCP_SNDBUF - c->len;
}

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	const uint8_t *d = data;
	size_t room = tcp_send_space(c);

	if (len > room)
		len = room;
	if (!len)
		return 0;
	if (!c->buf) {
		c->buf = kmalloc(TCP_SNDBUF);
		if (!c->buf)
			return 0;
	}
	for (size_t i = 0; i < len; i++)
		c->buf[(c->head + c->len + i) % TCP_SNDBUF] = d[i];
	c->len += len;
	output(c, false);
	return len;
}

void tcp_close(struct tcp_conn *c)
{
	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)
		return;
	c->fin_queued = true;
	output(c, false);
}

void tcp_abort(struct tcp_conn *c)
{
	if (c->state == TCP_FREE)
		return;
	send_control(c, TCP_RST | TCP_ACK, c->snd_nxt);
	conn_end(c, -ECONNRESET, false);
}

/* netstat's lines for TCP (net.h's net_reports). */
static void tcp_report(void)
{
	unsigned int by_state[TCP_TIME_WAIT + 1] = { 0 };

	for (unsigned int i = 0; i < TCP_CONNS; i++)
		by_state[conns[i].state]++;
	kprintf("tcp rx %lu tx %lu retransmits %lu resets %lu timeouts %lu accepted %lu "
		"syn-evicted %lu buffer-waits %lu\n", tcp_stats.rx, tcp_stats.tx,
		tcp_stats.retransmits, tcp_stats.resets_sent, tcp_stats.timeouts, tcp_stats.accepted,
		tcp_stats.syn_evicted, tcp_stats.buffer_waits);
	for (unsigned int s = TCP_SYN_RECEIVED; s <= TCP_TIME_WAIT; s++) {
		if (by_state[s])
			kprintf("tcp %s %u\n", state_names[s], by_state[s]);
	}
	for (unsigned int i = 0; i < TCP_DROPS; i++)
		kprintf("drop %s %lu\n", tcp_drop_name((enum tcp_drop)i), tcp_stats.drops[i]);
}

static const struct net_report tcp_netstat TABLE_ENTRY(net_reports) = {
	.print = tcp_report,
};
