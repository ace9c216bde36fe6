/*
 * The fakes of tests/host/net_host.h: the loop's clock and timers, DMA
 * memory, the console and a network card that records what it sends.
 */
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/format.h>
#include <fern/loop.h>
#include <fern/netdev.h>
#include <fern/pbuf.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t host_now_ms;
void (*host_pump)(void);
char host_printed[HOST_PRINTED_MAX];
static size_t printed_len;
struct host_frame host_frames[HOST_FRAMES_MAX];
unsigned int host_frame_count, host_frames_lost;
bool host_tx_fail;

static struct loop_timer *timers;	/* armed timers, in no order */

/* ---- the console ---- */

void host_printed_reset(void)
{
	printed_len = 0;
	host_printed[0] = '\0';
}

int kvprintf(const char *fmt, va_list ap)
{
	size_t room = HOST_PRINTED_MAX - printed_len;
	int n = kvsnprintf(host_printed + printed_len, room, fmt, ap);

	if (n > 0)
		printed_len += (size_t)n < room ? (size_t)n : room - 1;
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* ---- DMA memory ---- */

void *dma_alloc(size_t size, uint64_t *phys)
{
	size_t rounded = (size + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(4096, rounded);

	if (!p)
		return NULL;
	memset(p, 0, rounded);
	*phys = (uint64_t)(uintptr_t)p;
	return p;
}

void dma_free(void *virt, size_t size)
{
	(void)size;
	free(virt);
}

/* ---- the loop ---- */

uint64_t loop_now_ms(void)
{
	return host_now_ms;
}

/* The fake clock has no finer grain than its milliseconds. */
void loop_stamp(struct loop_stamp *s)
{
	s->tsc = 0;
	s->ms = host_now_ms;
}

uint64_t loop_since_us(const struct loop_stamp *s)
{
	return (host_now_ms - s->ms) * 1000;
}

void loop_timer_stop(struct loop_timer *t)
{
	for (struct loop_timer **pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

static void arm(struct loop_timer *t, const char *name, uint32_t ms, uint32_t period,
		loop_fn fn, void *ctx)
{
	loop_timer_stop(t);
	t->name = name;
	t->fn = fn;
	t->ctx = ctx;
	t->due_ms = host_now_ms + ms;
	t->period_ms = period;
	t->armed = true;
	t->next = timers;
	timers = t;
}

void loop_timer_start(struct loop_timer *t, const char *name, uint32_t ms, loop_fn fn,
		      void *ctx)
{
	arm(t, name, ms, 0, fn, ctx);
}

void loop_timer_periodic(struct loop_timer *t, const char *name, uint32_t period_ms,
			 loop_fn fn, void *ctx)
{
	arm(t, name, period_ms, period_ms, fn, ctx);
}

static struct loop_poller *pollers;

void loop_add_poller(struct loop_poller *p)
{
	for (struct loop_poller *o = pollers; o; o = o->next) {
		if (o == p)
			return;
	}
	p->next = pollers;
	pollers = p;
}

bool host_poll(void)
{
	bool did = false;

	for (struct loop_poller *p = pollers; p; p = p->next)
		did |= p->poll(p->ctx);
	return did;
}

void loop_wake(void)
{
}

/* Fire the soonest timer due by @limit; false if there is none. */
static bool fire_one(uint64_t limit)
{
	struct loop_timer *soonest = NULL;

	for (struct loop_timer *t = timers; t; t = t->next) {
		if (t->due_ms <= limit && (!soonest || t->due_ms < soonest->due_ms))
			soonest = t;
	}
	if (!soonest)
		return false;
	if (soonest->due_ms > host_now_ms)
		host_now_ms = soonest->due_ms;
	if (soonest->period_ms)
		soonest->due_ms += soonest->period_ms;
	else
		loop_timer_stop(soonest);
	soonest->fn(soonest->ctx);
	if (host_pump)
		host_pump();
	return true;
}

unsigned int host_timers_armed(const char **name)
{
	unsigned int n = 0;

	for (struct loop_timer *t = timers; t; t = t->next) {
		if (name && !n)
			*name = t->name;
		n++;
	}
	return n;
}

void host_advance(uint64_t ms)
{
	uint64_t target = host_now_ms + ms;

	while (fire_one(target))
		;
	host_now_ms = target;
}

bool loop_run_once(void)
{
	bool did = fire_one(host_now_ms);

	if (host_pump)
		host_pump();
	return did;
}

int loop_wait(bool (*done)(void *ctx), void *ctx, uint32_t ms)
{
	uint64_t end = host_now_ms + ms;

	for (;;) {
		if (host_pump)
			host_pump();
		if (done(ctx))
			return 0;
		if (host_now_ms >= end)
			return -ETIMEDOUT;
		host_advance(end - host_now_ms < 10 ? end - host_now_ms : 10);
	}
}

static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

void loop_sleep(uint32_t ms)
{
	loop_wait(never, NULL, ms);
}

void loop_run(bool shell)
{
	(void)shell;
	abort();
}

/* ---- the card ---- */

void host_frames_reset(void)
{
	host_frame_count = 0;
	host_frames_lost = 0;
}

static int host_open(struct netdev *dev)
{
	(void)dev;
	return 0;
}

static int host_transmit(struct netdev *dev, struct pbuf *p)
{
	if (host_tx_fail) {
		pbuf_free(p);
		return -ENOSPC;
	}
	if (host_frame_count < HOST_FRAMES_MAX && p->len <= sizeof(host_frames[0].data)) {
		struct host_frame *f = &host_frames[host_frame_count++];

		memcpy(f->data, p->data, p->len);
		f->len = p->len;
	} else {
		host_frames_lost++;
	}
	dev->tx_frames++;
	dev->tx_bytes += p->len;
	pbuf_free(p);
	return 0;
}

struct netdev host_dev = {
	.name = "fake-net 00:00.0",
	.mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
	.mtu = 1500,
	.open = host_open,
	.transmit = host_transmit,
};

/* Hand @f to the stack as the card would. */
void host_inject(const uint8_t *f, size_t len)
{
	struct pbuf *p = pbuf_alloc();

	if (!p) {
		printf("# the test could not get a packet buffer\n");
		abort();
	}
	memcpy(pbuf_put(p, len), f, len);
	netdev_receive(&host_dev, p);
}
