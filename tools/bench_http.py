#!/usr/bin/env python3
"""`make bench-http`: fern's HTTP server against a Linux guest doing the same job.

    python3 tools/bench_http.py --prepare       # make bench-deps: download and unpack
    python3 tools/bench_http.py [--runs 3] [--duration 10] [--no-memory] [--json FILE]

The baseline is what a reader would pick instead of a unikernel: Debian's
stock cloud kernel (linux-image-cloud-amd64) booted with a busybox
initramfs whose /init gives virtio-net the address QEMU's user networking
expects (10.0.2.15/24, gateway 10.0.2.2) and runs `busybox httpd` on a copy
of the page fern serves, byte for byte. Both guests run under the same QEMU
flags (tests/fernlab/qemu.py's QEMU_FLAGS: TCG, -M pc, no display, no
reboot), the same -m, the same virtio-net card on user networking with the
guest's port 80 forwarded to a free port of 127.0.0.1. fern boots its ISO
from -cdrom through GRUB; Linux boots with -kernel and -initrd.

Four figures per guest (docs/performance.md, "bench-http" says what each
means):

1. Boot: wall seconds from QEMU's launch to the first HTTP 200 on the
   forwarded port, over --runs interleaved rounds (fern, Linux, fern, ...),
   with GRUB's floor (tools/bench.py) for context.
2. Throughput and latency: `wrk -t1 -c8 -d<duration>s --latency` on the
   page: requests/s, p50, p99 and errors; once as wrk asks (keep-alive),
   once with a new connection for every request.
3. Memory: the smallest -m, in MiB, at which the guest still serves.
4. Size: what each boots: fern's kernel and site module (and its ISO),
   Linux's bzImage and initramfs.

The downloads (`apt-get download`, no root, nothing installed) and the
initramfs are kept in build/bench-http/: a second run neither downloads
nor rebuilds. Every QEMU is killed at the end, also on Ctrl-C. A benchmark,
not a test: no figure fails it; the exit status is 1 only if a guest could
not be measured at all, 2 if a tool or package is missing.
"""

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import bench  # noqa: E402  (make bench: the floor, sizes, the machine)
from fernlab.qemu import (DEFAULT_MEMORY, FW_CFG_CMDLINE, QEMU_FLAGS,  # noqa: E402
                          HarnessError, qemu_binary, timeout_scale)

WORK = os.path.join("build", "bench-http")
DEBS = os.path.join(WORK, "debs")
UNPACKED = os.path.join(WORK, "root")
INITRD = os.path.join(WORK, "initrd.gz")
INITRD_KEY = INITRD + ".key"
FERN_ISO = os.path.join("build", "fern.iso")
FERN_ELF = os.path.join("build", "fern.elf")
SITE_IMAGE = os.path.join("build", "site.img")

# The Debian packages of the baseline. The kernel's name is a metapackage
# whose one dependency is the versioned kernel (linux-image-6.1.0-N-...).
KERNEL_META = "linux-image-cloud-amd64"
BUSYBOX = "busybox-static"
# What the Linux guest needs to reach its card: the virtio PCI transport
# and the virtio-net driver. Their dependencies are found from the modules
# themselves; the ones the kernel has built in are left out.
WANTED_MODULES = ["virtio_pci", "virtio_net"]

# QEMU's user networking (libslirp) defaults: the guest 10.0.2.15, the
# gateway 10.0.2.2. fern takes them by DHCP; the Linux guest is given them.
LINUX_APPEND = "console=ttyS0 quiet panic=-1"

# PID 1 of the Linux guest. `panic=-1` on the command line and QEMU's
# -no-reboot turn a failure (init exiting, out of memory) into QEMU
# ending, so a probe learns it at once instead of at its timeout.
INIT = """#!/bin/busybox sh
# /init of fern's Linux baseline (tools/bench_http.py): load the virtio
# drivers, give eth0 QEMU's user-networking address, serve /www on port 80.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
for m in {modules}; do
	$bb insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
$bb ip link set lo up
$bb ip addr add 10.0.2.15/24 dev eth0
$bb ip link set eth0 up
$bb ip route add default via 10.0.2.2
# httpd puts itself in the background once it listens.
$bb httpd -p 80 -h /www || echo "init: httpd failed"
echo "linux: ready"
while :; do $bb sleep 86400; done
"""

WRK_THREADS, WRK_CONNECTIONS = 1, 8
GOALS = {"rps": 3.0, "p99": 1 / 3, "boot": 4.5, "memory_mib": 4}


class Missing(Exception):
    """A tool, a package or a file the bench needs: one line, exit 2."""


def progress(text):
    """One status line, erased by the next (on a terminal only)."""
    if sys.stdout.isatty():
        print("\r%-76s\r%s" % ("", text[:76]), end="", flush=True)


def scaled(seconds):
    """A timeout, multiplied by FERN_TIMEOUT_SCALE as the harness does."""
    return seconds * timeout_scale()


