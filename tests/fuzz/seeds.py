#!/usr/bin/env python3
"""Write the first corpus of every fuzz target (tests/fuzz/fuzz_*.c).

    tests/fuzz/seeds.py DIR      one file per seed in DIR/NAME/

A fuzzer that starts from nothing spends its first minutes finding out
that a frame begins with fern's MAC address; one that starts from real
frames mutates from where the interesting code is. The seeds are built
here from the formats' specifications (standard library only), so that
they change when this file does, and nothing binary is kept in the repo.

The network targets read an input as records (tests/fuzz/net_fuzz.h):
ctl, delay, a 2-byte length, the frame. Seeds set ctl to ask for the
fixes (lengths, checksums, TCP numbers relative to fern's), so mutations
of them stay valid frames where that matters, and a few seeds are plain
frames with no fix at all.
"""
import os
import struct
import sys

OUR_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("52550a000202")
BCAST = b"\xff" * 6
OUR_IP = bytes([10, 0, 2, 15])
PEER_IP = bytes([10, 0, 2, 2])

# The ctl bits of net_fuzz.h.
LENGTHS, IP_SUM, L4_SUM, SEQ_REL, ACK_REL = 0x01, 0x02, 0x04, 0x08, 0x10
TX_FAIL, NO_BUFFERS = 0x20, 0x40
FIX = LENGTHS | IP_SUM | L4_SUM
TCP_REL = FIX | SEQ_REL | ACK_REL

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def checksum(data):
    """RFC 1071."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(proto, payload, src=PEER_IP, dst=OUR_IP, options=b"", frag=0):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 0x1234, frag,
                    64, proto, 0, src, dst) + options
    h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return h + payload


def eth(payload, dst=OUR_MAC, etype=0x0800):
    return dst + PEER_MAC + struct.pack("!H", etype) + payload


def udp(sport, dport, data, src=PEER_IP, dst=OUR_IP):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = checksum(src + dst + struct.pack("!BBH", 0, 17, len(u)) + u) or 0xffff
    return u[:6] + struct.pack("!H", c) + u[8:]


def tcp(sport, dport, seq, ack, flags, data=b"", wnd=8192, options=b""):
    off = (20 + len(options)) // 4
    t = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                    off << 4, flags, wnd, 0, 0) + options + data
    c = checksum(PEER_IP + OUR_IP + struct.pack("!BBH", 0, 6, len(t)) + t)
    return t[:16] + struct.pack("!H", c) + t[18:]


def arp(op, tpa=OUR_IP, dst=BCAST, tha=b"\0" * 6):
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + PEER_MAC + PEER_IP + tha + tpa
    return eth(a, dst, 0x0806)


def record(frame, ctl=FIX, delay=0):
    return struct.pack("!BBH", ctl, delay, len(frame)) + frame


def wait(delay):
    """A record with no frame: only the clock moves."""
    return struct.pack("!BBH", 0, delay, 0)


class Client:
    """One TCP client of fern's, its numbers relative to fern's (SEQ_REL, ACK_REL)."""

    def __init__(self, port, lport, isn=1000):
        self.port, self.lport, self.isn = port, lport, isn

    def syn(self, options=b"\x02\x04\x05\xb4"):
        return record(eth(ipv4(6, tcp(self.port, self.lport, self.isn, 0, SYN,
                                      options=options))))

    def seg(self, flags, data=b"", seq=0, ack=0, wnd=8192, delay=0, ctl=TCP_REL):
        """A segment at fern's rcv_nxt + seq, acknowledging its snd_nxt + ack."""
        return record(eth(ipv4(6, tcp(self.port, self.lport, seq, ack, flags, data, wnd))),
                      ctl, delay)

    def open(self):
        return self.syn() + self.seg(ACK)


