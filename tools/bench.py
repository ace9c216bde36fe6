#!/usr/bin/env python3
"""`make bench`: what fern costs, measured against what it cannot avoid.

    python3 tools/bench.py [--runs 5] [--warmup 1] [--no-graders] [--json FILE]

Four figures per chapter, printed as tables and written to build/bench.json
with the QEMU version, the machine and the date (docs/performance.md says
what each one means and keeps their history):

1. Boot to ready: wall seconds from QEMU's launch to the kernel's
   `fern: ready` line on COM1, over --runs boots, and the same for the
   floor, a Multiboot2 stub that prints one line (tests/selftest/tiny.asm, mode FLOOR)
   booted through the same GRUB ISO path. The headline is the ratio
   chapter / floor: the speed of the machine cancels out. The boots are
   interleaved (floor, ch1, ch2, floor, ch1, ...) so that a drift in the
   machine's load touches every kernel alike.
2. Where the time goes: the kernel boots with `bench` on its command line
   and prints `phase: NAME N cycles` lines (src/boot/phase.c); the median
   per phase.
3. Image size: the stripped kernel ELF, its text/data/bss, and the ISO, of
   each chapter's served image (KTESTS=0, what `make run` boots) and of
   its chapter image (with the in-kernel tests); the largest symbols of
   the newest served image (`nm --size-sort`), to see where bytes go.
4. Grader time: wall seconds of each `make labN-check` and of `make check`,
   with the load average when each started.
5. Chapter fences: the `#if FERN_CHAPTER` blocks per file (tools/fences.py),
   the code later chapters add inside earlier files; few means the seams
   (tables, hooks, init calls) work.

The boots are of the served images (build/chN/served/fern.iso), the kernels
a reader runs. Every QEMU run goes through tests/fernlab/qemu.py's Machine, with the same
flags as the tests. Nothing here fails on a number: the exit status is 1
only if a kernel could not be measured at all.
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
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fernlab import manifest  # noqa: E402
from fernlab.qemu import HarnessError, Machine, qemu_binary  # noqa: E402

FLOOR_ISO = os.path.join("build", "selftest", "floor.iso")
FLOOR_ELF = os.path.join("build", "selftest", "floor.elf")
FLOOR_READY = r"^floor: ready$"
# The floor again, with the site image as its Multiboot2 module, as the
# served unikernel's ISO carries it: GRUB reads the module from the CD at
# every boot, and this row shows what that costs apart from fern's code.
FLOOR_SITE_ISO = os.path.join("build", "selftest", "floor-site.iso")
SITE_IMAGE = os.path.join("build", "site.img")
FERN_READY = r"^fern: ready$"
PHASE = re.compile(r"^phase: (\S+) (\d+) cycles\b")
# The same options on every boot, floor included (the floor ignores them):
# `bench` asks fern for its phase table, `exit=ready` lets QEMU end itself.
CMDLINE = "bench exit=ready"
BUDGET_RATIO = 1.25     # design.md: boot to ready <= 1.25 x the floor
SIZE_BUDGET_KIB = 128   # design.md: the served kernel, stripped


class Target:
    """One kernel the bench boots: the floor or a chapter."""

    def __init__(self, key, label, iso, elf, ready, extra=()):
        self.key = key
        self.extra = list(extra)    # QEMU options: the devices it drives
        self.label = label
        self.iso = iso
        self.elf = elf
        self.ready = ready
        self.seconds = []       # boot to ready, one per successful boot
        self.by_round = {}      # round number -> seconds, for pairing
        self.phases = []        # one list of (name, cycles) per boot
        self.failures = []      # one line per boot that did not get there
        self.size = {}
        self.test_size = {}     # the same chapter with its in-kernel tests


def boot_once(target, timeout):
    """Boot `target` once; return seconds from launch to its ready line."""
    with Machine(target.iso, cmdline=CMDLINE, nonce="", timeout=timeout,
                 extra=target.extra) as m:
        seen = m.wait(target.ready)
        took = time.monotonic() - m.start_time
        if not seen:
            # As the grader does: a run still going timed out; a run that
            # ended says how (an exit status, a triple fault).
            if m.proc.poll() is None:
                m.stop("timeout")
            else:
                m.stop()
            target.failures.append(m.outcome())
            return None
        # The phase table comes before the ready line: it has arrived.
        lines = m.lines()
    target.seconds.append(took)
    target.phases.append([(p.group(1), int(p.group(2)))
                          for p in map(PHASE.match, lines) if p])
    return took


def progress(text):
    """One self-erasing status line, on a terminal only."""
    if sys.stdout.isatty():
        print("\r%-70s\r%s" % ("", text), end="", flush=True)


def measure_boots(targets, runs, warmup, timeout):
    total = (runs + warmup) * len(targets)
    done = 0
    for i in range(warmup + runs):
        for t in targets:
            done += 1
            progress("  boot %d/%d: %s" % (done, total, t.label))
            if i < warmup:
                # Warm the page cache and QEMU's first start; not counted.
                scratch = Target(t.key, t.label, t.iso, t.elf, t.ready)
                boot_once(scratch, timeout)
                t.failures += scratch.failures
            else:
                took = boot_once(t, timeout)
                if took is not None:
                    t.by_round[i - warmup] = took
    progress("")


def tool(name):
    """strip or size: $STRIP/$SIZE if set, else with the Makefile's CROSS prefix."""
    cross = os.environ.get("CROSS", "")
    return os.environ.get(name.upper(), cross + name)


