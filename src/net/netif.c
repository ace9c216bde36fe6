/*
 * The interface: attaching the stack to the first network card at the
 * `net` init level, its configuration, the drop counters, and the UDP
 * echo service (port 7, RFC 862) that the tests and readers talk to.
 *
 * The address comes from the command line, `ip=A.B.C.D/LEN,gw=A.B.C.D`
 * (and optionally `,dns=A.B.C.D`), or else from DHCP (dhcp.c).
 */
#include <fern/boot.h>
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/format.h>
#include <fern/init.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

struct net_stats net_stats;
struct netif netif;

static const char *const drop_names[NET_DROPS] = {
#define NET_DROP_NAME(id, name, why) [NET_DROP_##id] = name,
	NET_DROP_REASONS(NET_DROP_NAME)
#undef NET_DROP_NAME
};

const char *net_drop_name(enum net_drop why)
{
	return why < NET_DROPS ? drop_names[why] : "?";
}

void net_drop(struct pbuf *p, enum net_drop why)
{
	if (why < NET_DROPS)
		net_stats.drops[why]++;
	pbuf_free(p);
}

char *ip4_format(uint32_t addr, char buf[16])
{
	ksnprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
		  addr & 255);
	return buf;
}

const char *ip4_parse(const char *s, uint32_t *addr)
{
	uint32_t a = 0;

	for (int part = 0; part < 4; part++) {
		unsigned int v = 0, digits = 0;

		if (part && *s++ != '.')
			return NULL;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned int)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255)
			return NULL;
		a = a << 8 | v;
	}
	*addr = a;
	return s;
}

unsigned int ip4_prefix_len(uint32_t mask)
{
	unsigned int n = 0;

	while (mask & 0x80000000U) {
		n++;
		mask <<= 1;
	}
	return n;
}

void net_configure(uint32_t addr, uint32_t mask, uint32_t gateway, uint32_t dns,
		   const char *how)
{
	char a[16], g[16];

	netif.addr = addr;
	netif.mask = mask;
	netif.gateway = gateway;
	netif.dns = dns;
	netif.how = how;
	kprintf("net: %s/%u gw %s (%s)\n", ip4_format(addr, a), ip4_prefix_len(mask),
		ip4_format(gateway, g), how);
	arp_announce();
}

/*
 * `ip=A.B.C.D/LEN,gw=A.B.C.D[,dns=A.B.C.D]`: every part checked, and the
 * whole option refused (with a line saying why) if any is wrong.
 */
static int parse_static(const char *s, uint32_t *addr, uint32_t *mask, uint32_t *gw,
			uint32_t *dns)
{
	unsigned int len = 0, digits = 0;

	s = ip4_parse(s, addr);
	if (!s || *s++ != '/')
		return -1;
	while (*s >= '0' && *s <= '9' && digits < 3) {
		len = len * 10 + (unsigned int)(*s++ - '0');
		digits++;
	}
	if (!digits || len < 1 || len > 30)
		return -1;
	*mask = 0xffffffffU << (32 - len);
	*gw = *dns = 0;
	while (*s == ',') {
		s++;
		if (strncmp(s, "gw=", 3) == 0)
			s = ip4_parse(s + 3, gw);
		else if (strncmp(s, "dns=", 4) == 0)
			s = ip4_parse(s + 4, dns);
		else
			return -1;
		if (!s)
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

/* The echo service: each datagram goes back to where it came from. */
static void echo_recv(struct udp_socket *s, uint32_t src, uint16_t sport,
		      const uint8_t *data, size_t len)
{
	udp_sendto(s, src, sport, data, len);
}

static struct udp_socket echo_socket;

static int net_start(const struct boot_info *info)
{
	uint32_t addr, mask, gw, dns;
	struct netdev *dev = netdev_get(0);
	char value[80];
	int err;

	if (!dev) {
		kprintf("net: no interface\n");
		return 0;
	}
	netif.dev = dev;
	memcpy(netif.mac, dev->mac, ETH_ADDR_LEN);
	dev->input = ether_input;
	if (cmdline_is(info->cmdline, "eth_pad", "0"))
		dev->no_pad = true;
	err = dev->open(dev);
	if (err) {
		kprintf("net: error: %s did not open (%d)\n", dev->name, err);
		netif.dev = NULL;
		return err;
	}
	if (cmdline_get(info->cmdline, "arp_timeout", value, sizeof(value))) {
		uint32_t t = 0;

		for (const char *c = value; *c >= '0' && *c <= '9' && t < 100000; c++)
			t = t * 10 + (uint32_t)(*c - '0');
		if (t)
			arp_set_timeout(t);
	}
	udp_bind(&echo_socket, 7, echo_recv, NULL);
	if (!cmdline_get(info->cmdline, "ip", value, sizeof(value))) {
		/* dhcp.c's init call, next, asks for one. */
		return 0;
	}
	if (parse_static(value, &addr, &mask, &gw, &dns) != 0) {
		kprintf("net: error: ip=%s is not A.B.C.D/LEN,gw=A.B.C.D[,dns=A.B.C.D]\n", value);
		return 0;
	}
	net_configure(addr, mask, gw, dns, "static");
	return 0;
}
INITCALL(INIT_NET, net_start);