def need_tool(name, package):
    if not shutil.which(name):
        raise Missing("%s not found (Debian package %s; 'make doctor' lists what "
                      "make bench-http needs)" % (name, package))


def run(argv, timeout, what):
    """Run a host command quietly; its output, or Missing with its last line."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=scaled(timeout),
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Missing("%s: '%s' took more than %.0f s" % (what, " ".join(argv),
                                                          scaled(timeout)))
    if p.returncode != 0:
        last = [l for l in (p.stderr + p.stdout).splitlines() if l.strip()][-1:] or [""]
        raise Missing("%s: '%s' failed: %s" % (what, " ".join(argv), last[0]))
    return p.stdout


# -- the Linux baseline: packages, modules, initramfs ----------------------

def deb_of(package):
    """The downloaded .deb of `package` in DEBS, or None."""
    for name in sorted(os.listdir(DEBS)) if os.path.isdir(DEBS) else []:
        if name.startswith(package + "_") and name.endswith(".deb"):
            return os.path.join(DEBS, name)
    return None


def download(package):
    """apt-get download `package` into DEBS, unless it is there already."""
    have = deb_of(package)
    if have:
        return have, False
    need_tool("apt-get", "apt")
    os.makedirs(DEBS, exist_ok=True)
    progress("  apt-get download %s" % package)
    try:
        p = subprocess.run(["apt-get", "download", package], cwd=DEBS, capture_output=True,
                           text=True, timeout=scaled(600), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Missing("apt-get download %s took more than %.0f s" % (package, scaled(600)))
    have = deb_of(package)
    if p.returncode != 0 or not have:
        errors = [l for l in p.stderr.splitlines() if l.startswith("E:")] or \
            [l for l in (p.stderr + p.stdout).splitlines() if l.strip()][-1:] or ["?"]
        raise Missing("apt-get download %s failed: %s (is the network or the apt cache "
                      "there? 'apt-get update' may help)" % (package, errors[0]))
    return have, True


def prepare(say_cached=True):
    """make bench-deps: download the kernel and busybox, unpack them into
    UNPACKED. Returns what the Linux guest boots, from the unpacked tree.
    When everything was there already it says so only if `say_cached`."""
    need_tool("dpkg-deb", "dpkg")
    fetched = []
    meta, new = download(KERNEL_META)
    fetched += [meta] if new else []
    # The metapackage's Depends names the real kernel package.
    depends = run(["dpkg-deb", "-f", meta, "Depends"], 60, "reading %s" % meta)
    kernel_pkg = re.match(r"\s*([a-z0-9.+-]+)", depends).group(1)
    debs = []
    for package in (kernel_pkg, BUSYBOX):
        path, new = download(package)
        debs.append(path)
        fetched += [path] if new else []
    progress("")

    # Unpack once; the stamp names the .debs it came from, so that a newer
    # kernel downloaded later is unpacked afresh.
    stamp = os.path.join(WORK, "unpacked.stamp")
    want = "\n".join(os.path.basename(d) for d in debs) + "\n"
    have = open(stamp).read() if os.path.exists(stamp) else ""
    unpacked = have != want
    if unpacked:
        shutil.rmtree(UNPACKED, ignore_errors=True)
        for deb in debs:
            run(["dpkg-deb", "-x", deb, UNPACKED], 300, "unpacking %s" % deb)
        with open(stamp, "w") as f:
            f.write(want)
    linux = find_linux()
    if not fetched and not unpacked and not say_cached:
        return linux
    if fetched:
        print("bench-deps: downloaded %s" % ", ".join(os.path.basename(f) for f in fetched))
    print("bench-deps: Linux %s and busybox in %s (%s)" % (
        linux["version"], UNPACKED, "unpacked now" if unpacked
        else "cached: nothing downloaded or unpacked"))
    return linux


def find_linux():
    """The unpacked kernel: its version, bzImage, config and module tree."""
    boot = os.path.join(UNPACKED, "boot")
    images = sorted(n for n in os.listdir(boot) if n.startswith("vmlinuz-")) \
        if os.path.isdir(boot) else []
    busybox = os.path.join(UNPACKED, "bin", "busybox")
    if not images or not os.path.exists(busybox):
        raise Missing("the Linux baseline is not unpacked in %s; run 'make bench-deps'"
                      % UNPACKED)
    version = images[-1][len("vmlinuz-"):]
    return {"version": version, "bzimage": os.path.join(boot, images[-1]),
            "config": os.path.join(boot, "config-" + version),
            "modules": os.path.join(UNPACKED, "lib", "modules", version),
            "busybox": busybox}


def elf_section(data, wanted):
    """The bytes of the section named `wanted` of a 64-bit little-endian
    ELF file (a kernel module), or None. The layout is the System V ABI's:
    the ELF header says where the section headers are and which of them
    holds the section names."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)

    def header(i):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    names = header(shstrndx)
    names = data[names[4]:names[4] + names[5]]
    for i in range(shnum):
        h = header(i)
        name = names[h[0]:names.index(b"\0", h[0])].decode()
        if name == wanted:
            return data[h[4]:h[4] + h[5]]
    return None


