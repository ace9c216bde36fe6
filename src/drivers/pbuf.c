/*
 * The pool of packet buffers: PBUF_COUNT buffers of PBUF_SIZE bytes, cut
 * from one run of DMA memory the first time a buffer is asked for, and a
 * free list through them. A buffer never crosses a page (PBUF_SIZE divides
 * the page size and the run is page-aligned), so the device can be given
 * one physical address for the whole of it.
 */
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/pbuf.h>
#include <stdbool.h>

static struct pbuf pool[PBUF_COUNT];
static struct pbuf *free_list;
static unsigned int available, low_water;
static bool pool_made, pool_failed;

static bool pool_make(void)
{
	uint64_t phys;
	uint8_t *mem;

	if (pool_failed)
		return false;
	mem = dma_alloc((size_t)PBUF_COUNT * PBUF_SIZE, &phys);
	if (!mem) {
		kprintf("pbuf: error: no memory for %d packet buffers (%d KiB)\n",
			PBUF_COUNT, PBUF_COUNT * PBUF_SIZE / 1024);
		pool_failed = true;
		return false;
	}
	for (int i = PBUF_COUNT - 1; i >= 0; i--) {
		pool[i].start = mem + (size_t)i * PBUF_SIZE;
		pool[i].phys = phys + (uint64_t)i * PBUF_SIZE;
		pool[i].next = free_list;
		free_list = &pool[i];
	}
	available = low_water = PBUF_COUNT;
	pool_made = true;
	return true;
}

struct pbuf *pbuf_alloc(void)
{
	struct pbuf *p;

	if (!pool_made && !pool_make())
		return NULL;
	p = free_list;
	if (!p)
		return NULL;
	free_list = p->next;
	p->next = NULL;
	p->data = p->start + PBUF_HEADROOM;
	p->len = 0;
	if (--available < low_water)
		low_water = available;
	return p;
}

void pbuf_free(struct pbuf *p)
{
	if (!p)
		return;
	p->next = free_list;
	free_list = p;
	available++;
}

void *pbuf_push(struct pbuf *p, size_t n)
{
	if ((size_t)(p->data - p->start) < n)
		return NULL;
	p->data -= n;
	p->len += (uint16_t)n;
	return p->data;
}

void *pbuf_pull(struct pbuf *p, size_t n)
{
	if (p->len < n)
		return NULL;
	p->data += n;
	p->len -= (uint16_t)n;
	return p->data;
}

size_t pbuf_tailroom(const struct pbuf *p)
{
	return (size_t)(p->start + PBUF_SIZE - (p->data + p->len));
}

void *pbuf_put(struct pbuf *p, size_t n)
{
	uint8_t *end = p->data + p->len;

	if (pbuf_tailroom(p) < n)
		return NULL;
	p->len += (uint16_t)n;
	return end;
}

void pbuf_trim(struct pbuf *p, size_t len)
{
	if (len < p->len)
		p->len = (uint16_t)len;
}

uint64_t pbuf_phys(const struct pbuf *p)
{
	return p->phys + (uint64_t)(p->data - p->start);
}

unsigned int pbuf_available(void)
{
	return pool_made ? available : PBUF_COUNT;
}

unsigned int pbuf_low_water(void)
{
	return pool_made ? low_water : PBUF_COUNT;
}
