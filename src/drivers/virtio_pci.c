/*
 * The virtio PCI transport (virtio 1.2 §4.1): the PCI driver for every
 * virtio device, which finds where its registers are, in the legacy or the
 * modern layout, and hands the device to the driver of its type
 * (virtio_drivers: virtio_rng.c, virtio_blk.c, ...).
 *
 * Vendor 0x1af4 devices 0x1000-0x103f are transitional: the device type
 * is in the subsystem id, and the legacy registers are in BAR 0 (I/O).
 * 0x1040-0x107f are modern, type = id - 0x1040. A transitional device has
 * the modern capabilities as well unless QEMU was told disable-modern=on;
 * fern prefers them where they exist, as §4.1.2.1 asks of a driver that
 * has both.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/format.h>
#include <fern/heap.h>
#include <fern/pci.h>
#include <fern/virtio.h>
#include <fern/x86.h>

#define PCI_VENDOR_VIRTIO	0x1af4
#define PCI_CAP_ID_VENDOR	0x09

/* The legacy registers, offsets in the I/O BAR (§4.1.4.8). */
#define LEGACY_DEVICE_FEATURES	0x00	/* 32 bits */
#define LEGACY_DRIVER_FEATURES	0x04	/* 32 bits */
#define LEGACY_QUEUE_PFN	0x08	/* 32 bits: address >> 12 */
#define LEGACY_QUEUE_SIZE	0x0c	/* 16 bits, read-only */
#define LEGACY_QUEUE_SELECT	0x0e	/* 16 bits */
#define LEGACY_QUEUE_NOTIFY	0x10	/* 16 bits */
#define LEGACY_STATUS		0x12	/* 8 bits */
#define LEGACY_ISR		0x13	/* 8 bits, cleared by reading */
/* Device configuration; at 0x18 instead if MSI-X were enabled (fern never enables it). */
#define LEGACY_CONFIG		0x14

/* The modern capability (struct virtio_pci_cap, §4.1.4). */
#define VIRTIO_CAP_CFG_TYPE	3
#define VIRTIO_CAP_BAR		4
#define VIRTIO_CAP_OFFSET	8
#define VIRTIO_CAP_LENGTH	12
#define VIRTIO_CAP_NOTIFY_MULT	16	/* notify capability only */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4

/* struct virtio_pci_common_cfg (§4.1.4.3), byte offsets. */
#define COMMON_DFSELECT		0x00	/* 32 */
#define COMMON_DF		0x04	/* 32 */
#define COMMON_GFSELECT		0x08	/* 32 */
#define COMMON_GF		0x0c	/* 32 */
#define COMMON_NUM_QUEUES	0x12	/* 16 */
#define COMMON_STATUS		0x14	/* 8 */
#define COMMON_CFG_GENERATION	0x15	/* 8 */
#define COMMON_Q_SELECT		0x16	/* 16 */
#define COMMON_Q_SIZE		0x18	/* 16 */
#define COMMON_Q_ENABLE		0x1c	/* 16 */
#define COMMON_Q_NOFF		0x1e	/* 16 */
#define COMMON_Q_DESCLO		0x20	/* 32 */
#define COMMON_Q_DESCHI		0x24
#define COMMON_Q_AVAILLO	0x28
#define COMMON_Q_AVAILHI	0x2c
#define COMMON_Q_USEDLO		0x30
#define COMMON_Q_USEDHI		0x34

/* ---- legacy: I/O ports ---------------------------------------------- */

static uint8_t legacy_get_status(struct virtio_device *vdev)
{
	return inb(vdev->io + LEGACY_STATUS);
}

static void legacy_set_status(struct virtio_device *vdev, uint8_t status)
{
	outb(vdev->io + LEGACY_STATUS, status);
}

static uint64_t legacy_get_features(struct virtio_device *vdev)
{
	return inl(vdev->io + LEGACY_DEVICE_FEATURES);
}