def read_module(path):
    """A module file's bytes; .ko.xz is decompressed here, so that
    busybox insmod gets a plain module whatever the kernel's
    CONFIG_MODULE_COMPRESS_* was."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif not path.endswith(".ko"):
        raise Missing("%s: a compressed module this script cannot unpack" % path)
    return data


def module_files(linux):
    """The modules to load, in an order where each comes after those it
    depends on: [(name, bytes)]. A module says what it depends on in its
    .modinfo section (`depends=a,b`), which is what depmod reads to make
    modules.dep; the kernel's modules.builtin lists what is built in."""
    tree = linux["modules"]
    builtin = set()
    with open(os.path.join(tree, "modules.builtin")) as f:
        for line in f:
            builtin.add(module_name(line.strip()))
    files = {}
    for top, _, names in os.walk(tree):
        for n in names:
            if re.search(r"\.ko(\.xz|\.zst|\.gz)?$", n):
                files[module_name(n)] = os.path.join(top, n)
    order, seen = [], set()

    def visit(name, why):
        if name in seen or name in builtin:
            return
        if name not in files:
            raise Missing("module %s (%s) is neither built into Linux %s nor in %s"
                          % (name, why, linux["version"], tree))
        seen.add(name)
        data = read_module(files[name])
        info = elf_section(data, ".modinfo") or b""
        for field in info.split(b"\0"):
            if field.startswith(b"depends="):
                for dep in filter(None, field[8:].decode().split(",")):
                    visit(module_name(dep), "needed by " + name)
        order.append((name, data))

    for name in WANTED_MODULES:
        visit(name, "wanted")
    return order


def module_name(path):
    """virtio-net.ko.xz, kernel/drivers/net/virtio_net.ko -> virtio_net."""
    base = os.path.basename(path)
    return base.split(".ko")[0].replace("-", "_")


