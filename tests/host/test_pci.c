/*
 * Host unit test of BAR decoding (src/drivers/pci_bar.c): what a BAR reads
 * before and after all ones were written to it, as QEMU's devices answer
 * (PCI 3.0 §6.2.5.1), and the edge cases real devices have.
 */
#include <fern/pci.h>

#include "tap.h"

static bool is(struct pci_bar b, enum pci_bar_kind kind, uint64_t base, uint64_t size,
	       bool prefetchable)
{
	bool ok = b.kind == kind && b.base == base && b.size == size &&
		  b.prefetchable == prefetchable;

	if (!ok)
		printf("# got kind %d base 0x%llx size 0x%llx prefetchable %d\n", b.kind,
		       (unsigned long long)b.base, (unsigned long long)b.size, b.prefetchable);
	return ok;
}

int main(void)
{
	tap_ok(is(pci_bar_decode(0xc041, 0xffffffe1, 0, 0), PCI_BAR_KIND_IO, 0xc040, 32, false),
	       "an I/O BAR: 32 ports at 0xc040");
	tap_ok(is(pci_bar_decode(0xc081, 0x0000ffc1, 0, 0), PCI_BAR_KIND_IO, 0xc080, 64, false),
	       "an I/O BAR decoding only 16 bits: 64 ports");
	tap_ok(is(pci_bar_decode(0xfebf1000, 0xfffff000, 0, 0), PCI_BAR_KIND_MEM32,
		  0xfebf1000, 4096, false), "a 32-bit memory BAR: 4 KiB");
	tap_ok(is(pci_bar_decode(0xfd000008, 0xff000008, 0, 0), PCI_BAR_KIND_MEM32,
		  0xfd000000, 16 << 20, true), "a prefetchable 32-bit BAR: 16 MiB");
	tap_ok(is(pci_bar_decode(0xfe00000c, 0xffffc00c, 0, 0xffffffff), PCI_BAR_KIND_MEM64,
		  0xfe000000, 0x4000, true), "a 64-bit prefetchable BAR below 4 GiB: 16 KiB");
	tap_ok(is(pci_bar_decode(0x0000000c, 0x0000000c, 0x8, 0xfffffffe), PCI_BAR_KIND_MEM64,
		  0x800000000ULL, 0x200000000ULL, true),
	       "a 64-bit BAR of 8 GiB at 32 GiB: the size is in the upper register");
	tap_ok(is(pci_bar_decode(0, 0, 0, 0), PCI_BAR_NONE, 0, 0, false),
	       "a BAR that reads back 0 is not implemented");
	tap_ok(is(pci_bar_decode(0x1, 0x1, 0, 0), PCI_BAR_NONE, 0, 0, false),
	       "an I/O BAR with no address bits is not implemented");
	tap_ok(pci_bar_decode(0x2, 0xfff00002, 0, 0).kind == PCI_BAR_NONE,
	       "memory type 01b (below 1 MiB, PCI 2.x) is refused");
	tap_ok(pci_bar_decode(0x6, 0xfff00006, 0, 0).kind == PCI_BAR_NONE,
	       "memory type 11b (reserved) is refused");
	return tap_done();
}
