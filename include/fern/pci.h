/**
 * @file pci.h
 * @brief PCI: finding the machine's devices, reading what each one needs,
 *        and handing each to its driver (chapter 6).
 *
 * Every PCI function has 256 bytes of configuration space, which the CPU
 * reaches through two I/O ports, CONFIG_ADDRESS (0xcf8) and CONFIG_DATA
 * (0xcfc): "configuration mechanism #1" of the PCI Local Bus
 * Specification 3.0, §3.2.2.3.2. Its first 64 bytes are a standard header
 * (ibid. §6.1): who made the device (vendor and device ids), what it is
 * (class, subclass), where its registers are (the BARs), which interrupt
 * line it raises, and the head of a list of capabilities.
 *
 * At the `devices` init level, pci_init() walks every bus the host bridge
 * and the PCI-to-PCI bridges lead to, prints one line per function
 *
 *     pci: 00:04.0 1af4:1005 class 00.ff virtio-rng (transitional)
 *
 * and offers each function to the drivers of the table `pci_drivers`
 * (table.h): a driver declares which devices it takes, and chapter 7's
 * network driver is one more file, not an edit here.
 */
#ifndef FERN_PCI_H
#define FERN_PCI_H

#include <fern/table.h>
#include <stdbool.h>
#include <stdint.h>

/** @name Configuration space registers (PCI 3.0 §6.1, type 0 header) @{ */
#define PCI_VENDOR_ID		0x00	/**< 16 bits; 0xffff: no function here */
#define PCI_DEVICE_ID		0x02	/**< 16 bits */
#define PCI_COMMAND		0x04	/**< 16 bits: what the device may do */
#define PCI_STATUS		0x06	/**< 16 bits */
#define PCI_REVISION_ID		0x08	/**< 8 bits */
#define PCI_PROG_IF		0x09	/**< 8 bits: the register interface */
#define PCI_SUBCLASS		0x0a	/**< 8 bits */
#define PCI_CLASS		0x0b	/**< 8 bits */
#define PCI_HEADER_TYPE		0x0e	/**< 8 bits; bit 7: multi-function */
#define PCI_BAR0		0x10	/**< six 32-bit BARs, 0x10-0x24 */
#define PCI_SECONDARY_BUS	0x19	/**< a bridge's: the bus behind it */
#define PCI_SUBSYSTEM_ID	0x2e	/**< 16 bits (type 0 header) */
#define PCI_CAPABILITIES	0x34	/**< 8 bits: the first capability */
#define PCI_INTERRUPT_LINE	0x3c	/**< 8 bits: the IRQ the firmware routed */
#define PCI_INTERRUPT_PIN	0x3d	/**< 8 bits: 1-4 for INTA#-INTD#, 0: none */
/** @} */

/** @name Command register bits (PCI 3.0 §6.2.2) @{ */
#define PCI_COMMAND_IO		(1U << 0)	/**< answer I/O BARs */
#define PCI_COMMAND_MEMORY	(1U << 1)	/**< answer memory BARs */
#define PCI_COMMAND_MASTER	(1U << 2)	/**< may do DMA (bus master) */
#define PCI_COMMAND_INTX_OFF	(1U << 10)	/**< INTx# disabled */
/** @} */

#define PCI_STATUS_CAP_LIST	(1U << 4)	/**< the capability list exists */
#define PCI_HEADER_MULTI	0x80		/**< more functions than 0 */
#define PCI_HEADER_TYPE_MASK	0x7f		/**< 0: device, 1: PCI-to-PCI bridge */
#define PCI_CLASS_BRIDGE	0x06
#define PCI_SUBCLASS_PCI_BRIDGE	0x04

/** @name BAR bits (PCI 3.0 §6.2.5.1) @{ */
#define PCI_BAR_IO		0x1		/**< bit 0: an I/O BAR */
#define PCI_BAR_MEM_TYPE_64	0x4		/**< bits 2:1 = 10b: 64-bit memory */
#define PCI_BAR_MEM_PREFETCH	0x8		/**< bit 3: prefetchable memory */
/** @} */

#define PCI_MAX_BARS		6	/**< a type 0 header has six */
#define PCI_MAX_DEVICES		32	/**< functions fern keeps track of */