def cpio_newc(entries):
    """An uncompressed cpio archive in the "newc" format the kernel reads
    as an initramfs (Linux, Documentation/driver-api/early-userspace/
    buffer-format.rst): per entry a 110-byte ASCII header of hex fields,
    the NUL-terminated name and the data, each padded to 4 bytes, then a
    last entry named TRAILER!!!. `entries` is [(name, mode, data, rdev)];
    writing the header ourselves lets the archive hold /dev/console
    without root."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", 0)], 1):
        name = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xff,
                  len(name), 0]
        out += b"070701" + b"".join(b"%08X" % v for v in fields)
        out += name
        pad()
        out += data
        pad()
    return bytes(out)


def build_initramfs(linux, page_path, page):
    """The Linux guest's initramfs (INITRD), unless the one there was made
    from the same busybox, modules, /init and page. Returns a summary."""
    modules = module_files(linux)
    with open(linux["busybox"], "rb") as f:
        busybox = f.read()
    init = INIT.format(modules=" ".join(name for name, _ in modules)).encode()
    key = hashlib.sha256()
    for part in [busybox, init, page_path.encode(), page] + [d for _, d in modules]:
        key.update(hashlib.sha256(part).digest())
    key = key.hexdigest()
    summary = {"modules": [name for name, _ in modules], "busybox_bytes": len(busybox),
               "modules_bytes": sum(len(d) for _, d in modules)}
    if os.path.exists(INITRD) and os.path.exists(INITRD_KEY) and \
            open(INITRD_KEY).read().strip() == key:
        summary["cached"] = True
        return summary
    DIR, FILE, EXEC, CHAR = 0o040755, 0o100644, 0o100755, 0o020600
    entries = [(d, DIR, b"", 0) for d in ("bin", "dev", "proc", "sys", "lib",
                                          "lib/modules", "www")]
    # Linux opens /dev/console for init's stdin and stdout before running
    # it; without the node init's messages go nowhere (major 5, minor 1).
    entries.append(("dev/console", CHAR, b"", (5 << 8) | 1))
    entries.append(("bin/busybox", EXEC, busybox, 0))
    entries.append(("init", EXEC, init, 0))
    entries += [("lib/modules/%s.ko" % n, FILE, d, 0) for n, d in modules]
    entries.append(("www/" + page_path.lstrip("/"), FILE, page, 0))
    archive = cpio_newc(entries)
    tmp = INITRD + ".tmp"
    with open(tmp, "wb") as f:
        # mtime=0: the same inputs give the same file.
        f.write(gzip.compress(archive, compresslevel=9, mtime=0))
    os.replace(tmp, INITRD)
    with open(INITRD_KEY, "w") as f:
        f.write(key + "\n")
    summary["cached"] = False
    return summary


# -- the page --------------------------------------------------------------

def site_page(path):
    """The bytes fern serves at `path`, read from the site image
    (include/fern/site.h: a header, 24-byte entries of offset and length
    for path, type and data)."""
    if not os.path.exists(SITE_IMAGE):
        raise Missing("%s not found; build chapter 8's served image (make iso)" % SITE_IMAGE)
    with open(SITE_IMAGE, "rb") as f:
        img = f.read()
    if img[:8] != b"FERNSITE":
        raise Missing("%s is not a site image" % SITE_IMAGE)
    count, = struct.unpack_from("<I", img, 12)
    for i in range(count):
        po, pl, _, _, do, dl = struct.unpack_from("<6I", img, 16 + 24 * i)
        if img[po:po + pl].decode() == path:
            return img[do:do + dl]
    raise Missing("the site image has no %s (tools/site.py --list shows its paths)" % path)


# -- running a guest -------------------------------------------------------

LIVE = set()    # every QEMU started and not yet reaped, killed at exit


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """One QEMU run of fern or Linux with port 80 at 127.0.0.1:port. Use it
    with `with`: QEMU runs in its own process group, which is killed on
    leaving, whatever happened."""

    def __init__(self, kind, memory, boot, cmdline=""):
        self.kind = kind
        self.port = free_tcp_port()
        # The flags both guests share; only the boot options differ.
        self.command = [qemu_binary()] + QEMU_FLAGS + [
            "-m", memory, "-serial", "stdio",
            "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:80" % self.port,
            "-device", "virtio-net-pci,netdev=net0"] + boot
        if cmdline:
            self.command += ["-fw_cfg", "name=%s,string=%s" % (FW_CFG_CMDLINE, cmdline)]
        self.output = bytearray()
        self.last_answer = None     # the last status line that was not 200
        self.cond = threading.Condition()
        self.proc = None

    def __enter__(self):
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        except FileNotFoundError:
            raise Missing("%s not found (Debian package qemu-system-x86)" % self.command[0])
        self.start = time.monotonic()
        LIVE.add(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def __exit__(self, *exc):
        kill(self.proc)
        return False

    def _read(self):
        """Keep COM1 (and QEMU's messages): for the report of a guest that
        did not serve, and so that a full pipe never stops the guest."""
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                if len(self.output) < 1 << 20:
                    self.output += chunk
                self.cond.notify_all()

    def lines(self):
        with self.cond:
            return self.output.decode("utf-8", "replace").replace("\r", "").split("\n")

    def last_line(self):
        lines = [l for l in self.lines() if l.strip()]
        return lines[-1][-120:] if lines else "(nothing on COM1)"

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except OSError:
            pass

    def wait_for(self, text, since, timeout):
        """Wait until `text` is on COM1 after byte `since`; True if it came."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while text.encode() not in self.output[since:]:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    def why_not(self):
        """One line: why the guest did not serve. Linux's panic message is
        more telling than the lines that follow it."""
        panic = [l for l in self.lines() if "Kernel panic" in l]
        line = panic[0].strip()[-120:] if panic else self.last_line()
        if self.proc.poll() is not None:
            return "QEMU ended (status %s); %s %r" % (
                self.proc.returncode, "COM1 said" if panic else "last line", line)
        if self.last_answer:
            return "answered %r, never 200; last line on COM1 %r" % (self.last_answer, line)
        return "no HTTP 200 in time; last line on COM1 %r" % line


def kill(proc):
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    LIVE.discard(proc)


def fern_boot(iso):
    return ["-boot", "d", "-cdrom", iso]


def linux_boot(linux):
    return ["-kernel", linux["bzimage"], "-initrd", INITRD, "-append", LINUX_APPEND]


# -- HTTP from the host ----------------------------------------------------

STATUS_200 = re.compile(rb"^HTTP/1\.[01] 200 ")


def first_200(guest, path, timeout):
    """Poll the guest until it answers GET `path` with 200; the monotonic
    time the status line arrived, or None.

    libslirp accepts the host's connection at once, before the guest has
    even seen a SYN, so a connection that opens proves nothing; only an
    answer read back counts. An attempt made too early waits on slirp's
    retransmissions, so a new one starts every 25 ms and each is given up
    after a second: the first answer is seen within about 25 ms."""
    request = ("GET %s HTTP/1.1\r\nHost: 10.0.2.15\r\nConnection: close\r\n\r\n"
               % path).encode()
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + timeout
    next_attempt = 0.0
    try:
        while time.monotonic() < deadline and guest.proc.poll() is None:
            now = time.monotonic()
            if now >= next_attempt and len(sel.get_map()) < 64:
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", guest.port))
                sel.register(s, selectors.EVENT_WRITE,
                             {"until": now + 1.0, "reply": b""})
                next_attempt = now + 0.025
            for key, events in sel.select(timeout=0.005):
                s, state = key.fileobj, key.data
                if events & selectors.EVENT_WRITE:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        sel.unregister(s)
                        s.close()
                        continue
                    try:
                        s.send(request)
                    except OSError:
                        sel.unregister(s)
                        s.close()
                        continue
                    sel.modify(s, selectors.EVENT_READ, state)
                    continue
                try:
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                if chunk:
                    state["reply"] += chunk
                    if len(state["reply"]) >= 13:
                        if STATUS_200.match(state["reply"]):
                            return time.monotonic()
                        # An answer, but not 200 (fern without its site
                        # answers 404): keep it for the report, try again.
                        guest.last_answer = state["reply"].split(b"\r\n")[0].decode(
                            "latin-1")[:60]
                        chunk = b""
                if not chunk:
                    sel.unregister(s)
                    s.close()
            for key in list(sel.get_map().values()):
                if key.data["until"] < time.monotonic():
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
        return None
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


def get(port, path, timeout):
    """One GET on a new connection: (status, body), or (None, why)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 10.0.2.15\r\nConnection: close\r\n\r\n"
                       % path).encode())
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError as e:
        return None, str(e)
    head, _, body = reply.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    if not m:
        return None, "not an HTTP answer: %r" % reply[:40]
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        body = body[:int(length.group(1))]
    return int(m.group(1)), body


def serves(guest, path, page, boot_timeout, requests=20):
    """Does the guest serve `page`: a first 200 within boot_timeout, then
    `requests` more GETs, each answered 200 with exactly the page's bytes?
    (True, seconds to the first 200) or (False, why not)."""
    t = first_200(guest, path, boot_timeout)
    if t is None:
        return False, guest.why_not()
    for i in range(requests):
        status, body = get(guest.port, path, scaled(10))
        if status != 200 or body != page:
            return False, "request %d after the first: %s" % (
                i + 2, body if status is None else "status %s, %d bytes" % (status, len(body)))
    return True, t - guest.start


# -- the figures -----------------------------------------------------------

WRK_TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def wrk_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text)
    return float(m.group(1)) * WRK_TIME[m.group(2)]


def parse_wrk(out):
    """The figures of wrk's report, or None if it is not one."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", out, re.M)
    if not rps or not done:
        return None
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", out, re.M))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     out)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                             map(int, sock.groups()))) if sock else {}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = int(bad.group(1)) if bad else 0
    return {"requests_per_s": float(rps.group(1)), "requests": int(done.group(1)),
            "seconds": wrk_ms(done.group(2)) / 1e3,
            "p50_ms": wrk_ms(latency["50"]) if "50" in latency else None,
            "p75_ms": wrk_ms(latency["75"]) if "75" in latency else None,
            "p90_ms": wrk_ms(latency["90"]) if "90" in latency else None,
            "p99_ms": wrk_ms(latency["99"]) if "99" in latency else None,
            "socket_errors": socket_errors, "non_2xx": non_2xx,
            "errors": non_2xx + sum(socket_errors.values())}


def run_wrk(port, path, duration, close=False):
    """wrk on the guest's page; its figures, or a dict with "error"."""
    argv = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNECTIONS, "-d%ds" % duration,
            "--latency"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    try:
        p = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=scaled(duration + 30))
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not end within %.0f s" % scaled(duration + 30)}
    figures = parse_wrk(p.stdout)
    if figures is None:
        return {"error": "wrk failed: %s" % ((p.stderr or p.stdout).strip()[-200:] or
                                             "status %d" % p.returncode)}
    figures["command"] = " ".join(argv)
    return figures


