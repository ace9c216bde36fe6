#!/usr/bin/env python3
"""Grade the labs as the GitHub workflow does (`make ci-grade [LAB=N]`).

.github/workflows/grade.yml runs `make deps` and then this, so a student
sees the same result locally as on GitHub. Every lab of the tree is graded
(`make labN-check`), or only lab N with LAB=N; GRADEFLAGS is passed on.
Each lab's score and its failing tests go to standard output and, when
GITHUB_STEP_SUMMARY names a file (as GitHub Actions does), to that file as
a Markdown table: the job's summary page. The status is 0 only if every
graded lab has full marks, so that the commit shows a green tick only then.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def labs_of_tree():
    return sorted(int(d[3:]) for d in os.listdir(os.path.join(ROOT, "labs"))
                  if re.fullmatch(r"lab\d+", d))


def main():
    want = os.environ.get("LAB", "").strip()
    labs = [int(want)] if want else labs_of_tree()
    flags = os.environ.get("GRADEFLAGS", "")
    out_dir = os.path.join(ROOT, "build", "ci-grade")
    os.makedirs(out_dir, exist_ok=True)
    rows, ok = [], True
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    for n in labs:
        results = os.path.join(out_dir, "lab%d.json" % n)
        if os.path.exists(results):
            os.remove(results)
        cmd = ["make", "--no-print-directory", "lab%d-check" % n,
               "GRADEFLAGS=--json %s %s" % (results, flags)]
        print("ci-grade: %s" % " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, env=env)
        try:
            with open(results) as f:
                data = json.load(f)
            score, total = data["score"], data["max_score"]
            failed = [t["name"] for t in data["tests"] if not t["passed"]]
            if data.get("build_failed"):
                failed = ["the kernel does not build"] + failed
        except (OSError, ValueError, KeyError):
            score, total, failed = 0, "?", ["the grader wrote no results (see the log above)"]
        ok &= not failed and score == total
        rows.append((n, score, total, failed))
    lines = ["## fern: lab scores", "", "| lab | score | not passing |", "|---|---|---|"]
    for n, score, total, failed in rows:
        lines.append("| lab %d | %s/%s | %s |" % (n, score, total,
                                                  "; ".join(failed) if failed else "-"))
    text = "\n".join(lines) + "\n"
    print(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
