"""Chapter 8 (unikernel): TCP, and the HTTP server that serves the course.

Points here are lab 8's grade. The peers are not fern's code:

- this machine's TCP stack, reached through QEMU's user networking
  (`hostfwd=tcp:127.0.0.1:PORT-:80`; libslirp accepts our connection
  before the guest sees a SYN, so a test always reads a response rather
  than trusting "connected"), with curl and python3-h11, an HTTP/1.1
  implementation that parses every response the kernel sends;
- the packet peer of chapter 7 with a TCP end played by hand
  (tests/fernlab/tcp_peer.py), for what no real stack sends: a sequence
  number outside the window, a blind RST, a SYN on an open connection,
  data that wraps past 2^32, an ACK that never comes, a shut window;
- the in-kernel tests of the request parser, which place each request
  against an unmapped page, so a parser that reads past the bytes it was
  given faults there.

What the site should hold is read from the ISO itself (the module GRUB
loads, extracted with xorriso) and parsed here, so a file served wrong
cannot match by construction.
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

from fernlab import Boot, test
from fernlab.grader import Fail
from fernlab.ktap import ktap_tests
from fernlab.peer import Guest, Peer, ip, mac
from fernlab.qemu import Machine, timeout_scale
from fernlab.session import PROMPT, command, serially, session
from fernlab.tcp_peer import ACK, PSH, RST, SYN, Client

sys.path.append("/usr/lib/python3/dist-packages")     # Debian's python3-h11
try:
    import h11
except ImportError:         # make doctor names the package
    h11 = None


def free_tcp_port():
    return free_tcp_ports(1)[0]


def free_tcp_ports(n):
    """n distinct free ports on 127.0.0.1. Each socket stays bound until all
    are chosen: closed at once, the next bind could be given the same port,
    and QEMU then fails to set up its second forwarding rule."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def site_files(iso):
    """{path: (type, bytes)} of the site image in `iso`."""
    d = tempfile.mkdtemp(prefix="fern-site-")
    try:
        out = os.path.join(d, "site.img")
        p = subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract",
                            "/boot/site.img", out], capture_output=True, timeout=60)
        if p.returncode != 0 or not os.path.exists(out):
            return None
        with open(out, "rb") as f:
            img = f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if img[:8] != b"FERNSITE":
        return None
    count = struct.unpack_from("<I", img, 12)[0]
    files = {}
    for i in range(count):
        po, pl, to, tl, do, dl = struct.unpack_from("<6I", img, 16 + 24 * i)
        files[img[po:po + pl].decode()] = (img[to:to + tl].decode(), img[do:do + dl])
    return files


def the_site(t):
    """The site the ISO carries, or fail the test: the HTTP tests need it,
    and h11 to read the answers."""
    if h11 is None:
        t.fail("python3-h11 is not installed (make deps; make doctor)")
    files = site_files(t.iso)
    if not files:
        t.fail("the ISO has no readable /boot/site.img")
    return files


class Server:
    """A booted unikernel with its port 80 at 127.0.0.1:port."""

    def __init__(self, t, timeout=60):
        self.t, self.timeout = t, timeout
        self.m = self.machine()

    def machine(self):
        self.port, self.echo_port = free_tcp_ports(2)
        extra = ["-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80,"
                 "hostfwd=tcp:127.0.0.1:%d-:7" % (self.port, self.echo_port),
                 "-device", "virtio-net-pci,netdev=n0"]
        return self.t.machine(cmdline="shell", timeout=self.timeout, extra=extra)

    def __enter__(self):
        # Another test running beside this one may bind a port between our
        # choice and QEMU's: then QEMU says so and exits, and new ports are
        # tried, twice at most.
        for attempt in range(3):
            self.m.__enter__()
            if self.m.wait(r"^fern> ", timeout=20):
                break
            if attempt == 2 or "Could not set up host forwarding" not in self.m.outcome():
                raise RuntimeError("no shell prompt (%s)" % self.m.outcome())
            self.m.__exit__(None, None, None)
            self.m = self.machine()
        self.probe(self.port, b"GET / HTTP/1.0\r\n\r\n", "HTTP on port 80")
        return self

    def probe(self, port, data, what):
        """Fail at once, not after every timeout of a test, if nothing
        answers `data` on `port` within a few seconds."""
        s = socket.create_connection(("127.0.0.1", port), timeout=4 * timeout_scale())
        try:
            s.sendall(data)
            got = s.recv(1)
        except OSError:
            got = b""
        finally:
            s.close()
        if not got:
            raise Fail("the kernel does not answer %s: no byte came back within %d s (QEMU's "
                       "user networking accepts a connection for the guest, so a handshake "
                       "that never completes looks like this; see the boot's log)"
                       % (what, 4 * timeout_scale()))

    def __exit__(self, *exc):
        return self.m.__exit__(*exc)

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5 * timeout_scale())

    def connect_many(self, n):
        """n connections, all open at once. libslirp's hostfwd listens with
        a backlog of 1 (tests/hardening.py says more), so connections opened
        in one burst wait in the host's SYN retries, 1 s and then 3 s, for
        QEMU to accept them: 32 took 11 to 15 s. A 5 ms pause after each
        lets QEMU accept it first (32 in 0.2 s); a later one that still
        hits a full queue only waits, it does not fail."""
        socks = []
        for _ in range(n):
            socks.append(self.connect())
            time.sleep(0.005)
        return socks


