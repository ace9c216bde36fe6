#!/usr/bin/env python3
"""Grade a student's tree with the official build files, tests and grader
(tools/grade-student.sh is the entry point; docs/instructors.md says what
is trusted).

    tools/grade-student.sh STUDENT_DIR [LAB] [--out DIR] [grade.py options...]

What is taken from the student: the C and header files of src/ and
include/ (src/**/*.c, src/**/*.h, include/**/*.h), except the in-kernel
test suites (*_test.c, *_bench.c). Assembly (*.asm) holds no lab region
and comes from the official tree. Everything else --
the Makefile, the manifests, the build's generators (src/console/ksyms.awk),
the linker script, grub.cfg, tests/, tools/ -- is the official copy, so no
program of the student's runs on the grading machine. A file the student
does not have comes from the official tree with every lab stubbed, never
with the reference code.

How the build is kept from reaching what it must not see:
  - it runs in a fresh folder that holds only the Makefile, the manifests
    and the kernel sources, with a minimal environment (no secrets in
    variables for NASM's %!VAR to read);
  - every C and assembly compile goes through `guard` below: the compiler
    runs once to list every file it reads (-MD) and to write the assembly
    it would assemble; a file read from outside the build folder (an
    absolute or ../ #include, %include) or an assembler directive that
    reads a file or builds one at assembly time (.incbin, .include, .macro,
    .irp, .rept) refuses the submission; NASM runs on official files only,
    and is checked the same way (what it read) after the fact;
  - the grader runs from a copy of the official tests made after the
    build, and the official files are hashed before and after it.
Results (logs, the build log) go to --out DIR (default:
build/grade-student/NAME-labN/ in the official tree), never into the
build folder. A submission that does not build is graded 0, with the
compiler's messages, in the usual format and results files.
"""

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

OFFICIAL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(OFFICIAL, "tools"))
sys.path.insert(0, os.path.join(OFFICIAL, "tests"))

# What a student may supply, by folder and suffix; all else is ignored.
# Assembly is not among them: no lab region is in it, and NASM cannot be
# checked as closely as the C compiler (guard_nasm).
STUDENT_TYPES = {"src": (".c", ".h"), "include": (".h",)}
# In-kernel test suites and benchmark workloads: part of the grading.
OFFICIAL_ONLY = re.compile(r"_(test|bench)\.c$")
MAX_FILE = 1 << 20
# File names that mean nothing to make or the shell (a header's name ends
# up in the dependency files the Makefile reads).
SAFE_NAME = re.compile(r"[A-Za-z0-9_./-]+")
# Assembler directives that read a file, or make directive names at
# assembly time (so the next could be .incbin without saying so).
AS_FORBIDDEN = re.compile(r"(?:^|[\s;:])\.(incbin|include|macro|irpc?|rept|altmacro)\b",
                          re.I | re.M)
NASM_FORBIDDEN = re.compile(r"^\s*(?:[\w.$?@~]+:?\s+)?incbin\b", re.I | re.M)
# Options of grade.py whose value is a path, resolved here before the
# grader runs in another folder.
PATH_OPTIONS = ("--json", "--gradescope", "--log-dir", "--iso")


def say(msg):
    print("grade-student: %s" % msg, flush=True)


# ---- the compiler guard -------------------------------------------------

def guard_roots(cc, tree):
    """Folders a compile may read: the build folder and the compiler's own
    header search list (its freestanding headers such as stdint.h, and the
    system headers they pull in), as the compiler reports it with -v."""
    roots = [os.path.realpath(tree)]
    p = subprocess.run(cc + ["-x", "c", "-E", "-v", "-o", os.devnull, os.devnull],
                       capture_output=True, text=True)
    listed = False
    for line in p.stderr.splitlines():
        if line.startswith("#include <...> search starts here"):
            listed = True
        elif line.startswith("End of search list"):
            listed = False
        elif listed and line.startswith(" "):
            roots.append(os.path.realpath(line.strip().split(" (")[0]))
    return roots