static void legacy_set_features(struct virtio_device *vdev, uint64_t features)
{
	outl(vdev->io + LEGACY_DRIVER_FEATURES, (uint32_t)features);
}

static uint32_t legacy_config_read(struct virtio_device *vdev, unsigned int off,
				   unsigned int len)
{
	uint16_t port = vdev->io + LEGACY_CONFIG + off;

	return len == 1 ? inb(port) : len == 2 ? inw(port) : inl(port);
}

static uint8_t legacy_config_generation(struct virtio_device *vdev)
{
	(void)vdev;
	return 0;
}

static uint16_t legacy_queue_size(struct virtio_device *vdev, uint16_t index)
{
	outw(vdev->io + LEGACY_QUEUE_SELECT, index);
	return inw(vdev->io + LEGACY_QUEUE_SIZE);
}

static int legacy_queue_setup(struct virtio_device *vdev, struct virtq *q)
{
	/* The legacy queue is one area at a page frame below 16 TiB. */
	if (q->phys % VIRTQ_LEGACY_ALIGN || (q->phys >> 12) > 0xffffffffUL)
		return -EINVAL;
	outw(vdev->io + LEGACY_QUEUE_SELECT, q->index);
	outl(vdev->io + LEGACY_QUEUE_PFN, (uint32_t)(q->phys >> 12));
	return 0;
}

static void legacy_notify(struct virtio_device *vdev, struct virtq *q)
{
	outw(vdev->io + LEGACY_QUEUE_NOTIFY, q->index);
}

static uint8_t legacy_isr(struct virtio_device *vdev)
{
	return inb(vdev->io + LEGACY_ISR);
}

static const struct virtio_transport legacy_transport = {
	.name = "legacy",
	.legacy = true,
	.get_status = legacy_get_status,
	.set_status = legacy_set_status,
	.get_features = legacy_get_features,
	.set_features = legacy_set_features,
	.config_read = legacy_config_read,
	.config_generation = legacy_config_generation,
	.queue_size = legacy_queue_size,
	.queue_setup = legacy_queue_setup,
	.notify = legacy_notify,
	.isr = legacy_isr,
};

/* ---- modern: memory-mapped structures ------------------------------- */

static void w8(volatile uint8_t *base, unsigned int off, uint8_t v)
{
	*(volatile uint8_t *)(base + off) = v;
}

static void w16(volatile uint8_t *base, unsigned int off, uint16_t v)
{
	*(volatile uint16_t *)(base + off) = v;
}

static void w32(volatile uint8_t *base, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}

static uint8_t r8(volatile uint8_t *base, unsigned int off)
{
	return *(volatile uint8_t *)(base + off);
}

static uint16_t r16(volatile uint8_t *base, unsigned int off)
{
	return *(volatile uint16_t *)(base + off);
}

static uint32_t r32(volatile uint8_t *base, unsigned int off)
{
	return *(volatile uint32_t *)(base + off);
}

static uint8_t modern_get_status(struct virtio_device *vdev)
{
	return r8(vdev->common, COMMON_STATUS);
}

static void modern_set_status(struct virtio_device *vdev, uint8_t status)
{
	w8(vdev->common, COMMON_STATUS, status);
}

/* 64 feature bits, 32 at a time through a select register. */
static uint64_t modern_get_features(struct virtio_device *vdev)
{
	uint64_t lo, hi;

	w32(vdev->common, COMMON_DFSELECT, 0);
	lo = r32(vdev->common, COMMON_DF);
	w32(vdev->common, COMMON_DFSELECT, 1);
	hi = r32(vdev->common, COMMON_DF);
	return hi << 32 | lo;
}

static void modern_set_features(struct virtio_device *vdev, uint64_t features)
{
	w32(vdev->common, COMMON_GFSELECT, 0);
	w32(vdev->common, COMMON_GF, (uint32_t)features);
	w32(vdev->common, COMMON_GFSELECT, 1);
	w32(vdev->common, COMMON_GF, (uint32_t)(features >> 32));
}

