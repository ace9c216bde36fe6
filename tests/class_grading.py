"""Grading a whole class (`make check-grading`, run by .ci/run): the
Gradescope autograder, the GitHub workflow's script, and batch grading of a
roster, each tried on real trees (the reference code, a handout, a build
error, a hanging kernel). They build a kernel per student, so they are
kept out of `make check`'s time budget.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from fernlab import test
from fernlab.student import ROOT, student_tree, write

def autograder_run(tmp, name, make_submission, env_extra=None):
    """Lay out a Gradescope-like root in tmp/name (source/ unzipped from
    the lab 1 autograder, submission/, results/), run run_autograder, and
    return (its output, the parsed results.json or None)."""
    root = os.path.join(tmp, name)
    os.makedirs(os.path.join(root, "source"))
    subprocess.run(["unzip", "-q", os.path.join(tmp, "ag.zip"), "-d",
                    os.path.join(root, "source")], check=True)
    make_submission(os.path.join(root, "submission"))
    env = dict(os.environ, FERN_AUTOGRADER_ROOT=root,
               FERN_AUTOGRADER_GRADEFLAGS="-k memory", **(env_extra or {}))
    p = subprocess.run(["sh", os.path.join(root, "source", "run_autograder")], env=env,
                       capture_output=True, text=True, timeout=300)
    try:
        with open(os.path.join(root, "results", "results.json")) as f:
            return p.stdout + p.stderr, json.load(f)
    except (OSError, ValueError):
        return p.stdout + p.stderr, None


def gradescope_format(t, what, data):
    """Gradescope's results.json: a score, and tests with name, score,
    max_score, output and status; the total is the tests' sum."""
    if not t.check(data is not None, "%s: results.json is written" % what):
        return False
    tests = data.get("tests", [])
    fields = all(isinstance(x.get("name"), str) and isinstance(x.get("score"), (int, float))
                 and isinstance(x.get("max_score"), (int, float)) and "output" in x
                 and x.get("status") in ("passed", "failed") for x in tests)
    t.check(fields, "%s: every test has name, score, max_score, output and status" % what)
    t.check(data.get("score") == sum(x.get("score", 0) for x in tests),
            "%s: the score (%s) is the tests' sum" % (what, data.get("score")))
    return True


@test("autograder: run_autograder grades full marks, a handout, a build error and a hang "
      "into Gradescope's results.json")
def gradescope_autograder(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "autograder.py"),
                            "build", "--lab", "1", "--out", os.path.join(tmp, "ag.zip")],
                           capture_output=True, text=True, timeout=120)
        t.check(p.returncode == 0, "make autograder LAB=1 writes the zip: %s" % p.stdout.strip())
        import zipfile
        with zipfile.ZipFile(os.path.join(tmp, "ag.zip")) as z:
            names = set(z.namelist())
        t.check({"setup.sh", "run_autograder", "Makefile", "tests/grade.py"} <= names,
                "the zip has setup.sh and run_autograder at its root, and the course")
        t.check(not any(n.startswith("build/") for n in names), "no build output in the zip")

        out, data = autograder_run(tmp, "full", lambda d: student_tree(d, stub=False))
        if gradescope_format(t, "reference", data):
            t.check(data["score"] == 35 and all(x["status"] == "passed" for x in data["tests"]),
                    "the reference code gets full marks (%s)" % data.get("score"))

        out, data = autograder_run(tmp, "handout", lambda d: student_tree(d, stub=True))
        if gradescope_format(t, "handout", data):
            t.check(data["score"] < 35, "the handout scores low (%s/35)" % data["score"])

        def broken(d):
            student_tree(d, stub=False)
            write(os.path.join(d, "src", "lib", "exit.c"), "int broken(void) { return 1 }\n", "a")
        out, data = autograder_run(tmp, "broken", broken)
        if gradescope_format(t, "does not compile", data):
            t.check(data["score"] == 0 and "expected ';'" in data.get("output", ""),
                    "a build error scores 0 with the compiler's message in the output")

        def hangs(d):
            student_tree(d, stub=False)
            kmain = os.path.join(d, "src", "boot", "kmain.c")
            with open(kmain) as f:
                text = f.read()
            text = text.replace('\tboot_phase("loader");', '\tfor (;;)\n\t\t;', 1)
            write(kmain, text)
        start = time.monotonic()
        out, data = autograder_run(tmp, "hang", hangs, {"FERN_TIMEOUT_SCALE": "0.3"})
        took = time.monotonic() - start
        if gradescope_format(t, "a hanging kernel", data):
            t.check(data["score"] == 0 and "silent" in json.dumps(data),
                    "a kernel that hangs scores 0 and each test says the run was silent")
        t.check(took < 120, "the hanging submission is graded in bounded time (%.0f s)" % took)

        def empty(d):
            os.makedirs(os.path.join(d, "notes"))
        out, data = autograder_run(tmp, "empty", empty)
        if gradescope_format(t, "no src/", data):
            t.check(data["score"] == 0 and "no src/ folder" in data.get("output", ""),
                    "an upload without src/ gets 0 and says why")


