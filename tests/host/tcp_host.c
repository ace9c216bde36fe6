/*
 * The kernel heap for TCP's host test (tests/host/test_tcp.c): TCP takes
 * each connection's send buffer with kmalloc() and gives it back with
 * kfree(); on the host these are the C library's, so AddressSanitizer
 * sees every overrun, use after free and double free of those buffers.
 * The fuzz targets (tests/fuzz/) use it too, for the HTTP server's
 * connections and the site's file table (kcalloc()).
 */
#include <fern/heap.h>

#include <stdlib.h>

void *kmalloc(size_t size)
{
	return malloc(size);
}

void kfree(void *p)
{
	free(p);
}

/* calloc() checks n * size for overflow, as the kernel's kcalloc() does. */
void *kcalloc(size_t n, size_t size)
{
	return calloc(n, size);
}
