"""Chapter 7 (net): virtio-net, Ethernet, ARP, IPv4, ICMP, UDP and DHCP.

Points here are lab 7's grade. The peers are not fern's code:

- QEMU's user networking (libslirp): its DHCP server gives the lease, its
  gateway answers ping, and `hostfwd` carries datagrams from this
  machine's UDP socket to the kernel's echo service and back;
- a packet peer (tests/fernlab/peer.py) on a QEMU datagram netdev: it
  builds frames byte by byte with Python's struct, sends well-formed and
  malformed ones, and checks every frame the kernel sends with its own
  parser and checksum; it also plays a DHCP server that sends broken
  offers;
- QEMU's filter-dump, whose pcap of the whole run the harness reads.

After each class of malformed frames the kernel must not have crashed,
must have counted each frame under exactly the reason `netstat` names for
it (and no other drop), and must still answer ping and UDP echo.

Several tests share one boot (a *session*), so lab 7 stays within its time
budget; if the kernel dies in one, the later ones say so.
"""

import atexit
import os
import re
import socket
import struct
import tempfile
import time

from fernlab import Boot, test
from fernlab.ktap import ktap_tests
from fernlab.peer import (BROADCAST, ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, IPPROTO_UDP,
                          Guest, Peer, arp, ether, free_udp_port, icmp_echo, ip,
                          ipv4, mac, mac_text, read_pcap, udp)
from fernlab.qemu import Machine, timeout_scale
from fernlab.session import PROMPT, Session, command, serially, session

GUEST_MAC = "52:54:00:aa:bb:cc"
GUEST_IP = "10.0.3.15"
STATIC = "ip=%s/24,gw=10.0.3.2" % GUEST_IP


# -- sessions (tests/fernlab/session.py) and the shell ----------------------

def drops(t, m):
    """netstat's drop counters, {reason: count}."""
    out = command(t, m, "netstat")
    d = {k: int(v) for k, v in re.findall(r"^drop (\S+) (\d+)$", out, re.M)}
    if not d:
        t.fail("netstat printed no 'drop REASON COUNT' lines: %r" % out[:200])
    return d


def still_serving(t, g, tag):
    """The kernel still answers ping and UDP echo from the peer."""
    r = g.ping(0x7700, 1, b"alive-" + tag.encode())
    t.check(r is not None and r.icmp["data"] == b"alive-" + tag.encode() and not r.problems,
            "after the %s frames the kernel still answers ping" % tag)
    data = ("alive %s %s" % (tag, os.urandom(4).hex())).encode()
    e = g.echo(data, sport=41000)
    t.check(e is not None and e.udp["payload"] == data and not e.problems,
            "after the %s frames the kernel still echoes UDP" % tag)


def malformed(t, s, tag, frames, what):
    """Send each (frame, reason) to the kernel; check that each was dropped
    under its reason and no other, that no reply came, and that the
    kernel still serves."""
    m = s.use(t)
    g = s.guest
    before = drops(t, m)
    s.peer.drain()
    for frame, _ in frames:
        s.peer.send(frame)
        time.sleep(0.02)
    replied = s.peer.expect(lambda f: f.ip is not None and f.ip["proto"] in
                            (IPPROTO_ICMP, IPPROTO_UDP), timeout=0.5)
    after = drops(t, m)
    want = {}
    for _, reason in frames:
        want[reason] = want.get(reason, 0) + 1
    for reason, n in sorted(want.items()):
        got = after.get(reason, 0) - before.get(reason, 0)
        t.check(got == n, "%s: counted under drop %s (%d, expected %d)"
                % (what[reason], reason, got, n))
    others = {k: after[k] - before.get(k, 0) for k in after
              if k not in want and after[k] != before.get(k, 0)}
    t.check(not others, "no frame was counted under another reason (%s)"
            % (", ".join("%s +%d" % kv for kv in sorted(others.items())) or "none"))
    t.check(replied is None, "the kernel answered none of them (got %r)" % replied)
    still_serving(t, g, tag)


# -- the event loop, in the kernel ----------------------------------------

ktap_tests(Boot(cmdline="test=loop", timeout=20), [
    ("net: the event loop's timers and pollers (in-kernel tests)", 4, ["loop:"]),
])


