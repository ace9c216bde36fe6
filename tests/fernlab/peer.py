"""A packet peer: the other end of a guest's network card, in Python.

QEMU's datagram netdev (`-netdev dgram`, QEMU 7.2) carries each Ethernet
frame as one UDP datagram between QEMU and a socket on 127.0.0.1, with
no header of its own. The peer owns that socket: it builds frames byte by
byte with `struct` (nothing of fern's own code), sends them to the guest,
answers ARP for its address, and collects what the guest sends, so a test
can inject malformed frames and check every frame that comes back.

It has its own parsing and its own Internet checksum (RFC 1071), written
from the RFCs, so a bug in fern's is not mirrored here.
"""

import os
import queue
import socket
import struct
import threading
import time

from .qemu import timeout_scale

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
IPPROTO_ICMP = 1
IPPROTO_UDP = 17


def ip(text):
    """'10.0.3.2' as 4 bytes."""
    return socket.inet_aton(text)


def mac(text):
    """'52:54:00:12:34:56' as 6 bytes."""
    return bytes(int(b, 16) for b in text.split(":"))


def mac_text(b):
    return ":".join("%02x" % x for x in b)


def checksum(data):
    """The Internet checksum of RFC 1071: the ones' complement of the
    ones' complement sum of the 16-bit big-endian words (an odd byte is
    padded with a zero)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def free_udp_port():
    """A UDP port on 127.0.0.1 that nobody uses right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- building frames ------------------------------------------------------

def ether(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


def arp(op, sha, spa, tha, tpa, htype=1, ptype=ETH_P_IP, hlen=6, plen=4):
    return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


def ipv4(src, dst, proto, payload, ihl=5, options=b"", total_len=None, csum=None,
         flags_frag=0, ttl=64, version=4, ident=0x1234, tos=0):
    """An IPv4 header (RFC 791 §3.1) and `payload`. The fields a test may
    make lie: ihl, total_len, csum, flags_frag (flags << 13 | offset),
    version; `options` are appended to the 20-byte header as given."""
    header_len = 20 + len(options)
    if total_len is None:
        total_len = header_len + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, tos, total_len, ident,
                    flags_frag, ttl, proto, 0, src, dst) + options
    if csum is None:
        csum = checksum(h)
    h = h[:10] + struct.pack("!H", csum) + h[12:]
    return h + payload


def udp(src, dst, sport, dport, payload, length=None, csum=None):
    """A UDP datagram (RFC 768), its checksum over the pseudo-header."""
    if length is None:
        length = 8 + len(payload)
    u = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if csum is None:
        pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, len(u))
        csum = checksum(pseudo + u) or 0xffff
    return u[:6] + struct.pack("!H", csum) + u[8:]


def icmp_echo(ident, seq, data, kind=8, csum=None):
    """An ICMP echo request (type 8) or reply (0), RFC 792."""
    m = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + data
    if csum is None:
        csum = checksum(m)
    return m[:2] + struct.pack("!H", csum) + m[4:]


# -- reading frames -------------------------------------------------------

class Frame:
    """What the peer makes of a frame, checked by its own rules. Fields a
    frame does not have are None; `problems` lists every length or
    checksum that is wrong."""

    def __init__(self, raw):
        self.raw = raw
        self.dst = self.src = self.type = None
        self.arp = self.ip = self.udp = self.icmp = None
        self.problems = []
        if len(raw) < 14:
            self.problems.append("frame of %d bytes is shorter than an Ethernet header" % len(raw))
            return
        self.dst, self.src = raw[0:6], raw[6:12]
        self.type = struct.unpack("!H", raw[12:14])[0]
        body = raw[14:]
        if self.type == ETH_P_ARP:
            self._arp(body)
        elif self.type == ETH_P_IP:
            self._ip(body)

    def _arp(self, b):
        if len(b) < 28:
            self.problems.append("ARP of %d bytes" % len(b))
            return
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", b[:8])
        if (htype, ptype, hlen, plen) != (1, ETH_P_IP, 6, 4):
            self.problems.append("ARP with htype %d ptype %#x hlen %d plen %d"
                                 % (htype, ptype, hlen, plen))
        self.arp = dict(op=op, sha=b[8:14], spa=b[14:18], tha=b[18:24], tpa=b[24:28])

    def _ip(self, b):
        if len(b) < 20:
            self.problems.append("IPv4 packet of %d bytes" % len(b))
            return
        vihl, _, total, ident, ff, ttl, proto, csum = struct.unpack("!BBHHHBBH", b[:12])
        ihl = (vihl & 15) * 4
        if vihl >> 4 != 4 or ihl < 20 or ihl > len(b):
            self.problems.append("IPv4 version/IHL byte %#x" % vihl)
            return
        if total < ihl or total > len(b):
            self.problems.append("IPv4 total length %d in %d bytes" % (total, len(b)))
            return
        if checksum(b[:ihl]) != 0:
            self.problems.append("IPv4 header checksum %#06x is wrong" % csum)
        self.ip = dict(src=b[12:16], dst=b[16:20], proto=proto, ttl=ttl, id=ident,
                       flags_frag=ff, total=total, padding=len(b) - total)
        payload = b[ihl:total]
        if proto == IPPROTO_UDP:
            self._udp(payload)
        elif proto == IPPROTO_ICMP:
            self._icmp(payload)

    def _udp(self, u):
        if len(u) < 8:
            self.problems.append("UDP datagram of %d bytes" % len(u))
            return
        sport, dport, length, csum = struct.unpack("!HHHH", u[:8])
        if length != len(u):
            self.problems.append("UDP length %d in an IP payload of %d" % (length, len(u)))
            return
        if csum != 0:
            pseudo = self.ip["src"] + self.ip["dst"] + struct.pack("!BBH", 0, IPPROTO_UDP, len(u))
            if checksum(pseudo + u) != 0:
                self.problems.append("UDP checksum %#06x is wrong" % csum)
        self.udp = dict(sport=sport, dport=dport, payload=u[8:], csum=csum)

    def _icmp(self, m):
        if len(m) < 8:
            self.problems.append("ICMP message of %d bytes" % len(m))
            return
        kind, code, csum, ident, seq = struct.unpack("!BBHHH", m[:8])
        if checksum(m) != 0:
            self.problems.append("ICMP checksum %#06x is wrong" % csum)
        self.icmp = dict(type=kind, code=code, id=ident, seq=seq, data=m[8:])

    def __repr__(self):
        what = "ARP" if self.arp else "UDP" if self.udp else "ICMP" if self.icmp else \
            "IPv4" if self.ip else "type %s" % (self.type and hex(self.type))
        return "<frame %d bytes %s%s>" % (len(self.raw), what,
                                          " " + "; ".join(self.problems) if self.problems else "")


