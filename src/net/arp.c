/*
 * ARP (RFC 826): which MAC address has this IPv4 address? A request is
 * broadcast; the owner of the address answers to the asker alone. The
 * answers go in a small cache, whose entries expire (addresses move), and
 * packets for a neighbour not yet resolved wait in a short queue on its
 * entry until the answer comes, or are dropped after three requests.
 *
 * The packet (for Ethernet and IPv4, the only pair fern speaks):
 *   0 htype (1)  2 ptype (0x0800)  4 hlen (6)  5 plen (4)  6 op
 *   8 sender MAC  14 sender IP  18 target MAC  24 target IP   (28 bytes)
 */
#include <fern/console.h>
#include <fern/net.h>
#include <fern/pbuf.h>
#include <fern/string.h>

#define ARP_LEN		28
#define ARP_HTYPE_ETHER	1
#define ARP_OP_REQUEST	1
#define ARP_OP_REPLY	2

#define ARP_ENTRIES	16	/* the cache's size: the oldest goes when full */
#define ARP_QUEUE_MAX	4	/* packets waiting on one entry */
#define ARP_TRIES	3	/* requests before giving up */
#define ARP_RETRY_MS	1000
#define ARP_TICK_MS	250

enum arp_state { ARP_FREE, ARP_INCOMPLETE, ARP_RESOLVED };

struct arp_entry {
	enum arp_state state;
	uint32_t ip;
	uint8_t mac[ETH_ADDR_LEN];
	uint64_t expires_ms;		/* resolved: when it is forgotten */
	uint64_t retry_ms;		/* incomplete: when to ask again */
	unsigned int tries;
	struct pbuf *queue;		/* incomplete: packets waiting, oldest first */
	unsigned int queued;
};

static struct arp_entry cache[ARP_ENTRIES];
static uint32_t timeout_ms = 300 * 1000;
static struct loop_timer tick;

static const uint8_t broadcast[ETH_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[ETH_ADDR_LEN];

void arp_set_timeout(uint32_t seconds)
{
	timeout_ms = seconds * 1000;
}

static void drop_queue(struct arp_entry *e, enum net_drop why)
{
	while (e->queue) {
		struct pbuf *p = e->queue;

		e->queue = p->next;
		p->next = NULL;
		net_drop(p, why);
	}
	e->queued = 0;
}

static struct arp_entry *lookup(uint32_t ip)
{
	for (unsigned int i = 0; i < ARP_ENTRIES; i++) {
		if (cache[i].state != ARP_FREE && cache[i].ip == ip)
			return &cache[i];
	}
	return NULL;
}

/* A free entry, or the one that expires first (incomplete ones last). */
static struct arp_entry *take_entry(void)
{
	struct arp_entry *victim = NULL;

	for (unsigned int i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &cache[i];

		if (e->state == ARP_FREE)
			return e;
		if (e->state == ARP_RESOLVED && (!victim || e->expires_ms < victim->expires_ms))
			victim = e;
	}
	if (!victim)
		victim = &cache[0];
	drop_queue(victim, NET_DROP_ARP_UNRESOLVED);
	victim->state = ARP_FREE;
	return victim;
}

/* A new entry for @ip, waiting for its first request to be sent. */
static struct arp_entry *incomplete_entry(uint32_t ip)
{
	struct arp_entry *e = take_entry();

	e->ip = ip;
	e->state = ARP_INCOMPLETE;
	e->tries = 0;
	return e;
}

/* Build and send one ARP packet. */
static void arp_send(uint16_t op, const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
{
	struct pbuf *p = pbuf_alloc();
	uint8_t *a;

	if (!p) {
		net_drop(NULL, NET_DROP_NO_BUFFER);
		return;
	}
	a = pbuf_put(p, ARP_LEN);
	put16(a, ARP_HTYPE_ETHER);
	put16(a + 2, ETH_TYPE_IPV4);
	a[4] = ETH_ADDR_LEN;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, netif.mac, ETH_ADDR_LEN);
	put32(a + 14, netif.addr);
	memcpy(a + 18, tha, ETH_ADDR_LEN);
	put32(a + 24, tpa);
	net_stats.arp_tx++;
	ether_output(p, eth_dst, ETH_TYPE_ARP);
}

static void request(struct arp_entry *e, uint64_t now)
{
	e->tries++;
	e->retry_ms = now + ARP_RETRY_MS;
	arp_send(ARP_OP_REQUEST, broadcast, zero_mac, e->ip);
}

/* Record that @ip is at @mac, and send what waited for it. */
static void learn(uint32_t ip, const uint8_t *mac, bool create)
{
	struct arp_entry *e = lookup(ip);

	if (!e) {
		if (!create)
			return;
		e = take_entry();
		e->ip = ip;
	}
	memcpy(e->mac, mac, ETH_ADDR_LEN);
	e->state = ARP_RESOLVED;
	e->expires_ms = loop_now_ms() + timeout_ms;
	while (e->queue) {
		struct pbuf *p = e->queue;

		e->queue = p->next;
		p->next = NULL;
		ether_output(p, e->mac, ETH_TYPE_IPV4);
	}
	e->queued = 0;
}

void arp_input(struct pbuf *p)
{
	const uint8_t *a = p->data;
	uint32_t spa, tpa;
	uint16_t op;
	bool for_us;

	net_stats.arp_rx++;
	if (p->len < ARP_LEN) {
		net_drop(p, NET_DROP_ARP_SHORT);
		return;
	}
	if (get16(a) != ARP_HTYPE_ETHER || get16(a + 2) != ETH_TYPE_IPV4 ||
	    a[4] != ETH_ADDR_LEN || a[5] != 4) {
		net_drop(p, NET_DROP_ARP_FORMAT);
		return;
	}
	op = get16(a + 6);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
		net_drop(p, NET_DROP_ARP_OP);
		return;
	}
	spa = get32(a + 14);
	tpa = get32(a + 24);
	for_us = netif.addr && tpa == netif.addr;
	/* RFC 826's merge step: refresh a sender we know; add it if the
	 * packet is for us (it is about to talk to us). */
	if (spa)
		learn(spa, a + 8, for_us);
	if (op == ARP_OP_REQUEST && for_us) {
		uint8_t sha[ETH_ADDR_LEN];

		memcpy(sha, a + 8, ETH_ADDR_LEN);
		pbuf_free(p);
		arp_send(ARP_OP_REPLY, sha, sha, spa);
		return;
	}
	pbuf_free(p);
}