def h11_get(sock, paths, method="GET", within=None, extra=()):
    """Send one request per path on `sock` (keep-alive), and read each
    response with h11: [(status, headers dict, body)]. With `within`,
    all of it must be done in that many seconds (before the scale)."""
    conn = h11.Connection(h11.CLIENT)
    out = []
    deadline = time.monotonic() + within * timeout_scale() if within else None
    for path in paths:
        sock.sendall(conn.send(h11.Request(method=method, target=path,
                                           headers=[("Host", "fern")] + list(extra))))
        sock.sendall(conn.send(h11.EndOfMessage()))
        status, headers, body = None, {}, b""
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                if deadline and time.monotonic() > deadline:
                    raise TimeoutError("%d responses of %d took more than %d s"
                                       % (len(out), len(paths), within * timeout_scale()))
                data = sock.recv(65536)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    raise RuntimeError("the server closed the connection mid-response")
                continue
            if isinstance(ev, h11.Response):
                status = ev.status_code
                headers = {k.decode().lower(): v.decode() for k, v in ev.headers}
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
        out.append((status, headers, body))
        conn.start_next_cycle()
    return out


def whole_response(got):
    """Whether `got` holds a whole response (head and Content-Length body)."""
    end = got.find(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)\r\n", got[:end + 2], re.I)
    return end >= 0 and m is not None and len(got) >= end + 4 + int(m.group(1))


def read_until_close(s, wait, done=None):
    """Read from `s` until the server closes, a read waits `wait` s (before
    the scale), or done(bytes so far) holds: (the bytes, whether it closed)."""
    s.settimeout(wait * timeout_scale())
    got = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return got, True
            got += c
            if done is not None and done(got):
                return got, False
    except socket.timeout:
        return got, False


def raw_exchange(server, raw, wait=2.0, complete_only=False):
    """Send `raw` bytes, read until the server closes or `wait` s pass
    (or, with `complete_only`, until one whole response came)."""
    s = server.connect()
    try:
        s.sendall(raw)
        return read_until_close(s, wait, whole_response if complete_only else None)
    finally:
        s.close()


@test("http: every file of the site comes back intact with its type, on one connection",
      points=8)
def whole_site(t):
    files = the_site(t)
    with Server(t) as srv:
        t.check(srv.m.wait(r"^site: %d files, \d+ KiB$" % len(files), timeout=1),
                "the boot says: site: %d files" % len(files))
        t.check(srv.m.wait(r"^http: serving %d files on port 80$" % len(files), timeout=1),
                "the boot says: http: serving %d files on port 80" % len(files))
        sock = srv.connect()
        try:
            paths = sorted(files)
            answers = h11_get(sock, paths)
        finally:
            sock.close()
        bad = [p for p, (st, hd, body) in zip(paths, answers)
               if st != 200 or body != files[p][1] or hd.get("content-type") != files[p][0]]
        t.check(not bad, "all %d files: 200, the image's bytes and Content-Type (wrong: %s)"
                % (len(paths), ", ".join(bad[:5]) or "none"))
        st, hd, body = h11_get(srv.connect(), ["/"])[0]
        t.check(st == 200 and body == files["/index.html"][1], "/ is /index.html")


