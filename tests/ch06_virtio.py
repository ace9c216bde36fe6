"""Chapter 6 (virtio): PCI enumeration, memory for devices, the virtio PCI
transport in its legacy and modern forms, split virtqueues, virtio-rng
and virtio-blk.

Points here are lab 6's grade. Most checks come from outside the kernel:
QEMU's own view of the machine (QMP `query-pci`, `x-query-virtio-status`)
is compared with what the kernel printed; the disk is a raw image file
the harness writes before the boot (a line with this run's nonce) and
reads after QEMU has exited (the kernel's copy of it, flushed). The
virtqueue's pure logic is also tested on the host (tests/host/test_virtq.c,
in `make check`).
"""

import os
import re
import shutil
import tempfile
import time

from fernlab import Boot, EXIT_SUCCESS, test
from fernlab.ktap import check_suites

SECTOR = 512
SHELL_PROMPT = "fern> "
RNG = ["-device", "virtio-rng-pci,id=rng0"]


class Disk:
    """A raw disk image in a temporary folder: sector 1 holds a line with
    the nonce, for the kernel to read and copy into sector 2."""

    def __init__(self, sectors=2048, line=None):
        self.dir = tempfile.mkdtemp(prefix="fern-disk-")
        self.path = os.path.join(self.dir, "disk.img")
        self.line = line or "fern-disk-%s" % os.urandom(6).hex()
        with open(self.path, "wb") as f:
            f.truncate(sectors * SECTOR)
            if sectors > 1:
                f.seek(SECTOR)
                f.write(self.line.encode())

    def sector(self, n):
        with open(self.path, "rb") as f:
            f.seek(n * SECTOR)
            return f.read(SECTOR)

    def args(self, device_opts="", drive_opts=""):
        return ["-drive", "file=%s,if=none,id=disk0,format=raw%s" % (self.path, drive_opts),
                "-device", "virtio-blk-pci,drive=disk0,id=blk0%s" % device_opts]

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def io_boot(t, machine=(), device_opts=""):
    """Boot test=dma,virtio with virtio-rng and virtio-blk attached, both
    with `device_opts` (e.g. ",disable-modern=on"); check the KTAP
    suites, the sector the kernel read and the one it wrote. Returns the
    Run."""
    disk = Disk()
    try:
        r = t.boot(Boot(cmdline="test=dma,virtio", timeout=20,
                        extra=list(machine) + ["-device", "virtio-rng-pci,id=rng0" + device_opts]
                        + disk.args(device_opts)))
        check_suites(t, r, ["dma:", "virtio:"])
        r.expect(r'^virtio: blk sector 1 reads "%s" \[{nonce}\]$' % re.escape(disk.line),
                 "the kernel read the line the harness wrote into sector 1")
        got = disk.sector(2).rstrip(b"\0")
        t.check(got == b"copied: " + disk.line.encode(),
                "sector 2 of the image holds the kernel's copy after QEMU exited (got %r)"
                % got[:60])
        r.expect_exit(EXIT_SUCCESS)
        return r
    finally:
        disk.remove()


def transport_of(r, kind):
    """Check that both devices used the `kind` transport."""
    for dev in ("virtio-rng", "virtio-blk"):
        r.expect(r"^virtio: %s \S+: %s transport, features 0x[0-9a-f]+ " % (dev, kind),
                 "%s negotiated through the %s transport" % (dev, kind))


@test("virtio: transitional devices (-M pc default) negotiate and do I/O", points=10)
def transitional(t):
    r = io_boot(t)
    transport_of(r, "modern")


@test("virtio: legacy-only devices (disable-modern=on) negotiate and do I/O", points=10)
def legacy(t):
    r = io_boot(t, device_opts=",disable-modern=on")
    transport_of(r, "legacy")


@test("virtio: modern-only devices (disable-legacy=on) negotiate and do I/O", points=10)
def modern(t):
    r = io_boot(t, device_opts=",disable-legacy=on")
    transport_of(r, "modern")
    r.expect(r"^pci: \S+ 1af4:1044 class ", "the modern-only rng has device id 1044")


