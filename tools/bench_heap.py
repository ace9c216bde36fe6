#!/usr/bin/env python3
"""`make bench-heap`: the kernel heap's speed and fragmentation, in QEMU.

    python3 tools/bench_heap.py [--runs 5] [--iso build/fern.iso] [--json FILE]

Boots the kernel --runs times with `test=heap-bench` (src/mm/heap_bench.c),
which prints two lines:

    heap-bench: throughput: O operations, A allocations in T ms: R allocations/s, C cycles per operation
    heap-bench: fragmentation: H KiB held for U KiB in use in B blocks: F

1. Throughput: a mixed workload (75% of blocks 16..256 bytes, 22% up to
   4 KiB, 3% up to 32 KiB; frees and kreallocs mixed in, about 250 blocks
   live) for one second of the PIT's ticks: allocations per second, and
   TSC cycles per operation. Under QEMU's TCG these are emulated cycles:
   compare figures from one machine, not across machines.
2. Fragmentation: after a fixed random sequence of 20000 operations of
   the same mix, the bytes of the pages the heap holds divided by the bytes
   its live blocks asked for (1.00 would be no overhead at all).

Prints the median of each figure and writes them, with every run's, to
build/bench-heap.json. A benchmark, not a test: nothing fails on a number;
the exit status is 1 only if no run printed its figures.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fernlab.qemu import HarnessError, Machine, qemu_binary  # noqa: E402

THROUGHPUT = re.compile(r"^heap-bench: throughput: (\d+) operations, (\d+) allocations "
                        r"in (\d+) ms: (\d+) allocations/s, (\d+) cycles per operation$")
FRAGMENTATION = re.compile(r"^heap-bench: fragmentation: (\d+) KiB held for (\d+) KiB "
                           r"in use in (\d+) blocks: (\d+\.\d+)$")


def run_once(iso, timeout):
    """One boot; a dict of figures, or a string saying what went wrong."""
    with Machine(iso, cmdline="test=heap-bench", nonce="", timeout=timeout) as m:
        m.wait_exit()
        lines = m.lines()
        outcome = m.outcome()
    t = next(filter(None, map(THROUGHPUT.match, lines)), None)
    f = next(filter(None, map(FRAGMENTATION.match, lines)), None)
    if not t or not f:
        return "no figures (%s)" % outcome
    return {"operations": int(t.group(1)), "allocations": int(t.group(2)),
            "ms": int(t.group(3)), "allocations_per_s": int(t.group(4)),
            "cycles_per_op": int(t.group(5)), "held_kib": int(f.group(1)),
            "in_use_kib": int(f.group(2)), "blocks": int(f.group(3)),
            "fragmentation": float(f.group(4))}


def qemu_version():
    try:
        out = subprocess.run([qemu_binary(), "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--iso", default=os.path.join("build", "fern.iso"))
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--json", default=os.path.join("build", "bench-heap.json"))
    args = ap.parse_args()
    os.chdir(ROOT)

    runs, failures = [], []
    for i in range(max(args.runs, 1)):
        if sys.stdout.isatty():
            print("\r  run %d/%d" % (i + 1, args.runs), end="", flush=True)
        try:
            r = run_once(args.iso, args.timeout)
        except HarnessError as e:
            r = str(e)
        (runs if isinstance(r, dict) else failures).append(r)
    if sys.stdout.isatty():
        print("\r%-30s\r" % "", end="")
    for f in failures:
        print("run failed: %s" % f)
    if not runs:
        print("error: no run printed the heap's figures (is %s a chapter-5 kernel?)"
              % args.iso)
        return 1

    def median(key):
        return statistics.median(r[key] for r in runs)

    print("heap benchmark: %s, %d run%s (median), load average %.1f on %d CPUs" % (
        args.iso, len(runs), "" if len(runs) == 1 else "s", os.getloadavg()[0],
        os.cpu_count() or 1))
    print("  allocations per second   %10.0f   (%s)" % (
        median("allocations_per_s"), ", ".join(str(r["allocations_per_s"]) for r in runs)))
    print("  cycles per operation     %10.0f   (TSC, emulated)" % median("cycles_per_op"))
    print("  fragmentation            %10.2f   (%d KiB held for %d KiB in use, %d blocks)" % (
        median("fragmentation"), runs[0]["held_kib"], runs[0]["in_use_kib"],
        runs[0]["blocks"]))
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"),
                   "qemu": qemu_version(), "machine": platform.machine(),
                   "cpus": os.cpu_count(), "load": os.getloadavg()[0],
                   "iso": args.iso,
                   "median": {k: median(k) for k in ("allocations_per_s", "cycles_per_op",
                                                     "fragmentation")},
                   "runs": runs, "failures": failures}, f, indent=2)
    print("  written to %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