static uint32_t modern_config_read(struct virtio_device *vdev, unsigned int off,
				   unsigned int len)
{
	return len == 1 ? r8(vdev->device_cfg, off) :
	       len == 2 ? r16(vdev->device_cfg, off) : r32(vdev->device_cfg, off);
}

static uint8_t modern_config_generation(struct virtio_device *vdev)
{
	return r8(vdev->common, COMMON_CFG_GENERATION);
}

static uint16_t modern_queue_size(struct virtio_device *vdev, uint16_t index)
{
	if (index >= r16(vdev->common, COMMON_NUM_QUEUES))
		return 0;
	w16(vdev->common, COMMON_Q_SELECT, index);
	return r16(vdev->common, COMMON_Q_SIZE);
}

static int modern_queue_setup(struct virtio_device *vdev, struct virtq *q)
{
	uint64_t desc = q->phys;
	uint64_t avail = desc + (uint64_t)((char *)q->avail - (char *)q->desc);
	uint64_t used = desc + (uint64_t)((char *)q->used - (char *)q->desc);
	volatile uint8_t *c = vdev->common;

	w16(c, COMMON_Q_SELECT, q->index);
	w16(c, COMMON_Q_SIZE, q->size);
	w32(c, COMMON_Q_DESCLO, (uint32_t)desc);
	w32(c, COMMON_Q_DESCHI, (uint32_t)(desc >> 32));
	w32(c, COMMON_Q_AVAILLO, (uint32_t)avail);
	w32(c, COMMON_Q_AVAILHI, (uint32_t)(avail >> 32));
	w32(c, COMMON_Q_USEDLO, (uint32_t)used);
	w32(c, COMMON_Q_USEDHI, (uint32_t)(used >> 32));
	w16(c, COMMON_Q_ENABLE, 1);
	return r16(c, COMMON_Q_ENABLE) == 1 ? 0 : -EIO;
}

static void modern_notify(struct virtio_device *vdev, struct virtq *q)
{
	uint16_t off;

	w16(vdev->common, COMMON_Q_SELECT, q->index);
	off = r16(vdev->common, COMMON_Q_NOFF);
	w16(vdev->notify_base, off * vdev->notify_multiplier, q->index);
}

static uint8_t modern_isr(struct virtio_device *vdev)
{
	return r8(vdev->isr_status, 0);
}

static const struct virtio_transport modern_transport = {
	.name = "modern",
	.legacy = false,
	.get_status = modern_get_status,
	.set_status = modern_set_status,
	.get_features = modern_get_features,
	.set_features = modern_set_features,
	.config_read = modern_config_read,
	.config_generation = modern_config_generation,
	.queue_size = modern_queue_size,
	.queue_setup = modern_queue_setup,
	.notify = modern_notify,
	.isr = modern_isr,
};

/*
 * Find the modern structures: vendor capabilities whose cfg_type names
 * the structure, and whose BAR and offset say where it is (§4.1.4). Map
 * each BAR used once. Returns true if all four are there.
 */
static bool find_modern(struct virtio_device *vdev)
{
	struct pci_device *pci = vdev->pci;
	volatile uint8_t *bars[PCI_MAX_BARS] = { 0 };
	uint8_t at = 0;

	while ((at = pci_find_capability(pci, PCI_CAP_ID_VENDOR, at)) != 0) {
		uint8_t type = pci_read8(pci, at + VIRTIO_CAP_CFG_TYPE);
		uint8_t bar = pci_read8(pci, at + VIRTIO_CAP_BAR);
		uint32_t offset = pci_read32(pci, at + VIRTIO_CAP_OFFSET);
		uint32_t length = pci_read32(pci, at + VIRTIO_CAP_LENGTH);
		volatile uint8_t *where;

		if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG)
			continue;	/* the PCI configuration access one, or unknown */
		if (bar >= PCI_MAX_BARS || (uint64_t)offset + length > pci->bar[bar].size)
			continue;	/* points outside its BAR: ignore it */
		if (!bars[bar])
			bars[bar] = pci_map_bar(pci, bar);
		if (!bars[bar])
			continue;
		where = bars[bar] + offset;
		/* §4.1.4.1: use the first capability of each type. */
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !vdev->common)
			vdev->common = where;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !vdev->notify_base) {
			vdev->notify_base = where;
			vdev->notify_multiplier = pci_read32(pci, at + VIRTIO_CAP_NOTIFY_MULT);
		} else if (type == VIRTIO_PCI_CAP_ISR_CFG && !vdev->isr_status)
			vdev->isr_status = where;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !vdev->device_cfg)
			vdev->device_cfg = where;
	}
	return vdev->common && vdev->notify_base && vdev->isr_status && vdev->device_cfg;
}