int arp_output(struct pbuf *p, uint32_t next_hop)
{
	struct arp_entry *e = lookup(next_hop);
	uint64_t now = loop_now_ms();

	if (e && e->state == ARP_RESOLVED && e->expires_ms > now)
		return ether_output(p, e->mac, ETH_TYPE_IPV4);
	if (e && e->state == ARP_RESOLVED) {
		/* Expired: ask again, keeping the packet. */
		e->state = ARP_INCOMPLETE;
		e->tries = 0;
	}
	if (!e)
		e = incomplete_entry(next_hop);
	if (e->queued >= ARP_QUEUE_MAX) {
		net_drop(p, NET_DROP_ARP_QUEUE_FULL);
		return -1;
	}
	p->next = NULL;
	if (!e->queue) {
		e->queue = p;
	} else {
		struct pbuf *q = e->queue;

		while (q->next)
			q = q->next;
		q->next = p;
	}
	e->queued++;
	if (e->tries == 0)
		request(e, now);
	return 0;
}

/* Every ARP_TICK_MS: forget what expired, ask again for what is missing. */
static void arp_tick(void *ctx)
{
	uint64_t now = loop_now_ms();

	(void)ctx;
	for (unsigned int i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &cache[i];

		if (e->state == ARP_RESOLVED && e->expires_ms <= now) {
			e->state = ARP_FREE;
		} else if (e->state == ARP_INCOMPLETE && e->retry_ms <= now) {
			if (e->tries >= ARP_TRIES) {
				drop_queue(e, NET_DROP_ARP_UNRESOLVED);
				e->state = ARP_FREE;
			} else {
				request(e, now);
			}
		}
	}
}

void arp_announce(void)
{
	if (!tick.armed)
		loop_timer_periodic(&tick, "arp", ARP_TICK_MS, arp_tick, NULL);
	arp_send(ARP_OP_REQUEST, broadcast, zero_mac, netif.addr);
	/*
	 * Ask for the gateway now, before anything waits for it: almost
	 * every packet goes through it, and a server's first burst (the
	 * SYN-ACKs to forty clients that came at once) would otherwise find
	 * its queue of ARP_QUEUE_MAX full and lose the rest, each loss
	 * costing a client a retransmission timeout.
	 */
	if (netif.gateway && !lookup(netif.gateway))
		request(incomplete_entry(netif.gateway), loop_now_ms());
}

void arp_print(void)
{
	uint64_t now = loop_now_ms();
	unsigned int n = 0;
	char ip[16];

	for (unsigned int i = 0; i < ARP_ENTRIES; i++)
		n += cache[i].state != ARP_FREE &&
		     !(cache[i].state == ARP_RESOLVED && cache[i].expires_ms <= now);
	kprintf("arp: %u entries\n", n);
	for (unsigned int i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &cache[i];
		const uint8_t *m = e->mac;

		if (e->state == ARP_INCOMPLETE) {
			kprintf("  %s (incomplete)\n", ip4_format(e->ip, ip));
		} else if (e->state == ARP_RESOLVED && e->expires_ms > now) {
			kprintf("  %s %02x:%02x:%02x:%02x:%02x:%02x expires in %lu s\n",
				ip4_format(e->ip, ip), m[0], m[1], m[2], m[3], m[4], m[5],
				(e->expires_ms - now) / 1000);
		}
	}
}
