/*
 * Decoding a PCI base address register: pure arithmetic on four numbers,
 * in a file of its own so that the host unit tests can run it
 * (tests/host/test_pci.c).
 *
 * A BAR's low bits say what it is (PCI 3.0 §6.2.5.1): bit 0 set means
 * I/O ports, with the address in bits 31:2; clear means memory, bits 2:1
 * its type (00b anywhere in 32 bits, 10b a 64-bit BAR that takes the next
 * register too) and bit 3 prefetchable, with the address in bits 31:4.
 * The size is not written anywhere: software writes all ones and reads
 * back which address bits stuck at zero. A BAR that reads back zero is
 * not implemented.
 */
#include <fern/pci.h>

#define PCI_BAR_IO_ADDR		0xfffffffcU	/* bits 31:2 */
#define PCI_BAR_MEM_ADDR	0xfffffff0U	/* bits 31:4 */
#define PCI_BAR_MEM_TYPE	0x6U		/* bits 2:1 */
#define PCI_BAR_MEM_TYPE_32	0x0U

struct pci_bar pci_bar_decode(uint32_t lo, uint32_t lo_mask, uint32_t hi,
			      uint32_t hi_mask)
{
	struct pci_bar bar = { .kind = PCI_BAR_NONE };
	uint64_t mask;

	if (lo_mask & PCI_BAR_IO) {
		/*
		 * I/O: a device may decode only 16 address bits and read
		 * the upper ones back as zero; ports are 16 bits anyway.
		 */
		uint32_t m = (lo_mask & PCI_BAR_IO_ADDR) | 0xffff0000U;

		if ((lo_mask & PCI_BAR_IO_ADDR & 0xffffU) == 0)
			return bar;
		bar.kind = PCI_BAR_KIND_IO;
		bar.base = lo & PCI_BAR_IO_ADDR & 0xffffU;
		bar.size = (uint32_t)(~m + 1);
		return bar;
	}
	switch (lo_mask & PCI_BAR_MEM_TYPE) {
	case PCI_BAR_MEM_TYPE_32:
		mask = lo_mask & PCI_BAR_MEM_ADDR;
		if (mask == 0)
			return bar;
		bar.kind = PCI_BAR_KIND_MEM32;
		bar.base = lo & PCI_BAR_MEM_ADDR;
		bar.size = (uint32_t)(~(uint32_t)mask + 1);
		break;
	case PCI_BAR_MEM_TYPE_64:
		mask = (uint64_t)hi_mask << 32 | (lo_mask & PCI_BAR_MEM_ADDR);
		if (mask == 0)
			return bar;
		bar.kind = PCI_BAR_KIND_MEM64;
		bar.base = (uint64_t)hi << 32 | (lo & PCI_BAR_MEM_ADDR);
		bar.size = ~mask + 1;
		break;
	default:
		/* 01b (below 1 MiB, PCI 2.x) and 11b are reserved. */
		return bar;
	}
	bar.prefetchable = lo & PCI_BAR_MEM_PREFETCH;
	return bar;
}
