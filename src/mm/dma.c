/*
 * Memory for devices: contiguous DMA buffers from the frame allocator,
 * and device registers mapped uncached in the device window (dma.h).
 */
#include <fern/console.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/layout.h>
#include <fern/mm.h>
#include <fern/string.h>
#include <fern/x86.h>

/* How much of the device window is mapped: the next mapping goes here. */
static uintptr_t mmio_next = MMIO_BASE;

void *dma_alloc(size_t size, uint64_t *phys)
{
	uint64_t frames = ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE;
	uint64_t flags, p;

	/* Before the kernel's own tables, the direct map does not cover RAM. */
	if (size == 0 || !mm_remapped())
		return NULL;
	flags = irq_save();
	p = pmm_alloc_run(frames);
	irq_restore(flags);
	if (!p)
		return NULL;
	memset(phys_to_virt(p), 0, frames * PAGE_SIZE);
	*phys = p;
	return phys_to_virt(p);
}

void dma_free(void *virt, size_t size)
{
	uint64_t p = virt_to_phys(virt);
	uint64_t flags = irq_save();

	for (uint64_t f = 0; f < ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE; f++)
		pmm_free(p + f * PAGE_SIZE);
	irq_restore(flags);
}

/*
 * Device memory is mapped with PCD | PWT: with the PAT as the firmware
 * left it (entry 3 is UC), that is uncacheable (SDM vol. 3 Table 11-11),
 * so that each read and write reaches the device, in program order.
 */
volatile void *mmio_map(uint64_t phys, size_t size)
{
	uint64_t start = ALIGN_DOWN(phys, PAGE_SIZE);
	uint64_t len = ALIGN_UP(phys + size, PAGE_SIZE) - start;
	uintptr_t va = mmio_next;
	int err;

	if (!mm_remapped()) {
		kprintf("mmio: error: no device window before the kernel's page tables\n");
		return NULL;
	}
	if (size == 0 || len > MMIO_BASE + MMIO_SIZE - va) {
		kprintf("mmio: error: 0x%lx bytes at 0x%lx do not fit in the device window\n",
			(uint64_t)size, phys);
		return NULL;
	}
	err = vm_map(vm_active(), va, start, len,
		     PTE_WRITABLE | PTE_PCD | PTE_PWT | PTE_NX);
	if (err) {
		kprintf("mmio: error %d mapping 0x%lx bytes at 0x%lx\n", err, len, start);
		return NULL;
	}
	mmio_next += len;
	return (volatile void *)(va + (phys - start));
}
