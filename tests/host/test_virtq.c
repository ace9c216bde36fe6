/*
 * Host unit test of the split virtqueue (src/drivers/virtqueue.c), built
 * with AddressSanitizer and UBSan by `make host-tests`.
 *
 * The test plays the device, by the rules of virtio 1.2 §2.7: it reads
 * the available ring from its own copy of where it last looked, walks each
 * chain through the descriptor table, "writes" into the device-writable
 * buffers (a byte pattern) and puts the head and the byte count in the
 * used ring. "Physical" addresses are the host's own pointers, so the
 * device reads exactly what the driver described. A device that checks
 * every descriptor it is handed catches a driver that loses one, chains
 * one wrongly or publishes an index too early; the wrap test pushes more
 * than 65536 chains through, so that the 16-bit indices wrap.
 */
#define _DEFAULT_SOURCE
#include <fern/errno.h>
#include <fern/virtio.h>

#include <stdint.h>
#include <stdlib.h>

#include "tap.h"

struct device {
	struct virtq *q;
	uint16_t last_avail;	/* the device's own copy, as a real one keeps */
	unsigned int bad;	/* rule violations seen */
	char why[160];
};

static void violation(struct device *d, const char *what, unsigned int v)
{
	if (!d->bad++)
		snprintf(d->why, sizeof(d->why), "%s (%u)", what, v);
}

/* Use every chain the driver published, in order, or in reverse if @reverse. */
static unsigned int device_run(struct device *d, bool reverse)
{
	struct virtq *q = d->q;
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t written[VIRTQ_MAX_SIZE];
	unsigned int n = 0;

	while (d->last_avail != q->avail->idx) {
		uint16_t head = q->avail->ring[d->last_avail % q->size], at = head;
		uint32_t bytes = 0;
		bool seen_write = false;
		unsigned int len = 0;

		d->last_avail++;
		if (head >= q->size) {
			violation(d, "a head past the table", head);
			continue;
		}
		for (;;) {
			struct virtq_desc *desc = &q->desc[at];

			if (desc->flags & VIRTQ_DESC_F_WRITE) {
				seen_write = true;
				memset((void *)(uintptr_t)desc->addr, 0xa5, desc->len);
				bytes += desc->len;
			} else if (seen_write) {
				violation(d, "a readable buffer after a writable one", at);
			}
			if (++len > q->size) {
				violation(d, "a chain that loops", head);
				break;
			}
			if (!(desc->flags & VIRTQ_DESC_F_NEXT))
				break;
			at = desc->next;
			if (at >= q->size) {
				violation(d, "a next past the table", at);
				break;
			}
		}
		if (n == VIRTQ_MAX_SIZE) {
			violation(d, "more chains published than the ring has", n);
			break;
		}
		heads[n] = head;
		written[n++] = bytes;
	}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = reverse ? n - 1 - i : i;

		q->used->ring[q->used->idx % q->size] =
			(struct virtq_used_elem){ heads[k], written[k] };
		q->used->idx++;
	}
	return n;
}

static struct virtq *make_queue(uint16_t size, void **mem)
{
	struct virtq *q = calloc(1, sizeof(*q));
	size_t bytes = virtq_layout_bytes(size);

	*mem = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
	memset(*mem, 0, bytes);
	virtq_init(q, size, *mem, (uint64_t)(uintptr_t)*mem);
	return q;
}

static void test_layout(void)
{
	void *mem;
	struct virtq *q = make_queue(256, &mem);
	char *base = mem;

	/* §2.7.2: 16 bytes per descriptor, 6 + 2 per entry for the available ring. */
	tap_ok((char *)q->avail == base + 16 * 256, "layout: the available ring follows 256 descriptors");
	tap_ok((char *)q->used == base + 8192, "layout: the used ring starts at the next 4 KiB boundary");
	tap_ok(virtq_layout_bytes(256) == 8192 + 6 + 8 * 256,
	       "layout: 256 entries take 8192 + 6 + 8 * 256 bytes (got %zu)", virtq_layout_bytes(256));
	tap_ok(virtq_layout_bytes(8) == 4096 + 6 + 8 * 8, "layout: 8 entries take one page and a used ring");
	free(q);
	free(mem);
}

