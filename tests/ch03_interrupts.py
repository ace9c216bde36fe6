"""Chapter 3 (interrupts): the GDT and TSS, the IDT, exception reports, a
double fault on its own stack, the PIC and the timer, and input by IRQ
from the PS/2 keyboard and COM1.

Points here are lab 3's grade. Each exception is raised on purpose in a
boot of its own (the explicit in-kernel suites of src/cpu/trap_test.c);
the case first announces what it will do, with values that change from
boot to boot (the address it writes, the selector it loads) and the
boot's nonce, and the report must then agree with it. The timer is timed
with the harness's own clock, keys are typed through QEMU's monitor, and
serial bytes through COM1, and the kernel's IRQ counts must show they came
by interrupt.
"""

import re

from fernlab import Boot, EXIT_FAILURE, EXIT_SUCCESS, test
from fernlab.elf import kernel_symbols
from fernlab.ktap import check_suites, ktap_tests

# The in-kernel suites, with the explicit ones that only print lines for
# the harness to check: `timer` (timed with the harness's clock) and
# `irq-print` (the console lock).
# QEMU traces every write to the PICs' ports in this boot: the spurious-IRQ
# test reads from it which EOIs the kernel sent (irq_suite below).
SUITES = Boot(cmdline="test=gdt,idt,irq,keymap,timer,irq-print",
              extra=["-trace", "enable=pic_ioport_write"])
# Each exception boot also keeps QEMU's log of every interrupt and
# exception the CPU took (-d int): the exception must really have happened,
# with the vector, error code and CR2 the report shows, whatever the kernel
# printed.
CPU_LOG = ["-d", "int"]
DIVIDE = Boot(cmdline="test=divide-error", extra=CPU_LOG)
BREAKPOINT = Boot(cmdline="test=breakpoint", extra=CPU_LOG)
INVALID = Boot(cmdline="test=invalid-opcode", extra=CPU_LOG)
GENERAL = Boot(cmdline="test=general-protection", extra=CPU_LOG)
PAGE = Boot(cmdline="test=page-fault", extra=CPU_LOG)
DOUBLE = Boot(cmdline="test=double-fault", extra=CPU_LOG)
CPU_EVENT = re.compile(r"^\s*\d+: v=([0-9a-f]+) e=([0-9a-f]+) .*?(?:CR2=([0-9a-f]+))?\s*$")

HEX = r"0x[0-9a-f]{16}"
REGISTERS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9",
             "r10", "r11", "r12", "r13", "r14", "r15"]
TIMER_HZ = 100          # the documented rate (include/fern/cpu.h)
# Of a duration timed by the harness. The harness's own clock is read when
# a line arrives, which a loaded machine delays. FERN_TIMEOUT_SCALE (slow
# machines) does not widen it: the guest's timer runs on the host's clock
# however slow the emulation, and a wider window would let a timer that is
# a third too slow pass.
TOLERANCE = 0.25


def index_of(r, pattern):
    """The index of the first line matching `pattern`, or None."""
    regex = re.compile(pattern.replace("{nonce}", re.escape(r.nonce)))
    for i, line in enumerate(r.lines):
        if regex.search(line):
            return i
    return None


# What the boot says when part of chapter 3 is missing (a lab 3 stub, say):
# the IDT could not be built, the PIC is not remapped, an IRQ or a vector
# was not routed. Exceptions need only the IDT; IRQs need everything.
IDT_PROBLEMS = r"^(interrupts: off|idt: |trap: )"
IRQ_PROBLEMS = r"^(interrupts: (off|exceptions on, IRQs off)|idt: |trap: |irq: nothing)"
TIMER_PROBLEMS = r"^(interrupts: (off|exceptions on, IRQs off)|idt: |trap: |irq: nothing|timer: pit_program)"


def cpu_events(r):
    """[(vector, error code, CR2 or None)] of QEMU's interrupt log, in order."""
    out = []
    for line in r.trace:
        m = CPU_EVENT.match(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16),
                        int(m.group(3), 16) if m.group(3) else None))
    return out