def throughput(kind, boot, cmdline, path, page, args):
    """Boot the guest, check it serves the same bytes, warm it up for a
    second, then wrk keep-alive and wrk with a new connection per request.
    fern is booted with its shell, so its counters can be read after."""
    result = {}
    with Guest(kind, args.memory, boot, cmdline) as g:
        ok, why = serves(g, path, page, scaled(args.boot_timeout))
        if not ok:
            return {"error": why}
        run_wrk(g.port, path, 1)
        for mode, close in (("keep_alive", False), ("close", True)):
            progress("  wrk %ds on %s (%s)" % (args.duration, kind, mode.replace("_", "-")))
            result[mode] = run_wrk(g.port, path, args.duration, close)
            result[mode]["load_average"] = bench.load_average()
            if kind == "fern":
                # Cumulative since boot: the warm-up, then each mode.
                result[mode]["fern_counters"] = fern_counters(g)
    progress("")
    return result


def fern_counters(guest):
    """What fern's shell says after a run: `httpstat` and `netstat`,
    each command's output up to the prompt that follows it."""
    text = {}
    for command in ("httpstat", "netstat"):
        with guest.cond:
            since = len(guest.output)
        guest.send(command + "\r")
        guest.wait_for("\nfern> ", since, scaled(5))
        with guest.cond:
            out = guest.output[since:].decode("utf-8", "replace").replace("\r", "")
        text[command] = [l for l in out.split("\n")
                         if l.strip() not in ("", command) and not l.startswith("fern>")]
    return text


