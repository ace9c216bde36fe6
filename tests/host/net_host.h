/*
 * What the network stack (src/net/, with src/drivers/pbuf.c and netdev.c)
 * needs from the rest of the kernel, faked for its host unit test
 * (tests/host/test_net.c). The Makefile puts `-include` this header before
 * everything else when it compiles them.
 *
 * - The event loop is a fake clock the test moves with host_advance(),
 *   which fires each timer when the clock reaches it, in order;
 *   loop_wait() moves it 10 ms at a time until its condition holds. After
 *   every timer and every step, host_pump (the test's "other end of the
 *   wire") may answer what the stack sent.
 * - dma_alloc() is an aligned malloc, its "physical" address the pointer.
 * - kprintf() formats with fern's own engine (src/lib/format.c) into
 *   host_printed, so the test reads what a shell user would see.
 * - A network card whose transmit() copies each frame into host_frames
 *   and frees the buffer, as a driver would once the device is done.
 * - INITCALL() and KCMD() would put structs in linker sections the test
 *   cannot walk; here they define a pointer with a known name instead
 *   (host_initcall_net_start, host_kcmd_ping), which the test calls.
 *   Linker tables (ip_protocols) use the host linker's __start_/__stop_
 *   symbols instead of the kernel's linker script.
 */
#ifndef FERN_NET_HOST_H
#define FERN_NET_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keep the real init.h, shell.h and table.h out: their sections are
 * replaced. */
#define FERN_INIT_H
#define FERN_SHELL_H
#define FERN_TABLE_H

struct boot_info;

enum init_level {
	INIT_CPU, INIT_DRIVERS, INIT_MM, INIT_HEAP, INIT_DEVICES, INIT_NET, INIT_APP,
	INIT_LEVELS
};

#define INITCALL(level, fn) \
	int (*const host_initcall_##fn)(const struct boot_info *) = fn

typedef int (*kcmd_fn)(int argc, char **argv);

#define KCMD(name, help, fn) const kcmd_fn host_kcmd_##name = fn

/*
 * Linker tables (table.h) without the kernel's linker script: a section
 * whose name is a C identifier, whose bounds the host's linker provides
 * as __start_NAME and __stop_NAME. Weak, because a table with no entry
 * has no section, and then both are 0: an empty table.
 */
#define LINKER_TABLE(type, name) \
	extern const type __start_table_##name[] __attribute__((weak)), \
		__stop_table_##name[] __attribute__((weak))
#define DECLARE_LINKER_TABLE(type, name) LINKER_TABLE(type, name)
#define TABLE_ENTRY(name) __attribute__((used, section("table_" #name), aligned(8)))
#define for_each_table_entry(p, name) \
	for ((p) = __start_table_##name; (p) < __stop_table_##name; (p)++)

/** The fake clock: what loop_now_ms() returns. */
extern uint64_t host_now_ms;
/** Move the clock @p ms forward, firing every timer that falls due. */
void host_advance(uint64_t ms);
/**
 * Run every poller the stack added once, as a round of the loop does
 * after the card's poller; true if one did something. No test's clock
 * moves.
 */
bool host_poll(void);
/** Called after each timer and each step of loop_wait(); may be NULL. */
extern void (*host_pump)(void);
/**
 * How many timers are armed now; *@p name (if not NULL) is one of their
 * names. A fuzz target checks that none outlives what armed it.
 */
unsigned int host_timers_armed(const char **name);

/** Everything kprintf() printed since host_printed_reset(). */
#define HOST_PRINTED_MAX	(64 * 1024)
extern char host_printed[HOST_PRINTED_MAX];
void host_printed_reset(void);

/** One frame the stack handed to the card. */
struct host_frame {
	uint8_t data[2048];
	size_t len;
};

#define HOST_FRAMES_MAX	512
/** The frames sent since host_frames_reset(), in order. */
extern struct host_frame host_frames[HOST_FRAMES_MAX];
extern unsigned int host_frame_count;
/** Frames sent while host_frames was full (the test fails on them). */
extern unsigned int host_frames_lost;
void host_frames_reset(void);
/** Make transmit() fail with -ENOSPC, as a full queue does. */
extern bool host_tx_fail;

/** The fake card, MAC 52:54:00:12:34:56, MTU 1500. */
extern struct netdev host_dev;
/** Hand the frame @p f of @p len bytes to the stack, as the card would. */
void host_inject(const uint8_t *f, size_t len);

#endif