@test("grade-all: a roster of folders and a git bundle is graded in parallel into grades.csv; "
      "a broken student stops nobody")
def batch_grading(t):
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        roster = os.path.join(tmp, "roster")
        student_tree(os.path.join(roster, "alice"), stub=False)
        student_tree(os.path.join(roster, "bob"), stub=True)
        carol = student_tree(os.path.join(roster, "carol"), stub=False)
        write(os.path.join(carol, "src", "lib", "exit.c"), "int broken(void) { return 1 }\n", "a")
        dave = student_tree(os.path.join(tmp, "dave"), stub=False)
        git = ["git", "-C", dave, "-c", "user.email=d@example.org", "-c", "user.name=d"]
        subprocess.run(git[:3] + ["init", "-q"], check=True)
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-qm", "lab 1"], check=True)
        subprocess.run(git[:3] + ["bundle", "create", os.path.join(roster, "dave.bundle"),
                                  "HEAD"], check=True, capture_output=True)
        out = os.path.join(tmp, "out")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "grade_all.py"),
                            roster, "1", "--jobs", "2", "--out", out, "-k", "memory"],
                           capture_output=True, text=True, timeout=600)
        t.check(p.returncode == 0, "grade-all ends with status 0 (%d)" % p.returncode)
        try:
            import csv
            with open(os.path.join(out, "grades.csv")) as f:
                rows = {r["student"]: r for r in csv.DictReader(f)}
            with open(os.path.join(out, "grades.json")) as f:
                data = json.load(f)
        except OSError as e:
            t.fail("grades.csv and grades.json are written: %s" % e)
        t.check(sorted(rows) == ["alice", "bob", "carol", "dave"],
                "one row per student, the bundle's included (%s)" % sorted(rows))
        want = {"alice": "35", "bob": None, "carol": "0", "dave": "35"}
        for name, score in want.items():
            r = rows.get(name, {})
            if score is None:
                t.check(r.get("score") not in (None, "35"), "%s (the handout) scores low (%s)"
                        % (name, r.get("score")))
            else:
                t.check(r.get("score") == score, "%s scores %s (%s, %s)"
                        % (name, score, r.get("score"), r.get("outcome")))
        t.check(rows.get("carol", {}).get("outcome") == "does not build",
                "carol's outcome says she does not build")
        t.check("boot: usable memory follows QEMU's -m" in next(iter(rows.values()), {}),
                "a column per test with its points")
        t.check(len(data.get("students", [])) == 4 and data.get("jobs") == 2,
                "grades.json has every student and the parallelism")
        for name in want:
            t.check(os.path.isfile(os.path.join(out, name, "grade.log")),
                    "%s has a log of their own" % name)


@test("ci-grade: the GitHub workflow runs make deps and make ci-grade, which grades and "
      "writes the job summary")
