"""Chapter 4 (paging): the frame allocator, the page tables, and the kernel
remapped with W^X, a direct map, guard pages and no identity map.

Points here are lab 4's grade. What the kernel says about itself is checked
against sources it does not control: the frame totals are recomputed from
the memory map it printed and the kernel's ELF symbols, for four sizes of
QEMU's -m; the page tables are read from outside through QEMU's monitor
(`info tlb`); each deliberate fault must hit an address the kernel chose at
random for that boot, and the report must name the region the ELF says the
address is in.
"""

import os
import re

from fernlab import Boot, EXIT_FAILURE, EXIT_SUCCESS, test
from fernlab.elf import kernel_symbols as elf_kernel_symbols
from fernlab.ktap import ktap_tests

# Four sizes of -m, two of them in boots that other tests need anyway: the
# in-kernel suites run at 8M (allocating every frame is quick there), and
# at 4G QEMU's monitor reads the page tables once the kernel is ready.
SUITES = Boot(cmdline="test=pmm,vm mm=verbose", memory="8M", timeout=20)
MEDIUM = Boot(cmdline="exit=ready mm=verbose", memory="128M")
LARGE = Boot(cmdline="exit=ready mm=verbose", memory="1G")
OUTSIDE = Boot(cmdline="mm=verbose", memory="4G", until=r"^fern: ready$",
               monitor=["info tlb"], timeout=15)

PAGE = 4096
# Literal on purpose: these tests check the layout from outside, against
# what the design fixes (include/fern/layout.h says the same).
KERNEL_VMA = 0xffffffff80000000
DIRECT_MAP = 0xffff800000000000
LOWER_HALF_END = 0x0000800000000000

MMAP = re.compile(r"^mmap: base 0x([0-9a-f]{16}) length 0x([0-9a-f]{16}) type (\d+) ")
RESERVED = re.compile(r"^mm: reserved 0x([0-9a-f]{16})-0x([0-9a-f]{16}) (.+)$")
FRAMES = re.compile(r"^mm: (\d+) frames \((\d+) KiB\) of RAM managed, (\d+) free$")
TLB = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([-X])([-G])([-P])([-D])([-A])([-C])([-T])([-U])([-W])$")


# ---- the kernel's ELF: where its sections are, by its own symbols --------

def kernel_symbols(t):
    """The symbols of the kernel the grader boots, with the section bounds
    the paging tests need."""
    return elf_kernel_symbols(t, ["__kernel_phys_start", "__kernel_phys_end", "__text_start",
                                  "__rodata_start", "__data_start", "__bss_start", "__bss_end",
                                  "__kernel_end", "boot_stack_guard"])


def region_of(addr, syms):
    """What the kernel window holds at addr, by the ELF's symbols."""
    bounds = [("kernel text", "__text_start", "__rodata_start"),
              ("kernel rodata", "__rodata_start", "__data_start"),
              ("kernel data", "__data_start", "__bss_start"),
              ("kernel bss", "__bss_start", "__bss_end")]
    for name, lo, hi in bounds:
        if syms[lo] <= addr < syms[hi]:
            return name
    return None


# ---- frame totals ----------------------------------------------------------