def qemu_saw(t, r, vector, name, error=None, cr2=None):
    """Check QEMU's log shows the CPU taking exception `vector` (with that
    error code and CR2, when given). Returns whether it did."""
    events = cpu_events(r)
    seen = [e for e in events if e[0] == vector]
    what = "QEMU saw the CPU take %s (vector %d)" % (name, vector)
    if error is not None:
        what += " with error code 0x%x" % error
        seen = [e for e in seen if e[1] == error]
    if cr2 is not None:
        what += " and CR2 0x%x" % cr2
        seen = [e for e in seen if e[2] == cr2]
    if not seen:
        took = sorted({e[0] for e in events if e[0] < 32})
        what += " (it took %s)" % (", ".join("vector %d" % v for v in took) or
                                   "no exception at all")
    return t.check(bool(seen), what)


def boot_problems(t, r, pattern):
    """Record what the boot said was missing, if it said anything."""
    for m in r.find(pattern):
        t.check(False, "the kernel says: %s" % m.string[:160])


def exception_report(t, r, announce, mnemonic, name, vector, function, caller="kmain"):
    """What every report of an exception raised on purpose must show: the
    case's announcement first, then the exception's name and vector, RIP in
    `function`, every general register, and a backtrace that names
    `caller`; and the run must end through the exit device with failure.
    Returns the lines of the report."""
    boot_problems(t, r, IDT_PROBLEMS)
    first = index_of(r, announce)
    t.check(first is not None, "the test case announced itself: %s" % announce)
    header = r"^exception: %s %s \(vector %d\)$" % (re.escape(mnemonic), re.escape(name), vector)
    at = index_of(r, header)
    t.check(at is not None, "the report names the exception: %s %s (vector %d)"
            % (mnemonic, name, vector))
    if first is not None and at is not None:
        t.check(first < at, "the report comes after the announcement")
    r.expect(r"^  rip: %s %s\+0x[0-9a-f]+$" % (HEX, function),
             "rip is shown as an address in %s()" % function)
    report = r.lines[at:] if at is not None else []
    shown = set(re.findall(r"\b(r\w\w?)=0x[0-9a-f]{16}\b", "\n".join(report)))
    missing = [reg for reg in REGISTERS if reg not in shown]
    t.check(not missing, "the report shows every general register%s"
            % (" (missing: %s)" % " ".join(missing) if missing else ""))
    r.expect(r"^    #\d+ %s %s\+0x[0-9a-f]+$" % (HEX, caller), "the backtrace names %s" % caller)
    r.expect_exit(EXIT_FAILURE)
    return report


ktap_tests(SUITES, [
    # (test name, points, in-kernel tests it checks)
    ("interrupts: the GDT holds ring-0 64-bit code, data and a TSS with IST stacks", 3,
     ["gdt:"]),
])


@test("interrupts: every IDT gate is a present interrupt gate into its stub", points=8)
def idt_suite(t):
    r = t.boot(SUITES)
    boot_problems(t, r, IDT_PROBLEMS)
    check_suites(t, r, ["idt:"])
    idt_from_outside(t)


IDT_LINE = re.compile(r"^IDT=\s*([0-9a-f]+) ([0-9a-f]+)", re.M)
IDT_GATES = 48              # vectors 0-47: the exceptions and the 16 IRQs
GATE_IST = {2: 2, 8: 1}     # NMI on IST2, #DF on IST1 (cpu.h)


