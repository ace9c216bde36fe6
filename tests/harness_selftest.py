"""The harness's own tests: the fault matrix.

Each case makes a run go wrong in one known way (real broken kernels built
from tests/selftest/tiny.asm, or a fake QEMU) and checks that the harness
reports it in one line, with the right diagnosis, within its timeout.
`make check` runs these before any chapter's tests.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


# ---- a shell test that gives up waiting names the cause ------------------
#
# A test waiting for a prompt that never comes asks for the outcome while
# QEMU may just have exited or be past its deadline: the answer must be
# what happened, computed once QEMU has ended, never "still running".

def gave_up_waiting(t, machine, words):
    with machine as m:
        got = m.wait(r"^fern> ")
        outcome = m.outcome()
    t.check(got is None, "no prompt came")
    t.check(all(w in outcome for w in words) and "still running" not in outcome,
            "the outcome names %s: %r" % (" and ".join(map(repr, words)), outcome))


@test("harness: a test waiting on a kernel that triple faults is told so")
def wait_triple_fault(t):
    gave_up_waiting(t, Machine(broken_iso("triple_fault"), timeout=10, nonce=""),
                    ["triple fault"])


@test("harness: a test waiting on a kernel that resets is told so")
def wait_reset(t):
    gave_up_waiting(t, Machine(real_iso(), timeout=5, qemu=FAKE + ["reset"]),
                    ["machine reset", "working..."])


@test("harness: a test waiting on a silent kernel is told so")
def wait_silent(t):
    gave_up_waiting(t, Machine(real_iso(), timeout=1, qemu=FAKE + ["silent"]),
                    ["silent", "no output"])


# ---- the grader never breaks ---------------------------------------------

GRADE = [sys.executable, os.path.join(HERE, "grade.py")]
FAKE_BIN = os.path.join(HERE, "selftest", "fake_qemu.py")


def run_grader(args, env=None, cwd=None, timeout=60):
    full = dict(os.environ)
    full.pop("FERN_TIMEOUT_SCALE", None)
    full.update(env or {})
    p = subprocess.run(GRADE + args, capture_output=True, text=True, env=full,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def closes_properly(t, out):
    lines = out.strip().splitlines()
    t.check(len(lines) >= 2 and re.match(r"^Score: \d+/\d+", lines[-2]) is not None
            and re.match(r"^\d+ passed, \d+ failed$", lines[-1]) is not None,
            "the last lines are the score and 'N passed, N failed': %r" % lines[-2:])


@test("harness: a bad FERN_TIMEOUT_SCALE is refused with a message")
def bad_timeout_scale(t):
    for value in ("0", "-1", "abc", "nan"):
        rc, out = run_grader(["--lab", "1", "--list"], {"FERN_TIMEOUT_SCALE": value})
        t.check(rc == 2 and "FERN_TIMEOUT_SCALE" in out and "Traceback" not in out,
                "FERN_TIMEOUT_SCALE=%s: status 2 and a message (got %d: %r)"
                % (value, rc, out.strip()[-120:]))


@test("harness: a timeout scaled below 1 is announced and named in the outcome")
def short_timeout_scale(t):
    old = os.environ.get("FERN_TIMEOUT_SCALE")
    os.environ["FERN_TIMEOUT_SCALE"] = "0.5"
    try:
        with Machine(real_iso(), timeout=1, qemu=FAKE + ["silent"]) as m:
            m.wait_exit()
        outcome = m.outcome()
    finally:
        if old is None:
            del os.environ["FERN_TIMEOUT_SCALE"]
        else:
            os.environ["FERN_TIMEOUT_SCALE"] = old
    t.check("FERN_TIMEOUT_SCALE=0.5" in outcome, "the outcome says the timeout was "
            "shortened: %r" % outcome)
    rc, out = run_grader(["--lab", "1", "-k", "greets from", "--iso", real_iso(), "-j", "1"],
                         {"FERN_TIMEOUT_SCALE": "0.5", "FERN_QEMU": FAKE_BIN,
                          "FERN_FAKE_QEMU": "reset"})
    t.check(re.search(r"^note: FERN_TIMEOUT_SCALE=0.5: .*may now time out", out, re.M)
            is not None, "the grader announces the shortened timeouts")


@test("harness: a missing QEMU is said once, not once per test")
def qemu_missing_once(t):
    rc, out = run_grader(["--lab", "1", "--iso", real_iso()],
                         {"FERN_QEMU": "/nonexistent/qemu-system-x86_64"})
    t.check(out.count("QEMU not found") == 1, "'QEMU not found' appears once (%d times)"
            % out.count("QEMU not found"))
    t.check(rc == 1 and "Traceback" not in out, "status 1, no traceback")
    closes_properly(t, out)


@test("harness: an unwritable log folder is one warning; results land where asked")
def unwritable_logs(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        blocker = os.path.join(tmp, "build")       # a file where a folder should be
        open(blocker, "w").close()
        rc, out = run_grader(["--lab", "1", "-k", "greets", "--iso",
                              os.path.abspath(real_iso()), "-j", "1",
                              "--log-dir", "build/test-logs", "--json", "r.json",
                              "--gradescope", "sub/results.json"],
                             {"FERN_QEMU": FAKE_BIN, "FERN_FAKE_QEMU": "reset"}, cwd=tmp)
        warnings = [l for l in out.splitlines() if l.startswith("warning:")]
        t.check(len(warnings) == 1 and "not saved" in warnings[0],
                "one warning line about the logs: %r" % warnings)
        t.check("Traceback" not in out, "no traceback")
        closes_properly(t, out)
        t.check(os.path.isfile(os.path.join(tmp, "r.json")),
                "--json r.json is written in the folder the grader was run in")
        t.check("cannot write %s" % os.path.join(tmp, "sub", "results.json") in out,
                "an unwritable --gradescope path is named in one line")
