/*
 * The event loop: pollers, timers, and the halt between them.
 *
 * A round runs every poller once, then every timer that is due. The loop
 * goes round again at once if anything did work or an interrupt handler
 * called loop_wake() meanwhile; otherwise it halts until the next
 * interrupt. The decision to halt and the halt itself happen with
 * interrupts off until STI; HLT (as in console_getc()): a wake-up that
 * arrives between the check and the halt would otherwise be slept through
 * until the next tick.
 *
 * Nothing here allocates: timers and pollers live in the objects they
 * serve, and the loop only links them.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/init.h>
#include <fern/loop.h>
#include <fern/shell.h>
#include <fern/table.h>
#include <fern/x86.h>

static struct loop_timer *timers;	/* armed timers, soonest first */
/* The time-stamp counter against the tick: the first sample, and the
 * counts per millisecond measured since (0: not yet). */
static uint64_t tsc_base, tsc_base_ms, tsc_per_ms;
static struct loop_poller *pollers;
static volatile bool woken;		/* an interrupt handler marked work */

uint64_t loop_now_ms(void)
{
	return timer_ticks() * 1000 / TIMER_HZ;
}

/* Take @t out of the list, if it is in it. */
static void timer_unlink(struct loop_timer *t)
{
	for (struct loop_timer **pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

/* Put @t into the list after the timers due no later than it (so timers
 * due at the same time fire in the order they were armed). */
static void timer_link(struct loop_timer *t)
{
	struct loop_timer **pp = &timers;

	while (*pp && (*pp)->due_ms <= t->due_ms)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

static void timer_arm(struct loop_timer *t, const char *name, uint32_t ms,
		      uint32_t period_ms, loop_fn fn, void *ctx)
{
	if (t->armed)
		timer_unlink(t);
	t->name = name;
	t->fn = fn;
	t->ctx = ctx;
	t->period_ms = period_ms;
	t->due_ms = loop_now_ms() + ms;
	timer_link(t);
}

/*
 * Learn the TSC's rate: the counts between the first sample and now,
 * over the milliseconds the tick says passed. The tick's 10 ms of
 * uncertainty is spread over the whole time since, so the rate only gets
 * closer. (A TSC that changes rate with the CPU's clock would fool this;
 * every x86 CPU since about 2008, and QEMU's, has a constant one.)
 */
static void tsc_learn(void)
{
	uint64_t ms = loop_now_ms(), tsc = rdtsc();

	if (!tsc_base) {
		tsc_base = tsc;
		tsc_base_ms = ms;
	} else if (ms - tsc_base_ms >= 100) {
		tsc_per_ms = (tsc - tsc_base) / (ms - tsc_base_ms);
	}
}

void loop_stamp(struct loop_stamp *s)
{
	s->tsc = rdtsc();
	s->ms = loop_now_ms();
}

uint64_t loop_since_us(const struct loop_stamp *s)
{
	uint64_t d;

	if (!tsc_per_ms)
		return (loop_now_ms() - s->ms) * 1000;
	d = rdtsc() - s->tsc;
	return d / tsc_per_ms * 1000 + d % tsc_per_ms * 1000 / tsc_per_ms;
}

void loop_timer_start(struct loop_timer *t, const char *name, uint32_t ms,
		      loop_fn fn, void *ctx)
{
	timer_arm(t, name, ms, 0, fn, ctx);
}

void loop_timer_periodic(struct loop_timer *t, const char *name,
			 uint32_t period_ms, loop_fn fn, void *ctx)
{
	timer_arm(t, name, period_ms, period_ms ? period_ms : 1, fn, ctx);
}

void loop_timer_stop(struct loop_timer *t)
{
	if (t->armed)
		timer_unlink(t);
}

void loop_add_poller(struct loop_poller *p)
{
	struct loop_poller **pp = &pollers;

	while (*pp) {
		if (*pp == p)
			return;
		pp = &(*pp)->next;
	}
	p->next = NULL;
	*pp = p;
}

void loop_wake(void)
{
	woken = true;
}

/*
 * Fire the timers that are due. A timer is unlinked before its function
 * runs, so the function may re-arm it, or stop or arm others; a periodic
 * timer is re-armed first, from its due time, so that it keeps its rhythm
 * even when a round was late.
 */
static bool run_timers(void)
{
	uint64_t now = loop_now_ms();
	bool did = false;

	while (timers && timers->due_ms <= now) {
		struct loop_timer *t = timers;

		timer_unlink(t);
		if (t->period_ms) {
			t->due_ms += t->period_ms;
			if (t->due_ms <= now)
				t->due_ms = now + t->period_ms;
			timer_link(t);
		}
		t->fn(t->ctx);
		did = true;
	}
	return did;
}

/*
 * A poller that is running (it called loop_wait(), which runs rounds of
 * its own) is skipped: no poller is ever entered twice.
 */
bool loop_run_once(void)
{
	bool did = false;

	woken = false;
	tsc_learn();
	for (struct loop_poller *p = pollers; p; p = p->next) {
		if (p->running)
			continue;
		p->running = true;
		if (p->poll(p->ctx)) {
			p->runs++;
			did = true;
		}
		p->running = false;
	}
	return run_timers() || did;
}

/* With interrupts off: has work come since the round looked? */
static bool work_waiting(void)
{
	if (woken || (timers && timers->due_ms <= loop_now_ms()))
		return true;
	for (struct loop_poller *p = pollers; p; p = p->next) {
		if (!p->running && p->ready && p->ready(p->ctx))
			return true;
	}
	return false;
}

/*
 * Halt until the next interrupt, unless work was marked since the round
 * began, a timer is already due or a poller has work waiting. Returns
 * with interrupts on.
 */
static void loop_idle(void)
{
	cli();
	if (work_waiting()) {
		sti();
		return;
	}
	sti_hlt();
}

int loop_wait(bool (*done)(void *ctx), void *ctx, uint32_t ms)
{
	uint64_t deadline = loop_now_ms() + ms;

	for (;;) {
		bool did;

		if (done(ctx))
			return 0;
		if (loop_now_ms() >= deadline)
			return -ETIMEDOUT;
		did = loop_run_once();
		if (!did && !done(ctx))
			loop_idle();
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

/* The shell, as one client of the loop: it edits and runs whatever input
 * the keyboard's and COM1's interrupts have queued. */
static bool shell_client(void *ctx)
{
	(void)ctx;
	shell_poll();
	return false;
}

static struct loop_poller shell_poller = { .name = "shell", .poll = shell_client };

void loop_run(bool shell)
{
	if (!interrupts_on()) {
		kprintf("loop: interrupts are off, so nothing would ever wake the loop; halting\n");
		halt_forever();
	}
	if (shell)
		loop_add_poller(&shell_poller);
	for (;;) {
		if (!loop_run_once())
			loop_idle();
	}
}
BOOT_IDLE(loop_run);

/* What the loop is serving: every poller and armed timer. */
static int cmd_loop(int argc, char **argv)
{
	uint64_t now = loop_now_ms();

	(void)argc;
	(void)argv;
	for (struct loop_poller *p = pollers; p; p = p->next)
		kprintf("  poller %-16s %lu rounds with work\n", p->name, p->runs);
	for (struct loop_timer *t = timers; t; t = t->next)
		kprintf("  timer  %-16s in %lu ms%s\n", t->name ? t->name : "?",
			t->due_ms > now ? t->due_ms - now : 0,
			t->period_ms ? " (periodic)" : "");
	if (tsc_per_ms)
		kprintf("  tsc    %lu counts a ms, learnt over %lu ms\n", tsc_per_ms,
			now - tsc_base_ms);
	return 0;
}
KCMD(loop, "list the event loop's pollers and timers", cmd_loop);
