"""Chapter 8 (unikernel): TCP, and the HTTP server that serves the course.

The peers are not fern's code: this machine's TCP stack, reached through
QEMU's user networking (`hostfwd=tcp:127.0.0.1:PORT-:80`), curl, and
python3-h11, an HTTP/1.1 implementation that parses every response the
kernel sends. What the site should hold is read from the ISO itself (the
module GRUB loads, extracted with xorriso) and parsed here, so a file
served wrong cannot match by construction.
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

from fernlab import test
from fernlab.qemu import timeout_scale

sys.path.append("/usr/lib/python3/dist-packages")     # Debian's python3-h11
try:
    import h11
except ImportError:         # make doctor names the package
    h11 = None


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class Server:
    """A booted unikernel with its port 80 at 127.0.0.1:port."""

    def __init__(self, t, timeout=60):
        self.port, self.echo_port = free_tcp_port(), free_tcp_port()
        extra = ["-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80,"
                 "hostfwd=tcp:127.0.0.1:%d-:7" % (self.port, self.echo_port),
                 "-device", "virtio-net-pci,netdev=n0"]
        self.m = t.machine(cmdline="shell", timeout=timeout, extra=extra)

    def __enter__(self):
        self.m.__enter__()
        if not self.m.wait(r"^fern> ", timeout=20):
            raise RuntimeError("no shell prompt (%s)" % self.m.outcome())
        return self

    def __exit__(self, *exc):
        return self.m.__exit__(*exc)

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5 * timeout_scale())


def h11_get(sock, paths, method="GET"):
    """Send one request per path on `sock` (keep-alive), and read each
    response with h11: [(status, headers dict, body)]."""
    conn = h11.Connection(h11.CLIENT)
    out = []
    for path in paths:
        sock.sendall(conn.send(h11.Request(method=method, target=path,
                                           headers=[("Host", "fern")])))
        sock.sendall(conn.send(h11.EndOfMessage()))
        status, headers, body = None, {}, b""
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
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


def raw_exchange(server, raw, wait=2.0, complete_only=False):
    """Send `raw` bytes, read until the server closes or `wait` s pass
    (or, with `complete_only`, until one whole response came)."""
    s = server.connect()
    s.sendall(raw)
    s.settimeout(wait * timeout_scale())
    got = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return got, True
            got += c
            if complete_only and whole_response(got):
                return got, False
    except socket.timeout:
        return got, False
    finally:
        s.close()


@test("http: every file of the site comes back intact with its type, on one connection",
      points=20)
def whole_site(t):
    if h11 is None:
        t.fail("python3-h11 is not installed (make deps; make doctor)")
    files = site_files(t.iso)
    if not files:
        t.fail("the ISO has no readable /boot/site.img")
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


@test("http: curl gets a post; HEAD has the headers and no body", points=10)
def curl_and_head(t):
    files = site_files(t.iso)
    if not files:
        t.fail("the ISO has no readable /boot/site.img")
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
      "connection closes; the server still serves", points=20)
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


@test("http: pipelined requests are answered in order; HTTP/1.0 closes", points=10)
def pipelining(t):
    files = site_files(t.iso)
    if not files:
        t.fail("the ISO has no readable /boot/site.img")
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


@test("tcp: a megabyte through the TCP echo service comes back intact", points=10)
def tcp_echo(t):
    with Server(t) as srv:
        data = os.urandom(1 << 20)
        s = socket.create_connection(("127.0.0.1", srv.echo_port), timeout=10 * timeout_scale())
        got = bytearray()
        try:
            s.setblocking(True)
            sent = 0
            s.settimeout(0.05)
            deadline = time.monotonic() + 30 * timeout_scale()
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
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5 * timeout_scale())
            eof = s.recv(10) == b""
        finally:
            s.close()
        t.check(bytes(got) == data, "1 MiB echoed intact (%d bytes back)" % len(got))
        t.check(eof, "the echo closes after the client's FIN")
