/*
 * The TCP echo service (RFC 862, port 7): every byte that arrives goes
 * back, and the connection closes when the client's does. Its only job is
 * to let tests and readers talk TCP to the kernel before the HTTP server
 * exists. It keeps nothing of its own: the window it offers is the room
 * in its send buffer, so a client that sends without reading is slowed
 * down, and loses nothing.
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
	/* TCP gives no more than room() said, so the send buffer takes it all. */
	tcp_send(c, data, len);
}

/* The echo can take what its send buffer can: the window follows it. */
static size_t echo_room(const struct tcp_conn *c)
{
	return tcp_send_space(c);
}

static void echo_closed(struct tcp_conn *c, int err)
{
	(void)c;
	(void)err;
}

static const struct tcp_ops echo_ops = {
	.recv = echo_recv,
	.room = echo_room,
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
