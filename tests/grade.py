#!/usr/bin/env python3
"""fern's grader: run the tests of one lab, of every lab, or everything.

    python3 tests/grade.py --lab 1         lab 1's tests on build/ch1/fern.iso
    python3 tests/grade.py --labs          every lab on its chapter's ISO
    python3 tests/grade.py --check         everything `make check` runs
    python3 tests/grade.py --lab 1 -k memory     only tests whose name has "memory"

Options: --iso PATH (grade another ISO), --json FILE (results as JSON),
--gradescope FILE (Gradescope's results.json), --log-dir DIR (where the
logs of failing tests go; default build/test-logs), -j N (parallel QEMUs),
--list (print the tests and their points), --build-failed LOG (the kernel
did not build: every test fails, LOG holds the compiler's messages).
Relative paths are taken from the folder you run it in.
FERN_TIMEOUT_SCALE=2 doubles every timeout. The grade never depends on a
log: a log that cannot be written is one warning line. The last lines are
always `Score: ...` and `N passed, N failed`; the exit status is 0 only if
nothing failed and at least one test ran.
"""

import argparse
import concurrent.futures
import datetime
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from fernlab import grader, manifest  # noqa: E402
from fernlab.qemu import HarnessError, qemu_binary, timeout_scale  # noqa: E402

LOG_DIR = os.path.join("build", "test-logs")    # --log-dir changes it
SERVED_ISO = os.path.join("build", "fern.iso")   # make / make iso / make run
COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def paint(text, code):
    return "\033[%sm%s\033[0m" % (code, text) if COLOR else text


def load_tests(paths):
    for path in paths:
        full = os.path.join(ROOT, path)
        if not os.path.exists(full):
            raise SystemExit("error: the manifest names %s, which does not exist" % path)
        name = os.path.splitext(os.path.basename(full))[0]
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, full)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


class Job:
    """A group of tests run against one ISO, reported under one heading."""

    def __init__(self, label, heading, iso, chapter, tests):
        self.label = label
        self.heading = heading
        self.iso = iso
        self.chapter = chapter
        self.tests = tests


def iso_path(chapter):
    """Chapter N's image, with its in-kernel tests (make CHAPTER=N)."""
    return os.path.join("build", "ch%d" % chapter, "fern.iso")


def chapter_tests(number, pattern, module=None):
    return [t for t in grader.REGISTRY
            if t.chapter == number and (not pattern or pattern in t.name)
            and (module is None or t.module == module)]


def plan_jobs(args, chapters):
    numbers = [c.number for c in chapters]
    newest = numbers[-1]
    by_number = {c.number: c for c in chapters}
    jobs = []
    # A chapter snapshot builds only its own chapter (Makefile, SNAPSHOT):
    # every chapter's tests run on that one kernel.
    snapshot = os.path.exists(os.path.join("chapters", "snapshot.mk"))

    def image(n):
        return args.iso or iso_path(newest if snapshot else n)

    def lab_job(n):
        c = by_number[n]
        return Job("lab%d" % n, "lab %d: %s" % (n, c.title), image(n), n,
                   chapter_tests(n, args.k))

    if args.lab is not None:
        if args.lab not in by_number:
            raise SystemExit("error: there is no lab %d; the labs are %s"
                             % (args.lab, " ".join(map(str, numbers))))
        jobs.append(lab_job(args.lab))
    elif args.labs:
        jobs += [lab_job(n) for n in numbers]
    elif args.grading:
        jobs.append(Job("grading", "grading a class (Gradescope, GitHub, a roster)", "", 0,
                        chapter_tests(0, args.k, "class_grading")))
    elif args.hardening:
        jobs.append(Job("hardening", "the served image under attack, load and soak (%s)"
                        % SERVED_ISO, SERVED_ISO, newest,
                        chapter_tests(0, args.k, "hardening")))
    elif args.check or args.chapter is not None:
        upto = args.chapter if args.chapter is not None else newest
        if args.check:
            jobs.append(Job("harness", "the harness itself (fault matrix)", "", 0,
                            [t for t in chapter_tests(0, args.k, "harness_selftest")
                             if not (snapshot and getattr(t.fn, "full_tree", False))]))
            if not args.iso:
                # Before the test runner (chapter 2) both images are one.
                runner = any("src/console/ktest.c" in c.srcs for c in chapters)
                served = [t for t in chapter_tests(0, args.k, "served_image")
                          if runner or not getattr(t.fn, "needs_ktests", False)]
                jobs.append(Job("served", "the served image (build/fern.iso: "
                                "no in-kernel tests)", SERVED_ISO, newest, served))
        # Each test runs once, on the kernel of the chapter that declares
        # it. Whether a later chapter breaks an earlier chapter's tests is
        # `make course-check`'s question: every snapshot runs the tests of
        # all its chapters on its own kernel.
        for n in numbers:
            if n > upto:
                break
            iso = image(n)
            jobs.append(Job("ch%d" % n, "chapter %d on %s kernel (%s)"
                            % (n, "this snapshot's" if snapshot else "its own", iso),
                            iso, n, chapter_tests(n, args.k)))
    return [j for j in jobs if j.tests]


