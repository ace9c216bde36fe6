"""Chapter 1 (boot): GRUB hands over, fern reaches 64-bit C, reads the
Multiboot2 information and says it is ready.

Points here are lab 1's grade. Nothing in these tests can be satisfied by
printing fixed text: the command line carries a nonce chosen per boot, and
the memory total must follow QEMU's -m across two boots.
"""

import os
import re
import time

from fernlab import Boot, EXIT_SUCCESS, test
from fernlab.screen import read_screen

READY = Boot(cmdline="exit=ready")
SMALL = Boot(cmdline="exit=ready", memory="64M")
LARGE = Boot(cmdline="exit=ready", memory="256M")
NO_LONG_MODE = Boot(extra=["-cpu", "qemu32"], until=r"^fern: boot error", timeout=10)

GREETING = r"^fern: hello from 64-bit long mode \(chapter \d+\)$"
MMAP = re.compile(r"^mmap: base 0x([0-9a-f]{16}) length 0x([0-9a-f]{16}) "
                  r"type (\d+) \(([^)]+)\)$")
MEMORY = r"^memory: (\d+) KiB usable$"
TYPE_NAMES = {1: "available", 2: "reserved", 3: "ACPI reclaimable",
              4: "ACPI NVS", 5: "bad RAM"}


def grub_cmdline():
    """The options in the GRUB menu entry, as the ISO was built with them."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "src", "boot", "grub.cfg")) as f:
        m = re.search(r"^\s*multiboot2\s+\S+\s*(.*)$", f.read(), re.M)
    return m.group(1).strip() if m else ""


def usable_kib(t, spec):
    r = t.boot(spec)
    m = r.expect(MEMORY)
    return int(m.group(1)) if m else None


@test("boot: greets from 64-bit long mode on COM1", points=10)
def greeting(t):
    t.boot(READY).expect(GREETING)


@test("boot: names the boot loader", points=5)
def loader_name(t):
    t.boot(READY).expect(r'^boot: loader "GRUB [^"]+"$')


@test("boot: prints GRUB's command line", points=10)
def grub_command_line(t):
    t.boot(READY).expect(r'^boot: cmdline "%s"$' % re.escape(grub_cmdline()))


@test("boot: reads the harness's options through fw_cfg", points=5)
def fw_cfg_options(t):
    t.boot(READY).expect(r'^boot: fw_cfg options ".*\bnonce={nonce}\b.*"$')


@test("boot: the memory map is well-formed and adds up to the total", points=15)
def memory_map(t):
    r = t.boot(READY)
    regions = []
    for line in r.lines:
        m = MMAP.match(line)
        if m:
            regions.append((int(m.group(1), 16), int(m.group(2), 16),
                            int(m.group(3)), m.group(4)))
    total = r.expect(MEMORY)
    t.check(len(regions) >= 2, "at least two memory map regions (got %d)" % len(regions))
    for base, length, kind, name in regions:
        want = TYPE_NAMES.get(kind, "reserved")
        t.check(name == want, "region at 0x%x: type %d is named %r, not %r"
                % (base, kind, want, name))
    ordered = sorted(regions)
    for (b1, l1, _, _), (b2, _, _, _) in zip(ordered, ordered[1:]):
        t.check(b1 + l1 <= b2, "regions at 0x%x and 0x%x overlap" % (b1, b2))
    available = sum(l for _, l, k, _ in regions if k == 1)
    t.check(any(k == 1 and b >= 1 << 20 for b, _, k, _ in regions),
            "an available region above 1 MiB")
    if total:
        t.check(int(total.group(1)) == available // 1024,
                "'memory:' total %s KiB equals the sum of available regions (%d KiB)"
                % (total.group(1), available // 1024))


@test("boot: usable memory follows QEMU's -m", points=20)
def memory_follows_qemu(t):
    small, large = usable_kib(t, SMALL), usable_kib(t, LARGE)
    if small is None or large is None:
        return
    # Each total is a little under -m (the BIOS keeps some), and the two
    # differ by exactly what QEMU was given more.
    t.check(60 * 1024 <= small <= 64 * 1024, "-m 64M gives 60..64 MiB usable (got %d KiB)" % small)
    t.check(250 * 1024 <= large <= 256 * 1024, "-m 256M gives 250..256 MiB usable (got %d KiB)" % large)
    diff = large - small
    t.check(abs(diff - 192 * 1024) <= 1024,
            "-m 256M minus -m 64M is 192 MiB (+-1 MiB): got %d KiB" % diff)


@test("boot: says ready last and exits with success when asked", points=10)
def ready_and_exit(t):
    r = t.boot(READY)
    r.expect(r"^fern: ready$")
    r.expect_exit(EXIT_SUCCESS)
    lines = [l for l in r.lines if l.strip()]
    memory = [i for i, l in enumerate(lines) if l.startswith("memory:")]
    ready = [i for i, l in enumerate(lines) if l == "fern: ready"]
    if memory and ready:
        t.check(memory[0] < ready[0], "'memory:' comes before 'fern: ready'")


@test("boot: idles after ready unless asked to exit", points=5)
def idles(t):
    with t.machine(timeout=10) as m:
        t.check(m.wait(r"^fern: ready$") is not None, "'fern: ready' within the timeout")
        before = m.text().rstrip()
        time.sleep(1.0)
        t.check(m.proc.poll() is None, "QEMU still running 1 s after ready")
        after = m.text().rstrip()
        t.check(after == before, "no output after 'fern: ready' (got %r)"
                % after[len(before):][:80])


@test("boot: greets on the VGA screen too", points=10)
def vga_greeting(t):
    with t.machine(monitor=True, timeout=10) as m:
        if not m.wait(r"^fern: ready$"):
            t.fail("no 'fern: ready' within the timeout")
        screen = read_screen(m)
        lines = [l for l in m.lines() if l.strip()]
    greeting = [i for i, l in enumerate(lines) if re.match(GREETING, l)]
    rows = len(screen)
    # A later chapter's boot prints more than a screenful: the greeting
    # and the memory line scroll off the top. Then the screen must show
    # what COM1 showed last instead (each of its last lines that fits in
    # a row), which only a working VGA console does.
    if greeting and len(lines) - greeting[0] > rows:
        tail = [l for l in lines[-(rows // 2):] if len(l) <= 80]
        missing = [l for l in tail if l not in screen]
        t.check(not missing, "more than a screenful came after the greeting; the "
                "screen shows COM1's last lines (read from 0xb8000 through QEMU's "
                "monitor); missing: %r" % missing[:2])
        return
    t.check(any(re.match(GREETING, row) for row in screen),
            "the greeting is on the screen (read from 0xb8000 through QEMU's "
            "monitor); first rows: %r" % screen[:2])
    t.check(any(re.match(MEMORY, row) for row in screen),
            "the 'memory:' line is on the screen")


# COM1's registers (PC16550D datasheet §8.1) as the monitor's `o` and `i`
# commands reach them from outside the guest.
COM1 = 0x3f8
LCR, MCR = COM1 + 3, COM1 + 4
LCR_DLAB, MCR_LOOP = 0x80, 0x10


def port_in(m, port):
    out = m.monitor("i /b 0x%x" % port)
    found = re.search(r"=\s*0x([0-9a-f]+)", out)
    if not found:
        raise ValueError("the monitor's 'i' printed %r" % out)
    return int(found.group(1), 16)


def port_out(m, port, value):
    m.monitor("o /b 0x%x 0x%x" % (port, value))


@test("boot: programs COM1 itself, whatever the firmware left there", points=0)
def uart_from_scratch(t):
    # QEMU starts paused (-S), and before the firmware runs the harness
    # leaves the UART as an unhelpful firmware might: 9600 baud (divisor
    # 12), 5 data bits, even parity, 2 stop bits, the divisor latch still
    # selected (so bytes written to THR change the divisor instead), and
    # loopback on (so nothing reaches the wire). QEMU's UART ignores the
    # line format, but not DLAB or loopback: a kernel that trusts this
    # state is silent. Afterwards the registers must say 115200 8N1.
    with t.machine(extra=["-S"], monitor=True, timeout=10) as m:
        port_out(m, LCR, LCR_DLAB)
        port_out(m, COM1, 12)
        port_out(m, COM1 + 1, 0)
        port_out(m, LCR, LCR_DLAB | 0x18 | 0x04)
        port_out(m, MCR, MCR_LOOP)
        m.monitor("cont")
        if not m.wait(r"^fern: ready$"):
            t.fail("no 'fern: ready' on COM1 after the UART was left at 9600 "
                   "baud, 5E2, DLAB set, in loopback")
        t.check(any(re.match(GREETING, l) for l in m.lines()),
                "the greeting arrived intact")
        lcr, mcr = port_in(m, LCR), port_in(m, MCR)
        port_out(m, LCR, lcr | LCR_DLAB)
        divisor = port_in(m, COM1) | port_in(m, COM1 + 1) << 8
        port_out(m, LCR, lcr)
    # 8 data bits (WLS = 11), 1 stop bit, no parity, DLAB clear; and
    # 1843200 Hz / (16 * 115200 baud) = 1.
    t.check(lcr == 0x03, "LCR is 0x03 (8N1) after boot (got 0x%02x)" % lcr)
    t.check(not mcr & MCR_LOOP, "loopback is off after boot (MCR 0x%02x)" % mcr)
    t.check(divisor == 1, "the divisor is 1 (115200 baud) after boot (got %d)" % divisor)


@test("boot: refuses a CPU without long mode, clearly", points=10)
def no_long_mode(t):
    r = t.boot(NO_LONG_MODE)
    r.expect(r"^fern: boot error: this CPU does not support long mode \(x86_64\)$")
    r.forbid(r"^fern: ready$")


BENCH = Boot(cmdline="exit=ready bench")
PHASE = re.compile(r"^phase: (\S+) (\d+) cycles\b")


@test("boot: times its phases with the TSC when asked (bench)", points=0)
def boot_phases(t):
    # `make bench` reads these lines (docs/performance.md); the default
    # boot must not print them, nor lose any of its usual lines.
    r = t.boot(BENCH)
    lines = [l for l in r.lines if l.strip()]
    phases = [(i, PHASE.match(l)) for i, l in enumerate(lines) if PHASE.match(l)]
    t.check(len(phases) >= 2, "at least two 'phase: NAME N cycles' lines (got %d)"
            % len(phases))
    names = [m.group(1) for _, m in phases]
    t.check(len(set(names)) == len(names), "phase names are distinct: %s" % names)
    t.check(all(int(m.group(2)) > 0 for _, m in phases),
            "every phase lasted a positive number of cycles")
    ready = [i for i, l in enumerate(lines) if l == "fern: ready"]
    if phases and ready:
        t.check(phases[-1][0] < ready[0], "the phases come before 'fern: ready'")
    r.expect(r"^fern: ready$")
    r.expect(MEMORY)
    t.boot(READY).forbid(r"^phase: ", "no 'phase:' lines without `bench`")
