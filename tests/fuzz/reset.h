/*
 * Putting the network stack back as it booted, between two fuzz inputs.
 *
 * libFuzzer calls a target once per input in one process, so the state
 * one input leaves (a connection, an ARP entry, a lease) would change
 * what the next one does: a crash could then not be replayed from its
 * input alone, and a full table would stop the fuzzer learning anything.
 * The state lives in static variables of src/net/tcp.c, arp.c and dhcp.c,
 * on purpose (no other file should touch it), so each reset is a small
 * file that #includes the kernel's own .c file and is built instead of
 * it (reset_tcp.c, reset_arp.c, reset_dhcp.c): the kernel needs no hook
 * it would never call, and what the reset does is the kernel's own code
 * (tcp_abort(), the ARP queue's drop) wherever there is such code.
 */
#ifndef FERN_FUZZ_RESET_H
#define FERN_FUZZ_RESET_H

struct boot_info;

/** Abort every connection, in whatever state, as tcp_abort() does. */
void fuzz_tcp_reset(void);
/** Forget every ARP entry (dropping what waited on it) and stop the tick. */
void fuzz_arp_reset(void);
/** Stop DHCP: its timers, its socket, its state; forget the address. */
void fuzz_dhcp_stop(void);
/** Start it as at boot, with @p info's command line: a DISCOVER goes out. */
void fuzz_dhcp_start(const struct boot_info *info);

#endif