static void test_free_list(void)
{
	static char bufs[8][16];
	struct device d = { 0 };
	void *mem;
	struct virtq *q = make_queue(8, &mem);
	int tokens_back = 0, ok_adds = 0;

	d.q = q;
	for (int i = 0; i < 8; i++) {
		struct virtq_buf b = { (uintptr_t)bufs[i], 16, true };

		ok_adds += virtq_add(q, &b, 1, bufs[i]) == 0;
	}
	struct virtq_buf extra = { (uintptr_t)bufs[0], 16, true };
	tap_ok(ok_adds == 8, "free list: all 8 descriptors can be used (%d)", ok_adds);
	tap_ok(virtq_add(q, &extra, 1, NULL) == -ENOSPC, "free list: a ninth chain gets -ENOSPC");
	device_run(&d, true);
	for (int i = 0; i < 8; i++) {
		uint32_t len = 0;
		void *t = virtq_get(q, &len);

		tokens_back += t == bufs[7 - i] && len == 16;
	}
	tap_ok(tokens_back == 8, "used ring: tokens come back in the order the device used them, with its byte counts (%d of 8)", tokens_back);
	tap_ok(virtq_get(q, NULL) == NULL, "used ring: nothing more once all is harvested");
	tap_ok(q->num_free == 8, "free list: every descriptor is free again (%u)", q->num_free);
	tap_ok(virtq_add(q, &extra, 1, NULL) == 0, "free list: and can be used again");
	tap_ok(d.bad == 0, "device: no rule broken%s%s", d.bad ? ": " : "", d.why);
	free(q);
	free(mem);
}

static void test_chain(void)
{
	static char hdr[16], data[512], status[1];
	struct virtq_buf b[3] = {
		{ (uintptr_t)hdr, sizeof(hdr), false },
		{ (uintptr_t)data, sizeof(data), true },
		{ (uintptr_t)status, 1, true },
	};
	struct virtq_buf bad[2] = { b[1], b[0] };
	struct device d = { 0 };
	void *mem;
	struct virtq *q = make_queue(8, &mem);
	uint16_t head, second, third;
	uint32_t len = 0;

	d.q = q;
	tap_ok(virtq_add(q, b, 0, NULL) == -EINVAL, "chain: an empty chain is -EINVAL");
	tap_ok(virtq_add(q, bad, 2, NULL) == -EINVAL, "chain: readable after writable is -EINVAL");
	tap_ok(q->num_free == 8 && q->avail->idx == 0, "chain: a refused chain takes nothing");
	tap_ok(virtq_add(q, b, 3, hdr) == 0, "chain: a 3-buffer request is added");
	tap_ok(q->avail->idx == 1, "chain: avail->idx is 1 after one chain (%u)", q->avail->idx);
	head = q->avail->ring[0];
	second = q->desc[head].next;
	third = q->desc[second].next;
	tap_ok(q->desc[head].addr == (uintptr_t)hdr && q->desc[head].len == 16 &&
	       q->desc[head].flags == VIRTQ_DESC_F_NEXT,
	       "chain: the header is first, device-readable, with NEXT");
	tap_ok(q->desc[second].addr == (uintptr_t)data &&
	       q->desc[second].flags == (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE),
	       "chain: the data is second, device-writable, with NEXT");
	tap_ok(q->desc[third].addr == (uintptr_t)status &&
	       q->desc[third].flags == VIRTQ_DESC_F_WRITE,
	       "chain: the status byte is last, device-writable, without NEXT");
	tap_ok(q->num_free == 5, "chain: it took 3 descriptors (%u free)", q->num_free);
	tap_ok(!virtq_has_used(q), "used ring: nothing used before the device runs");
	device_run(&d, false);
	tap_ok(virtq_has_used(q), "used ring: the device's entry is seen");
	tap_ok(virtq_get(q, &len) == hdr && len == 513, "used ring: the token, and 513 bytes written (%u)", len);
	tap_ok(q->num_free == 8, "chain: all 3 descriptors are free again (%u)", q->num_free);
	tap_ok((unsigned char)data[0] == 0xa5 && (unsigned char)status[0] == 0xa5, "chain: the device wrote the writable buffers");
	free(q);
	free(mem);
}