@test("virtio: on -M q35 the devices are found and do I/O", points=5)
def q35(t):
    r = io_boot(t, machine=["-M", "q35"])
    r.expect(r"^pci: 00:00\.0 8086:29c0 class 06\.00", "the kernel found Q35's host bridge")


@test("virtio: both devices complete by interrupt, sharing one line (slots 5 and 6)",
      points=10)
def shared_line(t):
    # Under -M pc the firmware (SeaBIOS) routes INTA# of slots 5 and 6 to
    # IRQ 10, and of slots 3 and 4 to 11. The kernel reports which line
    # each device got; they must be one, and both must have interrupted.
    disk = Disk()
    try:
        r = t.boot(Boot(cmdline="test=virtio", timeout=20, extra=[
            "-device", "virtio-rng-pci,id=rng0,addr=5", "-device",
            "virtio-blk-pci,drive=disk0,id=blk0,addr=6",
            "-drive", "file=%s,if=none,id=disk0,format=raw" % disk.path]))
    finally:
        disk.remove()
    check_suites(t, r, ["virtio:"])
    irqs = {}
    for m in r.find(r"^virtio: (virtio-\w+) \S+: irq (\d+), (\d+) interrupts \[{nonce}\]$"):
        irqs[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    t.check(set(irqs) == {"virtio-rng", "virtio-blk"},
            "both devices report their interrupt line (got %r)" % sorted(irqs))
    if len(irqs) == 2:
        (l1, n1), (l2, n2) = irqs["virtio-rng"], irqs["virtio-blk"]
        t.check(l1 == l2, "the two devices share one line (IRQ %d and %d)" % (l1, l2))
        t.check(n1 > 0 and n2 > 0, "each device's completions came by its interrupt "
                "(%d and %d interrupts)" % (n1, n2))


FEATURE_NAMES = {
    5: "VIRTIO_BLK_F_RO", 9: "VIRTIO_BLK_F_FLUSH", 28: "VIRTIO_RING_F_INDIRECT_DESC",
    29: "VIRTIO_RING_F_EVENT_IDX", 32: "VIRTIO_F_VERSION_1",
}


def qmp_names(features):
    return {s.split(":")[0] for part in ("dev-features", "transports")
            for s in features.get(part, [])}


@test("virtio: QEMU's view (x-query-virtio-status) matches the features and status the kernel "
      "printed", points=10)
def negotiated(t):
    disk = Disk()
    try:
        with t.machine(cmdline="", timeout=20, monitor=True,
                       extra=RNG + disk.args()) as m:
            if not m.wait(r"^fern: ready$"):
                t.fail("no 'fern: ready': %s" % m.outcome())
            status = {}
            for dev, path in (("virtio-rng", "/machine/peripheral/rng0/virtio-backend"),
                              ("virtio-blk", "/machine/peripheral/blk0/virtio-backend")):
                status[dev] = m.qmp("x-query-virtio-status", path=path)
            lines = m.lines()
    finally:
        disk.remove()
    for dev, st in status.items():
        said = [re.match(r"^virtio: %s \S+: \w+ transport, features 0x([0-9a-f]+) " % dev, l)
                for l in lines]
        said = [s for s in said if s]
        if not t.check(bool(said), "the kernel printed the features it accepted for " + dev):
            continue
        bits = int(said[0].group(1), 16)
        names = {FEATURE_NAMES.get(b, "bit %d" % b) for b in range(64) if bits >> b & 1}
        got = qmp_names(st["guest-features"])
        if st["guest-features"].get("unknown-dev-features"):
            got.add("unknown 0x%x" % st["guest-features"]["unknown-dev-features"])
        t.check(names == got, "%s: QEMU holds the features the kernel printed (%s; QEMU: %s)"
                % (dev, sorted(names), sorted(got)))
        statuses = {s.split(":")[0] for s in st["status"]["statuses"]}
        t.check("VIRTIO_CONFIG_S_DRIVER_OK" in statuses and
                "VIRTIO_CONFIG_S_FAILED" not in statuses,
                "%s: QEMU's status byte has DRIVER_OK and not FAILED (%s)" % (dev, sorted(statuses)))
        t.check("VIRTIO_CONFIG_S_FEATURES_OK" in statuses,
                "%s: a modern device went through FEATURES_OK" % dev)


def qmp_functions(buses):
    """(bus, slot, function, vendor, device, class) of every function
    query-pci lists, behind bridges too."""
    out = []

    def walk(bus, devices):
        for d in devices:
            out.append((bus, d["slot"], d["function"], d["id"]["vendor"], d["id"]["device"],
                        d["class_info"]["class"]))
            br = d.get("pci_bridge")
            if br:
                walk(br["bus"]["secondary"], br.get("devices", []))
    for b in buses:
        walk(b["bus"], b["devices"])
    return out


@test("pci: every function QEMU has (query-pci), behind a PCI-to-PCI bridge too, is listed "
      "with its ids and class", points=10)
def enumeration(t):
    extra = ["-device", "pci-bridge,id=br1,chassis_nr=1",
             "-device", "virtio-rng-pci,bus=br1,addr=3", "-device", "virtio-rng-pci"]
    with t.machine(cmdline="", timeout=20, monitor=True, extra=extra) as m:
        if not m.wait(r"^fern: ready$"):
            t.fail("no 'fern: ready': %s" % m.outcome())
        want = qmp_functions(m.qmp("query-pci"))
        lines = m.lines()
    listed = set()
    for l in lines:
        g = re.match(r"^pci: ([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) ([0-9a-f]{4}):([0-9a-f]{4}) "
                     r"class ([0-9a-f]{2})\.([0-9a-f]{2})", l)
        if g:
            listed.add((int(g.group(1), 16), int(g.group(2), 16), int(g.group(3)),
                        int(g.group(4), 16), int(g.group(5), 16),
                        int(g.group(6), 16) << 8 | int(g.group(7), 16)))
    t.check(any(f[0] > 0 for f in want), "QEMU put a function behind the bridge (bus > 0)")
    for f in want:
        t.check(f in listed, "the kernel lists %02x:%02x.%x %04x:%04x class %04x"
                % (f[0], f[1], f[2], f[3], f[4], f[5]))
    extra_lines = listed - set(want)
    t.check(not extra_lines, "the kernel lists no function QEMU does not have (%s)"
            % sorted(extra_lines)[:3])
    if t.check(any(re.match(r"^pci: %d functions$" % len(want), l) for l in lines),
               "the kernel counts %d functions" % len(want)):
        pass


@test("rng: bytes differ between two boots and between two reads", points=5)
def rng_random(t):
    seen = []
    for _ in range(2):
        with t.machine(cmdline="shell", timeout=15, extra=RNG) as m:
            if not m.wait(r"^fern> "):
                t.fail("no 'fern> ' prompt: %s" % m.outcome())
            m.send("rng 32\r")
            a = m.wait(r"^rng: 32 bytes from virtio-rng: ([0-9a-f]{64})$", timeout=5)
            m.send("rng 32\r")
            b = m.wait(r"^rng: 32 bytes from virtio-rng: (?!%s)([0-9a-f]{64})$"
                       % (a.group(1) if a else "x"), timeout=5)
            m.send("exit\r")
            m.wait_exit()
        if not (a and b):
            t.fail("'rng 32' did not print 32 bytes from virtio-rng twice, differently")
        seen += [a.group(1), b.group(1)]
    t.check(len(set(seen)) == 4, "four reads over two boots, all different")
    data = bytes.fromhex("".join(seen))
    t.check(len(set(data)) > 32, "the 128 bytes take more than 32 values (%d)" % len(set(data)))


def shell(t, extra, commands, timeout=15):
    """Boot with the shell, type each command, and return the lines."""
    with t.machine(cmdline="shell", timeout=timeout, extra=extra) as m:
        if not m.wait(r"^fern> "):
            t.fail("no 'fern> ' prompt: %s" % m.outcome())
        for i, c in enumerate(commands):
            m.send(c + "\r")
            # The next prompt says the command finished.
            deadline = time.monotonic() + 5
            while m.text().count(SHELL_PROMPT) < i + 2 and time.monotonic() < deadline \
                    and m.proc.poll() is None:
                time.sleep(0.02)
        m.send("exit\r")
        m.wait_exit()
        return m.lines()


@test("blk: the shell reads, writes and flushes sectors; the image file agrees", points=10)
def blk_shell(t):
    disk = Disk()
    try:
        text = "written-by-fern-%s" % os.urandom(4).hex()
        lines = shell(t, disk.args(), ["blk info", "blk read 1", "blk write 7 %s" % text,
                                       "blk flush"])
        t.check(any(re.match(r"^blk: virtio-blk \S+: 2048 sectors of 512 bytes \(1024 KiB\), "
                             r"read-write", l) for l in lines),
                "'blk info' says 2048 sectors, read-write")
        want = disk.line.encode()[:16]
        dump = "".join(" %02x" % b for b in want)
        t.check(any(l.startswith("000:" + dump) for l in lines),
                "'blk read 1' dumps the bytes the harness wrote (%s...)" % dump[:24])
        t.check(any(re.match(r"^blk: wrote %d bytes of text to sector 7$" % len(text), l)
                    for l in lines), "'blk write 7 TEXT' says it wrote")
        t.check("blk: flushed" in lines, "'blk flush' says flushed")
        got = disk.sector(7)
        t.check(got == text.encode() + bytes(SECTOR - len(text)),
                "sector 7 of the image holds TEXT then zeros (%r)" % got[:40])
    finally:
        disk.remove()


@test("blk: a read-only disk refuses writes with a clear error and nothing is written", points=5)
def blk_read_only(t):
    disk = Disk()
    try:
        before = disk.sector(7)
        lines = shell(t, disk.args(drive_opts=",readonly=on"), ["blk info", "blk write 7 nope"])
        t.check(any(re.match(r"^blk: .*read-only", l) for l in lines), "'blk info' says read-only")
        t.check("blk: error: the disk is read-only" in lines,
                "'blk write' on it says 'blk: error: the disk is read-only'")
        t.check(disk.sector(7) == before, "sector 7 of the image is unchanged")
    finally:
        disk.remove()


@test("blk: a 1-sector disk and a 4 GiB sparse disk report their capacity", points=5)
def blk_capacity(t):
    for sectors in (1, 8 * 1024 * 1024):
        disk = Disk(sectors=sectors)
        try:
            lines = shell(t, disk.args(), ["blk info", "blk read %d" % sectors,
                                           "blk read %d" % (sectors - 1)])
        finally:
            disk.remove()
        t.check(any(re.match(r"^blk: virtio-blk \S+: %d sectors " % sectors, l) for l in lines),
                "a %d-sector disk reports %d sectors" % (sectors, sectors))
        t.check("blk: error: sector past the end of the disk" in lines,
                "reading sector %d of it is an error" % sectors)
        t.check("blk: sector %d:" % (sectors - 1) in lines,
                "its last sector, %d, reads" % (sectors - 1))


@test("virtio: 70000 requests go through the wrap of the 16-bit ring indices", points=10)
def wrap(t):
    r = t.boot(Boot(cmdline="test=virtq-wrap", timeout=30, extra=RNG))
    check_suites(t, r, ["virtq-wrap:"])
    r.expect(r"^virtq-wrap: 70000 requests, 0 failed \[{nonce}\]$")
    r.expect_exit(EXIT_SUCCESS)


@test("virtio: without devices the boot says so and reaches 'fern: ready'", points=0)
def no_devices(t):
    r = t.boot(Boot(cmdline="exit=ready"))
    r.expect(r"^blk: no virtio-blk disk$")
    r.expect(r"^rng: source (rdrand|tsc) ", "rng names its fallback source")
    r.forbid(r"^virtio: ", "no virtio device was probed")
    r.expect(r"^fern: ready$")
    r.expect_exit(EXIT_SUCCESS)