def measure_boots(kinds, runs, path, page, args, floor):
    """--runs rounds, each booting the floor, fern and Linux one after the
    other, after one warm-up round that is not counted."""
    boots = {k: {"seconds": [], "failures": [], "by_round": {}} for k in kinds}
    floor_times = {}
    for r in range(-1, runs):
        if floor:
            progress("  round %d/%d: GRUB floor" % (r + 1, runs))
            t = bench.Target("floor", "floor", bench.FLOOR_ISO, bench.FLOOR_ELF,
                             bench.FLOOR_READY)
            took = bench.boot_once(t, 10)     # Machine scales it
            if took is not None and r >= 0:
                floor_times[r] = took
        for kind, boot in kinds.items():
            progress("  round %d/%d: %s" % (r + 1, runs, kind))
            with Guest(kind, args.memory, boot) as g:
                ok, info = serves(g, path, page, scaled(args.boot_timeout), requests=0)
            if r < 0:
                continue
            if ok:
                boots[kind]["seconds"].append(info)
                boots[kind]["by_round"][r] = info
            else:
                boots[kind]["failures"].append(info)
    progress("")
    return boots, floor_times


def smallest_memory(kind, boot, path, page, timeout, high):
    """The smallest -m in MiB at which the guest serves, by bisection
    between 0 (no machine) and `high` (known to serve). Each probe boots
    and must serve 20 requests within `timeout`; a guest that serves at N
    MiB is taken to serve with more."""
    low, probes, reason = 0, [], None
    with Guest(kind, "%dM" % high, boot) as g:
        ok, why = serves(g, path, page, timeout)
    probes.append({"mib": high, "serves": ok, "why": None if ok else why})
    if not ok:
        return {"error": "does not serve at %d MiB: %s" % (high, why), "probes": probes}
    while high - low > 1:
        mid = (low + high) // 2
        progress("  memory: %s at %d MiB (%d..%d)" % (kind, mid, low, high))
        with Guest(kind, "%dM" % mid, boot) as g:
            ok, why = serves(g, path, page, timeout)
        probes.append({"mib": mid, "serves": ok, "why": None if ok else why})
        if ok:
            high = mid
        else:
            low, reason = mid, why
    progress("")
    return {"mib": high, "fails_at_mib": low or None, "fails_because": reason,
            "probes": probes}


def sizes(linux, initramfs):
    fern = bench.measure_size(FERN_ISO, FERN_ELF)
    # The kernel file GRUB loads: the ISO's copy, without debug
    # information (the Makefile's make-iso).
    with tempfile.TemporaryDirectory(prefix="fern-bench-http-") as tmp:
        on_iso = os.path.join(tmp, "fern.elf")
        p = subprocess.run([bench.tool("strip"), "--strip-debug", "-o", on_iso, FERN_ELF],
                           capture_output=True)
        if p.returncode == 0:
            fern["on_iso_bytes"] = os.path.getsize(on_iso)
    fern["site_bytes"] = os.path.getsize(SITE_IMAGE)
    fern["boot_bytes"] = fern.get("on_iso_bytes", 0) + fern["site_bytes"]
    bz, rd = os.path.getsize(linux["bzimage"]), os.path.getsize(INITRD)
    with gzip.open(INITRD) as f:
        cpio_bytes = len(f.read())
    return {"fern": fern,
            "linux": {"bzimage_bytes": bz, "initrd_bytes": rd, "initrd_cpio_bytes": cpio_bytes,
                      "busybox_bytes": initramfs["busybox_bytes"],
                      "modules_bytes": initramfs["modules_bytes"],
                      "boot_bytes": bz + rd}}


# -- the report ------------------------------------------------------------

def boot_summary(b, floor_times):
    if not b["seconds"]:
        return None
    s = {"runs": len(b["seconds"]), "median_s": round(statistics.median(b["seconds"]), 3),
         "min_s": round(min(b["seconds"]), 3), "max_s": round(max(b["seconds"]), 3),
         "all_s": [round(x, 3) for x in b["seconds"]], "failures": b["failures"]}
    pairs = [b["by_round"][r] / floor_times[r] for r in b["by_round"] if r in floor_times]
    if pairs:
        s["ratio_to_floor"] = round(statistics.median(pairs), 2)
    return s


def ratio(a, b):
    return a / b if a and b else None


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def mib(n):
    return "-" if n is None else ("%.1f MiB" % (n / 1048576) if n >= 1048576
                                  else "%.0f KiB" % (n / 1024))


