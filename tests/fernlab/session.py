"""Sessions: one live boot shared by several tests, and the shell.

A session starts its kernel for the first test that uses it and keeps it
running for the tests after it (chapter 7 and 8's network tests, so that
a lab stays within its time budget). If the kernel dies in one test, the
later ones say so rather than boot again. Tests of one session hold its
lock (`@serially`) and are one group of the grader, run in order on one
worker (`@test(..., group=NAME)`).
"""

import atexit
import functools
import threading
import time

from fernlab.qemu import timeout_scale

PROMPT = "fern> "


# -- sessions: one live boot shared by several tests ----------------------

class View:
    """A session's machine as a test's run: logged if the test fails,
    but not stopped when it ends (proc None), since later tests use it."""

    def __init__(self, m):
        self._m = m
        self.proc = None
        self.exit_status = 0
        self.start_time = m.start_time

    def __getattr__(self, name):
        return getattr(self._m, name)


class Session:
    def __init__(self, make):
        self.make = make
        # Held for the whole of each test that uses the session (the
        # grader runs tests in parallel threads; two typing into one shell
        # would interleave their characters).
        self.lock = threading.RLock()
        self.machine = self.peer = self.error = None
        self.pcap = None

    def use(self, t):
        """Start the session the first time; give the test its parts."""
        self.iso, self.qemu = t.iso, t.grading.qemu
        if self.machine is None and self.error is None:
            try:
                self.make(self)
            except Exception as e:
                self.error = str(e)
                self.stop()
        if self.error:
            t.fail(self.error)
        t.runs.append(View(self.machine))
        if self.machine.proc.poll() is not None:
            t.fail("the kernel is no longer running (it died in an earlier test of this "
                   "boot; see its log): %s" % self.machine.outcome())
        return self.machine

    def stop(self):
        if self.machine is not None and self.machine.exit_status is None:
            self.machine.stop()
        if self.peer is not None:
            self.peer.__exit__(None, None, None)
            self.peer = None


SESSIONS = []


def serially(s):
    """Run the decorated test holding session `s`'s lock: one test at a
    time talks to a session's kernel."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(t):
            with s.lock:
                return fn(t)
        return run
    return wrap


def session(make):
    s = Session(make)
    SESSIONS.append(s)
    return s


@atexit.register
def _stop_sessions():
    for s in SESSIONS:
        s.stop()


def command(t, m, line, timeout=8):
    """Type `line` into the kernel's shell and return what it printed
    before the next prompt (without the echoed line)."""
    mark = len(m.text())
    m.send(line + "\r")
    deadline = time.monotonic() + timeout * timeout_scale()
    while time.monotonic() < deadline:
        out = m.text()[mark:]
        nl = out.find("\n")
        if nl >= 0 and out.endswith(PROMPT):
            return out[nl + 1:-len(PROMPT)]
        if m.proc.poll() is not None:
            break
        time.sleep(0.05)
    t.fail("the shell did not finish %r within %d s (%s)" % (line, timeout, m.outcome()
                                                             if m.proc.poll() is not None
                                                             else "no prompt came back"))