def host_results(pattern):
    """Host unit tests: every build/host/test_* binary is one test."""
    results = []
    for path in sorted(glob.glob(os.path.join("build", "host", "test_*"))):
        if not os.access(path, os.X_OK) or path.endswith((".c", ".o", ".d")):
            continue
        name = "host: %s (sanitizers)" % os.path.basename(path)
        if pattern and pattern not in name:
            continue
        t = grader.Test(None, name, 0, 0, "host", 60)
        start = time.monotonic()
        try:
            # Leak checking needs ptrace, which containers often deny.
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
            p = subprocess.run([path], capture_output=True, text=True, env=env,
                               timeout=60 * timeout_scale())
            out = p.stdout + p.stderr
            passed = p.returncode == 0
            reason = "" if passed else "exit status %d" % p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            passed, reason = False, "timeout after %.0f s" % (60 * timeout_scale())
        r = grader.Result(t, passed, time.monotonic() - start, reason)
        if not passed:
            lines = out.splitlines()
            r.tail = [l for l in lines if l.startswith(("not ok", "#", "==", "SUMMARY"))][:12] or lines[-12:]
            r.log = grader.write_log(os.path.join(
                LOG_DIR, "host-%s.log" % os.path.basename(path)), out)
        results.append(r)
    return results


def report(r, width):
    status = paint("PASS", "32") if r.passed else paint("FAIL", "31;1")
    points = ("%3d/%-3d pts" % (r.score, r.test.points)) if r.test.points else "     -     "
    print("%s  %-*s %s %6.1f s" % (status, width, r.test.name, points, r.seconds))
    if r.passed:
        return
    if r.reason:
        print("      %s" % r.reason)
    for kind, what in r.checks:
        if kind != "GOOD" or len(r.checks) <= 6:
            print("      %-8s %s" % (kind, what))
    if r.outcome:
        print("      run ended: %s" % r.outcome)
    if r.tail:
        print("      last lines of output:")
        for line in r.tail:
            print("        | %s" % line[:150])
    if r.log:
        print("      full log: %s" % r.log)


def submit_job(job, pool, not_run=None):
    """Queue a job's tests on the shared pool: every job's tests share the
    QEMU slots, so no core idles while one job's last test finishes.
    With `not_run` (a reason), nothing runs and every test fails with it."""
    grading = grader.Grading(job.iso, job.chapter, LOG_DIR, label=job.label)
    if not_run:
        return [grader.Result(t, False, 0.0, not_run) for t in job.tests]
    if job.iso and not os.path.exists(job.iso):
        # Said in full once, then referred to.
        reason = ("ISO not found: %s (build it with 'make CHAPTER=%d iso')"
                  % (job.iso, job.chapter))
        return [grader.Result(t, False, 0.0, reason if i == 0 else
                              "not run: no ISO (see above)")
                for i, t in enumerate(job.tests)]
    started = {}

    def run(t):
        started[t] = time.monotonic()
        return grading.run(t)

    # A group's tests are one task of the pool, which runs them in order
    # and settles each one's future as it finishes.
    futures, groups = {}, {}
    for t in job.tests:
        if t.group:
            groups.setdefault(t.group, []).append(t)
            futures[t] = concurrent.futures.Future()

    def run_group(tests):
        for t in tests:
            try:
                futures[t].set_result(run(t))
            except Exception as e:     # run() reports test errors itself
                futures[t].set_exception(e)

    items, submitted = [], set()
    for t in job.tests:
        if not t.group:
            items.append((t, pool.submit(run, t), started))
            continue
        if t.group not in submitted:
            submitted.add(t.group)
            pool.submit(run_group, groups[t.group])
        items.append((t, futures[t], started))
    return items


