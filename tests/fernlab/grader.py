"""Declare tests, run them, and report like xv6's gradelib.

A test file (tests/chNN_*.py) declares tests with the @test decorator:

    READY = Boot(cmdline="exit=ready")

    @test("boot: prints the memory total", points=10)
    def memory_total(t):
        r = t.boot(READY)
        r.expect(r"^memory: \\d+ KiB usable$")

Each test gets a context `t`. `t.boot(spec)` boots the chapter's ISO once
per spec and per grading run (tests that share a spec share the boot) and
returns a Run, on which `expect`, `forbid` and `expect_exit` record GOOD,
BAD or MISSING. `t.machine(...)` gives a live Machine to type on COM1 or
query the monitor. A test fails if any check failed or it raised Fail.
"""

import os
import re
import threading
import time

from .qemu import (EXIT_FAILURE, EXIT_NAMES, EXIT_SUCCESS, DEFAULT_MEMORY,
                   HarnessError, Machine, compile_pattern)

REGISTRY = []          # every declared Test, in declaration order


class Fail(Exception):
    """Raised by a test to stop with a one-line reason."""


class Test:
    def __init__(self, fn, name, points, chapter, module, timeout, group=None):
        self.fn = fn
        self.name = name
        self.points = points
        self.chapter = chapter
        self.module = module
        self.timeout = timeout
        self.group = group


def test(name, points=0, timeout=None, group=None):
    """Declare a test. `points` is what it is worth in its lab's grade.
    Tests of one `group` (a name) run one after the other, in the order
    declared, on one of the grader's workers: tests that share a boot, so
    that they neither race for it nor hold a second worker idle while
    they wait for it."""
    def register(fn):
        module = fn.__module__
        m = re.match(r"ch(\d+)_", module.split(".")[-1])
        chapter = int(m.group(1)) if m else 0
        REGISTRY.append(Test(fn, name, points, chapter, module, timeout,
                             group and "%s:%s" % (module, group)))
        return fn
    return register


class Boot:
    """What one boot looks like: memory size, extra kernel options, the
    line that ends the run early (or None to wait for QEMU to exit), a
    timeout in seconds, and QEMU monitor commands to run once `until` is
    seen (their output is in Run.monitor_output)."""

    def __init__(self, cmdline="", memory=DEFAULT_MEMORY, until=None,
                 timeout=10, extra=(), monitor=()):
        self.cmdline = cmdline
        self.memory = memory
        self.until = until
        self.timeout = timeout
        self.extra = tuple(extra)
        self.monitor = tuple(monitor)

    def key(self):
        return (self.cmdline, self.memory, self.until, self.timeout, self.extra,
                self.monitor)

    def describe(self):
        opts = ["-m %s" % self.memory] + list(self.extra)
        if self.cmdline:
            opts.append("options %r" % self.cmdline)
        return " ".join(opts)


class Run:
    """A finished boot and the checks made on its COM1 output."""

    def __init__(self, machine, checks):
        self.machine = machine
        self.nonce = machine.nonce
        self.lines = [l for l in machine.lines()]
        # {command: output} of the Boot's monitor commands.
        self.monitor_output = dict(getattr(machine, "monitor_output", {}))
        self.times = list(machine.line_times)   # when each line ended
        # The lines of QEMU trace events the Boot enabled (extra=["-trace",
        # "enable=NAME"]): the devices' side of the story.
        self.trace = list(getattr(machine, "trace", []))
        self.checks = checks      # shared with the test context

    def find(self, pattern):
        """All matches of `pattern` (one per matching line), without
        recording a check."""
        regex = compile_pattern(pattern, self.nonce)
        return [m for m in (regex.search(l) for l in self.lines) if m]

    def when(self, pattern):
        """The time.monotonic() at which the first line matching `pattern`
        arrived on COM1, or None: lets a test time the kernel with the
        harness's own clock."""
        regex = compile_pattern(pattern, self.nonce)
        for i, line in enumerate(self.lines):
            if regex.search(line) and i < len(self.times):
                return self.times[i]
        return None

    def expect(self, pattern, what=None):
        """Record GOOD if a line matches `pattern`, else MISSING. Returns
        the first match or None."""
        found = self.find(pattern)
        self.checks.append(("GOOD" if found else "MISSING", what or pattern))
        return found[0] if found else None

    def forbid(self, pattern, what=None):
        """Record BAD if any line matches `pattern`."""
        found = self.find(pattern)
        if found:
            self.checks.append(("BAD", "%s  (line %r)" % (what or pattern,
                                                         found[0].string[:100])))
        return not found

    def expect_exit(self, status):
        """Record whether QEMU ended with the kernel's `status` (33 or 35)."""
        got = self.machine.exit_status
        if got == status and self.machine.killed_for is None:
            self.checks.append(("GOOD", "exit status %s" % EXIT_NAMES[status]))
            return True
        self.checks.append(("BAD", "expected exit status %s; got: %s" % (
            EXIT_NAMES.get(status, status), self.machine.outcome())))
        return False