# -- session A: QEMU's user networking ------------------------------------

def make_user(s):
    s.udp_port = free_udp_port()
    extra = ["-netdev", "user,id=n0,hostfwd=udp:127.0.0.1:%d-:7" % s.udp_port,
             "-device", "virtio-net-pci,netdev=n0"]
    s.machine = Machine(T_ISO[0], cmdline="shell", timeout=60, extra=extra,
                        qemu=T_QEMU[0])
    s.machine.start()
    if not s.machine.wait(r"^" + PROMPT, timeout=20):
        raise RuntimeError("the kernel did not reach its shell with a virtio-net card on "
                           "user networking (%s)" % s.machine.outcome())


USER = session(make_user)

# The ISO and QEMU of the grading, for sessions (set by the first test).
T_ISO, T_QEMU = [None], [None]


def bind(t):
    T_ISO[0], T_QEMU[0] = t.iso, t.grading.qemu


@test("net: DHCP from QEMU's user networking: the lease, gateway and DNS it gives",
      points=8, group="user")
@serially(USER)
def dhcp_user(t):
    bind(t)
    m = USER.use(t)
    t.check(m.wait(r"^dhcp: lease of \d+ s from 10\.0\.2\.2, dns 10\.0\.2\.3$", timeout=1)
            is not None, "the boot says: dhcp: lease of N s from 10.0.2.2, dns 10.0.2.3")
    t.check(m.wait(r"^net: 10\.0\.2\.15/24 gw 10\.0\.2\.2 \(dhcp\)$", timeout=1) is not None,
            "the boot says: net: 10.0.2.15/24 gw 10.0.2.2 (dhcp)")
    lines = m.lines()
    ready = [i for i, l in enumerate(lines) if l == "fern: ready"]
    conf = [i for i, l in enumerate(lines) if l.startswith("net: 10.0.2.15/24")]
    t.check(ready and conf and conf[0] < ready[0], "the address line comes before fern: ready")
    out = command(t, m, "ifconfig")
    t.check(re.search(r"^eth0: virtio-net \S+ mac 52:54:00:12:34:56 mtu 1500$", out, re.M),
            "ifconfig shows the card and QEMU's default MAC 52:54:00:12:34:56")
    t.check(re.search(r"^  inet 10\.0\.2\.15/24 gw 10\.0\.2\.2 dns 10\.0\.2\.3 \(dhcp", out, re.M),
            "ifconfig shows the lease: inet 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 (dhcp...)")


@test("net: ping 10.0.2.2 from the shell gets replies; the ARP cache holds the gateway",
      points=6, group="user")
@serially(USER)
def ping_gateway(t):
    bind(t)
    m = USER.use(t)
    out = command(t, m, "ping 10.0.2.2 3", timeout=15)
    replies = re.findall(r"^64 bytes from 10\.0\.2\.2: icmp_seq=(\d+) ttl=\d+ time=\d+\.\d{3} ms$",
                         out, re.M)
    t.check(replies == ["1", "2", "3"], "three replies, icmp_seq 1 2 3 (got %r)" % replies)
    t.check(re.search(r"^ping: 3 sent, 3 received$", out, re.M), "ping: 3 sent, 3 received")
    out = command(t, m, "arp")
    # libslirp's gateway has the MAC 52:55:0a:00:02:02 (52:55 and its address).
    t.check(re.search(r"^  10\.0\.2\.2 52:55:0a:00:02:02 expires in \d+ s$", out, re.M),
            "the ARP cache holds 10.0.2.2 at 52:55:0a:00:02:02 (got %r)" % out.strip())


@test("net: UDP echo through hostfwd: 1 and 1472 bytes with the nonce come back intact",
      points=6, group="user")
