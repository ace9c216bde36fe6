/**
 * @file net.h
 * @brief The network stack (chapter 7): one interface, IPv4 over Ethernet,
 *        ARP, ICMP echo and UDP, every length checked before it is trusted.
 *
 * The layers, one file each in src/net/: ether.c takes frames from the
 * device (netdev.h) and hands them to arp.c or ipv4.c; ipv4.c checks
 * each header and hands the payload to icmp.c or udp.c. Sending goes the
 * other way, each layer pushing its header into the packet buffer's
 * headroom (pbuf.h). Whatever is malformed, or is not supported (IP
 * options, fragments, IPv6: docs/network.md), is dropped and counted
 * under one reason, which `netstat` shows.
 *
 * Addresses are uint32_t in host byte order (IP4(10, 0, 2, 15)); the wire
 * code converts.
 */
#ifndef FERN_NET_H
#define FERN_NET_H

#include <fern/loop.h>
#include <fern/netdev.h>
#include <fern/table.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pbuf;

/** The IPv4 address a.b.c.d in host byte order. */
#define IP4(a, b, c, d)	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define IP4_BROADCAST	0xffffffffU	/**< 255.255.255.255 */

/** @name EtherTypes (IEEE 802.3) and IP protocol numbers (RFC 790) @{ */
#define ETH_TYPE_IPV4	0x0800
#define ETH_TYPE_ARP	0x0806
#define IP_PROTO_ICMP	1
#define IP_PROTO_UDP	17
/** @} */

#define ETH_HDR_LEN	14	/**< destination, source, type */
#define IPV4_HDR_LEN	20	/**< without options */
#define UDP_HDR_LEN	8
#define ICMP_HDR_LEN	8	/**< type, code, checksum, id, sequence */

/**
 * Why a packet was dropped: name (for `netstat`) and meaning. Every drop
 * is counted under exactly one of these.
 */
#define NET_DROP_REASONS(X)						\
	X(ETH_SHORT, "eth-short", "frame shorter than an Ethernet header")	\
	X(ETH_NOT_OURS, "eth-not-ours", "frame to another MAC address")	\
	X(ETH_TYPE, "eth-type", "neither IPv4 nor ARP (IPv6 is not supported)") \
	X(ARP_SHORT, "arp-short", "ARP packet shorter than 28 bytes")	\
	X(ARP_FORMAT, "arp-format", "ARP not for Ethernet and IPv4 (htype, ptype, hlen, plen)") \
	X(ARP_OP, "arp-op", "ARP neither request nor reply")		\
	X(ARP_QUEUE_FULL, "arp-queue-full", "packet waiting for ARP: queue full") \
	X(ARP_UNRESOLVED, "arp-unresolved", "packet whose next hop never answered ARP") \
	X(IP_SHORT, "ip-short", "packet shorter than an IPv4 header")	\
	X(IP_VERSION, "ip-version", "version is not 4")			\
	X(IP_IHL, "ip-ihl", "header length below 5 words")		\
	X(IP_HEADER_LEN, "ip-header-len", "header length beyond the packet") \
	X(IP_TOTAL_LEN, "ip-total-len", "total length beyond the frame or inside the header") \
	X(IP_CHECKSUM, "ip-checksum", "header checksum wrong")		\
	X(IP_OPTIONS, "ip-options", "IP options (not supported)")	\
	X(IP_FRAGMENT, "ip-fragment", "a fragment (not supported)")	\
	X(IP_NOT_OURS, "ip-not-ours", "to another address")		\
	X(IP_PROTO, "ip-proto", "neither ICMP nor UDP")			\
	X(ICMP_SHORT, "icmp-short", "ICMP message shorter than 8 bytes") \
	X(ICMP_CHECKSUM, "icmp-checksum", "ICMP checksum wrong")	\
	X(ICMP_TYPE, "icmp-type", "ICMP type fern does not handle")	\
	X(UDP_SHORT, "udp-short", "UDP datagram shorter than its header") \
	X(UDP_LENGTH, "udp-length", "UDP length other than the IP payload's") \
	X(UDP_CHECKSUM, "udp-checksum", "UDP checksum wrong")		\
	X(UDP_PORT, "udp-port", "no socket on the port")		\
	X(DHCP_MALFORMED, "dhcp-malformed", "DHCP message with a broken option") \
	X(DHCP_IGNORED, "dhcp-ignored", "DHCP message not for us or not expected") \
	X(NO_BUFFER, "no-buffer", "no packet buffer free")		\
	X(TX_FULL, "tx-full", "the device's transmit queue was full")