def allowed_roots(cc=None):
    """The roots the builder worked out once (FERN_GUARD_ROOTS), or, when
    the guard is run by hand, the current folder and cc's headers."""
    given = [r for r in os.environ.get("FERN_GUARD_ROOTS", "").split(os.pathsep) if r]
    if given:
        return given
    return guard_roots(cc or ["cc"], os.getcwd())


def inside(path, roots):
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in roots)


def dep_files(text):
    """The prerequisites listed in a make dependency file."""
    text = text.replace("\\\n", " ")
    files = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        _, rest = line.split(":", 1)
        files += [f.replace("\\ ", " ") for f in re.findall(r"(?:\\ |\S)+", rest)]
    return files


def refuse(source, why):
    sys.stderr.write("%s: refused by the grader: %s\n" % (source, why))
    return 1


def strip_args(args, drop_with_value, drop):
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in drop_with_value:
            skip = True
        elif a not in drop:
            out.append(a)
    return out


def outside_reads(paths, roots):
    return [p for p in paths if not inside(p, roots)]


def guard_cc(cc, args):
    """Compile C as asked, after checking what the compile reads and what
    assembly it makes. The check compiles to assembly with its messages
    held back until the files it opened are known to be allowed: a
    compiler error inside an included file quotes that file's lines,
    which must not reach the student's build log."""
    sources = [a for a in args if a.endswith(".c")]
    if "-c" not in args or len(sources) != 1:
        os.execvp(cc[0], cc + args)
    source = sources[0]
    roots = allowed_roots(cc)
    first = strip_args(args, ("-o", "-MF", "-MT", "-MQ"), ("-c", "-MMD", "-MD", "-MP"))
    with tempfile.TemporaryDirectory(prefix="fern-guard-") as tmp:
        asm = os.path.join(tmp, "out.s")
        # -H names each header as it is opened, one per line: ". path".
        try:
            p = subprocess.run(cc + first + ["-S", "-H", "-o", asm], capture_output=True,
                               text=True, errors="replace", timeout=120)
        except subprocess.TimeoutExpired:
            return refuse(source, "compiling it did not end within 120 s")
        opened = [m.group(1) for m in re.finditer(r"^\.+ (.+)$", p.stderr, re.M)]
        bad = outside_reads(opened, roots)
        if bad:
            return refuse(source, "it reads %s, which is outside the submission (only its own "
                          "files and the compiler's headers may be included)" % bad[0])
        messages = "".join(l for l in p.stderr.splitlines(True) if not re.match(r"^\.+ ", l))
        if p.returncode != 0:
            sys.stderr.write(messages)
            return p.returncode
        with open(asm, errors="replace") as f:
            m = AS_FORBIDDEN.search(f.read())
        if m:
            return refuse(source, "its assembly uses '.%s' (a directive that reads a file "
                          "or writes directives at assembly time)" % m.group(1))
    # The compile proper, whose warnings are then shown once.
    return subprocess.run(cc + args).returncode


def guard_nasm(nasm, args):
    """Assemble as asked, then check the files NASM read (its -MD list and
    the files its messages name) before showing its messages or keeping
    the object. Assembly is not taken from students (no lab region is in
    it), so this guards the official files; it also refuses the word
    incbin in the source. (NASM's preprocess-only mode cannot evaluate
    the %rep counts fern's stubs use, so there is no -E check.)"""
    sources = [a for a in args if a.endswith(".asm")]
    if len(sources) != 1:
        os.execvp(nasm[0], nasm + args)
    source = sources[0]
    roots = allowed_roots()
    with open(source, errors="replace") as f:
        if re.search(r"\bincbin\b", f.read(), re.I):
            return refuse(source, "it uses incbin (reads a file into the kernel)")
    with tempfile.TemporaryDirectory(prefix="fern-guard-") as tmp:
        deps = os.path.join(tmp, "out.d")
        base = strip_args(args, ("-MD", "-MF"), ("-MP",))
        p = subprocess.run(nasm + base + ["-MD", deps], capture_output=True, text=True,
                           errors="replace")
        listed = []
        if os.path.exists(deps):
            with open(deps, errors="replace") as f:
                listed = dep_files(f.read())
        named = re.findall(r"^(.+?):\d+: ", p.stderr, re.M)
        bad = outside_reads(listed + named, roots)
        out = args[args.index("-o") + 1] if "-o" in args[:-1] else None
        if bad:
            if out and os.path.exists(out):
                os.remove(out)
            return refuse(source, "it reads %s, which is outside the submission" % bad[0])
        sys.stderr.write(p.stderr)
        if p.returncode == 0 and "-MD" in args[:-1]:
            shutil.copyfile(deps, args[args.index("-MD") + 1])
        return p.returncode


