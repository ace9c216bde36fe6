/*
 * The split virtqueue (virtio 1.2 §2.7): three areas of guest memory that
 * the driver and the device share, and nothing else.
 *
 *   descriptor table  size entries: a buffer's physical address, length,
 *                     flags, and the index of the next descriptor of its
 *                     chain. The driver writes them; the device reads.
 *   available ring    the driver writes the head of each new chain at
 *                     ring[idx % size], then increments idx.
 *   used ring         the device writes the head of each chain it is
 *                     done with, and how many bytes it wrote, at
 *                     ring[idx % size], then increments idx.
 *
 * Both idx counters run freely and wrap from 65535 to 0; only the ring
 * position is taken modulo the size (a power of two, so 65536 is a
 * multiple of it and the positions stay in step across the wrap). The
 * driver counts what it has harvested in last_used and compares with the
 * device's used->idx by inequality, never by "less than".
 *
 * Nothing here touches hardware: the host unit test (tests/host/
 * test_virtq.c) plays the device.
 */
#include <fern/errno.h>
#include <fern/string.h>
#include <fern/virtio.h>

/*
 * Read a field the device writes, once, from memory: the compiler must
 * not keep it in a register across a loop that waits for it to change.
 */
#define READ_SHARED(x)	(*(const volatile __typeof__(x) *)&(x))

size_t virtq_layout_bytes(uint16_t size)
{
	size_t avail_end = sizeof(struct virtq_desc) * size +
			   sizeof(struct virtq_avail) + sizeof(uint16_t) * (size + 1u);
	size_t used_start = (avail_end + VIRTQ_LEGACY_ALIGN - 1) &
			    ~(size_t)(VIRTQ_LEGACY_ALIGN - 1);

	return used_start + sizeof(struct virtq_used) +
	       sizeof(struct virtq_used_elem) * size + sizeof(uint16_t);
}

void virtq_init(struct virtq *q, uint16_t size, void *mem, uint64_t phys)
{
	char *base = mem;
	size_t used_off = virtq_layout_bytes(size) - sizeof(struct virtq_used) -
			  sizeof(struct virtq_used_elem) * size - sizeof(uint16_t);

	memset(q, 0, sizeof(*q));
	q->size = size;
	q->phys = phys;
	q->desc = (struct virtq_desc *)base;
	q->avail = (struct virtq_avail *)(base + sizeof(struct virtq_desc) * size);
	q->used = (struct virtq_used *)(base + used_off);
	/* Every descriptor free, each linked to the next. */
	for (uint16_t i = 0; i + 1 < size; i++)
		q->desc[i].next = i + 1;
	q->free_head = 0;
	q->num_free = size;
}

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned int n,
	      void *token)
{
	uint16_t head = 0, at = 0;

	if (n == 0)
		return -EINVAL;
	for (unsigned int i = 1; i < n; i++) {
		if (bufs[i - 1].device_writes && !bufs[i].device_writes)
			return -EINVAL;
	}
	if (n > q->num_free)
		return -ENOSPC;
	/* LAB 6 BEGIN: take n descriptors off the free list (free_head, linked by next) and fill them from bufs (VIRTQ_DESC_F_WRITE where the device writes, VIRTQ_DESC_F_NEXT on all but the last); remember token at the head; write the head at avail->ring[avail_idx % size]; virtio_wmb(); then publish avail->idx = ++avail_idx */
	head = at = q->free_head;
	for (unsigned int i = 0; i < n; i++) {
		struct virtq_desc *d = &q->desc[at];

		d->addr = bufs[i].phys;
		d->len = bufs[i].len;
		d->flags = bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
		if (i + 1 < n) {
			d->flags |= VIRTQ_DESC_F_NEXT;
			at = d->next;
		} else {
			q->free_head = d->next;
		}
	}
	q->num_free -= n;
	q->token[head] = token;
	q->avail->ring[q->avail_idx % q->size] = head;
	/*
	 * §2.7.13: the ring entry (and the descriptors) must be visible
	 * before the index that tells the device to read them.
	 */
	virtio_wmb();
	q->avail->idx = ++q->avail_idx;
	/* LAB 6 STUB: (void)head; (void)at; (void)token; return -ENOSYS; */
	/* LAB 6 END */
	q->added++;
	return 0;
}

bool virtq_has_used(const struct virtq *q)
{
	return READ_SHARED(q->used->idx) != q->last_used;
}

void *virtq_get(struct virtq *q, uint32_t *len)
{
	struct virtq_used_elem e = { 0, 0 };
	uint16_t at, freed = 1;
	void *token;

	if (!virtq_has_used(q))
		return NULL;
	/* LAB 6 BEGIN: virtio_rmb() after seeing used->idx move, then read the entry at used->ring[last_used % size] and advance last_used; put the chain (follow VIRTQ_DESC_F_NEXT) back on the free list; return the head's token */
	/*
	 * §2.7.13: the device wrote the entry before it moved idx; read
	 * them in that order too.
	 */
	virtio_rmb();
	e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	if (e.id >= q->size)
		return NULL;	/* a device that lies gets nothing back */
	token = q->token[e.id];
	q->token[e.id] = NULL;
	/* Walk to the chain's tail, then splice the chain onto the free list. */
	at = (uint16_t)e.id;
	while ((q->desc[at].flags & VIRTQ_DESC_F_NEXT) && freed < q->size) {
		at = q->desc[at].next;
		freed++;
	}
	q->desc[at].next = q->free_head;
	q->free_head = (uint16_t)e.id;
	q->num_free += freed;
	/* LAB 6 STUB: (void)e; (void)at; (void)freed; token = NULL; */
	/* LAB 6 END */
	if (len)
		*len = e.len;
	q->completed++;
	return token;
}

bool virtq_notify_needed(const struct virtq *q)
{
	/*
	 * §2.7.13.4: the new idx must be visible to the device before the
	 * driver reads whether it wants notifications: a store then a load,
	 * the one reordering x86 does, so a full barrier.
	 */
	virtio_mb();
	return !(READ_SHARED(q->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_interrupts(struct virtq *q, bool on)
{
	if (on)
		q->avail->flags &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
	else
		q->avail->flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
}