@serially(USER)
def udp_hostfwd(t):
    bind(t)
    m = USER.use(t)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.5 * timeout_scale())
    try:
        for size in (1, 1472, 100):
            body = (m.nonce.encode() * (size // len(m.nonce) + 1))[:size]
            if size == 1:
                body = b"!"
            got = None
            for _ in range(3):      # the first datagram may wait for ARP
                sock.sendto(body, ("127.0.0.1", USER.udp_port))
                try:
                    got, _ = sock.recvfrom(4096)
                    break
                except socket.timeout:
                    continue
            t.check(got == body, "a datagram of %d bytes came back intact (got %s)"
                    % (size, "nothing" if got is None else "%d bytes" % len(got)))
            if got is None:
                break       # the service is not there: the other sizes would wait too
    finally:
        sock.close()


# -- session B: the packet peer -------------------------------------------

def start_peer_boot(s, cmdline, device_opts="", pcap=False, wait_for=r"^" + PROMPT):
    s.peer = Peer().__enter__()
    extra = s.peer.netdev("n1") + ["-device", "virtio-net-pci,netdev=n1,mac=%s%s"
                                   % (GUEST_MAC, device_opts)]
    if pcap:
        fd, s.pcap = tempfile.mkstemp(prefix="fern-net-", suffix=".pcap")
        os.close(fd)
        atexit.register(lambda p=s.pcap: os.path.exists(p) and os.unlink(p))
        extra += ["-object", "filter-dump,id=dump1,netdev=n1,file=%s" % s.pcap]
    s.machine = Machine(T_ISO[0], cmdline=cmdline, timeout=90, extra=extra, qemu=T_QEMU[0])
    s.machine.start()
    s.guest = Guest(s.peer, mac(GUEST_MAC), ip(GUEST_IP))
    if not s.machine.wait(wait_for, timeout=20):
        raise RuntimeError("the kernel did not reach %r with a virtio-net card on a "
                           "datagram netdev (%s)" % (wait_for, s.machine.outcome()))


def make_peer(s):
    start_peer_boot(s, "shell arp_timeout=2 " + STATIC, pcap=True)


PEER = session(make_peer)


@test("net: the packet peer gets ARP replies, ping replies and UDP echoes", points=6, group="peer")
@serially(PEER)
def peer_basics(t):
    bind(t)
    m = PEER.use(t)
    g = PEER.guest
    t.check(m.wait(r"^net: 10\.0\.3\.15/24 gw 10\.0\.3\.2 \(static\)$", timeout=1),
            "the boot says: net: 10.0.3.15/24 gw 10.0.3.2 (static)")
    PEER.peer.send(ether(BROADCAST, PEER.peer.MAC, ETH_P_ARP,
                         arp(1, PEER.peer.MAC, PEER.peer.IP, b"\0" * 6, ip(GUEST_IP))))
    r = PEER.peer.expect(lambda f: f.arp is not None and f.arp["op"] == 2, timeout=2)
    t.check(r is not None and r.arp["sha"] == mac(GUEST_MAC) and r.arp["spa"] == ip(GUEST_IP)
            and r.arp["tha"] == PEER.peer.MAC and r.dst == PEER.peer.MAC and not r.problems,
            "an ARP request for 10.0.3.15 gets a reply from %s to the peer (%r)"
            % (GUEST_MAC, r))
    data = os.urandom(56)
    r = g.ping(0x4242, 7, data)
    t.check(r is not None and r.icmp["data"] == data and r.ip["src"] == ip(GUEST_IP)
            and not r.problems, "an echo request gets a reply with the same id, seq and "
            "56 bytes of data, checksums right (%r)" % r)
    data = ("peer %s" % m.nonce).encode()
    e = g.echo(data)
    t.check(e is not None and e.udp["payload"] == data and e.udp["csum"] != 0 and
            not e.problems, "a datagram to port 7 comes back, with a UDP checksum (%r)" % e)


@test("net: truncated Ethernet, IPv4 and UDP headers are dropped and counted", points=6, group="peer")
@serially(PEER)
def truncated(t):
    bind(t)
    PEER.use(t)
    g = PEER.guest
    eth_hdr = mac(GUEST_MAC) + Peer.MAC + struct.pack("!H", ETH_P_IP)
    full = ipv4(Peer.IP, ip(GUEST_IP), IPPROTO_UDP, udp(Peer.IP, ip(GUEST_IP), 40000, 7, b"x"))
    short_udp = ipv4(Peer.IP, ip(GUEST_IP), IPPROTO_UDP, b"\x9c\x40\x00\x07")
    with PEER.lock:
        malformed(t, PEER, "truncated", [
            (eth_hdr[:10], "eth-short"),
            (eth_hdr + full[:12], "ip-short"),
            (ether(mac(GUEST_MAC), Peer.MAC, ETH_P_IP, short_udp), "udp-short"),
        ], {"eth-short": "a 10-byte frame", "ip-short": "an IPv4 header cut at 12 bytes",
            "udp-short": "a UDP header of 4 bytes"})


@test("net: IPv4 headers with IHL below 5 or beyond the frame are dropped", points=8, group="peer")
@serially(PEER)
def bad_ihl(t):
    bind(t)
    PEER.use(t)
    g = PEER.guest
    u = udp(Peer.IP, ip(GUEST_IP), 40000, 7, b"ihl")
    with PEER.lock:
        malformed(t, PEER, "IHL", [
            (g.ip_frame(IPPROTO_UDP, u, ihl=4), "ip-ihl"),
            (g.ip_frame(IPPROTO_UDP, u, ihl=0), "ip-ihl"),
            (g.ip_frame(IPPROTO_UDP, u, ihl=15), "ip-header-len"),
        ], {"ip-ihl": "IHL 4 and IHL 0", "ip-header-len": "IHL 15 (60 bytes) in a 31-byte packet"})


@test("net: IPv4 total length larger than the frame or smaller than the header is "
      "dropped; Ethernet padding after it is ignored", points=8, group="peer")
@serially(PEER)
def total_length(t):
    bind(t)
    m = PEER.use(t)
    g = PEER.guest
    u = udp(Peer.IP, ip(GUEST_IP), 40000, 7, b"total length")
    with PEER.lock:
        malformed(t, PEER, "total-length", [
            (g.ip_frame(IPPROTO_UDP, u, total_len=20 + len(u) + 100), "ip-total-len"),
            (g.ip_frame(IPPROTO_UDP, u, total_len=19), "ip-total-len"),
            (g.ip_frame(IPPROTO_UDP, u, total_len=0), "ip-total-len"),
        ], {"ip-total-len": "total lengths of +100 bytes, 19 and 0"})
        # A frame longer than its packet: the bytes after the total length
        # are padding, and must not reach the echo.
        data = ("padded %s" % m.nonce).encode()
        frame = g.udp_frame(40001, 7, data) + b"PADDING-NOT-DATA" * 2
        e = g.echo(data, sport=40001, frame=frame)
        t.check(e is not None and e.udp["payload"] == data,
                "a datagram followed by 32 bytes of padding is echoed without them (%r)"
                % (e and e.udp["payload"][-20:]))


@test("net: bad IPv4 header and UDP checksums are dropped; UDP checksum 0 means none",
      points=8, group="peer")
@serially(PEER)
def checksums(t):
    bind(t)
    m = PEER.use(t)
    g = PEER.guest
    u = udp(Peer.IP, ip(GUEST_IP), 40000, 7, b"checksums")
    good = ipv4(Peer.IP, ip(GUEST_IP), IPPROTO_UDP, u)
    bad_ip = struct.unpack("!H", good[10:12])[0] ^ 0x0101
    bad_udp = struct.unpack("!H", u[6:8])[0] ^ 0x0404
    with PEER.lock:
        malformed(t, PEER, "checksum", [
            (g.ip_frame(IPPROTO_UDP, u, csum=bad_ip), "ip-checksum"),
            (g.udp_frame(40000, 7, b"checksums", udpopts={"csum": bad_udp}), "udp-checksum"),
            (g.ip_frame(IPPROTO_ICMP, icmp_echo(1, 1, b"x", csum=0x1234)), "icmp-checksum"),
        ], {"ip-checksum": "an IPv4 header checksum off by 0x0101",
            "udp-checksum": "a UDP checksum off by 0x0404",
            "icmp-checksum": "an echo request with a wrong checksum"})
        data = ("no checksum %s" % m.nonce).encode()
        e = g.echo(data, sport=40002, frame=g.udp_frame(40002, 7, data, udpopts={"csum": 0}))
        t.check(e is not None and e.udp["payload"] == data,
                "a datagram with UDP checksum 0 (none, RFC 768) is echoed")


@test("net: fragments and IP options are dropped (not supported) and counted", points=8, group="peer")
@serially(PEER)
def fragments_options(t):
    bind(t)
    PEER.use(t)
    g = PEER.guest
    u = udp(Peer.IP, ip(GUEST_IP), 40000, 7, b"fragment")
    with PEER.lock:
        malformed(t, PEER, "fragment", [
            (g.ip_frame(IPPROTO_UDP, u, flags_frag=0x2000), "ip-fragment"),
            (g.ip_frame(IPPROTO_UDP, u, flags_frag=0x0010), "ip-fragment"),
            (g.ip_frame(IPPROTO_UDP, u, ihl=6, options=b"\x01\x01\x01\x00"), "ip-options"),
            (g.ip_frame(IPPROTO_UDP, u, ihl=7, options=b"\x44\x04\x05\x00\x00\x00\x00\x00"),
             "ip-options"),
        ], {"ip-fragment": "a first fragment (MF) and a later one (offset 128)",
            "ip-options": "NOP options and a timestamp option"})


@test("net: UDP lengths that lie either way are dropped", points=6, group="peer")
@serially(PEER)
def udp_lengths(t):
    bind(t)
    PEER.use(t)
    g = PEER.guest
    d = b"udp length"
    with PEER.lock:
        malformed(t, PEER, "UDP-length", [
            (g.udp_frame(40000, 7, d, udpopts={"length": 8 + len(d) + 40}), "udp-length"),
            (g.udp_frame(40000, 7, d, udpopts={"length": 8 + len(d) - 3}), "udp-length"),
            (g.udp_frame(40000, 7, d, udpopts={"length": 4}), "udp-length"),
        ], {"udp-length": "UDP lengths 40 bytes too long, 3 too short and 4"})


@test("net: ARP with wrong hardware or protocol lengths is dropped, not answered",
      points=4, group="peer")
@serially(PEER)
def arp_malformed(t):
    bind(t)
    PEER.use(t)
    P = Peer

    def req(**kw):
        return ether(BROADCAST, P.MAC, ETH_P_ARP,
                     arp(1, P.MAC, P.IP, b"\0" * 6, ip(GUEST_IP), **kw))
    with PEER.lock:
        mark = len(PEER.peer.seen)
        malformed(t, PEER, "ARP", [
            (req(hlen=8), "arp-format"),
            (req(plen=6), "arp-format"),
            (req(htype=6), "arp-format"),
            (req(ptype=0x86dd), "arp-format"),
            (req()[:14 + 20], "arp-short"),
        ], {"arp-format": "hlen 8, plen 6, htype 6 and ptype IPv6",
            "arp-short": "an ARP packet of 20 bytes"})
        # The peer never sends an ARP request of its own here, so any
        # reply the kernel sent since is a reply to a broken one.
        replies = [f for f in PEER.peer.seen[mark:] if f.arp and f.arp["op"] == 2]
        t.check(not replies,
                "no ARP reply was sent to any of them (%d replies)" % len(replies))


@test("net: frames of 60 and 1514 bytes are answered", points=2, group="peer")
@serially(PEER)
def frame_sizes(t):
    bind(t)
    PEER.use(t)
    g = PEER.guest
    with PEER.lock:
        small = g.ip_frame(IPPROTO_ICMP, icmp_echo(0x60, 1, b""))
        small += b"\0" * (60 - len(small))
        r = g.ping(0x60, 1, frame=small)
        t.check(r is not None and not r.problems and r.icmp["data"] == b"",
                "a 60-byte frame (an echo request with no data, padded) gets a reply")
        data = os.urandom(1472)
        frame = g.udp_frame(40003, 7, data)
        t.check(len(frame) == 1514, "the peer's frame is 1514 bytes")
        e = g.echo(data, sport=40003, frame=frame)
        t.check(e is not None and e.udp["payload"] == data and len(e.raw) == 1514,
                "a 1514-byte frame (1472 bytes of UDP data) is echoed whole")


@test("net: the ARP cache forgets an entry when it expires and asks again", points=4, group="peer")
@serially(PEER)
def arp_expiry(t):
    bind(t)
    m = PEER.use(t)
    g = PEER.guest
    with PEER.lock:
        g.ping(0x5151, 1)
        out = command(t, m, "arp")
        t.check(re.search(r"^  10\.0\.3\.2 02:00:00:00:00:02 expires in [0-2] s$", out, re.M),
                "after a ping the cache holds 10.0.3.2, expiring within arp_timeout=2 s "
                "(%r)" % out.strip())
        time.sleep(3.2)
        out = command(t, m, "arp")
        t.check(not re.search(r"^  10\.0\.3\.2 ", out, re.M),
                "3 s later the entry is gone (%r)" % out.strip())
        PEER.peer.drain()
        r = g.ping(0x5151, 2)
        asked = [f for f in PEER.peer.seen[-10:] if f.arp and f.arp["op"] == 1 and
                 f.arp["tpa"] == Peer.IP]
        t.check(r is not None and asked, "the next ping asks for 10.0.3.2 again and is answered")


@test("net: every frame the kernel sent (pcap of the run) has right lengths and "
      "checksums", points=6, group="peer")
@serially(PEER)
def pcap_check(t):
    bind(t)
    PEER.use(t)
    with PEER.lock:
        g = PEER.guest
        g.ping(0x7070, 1, os.urandom(100))
        g.echo(b"pcap")
        time.sleep(0.3)
        frames = [f for f in read_pcap(PEER.pcap) if f[6:12] == mac(GUEST_MAC)]
    from fernlab.peer import Frame
    parsed = [Frame(f) for f in frames]
    kinds = {"arp": sum(1 for f in parsed if f.arp), "icmp": sum(1 for f in parsed if f.icmp),
             "udp": sum(1 for f in parsed if f.udp)}
    t.check(all(kinds.values()), "the pcap holds the kernel's ARP, ICMP and UDP frames (%r)"
            % kinds)
    bad = [f for f in parsed if f.problems]
    t.check(not bad, "none has a wrong length or checksum (%d of %d: %r)"
            % (len(bad), len(parsed), bad[:3]))
    padded = [f for f in parsed if f.ip and f.ip["padding"] and len(f.raw) != 60]
    t.check(not padded, "the IPv4 total length is the frame's, except for padding to 60 "
            "bytes (%r)" % padded[:3])
    t.check(all(len(f.raw) >= 60 for f in parsed), "no frame is shorter than 60 bytes")


# -- DHCP against a server that lies --------------------------------------

def dhcp_reply(xid, chaddr, kind, options):
    """A BOOTP reply (RFC 2131 §2) from the peer offering 10.0.3.15, with
    `options` as raw bytes after the message type (no end added)."""
    b = struct.pack("!BBBBIHHIIII", 2, 1, 6, 0, xid, 0, 0x8000, 0, int.from_bytes(
        ip(GUEST_IP), "big"), int.from_bytes(Peer.IP, "big"), 0)
    b += chaddr + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63"
    b += bytes([53, 1, kind]) + options
    u = udp(Peer.IP, b"\xff" * 4, 67, 68, b)
    return ether(BROADCAST, Peer.MAC, ETH_P_IP, ipv4(Peer.IP, b"\xff" * 4, IPPROTO_UDP, u))


def good_options():
    return (bytes([54, 4]) + Peer.IP + bytes([51, 4]) + struct.pack("!I", 3600) +
            bytes([1, 4, 255, 255, 255, 0]) + bytes([3, 4]) + Peer.IP +
            bytes([6, 4]) + ip("10.0.3.3") + bytes([255]))


def dhcp_from(f, kind):
    """The DHCP message type and xid of a client message, or None."""
    if not (f.udp and f.udp["dport"] == 67):
        return None
    b = f.udp["payload"]
    if len(b) < 240 or b[236:240] != b"\x63\x82\x53\x63":
        return None
    opts, at = b[240:], 0
    while at < len(opts) and opts[at] != 255:
        if opts[at] == 0:
            at += 1
            continue
        if at + 1 >= len(opts):
            return None
        code, n = opts[at], opts[at + 1]
        if code == 53 and n == 1 and opts[at + 2] == kind:
            return struct.unpack("!I", b[4:8])[0], b[28:34]
        at += 2 + n
    return None


@test("net: DHCP offers whose options overrun or have zero length are dropped; a "
      "good one then gives the lease", points=6)
def dhcp_malformed(t):
    bind(t)
    peer = Peer().__enter__()
    try:
        extra = peer.netdev("n1") + ["-device", "virtio-net-pci,netdev=n1,mac=%s" % GUEST_MAC]
        m = t.machine(cmdline="shell dhcp_retry_ms=300 dhcp_wait_ms=8000", timeout=40,
                      extra=extra)
        with m:
            lies = [
                ("an offer whose lease option runs past the packet",
                 bytes([54, 4]) + Peer.IP + bytes([51, 4, 0, 0])),
                ("an offer whose subnet mask option has length 0",
                 bytes([1, 0]) + good_options()),
                ("an offer whose router option has length 3",
                 bytes([3, 3, 10, 0, 3]) + good_options()),
            ]
            for what, opts in lies:
                d = peer.expect(lambda f: dhcp_from(f, 1) is not None, timeout=6)
                if d is None:
                    t.fail("the kernel sent no DHCPDISCOVER (%s)" % m.outcome())
                xid, chaddr = dhcp_from(d, 1)
                t.check(chaddr == mac(GUEST_MAC), "the DISCOVER carries the card's MAC")
                peer.send(dhcp_reply(xid, chaddr, 2, opts))
            d = peer.expect(lambda f: dhcp_from(f, 1) is not None, timeout=6)
            t.check(d is not None, "after %d broken offers the kernel asks again" % len(lies))
            if d is None:
                return
            xid, chaddr = dhcp_from(d, 1)
            peer.send(dhcp_reply(xid, chaddr, 2, good_options()))
            r = peer.expect(lambda f: dhcp_from(f, 3) is not None, timeout=4)
            t.check(r is not None, "a good offer gets a DHCPREQUEST")
            if r is None:
                return
            xid, chaddr = dhcp_from(r, 3)
            peer.send(dhcp_reply(xid, chaddr, 5, good_options()))
            t.check(m.wait(r"^net: 10\.0\.3\.15/24 gw 10\.0\.3\.2 \(dhcp\)$", timeout=6)
                    is not None, "the ACK gives net: 10.0.3.15/24 gw 10.0.3.2 (dhcp)")
            if not m.wait(r"^" + PROMPT, timeout=10):
                t.fail("no shell prompt after the lease (%s)" % m.outcome())
            time.sleep(0.2)
            d = drops(t, m)
            t.check(d.get("dhcp-malformed") == len(lies), "netstat counts %d drop dhcp-malformed "
                    "(got %s)" % (len(lies), d.get("dhcp-malformed")))
    finally:
        peer.__exit__(None, None, None)


# -- one boot each --------------------------------------------------------

@test("net: a legacy-only card (disable-modern=on, 10-byte header) answers ping and UDP",
      points=2)
def legacy_card(t):
    bind(t)
    s = Session(lambda s: start_peer_boot(s, "shell " + STATIC, device_opts=",disable-modern=on"))
    try:
        m = s.use(t)
        t.check(m.wait(r"^virtio: virtio-net \S+: legacy transport", timeout=1),
                "the card negotiated through the legacy transport")
        data = ("legacy %s" % m.nonce).encode()
        r = s.guest.ping(0x1e9, 1, data)
        t.check(r is not None and r.icmp["data"] == data and not r.problems,
                "an echo request gets its reply")
        e = s.guest.echo(data)
        t.check(e is not None and e.udp["payload"] == data and not e.problems,
                "a datagram to port 7 comes back")
    finally:
        s.stop()


@test("net: without a network card the boot says so and is ready", points=2)
def no_card(t):
    bind(t)
    with t.machine(cmdline="exit=ready", timeout=20) as m:
        m.wait_exit()
        lines = m.lines()
        t.check("net: no interface" in lines, "the boot says: net: no interface")
        t.check("fern: ready" in lines, "and still reaches fern: ready")