/* A lying device: a used entry naming a descriptor that does not exist. */
static void test_lying_device(void)
{
	void *mem;
	struct virtq *q = make_queue(8, &mem);

	q->used->ring[0] = (struct virtq_used_elem){ 4000, 1 };
	q->used->idx = 1;
	tap_ok(virtq_get(q, NULL) == NULL, "used ring: an entry with id past the table gives nothing back");
	tap_ok(q->num_free == 8, "used ring: and frees nothing");
	free(q);
	free(mem);
}

static void test_notify(void)
{
	void *mem;
	struct virtq *q = make_queue(8, &mem);

	tap_ok(virtq_notify_needed(q), "notify: needed when the device did not say otherwise");
	q->used->flags = VIRTQ_USED_F_NO_NOTIFY;
	tap_ok(!virtq_notify_needed(q), "notify: not needed while the device sets NO_NOTIFY");
	virtq_interrupts(q, false);
	tap_ok(q->avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT, "interrupts: off sets NO_INTERRUPT");
	virtq_interrupts(q, true);
	tap_ok(!(q->avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT), "interrupts: on clears it");
	free(q);
	free(mem);
}

/*
 * More chains than the 16-bit indices count: chains of 1-3 buffers, the
 * device using them in batches, sometimes in reverse, for queue sizes 8
 * and 256.
 */
static void test_wrap(uint16_t size)
{
	static char buf[4][64];
	struct device d = { 0 };
	void *mem;
	struct virtq *q = make_queue(size, &mem);
	unsigned long added = 0, got = 0, lost = 0;
	unsigned int seed = 1;

	d.q = q;
	while (added < 70000) {
		unsigned int batch = 1 + rand_r(&seed) % size;

		for (unsigned int i = 0; i < batch; i++) {
			unsigned int n = 1 + rand_r(&seed) % 3;
			struct virtq_buf b[3];

			for (unsigned int k = 0; k < n; k++)
				b[k] = (struct virtq_buf){ (uintptr_t)buf[k], 64, k > 0 };
			if (virtq_add(q, b, n, (void *)(uintptr_t)(added + 1)) != 0)
				break;
			added++;
		}
		device_run(&d, rand_r(&seed) % 2);
		for (void *t; (t = virtq_get(q, NULL)) != NULL; got++) {
			if ((uintptr_t)t == 0 || (uintptr_t)t > added)
				lost++;
		}
	}
	tap_ok(got == added && lost == 0,
	       "wrap (size %u): %lu chains added, %lu came back, %lu with a wrong token",
	       size, added, got, lost);
	tap_ok(q->avail->idx == (uint16_t)added && q->last_used == (uint16_t)added,
	       "wrap (size %u): both indices wrapped past 65535 and stayed equal to the count mod 65536",
	       size);
	tap_ok(q->num_free == size, "wrap (size %u): every descriptor free at the end (%u)", size, q->num_free);
	tap_ok(d.bad == 0, "wrap (size %u): the device saw no broken rule%s%s", size,
	       d.bad ? ": " : "", d.why);
	free(q);
	free(mem);
}

int main(void)
{
	test_layout();
	test_free_list();
	test_chain();
	test_lying_device();
	test_notify();
	test_wrap(8);
	test_wrap(256);
	return tap_done();
}