@test("http: curl gets a post; HEAD has the headers and no body", points=6)
def curl_and_head(t):
    files = the_site(t)
    with Server(t) as srv:
        url = "http://127.0.0.1:%d/blog/07-net.html" % srv.port
        p = subprocess.run(["curl", "-s", "-m", str(int(10 * timeout_scale())), "-o", "-",
                            "-w", "\n%{http_code} %{content_type}", url],
                           capture_output=True, timeout=30)
        body, _, tail = p.stdout.rpartition(b"\n")
        t.check(p.returncode == 0 and tail.decode().startswith("200 text/html"),
                "curl: 200 text/html (%r)" % tail[:60])
        t.check(body == files["/blog/07-net.html"][1], "curl: the body is the post's page")
        st, hd, body = h11_get(srv.connect(), ["/blog/07-net.html"], method="HEAD")[0]
        t.check(st == 200 and body == b"" and
                hd.get("content-length") == str(len(files["/blog/07-net.html"][1])),
                "HEAD: 200, Content-Length of the page, no body")


# (what is sent, the status wanted, whether the connection must close)
MALFORMED = [
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400, True),
    ("whitespace before the colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, True),
    ("a folded field line", b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400, True),
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
    ("two different Content-Lengths",
     b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, True),
    ("a Content-Length that is not a number",
     b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400, True),
    ("a bare LF request line", b"GET / HTTP/1.1\nHost: x\n\n", 400, True),
    ("a bare CR after the request line", b"GET / HTTP/1.0\rXX: y\r\n\r\n", 400, True),
    ("a request line with three spaces", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
    ("Transfer-Encoding", b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
     501, True),
    ("HTTP/2.0 in the request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, False),
    ("a 2000-byte target", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, False),
    ("a 9000-byte header section", b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 9000 +
     b"\r\n\r\n", 431, True),
    ("POST", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, False),
    ("an unknown method", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, False),
    ("a path with ..", b"GET /blog/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, False),
]


@test("http: malformed and unsupported requests get their status; after a 400 the "
      "connection closes; the server still serves", points=12)
def malformed(t):
    with Server(t) as srv:
        for what, raw, want, closes in MALFORMED:
            got, closed = raw_exchange(srv, raw, complete_only=not closes)
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
            status = int(m.group(1)) if m else None
            t.check(status == want, "%s: %d (got %s)" % (what, want, status))
            if closes:
                t.check(closed, "%s: the connection is closed after the answer" % what)
        st, _, _ = h11_get(srv.connect(), ["/index.html"])[0]
        t.check(st == 200, "afterwards, a good request is answered")


@test("http: pipelined requests are answered in order; HTTP/1.0 closes", points=6)
def pipelining(t):
    files = the_site(t)
    with Server(t) as srv:
        paths = ["/style.css", "/index.html", sorted(files)[0]]
        raw = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
        got, closed = raw_exchange(srv, raw + b"GET /style.css HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n", wait=4)
        conn = h11.Connection(h11.CLIENT)
        conn.receive_data(got)
        bodies, body = [], b""
        for _ in range(4):
            # h11 wants a request sent before it reads a response.
            conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            conn.send(h11.EndOfMessage())
            while True:
                ev = conn.next_event()
                if ev is h11.NEED_DATA or ev is h11.PAUSED:
                    break
                if isinstance(ev, h11.Data):
                    body += ev.data
                elif isinstance(ev, h11.EndOfMessage):
                    bodies.append(body)
                    body = b""
                    break
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    break
        want = [files[p][1] for p in paths + ["/style.css"]]
        t.check(bodies == want, "four responses, in the order asked (%d parsed)" % len(bodies))
        t.check(closed, "Connection: close on the last one closes the connection")
        got, closed = raw_exchange(srv, b"GET /style.css HTTP/1.0\r\n\r\n")
        t.check(got.startswith(b"HTTP/1.1 200 ") and closed and
                got.endswith(files["/style.css"][1]), "an HTTP/1.0 request is answered and closed")


def echo_through(s, data, seconds):
    """Send `data` on `s` to an echo while reading what comes back, for
    at most `seconds` (before the scale); the bytes that came back."""
    got = bytearray()
    sent = 0
    s.settimeout(0.05)
    deadline = time.monotonic() + seconds * timeout_scale()
    while len(got) < len(data) and time.monotonic() < deadline:
        if sent < len(data):
            try:
                sent += s.send(data[sent:sent + 16384])
            except socket.timeout:
                pass
        try:
            c = s.recv(65536)
            if not c:
                break
            got += c
        except socket.timeout:
            pass
    return bytes(got)


@test("tcp: a megabyte through the TCP echo service comes back intact", points=6)
def tcp_echo(t):
    with Server(t) as srv:
        srv.probe(srv.echo_port, b"x", "TCP echo on port 7")
        data = os.urandom(1 << 20)
        s = socket.create_connection(("127.0.0.1", srv.echo_port), timeout=10 * timeout_scale())
        try:
            got = echo_through(s, data, 30)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5 * timeout_scale())
            eof = s.recv(10) == b""
        finally:
            s.close()
        t.check(bytes(got) == data, "1 MiB echoed intact (%d bytes back)" % len(got))
        t.check(eof, "the echo closes after the client's FIN")


def heap_in_use(t, m):
    out = command(t, m, "heap")
    g = re.search(r"^heap: (\d+) bytes in use", out, re.M)
    if not g:
        t.fail("the heap command printed no 'heap: N bytes in use' line: %r" % out[:200])
    return int(g.group(1))


def get_raw(srv, path, headers=b""):
    """One GET on a new connection, with the extra header lines `headers`;
    (status, headers dict, body) read with h11."""
    sock = srv.connect()
    try:
        extra = [tuple(x.split(b": ", 1)) for x in headers.split(b"\r\n") if x]
        return h11_get(sock, [path], extra=extra)[0]
    finally:
        sock.close()


@test("http: an ETag, and If-None-Match answered 304; a request body over the limit is a 413",
      points=6)
def conditional(t):
    files = the_site(t)
    with Server(t) as srv:
        st, hd, body = get_raw(srv, "/style.css")
        tag = hd.get("etag", "")
        t.check(st == 200 and body == files["/style.css"][1] and re.match(r'^"[^"]+"$', tag),
                "a 200 carries a strong ETag (%r)" % tag)
        st2, hd2, _ = get_raw(srv, "/index.html")
        t.check(hd2.get("etag") not in (None, tag), "another file has another ETag")
        st, hd, body = get_raw(srv, "/style.css", b"If-None-Match: " + tag.encode())
        t.check(st == 304 and body == b"" and hd.get("etag") == tag,
                "If-None-Match with it: 304, the same ETag, no body (%s)" % st)
        st, _, _ = get_raw(srv, "/style.css", b'If-None-Match: "nope", W/' + tag.encode())
        t.check(st == 304, "its weak form in a list: 304 (%s)" % st)
        st, _, body = get_raw(srv, "/style.css", b'If-None-Match: "nope"')
        t.check(st == 200 and body == files["/style.css"][1], "another tag: 200 and the file")
        got, closed = raw_exchange(srv, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000"
                                   b"\r\n\r\n" + b"z" * 1000)
        t.check(got.startswith(b"HTTP/1.1 413 ") and closed,
                "Content-Length 100000 on a GET: 413, and the connection closes (%r)" % got[:20])


@test("http: 32 connections at once, a request sent a byte at a time, a client that resets "
      "mid-response; afterwards the heap is back where it was", points=6)
def many_and_rude(t):
    files = the_site(t)
    # A page of a few windows (8 KiB each), the smallest such.
    page = min((p for p in files if len(files[p][1]) > 3 * 8192), key=lambda p: len(files[p][1]))
    with Server(t) as srv:
        get_raw(srv, "/index.html")                         # warm up
        time.sleep(0.3)                                     # the close's last ACK
        base = heap_in_use(t, srv.m)
        socks = srv.connect_many(32)
        try:
            for s in socks:
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          % page.encode())
            bodies = []
            for s in socks:
                got, _ = read_until_close(s, 20)
                bodies.append(got.partition(b"\r\n\r\n")[2])
        finally:
            for s in socks:
                s.close()
        good = sum(b == files[page][1] for b in bodies)
        t.check(good == 32, "32 connections at once each get all %d bytes of %s (%d did; "
                "the others got %s)" % (len(files[page][1]), page, good,
                                        sorted(set(len(b) for b in bodies))[:6]))
        s = srv.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for i in range(len(req)):
            s.sendall(req[i:i + 1])
            time.sleep(0.005)
        got, _ = read_until_close(s, 10)
        s.close()
        t.check(got.startswith(b"HTTP/1.1 200 ") and got.endswith(files["/style.css"][1]),
                "a request sent one byte at a time is answered (%r)" % got[:20])
        s = srv.connect()
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % page.encode())
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()                                           # a RST, mid-response
        st, _, body = get_raw(srv, "/style.css")
        t.check(st == 200 and body == files["/style.css"][1],
                "after a client reset mid-response, the next is served")
        time.sleep(0.3)
        after = heap_in_use(t, srv.m)
        t.check(after == base, "the heap is back to its baseline: %d bytes in use, %d before"
                % (after, base))