def measure_size(iso, elf):
    size = {"iso_bytes": os.path.getsize(iso) if iso and os.path.exists(iso) else None}
    if not os.path.exists(elf):
        return size
    size["elf_bytes"] = os.path.getsize(elf)
    with tempfile.TemporaryDirectory(prefix="fern-bench-") as tmp:
        stripped = os.path.join(tmp, "kernel.elf")
        p = subprocess.run([tool("strip"), "-o", stripped, elf],
                           capture_output=True, text=True)
        if p.returncode == 0:
            size["stripped_bytes"] = os.path.getsize(stripped)
    p = subprocess.run([tool("size"), elf], capture_output=True, text=True)
    rows = p.stdout.split("\n")
    if p.returncode == 0 and len(rows) > 1:
        text, data, bss = rows[1].split()[:3]
        size.update(text=int(text), data=int(data), bss=int(bss))
    return size


def largest_symbols(elf, count=12):
    """The `count` largest symbols of `elf` that take room in the file
    (code, read-only data, data; not bss): (bytes, type, name)."""
    p = subprocess.run([tool("nm"), "--size-sort", "-S", "-r", elf],
                       capture_output=True, text=True)
    rows = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "TtRrDd":
            rows.append((int(parts[1], 16), parts[2], parts[3]))
    return rows[:count]


def time_command(argv, log_dir):
    """Run a grader command quietly; its wall time and its verdict. Its
    output goes to a log in `log_dir`, to read when it failed."""
    env = dict(os.environ)
    # Under `make -jN bench`, make's jobserver descriptors are not passed
    # down to this process's children: drop them, or each make warns.
    if "MAKEFLAGS" in env:
        env["MAKEFLAGS"] = " ".join(w for w in env["MAKEFLAGS"].split()
                                    if not w.startswith("--jobserver"))
    start = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL)
    took = time.monotonic() - start
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, "%s.log" % argv[-1])
    with open(log, "w") as f:
        f.write(p.stdout + p.stderr)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    verdict = next((l for l in reversed(lines)
                    if re.match(r"^\d+ passed, \d+ failed$", l)), "")
    if not verdict:
        # Say why: the first "error:" line, else the last line written.
        out = (p.stdout + "\n" + p.stderr).splitlines()
        why = [l for l in out if l.startswith("error:")] or \
            [l for l in out if l.strip()][-1:] or [""]
        verdict = "exit status %d: %s" % (p.returncode, why[0][:100])
    return {"command": " ".join(argv[:1] + argv[2:]), "seconds": round(took, 2),
            "exit_status": p.returncode, "result": verdict, "log": log}


def measure_graders(chapters):
    make = "make"
    commands = [[make, "--no-print-directory", "lab%d-check" % c.number]
                for c in chapters if c.lab]
    commands.append([make, "--no-print-directory", "check"])
    results = []
    for argv in commands:
        progress("  timing %s" % " ".join(argv[:1] + argv[2:]))
        load = load_average()
        r = time_command(argv, os.path.join("build", "bench-logs"))
        r["load_average_start"] = load
        results.append(r)
    progress("")
    return results


def cpu_info():
    model, mhz = platform.processor() or "unknown", None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "cpu MHz" and mhz is None:
                    mhz = float(value)
    except OSError:
        pass
    return model, mhz


