/*
 * The TCP echo service (RFC 862, port 7): every byte that arrives goes
 * back, and the connection closes when the client's does. Its only job is
 * to let tests and readers talk TCP to the kernel before the HTTP server
 * exists; it keeps nothing but what the send buffer could not take.
 */
#include <fern/boot.h>
#include <fern/console.h>
#include <fern/init.h>
#include <fern/net.h>
#include <fern/tcp.h>

static void echo_recv(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	if (!len) {
		tcp_close(c);
		return;
	}
	/* What the send buffer cannot take is lost; the buffer (8 KiB) is
	 * larger than the window the client may send into (8 KiB). */
	tcp_send(c, data, len);
}

static void echo_closed(struct tcp_conn *c, int err)
{
	(void)c;
	(void)err;
}

static const struct tcp_ops echo_ops = {
	.recv = echo_recv,
	.closed = echo_closed,
};

static int echo_accept(struct tcp_listener *l, struct tcp_conn *c)
{
	(void)l;
	tcp_set_ops(c, &echo_ops, NULL);
	return 0;
}

static struct tcp_listener echo_listener;

static int tcp_echo_start(const struct boot_info *info)
{
	(void)info;
	if (!netif.dev)
		return 0;
	return tcp_listen(&echo_listener, 7, echo_accept, NULL);
}
INITCALL(INIT_NET, tcp_echo_start);