# ---- what the student supplied ------------------------------------------

def walk(root):
    """Every path under root (relative), without .git and build/."""
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in (".git", "build", "__pycache__"))
        for name in sorted(files + [x for x in dirs if os.path.islink(os.path.join(d, x))]):
            yield os.path.relpath(os.path.join(d, name), root)


def accepted(rel):
    top = rel.split(os.sep, 1)[0]
    return rel.endswith(STUDENT_TYPES.get(top, ())) and not OFFICIAL_ONLY.search(rel)


def collect(student):
    """(files to use, notes): the student's kernel sources, and what was
    ignored or refused, each said once."""
    use, ignored, refused, differ = [], [], [], []
    for rel in walk(student):
        path = os.path.join(student, rel)
        top = rel.split(os.sep, 1)[0]
        if top not in STUDENT_TYPES:
            off = os.path.join(OFFICIAL, rel)
            if not (os.path.isfile(off) and not os.path.islink(path)
                    and os.path.isfile(path) and same_bytes(path, off)):
                differ.append(rel)
            continue
        if not SAFE_NAME.fullmatch(rel):
            refused.append("%r (a file name outside [A-Za-z0-9_.-/])" % rel)
        elif os.path.islink(path) or not os.path.isfile(path):
            refused.append("%s (a link or special file)" % rel)
        elif not accepted(rel):
            off = os.path.join(OFFICIAL, rel)
            if not (os.path.isfile(off) and same_bytes(path, off)):
                ignored.append(rel)
        elif os.path.getsize(path) > MAX_FILE:
            refused.append("%s (larger than %d KiB)" % (rel, MAX_FILE >> 10))
        else:
            use.append(rel)
    return use, ignored, refused, differ


