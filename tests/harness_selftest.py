"""The harness's own tests: the fault matrix.

Each case makes a run go wrong in one known way (real broken kernels built
from tests/selftest/tiny.asm, or a fake QEMU) and checks that the harness
reports it in one line, with the right diagnosis, within its timeout.
`make check` runs these before any chapter's tests.
"""

import os
import sys
import time

from fernlab import Boot, HarnessError, Machine, test
from fernlab.grader import Grading, Run

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = [sys.executable, os.path.join(HERE, "selftest", "fake_qemu.py")]
SLACK = 3.0   # seconds a run may take beyond its timeout (killing, joining)


def broken_iso(mode):
    return os.path.join("build", "selftest", "%s.iso" % mode)


def real_iso():
    return os.path.join("build", "fern.iso")


def diagnose(t, machine, words, timeout):
    """Run `machine` to its end; check the outcome names all of `words`
    and that it took no longer than its timeout allows."""
    start = time.monotonic()
    with machine as m:
        m.wait_exit()
    took = time.monotonic() - start
    outcome = m.outcome()
    t.check(all(w in outcome for w in words),
            "outcome mentions %s: %r" % (" and ".join(repr(w) for w in words), outcome))
    t.check(took <= timeout + SLACK, "ended after %.1f s (timeout %.0f s)" % (took, timeout))
    return m


@test("harness: a triple fault is reported as a triple fault")
def triple_fault(t):
    diagnose(t, Machine(broken_iso("triple_fault"), timeout=10, nonce=""),
             ["triple fault", "working..."], 10)


@test("harness: a silent kernel is reported as silent")
def silent(t):
    diagnose(t, Machine(broken_iso("silent"), timeout=2, nonce=""),
             ["silent", "no output"], 2)


@test("harness: a hung kernel is a timeout naming the last line")
def hang(t):
    # Long enough for GRUB to start the kernel on a loaded machine.
    diagnose(t, Machine(broken_iso("hang"), timeout=5, nonce=""),
             ["timeout", "hung", "working..."], 5)


@test("harness: an output flood is cut off and reported")
def flood(t):
    m = diagnose(t, Machine(broken_iso("flood"), timeout=20, nonce=""),
                 ["output flood"], 20)
    t.check(len(m.output) <= 1 << 20, "captured output is capped (%d bytes)" % len(m.output))


@test("harness: a kernel idling after ready is told apart from a hang")
def ready_then_idle(t):
    diagnose(t, Machine(real_iso(), timeout=3), ["idled after 'fern: ready'"], 3)


@test("harness: a wrong exit status is reported with its meaning")
def wrong_exit(t):
    g = Grading(real_iso(), 1, os.path.join("build", "test-logs"),
                qemu=FAKE + ["wrong-exit"])
    r = g.boot(Boot(cmdline="exit=ready"))
    checks = []
    Run(r, checks).expect_exit(33)
    t.check(checks and checks[0][0] == "BAD" and "failure (35" in checks[0][1],
            "exit 35 where 33 was expected is BAD and explained: %r" % (checks,))


@test("harness: QEMU's own error message is passed on")
def qemu_error(t):
    diagnose(t, Machine(real_iso(), timeout=5, qemu=FAKE + ["qemu-error"]),
             ["QEMU failed", "Could not open"], 5)


@test("harness: a missing QEMU is one clear line")
def missing_qemu(t):
    try:
        with Machine(real_iso(), qemu="/nonexistent/qemu-system-x86_64"):
            pass
        t.check(False, "starting a missing QEMU raised an error")
    except HarnessError as e:
        t.check("QEMU not found" in str(e) and "qemu-system-x86" in str(e),
                "the error names the package: %r" % str(e))


@test("harness: a missing ISO is one clear line")
def missing_iso(t):
    try:
        with Machine("build/no-such.iso"):
            pass
        t.check(False, "booting a missing ISO raised an error")
    except HarnessError as e:
        t.check("ISO not found" in str(e) and "make" in str(e),
                "the error says how to build it: %r" % str(e))


@test("harness: FERN_TIMEOUT_SCALE stretches every timeout")
def timeout_scale(t):
    old = os.environ.get("FERN_TIMEOUT_SCALE")
    os.environ["FERN_TIMEOUT_SCALE"] = "2.5"
    try:
        m = Machine(real_iso(), timeout=2)
    finally:
        if old is None:
            del os.environ["FERN_TIMEOUT_SCALE"]
        else:
            os.environ["FERN_TIMEOUT_SCALE"] = old
    t.check(m.timeout == 5.0, "a 2 s timeout scaled by 2.5 is 5 s (got %s)" % m.timeout)