# -- the request parser, in the kernel ------------------------------------

ktap_tests(Boot(cmdline="test=http", timeout=20), [
    ("http: the request parser on requests that end at an unmapped page (in-kernel tests)",
     10, ["http:"]),
])


# -- the packet peer: TCP played by hand ----------------------------------

GUEST_MAC, GUEST_IP = "52:54:00:aa:bb:cc", "10.0.3.15"


def make_peer(s):
    s.peer = Peer().__enter__()
    extra = s.peer.netdev("n1") + ["-device", "virtio-net-pci,netdev=n1,mac=%s" % GUEST_MAC]
    s.machine = Machine(s.iso, cmdline="shell ip=%s/24,gw=10.0.3.2" % GUEST_IP, timeout=120,
                        extra=extra, qemu=s.qemu)
    s.machine.start()
    s.guest = Guest(s.peer, mac(GUEST_MAC), ip(GUEST_IP))
    if not s.machine.wait(r"^" + PROMPT, timeout=20):
        raise RuntimeError("the kernel did not reach its shell with a virtio-net card on a "
                           "datagram netdev (%s)" % s.machine.outcome())


PEER = session(make_peer)
NEXT_PORT = [20000]


def client(isn=None, wnd=65535):
    """A new hand-played client of the echo service (port 7)."""
    NEXT_PORT[0] += 1
    if isn is None:
        isn = struct.unpack("!I", os.urandom(4))[0]
    return Client(PEER.guest, NEXT_PORT[0], 7, isn, wnd)