def collect_job(job, pending):
    """Print a job's results in declaration order as they complete."""
    results = []
    width = max(len(t.name) for t in job.tests)
    for item in pending:
        if isinstance(item, grader.Result):
            r = item
        else:
            t, f, started = item
            # The watchdog counts from the test's start, not its queueing.
            limit = (t.timeout or 120) * timeout_scale()
            while True:
                done, _ = concurrent.futures.wait([f], timeout=0.5)
                if done:
                    r = f.result()
                    break
                if t in started and time.monotonic() - started[t] > limit:
                    r = grader.Result(t, False, limit, "the test did not finish "
                                      "within %.0f s" % limit)
                    break
        report(r, width)
        results.append(r)
    return results


def caller_path(path):
    """A path the user typed, taken from the folder they ran the grader in
    (the grader itself runs from the repository's root)."""
    return os.path.abspath(path) if path else path


def tail_of(path, n=25):
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f]
    except OSError as e:
        return ["(cannot read %s: %s)" % (path, e.strerror)]
    return lines[-n:]


def build_messages(path, n=40):
    """The lines of a build log worth showing: its errors and refusals
    (all of them, up to n), else its last lines."""
    lines = tail_of(path, 100000)
    wanted = [l for l in lines if re.search(r"error|refused|warning|Error", l)]
    return wanted[:n] if wanted else lines[-25:]


def qemu_missing():
    """The one-line reason QEMU cannot run, or None if it can."""
    cmd = qemu_binary()
    if shutil.which(cmd):
        return None
    return ("QEMU not found: '%s' is not installed (Debian package "
            "qemu-system-x86; run 'make doctor')" % cmd)