def idt_from_outside(t):
    """The IDT as the CPU has it once the kernel is ready, read through
    QEMU's monitor, not as the kernel reports it: IDTR from 'info
    registers', the gates from memory, each checked against the address
    of its stub in fern.elf (SDM vol. 3 Figure 6-8)."""
    syms = kernel_symbols(t)
    with t.machine(monitor=True, timeout=10) as m:
        if not m.wait(r"^fern: ready$"):
            t.fail("no 'fern: ready' to read the IDT after: %s" % m.outcome())
        g = IDT_LINE.search(m.monitor("info registers"))
        if not g:
            t.fail("QEMU's 'info registers' shows no IDT= line")
        base, limit = int(g.group(1), 16), int(g.group(2), 16)
        if not t.check(limit == IDT_GATES * 16 - 1, "from outside: IDTR's limit is 0x%x, %d "
                       "gates of 16 bytes less one (QEMU saw 0x%x)"
                       % (IDT_GATES * 16 - 1, IDT_GATES, limit)):
            return
        words = [int(w, 16) for w in re.findall(r"\b0x([0-9a-f]{16})\b",
                                                 m.monitor("x /%dgx 0x%x" % (IDT_GATES * 2, base)))]
    if len(words) != IDT_GATES * 2:
        t.fail("QEMU's monitor showed %d of the IDT's %d quadwords" % (len(words), IDT_GATES * 2))
    gates = [(words[2 * v], words[2 * v + 1]) for v in range(IDT_GATES)]
    checks = [
        ("is a present ring-0 interrupt gate (P=1 DPL=0 type 0xE)",
         lambda v, lo, hi: (lo >> 40) & 0xff == 0x8e),
        ("has the kernel code selector 0x08", lambda v, lo, hi: (lo >> 16) & 0xffff == 0x08),
        ("names its IST slot (2 for NMI, 1 for #DF, 0 for the others)",
         lambda v, lo, hi: (lo >> 32) & 0xff == GATE_IST.get(v, 0)),
        ("enters its own stub, trap_stub_N in fern.elf",
         lambda v, lo, hi: syms.get("trap_stub_%d" % v) ==
         (lo & 0xffff) | (lo >> 48) << 16 | (hi & 0xffffffff) << 32),
        ("has its reserved bits zero", lambda v, lo, hi: hi >> 32 == 0),
    ]
    for what, ok in checks:
        bad = [v for v, (lo, hi) in enumerate(gates) if not ok(v, lo, hi)]
        t.check(not bad, "from outside: every gate %s%s" % (
            what, " (not vector%s %s)" % ("s" if len(bad) > 1 else "",
                                          ", ".join(map(str, bad[:6]))) if bad else ""))


@test("interrupts: #DE is reported with its vector, RIP's function and the registers", points=5)
def divide_error(t):
    r = t.boot(DIVIDE)
    exception_report(t, r, r"^divide-error: dividing by zero in raise_divide_error \[{nonce}\]$",
                     "#DE", "divide error", 0, "raise_divide_error")
    r.forbid(r"^  error code:", "no error code: #DE does not push one")
    qemu_saw(t, r, 0, "#DE")


@test("interrupts: int3 is reported and execution resumes after it", points=6)
def breakpoint(t):
    r = t.boot(BREAKPOINT)
    boot_problems(t, r, IDT_PROBLEMS)
    before = index_of(r, r"^breakpoint: executing int3 in raise_breakpoint \[{nonce}\]$")
    report = index_of(r, r"^breakpoint at %s raise_breakpoint\+0x[0-9a-f]+; resuming$" % HEX)
    after = index_of(r, r"^breakpoint: resumed after int3 \[{nonce}\]$")
    t.check(before is not None, "the case announced the int3")
    t.check(report is not None, "'breakpoint at ADDRESS raise_breakpoint+OFFSET; resuming'")
    t.check(after is not None, "the case printed its next line after the int3")
    if None not in (before, report, after):
        t.check(before < report < after, "announcement, report, then the code after the int3")
    r.forbid(r"^exception:", "an int3 is not a fatal exception")
    check_suites(t, r, ["breakpoint:"])
    r.expect_exit(EXIT_SUCCESS)
    qemu_saw(t, r, 3, "#BP")


@test("interrupts: #UD is reported at the ud2 in raise_invalid_opcode", points=5)
def invalid_opcode(t):
    r = t.boot(INVALID)
    exception_report(t, r, r"^invalid-opcode: executing ud2 in raise_invalid_opcode \[{nonce}\]$",
                     "#UD", "invalid opcode", 6, "raise_invalid_opcode")
    r.forbid(r"^  error code:", "no error code: #UD does not push one")
    qemu_saw(t, r, 6, "#UD")


