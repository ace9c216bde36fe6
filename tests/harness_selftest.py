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
from fernlab.student import student_tree, write

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


# ---- grade-student trusts only the student's kernel code -----------------
#
# Each case grades a hostile submission with tools/grade-student.sh and
# checks it gets its honest score. The trees are made here: the official
# src/ and include/, with the labs stubbed as in a handout (or not), plus
# the attack.

ROOT = os.path.dirname(HERE)
GRADE_STUDENT = os.path.join(ROOT, "tools", "grade-student.sh")


def grade_student(args, cwd):
    p = subprocess.run([GRADE_STUDENT] + args, capture_output=True, text=True, cwd=cwd,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


@test("grade-student: a submission that rewrites the grader gets its honest score")
def hostile_build_files(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        alice = student_tree(os.path.join(tmp, "alice"), stub=True)
        pwned = os.path.join(tmp, "pwned")
        # What the old script ran with the grader's rights: the student's
        # symbol-table generator; and what it might have: their Makefile
        # and tests. Each would make every test pass, and leave a mark.
        cheat = ("sed -i 's/passed = not reason and not failed_checks and bool(t.checks)"
                 "/passed = True/' tests/fernlab/grader.py ../*/tests/fernlab/grader.py; "
                 "touch %s" % pwned)
        write(os.path.join(alice, "src", "console", "ksyms.awk"),
              'BEGIN { system("%s") }\n' % cheat.replace('"', '\\"'))
        write(os.path.join(alice, "Makefile"), "$(shell %s)\niso:\n\ttouch %s\n" % (cheat, pwned))
        write(os.path.join(alice, "tests", "fernlab", "grader.py"),
              "import os\nos.system('touch %s')\n" % pwned)
        # An in-kernel test suite the student "fixed", and a change
        # outside the lab regions, which must be reported.
        write(os.path.join(alice, "src", "lib", "format_test.c"), "\n/* mine */\n", "a")
        write(os.path.join(alice, "src", "lib", "string.c"), "\n/* outside */\n", "a")
        rc, out = grade_student([alice, "2", "--out", os.path.join(tmp, "results"),
                                 "-k", "ksnprintf", "-j", "1",
                                 "--gradescope", "results.json"], cwd=tmp)
        t.check(re.search(r"^Score: 0/15\b", out, re.M) is not None and rc == 1,
                "the stubbed printf scores 0/15, status 1 (got %d: %r)"
                % (rc, [l for l in out.splitlines() if l.startswith("Score")]))
        t.check(not os.path.exists(pwned), "none of the student's build files or tests ran")
        t.check(re.search(r"not used.*Makefile.*tests/fernlab/grader\.py", out) is not None,
                "the unused Makefile and tests are named")
        t.check(re.search(r"ignored.*src/console/ksyms\.awk.*src/lib/format_test\.c", out)
                is not None, "the ignored generator and test suite are named")
        t.check(re.search(r"note: src/lib/string\.c changed outside the lab regions", out)
                is not None, "a change outside the lab regions is reported")
        path = os.path.join(tmp, "results.json")
        if t.check(os.path.isfile(path), "--gradescope results.json lands where it was run"):
            with open(path) as f:
                t.check(json.load(f)["score"] == 0, "the Gradescope score is 0")
        closes_properly(t, out)


@test("grade-student: a submission cannot embed or quote the grading machine's files")
def embeds_host_files(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        secret = os.path.join(tmp, "secret.md")
        token = "fern-secret-%d" % os.getpid()
        write(secret, "# answer key\n%s\n`quoted`\n" % token)
        bob = student_tree(os.path.join(tmp, "bob"), stub=False)
        attacks = {
            "src/boot/kmain.c": 'asm(".section .rodata\\n.incbin \\"%s\\"\\n.previous");\n' % secret,
            "src/boot/phase.c": '#include "%s"\n' % secret,
            "src/lib/exit.c": '#include "../../../%s"\n' % os.path.relpath(secret, ROOT),
            "src/lib/string.c": 'asm(".macro m a\\n.\\\\a \\"%s\\"\\n.endm\\nm incbin");\n' % secret,
            "src/boot/entry.asm": '\nsection .rodata\n%%define X incbin\nX "%s"\n' % secret,
            "src/boot/header.asm": '\n%%include "%s"\n' % secret,
        }
        for rel, text in attacks.items():
            write(os.path.join(bob, rel), text, "a")
        rc, out = grade_student([bob, "1", "--out", os.path.join(tmp, "results"),
                                 "-k", "greets", "--json", "r.json"], cwd=tmp)
        ignored = re.search(r"^grade-student: ignored.*$", out, re.M)
        for rel in attacks:
            if rel.endswith(".asm"):
                # Assembly is never taken from a student.
                t.check(ignored is not None and rel in ignored.group(0),
                        "%s is ignored" % rel)
            else:
                t.check("%s: refused by the grader" % rel in out, "%s is refused" % rel)
        logs = out
        for d, _, files in os.walk(tmp):
            for f in files:
                if f.endswith((".log", ".json")):
                    with open(os.path.join(d, f), errors="replace") as fh:
                        logs += fh.read()
        t.check(token not in logs, "the secret's text is in no output, log or result")
        t.check(re.search(r"^Score: 0/20\b", out, re.M) is not None and rc == 1,
                "the refused submission scores 0 (status %d)" % rc)
        closes_properly(t, out)


@test("grade-student: a submission that does not compile scores 0 with the compiler's message")
def does_not_compile(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        carol = student_tree(os.path.join(tmp, "carol"), stub=False)
        write(os.path.join(carol, "src", "lib", "exit.c"), "int broken(void) { return 1 }\n", "a")
        os.makedirs(os.path.join(tmp, "out"))
        rc, out = grade_student([carol, "1", "--out", os.path.join(tmp, "results"),
                                 "--json", "out/r.json", "--gradescope", "gs.json"], cwd=tmp)
        t.check(re.search(r"src/lib/exit\.c:\d+:\d+: error: expected ';'", out) is not None,
                "the compiler's message is shown")
        t.check(re.search(r"^Score: 0/100\b", out, re.M) is not None and rc == 1,
                "every test of lab 1 scores 0 (status %d)" % rc)
        closes_properly(t, out)
        try:
            with open(os.path.join(tmp, "out", "r.json")) as f:
                data = json.load(f)
            t.check(data["score"] == 0 and data["max_score"] == 100 and data["build_failed"]
                    and "expected ';'" in data["build_log"],
                    "the JSON results say 0/100, the build failed, and why")
            with open(os.path.join(tmp, "gs.json")) as f:
                data = json.load(f)
            t.check(data["score"] == 0 and "expected ';'" in data["output"],
                    "the Gradescope results hold the compiler's message")
        except (OSError, ValueError, KeyError) as e:
            t.check(False, "the results files are written and complete: %s" % e)



# grade-student grades a student's tree against the whole course (every
# chapter and lab, git's list of files); a chapter snapshot is neither, so
# grade.py leaves these out there.
for _fn in (hostile_build_files, embeds_host_files, does_not_compile):
    _fn.full_tree = True


def header_defines(path):
    """{name: value text} of the object-like macros a C header defines."""
    found = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(.+?)\s*$", line)
            if m:
                found[m.group(1)] = m.group(2)
    return found


@test("harness: its exit statuses, exit port and fw_cfg file are the C headers' values")
def constants_agree(t):
    # The kernel and the harness share these numbers and names, but the
    # harness is Python: this test is what keeps the two copies equal.
    from fernlab import qemu
    root = os.path.dirname(HERE)
    exit_h = header_defines(os.path.join(root, "include", "fern", "exit.h"))
    boot_h = header_defines(os.path.join(root, "include", "fern", "boot.h"))
    for name, want in (("FERN_EXIT_SUCCESS", qemu.EXIT_SUCCESS),
                       ("FERN_EXIT_FAILURE", qemu.EXIT_FAILURE)):
        value = exit_h.get(name)
        # isa-debug-exit: writing v makes QEMU exit with (v << 1) | 1.
        got = (int(value, 0) << 1) | 1 if value else None
        t.check(got == want, "exit.h's %s = %s gives status %s; the harness expects %d"
                % (name, value, got, want))
    port = exit_h.get("QEMU_EXIT_PORT")
    t.check(port is not None and
            any("isa-debug-exit,iobase=%s," % port in a for a in qemu.QEMU_FLAGS),
            "the harness's isa-debug-exit device is at exit.h's QEMU_EXIT_PORT (%s)" % port)
    t.check(boot_h.get("FW_CFG_CMDLINE_FILE") == '"%s"' % qemu.FW_CFG_CMDLINE,
            "boot.h's FW_CFG_CMDLINE_FILE is the harness's %r (%s)"
            % (qemu.FW_CFG_CMDLINE, boot_h.get("FW_CFG_CMDLINE_FILE")))