def main():
    global LOG_DIR
    ap = argparse.ArgumentParser(description="fern's grader")
    ap.add_argument("--lab", type=int, help="grade lab N (chapter N's tests)")
    ap.add_argument("--labs", action="store_true", help="grade every lab")
    ap.add_argument("--chapter", type=int, help="run the tests of chapters 1..N")
    ap.add_argument("--hardening", action="store_true",
                    help="the network hardening tests on the served image "
                         "(tests/hardening.py, make hardening): attacks while a client "
                         "fetches, ISNs, slow clients, a wrk soak")
    ap.add_argument("--grading", action="store_true",
                    help="the class-grading self-tests (tests/class_grading.py): "
                         "Gradescope, GitHub workflow, batch grading")
    ap.add_argument("--check", action="store_true",
                    help="everything: host tests, harness self-tests, every chapter")
    ap.add_argument("--iso", help="grade this ISO instead of build/chN/fern.iso")
    ap.add_argument("-k", metavar="TEXT", help="only tests whose name contains TEXT")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2,
                    help="QEMU runs in parallel (default: number of CPUs)")
    ap.add_argument("--json", metavar="FILE", help="write results as JSON")
    ap.add_argument("--gradescope", metavar="FILE",
                    help="write a Gradescope results.json")
    ap.add_argument("--log-dir", metavar="DIR",
                    help="save failing tests' serial logs here (default: build/test-logs)")
    ap.add_argument("--build-failed", metavar="LOG",
                    help="the kernel did not build: fail every test, quoting LOG")
    ap.add_argument("--list", action="store_true", help="list the tests and points")
    args = ap.parse_args()

    # Paths the user typed are theirs, not the repository root's.
    for name in ("json", "gradescope", "log_dir", "build_failed", "iso"):
        setattr(args, name, caller_path(getattr(args, name)))
    try:
        scale = timeout_scale()
    except HarnessError as e:
        print("error: %s" % e)
        return 2
    os.chdir(ROOT)
    if args.log_dir:
        LOG_DIR = args.log_dir
    chapters = manifest.load(ROOT)
    if not chapters:
        raise SystemExit("error: no chapter manifests in chapters/")
    if not (args.lab is not None or args.labs or args.check or args.grading or
            args.hardening or args.chapter is not None):
        args.labs = True
    if args.grading:
        load_tests(["tests/class_grading.py"])
    if args.hardening:
        if not os.path.exists(os.path.join(ROOT, "tests", "hardening.py")):
            raise SystemExit("error: this tree has no network hardening tests yet (chapter 8)")
        load_tests(["tests/hardening.py"])
    if args.check:
        load_tests(["tests/harness_selftest.py", "tests/served_image.py"])
    # Only the chapters being graded: a later chapter's tests may not exist
    # yet while it is being written.
    for c in chapters:
        if args.lab is None or c.number == args.lab:
            load_tests([p for p in c.tests if p.endswith(".py")])

    jobs = plan_jobs(args, chapters)
    if args.list:
        for job in jobs:
            print("== %s" % job.heading)
            for t in job.tests:
                print("   %3d pts  %s" % (t.points, t.name))
        return 0

    if scale != 1:
        print("note: FERN_TIMEOUT_SCALE=%g: every timeout is %g times its usual length%s"
              % (scale, scale, "; a kernel that is merely slow may now time out"
                 if scale < 1 else ""))
    # Why no test can run, said once rather than once per test.
    not_run = None
    if args.build_failed:
        print("== the kernel did not build; the compiler's messages (all of them in %s):"
              % args.build_failed)
        for line in build_messages(args.build_failed):
            print("   | %s" % line[:200])
        not_run = "not run: the kernel did not build (see its messages above)"
    elif jobs and not (args.iso and not os.path.exists(args.iso)):
        missing = qemu_missing()
        if missing:
            print("error: %s" % missing)
            not_run = "not run: no QEMU (see above)"

    start = time.monotonic()
    results = []
    if args.check and not args.build_failed:
        host = host_results(args.k)
        if host:
            print("== host unit tests (build/host/)")
            width = max(len(r.test.name) for r in host)
            for r in host:
                report(r, width)
            results += host
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        pending = [(job, submit_job(job, pool, not_run)) for job in jobs]
        for job, items in pending:
            print("== %s" % job.heading, flush=True)
            results += collect_job(job, items)
            sys.stdout.flush()

    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    score = sum(r.score for r in results)
    max_score = sum(r.test.points for r in results)
    elapsed = time.monotonic() - start
    for folder, why in sorted(grader.LOG_PROBLEMS.items()):
        print("warning: the logs of failing tests were not saved: cannot write %s (%s)"
              % (folder, why))
    build_log = "\n".join(tail_of(args.build_failed, 200)) if args.build_failed else None
    ok_files = True
    for path, writer in ((args.json, write_json), (args.gradescope, write_gradescope)):
        if not path:
            continue
        try:
            writer(path, results, score, max_score, elapsed, build_log)
        except OSError as e:
            print("error: cannot write %s: %s" % (path, e.strerror or e))
            ok_files = False
    print("Score: %d/%d  (%.1f s)" % (score, max_score, elapsed))
    if not results:
        print("error: no test ran")
    print("%d passed, %d failed" % (passed, failed))
    return 0 if results and failed == 0 and ok_files else 1


def result_dict(r):
    return {"name": r.test.name, "chapter": r.test.chapter, "points": r.test.points,
            "score": r.score, "passed": r.passed, "seconds": round(r.seconds, 2),
            "reason": r.reason, "outcome": r.outcome,
            "checks": [{"status": k, "what": w} for k, w in r.checks],
            "log": r.log}


def write_json(path, results, score, max_score, elapsed, build_log=None):
    data = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "score": score, "max_score": max_score,
            "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results),
            "seconds": round(elapsed, 1),
            "tests": [result_dict(r) for r in results]}
    if build_log is not None:
        data["build_failed"] = True
        data["build_log"] = build_log
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


def write_gradescope(path, results, score, max_score, elapsed, build_log=None):
    tests = []
    for r in results:
        lines = [r.reason] if r.reason else []
        lines += ["%s %s" % c for c in r.checks if c[0] != "GOOD"]
        if r.outcome and not r.passed:
            lines.append("run ended: " + r.outcome)
        tests.append({"name": r.test.name, "score": r.score,
                      "max_score": r.test.points,
                      "status": "passed" if r.passed else "failed",
                      "output": "\n".join(lines + ["| " + l for l in r.tail])})
    data = {"score": score, "execution_time": round(elapsed, 1), "tests": tests}
    if build_log is not None:
        data["output"] = "The kernel did not build. The compiler said:\n" + build_log
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted")
        sys.exit(130)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