@test("interrupts: #GP decodes the bad selector in its error code", points=8)
def general_protection(t):
    r = t.boot(GENERAL)
    m = r.expect(r"^general-protection: loading selector 0x([0-9a-f]+) \(GDT index (\d+)\) "
                 r"into DS \[{nonce}\]$", "the case announced the selector it loads")
    exception_report(t, r, r"^general-protection: loading selector",
                     "#GP", "general protection fault", 13, "raise_general_protection")
    if not m:
        return
    selector = int(m.group(1), 16)
    # The error code of a selector fault is the selector with its RPL bits
    # replaced by EXT and IDT (SDM vol. 3 §6.13): here both 0.
    t.check(selector >> 3 == int(m.group(2)) and selector & 7 == 0,
            "the announced selector 0x%x is GDT index %d" % (selector, selector >> 3))
    r.expect(r"^  error code: 0x%x \(selector 0x%x: GDT index %d, external 0\)$"
             % (selector, selector, selector >> 3),
             "error code 0x%x, decoded as GDT index %d, external 0" % (selector, selector >> 3))
    qemu_saw(t, r, 13, "#GP", error=selector)


@test("interrupts: #PF reports CR2 and a not-present write", points=8)
def page_fault(t):
    r = t.boot(PAGE)
    m = r.expect(r"^page-fault: writing to (%s) in raise_page_fault \[{nonce}\]$" % HEX,
                 "the case announced the address it writes")
    exception_report(t, r, r"^page-fault: writing to", "#PF", "page fault", 14,
                     "raise_page_fault")
    r.expect(r"^  error code: 0x2 \(not-present page, write, kernel mode\)$",
             "error code 0x2, decoded: not-present page, write, kernel mode")
    cr2 = r.expect(r"^  cr2: (%s) " % HEX, "the report shows CR2")
    if m and cr2:
        t.check(int(cr2.group(1), 16) == int(m.group(1), 16),
                "CR2 %s is the address written, %s" % (cr2.group(1), m.group(1)))
    if m:
        qemu_saw(t, r, 14, "#PF", error=0x2, cr2=int(m.group(1), 16))


@test("interrupts: a kernel stack overflow ends in a #DF report on IST1, not a triple fault",
      points=10)
def double_fault(t):
    r = t.boot(DOUBLE)
    m = r.expect(r"^double-fault: recursing until the boot stack overflows into its guard "
                 r"page (%s)-(%s); IST1 is (%s)-(%s) \[{nonce}\]$" % (HEX, HEX, HEX, HEX),
                 "the case announced the guard page and the IST1 stack")
    t.check(not r.machine.triple_faulted(),
            "no triple fault in QEMU's log (a #DF without a working IST stack resets)")
    # The backtrace is overflow_stack, overflow_stack, ... until its limit.
    exception_report(t, r, r"^double-fault: recursing", "#DF", "double fault", 8,
                     "overflow_stack", caller="overflow_stack")
    r.expect(r"^  error code: 0x0$", "error code 0 (a #DF always pushes 0)")
    cr2 = r.expect(r"^  cr2: (%s) " % HEX, "the report shows CR2 of the page fault before")
    if not m:
        return
    guard, stack, ist_lo, ist_hi = (int(m.group(i), 16) for i in range(1, 5))
    qemu_saw(t, r, 8, "#DF", error=0)
    if cr2:
        t.check(guard <= int(cr2.group(1), 16) < stack,
                "CR2 %s lies in the guard page 0x%x-0x%x" % (cr2.group(1), guard, stack))
    r.expect(r"^  stack: the handler runs on the IST1 stack 0x%x-0x%x, canary intact$"
             % (ist_lo, ist_hi), "the handler ran on IST1 (0x%x-0x%x), canary intact"
             % (ist_lo, ist_hi))


IRQ_SUITE_REGISTERS = ["irq: registers"]
IRQ_SUITE_REST = ["irq: the timer", "irq: spurious", "irq: a line", "irq: a shared line",
                  "irq: sleep_ms"]


