/*
 * Chapter 7's tests of the event loop: timers fire in the order they are
 * due, once or in rhythm, can be moved and stopped; loop_wait() ends when
 * its condition holds or its time is up; and a poller that waits is never
 * entered again while it does. They run on the real timer, so every time
 * bound has a tick (10 ms) of slack.
 */
#include <fern/errno.h>
#include <fern/ktest.h>
#include <fern/loop.h>

static char order[8];
static unsigned int fired;

static void note(void *ctx)
{
	if (fired < sizeof(order))
		order[fired] = *(const char *)ctx;
	fired++;
}

static bool all_fired(void *ctx)
{
	return fired >= *(unsigned int *)ctx;
}

KTEST(loop, "timers fire in the order they are due, not the order they were armed")
{
	static struct loop_timer a, b, c;
	unsigned int want = 3;

	fired = 0;
	loop_timer_start(&c, "c", 60, note, "c");
	loop_timer_start(&a, "a", 20, note, "a");
	loop_timer_start(&b, "b", 40, note, "b");
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 1000), 0);
	KTEST_EXPECT_EQ(fired, 3);
	KTEST_EXPECT(order[0] == 'a' && order[1] == 'b' && order[2] == 'c');
	KTEST_EXPECT(!a.armed && !b.armed && !c.armed);
}

KTEST(loop, "a one-shot timer fires no sooner than asked, and once")
{
	static struct loop_timer t;
	unsigned int want = 1;
	uint64_t start = loop_now_ms();

	fired = 0;
	loop_timer_start(&t, "once", 50, note, "x");
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 1000), 0);
	KTEST_EXPECT(loop_now_ms() - start >= 50);
	want = 2;
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 100), -ETIMEDOUT);
	KTEST_EXPECT_EQ(fired, 1);
}

KTEST(loop, "a periodic timer keeps firing until it is stopped")
{
	static struct loop_timer t;
	unsigned int want = 5;
	uint64_t start = loop_now_ms();

	fired = 0;
	loop_timer_periodic(&t, "every 20 ms", 20, note, "p");
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 1000), 0);
	loop_timer_stop(&t);
	KTEST_EXPECT(!t.armed);
	/* Five periods of 20 ms: at least 100 ms, and not much more. */
	KTEST_EXPECT(loop_now_ms() - start >= 100);
	KTEST_EXPECT(loop_now_ms() - start <= 300);
	want = 6;
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 80), -ETIMEDOUT);
	KTEST_EXPECT_EQ(fired, 5);
}

KTEST(loop, "re-arming a timer moves it; stopping it before it is due cancels it")
{
	static struct loop_timer t, u;
	unsigned int want = 1;

	fired = 0;
	loop_timer_start(&t, "moved", 20, note, "t");
	loop_timer_start(&u, "stopped", 30, note, "u");
	loop_timer_start(&t, "moved", 200, note, "t");
	loop_timer_stop(&u);
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 100), -ETIMEDOUT);
	KTEST_EXPECT_EQ(fired, 0);
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 1000), 0);
	KTEST_EXPECT(order[0] == 't');
}

static unsigned int entered, nested_depth, max_depth;

static bool idle_poll(void *ctx)
{
	(void)ctx;
	return false;
}

/* A poller that, the first time, waits inside itself. */
static bool waiting_poller(void *ctx)
{
	(void)ctx;
	entered++;
	if (++nested_depth > max_depth)
		max_depth = nested_depth;
	if (entered == 1)
		loop_sleep(30);
	nested_depth--;
	return false;
}

KTEST(loop, "a poller that waits inside itself is not entered again meanwhile")
{
	static struct loop_poller p = { .name = "test: waits", .poll = waiting_poller };
	static struct loop_timer t;
	unsigned int want = 1;

	entered = nested_depth = max_depth = 0;
	fired = 0;
	loop_add_poller(&p);
	loop_timer_start(&t, "end", 100, note, "e");
	KTEST_EXPECT_EQ(loop_wait(all_fired, &want, 1000), 0);
	KTEST_EXPECT(entered >= 2);
	KTEST_EXPECT_EQ(max_depth, 1);
	/* Out of the way of later tests: a poller that does nothing. */
	p.poll = idle_poll;
}
