"""Chapter 5 (heap): kmalloc, kfree, kcalloc, krealloc and kmalloc_aligned
on pages mapped on demand, with misuse caught and reported.

Points here are lab 5's grade. The in-kernel suites report in KTAP with the
boot's nonce. Each kind of misuse runs in a boot of its own (it stops the
kernel): the victim prints the address it is about to misuse, with the
nonce, and the heap's report must name that same address, the kind of
misuse and the victim function. Running out of memory runs under a small
-m: kmalloc must return NULL, and the kernel must go on to its summary.
The allocator core is also tested on the host, under sanitizers
(tests/host/test_heap.c, in `make check`).
"""

import re

from fernlab import Boot, EXIT_FAILURE, EXIT_SUCCESS, test
from fernlab.ktap import all_passed, check_suites, ktap_tests

ALL = Boot(cmdline="test=heap,heap-random,heap-merge,heap-api", timeout=20)
OOM_MEMORY_MIB = 16
OOM = Boot(cmdline="test=heap-oom", memory="%dM" % OOM_MEMORY_MIB, timeout=20)


ktap_tests(ALL, [
    # (test name, points, in-kernel tests it checks[, a check after them])
    ("heap: every size is aligned; zero-size and too-big requests behave", 5, ["heap:"]),
    ("heap: random kmalloc/kfree/krealloc keep every block's contents", 15, ["heap-random:"]),
    ("heap: freed blocks merge and give their pages and frames back", 20, ["heap-merge:"],
     all_passed),
    ("heap: krealloc, kcalloc and kmalloc_aligned keep their promises", 10, ["heap-api:"]),
])


def misuse(t, suite, announce, report, victim):
    """Boot test=SUITE: the victim announces an address (with the nonce);
    the report must name that address, the victim as caller, and stop the
    kernel with the failure status before the test could pass."""
    r = t.boot(Boot(cmdline="test=" + suite))
    m = r.expect(announce, "the victim announced the block it misuses")
    addr = m.group(1) if m else "[0-9a-f]+"
    what = "the report names the misuse and the block 0x%s" % addr
    if not r.find(report % addr):
        said = [l for l in r.lines if l.startswith("heap: ") and not
                re.match(r"heap: (caller |\d+ GiB of address space)", l)]
        if said:
            what += "; the kernel said %r instead" % said[0]
    r.expect(report % addr, what)
    r.expect(r"^heap: caller 0x[0-9a-f]{16} %s\+0x[0-9a-f]+$" % victim,
             "the report names the caller, %s" % victim)
    r.expect(r"^panic: heap misuse: .+$", "the kernel stops (panic)")
    r.expect(r"^  caller: 0x[0-9a-f]{16} %s\+0x[0-9a-f]+$" % victim,
             "the panic blames %s, not the function that reports the misuse" % victim)
    r.forbid(r"^ok \d+ - %s: " % suite, "the misuse went unnoticed: the test case passed")
    r.forbid(r"^not ok \d+ - %s: " % suite, "the misuse went unnoticed: kfree returned")
    r.expect_exit(EXIT_FAILURE)


@test("heap: a double free is reported with its caller", points=15)
def double_free(t):
    # Three ways to free twice, one boot each: right away (the block's
    # page is gone with the break), after the block merged with its free
    # neighbour (its header still says free), and after a merge gave its
    # header's page back (check the page before reading the header).
    misuse(t, "heap-double-free",
           r"^heap-double-free: freeing 0x([0-9a-f]+) twice \[{nonce}\]$",
           r"^heap: double free of 0x%s$", "heap_free_twice")
    misuse(t, "heap-double-free-merged",
           r"^heap-double-free-merged: freeing 0x([0-9a-f]+) twice, after it merged \[{nonce}\]$",
           r"^heap: double free of 0x%s$", "heap_free_merged_twice")
    misuse(t, "heap-double-free-unmapped",
           r"^heap-double-free-unmapped: freeing 0x([0-9a-f]+) twice, its page unmapped "
           r"\[{nonce}\]$", r"^heap: double free of 0x%s$", "heap_free_unmapped_twice")


@test("heap: freeing a pointer kmalloc never returned is reported", points=5)
def bad_pointer(t):
    misuse(t, "heap-bad-pointer",
           r"^heap-bad-pointer: freeing 0x([0-9a-f]+) \[{nonce}\]$",
           r"^heap: bad pointer 0x%s: kmalloc never returned it$", "heap_free_stack")