class Context:
    """What a test function gets as `t`."""

    def __init__(self, grading, test):
        self.grading = grading
        self.test = test
        self.iso = grading.iso
        self.chapter = grading.chapter
        self.checks = []
        self.runs = []

    def boot(self, spec):
        machine = self.grading.boot(spec)
        self.runs.append(machine)
        return Run(machine, self.checks)

    def machine(self, cmdline="", memory=DEFAULT_MEMORY, timeout=10,
                extra=(), monitor=False):
        """A live Machine (use with `with`): the test drives it."""
        m = Machine(self.iso, memory=memory, cmdline=cmdline, timeout=timeout,
                    extra=extra, monitor=monitor, qemu=self.grading.qemu)
        self.runs.append(m)
        return m

    def check(self, ok, what):
        """Record a custom check: GOOD if `ok`, BAD otherwise."""
        self.checks.append(("GOOD" if ok else "BAD", what))
        return ok

    def fail(self, why):
        raise Fail(why)


class Result:
    def __init__(self, test, passed, seconds, reason="", checks=(), log=None,
                 tail=(), outcome=""):
        self.test = test
        self.passed = passed
        self.seconds = seconds
        self.reason = reason
        self.checks = list(checks)
        self.log = log
        self.tail = list(tail)
        self.outcome = outcome

    @property
    def score(self):
        return self.test.points if self.passed else 0


class Grading:
    """One set of tests against one ISO."""

    def __init__(self, iso, chapter, log_dir, qemu=None, label=""):
        self.iso = iso
        self.chapter = chapter
        self.log_dir = log_dir
        self.qemu = qemu
        self.label = label
        self._boots = {}
        self._lock = threading.Lock()

    def boot(self, spec):
        """Boot once per spec; later callers wait for the first."""
        with self._lock:
            entry = self._boots.get(spec.key())
            if entry is None:
                entry = self._boots[spec.key()] = [threading.Event(), None, None]
                owner = True
            else:
                owner = False
        event = entry[0]
        if owner:
            try:
                entry[1] = run_boot(self.iso, spec, self.qemu)
            except HarnessError as e:
                entry[2] = e
            event.set()
        event.wait()
        if entry[2]:
            raise entry[2]
        return entry[1]

    def run(self, test):
        t = Context(self, test)
        start = time.monotonic()
        reason = ""
        try:
            test.fn(t)
        except Fail as e:
            reason = str(e)
        except HarnessError as e:
            reason = str(e)
        except TimeoutError as e:
            # A socket wait of the test ran out: the kernel did not answer.
            reason = ("no answer from the kernel on the network in time (%s); with QEMU's user "
                      "networking a connection is accepted before the kernel sees it, so this "
                      "is also what a handshake that never completes looks like" % (e or "timed out"))
        except ConnectionError as e:
            reason = "the kernel's end of a connection failed: %s: %s" % (type(e).__name__, e)
        except Exception as e:  # a bug in a test: one line, not a traceback
            reason = "harness error in the test: %s: %s" % (type(e).__name__, e)
            if os.environ.get("FERN_DEBUG"):
                raise
        finally:
            for m in t.runs:
                if m.proc is not None and m.exit_status is None:
                    m.stop()
        seconds = time.monotonic() - start
        failed_checks = [c for c in t.checks if c[0] != "GOOD"]
        passed = not reason and not failed_checks and bool(t.checks)
        if not reason and not t.checks:
            reason = "the test made no checks"
        result = Result(test, passed, seconds, reason, t.checks)
        if not passed:
            runs = [m for m in t.runs if m.start_time is not None]
            if runs:
                m = runs[-1]
                result.outcome = m.outcome()
                result.tail = [l for l in m.lines() if l.strip()][-12:]
                result.log = self.save_log(test, runs)
        return result

    def save_log(self, test, machines):
        """Write the serial logs of a failing test; return the path, or
        None if the log folder cannot be written (a read-only build/): the
        grade does not depend on the log, so that is a warning, noted once
        in LOG_PROBLEMS for the grader to print."""
        slug = re.sub(r"[^a-z0-9]+", "-", test.name.lower()).strip("-")[:60]
        path = os.path.join(self.log_dir, "%s%s.log" % (
            (self.label + "-") if self.label else "", slug))
        text = "".join(m.log_text() + "\n" for m in machines)
        return write_log(path, text)


# Why logs could not be written: {folder: error}, printed once by the grader.
LOG_PROBLEMS = {}
_log_lock = threading.Lock()


def write_log(path, text):
    """Write `text` to `path` (making its folder); return the path, or None
    after recording the problem in LOG_PROBLEMS."""
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path
    except OSError as e:
        with _log_lock:
            LOG_PROBLEMS.setdefault(folder, e.strerror or str(e))
        return None


def run_boot(iso, spec, qemu=None):
    m = Machine(iso, memory=spec.memory, cmdline=spec.cmdline,
                timeout=spec.timeout, extra=spec.extra, qemu=qemu,
                monitor=bool(spec.monitor))
    with m:
        if spec.until:
            if m.wait(spec.until):
                # Let the line's neighbours arrive, then stop.
                time.sleep(0.05)
                m.monitor_output = {c: m.monitor(c) for c in spec.monitor}
                m.stop("seen %r" % spec.until)
            else:
                m.stop("timeout" if m.proc.poll() is None else "ended")
                if m.killed_for == "ended":
                    m.killed_for = None
        else:
            m.wait_exit()
    return m

