"""TCP for the packet peer (tests/fernlab/peer.py): segments built byte
by byte from RFC 9293 §3.1's layout with their own checksum, segments the
kernel sends read back and checked, and a client that plays one end of a
connection by hand, so that a test can send what no real stack would: a
sequence number outside the window, a blind RST, a SYN on an open
connection, data that wraps past 2^32.

Nothing here comes from fern's code; the checksum is peer.checksum(), a
plain RFC 1071 sum.
"""

import struct

from .peer import ETH_P_IP, checksum, ether, ipv4

IPPROTO_TCP = 6
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def flag_names(flags):
    return "|".join(n for b, n in ((SYN, "SYN"), (ACK, "ACK"), (FIN, "FIN"), (RST, "RST"),
                                   (PSH, "PSH"), (URG, "URG")) if flags & b) or "none"


def tcp(src, dst, sport, dport, seq, ack, flags, wnd=65535, data=b"", options=b"",
        csum=None, doff=None, urg=0):
    """A TCP segment from `src` to `dst` (4-byte addresses)."""
    if doff is None:
        doff = (20 + len(options)) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                       doff << 4, flags, wnd, 0, urg) + options
    if csum is None:
        seg = head + data
        pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, len(seg))
        csum = checksum(pseudo + seg)
    return head[:16] + struct.pack("!H", csum) + head[18:] + data


def mss_option(mss):
    return struct.pack("!BBH", 2, 4, mss)


class Segment:
    """A TCP segment the kernel sent, read from a peer Frame; `problems`
    lists what is wrong with it (lengths, checksum, options)."""

    def __init__(self, frame):
        self.ok = False
        self.problems = list(frame.problems)
        raw = frame.raw[14:]
        ihl = (raw[0] & 15) * 4
        total = struct.unpack("!H", raw[2:4])[0]
        t = raw[ihl:total]
        self.src, self.dst = raw[12:16], raw[16:20]
        if len(t) < 20:
            self.problems.append("TCP segment of %d bytes" % len(t))
            return
        (self.sport, self.dport, self.seq, self.ack, off, self.flags, self.wnd, csum,
         self.urg) = struct.unpack("!HHIIBBHHH", t[:20])
        doff = (off >> 4) * 4
        if doff < 20 or doff > len(t):
            self.problems.append("TCP data offset %d in %d bytes" % (doff, len(t)))
            return
        pseudo = self.src + self.dst + struct.pack("!BBH", 0, IPPROTO_TCP, len(t))
        if checksum(pseudo + t) != 0:
            self.problems.append("TCP checksum %#06x is wrong" % csum)
        self.mss = None
        opts, at = t[20:doff], 0
        while at < len(opts):
            kind = opts[at]
            if kind == 0:
                break
            if kind == 1:
                at += 1
                continue
            if at + 1 >= len(opts) or opts[at + 1] < 2 or at + opts[at + 1] > len(opts):
                self.problems.append("a TCP option overruns the header")
                break
            if kind == 2 and opts[at + 1] == 4:
                self.mss = struct.unpack("!H", opts[at + 2:at + 4])[0]
            at += opts[at + 1]
        self.data = t[doff:]
        self.ok = not self.problems

    def __repr__(self):
        if not hasattr(self, "flags"):
            return "<segment: %s>" % "; ".join(self.problems)
        return "<segment %d->%d %s seq %d ack %d wnd %d len %d%s>" % (
            self.sport, self.dport, flag_names(self.flags), self.seq, self.ack, self.wnd,
            len(self.data), " " + "; ".join(self.problems) if self.problems else "")


def segment_of(frame):
    """The TCP segment in `frame`, or None."""
    if frame.ip is None or frame.ip["proto"] != IPPROTO_TCP:
        return None
    s = Segment(frame)
    return s if hasattr(s, "flags") else None


class Client:
    """One end of a TCP connection to the guest, played by hand: the test
    says what to send, and reads what comes back. `snd` is our next
    sequence number, `rcv` the next one we expect from the guest."""

    def __init__(self, guest, sport, dport, isn, wnd=65535):
        self.g, self.sport, self.dport = guest, sport, dport
        self.snd, self.rcv, self.wnd = isn & 0xffffffff, None, wnd
        self.iss = None             # the guest's initial sequence number
        self.last = None            # the answer to our SYN, for messages

    def frame(self, seq, ack, flags, data=b"", options=b"", wnd=None, **tcpopts):
        peer = self.g.peer
        seg = tcp(peer.IP, self.g.ip, self.sport, self.dport, seq, ack, flags,
                  self.wnd if wnd is None else wnd, data, options, **tcpopts)
        return ether(self.g.mac, peer.MAC, ETH_P_IP, ipv4(peer.IP, self.g.ip, IPPROTO_TCP, seg))

    def send(self, flags, data=b"", seq=None, ack=None, **kw):
        """Send a segment (our snd and the rcv we know, unless given)."""
        self.g.peer.send(self.frame(self.snd if seq is None else seq,
                                    (self.rcv or 0) if ack is None else ack, flags, data, **kw))

    def expect(self, match=lambda s: True, timeout=2.0):
        """The next segment of this connection for which match(s) holds, or None."""
        found = []

        def pick(f):
            s = segment_of(f)
            if s is not None and s.sport == self.dport and s.dport == self.sport and match(s):
                found.append(s)
                return True
            return False
        self.g.peer.expect(pick, timeout)
        return found[0] if found else None

    def syn(self, mss=1460, timeout=2.0):
        """Send our SYN; return the SYN-ACK (or whatever came), or None."""
        self.send(SYN, ack=0, options=mss_option(mss) if mss else b"")
        s = self.last = self.expect(timeout=timeout)
        if s is not None and s.flags & SYN:
            self.iss = s.seq
            self.rcv = (s.seq + 1) & 0xffffffff
        return s

    def open(self, mss=1460, timeout=2.0, tries=2):
        """The three-way handshake; True if it completed. Like a real
        client, send the SYN again if no answer comes (`tries` in all)."""
        for _ in range(tries):
            s = self.syn(mss, timeout)
            if s is not None:
                break
        if s is None or s.flags != SYN | ACK or s.ack != (self.snd + 1) & 0xffffffff:
            return False
        self.snd = (self.snd + 1) & 0xffffffff
        self.send(ACK)
        return True

    def write(self, data, **kw):
        """Send `data` at snd, and move snd past it."""
        self.send(ACK | PSH, data, **kw)
        self.snd = (self.snd + len(data)) & 0xffffffff

    def read(self, n, timeout=3.0):
        """Read up to `n` bytes in order, acknowledging each segment; what
        came (short if the guest stopped sending)."""
        got = b""
        while len(got) < n:
            s = self.expect(lambda s: len(s.data) > 0 or s.flags & (FIN | RST), timeout)
            if s is None or s.flags & RST:
                break
            if s.seq == self.rcv and s.data:
                got += s.data
                self.rcv = (self.rcv + len(s.data)) & 0xffffffff
            self.send(ACK)
            if s.flags & FIN:
                break
        return got

    def reset(self):
        self.send(RST | ACK)
