"""The served image: what `make`, `make iso` and `make run` build.

It is the newest chapter's kernel without the in-kernel test suites
(KTESTS=0: no *_test.c, no *_bench.c), so it is the kernel whose size the
budget counts and, from chapter 8 on, the one that serves HTTP. Every
chapter's own tests run on that chapter's image (build/chN/fern.iso, with
the suites); these check what is different about the served one: that it
still boots, that asking it for tests is answered rather than ignored, and
that no test code is linked into it. `make check` runs them on
build/fern.iso.
"""

import os
import re
import subprocess

from fernlab import Boot, EXIT_FAILURE, EXIT_SUCCESS, test

READY = Boot(cmdline="exit=ready")
TESTS = Boot(cmdline="test=all")


def test_table(elf):
    """(start, end) addresses of the `.ktests` table in `elf`, from nm."""
    out = subprocess.run(["nm", elf], capture_output=True, text=True,
                         timeout=30).stdout
    found = dict((m.group(2), int(m.group(1), 16)) for m in
                 re.finditer(r"^([0-9a-f]+) \w (__ktests_(?:start|end))$", out, re.M))
    return found.get("__ktests_start"), found.get("__ktests_end")


@test("served image: boots to 'fern: ready' and ends when asked")
def boots(t):
    r = t.boot(READY)
    r.expect(r"^memory: \d+ KiB usable$")
    r.expect(r"^fern: ready$")
    r.expect_exit(EXIT_SUCCESS)


@test("served image: test=all says the tests are not built in")
def asks_for_tests(t):
    r = t.boot(TESTS)
    r.expect(r"^# error: this image has no in-kernel tests \(KTESTS=0\)",
             "the kernel says it has no tests")
    r.forbid(r"^(not )?ok \d+ ", "no test case ran")
    r.forbid(r"^1\.\.\d+", "no test plan was printed")
    r.expect_exit(EXIT_FAILURE)


# Chapter 1 has no test runner and no tests: its served image and its
# chapter image are the same kernel, and the two checks above and below
# have nothing to look at (grade.py leaves them out there).
asks_for_tests.needs_ktests = True


@test("served image: no test case is linked in (nm of build/fern.elf)")
def no_test_code(t):
    served = os.path.join("build", "fern.elf")
    chapter = os.path.join("build", "ch%d" % t.chapter, "fern.elf")
    for elf in (served, chapter):
        if not os.path.exists(elf):
            t.fail("%s is missing (make check builds it)" % elf)
    start, end = test_table(served)
    t.check(start is not None and start == end,
            "the served image's .ktests table is empty (%s..%s)"
            % (start and hex(start), end and hex(end)))
    # The same measurement on the chapter's image must see its tests, or
    # the check above proves nothing.
    start, end = test_table(chapter)
    t.check(start is not None and end is not None and end > start,
            "chapter %d's own image has a non-empty .ktests table" % t.chapter)


no_test_code.needs_ktests = True