def frame_seeds():
    seeds = {
        "arp-request": record(arp(1)),
        "arp-reply": record(arp(2, dst=OUR_MAC, tha=OUR_MAC)),
        "arp-for-another": record(arp(1, tpa=bytes([10, 0, 2, 9]))),
        "icmp-echo": record(eth(ipv4(1, b"\x08\0\0\0\x12\x34\0\x01" + bytes(range(32))))),
        "udp-echo": record(eth(ipv4(17, udp(40000, 7, b"hello, fern")))),
        "udp-no-port": record(eth(ipv4(17, udp(40000, 9999, b"x")))),
        "ip-options": record(eth(ipv4(1, b"\x08\0\0\0\0\1\0\1", options=b"\x01\x01\x01\x00"))),
        "ip-fragment": record(eth(ipv4(17, udp(1, 7, b"frag"), frag=0x2000))),
        "broadcast-udp": record(eth(ipv4(17, udp(68, 7, b"b", dst=b"\xff" * 4),
                                         dst=b"\xff" * 4), dst=BCAST)),
        "raw-syn": record(eth(ipv4(6, tcp(40001, 7, 5, 0, SYN))), ctl=0),
        "ipv6": record(eth(b"\x60" + b"\0" * 39, etype=0x86dd), ctl=0),
    }
    c = Client(40000, 7)
    seeds["tcp-echo"] = (c.open() + c.seg(ACK | PSH, b"hello, fern") + c.seg(ACK) +
                         c.seg(FIN | ACK) + c.seg(ACK, delay=50))
    c = Client(40002, 80)
    get = b"GET / HTTP/1.1\r\nHost: fern\r\n\r\n"
    seeds["http-get"] = (c.open() + c.seg(ACK | PSH, get) + c.seg(ACK) + c.seg(FIN | ACK) +
                         c.seg(ACK))
    big = b"GET /big.html HTTP/1.1\r\nHost: fern\r\n\r\n"
    seeds["http-big"] = (c.open() + c.seg(ACK | PSH, big) + c.seg(ACK, delay=5) +
                         c.seg(ACK, delay=5) + c.seg(ACK, delay=5) + c.seg(ACK, delay=5) +
                         c.seg(ACK, delay=5))
    pipelined = (b"HEAD /a.css HTTP/1.1\r\nHost: f\r\n\r\n"
                 b"GET /index.html HTTP/1.1\r\nHost: f\r\nIf-None-Match: W/\"x\", \"12c-0\"\r\n\r\n"
                 b"POST /x HTTP/1.1\r\nHost: f\r\nContent-Length: 3\r\n\r\nabc"
                 b"GET /nothing HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    seeds["http-pipelined"] = c.open() + c.seg(ACK | PSH, pipelined) + c.seg(ACK, delay=10)
    close = b"GET /a.css HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n"
    # fern closes first: FIN-WAIT, then the client's FIN, TIME-WAIT, its end.
    seeds["http-time-wait"] = (c.open() + c.seg(ACK | PSH, close) + c.seg(ACK) +
                               c.seg(FIN | ACK) + wait(150) + wait(150))
    seeds["http-idle"] = c.open() + c.seg(ACK | PSH, b"GET / HT") + wait(206) + c.seg(ACK)
    c = Client(40003, 9)
    seeds["chaos-send-retransmit"] = (c.open() + c.seg(ACK | PSH, b"S") + wait(120) +
                                      wait(220) + c.seg(ACK) + wait(255))
    seeds["chaos-zero-window"] = (c.open() + c.seg(ACK | PSH, b"S", wnd=0) + wait(150) +
                                  wait(210) + c.seg(ACK, wnd=8192) + c.seg(ACK))
    seeds["chaos-dupacks"] = (c.open() + c.seg(ACK | PSH, b"S") + c.seg(ACK, ack=-12000) +
                              c.seg(ACK, ack=-12000) + c.seg(ACK, ack=-12000) +
                              c.seg(ACK, ack=-12000) + c.seg(ACK))
    seeds["chaos-abort"] = c.open() + c.seg(ACK | PSH, b"A")
    seeds["chaos-close"] = c.open() + c.seg(ACK | PSH, b"C") + c.seg(ACK) + c.seg(FIN | ACK)
    seeds["tcp-syn-gives-up"] = Client(40004, 7).syn() + wait(255) + wait(255)
    c = Client(40005, 7)
    seeds["tcp-rfc5961"] = (c.open() + c.seg(RST, seq=1) + c.seg(SYN) + c.seg(ACK, ack=5) +
                            c.seg(ACK | PSH, b"late", seq=-2) + c.seg(ACK | PSH, b"far", seq=9000) +
                            c.seg(RST))
    opts = b"\x02\x04\x02\x18\x01\x03\x03\x07\x04\x02\x08\x0a" + b"\0" * 8 + b"\x01\x01\x00\x00"
    wrap = Client(40006, 7, 0xfffffff0)
    seeds["tcp-options"] = wrap.syn(opts) + wrap.seg(ACK) + wrap.seg(ACK | PSH, b"x" * 40)
    seeds["tcp-no-buffers"] = (c.open() + c.seg(ACK | PSH, b"x" * 100, ctl=TCP_REL | NO_BUFFERS) +
                               c.seg(ACK | PSH, b"y", ctl=TCP_REL | TX_FAIL) + wait(120))
    seeds["tcp-closed-port"] = record(eth(ipv4(6, tcp(40007, 81, 1, 0, SYN)))) + \
        record(eth(ipv4(6, tcp(40007, 81, 1, 77, ACK))))
    flood = b"".join(Client(41000 + i, 7).syn() for i in range(40))
    seeds["tcp-syn-flood"] = flood + Client(42000, 7).open()
    return seeds


def bootp(msg_type, options=b"", yiaddr=OUR_IP, op=2):
    m = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, 0, 0, 0x8000, b"\0" * 4,
                    yiaddr, PEER_IP, b"\0" * 4, OUR_MAC, b"", b"")
    m += b"\x63\x82\x53\x63"
    if msg_type:
        m += bytes([53, 1, msg_type])
    return m + options + b"\xff"


