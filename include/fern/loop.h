/**
 * @file loop.h
 * @brief The event loop (chapter 7): the one owner of the kernel's idle
 *        time, with pollers for ready work and timers for work that is due.
 *
 * Until chapter 7 an idle kernel just halted between interrupts, and the
 * shell was the only thing that had work to do. A network stack has
 * several: frames to take from the device, ARP entries to expire, a DHCP
 * lease to renew, a ping to time out. The loop runs all of them, one at a
 * time and always outside interrupt context:
 *
 * - an interrupt handler only acknowledges its device and calls
 *   loop_wake(): "there is work";
 * - the loop then runs every *poller* (virtio-net's takes received frames
 *   and hands them to the stack; the shell's edits the line being typed),
 *   and every *timer* that is due;
 * - when a whole round found nothing to do and no timer is due, it halts
 *   (`sti; hlt`) until the next interrupt, which at the latest is the
 *   next timer tick: never a busy wait.
 *
 * Everything the loop runs runs to completion and must not wait: a poller
 * handles what is there and returns. Code that must wait for an event (a
 * shell command that pings, the boot waiting for a DHCP lease) calls
 * loop_wait(), which runs the other pollers and the timers meanwhile.
 *
 * The clock is the PIT's tick (TIMER_HZ, cpu.h): timers have 10 ms
 * resolution, which is plenty for ARP (minutes), DHCP (seconds) and a
 * ping's timeout. What a round trip takes (well under a tick) is measured
 * with the CPU's time-stamp counter instead (loop_since_us()).
 */
#ifndef FERN_LOOP_H
#define FERN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/** Work the loop runs: a timer's function. */
typedef void (*loop_fn)(void *ctx);

/**
 * A timer: call @c fn(ctx) once when it is due, or every @c period_ms.
 * The caller owns the struct (usually inside the object the timer is
 * for); the loop only links it into its list while it is armed.
 */
struct loop_timer {
	const char *name;		/**< for `timers`, e.g. "arp expiry" */
	loop_fn fn;			/**< what runs */
	void *ctx;			/**< what @c fn gets */
	uint64_t due_ms;		/**< loop_now_ms() at which it fires */
	uint32_t period_ms;		/**< 0: one-shot */
	bool armed;			/**< in the loop's list */
	struct loop_timer *next;	/**< the loop's list, soonest first */
};

/**
 * A poller: work that may be ready after any interrupt. @c poll handles
 * what is there without waiting and returns true if it did something (the
 * loop then goes round again before it halts).
 */
struct loop_poller {
	const char *name;		/**< for `timers`, e.g. "virtio-net rx" */
	bool (*poll)(void *ctx);	/**< the work; true if it did some */
	/**
	 * Optional: whether work is waiting, asked with interrupts off just
	 * before the loop halts. An interrupt that came after @c poll looked
	 * (a frame the device used meanwhile) would otherwise wait for the
	 * next interrupt. It must only look, never change anything.
	 */
	bool (*ready)(void *ctx);
	void *ctx;			/**< what @c poll and @c ready get */
	bool running;			/**< inside its poll: loop_wait() skips it */
	uint64_t runs;			/**< polls that did something */
	struct loop_poller *next;	/**< the loop's list */
};

/** Milliseconds since the timer started (chapter 3's ticks). */
uint64_t loop_now_ms(void);

/**
 * Arm @p t to call @p fn(@p ctx) once, @p ms milliseconds from now (at the
 * first tick after that). Re-arming an armed timer moves it.
 */
void loop_timer_start(struct loop_timer *t, const char *name, uint32_t ms,
		      loop_fn fn, void *ctx);

/** Arm @p t to call @p fn(@p ctx) every @p period_ms milliseconds. */
void loop_timer_periodic(struct loop_timer *t, const char *name,
			 uint32_t period_ms, loop_fn fn, void *ctx);

/** Disarm @p t (nothing if it is not armed). */
void loop_timer_stop(struct loop_timer *t);

/** Add @p p to the pollers; it is polled from the next round on. */
void loop_add_poller(struct loop_poller *p);

/**
 * Say that there is work: the loop goes round once more before it halts.
 * Safe from an interrupt handler, which is what it is for.
 */
void loop_wake(void);

/**
 * One round: every poller not already running, then every timer that is
 * due. Returns whether anything did work. Interrupts must be on.
 */
bool loop_run_once(void);

/**
 * Run rounds until @p done(@p ctx) is true or @p ms milliseconds have
 * passed, halting between rounds when there is nothing to do.
 * @return 0 when done, -ETIMEDOUT otherwise.
 */
int loop_wait(bool (*done)(void *ctx), void *ctx, uint32_t ms);

/** Run rounds for @p ms milliseconds: a wait for nothing but time. */
void loop_sleep(uint32_t ms);

/** A moment, for timing what is shorter than a tick: see loop_since_us(). */
struct loop_stamp {
	uint64_t tsc;		/**< the time-stamp counter */
	uint64_t ms;		/**< loop_now_ms() */
};

/** Take the stamp of now into @p s. */
void loop_stamp(struct loop_stamp *s);

/**
 * Microseconds since @p s was taken, from the CPU's time-stamp counter.
 * Its rate is learnt against the timer's ticks while the loop runs, and
 * gets closer the longer it has run; until a round has seen 100 ms go
 * by, the answer is the ticks' (a multiple of 10 ms).
 */
uint64_t loop_since_us(const struct loop_stamp *s);

/**
 * Run the loop for good: the end of a boot once the loop exists. With
 * @p shell, the shell is one of its pollers, so the kernel keeps
 * answering the network while someone types.
 */
__attribute__((noreturn)) void loop_run(bool shell);

#endif
