/**
 * @file cmdline.h
 * @brief Options on the kernel command line: `key=value` words separated
 *        by spaces, or a bare `key`.
 *
 * Later words win, so options appended by the test harness (through
 * fw_cfg) override those in the GRUB menu entry.
 */
#ifndef FERN_CMDLINE_H
#define FERN_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Find the last `key=value` (or bare `key`) in @p cmdline and copy its value
 * into @p value (at most @p size bytes with the NUL; a bare key gives "").
 *
 * @return true if @p key was found. A value too long for @p value is cut.
 */
bool cmdline_get(const char *cmdline, const char *key, char *value, size_t size);

/** True if @p key is present with value @p expected. */
bool cmdline_is(const char *cmdline, const char *key, const char *expected);

#endif
