/*
 * PCI enumeration: find every function on every bus, decode what it
 * needs, and offer it to the drivers that declared they take it.
 *
 * Configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): write the address of a
 * 32-bit register, with bit 31 set, to CONFIG_ADDRESS (port 0xcf8), then
 * read or write it at CONFIG_DATA (0xcfc). The address is the bus (bits
 * 23:16), device (15:11), function (10:8) and register (7:2); a narrower
 * access reads the right byte lanes of 0xcfc-0xcff.
 *
 * The walk starts at bus 0, where the host bridge is, and follows every
 * PCI-to-PCI bridge to the bus behind it (its secondary bus number, which
 * the firmware assigned). A device whose function 0 has the
 * multi-function bit in its header type may have functions 1-7 too.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/dma.h>
#include <fern/errno.h>
#include <fern/init.h>
#include <fern/pci.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <fern/x86.h>

#define PCI_CONFIG_ADDRESS	0xcf8
#define PCI_CONFIG_DATA		0xcfc
#define PCI_CONFIG_ENABLE	(1U << 31)
#define PCI_BUSES		256
#define PCI_SLOTS		32
#define PCI_FUNCTIONS		8
/* A chain of bridges deeper than this is a loop, not a machine. */
#define PCI_MAX_DEPTH		8
/* Capabilities fit in 192 bytes at 4-byte alignment: at most 48. */
#define PCI_MAX_CAPS		48

LINKER_TABLE(struct pci_driver, pci_drivers);

static struct pci_device devices[PCI_MAX_DEVICES];
static unsigned int ndevices;
static unsigned int dropped;	/* functions past PCI_MAX_DEVICES */

static uint32_t config_address(const struct pci_device *pci, uint8_t offset)
{
	return PCI_CONFIG_ENABLE | (uint32_t)pci->bus << 16 |
	       (uint32_t)pci->dev << 11 | (uint32_t)pci->fn << 8 |
	       (offset & 0xfcU);
}

/*
 * The address and the data are two port accesses: an interrupt handler
 * that used configuration space between them would redirect ours, so
 * each access runs with interrupts off, from select() to irq_restore().
 */
static uint64_t select(const struct pci_device *pci, uint8_t offset)
{
	uint64_t flags = irq_save();

	outl(PCI_CONFIG_ADDRESS, config_address(pci, offset));
	return flags;
}

uint32_t pci_read32(const struct pci_device *pci, uint8_t offset)
{
	uint64_t flags = select(pci, offset);
	uint32_t v = inl(PCI_CONFIG_DATA);

	irq_restore(flags);
	return v;
}

uint16_t pci_read16(const struct pci_device *pci, uint8_t offset)
{
	uint64_t flags = select(pci, offset);
	uint16_t v = inw(PCI_CONFIG_DATA + (offset & 2));

	irq_restore(flags);
	return v;
}

uint8_t pci_read8(const struct pci_device *pci, uint8_t offset)
{
	uint64_t flags = select(pci, offset);
	uint8_t v = inb(PCI_CONFIG_DATA + (offset & 3));

	irq_restore(flags);
	return v;
}

void pci_write32(const struct pci_device *pci, uint8_t offset, uint32_t value)
{
	uint64_t flags = select(pci, offset);

	outl(PCI_CONFIG_DATA, value);
	irq_restore(flags);
}

void pci_write16(const struct pci_device *pci, uint8_t offset, uint16_t value)
{
	uint64_t flags = select(pci, offset);

	outw(PCI_CONFIG_DATA + (offset & 2), value);
	irq_restore(flags);
}

void pci_enable(const struct pci_device *pci, uint16_t bits)
{
	pci_write16(pci, PCI_COMMAND, pci_read16(pci, PCI_COMMAND) | bits);
}

/*
 * Size each BAR: save it, write all ones, read which bits stuck, put it
 * back. Decoding is off meanwhile, so that the device does not answer at
 * the all-ones address it briefly has.
 */
static void read_bars(struct pci_device *pci, unsigned int count)
{
	uint16_t command = pci_read16(pci, PCI_COMMAND);

	pci_write16(pci, PCI_COMMAND,
		    command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned int i = 0; i < count; i++) {
		uint8_t off = PCI_BAR0 + 4 * i;
		uint32_t lo = pci_read32(pci, off), lo_mask, hi = 0, hi_mask = 0;

		pci_write32(pci, off, 0xffffffffU);
		lo_mask = pci_read32(pci, off);
		pci_write32(pci, off, lo);
		if (!(lo & PCI_BAR_IO) && (lo & 0x6) == PCI_BAR_MEM_TYPE_64 &&
		    i + 1 < count) {
			hi = pci_read32(pci, off + 4);
			pci_write32(pci, off + 4, 0xffffffffU);
			hi_mask = pci_read32(pci, off + 4);
			pci_write32(pci, off + 4, hi);
		}
		pci->bar[i] = pci_bar_decode(lo, lo_mask, hi, hi_mask);
		if (pci->bar[i].kind == PCI_BAR_KIND_MEM64)
			i++;	/* the next register was this BAR's top half */
	}
	pci_write16(pci, PCI_COMMAND, command);
}