def same_bytes(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def listing(items, n=8):
    return ", ".join(items[:n]) + (" and %d more" % (len(items) - n) if len(items) > n else "")


# ---- changes outside the lab regions ------------------------------------

def outside_regions(official_text, student_text, labs):
    """Line ranges (1-based, in the student's file) changed outside the lab
    regions, compared with the handout: both texts have every lab region
    turned into its hint and stub, and a change may replace the stub or add
    lines after the hint."""
    import derive
    base = derive.stub_text(official_text, labs).splitlines()
    mine = derive.stub_text(student_text, labs).splitlines()
    hint = re.compile(r"^\s*/\*\s*LAB\s+\d+:")
    regions = [(i, i + 2) for i, l in enumerate(base) if hint.match(l)]
    changes = []
    sm = difflib.SequenceMatcher(None, base, mine, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:
            ok = any(s < i1 <= e for s, e in regions)
        else:
            ok = any(s <= i1 and i2 <= e for s, e in regions)
        if not ok:
            changes.append((j1 + 1, max(j2, j1 + 1)) if j2 > j1 else (j1, j1))
    return changes


def report_changes(student, use, labs):
    """Print one note per file changed outside the lab regions."""
    noted = 0
    for rel in use:
        off = os.path.join(OFFICIAL, rel)
        if not os.path.isfile(off):
            say("note: %s is new (not in the official tree)" % rel)
            continue
        with open(off, encoding="utf-8", errors="replace") as f:
            official = f.read()
        with open(os.path.join(student, rel), encoding="utf-8", errors="replace") as f:
            mine = f.read()
        if official == mine:
            continue
        changes = outside_regions(official, mine, labs)
        if changes:
            noted += 1
            where = ", ".join("%d" % a if b <= a else "%d-%d" % (a, b) for a, b in changes[:6])
            say("note: %s changed outside the lab regions (lines %s%s)"
                % (rel, where, ", ..." if len(changes) > 6 else ""))
    return noted


# ---- the build ----------------------------------------------------------

def stubbed_tree(dst, labs):
    """The official src/ and include/ with every lab stubbed, plus the
    Makefile and the manifests: what a submission is laid over."""
    import derive
    for rel in ["Makefile"] + [os.path.join("chapters", f) for f in
                               sorted(os.listdir(os.path.join(OFFICIAL, "chapters")))]:
        if os.path.isfile(os.path.join(OFFICIAL, rel)):
            copy(os.path.join(OFFICIAL, rel), os.path.join(dst, rel))
    for top in ("src", "include"):
        for rel in walk(os.path.join(OFFICIAL, top)):
            rel = os.path.join(top, rel)
            src = os.path.join(OFFICIAL, rel)
            if rel.endswith(derive.C_LIKE):
                with open(src, encoding="utf-8") as f:
                    text = derive.stub_text(f.read(), labs)
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                with open(os.path.join(dst, rel), "w", encoding="utf-8") as f:
                    f.write(text)
            else:
                copy(src, os.path.join(dst, rel))


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def fingerprint(paths):
    """{file: sha256} of the official grading files."""
    sums = {}
    for top in paths:
        full = os.path.join(OFFICIAL, top)
        files = [top] if os.path.isfile(full) else \
            [os.path.join(top, f) for f in walk(full)] if os.path.isdir(full) else []
        for rel in files:
            p = os.path.join(OFFICIAL, rel)
            if os.path.isfile(p) and not rel.endswith(".pyc"):
                with open(p, "rb") as f:
                    sums[rel] = hashlib.sha256(f.read()).hexdigest()
    return sums


GRADING_FILES = ("Makefile", "chapters", "tests", "tools", "src", "include")


def build(tree, chapters, log_path, scale):
    """Build each chapter's ISO in `tree`; return the chapters that built."""
    cc = os.environ.get("CC") or (os.environ.get("CROSS", "") + "gcc")
    nasm = os.environ.get("NASM") or "nasm"
    me = [sys.executable, os.path.abspath(__file__)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C",
           "HOME": tree, "TMPDIR": tree}
    env["FERN_GUARD_ROOTS"] = os.pathsep.join(guard_roots(cc.split(), tree))
    guard_cc_cmd = " ".join(me + ["guard-cc", cc])
    guard_nasm_cmd = " ".join(me + ["guard-nasm", nasm])
    built = []
    with open(log_path, "w") as log:
        for n in chapters:
            log.write("== make CHAPTER=%d iso\n" % n)
            log.flush()
            cmd = ["make", "-C", tree, "--no-print-directory", "-k", "CHAPTER=%d" % n,
                   "CC=" + guard_cc_cmd, "NASM=" + guard_nasm_cmd, "iso"]
            if os.environ.get("CROSS"):
                cmd.append("CROSS=" + os.environ["CROSS"])
            try:
                p = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   timeout=300 * scale)
                ok = p.returncode == 0
            except subprocess.TimeoutExpired:
                log.write("error: the build did not finish within %.0f s\n" % (300 * scale))
                ok = False
            if ok and os.path.isfile(os.path.join(tree, "build", "ch%d" % n, "fern.iso")):
                built.append(n)
            else:
                log.write("error: chapter %d did not build\n" % n)
    return built


# ---- the whole run ------------------------------------------------------

def parse(argv):
    if not argv or argv[0] in ("-h", "--help"):
        return None
    student, rest = argv[0], argv[1:]
    lab = None
    if rest and re.fullmatch(r"\d+", rest[0]):
        lab, rest = int(rest[0]), rest[1:]
    elif rest and rest[0] == "":
        rest = rest[1:]
    out, passed = None, []
    i = 0
    while i < len(rest):
        a = rest[i]
        name, eq, value = a.partition("=")
        if name == "--out" or name in PATH_OPTIONS:
            if not eq:
                i += 1
                if i >= len(rest):
                    raise SystemExit("grade-student: %s needs a value" % name)
                value = rest[i]
            value = os.path.abspath(value)
            if name == "--out":
                out = value
            else:
                passed += [name, value]
        else:
            passed.append(a)
        i += 1
    return student, lab, out, passed


def main(argv):
    if len(argv) >= 2 and argv[0] == "guard-cc":
        return guard_cc(argv[1].split(), argv[2:])
    if len(argv) >= 2 and argv[0] == "guard-nasm":
        return guard_nasm(argv[1].split(), argv[2:])
    parsed = parse(argv)
    if parsed is None or not os.path.isdir(os.path.join(parsed[0], "src")):
        print("usage: tools/grade-student.sh STUDENT_DIR [LAB] [--out DIR] [grade.py options]\n"
              "  (STUDENT_DIR must contain src/)", file=sys.stderr)
        return 2
    student, lab, out, gradeopts = parsed
    student = os.path.abspath(student)

    from fernlab import manifest
    from fernlab.qemu import HarnessError, timeout_scale
    try:
        scale = timeout_scale()
    except HarnessError as e:
        print("error: %s" % e)
        return 2
    chapters = manifest.load(OFFICIAL)
    numbers = [c.number for c in chapters]
    all_labs = sorted({int(c.lab.rstrip("/").rsplit("lab", 1)[1]) for c in chapters if c.lab})
    if lab is not None and lab not in numbers:
        print("error: there is no lab %d; the labs are %s" % (lab, " ".join(map(str, all_labs))))
        return 2
    name = re.sub(r"[^\w.-]+", "-", os.path.basename(student.rstrip(os.sep))) or "student"
    out = out or os.path.join(OFFICIAL, "build", "grade-student",
                              "%s-%s" % (name, "lab%d" % lab if lab else "labs"))
    os.makedirs(out, exist_ok=True)
    say("grading %s, %s; results in %s" % (student, "lab %d" % lab if lab else "every lab", out))

    use, ignored, refused, differ = collect(student)
    if differ:
        say("not used (the official copies are): %s" % listing(differ))
    if ignored:
        say("ignored (only .c and .h files of src/ and include/ are taken, not "
            "assembly nor the *_test.c / *_bench.c suites): %s" % listing(ignored))
    if refused:
        say("refused: %s" % listing(refused))
    report_changes(student, use, set(all_labs))

    work = tempfile.mkdtemp(prefix="fern-grade-")
    try:
        tree = os.path.join(work, "build-tree")
        stubbed_tree(tree, set(all_labs))
        for rel in use:
            copy(os.path.join(student, rel), os.path.join(tree, rel))
        before = fingerprint(GRADING_FILES)
        want = [lab] if lab else numbers
        build_log = os.path.join(out, "build.log")
        say("building chapter%s %s (log: %s)" % ("" if lab else "s", " ".join(map(str, want)),
                                                  build_log))
        built = build(tree, want, build_log, scale)
        after = fingerprint(GRADING_FILES)
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            print("error: the official tree changed while the submission was built (%s); "
                  "not grading with it" % listing(changed))
            return 3
        # The grader: a copy of the official tree made after the build,
        # with the ISOs that were built.
        grader = os.path.join(work, "grader")
        for rel in walk(OFFICIAL):
            top = rel.split(os.sep, 1)[0]
            if top in ("solutions", ".ci") or os.path.islink(os.path.join(OFFICIAL, rel)):
                continue
            copy(os.path.join(OFFICIAL, rel), os.path.join(grader, rel))
        for n in built:
            for f in ("fern.iso", "fern.elf"):
                copy(os.path.join(tree, "build", "ch%d" % n, f),
                     os.path.join(grader, "build", "ch%d" % n, f))
        cmd = [sys.executable, os.path.join(grader, "tests", "grade.py")]
        cmd += ["--lab", str(lab)] if lab else ["--labs"]
        cmd += ["--log-dir", os.path.join(out, "test-logs")]
        if not built:
            cmd += ["--build-failed", build_log]
        elif len(built) < len(want):
            say("chapters %s did not build (see %s): their labs score 0"
                % (" ".join(str(n) for n in want if n not in built), build_log))
        sys.stdout.flush()
        return subprocess.run(cmd + gradeopts).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
