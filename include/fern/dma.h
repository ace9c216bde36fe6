/**
 * @file dma.h
 * @brief Memory for devices (chapter 6): physically contiguous buffers a
 *        device can read and write by itself, and device registers mapped
 *        uncached.
 *
 * A device that does DMA (direct memory access) is given *physical*
 * addresses: it sees RAM the way the memory controller does, not through
 * the kernel's page tables. A buffer that spans several pages must then
 * be contiguous in physical memory, which kmalloc() does not promise: its
 * pages are mapped one by one, wherever a free frame was. dma_alloc()
 * takes a run of frames from the frame allocator instead, and gives back
 * both addresses: the kernel's (in the direct map) and the device's.
 *
 * A device's registers (a PCI memory BAR) are not RAM: the CPU must not
 * cache them, or combine, reorder or drop writes to them. mmio_map() maps
 * them with PCD and PWT (Intel SDM vol. 3 §4.9 and §11.12: the default PAT
 * makes that UC, uncacheable) and NX, in the device window of layout.h.
 *
 * This is the seam between drivers and memory management: drivers call
 * it; mm never includes a driver.
 */
#ifndef FERN_DMA_H
#define FERN_DMA_H

#include <stddef.h>
#include <stdint.h>

/**
 * Allocate @p size bytes (rounded up to whole pages) of zeroed, physically
 * contiguous memory aligned to a page, for a device. Stores the physical
 * address in @p *phys. Returns the kernel's address, or NULL if no run of
 * free frames is that long.
 */
void *dma_alloc(size_t size, uint64_t *phys);

/** Give back what dma_alloc() returned; @p size is what was asked for. */
void dma_free(void *virt, size_t size);

/**
 * Map @p size bytes of device memory at physical address @p phys,
 * uncached and not executable, in the device window. Returns its kernel
 * address, or NULL (and says why) if the window is full or mapping
 * failed. Mappings are never taken back: devices stay for the whole boot.
 */
volatile void *mmio_map(uint64_t phys, size_t size);

#endif