def tcp_drops(t, m):
    out = command(t, m, "netstat")
    return {k: int(v) for k, v in re.findall(r"^drop (tcp-\S+) (\d+)$", out, re.M)}


def echoes(c, data, what):
    """Whether `data` written on `c` comes back whole."""
    c.write(data)
    return c.read(len(data)) == data


@test("tcp: the handshake: a SYN-ACK that acknowledges the SYN, with an MSS; a wrong ACK gets "
      "a RST; the SYN-ACK is sent again until acknowledged; segments respect the client's MSS",
      points=12, group="tcp-peer")
@serially(PEER)
def handshake(t):
    PEER.use(t)
    c = client()
    s = c.syn(mss=1200)
    t.check(s is not None and s.ok and s.flags == SYN | ACK and s.ack == (c.snd + 1) % 2**32,
            "a SYN to port 7 gets a SYN-ACK with ack = our ISN + 1, checksum right (%r)" % s)
    if s is None:
        t.fail("no answer to a SYN: the handshake cannot go on")
    t.check(s.mss is not None and 536 <= s.mss <= 1460 and s.wnd > 0,
            "the SYN-ACK has an MSS option between 536 and 1460 and an open window (%s, %d)"
            % (s.mss, s.wnd))
    c.send(SYN, seq=c.snd, ack=0)
    again = c.expect(timeout=2)
    t.check(again is not None and again.flags == SYN | ACK and again.seq == s.seq,
            "our SYN again: the same SYN-ACK, the same ISN (%r)" % again)
    c.snd = (c.snd + 1) % 2**32
    c.send(ACK, ack=(c.rcv + 5) % 2**32)
    r = c.expect(timeout=2)
    t.check(r is not None and r.flags & RST and r.seq == (c.rcv + 5) % 2**32,
            "an ACK of a number never sent gets a RST with that number as its seq (%r)" % r)
    c.send(ACK)
    data = ("hello %s" % PEER.machine.nonce).encode()
    c.write(data)
    e = c.expect(lambda s: len(s.data) > 0, timeout=2)
    t.check(e is not None and e.data == data and e.seq == c.rcv and e.ack == c.snd and e.ok,
            "after the right ACK the connection carries data: the echo starts at ISN + 1 "
            "and acknowledges our bytes (%r)" % e)
    c.rcv = (c.rcv + len(data)) % 2**32
    c.send(ACK)
    c.reset()

    slow = client()
    s = slow.syn()
    again = slow.expect(lambda x: x.flags & SYN, timeout=4)
    t.check(s is not None and again is not None and again.seq == s.seq,
            "a SYN-ACK that is not acknowledged is sent again, with the same ISN (%r)" % again)
    t.check(s is not None and abs((s.seq - c.iss + 2**31) % 2**32 - 2**31) > 1 << 16,
            "two connections' ISNs are not close together (%s and %s: RFC 6528)"
            % (c.iss, s and s.seq))
    slow.send(RST, seq=(slow.snd + 1) % 2**32)

    small = client()
    t.check(small.open(mss=100), "a client with an MSS of 100 completes the handshake")
    data = os.urandom(700)
    sizes = []
    small.write(data)
    got = b""
    deadline = time.monotonic() + 5 * timeout_scale()
    while len(got) < len(data) and time.monotonic() < deadline:
        e = small.expect(lambda s: len(s.data) > 0, timeout=2)
        if e is None:
            break
        sizes.append(len(e.data))
        if e.seq == small.rcv:
            got += e.data
            small.rcv = (small.rcv + len(e.data)) % 2**32
        small.send(ACK)
    t.check(got == data and sizes and max(sizes) <= 100,
            "700 bytes come back in segments of at most 100 bytes (%s)" % sizes[:10])
    small.reset()