static void scan_bus(uint8_t bus, unsigned int depth);

static void scan_function(uint8_t bus, uint8_t dev, uint8_t fn, unsigned int depth)
{
	struct pci_device pci = { .bus = bus, .dev = dev, .fn = fn };
	struct pci_device *d;

	pci.vendor = pci_read16(&pci, PCI_VENDOR_ID);
	if (pci.vendor == 0xffff)
		return;
	if (ndevices == PCI_MAX_DEVICES) {
		dropped++;
		return;
	}
	d = &devices[ndevices++];
	*d = pci;
	d->device = pci_read16(d, PCI_DEVICE_ID);
	d->class = pci_read8(d, PCI_CLASS);
	d->subclass = pci_read8(d, PCI_SUBCLASS);
	d->prog_if = pci_read8(d, PCI_PROG_IF);
	d->header_type = pci_read8(d, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
	d->irq_line = pci_read8(d, PCI_INTERRUPT_LINE);
	d->irq_pin = pci_read8(d, PCI_INTERRUPT_PIN);
	if (d->header_type == 0) {
		d->subsystem = pci_read16(d, PCI_SUBSYSTEM_ID);
		read_bars(d, PCI_MAX_BARS);
	} else if (d->header_type == 1) {
		/* A bridge has two BARs, then its bus numbers. */
		read_bars(d, 2);
		if (d->class == PCI_CLASS_BRIDGE &&
		    d->subclass == PCI_SUBCLASS_PCI_BRIDGE) {
			uint8_t secondary = pci_read8(d, PCI_SECONDARY_BUS);

			/*
			 * Buses are numbered depth first, so the bus behind a
			 * bridge has a higher number; anything else would
			 * make the walk go round in circles.
			 */
			if (secondary > bus && depth < PCI_MAX_DEPTH)
				scan_bus(secondary, depth + 1);
		}
	}
}

static void scan_bus(uint8_t bus, unsigned int depth)
{
	for (uint8_t dev = 0; dev < PCI_SLOTS; dev++) {
		struct pci_device f0 = { .bus = bus, .dev = dev };
		unsigned int functions = 1;

		if (pci_read16(&f0, PCI_VENDOR_ID) == 0xffff)
			continue;
		if (pci_read8(&f0, PCI_HEADER_TYPE) & PCI_HEADER_MULTI)
			functions = PCI_FUNCTIONS;
		for (uint8_t fn = 0; fn < functions; fn++)
			scan_function(bus, dev, fn, depth);
	}
}

uint8_t pci_find_capability(const struct pci_device *pci, uint8_t cap_id,
			    uint8_t from)
{
	uint8_t at;

	if (!(pci_read16(pci, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	at = from ? pci_read8(pci, from + 1) : pci_read8(pci, PCI_CAPABILITIES);
	/* The low two bits are reserved; a list longer than can fit is a loop. */
	for (int n = 0; n < PCI_MAX_CAPS && (at & ~3U) >= 0x40; n++) {
		at &= ~3U;
		if (pci_read8(pci, at) == cap_id)
			return at;
		at = pci_read8(pci, at + 1);
	}
	return 0;
}

volatile void *pci_map_bar(const struct pci_device *pci, unsigned int index)
{
	const struct pci_bar *bar;

	if (index >= PCI_MAX_BARS)
		return NULL;
	bar = &pci->bar[index];
	if (bar->kind != PCI_BAR_KIND_MEM32 && bar->kind != PCI_BAR_KIND_MEM64) {
		kprintf("pci: %02x:%02x.%x: BAR %u is not memory\n",
			pci->bus, pci->dev, pci->fn, index);
		return NULL;
	}
	return mmio_map(bar->base, bar->size);
}

static const struct {
	uint16_t vendor, device;
	const char *name;
} known[] = {
	{ 0x8086, 0x1237, "440FX host bridge" },
	{ 0x8086, 0x7000, "PIIX3 ISA bridge" },
	{ 0x8086, 0x7010, "PIIX3 IDE controller" },
	{ 0x8086, 0x7113, "PIIX4 ACPI" },
	{ 0x8086, 0x29c0, "Q35 host bridge" },
	{ 0x8086, 0x2918, "ICH9 LPC bridge" },
	{ 0x8086, 0x2922, "ICH9 SATA controller" },
	{ 0x8086, 0x2930, "ICH9 SMBus controller" },
	{ 0x8086, 0x100e, "e1000 Ethernet" },
	{ 0x1234, 0x1111, "VGA (Bochs)" },
	{ 0x1b36, 0x0001, "PCI-to-PCI bridge" },
	/* virtio 1.2 §4.1.2: 0x1000-0x103f transitional, 0x1040 + type modern. */
	{ 0x1af4, 0x1000, "virtio-net (transitional)" },
	{ 0x1af4, 0x1001, "virtio-blk (transitional)" },
	{ 0x1af4, 0x1005, "virtio-rng (transitional)" },
	{ 0x1af4, 0x1041, "virtio-net" },
	{ 0x1af4, 0x1042, "virtio-blk" },
	{ 0x1af4, 0x1044, "virtio-rng" },
};

const char *pci_device_name(const struct pci_device *pci)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].vendor == pci->vendor && known[i].device == pci->device)
			return known[i].name;
	}
	if (pci->vendor == 0x1af4 && pci->device >= 0x1000 && pci->device <= 0x107f)
		return pci->device < 0x1040 ? "virtio (transitional)" : "virtio";
	if (pci->class == PCI_CLASS_BRIDGE && pci->subclass == PCI_SUBCLASS_PCI_BRIDGE)
		return "PCI-to-PCI bridge";
	return NULL;
}

