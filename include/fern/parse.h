/**
 * @file parse.h
 * @brief Reading numbers typed at the shell (`rng 32`, `blk read 0x10`).
 */
#ifndef FERN_PARSE_H
#define FERN_PARSE_H

#include <stdint.h>

/**
 * Parse all of @p s as an unsigned number: decimal, or hexadecimal after
 * `0x`. Stores it in @p *value.
 *
 * @return 0, or -EINVAL if @p s is empty, has other characters, or does
 *         not fit in 64 bits.
 */
int parse_u64(const char *s, uint64_t *value);

#endif
