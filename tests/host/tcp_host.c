/*
 * The kernel heap for TCP's host test (tests/host/test_tcp.c): TCP takes
 * each connection's send buffer with kmalloc() and gives it back with
 * kfree(); on the host these are the C library's, so AddressSanitizer
 * sees every overrun, use after free and double free of those buffers.
 * The fuzz targets (tests/fuzz/) use it too, for the HTTP server's
 * connections and the site's file table (kcalloc()).
 */
#include <fern/heap.h>
#include <fern/rng.h>

#include <stdint.h>
#include <stdlib.h>

void *kmalloc(size_t size)
{
	return malloc(size);
}

void kfree(void *p)
{
	free(p);
}

/* The random source TCP seeds its ISNs from: fixed bytes, so that a run
 * of the test is the same every time. */
int rng_fill(void *buf, size_t n)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(0x5a ^ (i * 37));
	return 0;
}

/* calloc() checks n * size for overflow, as the kernel's kcalloc() does. */
void *kcalloc(size_t n, size_t size)
{
	return calloc(n, size);
}
