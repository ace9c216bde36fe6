/**
 * @file string.h
 * @brief The C library's memory and string functions, for a kernel that
 *        has no C library.
 *
 * gcc may emit calls to memcpy, memset, memmove and memcmp on its own (for
 * struct copies and large initialisers) even with -ffreestanding, so these
 * four must exist with exactly the standard names and meanings.
 */
#ifndef FERN_STRING_H
#define FERN_STRING_H

#include <stddef.h>

/** Copy @p n bytes from @p src to @p dst; the areas must not overlap. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
/** Copy @p n bytes from @p src to @p dst; the areas may overlap. */
void *memmove(void *dst, const void *src, size_t n);
/** Fill @p n bytes at @p dst with the byte @p c. */
void *memset(void *dst, int c, size_t n);
/** Compare @p n bytes; <0, 0 or >0 like the first differing byte. */
int memcmp(const void *a, const void *b, size_t n);
/** Length of a NUL-terminated string. */
size_t strlen(const char *s);
/** Length of @p s, but at most @p max (stops early on unterminated data). */
size_t strnlen(const char *s, size_t max);
/** Compare two NUL-terminated strings. */
int strcmp(const char *a, const char *b);
/** Compare at most @p n characters of two strings. */
int strncmp(const char *a, const char *b, size_t n);
/** First occurrence of @p c in @p s, or NULL. */
char *strchr(const char *s, int c);

#endif