def expected_frames(regions, reserved):
    """Frames wholly inside available regions that touch no reserved range,
    counted frame by frame."""
    count = 0
    for base, length, kind in regions:
        if kind != 1:
            continue
        first = -(-base // PAGE) * PAGE
        for frame in range(first, base + length - PAGE + 1, PAGE):
            if not any(frame + PAGE > lo and frame < hi for lo, hi, _ in reserved):
                count += 1
    return count


def check_totals(t, spec):
    r = t.boot(spec)
    memory = spec.memory
    syms = kernel_symbols(t)
    regions = [(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3)))
               for m in r.find(MMAP)]
    reserved = [(int(m.group(1), 16), int(m.group(2), 16), m.group(3))
                for m in r.find(RESERVED)]
    frames = r.expect(FRAMES, "-m %s: 'mm: N frames (K KiB) of RAM managed, F free'" % memory)
    if not regions or not frames:
        return None
    names = {what: (lo, hi) for lo, hi, what in reserved}
    t.check(names.get("the first MiB") == (0, 0x100000),
            "-m %s: the first MiB is reserved (got %r)" % (memory, names.get("the first MiB")))
    image = (syms["__kernel_phys_start"], syms["__kernel_phys_end"])
    t.check(names.get("the kernel image") == image,
            "-m %s: the kernel image is reserved as the ELF places it, 0x%x-0x%x (got %s)"
            % (memory, image[0], image[1], names.get("the kernel image")))
    mbi = names.get("the boot information")
    t.check(mbi is not None and 0 < mbi[1] - mbi[0] <= 64 * 1024 and mbi[0] % 8 == 0,
            "-m %s: the boot information is reserved (8-byte aligned, at most 64 KiB)" % memory)
    # Only the ranges checked above may be taken out of the total, and the
    # boot modules GRUB loaded (from chapter 8 on, the site image), each of
    # which must fit in the ISO it came from.
    modules = [(lo, hi, w) for lo, hi, w in reserved if w == "a boot module"]
    iso_size = os.path.getsize(t.iso)
    t.check(all(0 < hi - lo <= iso_size for lo, hi, _ in modules),
            "-m %s: each boot module reserved is no larger than the ISO (%s)"
            % (memory, ", ".join("0x%x-0x%x" % (lo, hi) for lo, hi, _ in modules) or "none"))
    trusted = [(lo, hi, w) for lo, hi, w in reserved
               if w in ("the first MiB", "the kernel image", "the boot information")] + \
        [m for m in modules if 0 < m[1] - m[0] <= iso_size]
    want = expected_frames(regions, trusted)
    total, kib, free = int(frames.group(1)), int(frames.group(2)), int(frames.group(3))
    t.check(total == want, "-m %s: %d frames managed; the memory map minus the "
            "reservations has %d" % (memory, total, want))
    t.check(kib == total * 4, "-m %s: %d KiB is 4 KiB per frame" % (memory, kib))
    used = total - free
    t.check(0 < used <= total // 100 + 64,
            "-m %s: the allocator's bitmap and the page tables take a few frames "
            "(%d of %d in use)" % (memory, used, total))
    return total


# The order matters for speed: the grader runs two tests at a time, in
# this order, and each pair should boot two different machines.

ktap_tests(SUITES, [
    # (test name, points, in-kernel tests it checks)
    ("paging: the frame allocator's tests pass in the kernel", 12, ["pmm:"]),
])


@test("paging: frame totals match the memory map at -m 1G and 4G, RAM above 4 GiB too", points=8)
def totals_large(t):
    small, large = check_totals(t, LARGE), check_totals(t, OUTSIDE)
    if small and large:
        t.check(large * 4 > 4 * 1024 * 1024 - 1024 * 1024,
                "-m 4G manages over 3 GiB, so RAM above 4 GiB counts (got %d KiB)" % (large * 4))
        t.check(abs((large - small) * 4 - 3 * 1024 * 1024) <= 1024,
                "-m 4G has 3 GiB more frames than -m 1G (got %d KiB)" % ((large - small) * 4))


ktap_tests(SUITES, [
    ("paging: the page-table tests pass in the kernel", 12, ["vm:"]),
])


@test("paging: frame totals match the memory map at -m 8M and 128M", points=8)
def totals_small(t):
    small, large = check_totals(t, SUITES), check_totals(t, MEDIUM)
    if small and large:
        t.check(abs((large - small) * 4 - 120 * 1024) <= 1024,
                "-m 128M has 120 MiB more frames than -m 8M (got %d KiB)"
                % ((large - small) * 4))


# ---- the page tables, read from outside -----------------------------------

def read_tlb(t):
    """The kernel's mappings as QEMU's monitor shows them once the kernel
    is ready: {page: (phys, writable, nx, large)}, and the boot's Run."""
    r = t.boot(OUTSIDE)
    if not r.expect(r"^fern: ready$", "the kernel came up with -m 4G"):
        t.fail("no 'fern: ready' with -m 4G: %s" % r.machine.outcome())
    out = r.monitor_output.get("info tlb", "")
    pages = {}
    for line in out.splitlines():
        g = TLB.match(line.strip())
        if g:
            pages[int(g.group(1), 16)] = (int(g.group(2), 16), g.group(11) == "W",
                                          g.group(3) == "X", g.group(5) == "P")
    if not pages:
        t.fail("QEMU's 'info tlb' shows no mappings: %r" % out[:200])
    return pages, r