def print_table(result):
    env, f, l = result["environment"], result["fern"], result["linux"]
    print("bench-http, %s: fern against Linux %s + busybox httpd, %s, TCG, -m %s;"
          % (env["date"], result["linux_version"], env["qemu"].split("(")[0].strip(),
             result["memory"]))
    print("%d x %s; page %s (%d bytes); %d boot rounds; wrk -t%d -c%d -d%ds"
          % (env["machine"]["cores"], env["machine"]["cpu"], result["page"],
             result["page_bytes"], result["runs"], WRK_THREADS, WRK_CONNECTIONS,
             result["duration"]))
    print("load average %s at the start, %s at the end" % (env["load_average"],
                                                         env["load_average_end"]))
    print()
    rows = []

    def row(label, fv, lv, spec, r=None, goal=""):
        rows.append((label, fmt(fv, spec), fmt(lv, spec),
                     "-" if r is None else "%.2fx" % r, goal))

    fb, lb = f.get("boot") or {}, l.get("boot") or {}
    row("boot to first 200, median s", fb.get("median_s"), lb.get("median_s"), "%.3f",
        ratio(lb.get("median_s"), fb.get("median_s")), "fern >= 4.5x faster")
    row("  min s", fb.get("min_s"), lb.get("min_s"), "%.3f",
        ratio(lb.get("min_s"), fb.get("min_s")))
    row("  / GRUB floor (%.3f s)" % result["floor_median_s"] if result.get("floor_median_s")
        else "  / GRUB floor", fb.get("ratio_to_floor"), lb.get("ratio_to_floor"), "%.2f")
    for mode, label in (("keep_alive", "keep-alive"), ("close", "new connection each")):
        fw, lw = f.get("wrk", {}).get(mode, {}), l.get("wrk", {}).get(mode, {})
        row("requests/s, %s" % label, fw.get("requests_per_s"), lw.get("requests_per_s"),
            "%.0f", ratio(fw.get("requests_per_s"), lw.get("requests_per_s")),
            "fern >= 3x" if mode == "keep_alive" else "")
        row("  p50 ms", fw.get("p50_ms"), lw.get("p50_ms"), "%.2f",
            ratio(fw.get("p50_ms"), lw.get("p50_ms")))
        row("  p99 ms", fw.get("p99_ms"), lw.get("p99_ms"), "%.2f",
            ratio(fw.get("p99_ms"), lw.get("p99_ms")),
            "fern <= 0.33x" if mode == "keep_alive" else "")
        row("  errors", fw.get("errors"), lw.get("errors"), "%d")
    fm, lm = f.get("memory") or {}, l.get("memory") or {}
    row("smallest -m that serves, MiB", fm.get("mib"), lm.get("mib"), "%d",
        ratio(fm.get("mib"), lm.get("mib")), "fern <= 4 MiB")
    fs, ls = result["size"]["fern"], result["size"]["linux"]
    rows.append(("kernel file", mib(fs.get("on_iso_bytes")), mib(ls["bzimage_bytes"]),
                 "%.3fx" % ratio(fs.get("on_iso_bytes"), ls["bzimage_bytes"]), ""))
    rows.append(("  fern's kernel stripped (budget)", mib(fs.get("stripped_bytes")), "-", "-", ""))
    rows.append(("content: site module / initramfs", mib(fs["site_bytes"]),
                 mib(ls["initrd_bytes"]), "%.2fx" % ratio(fs["site_bytes"],
                                                         ls["initrd_bytes"]), ""))
    rows.append(("bootable image, total", mib(fs["boot_bytes"]), mib(ls["boot_bytes"]),
                 "%.3fx" % ratio(fs["boot_bytes"], ls["boot_bytes"]), ""))
    rows.append(("  fern's ISO (GRUB, kernel, site)", mib(fs.get("iso_bytes")), "-", "-", ""))
    print("  %-34s %12s %12s %10s   %s" % ("figure", "fern", "linux", "fern/linux", "goal"))
    for r in rows:
        print("  %-34s %12s %12s %10s   %s" % r)
    print()
    print("  boot: QEMU's launch to the first 200 on the forwarded port; / GRUB floor: median\n"
          "  over rounds of (boot / a Multiboot2 stub's boot to its line on COM1, same round).\n"
          "  Ratios are fern/linux: above 1 is fern's advantage for requests/s, below 1 for\n"
          "  seconds, ms, MiB and bytes; for boot the ratio is linux/fern (times faster).\n"
          "  busybox httpd closes every connection, so 'keep-alive' is only fern's;\n"
          "  'new connection each' (wrk -H 'Connection: close') is the same job on both.")
    for kind in ("fern", "linux"):
        g = result[kind]
        for why in (g.get("boot") or {}).get("failures", []):
            print("  %s: a boot did not serve: %s" % (kind, why))
        for mode in ("keep_alive", "close"):
            if "error" in g.get("wrk", {}).get(mode, {}):
                print("  %s: wrk %s: %s" % (kind, mode, g["wrk"][mode]["error"]))
        if "error" in g.get("wrk", {}):
            print("  %s: throughput not measured: %s" % (kind, g["wrk"]["error"]))
        m = g.get("memory") or {}
        if "error" in m:
            print("  %s: memory not measured: %s" % (kind, m["error"]))
        elif m.get("fails_because"):
            print("  %s at %d MiB: %s" % (kind, m["fails_at_mib"], m["fails_because"]))
    for mode, label in (("keep_alive", "keep-alive"), ("close", "new connection each")):
        counters = result["fern"].get("wrk", {}).get(mode, {}).get("fern_counters")
        if not counters:
            continue
        print()
        print("fern's counters after the %s run, since boot (shell: httpstat, netstat):"
              % label)
        for command, lines in counters.items():
            # netstat lists every counter and drop reason; the TCP and HTTP
            # lines and the drops that happened say enough (the JSON keeps
            # them all).
            for line in lines:
                if line.startswith(("http", "tcp")) or \
                        re.match(r"drop \S+ [1-9]", line):
                    print("  " + line)


