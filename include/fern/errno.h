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
/** An input/output error: the device said the request failed. */
#define EIO	5
/** Out of memory: no free frame for the request. */
#define ENOMEM	12
/** It exists already: something is mapped there. */
#define EEXIST	17
/** No such device: nothing of that kind was found. */
#define ENODEV	19
/** An invalid argument: a misaligned address, a zero size. */
#define EINVAL	22
/** No space left: a fixed-size table is full. */
#define ENOSPC	28
/** A read-only file system: the device refuses writes. */
#define EROFS	30
/** Not implemented (a lab's stub says so). */
#define ENOSYS	38
/** Not supported: the device does not offer what the driver needs. */
#define ENOTSUP	95
/** Timed out: the device did not answer in time. */
#define ECONNRESET	104
#define ETIMEDOUT	110

#endif