def github_workflow(t):
    try:
        import yaml
    except ImportError:
        # A python3 that is not Debian's (pyenv, a venv) does not see the
        # python3-yaml package that make deps installs; its pure-Python
        # part works from there too.
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import yaml
        except ImportError:
            t.fail("PyYAML is missing: Debian's python3-yaml (make deps installs it)")
    with open(os.path.join(ROOT, ".github", "workflows", "grade.yml")) as f:
        flow = yaml.safe_load(f)
    steps = [s for job in flow.get("jobs", {}).values() for s in job.get("steps", [])]
    runs = [s["run"].strip() for s in steps if "run" in s]
    t.check(runs == ["make deps", "make ci-grade"],
            "the workflow's commands are 'make deps' then 'make ci-grade' (%r)" % runs)
    t.check(any(s.get("uses", "").startswith("actions/checkout@") for s in steps),
            "it checks the repository out first")
    on = flow.get("on", flow.get(True))
    t.check(on is not None and "push" in on, "it runs on push (%r)" % on)
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        summary = os.path.join(tmp, "summary.md")
        env = dict(os.environ, GITHUB_STEP_SUMMARY=summary)
        env.pop("MAKEFLAGS", None)
        p = subprocess.run(["make", "--no-print-directory", "ci-grade", "LAB=1",
                            "GRADEFLAGS=-k greets"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        t.check(p.returncode == 0, "make ci-grade LAB=1 passes on the reference code (%d)"
                % p.returncode)
        try:
            with open(summary) as f:
                text = f.read()
        except OSError:
            text = ""
        t.check(re.search(r"^\| lab 1 \| 20/20 \|", text, re.M) is not None,
                "the job summary has lab 1's score: %r" % text[:200])



# ---- a kernel that replays a reference run --------------------------------
#
# Issue 20's replay attack: a student who has the serial output of a
# working kernel (a friend's, or the reference's) and a kernel that prints
# it back, with this boot's nonce swapped in (the kernel can read it from
# fw_cfg like any option). Printed `ok` lines alone must not be worth much
# of a lab: the exceptions must show in QEMU's own log (-d int), the PIC and
# PIT writes in its trace, the timer by the harness's clock, the keys by
# IRQ. Lab 3 is the lab whose grade leans most on the kernel's own report.

REPLAY_LAB = 3
REPLAY_BOUND = 15           # the replay measured 12 of 100 (the handout 5)
REPLAY_BOOTS = ("test=gdt,idt,irq,keymap,timer,irq-print", "test=divide-error",
                "test=breakpoint", "test=invalid-opcode", "test=general-protection",
                "test=page-fault", "test=double-fault", "test=timer-rate")
RECORDED_NONCE = "deadbeef"

REPLAYER = r'''
#include <fern/string.h>
#include <fern/x86.h>
#include "replay_data.h"

/* Print a reference run's output for this boot's tests, nonce swapped. */
static void replay(void)
{
	static char opts[BOOT_CMDLINE_MAX], line[1024];
	char nonce[9] = "", test[160] = "";
	int n = fw_cfg_read_file(FW_CFG_CMDLINE_FILE, opts, sizeof(opts));

	for (int i = 0; i < n; i++) {
		if (i && opts[i - 1] != ' ')
			continue;
		if (!strncmp(opts + i, "nonce=", 6))
			memcpy(nonce, opts + i + 6, 8);
		if (!strncmp(opts + i, "test=", 5)) {
			size_t k = 0;

			for (int j = i + 5; j < n && opts[j] != ' ' && k < sizeof(test) - 1; j++)
				test[k++] = opts[j];
			test[k] = 0;
		}
	}
	for (size_t r = 0; r < sizeof(replays) / sizeof(replays[0]); r++) {
		if (strcmp(replays[r].test, test))
			continue;
		for (int i = 0; i < replays[r].n; i++) {
			size_t len = strlen(replays[r].lines[i]);

			memcpy(line, replays[r].lines[i], len + 1);
			for (char *q = line; *q; q++)
				if (!strncmp(q, "%(nonce)s", 8))
					memcpy(q, nonce, 8);
			kprintf("%%s\n", line);
		}
		outb(0xf4, (uint8_t)replays[r].status);
		for (;;)
			__asm__ volatile("hlt");
	}
}
''' % {"nonce": RECORDED_NONCE}


def record_reference(iso):
    """[(test list, serial lines after the hello line, exit value)] of the
    reference kernel's lab-3 boots, with RECORDED_NONCE as their nonce."""
    from fernlab.qemu import qemu_command, timeout_scale
    runs = []
    for cmdline in REPLAY_BOOTS:
        argv = qemu_command(iso, cmdline="%s nonce=%s" % (cmdline, RECORDED_NONCE))
        p = subprocess.run(argv, capture_output=True, timeout=60 * timeout_scale())
        lines = p.stdout.decode("latin-1").replace("\r", "").split("\n")
        hello = [i for i, line in enumerate(lines) if line.startswith("fern: hello")]
        if not hello:
            return None
        runs.append((cmdline.split("=", 1)[1], [x for x in lines[hello[0] + 1:] if x],
                     p.returncode >> 1))
    return runs


def replay_header(runs):
    def c(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
    out = ["struct replay { const char *test; const char *const *lines; int n; int status; };"]
    for k, (_, lines, _) in enumerate(runs):
        out.append("static const char *const replay_%d[] = {" % k)
        out += ["\t%s," % c(x) for x in lines]
        out.append("};")
    out.append("static const struct replay replays[] = {")
    out += ['\t{ %s, replay_%d, %d, %d },' % (c(test), k, len(lines), status)
            for k, (test, lines, status) in enumerate(runs)]
    out.append("};")
    return "\n".join(out) + "\n"


@test("grade-student: a kernel that replays a reference run's serial output, this boot's nonce "
      "swapped in, scores at most %d of lab %d's 100" % (REPLAY_BOUND, REPLAY_LAB))
def replayed_run(t):
    made = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "CHAPTER=%d" % REPLAY_LAB],
                          capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        t.fail("the reference chapter %d does not build: %s" % (REPLAY_LAB, made.stderr[-300:]))
    runs = record_reference(os.path.join(ROOT, "build", "ch%d" % REPLAY_LAB, "fern.iso"))
    if not runs:
        t.fail("the reference kernel printed no 'fern: hello' line to record")
    t.check(all(RECORDED_NONCE in " ".join(lines) for _, lines, _ in runs),
            "every recorded boot carries the nonce the replay swaps")
    with tempfile.TemporaryDirectory(prefix="fern-selftest-") as tmp:
        eve = student_tree(os.path.join(tmp, "eve"), stub=True)
        kmain = os.path.join(eve, "src", "boot", "kmain.c")
        with open(kmain) as f:
            text = f.read()
        hello = '\tkprintf("fern: hello from 64-bit long mode (chapter %d)\\n", FERN_CHAPTER);\n'
        if hello not in text or "\nvoid kmain(" not in text:
            t.fail("kmain.c has no hello line to put the replay after")
        text = text.replace("\nvoid kmain(", REPLAYER + "\nvoid kmain(", 1)
        text = text.replace(hello, hello + "\treplay();\n", 1)
        write(kmain, text)
        write(os.path.join(eve, "src", "boot", "replay_data.h"), replay_header(runs))
        p = subprocess.run([os.path.join(ROOT, "tools", "grade-student.sh"), eve,
                            str(REPLAY_LAB), "--out", os.path.join(tmp, "results")],
                           capture_output=True, text=True, cwd=tmp, timeout=600)
        out = p.stdout + p.stderr
    score = re.search(r"^Score: (\d+)/100\b", out, re.M)
    if not score:
        t.fail("grade-student printed no score: %r" % out[-500:])
    # The replay is real: the tests that only read the kernel's lines pass.
    t.check(re.search(r"^PASS  interrupts: registers and flags survive timer interrupts", out,
                      re.M) is not None, "the replayed KTAP lines pass the tests that read "
            "only them (registers and flags)")
    for name in ("every IDT gate", "#PF reports CR2", "QEMU saw both 8259s", "QEMU saw the PIT",
                 "the timer ticks at 100 Hz by the harness's clock"):
        t.check(re.search(r"^FAIL  interrupts: .*%s" % re.escape(name), out, re.M) is not None,
                "what QEMU and the harness see for themselves fails: %s" % name)
    t.check(int(score.group(1)) <= REPLAY_BOUND, "the replay scores %s/100, at most %d"
            % (score.group(1), REPLAY_BOUND))