@test("heap: a write past the end of a block is caught by kfree", points=15)
def overrun(t):
    misuse(t, "heap-overrun",
           r"^heap-overrun: writing p\[40\] of a 40-byte block at 0x([0-9a-f]+) \[{nonce}\]$",
           r"^heap: overrun: a write past the end of the block at 0x%s$",
           "heap_write_past_end")
    # Not only the redzone's first byte: its last guaranteed one too.
    misuse(t, "heap-overrun-far",
           r"^heap-overrun-far: writing p\[47\] of a 40-byte block at 0x([0-9a-f]+) \[{nonce}\]$",
           r"^heap: overrun: a write past the end of the block at 0x%s$",
           "heap_write_far_past_end")


@test("heap: running out of memory returns NULL and the kernel carries on", points=10)
def out_of_memory(t):
    r = t.boot(OOM)
    check_suites(t, r, ["heap-oom:"])
    m = r.expect(r"^heap-oom: (\d+) blocks of 64 KiB \((\d+) KiB held\) before NULL "
                 r"\[{nonce}\]$")
    if m:
        blocks, held = int(m.group(1)), int(m.group(2))
        t.check(0 < blocks * 64 < OOM_MEMORY_MIB * 1024,
                "the blocks (%d x 64 KiB) fit in -m %dM" % (blocks, OOM_MEMORY_MIB))
        t.check(held >= blocks * 64, "the heap held at least the blocks' %d KiB (%d)"
                % (blocks * 64, held))
    if r.expect(r"^# fern tests: 1 passed, 0 failed \[{nonce}\]$",
                "the kernel survived to print its summary"):
        r.expect_exit(EXIT_SUCCESS)


STATS = [
    re.compile(r"^heap: (\d+) bytes in use \(peak (\d+)\) in (\d+) blocks; (\d+) free blocks$"),
    re.compile(r"^heap: (\d+) pages held \(peak (\d+)\); (\d+) bytes below the break$"),
    re.compile(r"^heap: (\d+) allocations, (\d+) frees, (\d+) failed allocations, "
               r"(\d+) misuse reports$"),
]


@test("heap: the shell's heap command prints consistent statistics", points=5)
def heap_command(t):
    with t.machine(cmdline="shell", timeout=15) as m:
        if not m.wait(r"^fern> "):
            t.fail("no 'fern> ' prompt after boot: %s" % m.outcome())
        m.send("heap\r")
        got = [m.wait(p.pattern, timeout=5) for p in STATS]
        m.send("heap check\r")
        t.check(m.wait(r"^heap: consistent$", timeout=5) is not None,
                "'heap check' finds the heap consistent")
        m.send("exit\r")
        m.wait_exit()
    if None in got:
        t.fail("'heap' did not print all three statistics lines")
    in_use, peak, blocks, _free = map(int, got[0].groups())
    pages, peak_pages, below = map(int, got[1].groups())
    allocs, frees, _failed, _misuse = map(int, got[2].groups())
    t.check(peak >= in_use and peak_pages >= pages, "peaks are at least the current values")
    t.check(pages * 4096 >= in_use, "the pages held hold the bytes in use")
    t.check(allocs - frees == blocks, "allocations - frees = live blocks (%d - %d vs %d)"
            % (allocs, frees, blocks))
    t.check(below >= in_use, "the heap below the break holds the bytes in use")


# Without NX, memory management does not start (tests/ch04_paging.py), so
# the heap, which needs it, must not start on the boot page tables either.
NO_NX = Boot(cmdline="exit=ready", extra=["-cpu", "qemu64,-nx"])


@test("heap: on a CPU without NX the heap is not started, and the boot goes on", points=0)
def no_nx(t):
    r = t.boot(NO_NX)
    r.expect(r"^mm: error: this CPU has no NX bit ")
    r.expect(r"^init: heap: not started: it needs mm, which did not start$")
    r.forbid(r"^heap: \d+ GiB of address space", "the heap did not start")
    r.forbid(r"^exception: ", "no exception")
    r.expect(r"^fern: ready$")
    r.expect_exit(EXIT_SUCCESS)