const struct pci_device *pci_devices(unsigned int *count)
{
	*count = ndevices;
	return devices;
}

static bool matches(const struct pci_match *m, const struct pci_device *pci)
{
	return m->vendor == pci->vendor && pci->device >= m->device_first &&
	       pci->device <= m->device_last &&
	       (m->class == PCI_ANY_CLASS || m->class == pci->class);
}

/* Offer @pci to the drivers, in table order, until one takes it. */
static void probe(struct pci_device *pci)
{
	const struct pci_driver *drv;

	for_each_table_entry(drv, pci_drivers) {
		for (const struct pci_match *m = drv->match; m->vendor; m++) {
			if (!matches(m, pci))
				continue;
			if (drv->probe(pci) == 0)
				pci->driver = drv->name;
			if (pci->driver)
				return;
			break;
		}
	}
}

static void print_function(const struct pci_device *pci)
{
	const char *name = pci_device_name(pci);

	kprintf("pci: %02x:%02x.%x %04x:%04x class %02x.%02x%s%s\n",
		pci->bus, pci->dev, pci->fn, pci->vendor, pci->device,
		pci->class, pci->subclass, name ? " " : "", name ? name : "");
}

/* Find every function, list them, then hand each to its driver. */
static int pci_init(const struct boot_info *info)
{
	(void)info;
	ndevices = dropped = 0;
	scan_bus(0, 0);
	for (unsigned int i = 0; i < ndevices; i++)
		print_function(&devices[i]);
	if (dropped)
		kprintf("pci: error: %u more functions not kept (room for %d)\n",
			dropped, PCI_MAX_DEVICES);
	kprintf("pci: %u functions\n", ndevices);
	for (unsigned int i = 0; i < ndevices; i++)
		probe(&devices[i]);
	return 0;
}
INITCALL(INIT_DEVICES, pci_init);

static const char *const bar_kinds[] = {
	[PCI_BAR_NONE] = "none", [PCI_BAR_KIND_IO] = "io",
	[PCI_BAR_KIND_MEM32] = "mem32", [PCI_BAR_KIND_MEM64] = "mem64",
};

/* `pci`: every function, with its interrupt, driver and BARs. */
static int cmd_pci(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (unsigned int i = 0; i < ndevices; i++) {
		const struct pci_device *pci = &devices[i];

		print_function(pci);
		if (pci->irq_pin)
			kprintf("    irq %u (INT%c#)", pci->irq_line,
				'A' + pci->irq_pin - 1);
		else
			kprintf("    no interrupt");
		kprintf(", driver %s\n", pci->driver ? pci->driver : "none");
		for (int b = 0; b < PCI_MAX_BARS; b++) {
			const struct pci_bar *bar = &pci->bar[b];

			if (bar->kind == PCI_BAR_NONE)
				continue;
			kprintf("    bar%d %s 0x%lx size 0x%lx%s\n", b,
				bar_kinds[bar->kind], bar->base, bar->size,
				bar->prefetchable ? " prefetchable" : "");
		}
	}
	kprintf("pci: %u functions\n", ndevices);
	return 0;
}
KCMD(pci, "list the PCI functions, their interrupts, drivers and BARs", cmd_pci);
