/**
 * @file format.h
 * @brief printf-style formatting, independent of where the characters go.
 *
 * The engine, kvformat(), turns a format and its arguments into characters
 * and hands each one to a sink function. kprintf() (console.h) sinks into
 * the console; ksnprintf() sinks into a buffer. The engine is pure logic,
 * so the same file is also compiled on the host and tested against the C
 * library's snprintf (tests/host/).
 *
 * Supported: the flag `0` and a field width; the length modifier `l`;
 * conversions `d u x c s p %`. `%s` of NULL prints "(null)", `%p` of NULL
 * prints "(nil)". An unknown conversion is printed as written.
 */
#if FERN_CHAPTER >= 2
/*
 * Chapter 2 completes the formats: the flag `-`, `*` widths, a precision
 * for integers and strings, length modifiers `hh h ll z`, conversions
 * `i X o`, and ksnprintf() for formatting into a buffer.
 */
#endif
#ifndef FERN_FORMAT_H
#define FERN_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/** Receives the formatted output one character at a time. */
typedef void (*format_sink)(char c, void *arg);

/**
 * Format @p fmt with @p ap, passing each character to @p sink.
 *
 * @return the number of characters produced.
 */
int kvformat(format_sink sink, void *arg, const char *fmt, va_list ap);

#if FERN_CHAPTER >= 2
/**
 * Format into @p buf, writing at most @p size bytes including the final
 * NUL (C99 snprintf semantics: nothing is written when @p size is 0).
 *
 * @return the length the full output would have had, without the NUL, so
 *         a return value >= @p size means the output was truncated.
 */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/** ksnprintf() with variadic arguments. @see kvsnprintf */
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#endif

#endif
