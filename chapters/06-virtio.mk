# Chapter 6 — virtio: PCI enumeration, memory for devices, the virtio PCI
# transport (legacy and modern), split virtqueues, virtio-rng and
# virtio-blk.
#
# See 01-boot.mk for what a manifest is. The order of srcs is the link
# order, and so the order of the init calls of one level: pci.c's
# pci_init() finds the devices and runs their drivers' probes at the
# devices level, and the reports after it (virtio_blk.c's "no disk", rng.c's
# source line) run once every driver had its chance. virtqueue.c and
# pci_bar.c touch no hardware and are also built for the host
# (tests/host/test_virtq.c, test_pci.c).
CHAPTERS += 6
ch6.slug := virtio
ch6.title := virtio: PCI, DMA and the virtqueue
ch6.srcs := \
	src/lib/parse.c \
	src/mm/dma.c \
	src/drivers/pci_bar.c \
	src/drivers/pci.c \
	src/drivers/virtqueue.c \
	src/drivers/virtio.c \
	src/drivers/virtio_pci.c \
	src/drivers/virtio_rng.c \
	src/drivers/virtio_blk.c \
	src/drivers/rng.c \
	src/drivers/virtio_test.c
ch6.tests := tests/ch06_virtio.py tests/host/test_virtq.c tests/host/test_pci.c
ch6.blog := blog/06-virtio.md
ch6.lab := labs/lab6