# -- the peer -------------------------------------------------------------

class Peer:
    """The machine at the other end of the wire: MAC 02:00:00:00:00:02,
    address 10.0.3.2 on 10.0.3.0/24. Use as a context manager."""

    MAC = mac("02:00:00:00:00:02")
    IP = ip("10.0.3.2")

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.qemu_port = free_udp_port()
        self.frames = queue.Queue()
        self.seen = []              # every frame the guest sent, in order
        self.answer_arp = True
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def netdev(self, netdev_id="n1"):
        """The QEMU options that connect a netdev to this peer."""
        return ["-netdev", "dgram,id=%s,local.type=inet,local.host=127.0.0.1,local.port=%d,"
                "remote.type=inet,remote.host=127.0.0.1,remote.port=%d"
                % (netdev_id, self.qemu_port, self.port)]

    def __enter__(self):
        self.sock.settimeout(0.2)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()
        return False

    def _run(self):
        while not self._stop:
            try:
                raw, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            f = Frame(raw)
            self.seen.append(f)
            if self.answer_arp and f.arp and f.arp["op"] == 1 and f.arp["tpa"] == self.IP:
                self.send(ether(f.src, self.MAC, ETH_P_ARP,
                                arp(2, self.MAC, self.IP, f.arp["sha"], f.arp["spa"])))
            self.frames.put(f)

    def send(self, frame):
        """Put `frame` on the wire, to the guest."""
        self.sock.sendto(frame, ("127.0.0.1", self.qemu_port))

    def expect(self, match, timeout=2.0):
        """The next frame from the guest for which match(frame) is true,
        or None after `timeout` seconds; frames that do not match are
        skipped (they stay in `seen`)."""
        deadline = time.monotonic() + timeout * timeout_scale()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                f = self.frames.get(timeout=left)
            except queue.Empty:
                return None
            if match(f):
                return f

    def drain(self):
        """Forget the frames not yet expected."""
        while True:
            try:
                self.frames.get_nowait()
            except queue.Empty:
                return


class Guest:
    """What the peer knows of the guest: its MAC and address, and the
    frames that reach it from the peer."""

    # How long a ping or an echo waits for its answer (before the
    # timeout scale). A guest that left the last two unanswered gets the
    # short wait until it answers again: each probe is still sent and
    # still counts, but a handout that drops everything is graded in
    # seconds, not minutes. A guest that answers at all gets the long one.
    WAIT, WAIT_DEAF, DEAF_AFTER = 2.0, 0.5, 2

    def __init__(self, peer, guest_mac, guest_ip):
        self.peer, self.mac, self.ip = peer, guest_mac, guest_ip
        self.misses = 0

    def _wait(self, timeout):
        if timeout is not None:
            return timeout
        return self.WAIT_DEAF if self.misses >= self.DEAF_AFTER else self.WAIT

    def _answer(self, f):
        self.misses = 0 if f is not None else self.misses + 1
        return f

    def ip_frame(self, proto, payload, **ipopts):
        return ether(self.mac, self.peer.MAC, ETH_P_IP,
                     ipv4(self.peer.IP, self.ip, proto, payload, **ipopts))

    def udp_frame(self, sport, dport, data, udpopts=None, **ipopts):
        return self.ip_frame(IPPROTO_UDP, udp(self.peer.IP, self.ip, sport, dport, data,
                                              **(udpopts or {})), **ipopts)

    def ping(self, ident, seq, data=b"fern", timeout=None, frame=None):
        """Send an echo request (or `frame`) and return the reply, or None."""
        self.peer.send(frame or self.ip_frame(IPPROTO_ICMP, icmp_echo(ident, seq, data)))
        return self._answer(self.peer.expect(
            lambda f: f.icmp is not None and f.icmp["type"] == 0 and f.icmp["id"] == ident and
            f.icmp["seq"] == seq, self._wait(timeout)))

    def echo(self, data, sport=40000, timeout=None, frame=None):
        """Send `data` to UDP port 7 (or `frame`) and return the echo, or None."""
        self.peer.send(frame or self.udp_frame(sport, 7, data))
        return self._answer(self.peer.expect(
            lambda f: f.udp is not None and f.udp["sport"] == 7 and f.udp["dport"] == sport,
            self._wait(timeout)))


def read_pcap(path):
    """The frames of a pcap file (the classic format QEMU's filter-dump
    writes: a 24-byte header, then a 16-byte header before each frame)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0xa1b2c3d4 else ">"
    frames, at = [], 24
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frames.append(data[at + 16:at + 16 + incl])
        at += 16 + incl
    return frames
