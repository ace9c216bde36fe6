"""Read the kernel's KTAP test report and turn it into grader checks.

The in-kernel test framework (include/fern/ktest.h) prints

    KTAP version 1
    1..12
    # multiboot2.c:88: expected ..., got ...
    not ok 3 - boot: a tag past the end stops the walk [1a2b3c4d]
    ok 4 - printf: %lx of ULONG_MAX [1a2b3c4d]
    # fern tests: 11 passed, 1 failed [1a2b3c4d]

with the boot's nonce on every result line, then exits through the exit
device: success only if every selected test passed.

Most tests of an in-kernel suite only boot the chapter and check that
suite's results. A chapter file declares them as a table, in the place
where they run:

    ktap_tests(ALL, [
        # (test name, points, in-kernel tests it checks)
        ("console: in-kernel string tests pass", 5, ["string:"]),
        ("console: in-kernel ksnprintf tests pass", 15, ["printf:"]),
    ])

A test that checks more than that stays a function that calls
check_suites() itself.
"""

import re
import sys

from .grader import test
from .qemu import EXIT_SUCCESS

RESULT = re.compile(r"^(ok|not ok) (\d+) - (.*?)(?: \[([0-9a-f]+)\])?$")
PLAN = re.compile(r"^1\.\.(\d+)$")
SUMMARY = re.compile(r"^# fern tests: (\d+) passed, (\d+) failed(?: \[([0-9a-f]+)\])?$")


class Report:
    def __init__(self, lines, nonce):
        self.nonce = nonce
        self.planned = None
        self.results = []          # (ok, number, name, diagnostics)
        self.summary = None
        self.foreign = []          # result lines without this boot's nonce
        pending = []
        started = False
        for line in lines:
            if line.startswith("KTAP version"):
                started = True
                continue
            if not started:
                continue
            m = PLAN.match(line)
            if m and self.planned is None:
                self.planned = int(m.group(1))
                continue
            m = RESULT.match(line)
            if m:
                if m.group(4) != nonce:
                    self.foreign.append(line)
                    continue
                self.results.append((m.group(1) == "ok", int(m.group(2)),
                                     m.group(3), pending))
                pending = []
                continue
            m = SUMMARY.match(line)
            if m and m.group(3) == nonce:
                self.summary = (int(m.group(1)), int(m.group(2)))
                continue
            if line.startswith("#"):
                pending.append(line)
            elif line.startswith(("panic:", "    #", "  caller:", "  backtrace")) \
                    or "exception" in line:
                pending.append(line)
        self.trailing = pending    # what came after the last result (a crash report)

    def names(self):
        return [name for _, _, name, _ in self.results]

    def crashed_after(self):
        """The last test that reported, if the kernel stopped before the plan
        was done; None if all planned tests reported."""
        if self.planned is not None and len(self.results) >= self.planned \
                and self.summary is not None:
            return None
        return self.results[-1][2] if self.results else "(before the first test)"


def check_suites(t, run, prefixes):
    """Record one check per in-kernel test whose name starts with one of
    `prefixes`, plus checks that the report is complete and the exit status
    agrees. Returns the Report."""
    rep = Report(run.lines, run.nonce)
    t.check(rep.planned is not None, "the kernel printed a KTAP plan (1..N)")
    selected = [r for r in rep.results if r[2].startswith(tuple(prefixes))]
    t.check(bool(selected), "in-kernel tests named %s ran" % " or ".join(
        repr(p + "...") for p in prefixes))
    for ok, number, name, diag in selected:
        detail = "" if ok else "  " + " / ".join(d.lstrip("# ") for d in diag[-3:])
        t.check(ok, "%s %d - %s%s" % ("ok" if ok else "not ok", number, name, detail))
    crashed = rep.crashed_after()
    if crashed:
        planned = "no KTAP plan" if rep.planned is None else "%d of %d reported" % (
            len(rep.results), rep.planned)
        t.check(False, "the kernel crashed or stopped after test %r (%s); %s"
                % (crashed, planned, " / ".join(rep.trailing[:3]) or run.machine.outcome()))
    if rep.foreign:
        t.check(False, "result lines without this boot's nonce: %r" % rep.foreign[0])
    return rep


def all_passed(t, run):
    """What a table row may check after its suites (a fourth element): the
    boot's summary says no selected in-kernel test failed, and then QEMU
    exited with success."""
    if run.expect(r"^# fern tests: (\d+) passed, 0 failed \[{nonce}\]$",
                  "every selected in-kernel test passed"):
        run.expect_exit(EXIT_SUCCESS)


def ktap_tests(boot, rows):
    """Declare one test per row: (name, points, prefixes), or (name,
    points, prefixes, also) with `also(t, run)` a check made after them,
    such as all_passed. Each test boots `boot` (shared, like every
    t.boot) and check_suites() the in-kernel tests named `prefixes`. The
    tests are declared here, in the rows' order, between the tests of the
    file above and below the table."""
    module = sys._getframe(1).f_globals["__name__"]
    for row in rows:
        if not (isinstance(row, tuple) and len(row) in (3, 4)):
            raise TypeError("ktap_tests: a row is (name, points, [prefixes]) with an optional "
                            "check after them; got %r" % (row,))
        name, points, prefixes = row[:3]
        also = row[3] if len(row) == 4 else None
        if not isinstance(points, int):
            raise TypeError("ktap_tests: %r: points is a whole number; got %r" % (name, points))
        if not isinstance(prefixes, (list, tuple)) or not prefixes \
                or not all(isinstance(p, str) for p in prefixes):
            raise TypeError("ktap_tests: %r: the prefixes are a list of strings, "
                            "e.g. [\"heap:\"]; got %r" % (name, prefixes))
        test(name, points=points)(_suite_test(module, boot, prefixes, also))


def _suite_test(module, boot, prefixes, also):
    def run_suites(t):
        run = t.boot(boot)
        check_suites(t, run, prefixes)
        if also is not None:
            also(t, run)
    # test() reads the chapter from the module that declares the test.
    run_suites.__module__ = module
    return run_suites
