#!/usr/bin/env python3
"""A Gradescope autograder for one lab (`make autograder LAB=N`).

    tools/autograder.py build --lab N [--out ZIP]
    tools/autograder.py run [--root DIR]      (what run_autograder runs)

`build` writes a zip in the layout Gradescope's autograder upload expects:
at its root `setup.sh` (run once when Gradescope builds the image, as
root: `make deps`, the Debian packages and nothing from elsewhere) and
`run_autograder` (run for each submission), next to the whole course as
git tracks it, which Gradescope unpacks into /autograder/source.

`run` grades /autograder/submission: the student's tree (the folder that
holds src/, at the top of the upload or one level down) is graded by
tools/grade_student.py, which takes only the student's C sources and
headers and uses the official build files, tests and grader, so nothing
in the submission can change how it is graded. The results go to
/autograder/results/results.json in Gradescope's format; a submission that
does not build, hangs or lacks src/ still gets a results.json that says
why. FERN_AUTOGRADER_ROOT stands in for /autograder (the tests use it).
"""

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The longest a whole grading may take; Gradescope's own limit is set in
# its assignment settings, and ours must come first to say why.
RUN_TIMEOUT = 30 * 60

SETUP_SH = """#!/bin/sh
# Gradescope runs this once, as root, when it builds the autograder image:
# the Debian packages fern's build and grader need (tools/deps.sh, the same
# list as `make deps`).
set -e
apt-get update
cd /autograder/source
make deps
"""

RUN_AUTOGRADER = """#!/bin/sh
# Gradescope runs this for each submission (as /autograder/run_autograder).
# It grades lab %(lab)d with the official tests; see tools/autograder.py.
ROOT="${FERN_AUTOGRADER_ROOT:-/autograder}"
exec python3 "$ROOT/source/tools/autograder.py" run --root "$ROOT" --lab %(lab)d
"""


def tracked_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, capture_output=True)
    if out.returncode != 0:
        raise SystemExit("autograder: error: not a git checkout: %s"
                         % out.stderr.decode(errors="replace").strip())
    return [f for f in out.stdout.decode().split("\0")
            if f and os.path.isfile(os.path.join(ROOT, f))]


def add_text(z, name, text):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    z.writestr(info, text)


def build(lab, out):
    labs = sorted(int(d[3:]) for d in os.listdir(os.path.join(ROOT, "labs"))
                  if d.startswith("lab") and d[3:].isdigit())
    if lab not in labs:
        raise SystemExit("autograder: error: there is no lab %s; the labs are %s"
                         % (lab, " ".join(map(str, labs))))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    files = tracked_files()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        add_text(z, "setup.sh", SETUP_SH)
        add_text(z, "run_autograder", RUN_AUTOGRADER % {"lab": lab})
        for f in files:
            if f in ("setup.sh", "run_autograder"):
                continue
            z.write(os.path.join(ROOT, f), f)
    print("autograder: %s: lab %d, %d files of the course; upload it as the "
          "assignment's autograder" % (out, lab, len(files)))


def find_tree(submission):
    """The folder of the upload that holds src/: the top, or one level down
    (a zip of the repository folder)."""
    if os.path.isdir(os.path.join(submission, "src")):
        return submission
    subdirs = [os.path.join(submission, d) for d in sorted(os.listdir(submission))
               if os.path.isdir(os.path.join(submission, d, "src"))]
    return subdirs[0] if len(subdirs) == 1 else None


def write_failure(results_json, why, max_score=0):
    with open(results_json, "w") as f:
        json.dump({"score": 0, "output": why, "tests": [],
                   "visibility": "visible"}, f, indent=1)
    print("autograder: %s" % why)


def run(root, lab):
    submission = os.path.join(root, "submission")
    results = os.path.join(root, "results")
    os.makedirs(results, exist_ok=True)
    results_json = os.path.join(results, "results.json")
    if os.path.exists(results_json):
        os.remove(results_json)
    tree = find_tree(submission) if os.path.isdir(submission) else None
    if tree is None:
        write_failure(results_json, "no src/ folder in the submission: upload your "
                      "repository (or a zip of it) with src/ and include/ at its top")
        return 0
    cmd = [sys.executable, os.path.join(ROOT, "tools", "grade_student.py"), tree, str(lab),
           "--out", os.path.join(results, "logs"), "--gradescope", results_json]
    flags = os.environ.get("FERN_AUTOGRADER_GRADEFLAGS", "").split()
    try:
        proc = subprocess.run(cmd + flags, cwd=ROOT, timeout=RUN_TIMEOUT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        write_failure(results_json, "grading took longer than %d minutes and was stopped; "
                      "the last lines:\n%s" % (RUN_TIMEOUT // 60, "\n".join(out.splitlines()[-20:])))
        return 0
    sys.stdout.write(out)
    if not os.path.exists(results_json):
        write_failure(results_json, "the grader wrote no results (status %d); its last "
                      "lines:\n%s" % (proc.returncode, "\n".join(out.splitlines()[-20:])))
    # Gradescope reads the score from results.json; run_autograder's own
    # status only says whether the autograder itself worked.
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the autograder zip for one lab")
    b.add_argument("--lab", type=int, required=True)
    b.add_argument("--out")
    r = sub.add_parser("run", help="grade /autograder/submission (run_autograder)")
    r.add_argument("--root", default=os.environ.get("FERN_AUTOGRADER_ROOT", "/autograder"))
    r.add_argument("--lab", type=int, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "build":
        build(args.lab, args.out or os.path.join(ROOT, "build", "autograder-lab%d.zip"
                                                 % args.lab))
        return 0
    return run(os.path.abspath(args.root), args.lab)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