def environment():
    model, mhz = cpu_info()
    try:
        out = subprocess.run([qemu_binary(), "--version"], capture_output=True,
                             text=True).stdout
        qemu = out.splitlines()[0] if out else "unknown"
    except OSError:
        qemu = "not found"
    commit = subprocess.run(["git", "describe", "--always", "--dirty"],
                            capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "qemu": qemu, "accel": "tcg",
            "machine": {"cores": os.cpu_count(), "cpu": model, "cpu_mhz": mhz,
                        "os": "%s %s" % (platform.system(), platform.release())},
            "python": platform.python_version(), "commit": commit or None,
            "load_average": load_average()}


def load_average():
    """The 1-minute load average: other work on the machine adds noise."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def phase_medians(target):
    """Median cycles per phase, in the order the kernel marked them."""
    names = []
    for boot in target.phases:
        for name, _ in boot:
            if name not in names:
                names.append(name)
    medians = {}
    for name in names:
        values = [c for boot in target.phases for n, c in boot if n == name]
        medians[name] = int(statistics.median(values))
    return medians


def is_floor(target):
    """The floor, or the floor with the site: references, not fern."""
    return target.key.startswith("floor")


def boot_summary(target, floor):
    if not target.seconds:
        return None
    s = {"runs": len(target.seconds),
         "median_s": round(statistics.median(target.seconds), 4),
         "min_s": round(min(target.seconds), 4),
         "max_s": round(max(target.seconds), 4),
         "all_s": [round(x, 4) for x in target.seconds]}
    # The headline: in each round this kernel booted right after the
    # floor, so the two saw the same load; the median of those ratios.
    pairs = [target.by_round[r] / floor.by_round[r]
             for r in sorted(target.by_round) if r in floor.by_round]
    if pairs:
        s["ratio_to_floor"] = round(statistics.median(pairs), 3)
        s["ratio_of_medians"] = round(statistics.median(target.seconds) /
                                      statistics.median(floor.seconds), 3)
        s["ratio_of_minimums"] = round(min(target.seconds) / min(floor.seconds), 3)
    return s


# -- printing -------------------------------------------------------------

def kib(n):
    return "-" if n is None else "%.1f KiB" % (n / 1024)


def print_report(result, targets, mhz):
    env = result["environment"]
    print("fern bench, %s: %d boots each (+%d warm-up), interleaved; %s, TCG; "
          "%d x %s" % (env["date"], result["runs"], result["warmup"],
                       env["qemu"].split("(")[0].strip(),
                       env["machine"]["cores"], env["machine"]["cpu"]))
    print("load average %s at the start, %s at the end (other work on the machine "
          "adds noise)" % (env["load_average"], env["load_average_end"]))
    print()
    print("Boot to ready: seconds from QEMU's launch to the ready line on COM1")
    print("  %-22s %8s %8s %8s %8s %8s" % ("kernel", "median", "min", "max",
                                            "ratio", "min/min"))
    for t in targets:
        b = result["kernels"][t.key]["boot"]
        if not b:
            print("  %-22s %s" % (t.label, "not measured: " +
                                  (t.failures[-1] if t.failures else "?")))
            continue
        ratio = b.get("ratio_to_floor")
        low = b.get("ratio_of_minimums")
        mark = ""
        if ratio is not None and not is_floor(t):
            mark = "  budget %.2f: %s" % (BUDGET_RATIO, "within" if ratio <= BUDGET_RATIO
                                          else "OVER")
        print("  %-22s %8.3f %8.3f %8.3f %8s %8s%s" % (
            t.label, b["median_s"], b["min_s"], b["max_s"],
            "%.2f" % ratio if ratio is not None else "-",
            "%.2f" % low if low is not None else "-", mark))
        if t.failures:
            print("  %-22s %d boot(s) failed: %s" % ("", len(t.failures), t.failures[-1]))

    print("  ratio: median over the rounds of (this boot / the floor's boot in the same "
          "round);\n  min/min: fastest boot / fastest floor boot. Budget: ratio <= %.2f."
          % BUDGET_RATIO)
    site = result["kernels"].get("floor-site", {}).get("boot")
    if site and site.get("ratio_to_floor"):
        print("  floor + site: the floor with the served site (%s) as its module, which GRUB\n"
              "  reads at every boot; it adds %.0f ms to the floor's median boot." % (
                  kib(result["kernels"]["floor-site"]["size"].get("module_bytes")),
                  1000 * (site["median_s"] - result["kernels"]["floor"]["boot"]["median_s"])))

    chapters = [t for t in targets if not is_floor(t)]
    phased = [t for t in chapters if result["kernels"][t.key]["phases"]]
    if phased:
        print()
        print("Where the time goes: median TSC cycles per boot phase "
              "(kernel option `bench`)%s" % (
                  "; ~ms at the host's %.0f MHz TSC" % mhz if mhz else ""))
        names = []
        for t in phased:
            for n in result["kernels"][t.key]["phases"]:
                if n not in names:
                    names.append(n)
        print("  %-14s" % "phase" + "".join("%24s" % t.label[:22] for t in phased))
        for n in names + ["total"]:
            cells = []
            for t in phased:
                p = result["kernels"][t.key]["phases"]
                c = sum(p.values()) if n == "total" else p.get(n)
                if c is None:
                    cells.append("%24s" % "-")
                elif mhz:
                    cells.append("%14d %7.2fms" % (c, c / (mhz * 1000)))
                else:
                    cells.append("%24d" % c)
            print("  %-14s" % n + "".join(cells))

    print()
    print("Image size: the served image (what make run boots), and the chapter image "
          "with its tests")
    print("  %-22s %12s %8s %8s %8s %12s %10s %14s" % (
        "kernel", "stripped ELF", "text", "data", "bss", "with debug", "ISO",
        "with tests"))
    for t in targets:
        s = result["kernels"][t.key]["size"]
        w = result["kernels"][t.key].get("test_size", {})
        budget = ""
        if not is_floor(t) and s.get("stripped_bytes"):
            budget = "  %.0f%% of %d KiB" % (100.0 * s["stripped_bytes"] / (SIZE_BUDGET_KIB * 1024),
                                           SIZE_BUDGET_KIB)
        print("  %-22s %12s %8s %8s %8s %12s %10s %14s%s" % (
            t.label, kib(s.get("stripped_bytes")), s.get("text", "-"),
            s.get("data", "-"), s.get("bss", "-"), kib(s.get("elf_bytes")),
            kib(s.get("iso_bytes")), kib(w.get("stripped_bytes")), budget))
    print("  stripped ELF: the budget's figure (design.md: the served kernel <= %d KiB);\n"
          "  with debug: the ELF gdb reads; with tests: the chapter image's stripped ELF."
          % SIZE_BUDGET_KIB)
    if result.get("largest_symbols"):
        big = result["largest_symbols"]
        print()
        print("Largest symbols of the newest served image (%s, nm --size-sort)" % big["elf"])
        for row in big["symbols"]:
            print("  %8d B  %s  %s" % (row["bytes"], row["type"], row["name"]))

    if result.get("graders"):
        print()
        print("Grader time: wall seconds, one run each")
        for g in result["graders"]:
            print("  %-22s %7.1f s   load %-5s %s%s" % (
                g["command"], g["seconds"], g.get("load_average_start") or "-",
                g["result"], "" if g["exit_status"] == 0 else "  (output: %s)" % g["log"]))
        print("  load: the 1-minute load average as the command started; figures taken at "
              "a load\n  near the core count are up to twice the idle ones. Budgets: each "
              "labN-check <= 10 s,\n  make check <= 60 s on 2 cores.")


def fence_counts():
    """tools/fences.py's counts: {"files": {path: n}, "total": n}."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "fences.py"), "--json"],
                       capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def print_fences(fences):
    if not fences:
        return
    print()
    print("Chapter fences (#if FERN_CHAPTER) per file, tools/fences.py: %d in %d files"
          % (fences["total"], len(fences["files"])))
    rows = sorted(fences["files"].items(), key=lambda kv: (-kv[1], kv[0]))
    for i in range(0, len(rows), 3):
        print("  " + "".join("%3d  %-30s" % (n, path) for path, n in rows[i:i + 3]))


