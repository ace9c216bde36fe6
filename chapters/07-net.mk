# Chapter 7 — net: the event loop and its timers, virtio-net, and a small
# IPv4 network stack (Ethernet, ARP, IPv4, ICMP, UDP, a DHCP client) that
# checks every length before it trusts it.
#
# See 01-boot.mk for what a manifest is. The layers, lowest first: the
# event loop (src/cpu/loop.c: below the drivers, which mark work for it),
# packet buffers and the network-device seam (src/drivers/pbuf.c,
# netdev.c), the virtio-net driver, then the stack in src/net/, which
# never includes a driver. src/lib/checksum.c and src/net/ touch no
# hardware and are also built for the host (tests/host/test_net.c).
CHAPTERS += 7
ch7.slug := net
ch7.title := net: virtio-net, Ethernet, ARP, IPv4, ICMP, UDP and DHCP
ch7.srcs := \
	src/cpu/loop.c \
	src/cpu/loop_test.c \
	src/drivers/pbuf.c \
	src/drivers/netdev.c \
	src/drivers/virtio_net.c \
	src/lib/checksum.c \
	src/net/netif.c \
	src/net/ether.c \
	src/net/arp.c \
	src/net/ipv4.c \
	src/net/icmp.c \
	src/net/udp.c \
	src/net/dhcp.c \
	src/net/net_cmds.c
ch7.tests := \
	tests/ch07_net.py \
	tests/host/test_net.c \
	tests/host/net_host.h \
	tests/host/net_host.c \
	tests/host/wire.h \
	tests/fuzz/fuzz_dhcp.c \
	tests/fuzz/net_fuzz.c \
	tests/fuzz/net_fuzz.h \
	tests/fuzz/reset.h \
	tests/fuzz/reset_arp.c \
	tests/fuzz/reset_dhcp.c
ch7.files := docs/network.md tests/fernlab/peer.py tests/fernlab/session.py
ch7.blog := blog/07-net.md
ch7.lab := labs/lab7