def writable_and_executable(pages):
    return [va for va, (_, w, nx, _) in pages.items() if w and not nx]


@test("paging: from outside, no page is both writable and executable", points=10)
def outside_wx(t):
    pages, _ = read_tlb(t)
    bad = writable_and_executable(pages)
    t.check(not bad, "no mapping in 'info tlb' is both W and executable (%d are%s)"
            % (len(bad), ", first 0x%x" % min(bad) if bad else ""))
    syms = kernel_symbols(t)
    text = range(syms["__text_start"], syms["__rodata_start"], PAGE)
    t.check(all(va in pages and not pages[va][1] and not pages[va][2] for va in text),
            "every page of kernel text is mapped read-only and executable")
    t.check(all(pages.get(va, (0, 0, 0, 0))[0] == va - KERNEL_VMA for va in text),
            "kernel text is mapped at its physical address + 0xffffffff80000000")
    rodata = range(syms["__rodata_start"], syms["__data_start"], PAGE)
    t.check(all(va in pages and not pages[va][1] and pages[va][2] for va in rodata),
            "every page of rodata is read-only and not executable")
    data = [va for va in range(syms["__data_start"], syms["__bss_end"], PAGE)
            if va in pages]
    t.check(data and all(pages[va][1] and pages[va][2] for va in data),
            "data and bss pages are writable and not executable")


@test("paging: from outside, NULL and the identity map are gone, guard pages unmapped", points=8)
def outside_layout(t):
    pages, _ = read_tlb(t)
    syms = kernel_symbols(t)
    low = sorted(va for va in pages if va < LOWER_HALF_END)
    t.check(0 not in pages, "the NULL page is not mapped")
    t.check(not low, "nothing is mapped in the lower half: the identity map is gone "
            "(%d pages%s)" % (len(low), ", first 0x%x" % low[0] if low else ""))
    guard = syms["boot_stack_guard"]
    t.check(guard not in pages and guard + PAGE in pages,
            "the boot stack's guard page 0x%x is unmapped, the stack above it mapped" % guard)
    # RAM above 4 GiB (QEMU puts 1 GiB there with -m 4G) in the direct map.
    above = DIRECT_MAP + (4 << 30)
    t.check(pages.get(above, (None,))[0] == 4 << 30,
            "the direct map reaches RAM above 4 GiB (0x%x maps physical 4 GiB)" % above)


# ---- deliberate faults ------------------------------------------------------

def fault_boot(suite):
    return Boot(cmdline="test=" + suite)


def error_code(run):
    m = run.expect(r"^  error code: 0x([0-9a-f]+) \(", "the report gives the error code")
    return int(m.group(1), 16) if m else None


def check_page_fault(t, suite, announce, region, want_bits, syms_region=None):
    """Boot test=SUITE; find the address it announced, then check that the
    #PF report has it in CR2, the error code bits `want_bits` (a dict of
    bit: expected), and names `region`."""
    r = t.boot(fault_boot(suite))
    m = r.expect(announce, "the case announces the address it will touch")
    r.expect_exit(EXIT_FAILURE)
    if not m:
        return None
    addr = int(m.group(1), 16)
    r.expect(r"^exception: #PF page fault \(vector 14\)$")
    r.expect(r"^  cr2: 0x%016x \(the address the access tried\)$" % addr,
             "CR2 is the announced address 0x%016x" % addr)
    code = error_code(r)
    if code is not None:
        names = {0: "P (present)", 1: "W (write)", 2: "U (user)", 3: "RSVD", 4: "I (fetch)"}
        for bit, want in want_bits.items():
            t.check(bool(code >> bit & 1) == want, "error code 0x%x has %s %s"
                    % (code, names[bit], "set" if want else "clear"))
    r.expect(r"^  address: 0x%016x is in %s$" % (addr, re.escape(region)),
             "the report says 0x%x is in %s" % (addr, region))
    if syms_region:
        got = region_of(addr, kernel_symbols(t))
        t.check(got == syms_region, "by the ELF's symbols, 0x%x is in %s (got %s)"
                % (addr, syms_region, got))
    return addr