@test("tcp: the acceptance test: segments outside the window are not taken and are answered "
      "with an ACK; an overlap gives only its new bytes; sequence numbers wrap past 2^32",
      points=14, group="tcp-peer")
@serially(PEER)
def acceptance(t):
    m = PEER.use(t)
    c = client(isn=0xffffffe7)
    if not c.open():
        t.fail("the handshake did not complete, so no segment can be tested (the answer to "
               "our SYN: %r)" % c.last)
    data = os.urandom(40)
    t.check(echoes(c, data, "wrap"),
            "40 bytes whose sequence numbers wrap past 2^32 are taken and echoed")
    t.check(c.snd < 0x100, "(the test's numbers did wrap: snd is now %#x)" % c.snd)
    before = tcp_drops(t, m)
    PEER.peer.drain()

    def answered_ack():
        a = c.expect(lambda s: s.flags & ACK and not s.data, timeout=1.5)
        return a is not None and a.ack == c.snd

    c.send(ACK | PSH, b"A" * 10, seq=(c.snd + 9000) % 2**32)
    t.check(answered_ack(), "data 9000 bytes ahead (past the 8192-byte window): an ACK of "
            "what we really sent")
    c.send(ACK | PSH, b"B" * 10, seq=(c.snd - 30) % 2**32)
    t.check(answered_ack(), "an old duplicate (all of it before rcv_nxt): an ACK")
    c.send(ACK, seq=(c.snd + 8192) % 2**32)
    t.check(answered_ack(), "an empty segment just past the window: an ACK")
    c.send(ACK | PSH, b"C" * 10, seq=(c.snd + 8191) % 2**32)
    t.check(answered_ack(), "data starting at the window's last number (acceptable, but not "
            "what comes next): an ACK")
    new = os.urandom(7)
    c.send(ACK | PSH, data[-5:] + new, seq=(c.snd - 5) % 2**32)
    c.snd = (c.snd + 7) % 2**32
    back = c.read(7)
    t.check(back == new, "an overlap of 5 old and 7 new bytes: only the 7 come back (%d bytes)"
            % len(back))
    extra = c.expect(lambda s: len(s.data) > 0, timeout=0.5)
    t.check(extra is None, "and nothing more (%r)" % extra)
    after = tcp_drops(t, m)
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    t.check(d.get("tcp-out-of-window") == 3,
            "three of them counted as tcp-out-of-window (%s)" % d.get("tcp-out-of-window"))
    t.check(d.get("tcp-out-of-order") == 1,
            "the one at the window's last number as tcp-out-of-order (%s)"
            % d.get("tcp-out-of-order"))
    t.check(echoes(c, b"still here", "after"), "the connection still echoes")
    c.reset()