@test("interrupts: registers and flags survive timer interrupts", points=4)
def registers_survive(t):
    r = t.boot(SUITES)
    boot_problems(t, r, IRQ_PROBLEMS)
    check_suites(t, r, IRQ_SUITE_REGISTERS)


@test("interrupts: spurious IRQs are dropped, unused lines stay masked, sleep_ms sleeps",
      points=4)
def irq_suite(t):
    r = t.boot(SUITES)
    boot_problems(t, r, IRQ_PROBLEMS)
    check_suites(t, r, IRQ_SUITE_REST)
    spurious_eois(t, r)


OCW3_READ_IRR = 0x0a    # the test's marker (src/cpu/irq_test.c); fern never sends it


def is_eoi(value):
    """An OCW2 (bits 4:3 clear: not an ICW1 or OCW3) with its EOI bit (5)
    set: non-specific 0x20, specific 0x60 | line, and their rotating forms."""
    return value & 0x18 == 0 and value & 0x20 != 0


def spurious_eois(t, r):
    """Between the test's markers, QEMU saw the kernel's writes while it
    handled a spurious IRQ 7, then a spurious IRQ 15 (INT 39 and INT 47
    with nothing in service). 8259A rules: no EOI at all for 7; for 15 an
    EOI to the master (it put its cascade line 2 in service) and none to
    the slave."""
    writes = []
    for line in r.trace:
        m = PIC_WRITE.match(line)
        if m:
            writes.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    marks = [i for i, w in enumerate(writes) if w == ("1", 0, OCW3_READ_IRR)]
    if not t.check(len(marks) >= 3, "QEMU's trace has the spurious test's three markers "
                   "(%d of them in %d PIC writes)" % (len(marks), len(writes))):
        return
    a, b, c = marks[-3:]
    eois_7 = [w for w in writes[a + 1:b] if w[1] == 0 and is_eoi(w[2])]
    master_15 = [w for w in writes[b + 1:c] if w[0] == "1" and w[1] == 0 and is_eoi(w[2])]
    slave_15 = [w for w in writes[b + 1:c] if w[0] == "0" and w[1] == 0 and is_eoi(w[2])]
    t.check(not eois_7, "a spurious IRQ 7 gets no EOI: it is not in service, and an EOI "
            "would end another line's (QEMU saw %s)" % (["0x%02x" % w[2] for w in eois_7]
                                                      or "none"))
    t.check(len(master_15) == 1 and not slave_15,
            "a spurious IRQ 15 gets one EOI, to the master only (QEMU saw %d to the master, "
            "%d to the slave)" % (len(master_15), len(slave_15)))


# QEMU's own account of the kernel's port writes (its trace events, in
# QEMU's log): what the PIC and the PIT were told, whatever the kernel
# printed. The PIC has a trace event of its own; the PIT's ports are seen
# through the generic one for device registers.
DEVICE_IO = Boot(cmdline="test=timer-rate",
                 extra=["-trace", "enable=pic_ioport_write",
                        "-trace", "enable=memory_region_ops_write"])
TIMER_TEST_HZ = 250     # the rate the timer-rate case asks for (src/cpu/irq_test.c)
PIC_WRITE = re.compile(r"^pic_ioport_write master (\d) addr 0x([0-9a-f]+) val 0x([0-9a-f]+)")
PIT_WRITE = re.compile(r"^memory_region_ops_write .*\baddr 0x([0-9a-f]+) value 0x([0-9a-f]+) "
                       r"size \d+ name 'pit'")
PIT_INPUT_HZ = 1193182  # the 8254's input clock (include/fern/i8254.h says the same)