def main():
    ap = argparse.ArgumentParser(description="fern's benchmarks (docs/performance.md)")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 5)),
                    help="measured boots per kernel (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="boots per kernel before measuring, not counted (default 1)")
    ap.add_argument("--timeout", type=float, default=10,
                    help="seconds a boot may take to say ready (x FERN_TIMEOUT_SCALE)")
    ap.add_argument("--no-graders", action="store_true",
                    help="skip timing make labN-check and make check")
    ap.add_argument("--json", default=os.path.join("build", "bench.json"),
                    help="where to write every figure (default build/bench.json)")
    args = ap.parse_args()
    if args.runs < 1:
        raise SystemExit("error: --runs must be at least 1")

    os.chdir(ROOT)
    chapters = manifest.load(ROOT)
    targets = [Target("floor", "floor (GRUB + stub)", FLOOR_ISO, FLOOR_ELF, FLOOR_READY)]
    if os.path.exists(FLOOR_SITE_ISO):
        targets.append(Target("floor-site", "floor + site", FLOOR_SITE_ISO, FLOOR_ELF,
                              FLOOR_READY))
    # From chapter 6 on a chapter boots with the devices it drives (as
    # `make run` does), so that finding and starting them is in its time.
    disk = os.path.join("build", "bench-disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    devices = ["-device", "virtio-rng-pci",
               "-drive", "file=%s,if=none,id=disk0,format=raw" % disk,
               "-device", "virtio-blk-pci,drive=disk0"]
    # From chapter 7 on also the network card, on QEMU's user networking,
    # so that the boot's DHCP exchange is in the time ("net" phase).
    net = ["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0"]
    for c in chapters:
        d = os.path.join("build", "ch%d" % c.number, "served")
        targets.append(Target("ch%d" % c.number, "ch%d %s" % (c.number, c.slug),
                              os.path.join(d, "fern.iso"), os.path.join(d, "fern.elf"),
                              FERN_READY, (devices if c.number >= 6 else []) +
                              (net if c.number >= 7 else [])))
    if not os.path.exists(FLOOR_ISO):
        raise SystemExit("error: %s is not built; run 'make bench' (it builds it)"
                         % FLOOR_ISO)
    # A chapter snapshot builds only its own chapter: measure what exists,
    # and say what was left out.
    for t in [t for t in targets if not os.path.exists(t.iso)]:
        print("note: %s is not built; %s left out (make CHAPTER=%s KTESTS=0 iso)"
              % (t.iso, t.label, t.key[2:]))
        targets.remove(t)
    if all(is_floor(t) for t in targets):
        raise SystemExit("error: no chapter's ISO is built; run 'make bench'")

    env = environment()
    mhz = env["machine"]["cpu_mhz"]
    start = time.monotonic()
    print("fern bench: booting %d kernels %d times each..." % (len(targets), args.runs),
          flush=True)
    try:
        measure_boots(targets, args.runs, args.warmup, args.timeout)
    except HarnessError as e:
        raise SystemExit("error: %s" % e)
    for t in targets:
        t.size = measure_size(t.iso, t.elf)
        if t.key == "floor-site":
            t.size["module_bytes"] = os.path.getsize(SITE_IMAGE)
        elif not is_floor(t):
            d = os.path.join("build", t.key)
            t.test_size = measure_size(os.path.join(d, "fern.iso"),
                                       os.path.join(d, "fern.elf"))
    graders = [] if args.no_graders else measure_graders(chapters)

    result = {"environment": env, "runs": args.runs, "warmup": args.warmup,
              "cmdline": CMDLINE, "budget_ratio": BUDGET_RATIO,
              "kernels": {}, "graders": graders}
    for t in targets:
        result["kernels"][t.key] = {
            "label": t.label, "iso": t.iso, "elf": t.elf,
            "boot": boot_summary(t, targets[0]),
            "failures": t.failures,
            "phases": phase_medians(t),
            "phases_per_boot": [dict(boot) for boot in t.phases],
            "size": t.size, "test_size": t.test_size}
    newest = targets[-1]
    if not is_floor(newest) and os.path.exists(newest.elf):
        result["largest_symbols"] = {
            "elf": newest.elf,
            "symbols": [{"bytes": b, "type": k, "name": n}
                        for b, k, n in largest_symbols(newest.elf)]}
    result["fences"] = fence_counts()
    result["seconds"] = round(time.monotonic() - start, 1)
    env["load_average_end"] = load_average()

    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_report(result, targets, mhz)
    print_fences(result.get("fences"))
    print()
    print("Bench took %.0f s; every figure is in %s" % (result["seconds"], args.json))
    return 0 if all(t.seconds for t in targets) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted")
        sys.exit(130)