@test("tcp: a blind RST or SYN does not end a connection (RFC 5961), a RST at rcv_nxt does; "
      "a SYN flood leaves at most 64 half-open and a new client is served", points=6,
      group="tcp-peer")
@serially(PEER)
def blind(t):
    m = PEER.use(t)
    c = client()
    if not c.open():
        t.fail("the handshake did not complete, so no RST can be tested (the answer to our "
               "SYN: %r)" % c.last)
    PEER.peer.drain()
    c.send(RST, seq=(c.snd + 100) % 2**32)
    a = c.expect(timeout=1.5)
    t.check(a is not None and a.flags == ACK and a.ack == c.snd,
            "a RST inside the window but not at rcv_nxt gets a challenge ACK (%r)" % a)
    c.send(RST, seq=(c.snd + 100000) % 2**32)
    c.send(SYN, seq=(c.snd + 50) % 2**32, ack=0)
    a = c.expect(timeout=1.5)
    t.check(a is not None and a.flags == ACK and a.ack == c.snd,
            "a SYN on the open connection gets a challenge ACK (%r)" % a)
    t.check(echoes(c, b"alive", "blind"), "after them the connection still echoes")
    c.send(RST)
    c.write(b"gone?")
    r = c.expect(timeout=1.5)
    t.check(r is not None and r.flags & RST, "a RST at rcv_nxt ends it: data then gets a RST "
            "(%r)" % r)

    flood = [client() for _ in range(300)]
    for f in flood:
        f.send(SYN, ack=0)
    time.sleep(0.5)
    out = command(t, m, "netstat")
    g = re.search(r"^tcp SYN-RECEIVED (\d+)$", out, re.M)
    half = int(g.group(1)) if g else 0
    t.check(0 < half <= 64, "after 300 SYNs from 300 ports, %d connections are half-open "
            "(at most 64)" % half)
    real = client()
    t.check(real.open() and echoes(real, b"served", "flood"),
            "a client that comes after the flood completes its handshake and is echoed")
    real.reset()
    for f in flood:
        f.send(RST, seq=(f.snd + 1) % 2**32)
    time.sleep(0.3)
    PEER.peer.drain()


@test("tcp: a segment never acknowledged is sent again after the RTO; a shut window gets a "
      "probe, and the data once it opens", points=4, group="tcp-peer")
@serially(PEER)
def retransmit(t):
    PEER.use(t)
    c = client()
    if not c.open():
        t.fail("the handshake did not complete (the answer to our SYN: %r)" % c.last)
    data = os.urandom(100)
    c.write(data)
    first = c.expect(lambda s: len(s.data) > 0, timeout=2)
    again = c.expect(lambda s: len(s.data) > 0, timeout=4)
    t.check(first is not None and again is not None and again.seq == first.seq and
            again.data == first.data == data,
            "the echo, unacknowledged, comes again with the same seq and bytes (%r, %r)"
            % (first, again))
    c.rcv = (c.rcv + len(data)) % 2**32
    c.send(ACK)
    c.reset()

    z = client()
    if not z.open():
        t.fail("the handshake did not complete (the answer to our SYN: %r)" % z.last)
    z.send(ACK, wnd=0)
    z.wnd = 0
    data = os.urandom(50)
    z.write(data)
    sent = time.monotonic()
    probe = z.expect(lambda s: len(s.data) > 0, timeout=4)
    waited = time.monotonic() - sent
    # A probe is data sent into the shut window on the retransmission
    # timer, which waits 200 ms at least (RTO_MIN_MS): the echo sent at
    # once would be data the window does not allow.
    t.check(probe is not None and probe.seq == z.rcv and 1 <= len(probe.data) <= len(data)
            and probe.data == data[:len(probe.data)] and waited >= 0.15,
            "with our window shut the echo waits, and a probe of its first bytes comes on "
            "the timer (%r after %.2f s)" % (probe, waited))
    z.wnd = 65535
    z.send(ACK)
    got = z.read(len(data), timeout=4)     # from snd_una: the probe was not acknowledged
    t.check(got == data, "once the window opens the 50 bytes come, in order (%d)" % len(got))
    z.reset()


