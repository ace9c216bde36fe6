/**
 * @file rng.h
 * @brief Random bytes for whatever must be unpredictable (chapter 6 on;
 *        chapter 8's TCP initial sequence numbers).
 *
 * The best source is the hypervisor's: a virtio-rng device (virtio 1.2
 * §5.4) hands out bytes from the host's own generator. Without one, fern
 * falls back to the CPU's RDRAND instruction where CPUID says it has one
 * (Intel SDM vol. 1 §7.3.17), and last to mixing readings of the time
 * stamp counter, which an attacker who can time the boot could guess: the
 * boot line `rng: source ...` says which is in use, and says "weak" for
 * the last.
 */
#ifndef FERN_RNG_H
#define FERN_RNG_H

#include <stddef.h>

/**
 * Fill @p buf with @p n random bytes from the best source there is.
 *
 * @return 0, or a negative error if the source failed (the buffer is then
 *         filled from the next source down, and the error says so once).
 */
int rng_fill(void *buf, size_t n);

/** The source rng_fill() uses now: "virtio-rng", "rdrand" or "tsc". */
const char *rng_source(void);

/**
 * Make @p fill the best source, called @p name: the virtio-rng driver
 * calls this when its device is ready. @p fill returns 0 or a negative
 * error.
 */
void rng_set_source(const char *name, int (*fill)(void *buf, size_t n));

#endif
