/*
 * The network's shell commands: ifconfig, arp, ping and netstat.
 */
#include <fern/console.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/shell.h>

static int cmd_ifconfig(int argc, char **argv)
{
	const uint8_t *m = netif.mac;
	char a[16], g[16], d[16];

	(void)argc;
	(void)argv;
	if (!netif.dev) {
		kprintf("ifconfig: no interface\n");
		return 1;
	}
	kprintf("eth0: %s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u\n", netif.dev->name,
		m[0], m[1], m[2], m[3], m[4], m[5], netif.dev->mtu);
	if (!netif.addr)
		kprintf("  inet none\n");
	else
		kprintf("  inet %s/%u gw %s dns %s (%s", ip4_format(netif.addr, a),
			ip4_prefix_len(netif.mask),
			ip4_format(netif.gateway, g), ip4_format(netif.dns, d), netif.how);
	if (netif.addr && netif.lease_s)
		kprintf(", lease %u s", netif.lease_s);
	if (netif.addr)
		kprintf(")\n");
	return 0;
}
KCMD(ifconfig, "show the network interface", cmd_ifconfig);

static int cmd_arp(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	arp_print();
	return 0;
}
KCMD(arp, "show the ARP cache", cmd_arp);

static bool reply_arrived(void *ctx)
{
	(void)ctx;
	return icmp_awaited.arrived;
}

/* `ping HOST [COUNT]`: COUNT echo requests a second apart. */
static int cmd_ping(int argc, char **argv)
{
	static uint16_t id = 0x6600;
	unsigned int count = 3, received = 0;
	uint32_t dst;
	char h[16];

	if (argc < 2 || !ip4_parse(argv[1], &dst)) {
		kprintf("usage: ping A.B.C.D [COUNT]\n");
		return 1;
	}
	if (argc > 2) {
		count = 0;
		for (const char *c = argv[2]; *c >= '0' && *c <= '9' && count < 1000; c++)
			count = count * 10 + (unsigned int)(*c - '0');
	}
	if (!netif.addr) {
		kprintf("ping: the interface has no address\n");
		return 1;
	}
	id++;
	for (unsigned int seq = 1; seq <= count; seq++) {
		uint64_t start = loop_now_ms(), us;
		struct loop_stamp sent;

		icmp_awaited.id = id;
		icmp_awaited.seq = (uint16_t)seq;
		icmp_awaited.arrived = false;
		loop_stamp(&sent);
		icmp_echo_request(dst, id, (uint16_t)seq, 56);
		if (loop_wait(reply_arrived, NULL, 1000) == 0) {
			us = loop_since_us(&sent);
			received++;
			kprintf("%u bytes from %s: icmp_seq=%u ttl=%u time=%lu.%03lu ms\n",
				icmp_awaited.len, ip4_format(dst, h), seq, icmp_awaited.ttl,
				us / 1000, us % 1000);
			if (seq < count)
				loop_sleep((uint32_t)(1000 - (loop_now_ms() - start)));
		} else {
			kprintf("no reply for icmp_seq=%u\n", seq);
		}
	}
	kprintf("ping: %u sent, %u received\n", count, received);
	return received ? 0 : 1;
}
KCMD(ping, "ping A.B.C.D [COUNT]: ICMP echo requests", cmd_ping);

LINKER_TABLE(struct net_report, net_reports);

static int cmd_netstat(int argc, char **argv)
{
	const struct net_stats *s = &net_stats;
	const struct net_report *r;

	(void)argc;
	(void)argv;
	kprintf("eth rx %lu tx %lu\n", s->eth_rx, s->eth_tx);
	kprintf("ip rx %lu tx %lu\n", s->ip_rx, s->ip_tx);
	kprintf("icmp rx %lu tx %lu\n", s->icmp_rx, s->icmp_tx);
	kprintf("udp rx %lu tx %lu\n", s->udp_rx, s->udp_tx);
	kprintf("arp rx %lu tx %lu\n", s->arp_rx, s->arp_tx);
	kprintf("dhcp rx %lu tx %lu\n", s->dhcp_rx, s->dhcp_tx);
	kprintf("pbufs free %u of %u (low %u)\n", pbuf_available(), PBUF_COUNT, pbuf_low_water());
	for (unsigned int i = 0; i < NET_DROPS; i++)
		kprintf("drop %s %lu\n", net_drop_name((enum net_drop)i), s->drops[i]);
	for_each_table_entry(r, net_reports)
		r->print();
	return 0;
}
KCMD(netstat, "show the network's counters, and every drop by reason", cmd_netstat);
