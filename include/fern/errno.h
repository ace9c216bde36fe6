/**
 * @file errno.h
 * @brief Error numbers, returned negated (`return -ENOMEM;`) as Linux does.
 *
 * The values are Linux's (include/uapi/asm-generic/errno-base.h), so that a
 * reader who knows them recognises them; fern only defines those it uses.
 */
#ifndef FERN_ERRNO_H
#define FERN_ERRNO_H

/** No such entry: nothing is mapped (or found) there. */
#define ENOENT	2
/** Out of memory: no free frame for the request. */
#define ENOMEM	12
/** It exists already: something is mapped there. */
#define EEXIST	17
/** An invalid argument: a misaligned address, a zero size. */
#define EINVAL	22
/** No space left: a fixed-size table is full. */
#define ENOSPC	28

#endif