@test("paging: a write to kernel text is a protection fault in kernel text", points=7)
def fault_write_text(t):
    check_page_fault(t, "write-text",
                     r"^write-text: writing to 0x([0-9a-f]{16}) in kernel text \[{nonce}\]$",
                     "kernel text (mapped r-x)", {0: True, 1: True, 2: False, 4: False},
                     "kernel text")


@test("paging: a write to rodata is a protection fault in rodata", points=5)
def fault_write_rodata(t):
    check_page_fault(t, "write-rodata",
                     r"^write-rodata: writing to 0x([0-9a-f]{16}) in kernel rodata \[{nonce}\]$",
                     "kernel rodata (mapped r--)", {0: True, 1: True, 2: False, 4: False},
                     "kernel rodata")


@test("paging: running code in kernel data is an instruction-fetch fault", points=7)
def fault_exec_data(t):
    addr = check_page_fault(t, "exec-data",
                            r"^exec-data: calling 0x([0-9a-f]{16}) in kernel data \[{nonce}\]$",
                            "kernel data (mapped rw-)", {0: True, 1: False, 4: True},
                            "kernel data")
    if addr is not None:
        t.boot(fault_boot("exec-data")).expect(r"^  rip: 0x%016x " % addr,
                                               "RIP is the address jumped to")


@test("paging: running code in an allocated frame is an instruction-fetch fault", points=5)
def fault_exec_frame(t):
    addr = check_page_fault(t, "exec-frame",
                            r"^exec-frame: calling 0x([0-9a-f]{16}) in a frame of the direct map \[{nonce}\]$",
                            "the direct map (mapped rw-)", {0: True, 1: False, 4: True})
    if addr is not None:
        t.check(DIRECT_MAP <= addr < KERNEL_VMA, "0x%x lies in the direct map" % addr)


@test("paging: a NULL pointer read faults on the unmapped NULL page", points=7)
def fault_null(t):
    addr = check_page_fault(t, "null-pointer",
                            r"^null-pointer: reading 0x([0-9a-f]{16}) through a NULL pointer \[{nonce}\]$",
                            "the NULL page (not mapped): a NULL pointer dereference",
                            {0: False, 1: False, 4: False})
    if addr is not None:
        t.check(addr < PAGE, "the address 0x%x is in the first page" % addr)


@test("paging: a stack overflow hits the guard page and is reported as one", points=11)
def fault_stack_overflow(t):
    # Chapter 3's double-fault suite overflows the boot stack; with paging,
    # its report must also name the guard page for what it is.
    r = t.boot(fault_boot("double-fault"))
    syms = kernel_symbols(t)
    guard = syms["boot_stack_guard"]
    r.expect(r"^double-fault: recursing until the boot stack overflows into its guard page "
             r"0x%016x-0x[0-9a-f]{16}; IST1 is .* \[{nonce}\]$" % guard,
             "the case announces the guard page the ELF places at 0x%x" % guard)
    r.expect(r"^exception: #DF double fault \(vector 8\)$",
             "the overflow ends in a double fault (no stack left for the #PF)")
    cr2 = r.expect(r"^  cr2: 0x([0-9a-f]{16}) ", "the report gives CR2")
    if cr2:
        addr = int(cr2.group(1), 16)
        t.check(guard <= addr < guard + PAGE, "CR2 0x%x lies in the guard page" % addr)
        r.expect(r"^  address: 0x%016x is the guard page below the boot stack: "
                 r"a stack overflow$" % addr, "the report calls it a stack overflow")
    r.expect_exit(EXIT_FAILURE)


# A CPU without the NX bit cannot give the kernel W^X, and fern does not
# run paging without it: memory management says why and does not start,
# and the boot carries on to 'fern: ready' on the boot page tables, with
# nothing built on top of memory management (the heap, from chapter 5).
NO_NX = Boot(cmdline="exit=ready", extra=["-cpu", "qemu64,-nx"])


@test("paging: a CPU without NX: memory management says so and does not start", points=0)
def no_nx(t):
    r = t.boot(NO_NX)
    r.expect(r"^mm: error: this CPU has no NX bit .*; keeping the boot page tables$")
    r.forbid(r"^mm: kernel remapped", "no remap without NX")
    r.forbid(r"^exception: ", "no exception")
    r.expect(r"^fern: ready$")
    r.expect_exit(EXIT_SUCCESS)
