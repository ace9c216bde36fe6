#!/usr/bin/env python3
"""Grade a whole class on one machine (`make grade-all ROSTER=dir LAB=N`).

    tools/grade_all.py ROSTER LAB [--jobs K] [--out DIR] [grade.py options...]

ROSTER is a folder with one entry per student: a folder (the student's
tree, or a folder holding it one level down) or a git bundle
(NAME.bundle, cloned first). Each is graded by tools/grade_student.py, the
official build files, tests and grader (nothing of the student's but C
sources and headers is used), up to K at a time (default: the number of
CPUs), each with its own time limit, so that one broken student (does not
build, hangs, floods) never stops or skews the others.

Results in DIR (default build/grade-all/labN/): one folder per student with
its logs and results, `grades.csv` (student, score, max_score, one column
per test's points, outcome) and `grades.json`.
"""

import argparse
import concurrent.futures
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One student's grading, build included, at most: a kernel that hangs in
# every test is stopped test by test by the grader's own timeouts long
# before this.
STUDENT_TIMEOUT = 20 * 60
SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def students(roster):
    """(name, path, kind) of every entry of the roster, sorted by name."""
    found = []
    for entry in sorted(os.listdir(roster)):
        path = os.path.join(roster, entry)
        if entry.startswith("."):
            continue
        if os.path.isdir(path):
            found.append((SAFE.sub("_", entry), path, "folder"))
        elif entry.endswith(".bundle"):
            found.append((SAFE.sub("_", entry[:-len(".bundle")]), path, "bundle"))
    return found


def tree_of(path):
    if os.path.isdir(os.path.join(path, "src")):
        return path
    subs = [os.path.join(path, d) for d in sorted(os.listdir(path))
            if os.path.isdir(os.path.join(path, d, "src"))]
    return subs[0] if len(subs) == 1 else None


def grade_one(name, path, kind, lab, out, flags):
    """Grade one student; return their row (a dict). Never raises."""
    start = time.monotonic()
    mine = os.path.join(out, name)
    shutil.rmtree(mine, ignore_errors=True)
    os.makedirs(mine)
    row = {"student": name, "score": 0, "max_score": None, "tests": {},
           "outcome": "", "seconds": 0.0}
    try:
        if kind == "bundle":
            clone = os.path.join(mine, "checkout")
            r = subprocess.run(["git", "clone", "-q", path, clone], capture_output=True,
                               timeout=120)
            if r.returncode != 0:
                row["outcome"] = "the bundle did not clone: %s" % r.stderr.decode(
                    errors="replace").strip()[:200]
                return row
            path = clone
        tree = tree_of(path)
        if tree is None:
            row["outcome"] = "no src/ folder"
            return row
        results = os.path.join(mine, "results.json")
        cmd = [sys.executable, os.path.join(ROOT, "tools", "grade_student.py"), tree,
               str(lab), "--out", os.path.join(mine, "logs"), "--json", results] + flags
        try:
            r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=STUDENT_TIMEOUT)
            text = r.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            text = (e.stdout or b"").decode("utf-8", "replace")
            row["outcome"] = "stopped after %d minutes" % (STUDENT_TIMEOUT // 60)
        with open(os.path.join(mine, "grade.log"), "w") as f:
            f.write(text)
        try:
            with open(results) as f:
                data = json.load(f)
        except (OSError, ValueError):
            row["outcome"] = row["outcome"] or "the grader wrote no results; see %s" % (
                os.path.join(mine, "grade.log"))
            return row
        row["score"] = data.get("score", 0)
        row["max_score"] = data.get("max_score")
        row["tests"] = {t["name"]: t.get("score", 0) for t in data.get("tests", [])}
        if data.get("build_failed"):
            row["outcome"] = "does not build"
        elif not row["outcome"]:
            failed = [t["name"] for t in data.get("tests", []) if not t.get("passed")]
            row["outcome"] = "all passed" if not failed else "%d failed" % len(failed)
        return row
    finally:
        row["seconds"] = round(time.monotonic() - start, 1)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("roster")
    ap.add_argument("lab", type=int)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out")
    args, flags = ap.parse_known_args(argv)
    if not os.path.isdir(args.roster):
        raise SystemExit("grade-all: error: ROSTER=%s is not a folder" % args.roster)
    out = os.path.abspath(args.out or os.path.join(ROOT, "build", "grade-all",
                                                   "lab%d" % args.lab))
    os.makedirs(out, exist_ok=True)
    roster = students(args.roster)
    if not roster:
        raise SystemExit("grade-all: error: %s has no student folders or .bundle files"
                         % args.roster)
    print("grade-all: lab %d, %d students, %d at a time" % (args.lab, len(roster), args.jobs),
          flush=True)
    start = time.monotonic()
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(grade_one, n, p, k, args.lab, out, flags): n
                   for n, p, k in roster}
        for fut in concurrent.futures.as_completed(futures):
            row = fut.result()
            rows.append(row)
            print("grade-all: %-20s %3s/%s  %s  (%.0f s)" % (
                row["student"], row["score"], row["max_score"] or "?", row["outcome"],
                row["seconds"]), flush=True)
    elapsed = time.monotonic() - start
    rows.sort(key=lambda r: r["student"])
    names = []
    for r in rows:
        for t in r["tests"]:
            if t not in names:
                names.append(t)
    with open(os.path.join(out, "grades.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score"] + names + ["outcome", "seconds"])
        for r in rows:
            w.writerow([r["student"], r["score"], r["max_score"] or ""] +
                       [r["tests"].get(n, "") for n in names] + [r["outcome"], r["seconds"]])
    with open(os.path.join(out, "grades.json"), "w") as f:
        json.dump({"lab": args.lab, "seconds": round(elapsed, 1), "jobs": args.jobs,
                   "students": rows}, f, indent=1)
    print("grade-all: %d students in %.0f s (%.1f a minute); %s" % (
        len(rows), elapsed, len(rows) * 60 / elapsed if elapsed else 0,
        os.path.join(out, "grades.csv")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