/** The drop reasons as numbers: NET_DROP_ETH_SHORT, ... */
enum net_drop {
#define NET_DROP_ENUM(id, name, why) NET_DROP_##id,
	NET_DROP_REASONS(NET_DROP_ENUM)
#undef NET_DROP_ENUM
	NET_DROPS		/**< how many reasons there are */
};

/** What the stack counts, for `netstat`. */
struct net_stats {
	uint64_t eth_rx, eth_tx, arp_rx, arp_tx, ip_rx, ip_tx;	/**< packets per layer */
	uint64_t icmp_rx, icmp_tx, udp_rx, udp_tx, dhcp_rx, dhcp_tx; /**< and per protocol */
	uint64_t drops[NET_DROPS];	/**< by reason */
};

/** The stack's counters. */
extern struct net_stats net_stats;

/** Count a drop of @p p under @p why, and free it (NULL is allowed). */
void net_drop(struct pbuf *p, enum net_drop why);

/** The `netstat` name of @p why ("ip-checksum"). */
const char *net_drop_name(enum net_drop why);

/** The interface: the one network card, and how it is configured. */
struct netif {
	struct netdev *dev;		/**< the card; NULL: no interface */
	uint8_t mac[ETH_ADDR_LEN];	/**< its address */
	uint32_t addr, mask, gateway, dns; /**< 0: not configured */
	const char *how;		/**< "static" or "dhcp" */
	uint32_t lease_s;		/**< a DHCP lease's length */
};

/** The interface (chapter 7 has one). */
extern struct netif netif;

/**
 * Give the interface its address (@p how is "static" or "dhcp"), print
 * the `net: A/LEN gw G (how)` line, and announce it with a gratuitous ARP.
 */
void net_configure(uint32_t addr, uint32_t mask, uint32_t gateway, uint32_t dns,
		   const char *how);

/** Send the Ethernet frame of @p type with payload @p p to @p dst. */
int ether_output(struct pbuf *p, const uint8_t dst[ETH_ADDR_LEN], uint16_t type);

/** What the device hands up: one received frame. */
void ether_input(struct netdev *dev, struct pbuf *p);

/** @name ARP (arp.c) @{ */
/** Handle the ARP packet in @p p (the Ethernet header already pulled). */
void arp_input(struct pbuf *p);
/**
 * Send the IPv4 packet in @p p to the neighbour @p next_hop: at once if
 * its MAC is known, else after an ARP request answers (queued meanwhile).
 */
int arp_output(struct pbuf *p, uint32_t next_hop);
/** Announce our address (a gratuitous ARP request, RFC 5227 §2.3), and ask for the gateway. */
void arp_announce(void);
/** Print the cache, one line per entry. */
void arp_print(void);
/** Set how long entries live (seconds). */
void arp_set_timeout(uint32_t seconds);
/** @} */

/** @name IPv4 (ipv4.c) @{ */
/** Handle the IPv4 packet in @p p (the Ethernet header already pulled). */
void ipv4_input(struct pbuf *p);
/**
 * Prepend an IPv4 header (from our address to @p dst, protocol @p proto)
 * to the payload in @p p and send it, to @p dst if it is on our subnet or
 * broadcast, else to the gateway. Owns @p p. 0 or a negative error.
 */
int ipv4_output(struct pbuf *p, uint32_t dst, uint8_t proto);