/*
 * The device's interrupt: reading the ISR status tells whether it was
 * this device that asked (a line is shared), and lowers its INTx# line.
 * The waiting driver sees the used ring move; nothing more to do here.
 */
static enum irq_result virtio_irq(void *ctx)
{
	struct virtio_device *vdev = ctx;

	if (!vdev->ops->isr(vdev))
		return IRQ_NONE;
	vdev->interrupts++;
	return IRQ_HANDLED;
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case VIRTIO_ID_NET:
		return "virtio-net";
	case VIRTIO_ID_BLOCK:
		return "virtio-blk";
	case VIRTIO_ID_ENTROPY:
		return "virtio-rng";
	default:
		return "virtio";
	}
}

static int virtio_pci_probe(struct pci_device *pci)
{
	const struct virtio_driver *drv, *found = NULL;
	struct virtio_device *vdev;
	uint16_t type;
	int err;

	type = pci->device >= 0x1040 ? pci->device - 0x1040 : pci->subsystem;
	for_each_table_entry(drv, virtio_drivers) {
		if (drv->type == type)
			found = drv;
	}
	if (!found) {
		kprintf("virtio: %02x:%02x.%x: no driver for device type %u\n",
			pci->bus, pci->dev, pci->fn, type);
		return -ENODEV;
	}
	vdev = kcalloc(1, sizeof(*vdev));
	if (!vdev)
		return -ENOMEM;
	vdev->pci = pci;
	vdev->type = type;
	ksnprintf(vdev->name, sizeof(vdev->name), "%s %02x:%02x.%x", type_name(type),
		  pci->bus, pci->dev, pci->fn);
	pci_enable(pci, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (find_modern(vdev)) {
		vdev->ops = &modern_transport;
	} else if (pci->device < 0x1040 && pci->bar[0].kind == PCI_BAR_KIND_IO) {
		vdev->ops = &legacy_transport;
		vdev->io = (uint16_t)pci->bar[0].base;
	} else {
		kprintf("virtio: %s: error: neither modern capabilities nor a legacy I/O BAR\n",
			vdev->name);
		kfree(vdev);
		return -ENODEV;
	}
	if (pci->irq_pin && pci->irq_line < 16 &&
	    irq_register(pci->irq_line, virtio_irq, vdev, vdev->name) == 0)
		vdev->irq = true;
	else
		kprintf("virtio: %s: no interrupt line; polling\n", vdev->name);
	err = found->probe(vdev);
	if (err) {
		vdev->ops->set_status(vdev, VIRTIO_STATUS_FAILED);
		if (vdev->irq)
			irq_unregister(pci->irq_line, virtio_irq, vdev);
		kfree(vdev);
		return err;
	}
	virtio_add_device(vdev);
	return 0;
}

static const struct pci_match virtio_ids[] = {
	{ PCI_VENDOR_VIRTIO, 0x1000, 0x107f, PCI_ANY_CLASS },
	{ 0, 0, 0, 0 },
};

static const struct pci_driver virtio_pci TABLE_ENTRY(pci_drivers) = {
	.name = "virtio",
	.match = virtio_ids,
	.probe = virtio_pci_probe,
};