def last_initialisation(writes):
    """The last ICW1..ICW4 sequence in one 8259's port writes [(port, value)]:
    {"icw1": v, "icw2": v, "icw3": v or None, "icw4": v or None}, or None.
    Port 0 is the command port, port 1 the data port; an ICW1 (bit 4 set)
    starts a sequence, and the data writes after it are ICW2, then ICW3 if
    ICW1 said cascade (bit 1 clear), then ICW4 if ICW1 asked for it (bit 0)."""
    starts = [i for i, (port, v) in enumerate(writes) if port == 0 and v & 0x10]
    if not starts:
        return None
    icw1 = writes[starts[-1]][1]
    data = [v for port, v in writes[starts[-1] + 1:] if port == 1]
    want = ["icw2"] + ([] if icw1 & 0x02 else ["icw3"]) + (["icw4"] if icw1 & 0x01 else [])
    seq = {"icw1": icw1, "icw2": None, "icw3": None, "icw4": None}
    for name, v in zip(want, data):
        seq[name] = v
    return seq


def show(v):
    return "none" if v is None else "0x%02x" % v


@test("interrupts: QEMU saw both 8259s initialised with ICW1-ICW4 and remapped to 32-47",
      points=8)
def pic_initialised(t):
    r = t.boot(DEVICE_IO)
    chips = {"1": [], "0": []}          # master 1, slave 0 (QEMU's words)
    for line in r.trace:
        m = PIC_WRITE.match(line)
        if m:
            chips[m.group(1)].append((int(m.group(2), 16), int(m.group(3), 16)))
    if not chips["1"] and not chips["0"]:
        t.fail("QEMU's trace shows no write to the PICs at all (is QEMU's 'log' trace "
               "backend there? %d trace lines)" % len(r.trace))
    for chip, name, base, icw3, icw3_means in (
            ("1", "master", 0x20, 0x04, "a slave on line 2"),
            ("0", "slave", 0x28, 0x02, "it is on the master's line 2")):
        seq = last_initialisation(chips[chip])
        if seq is None:
            t.check(False, "the %s PIC was initialised (no ICW1 was written to it)" % name)
            continue
        t.check(seq["icw1"] & 0x01 == 0x01,
                "the %s's ICW1 (%s) announces an ICW4 (bit 0): without it the 8259 stays in "
                "8080 mode" % (name, show(seq["icw1"])))
        t.check(seq["icw1"] & 0x0a == 0,
                "the %s's ICW1 (%s) says cascaded and edge-triggered (bits 1 and 3 clear)"
                % (name, show(seq["icw1"])))
        t.check(seq["icw2"] == base,
                "the %s's ICW2 puts its line 0 at vector %d (QEMU saw %s%s)"
                % (name, base, show(seq["icw2"]),
                   "; 0x08 and 0x70 are the BIOS's: the kernel never remapped it"
                   if seq["icw2"] in (0x08, 0x70) else ""))
        t.check(seq["icw3"] == icw3, "the %s's ICW3 is 0x%02x, %s (QEMU saw %s)"
                % (name, icw3, icw3_means, show(seq["icw3"])))
        t.check(seq["icw4"] is not None and seq["icw4"] & 0x03 == 0x01,
                "the %s's ICW4 selects 8086 mode without automatic EOI (QEMU saw %s)"
                % (name, show(seq["icw4"])))