/**
 * The partial Internet checksum of the pseudo-header that UDP's and TCP's
 * checksums also cover (RFC 768, RFC 9293 §3.1): the two addresses, the
 * protocol and the length of the datagram or segment, which are never
 * sent themselves. Continue it with checksum_add() over the data.
 */
uint32_t ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len);

/**
 * A protocol above IPv4, by its number in the header (ICMP 1, UDP 17;
 * chapter 8's TCP is 6). Each declares itself in the table ip_protocols,
 * in its own file, so that a new one is added without editing ipv4.c:
 *
 * @code
 * static const struct ip_protocol udp TABLE_ENTRY(ip_protocols) = {
 *	.number = IP_PROTO_UDP, .input = udp_input,
 * };
 * @endcode
 */
struct ip_protocol {
	uint8_t number;		/**< the header's protocol field */
	/**
	 * Handle the payload in @p p (the IPv4 header pulled, the padding
	 * trimmed), from @p src to @p dst, with the packet's @p ttl. Owns
	 * @p p: frees it, or counts it with net_drop().
	 */
	void (*input)(struct pbuf *p, uint32_t src, uint32_t dst, uint8_t ttl);
};

/** The table of protocols ipv4_input() hands packets to (ipv4.c owns it). */
DECLARE_LINKER_TABLE(struct ip_protocol, ip_protocols);

/**
 * More lines for `netstat`: a protocol with counters of its own (chapter
 * 8's TCP) declares a printer in the table net_reports, and netstat runs
 * it after the stack's own lines, so net_cmds.c is not edited.
 */
struct net_report {
	void (*print)(void);	/**< print the lines, "NAME N" each */
};

/** The table of netstat's extra reports (net_cmds.c owns it). */
DECLARE_LINKER_TABLE(struct net_report, net_reports);
/** @} */

/** @name ICMP (icmp.c) @{ */
/** Send an echo request to @p dst with @p id, @p seq and @p len bytes of data. */
int icmp_echo_request(uint32_t dst, uint16_t id, uint16_t seq, size_t len);
/** A reply that came for ping: set by icmp.c when it comes. */
struct icmp_echo_reply {
	uint16_t id, seq;	/**< whose reply */
	uint8_t ttl;		/**< the reply packet's TTL */
	uint16_t len;		/**< ICMP bytes, header included */
	bool arrived;		/**< a reply to the awaited id and seq came */
};
/** The id and sequence number ping waits for, and what came. */
extern struct icmp_echo_reply icmp_awaited;
/** @} */

/** @name UDP (udp.c) @{ */
struct udp_socket;

/** What a socket does with a datagram: @p data is valid only during the call. */
typedef void (*udp_recv_fn)(struct udp_socket *s, uint32_t src, uint16_t sport,
			    const uint8_t *data, size_t len);

/** A UDP port, bound by its owner, who keeps the struct. */
struct udp_socket {
	uint16_t port;			/**< the local port */
	udp_recv_fn recv;		/**< called for each datagram */
	void *ctx;			/**< the owner's */
	struct udp_socket *next;	/**< the bound sockets */
};

/** Bind @p s to @p port. 0, or -EEXIST if the port is taken. */
int udp_bind(struct udp_socket *s, uint16_t port, udp_recv_fn recv, void *ctx);
/** Unbind @p s. */
void udp_unbind(struct udp_socket *s);
/** Send @p len bytes from @p s's port to @p dst:@p dport. 0 or a negative error. */
int udp_sendto(struct udp_socket *s, uint32_t dst, uint16_t dport, const void *data,
	       size_t len);
/** @} */

/** @name Big-endian fields on the wire, read and written byte by byte @{ */
static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
/** @} */

/** Print @p addr as a.b.c.d into @p buf (16 bytes); returns @p buf. */
char *ip4_format(uint32_t addr, char buf[16]);
/** The prefix length of the netmask @p mask (255.255.255.0: 24). */
unsigned int ip4_prefix_len(uint32_t mask);
/** Parse a.b.c.d at @p s into @p *addr; returns the character after it, or NULL. */
const char *ip4_parse(const char *s, uint32_t *addr);

#endif
