/*
 * src/net/tcp.c, and a way to end every connection it holds (reset.h).
 * tcp_abort() is what an application calls: it tells the application
 * (the HTTP server frees its connection and stops its idle timer) and
 * frees the slot, so after it nothing of the connection may be left.
 */
#include "../../src/net/tcp.c"

#include "reset.h"

void fuzz_tcp_reset(void)
{
	for (unsigned int i = 0; i < TCP_CONNS; i++)
		tcp_abort(&conns[i]);
}