# -- the host's TCP through passt -----------------------------------------

class Passt:
    """passt, the host's own TCP for the guest (QEMU's -netdev stream), on a
    unix socket in a folder of its own, forwarding 127.0.0.1:PORT to the
    guest's GUEST_PORT for each (PORT, GUEST_PORT); `extra` is the QEMU
    options that connect a virtio-net card to it.

    passt copies the host's routes unless told; the guest gets 10.0.4.15
    by passt's DHCP. Debian 12's passt (2023-03) takes a padded frame's
    length for its packet's, so the kernel must send short frames unpadded
    (eth_pad=0), as Linux's virtio-net driver does."""

    def __init__(self, t, forwards):
        self.t, self.forwards = t, forwards

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="fern-passt-")
        os.chmod(self.dir, 0o777)   # passt run by root runs as nobody, and makes its socket here
        sock = os.path.join(self.dir, "passt.sock")
        argv = ["passt", "-f", "-q", "-s", sock, "-a", "10.0.4.15", "-n", "24", "-g", "10.0.4.2",
                "-m", "1500"]
        for port, guest_port in self.forwards:
            argv += ["-t", "127.0.0.1/%d:%d" % (port, guest_port)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5 * timeout_scale()
        while (not os.path.exists(sock) and self.proc.poll() is None and
               time.monotonic() < deadline):
            time.sleep(0.05)
        if not os.path.exists(sock):
            err = (self.proc.stderr.read().decode(errors="replace")
                   if self.proc.poll() is not None else "")
            self.__exit__()
            self.t.fail("passt did not start: %s"
                        % (err.strip().splitlines() or ["no socket"])[-1])
        self.extra = ["-netdev", "stream,id=n0,server=off,addr.type=unix,addr.path=%s" % sock,
                      "-device", "virtio-net-pci,netdev=n0"]
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


@test("tcp: the host's own TCP through passt (-netdev stream): the site and 256 KiB of echo",
      points=4)
def through_passt(t):
    if shutil.which("passt") is None:
        t.fail("passt is not installed (make deps; make doctor)")
    files = the_site(t)
    port, echo_port = free_tcp_ports(2)
    with Passt(t, [(port, 80), (echo_port, 7)]) as passt:
        with t.machine(cmdline="shell eth_pad=0", timeout=60, extra=passt.extra) as m:
            t.check(m.wait(r"^net: 10\.0\.4\.15/24 gw 10\.0\.4\.2 \(dhcp\)$", timeout=20),
                    "passt's DHCP gives 10.0.4.15/24 gw 10.0.4.2")
            if not m.wait(r"^fern> ", timeout=20):
                t.fail("no shell prompt (%s)" % m.outcome())
            s = socket.create_connection(("127.0.0.1", port), timeout=5 * timeout_scale())
            try:
                paths = sorted(files)
                answers = h11_get(s, paths, within=15)
            finally:
                s.close()
            bad = [p for p, (st, hd, body) in zip(paths, answers)
                   if st != 200 or body != files[p][1]]
            t.check(not bad, "all %d files through passt on one connection, byte for byte "
                    "(wrong: %s)" % (len(paths), ", ".join(bad[:5]) or "none"))
            data = os.urandom(256 * 1024)
            e = socket.create_connection(("127.0.0.1", echo_port), timeout=5 * timeout_scale())
            try:
                got = echo_through(e, data, 10)
            finally:
                e.close()
            t.check(bytes(got) == data, "256 KiB through passt to the TCP echo and back, intact "
                    "(%d bytes back)" % len(got))