@test("interrupts: QEMU saw the PIT's channel 0 set to a 100 Hz rate generator", points=6)
def pit_programmed(t):
    r = t.boot(DEVICE_IO)
    writes = []
    for line in r.trace:
        m = PIT_WRITE.match(line)
        if m:
            writes.append((int(m.group(1), 16), int(m.group(2), 16)))
    # Each programming of channel 0: a command byte for it (bits 7-6 = 00)
    # on port 0x43, then the count bytes on port 0x40.
    runs = []
    for i, (port, v) in enumerate(writes):
        if port == 0x43 and v >> 6 == 0:
            data = []
            for p2, v2 in writes[i + 1:]:
                if p2 == 0x43:
                    break
                if p2 == 0x40:
                    data.append(v2)
            runs.append((v, data))
    if not runs:
        t.fail("QEMU saw no command byte for the PIT's channel 0 (port 0x43): "
               "the PIT was never programmed")
    # The boot's timer, the case's 250 Hz and the 100 Hz again are the
    # last three; the firmware's own come before them.
    check_suites(t, r, ["timer-rate:"])
    for (cmd, data), hz, when in zip(runs[-3:], (TIMER_HZ, TIMER_TEST_HZ, TIMER_HZ),
                                     ("at boot", "when asked for 250 Hz", "set back")):
        want = round(PIT_INPUT_HZ / hz)
        t.check((cmd >> 4) & 3 == 3, "%s: the command byte 0x%02x sends the count low byte, "
                "then high (bits 5-4 = 11)" % (when, cmd))
        mode = (cmd >> 1) & 7
        t.check(mode in (2, 6), "%s: the command byte 0x%02x selects mode 2, the rate "
                "generator (bits 3-1 = 010; mode %d is %s)" % (
                    when, cmd, mode, {0: "a one-shot: one tick, then silence",
                                      3: "the square wave"}.get(mode, "another mode")))
        if len(data) < 2:
            t.check(False, "%s: two count bytes follow the command on port 0x40 (QEMU saw %d)"
                    % (when, len(data)))
            continue
        count = data[0] | data[1] << 8
        t.check(count == want, "%s: the count is %d, %d Hz / %d Hz rounded (QEMU saw %d = "
                "0x%04x, bytes 0x%02x then 0x%02x)" % (when, want, PIT_INPUT_HZ, hz, count,
                                                       count, data[0], data[1]))
    if len(runs) < 3:
        t.check(False, "QEMU saw channel 0 programmed three times after the firmware (at boot, "
                "250 Hz, 100 Hz); it saw %d programmings in all" % len(runs))


@test("interrupts: the timer ticks at 100 Hz by the harness's clock", points=8)
def timer_rate(t):
    r = t.boot(SUITES)
    boot_problems(t, r, TIMER_PROBLEMS)
    t0 = r.when(r"^timer: start at tick \d+ \[{nonce}\]$")
    ticks = r.expect(r"^timer: (\d+) ticks at (\d+) Hz \[{nonce}\]$")
    t1 = r.when(r"^timer: \d+ ticks at \d+ Hz \[{nonce}\]$")
    t2 = r.when(r"^timer: slept 300 ms \[{nonce}\]$")
    if t0 is None or ticks is None:
        t.fail("the timer case did not print its lines: %s" % r.machine.outcome())
    n, hz = int(ticks.group(1)), int(ticks.group(2))
    t.check(hz == TIMER_HZ, "the kernel runs the timer at the documented %d Hz (says %d)"
            % (TIMER_HZ, hz))
    want = n / TIMER_HZ
    t.check(abs((t1 - t0) - want) <= TOLERANCE * want,
            "%d ticks took %.3f s of wall time; at %d Hz they take %.2f s (+-%d%%)"
            % (n, t1 - t0, TIMER_HZ, want, TOLERANCE * 100))
    t.check(t2 is not None, "sleep_ms(300) returned")
    if t2 is not None:
        t.check(abs((t2 - t1) - 0.3) <= TOLERANCE * 0.3,
                "sleep_ms(300) took %.3f s of wall time (0.3 s +-%d%%)"
                % (t2 - t1, TOLERANCE * 100))
    check_suites(t, r, ["timer:"])


@test("interrupts: an IRQ handler's line never splits another (console lock)", points=3)
def console_lock(t):
    r = t.boot(SUITES)
    boot_problems(t, r, IRQ_PROBLEMS)
    start = index_of(r, r"^irq-print: start \[{nonce}\]$")
    done = r.expect(r"^irq-print: done: (\d+) main lines, (\d+) tick lines \[{nonce}\]$")
    end = index_of(r, r"^irq-print: done: ")
    if start is None or not done:
        t.fail("the irq-print case did not run to its end: %s" % r.machine.outcome())
    main = re.compile(r"^irq-print: main line (\d{4}) the quick brown fox jumps over the lazy dog$")
    tick = re.compile(r"^irq-print: tick line (\d\d)$")
    kinds, broken = [], []
    for line in r.lines[start + 1:end]:
        if main.match(line):
            kinds.append("main")
        elif tick.match(line):
            kinds.append("tick")
        else:
            broken.append(line)
    t.check(not broken, "every line is whole%s" % (": %r is not" % broken[0][:100] if broken else ""))
    t.check(kinds.count("main") == int(done.group(1)) and kinds.count("tick") == int(done.group(2)),
            "the lines add up to what the kernel counted (%d main, %d tick; it says %s and %s)"
            % (kinds.count("main"), kinds.count("tick"), done.group(1), done.group(2)))
    inside = [i for i, k in enumerate(kinds) if k == "tick" and "main" in kinds[:i]
              and "main" in kinds[i + 1:]]
    t.check(len(inside) >= 5, "at least 5 tick lines came while main lines were printing "
            "(got %d), so the test really raced them" % len(inside))
    check_suites(t, r, ["irq-print:"])