/** What a BAR points at. */
enum pci_bar_kind {
	PCI_BAR_NONE,		/**< not implemented, or the top of a 64-bit pair */
	PCI_BAR_KIND_IO,	/**< a range of I/O ports */
	PCI_BAR_KIND_MEM32,	/**< memory below 4 GiB */
	PCI_BAR_KIND_MEM64,	/**< memory anywhere: this BAR and the next */
};

/** One decoded base address register. */
struct pci_bar {
	enum pci_bar_kind kind;	/**< PCI_BAR_NONE: nothing here */
	bool prefetchable;	/**< memory with no side effects on reads */
	uint64_t base;		/**< port number or physical address */
	uint64_t size;		/**< bytes (ports), a power of two */
};

/** One PCI function, as pci_init() found it. */
struct pci_device {
	uint8_t bus, dev, fn;		/**< its address: bus 0-255, device 0-31, function 0-7 */
	uint16_t vendor, device;	/**< PCI_VENDOR_ID, PCI_DEVICE_ID */
	uint16_t subsystem;		/**< PCI_SUBSYSTEM_ID (type 0 only) */
	uint8_t class, subclass, prog_if;
	uint8_t header_type;		/**< without the multi-function bit */
	uint8_t irq_line;		/**< PCI_INTERRUPT_LINE; 0xff: none */
	uint8_t irq_pin;		/**< 0: uses no interrupt, 1-4: INTA#-INTD# */
	struct pci_bar bar[PCI_MAX_BARS];
	const char *driver;		/**< the driver that took it, or NULL */
};

/**
 * Which devices a driver takes: a vendor and a range of device ids, and
 * optionally a class (PCI_ANY_CLASS matches any).
 */
struct pci_match {
	uint16_t vendor;
	uint16_t device_first, device_last;
	uint16_t class;		/**< PCI_ANY_CLASS or the class byte */
};

#define PCI_ANY_CLASS	0xffff

/**
 * A driver in the `pci_drivers` table: pci_init() calls @c probe for each
 * function that one of @c match (ended by an entry with vendor 0) names.
 * A probe returns 0 if it took the device, or a negative error after
 * saying why it did not; the device then stays without a driver.
 */
struct pci_driver {
	const char *name;
	const struct pci_match *match;
	int (*probe)(struct pci_device *pci);
};

DECLARE_LINKER_TABLE(struct pci_driver, pci_drivers);

/** @name Configuration space access, mechanism #1 @{ */
uint32_t pci_read32(const struct pci_device *pci, uint8_t offset);
uint16_t pci_read16(const struct pci_device *pci, uint8_t offset);
uint8_t pci_read8(const struct pci_device *pci, uint8_t offset);
void pci_write32(const struct pci_device *pci, uint8_t offset, uint32_t value);
void pci_write16(const struct pci_device *pci, uint8_t offset, uint16_t value);
/** @} */

/**
 * Decode one BAR from what it read before and after all ones were written
 * to it (the sizing dance of PCI 3.0 §6.2.5.1). For a 64-bit BAR, @p hi
 * and @p hi_mask are the next register's two readings; otherwise 0.
 * Pure: the host unit tests call it (tests/host/test_pci.c).
 */
struct pci_bar pci_bar_decode(uint32_t lo, uint32_t lo_mask, uint32_t hi,
			      uint32_t hi_mask);

/**
 * The offset of the first capability with id @p cap_id at or after the
 * one at @p from (0: from the list's head), or 0 if there is none.
 */
uint8_t pci_find_capability(const struct pci_device *pci, uint8_t cap_id,
			    uint8_t from);

/** Set @p bits (PCI_COMMAND_*) in the command register. */
void pci_enable(const struct pci_device *pci, uint16_t bits);

/**
 * Map memory BAR @p index of @p pci uncached in the device window
 * (layout.h) and return its kernel address, or NULL after saying why.
 */
volatile void *pci_map_bar(const struct pci_device *pci, unsigned int index);

/** A short name for what the device is: "virtio-blk", "IDE controller"... */
const char *pci_device_name(const struct pci_device *pci);

/** The functions found, and how many; valid after pci_init(). */
const struct pci_device *pci_devices(unsigned int *count);

#endif