# -- main ------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="fern against a Linux guest serving the same "
                                 "page (docs/performance.md, bench-http)")
    ap.add_argument("--prepare", action="store_true",
                    help="only download and unpack the Linux baseline (make bench-deps)")
    ap.add_argument("--runs", type=int, default=3, help="boot rounds (default 3)")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds of each wrk run (default 10)")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the search for the smallest -m")
    ap.add_argument("--memory", default=DEFAULT_MEMORY,
                    help="-m for the boot and wrk runs, both guests (default %s)"
                    % DEFAULT_MEMORY)
    ap.add_argument("--page", default="/index.html", help="the page (default /index.html)")
    ap.add_argument("--boot-timeout", type=float, default=60,
                    help="seconds a guest may take to serve (x FERN_TIMEOUT_SCALE)")
    ap.add_argument("--json", default=os.path.join("build", "bench-http.json"),
                    help="where to write every figure (default build/bench-http.json)")
    args = ap.parse_args()
    if args.runs < 1 or args.duration < 1:
        raise Missing("--runs and --duration must be at least 1")
    os.chdir(ROOT)
    timeout_scale()     # refuse a bad FERN_TIMEOUT_SCALE before anything starts

    # make bench-http ran bench-deps just before: say only what changed.
    linux = prepare(say_cached=args.prepare)
    if args.prepare:
        return 0
    need_tool("wrk", "wrk")
    need_tool(qemu_binary(), "qemu-system-x86")
    for path in (FERN_ISO, FERN_ELF):
        if not os.path.exists(path):
            raise Missing("%s not found; build chapter 8's served image (make iso)" % path)
    page = site_page(args.page)
    initramfs = build_initramfs(linux, args.page, page)
    print("bench-http: initramfs %s (%s; modules: %s)" % (
        INITRD, "cached" if initramfs["cached"] else "built now",
        " ".join(initramfs["modules"]) or "none"))

    env = bench.environment()
    start = time.monotonic()
    kinds = {"fern": fern_boot(FERN_ISO), "linux": linux_boot(linux)}
    floor = os.path.exists(bench.FLOOR_ISO)
    if not floor:
        print("note: %s is not built; the GRUB floor is left out" % bench.FLOOR_ISO)
    print("bench-http: %d boot rounds, then wrk, then the memory search..." % args.runs,
          flush=True)
    boots, floor_times = measure_boots(kinds, args.runs, args.page, page, args, floor)

    result = {"environment": env, "runs": args.runs, "duration": args.duration,
              "memory": args.memory, "page": args.page, "page_bytes": len(page),
              "linux_version": linux["version"], "linux_append": LINUX_APPEND,
              "initramfs_modules": initramfs["modules"], "goals": GOALS,
              "floor_all_s": [round(floor_times[r], 3) for r in sorted(floor_times)],
              "floor_median_s": round(statistics.median(floor_times.values()), 3)
              if floor_times else None}
    for kind in kinds:
        result[kind] = {"boot": boot_summary(boots[kind], floor_times),
                        "command": Guest(kind, args.memory, kinds[kind]).command}
        if not result[kind]["boot"]:
            result[kind]["boot"] = {"failures": boots[kind]["failures"]}
    for kind, boot in kinds.items():
        result[kind]["wrk"] = throughput(kind, boot, "shell" if kind == "fern" else "",
                                         args.page, page, args)
    if not args.no_memory:
        for kind, boot in kinds.items():
            median = (result[kind]["boot"] or {}).get("median_s")
            # Each probe may take three times a normal boot: a guest
            # short of memory may be slower, and a failing one may hang.
            timeout = max(3 * median, scaled(15)) if median else scaled(args.boot_timeout)
            high = int(re.match(r"(\d+)", args.memory).group(1))
            result[kind]["memory"] = smallest_memory(kind, boot, args.page, page, timeout,
                                                     high)
            result[kind]["memory"]["probe_timeout_s"] = round(timeout, 1)
    result["size"] = sizes(linux, initramfs)
    env["load_average_end"] = bench.load_average()
    result["seconds"] = round(time.monotonic() - start, 1)

    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(result)
    print()
    print("bench-http took %.0f s; every figure is in %s" % (result["seconds"], args.json))
    measured = all(result[k]["boot"].get("median_s") and "error" not in result[k]["wrk"]
                   for k in kinds)
    return 0 if measured else 1


def end_on_signal(signum, frame):
    """SIGTERM and SIGHUP end the bench as Ctrl-C does: through the
    `finally` that kills every QEMU."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt even when a shell started us in the
    # background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, end_on_signal)
    signal.signal(signal.SIGHUP, end_on_signal)
    status = 1
    try:
        status = main()
    except KeyboardInterrupt:
        print("\ninterrupted")
        status = 130
    except (Missing, HarnessError) as e:
        print("\nbench-http: error: %s" % e if sys.stdout.isatty() else
              "bench-http: error: %s" % e, file=sys.stderr)
        status = 2
    finally:
        for proc in list(LIVE):
            kill(proc)
    sys.exit(status)