def irq_counts(m, t, n):
    """Type `irqs` and return {line: count}. An `echo` with a marker `n`
    follows, so that the wait ends on this call's output, not an earlier
    one's."""
    mark = len(m.lines())
    m.send("irqs\r")
    m.send("echo irqs-%d %s\r" % (n, m.nonce))
    # A kernel that lost an IRQ line says so (and then cannot read what
    # is typed): stop at that line rather than wait in vain.
    got = m.wait(r"^irqs-%d {nonce}$|%s" % (n, IRQ_PROBLEMS), timeout=5)
    if not got:
        t.fail("no output from the 'irqs' command: %s" % m.outcome())
    if not got.group(0).startswith("irqs-"):
        t.fail("the kernel says: %s" % got.string[:160])
    counts = {}
    for line in m.lines()[mark:]:
        got = re.match(r"^irq (\d+) \((.*)\): (\d+)(, \d+ unclaimed)?$", line)
        if got:
            counts[int(got.group(1))] = int(got.group(3))
    return counts


@test("interrupts: PS/2 keys reach the shell by IRQ 1, with Shift and Caps Lock", points=8)
def keyboard(t):
    with t.machine(cmdline="shell", monitor=True, timeout=15) as m:
        if not m.wait(r"^fern> "):
            t.fail("no 'fern> ' prompt after boot: %s" % m.outcome())
        before = irq_counts(m, t, 1).get(1, 0)
        # "echo Hi Abc NONCE": Shift for the H, then Caps Lock on for
        # "Ab" (Shift turns Caps Lock's B back to b), off again for c.
        keys = ("e c h o spc shift-h i spc caps_lock a shift-b caps_lock c spc".split()
                + list(m.nonce) + ["ret"])
        for key in keys:
            m.monitor("sendkey %s 10" % key)
        t.check(m.wait(r"^Hi Abc {nonce}$", timeout=5) is not None,
                "typed 'echo Hi Abc <nonce>' on the keyboard prints 'Hi Abc <nonce>'")
        after = irq_counts(m, t, 2).get(1, 0)
    # Each key sends a make and a break code, each a byte and an IRQ.
    t.check(after - before >= 2 * len(keys),
            "IRQ 1 delivered a byte per make and break code: %d keys, %d IRQs (%d -> %d)"
            % (len(keys), after - before, before, after))


@test("interrupts: serial input reaches the shell by IRQ 4", points=4)
def serial_irq(t):
    with t.machine(cmdline="shell", timeout=15) as m:
        if not m.wait(r"^fern> "):
            t.fail("no 'fern> ' prompt after boot: %s" % m.outcome())
        before = irq_counts(m, t, 1).get(4, 0)
        t.check(before >= 1, "typing 'irqs' itself came by IRQ 4 (count %d)" % before)
        for word in ("serial", "by", "irq"):
            m.send("echo %s %s\r" % (word, m.nonce))
            t.check(m.wait(r"^%s {nonce}$" % word, timeout=5) is not None,
                    "'echo %s <nonce>' typed on COM1 prints '%s <nonce>'" % (word, word))
        after = irq_counts(m, t, 2).get(4, 0)
    t.check(after >= before + 3, "IRQ 4 came for each line typed: %d -> %d" % (before, after))


ktap_tests(SUITES, [
    ("interrupts: scancode set 1 becomes ASCII with Shift, Caps Lock and Ctrl", 2, ["keymap:"]),
])