def dhcp_seeds():
    good = (bytes([54, 4]) + PEER_IP + bytes([51, 4]) + struct.pack("!I", 60) +
            bytes([1, 4, 255, 255, 255, 0, 3, 8]) + PEER_IP + bytes([10, 0, 2, 1]) +
            bytes([6, 4, 10, 0, 2, 3]))
    fix = 0x01 | 0x02            # fuzz_dhcp.c: fern's xid and MAC
    offer, ack = record(bootp(2, good), fix), record(bootp(5, good), fix)
    return {
        "offer": offer,
        "offer-ack": offer + ack,
        "lease-renew-rebind-expire": offer + ack + wait(205) + record(bootp(5, good), fix | 0x04) +
        wait(211) + wait(230),
        "nak": offer + record(bootp(6), fix),
        "request-timeout": offer + wait(200) + wait(201) + wait(203) + wait(207),
        "infinite-lease": offer + record(bootp(5, bytes([54, 4]) + PEER_IP +
                                               b"\x33\x04\xff\xff\xff\xff"), fix),
        "pads-and-unknown": record(bootp(2, b"\0\0\0" + bytes([54, 4]) + PEER_IP +
                                         b"\x0c\x03abc\x34\x01\x03"), fix),
        "no-server-id": record(bootp(2, b""), fix),
        "wrong-xid": record(bootp(2, good), 0x02),
        "bootrequest": record(bootp(2, good, op=1), fix),
    }


def http_seeds():
    return {
        "get": b"GET / HTTP/1.1\r\nHost: fern\r\n\r\n",
        "head-10": b"HEAD /blog/07-net.html?x=1 HTTP/1.0\r\nConnection: keep-alive, x\r\n\r\n",
        "inm": (b"GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/\"a\", \"12c-0badcafe\"\r\n"
                b"Connection: close\r\n\r\n"),
        "inm-star": b"GET /a HTTP/1.1\r\nhost: x\r\nif-none-match: *\r\n\r\n",
        "length": b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n",
        "te": b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "fold": b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
        "v2": b"GET / HTTP/2.0\r\n\r\n",
        "etag-list": b"\"12c-0badcafe\", W/\"x\"",
    }


def mbi(tags, total=None):
    body = b"".join(tags) + struct.pack("<II", 0, 8)
    size = 8 + len(body) if total is None else total
    return struct.pack("<II", size, 0) + body


def tag(kind, payload):
    t = struct.pack("<II", kind, 8 + len(payload)) + payload
    return t + b"\0" * (-len(t) % 8)


def multiboot_seeds():
    mmap = struct.pack("<II", 24, 0) + b"".join(
        struct.pack("<QQII", base, length, kind, 0) for base, length, kind in
        [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0x100000, 0x7ee0000, 1), (0xfffc0000, 0x40000, 2)])
    good = [tag(1, b"test=all exit=ready\0"), tag(2, b"GRUB 2.06\0"),
            tag(4, struct.pack("<II", 639, 130048)), tag(6, mmap),
            tag(3, struct.pack("<II", 0x200000, 0x280000) + b"site\0")]
    return {
        "grub": mbi(good),
        "meminfo-only": mbi([tag(4, struct.pack("<II", 639, 130048))]),
        "long-entries": mbi([tag(6, struct.pack("<II", 32, 0) + struct.pack("<QQII", 0, 4096, 1, 0) +
                                 b"\0" * 8)]),
        "no-end": mbi(good)[:-8],
        "cmdline-no-nul": mbi([tag(1, b"abc")]),
    }


def site_image(files):
    head = b"FERNSITE" + struct.pack("<II", 1, len(files))
    at = len(head) + 24 * len(files)
    entries, blob = b"", b""
    for path, kind, data in files:
        entries += struct.pack("<6I", at, len(path), at + len(path), len(kind),
                               at + len(path) + len(kind), len(data))
        blob += path + kind + data
        at += len(path) + len(kind) + len(data)
    return head + entries + blob


def site_seeds():
    return {
        "three": site_image([(b"/index.html", b"text/html; charset=utf-8", b"<p>fern</p>"),
                             (b"/style.css", b"text/css", b"p{}"),
                             (b"/empty", b"application/octet-stream", b"")]),
        "one": site_image([(b"/a", b"t", b"x")]),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tests/fuzz/seeds.py DIR")
    here = os.path.dirname(os.path.abspath(__file__))
    made = {"frame": frame_seeds, "dhcp": dhcp_seeds, "http": http_seeds,
            "multiboot": multiboot_seeds, "site": site_seeds}
    for name, make in made.items():
        # A chapter snapshot has only its own chapters' targets.
        if not os.path.exists(os.path.join(here, "fuzz_%s.c" % name)):
            continue
        out = os.path.join(sys.argv[1], name)
        os.makedirs(out, exist_ok=True)
        for seed, data in make().items():
            with open(os.path.join(out, seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
