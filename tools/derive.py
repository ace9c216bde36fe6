#!/usr/bin/env python3
"""Derive chapter snapshots, chapter branches and lab handouts from the one
source in src/ and include/.

    derive.py snapshot N [--out DIR]        the tree as of chapter N
    derive.py branches                      git branches chapter-01-boot, ...
    derive.py handout [--lab N] [--out DIR] a student repository
    derive.py lab-start N                   stub lab N in place, on a new branch
    derive.py check-markers                 validate every LAB marker

How a snapshot is made: take the files of the repository (as committed in
HEAD, plus uncommitted changes), keep those that belong to chapters <= N
(the manifests in chapters/ say which sources and tests each chapter adds;
headers follow the #includes of the kept sources), and run every C, header
and linker-script file through `unifdef -DFERN_CHAPTER=N`, which resolves
the `#if FERN_CHAPTER >= M` fences and leaves no conditional behind.

How a handout is made: the same files minus solutions/, with every lab
region

    /* LAB 2 BEGIN: one-line hint */
    ...reference code...
    /* LAB 2 STUB: code that compiles and fails clearly */
    /* LAB 2 END */

replaced by the hint and the stub. The last line printed is always the
path of what was made.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fernlab import manifest  # noqa: E402

C_LIKE = (".c", ".h", ".S")
INCLUDE = re.compile(r'^\s*#\s*include\s+<(fern/[^>]+)>', re.M)
MARKER = re.compile(r"/\*\s*LAB\s+(\d+)\s+(BEGIN|STUB|END)\b:?\s*(.*?)\s*\*/")
LAB_REGION = re.compile(
    r"^(?P<indent>[ \t]*)/\*\s*LAB\s+(?P<lab>\d+)\s+BEGIN:\s*(?P<hint>.*?)\s*\*/[ \t]*\n"
    r"(?P<body>.*?)"
    r"^[ \t]*/\*\s*LAB\s+(?P=lab)\s+STUB:\s*(?P<stub>.*?)\s*\*/[ \t]*\n"
    r"^[ \t]*/\*\s*LAB\s+(?P=lab)\s+END\s*\*/[ \t]*\n",
    re.M | re.S)
# Files that only the course's authors need.
AUTHOR_ONLY = ("solutions/", ".ci/")


class DeriveError(Exception):
    pass


def git(*args, **kw):
    return subprocess.run(["git", "-C", ROOT] + list(args), check=True,
                          capture_output=True, text=True, **kw).stdout


def tracked_files():
    """Every file git knows about, plus new files not ignored: the tree as
    the author sees it now."""
    out = git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return sorted(f for f in set(out.split("\0")) if f and os.path.isfile(os.path.join(ROOT, f)))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def chapter_files(n, files, chapters):
    """The files of the tree as of chapter n."""
    active = [c for c in chapters if c.number <= n]
    # A draft chapter (chapters/NN-*.mk.draft) is later than every chapter.
    numbers = {c.number for c in chapters}
    later = [c for c in chapters if c.number > n] + \
        [d for d in manifest.drafts(ROOT) if d.number not in numbers]
    if len(active) != n:
        raise DeriveError("there is no chapter %d; the chapters are %s"
                          % (n, " ".join(str(c.number) for c in chapters)))

    def owned(c):
        paths = set(c.srcs) | set(c.tests) | set(c.files)
        if c.blog:
            paths.add(c.blog)
        return paths

    keep, drop = set(), set()
    for c in active:
        keep |= owned(c)
    for c in later:
        drop |= owned(c)
    lab_dirs_later = tuple(c.lab.rstrip("/") + "/" for c in later if c.lab)
    manifests_later = tuple("chapters/%02d-" % c.number for c in later)

    # Headers: those the kept sources include, transitively.
    headers, todo = set(), [f for f in keep if f.endswith(C_LIKE)]
    while todo:
        f = todo.pop()
        if not os.path.exists(os.path.join(ROOT, f)):
            continue
        for h in INCLUDE.findall(unfenced(read(f), n) if f.endswith(C_LIKE) else read(f)):
            path = "include/" + h
            if path not in headers:
                headers.add(path)
                todo.append(path)

    result = []
    for f in files:
        if f in keep or f in headers:
            result.append(f)
        elif f in drop or f.startswith(lab_dirs_later + manifests_later):
            continue
        elif f.startswith("include/") and f.endswith(".h"):
            continue            # a header no kept source includes
        elif f.startswith("src/") and f.endswith((".c", ".asm")):
            continue            # a source no manifest <= n lists
        elif f.startswith("solutions/lab"):
            m = re.match(r"solutions/lab(\d+)", f)
            if m and int(m.group(1)) <= n:
                result.append(f)
        else:
            result.append(f)    # shared: Makefile, harness, docs, tools
    return result


def unfenced(text, n):
    """`text` with the chapter fences resolved for chapter n."""
    p = subprocess.run(["unifdef", "-DFERN_CHAPTER=%d" % n],
                       input=text, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise DeriveError("unifdef failed: %s" % p.stderr.strip())
    return p.stdout


def write_tree(files, out, transform):
    if os.path.exists(out):
        shutil.rmtree(out)
    for f in files:
        dst = os.path.join(out, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        src = os.path.join(ROOT, f)
        text = transform(f)
        if text is None:
            shutil.copy2(src, dst)
        else:
            with open(dst, "w", encoding="utf-8") as fh:
                fh.write(text)
            shutil.copymode(src, dst)


def snapshot(n, out=None, chapters=None):
    chapters = chapters or manifest.load(ROOT)
    slug = [c for c in chapters if c.number == n]
    if not slug:
        raise DeriveError("there is no chapter %d" % n)
    out = out or os.path.join(ROOT, "build", "snapshots", "%02d-%s" % (n, slug[0].slug))
    files = chapter_files(n, tracked_files(), chapters)

    def transform(f):
        if f.endswith(C_LIKE):
            text = unfenced(read(f), n)
            leftover = [l for l in text.splitlines()
                        if re.match(r"\s*#\s*(if|elif).*FERN_CHAPTER", l)]
            if leftover:
                raise DeriveError("%s keeps a chapter conditional after unifdef: %s"
                                  % (f, leftover[0]))
            return text
        return None

    write_tree(files, out, transform)
    # Tell the Makefile and the grader that this tree builds one chapter.
    with open(os.path.join(out, "chapters", "snapshot.mk"), "w") as f:
        f.write("# This tree is the snapshot of chapter %d, made by 'make snapshot'\n"
                "# from the fern source: it builds chapter %d only.\n"
                "SNAPSHOT := %d\n" % (n, n, n))
    return out


# ---- labs ---------------------------------------------------------------

def check_markers(files=None):
    """Every BEGIN has its STUB and END, in order, for the same lab."""
    problems = []
    for f in files or tracked_files():
        if not f.endswith(C_LIKE + (".asm",)) or not f.startswith(("src/", "include/")):
            continue
        text = read(f)
        markers = [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
                   for m in MARKER.finditer(text)]
        expect = "BEGIN"
        for lab, kind, line in markers:
            if kind != expect:
                problems.append("%s:%d: LAB %s %s where %s was expected"
                                % (f, line, lab, kind, expect))
                break
            expect = {"BEGIN": "STUB", "STUB": "END", "END": "BEGIN"}[kind]
        else:
            if expect != "BEGIN":
                problems.append("%s: a LAB region is not closed" % f)
        regions = len(LAB_REGION.findall(text))
        if not problems and regions * 3 != len(markers):
            problems.append("%s: a LAB marker is malformed (each needs its own "
                            "line: BEGIN: hint, STUB: code, END)" % f)
    return problems


def lab_regions():
    """{lab: [(file, hint)]} for every marked region."""
    regions = {}
    for f in tracked_files():
        if f.endswith(C_LIKE) and f.startswith(("src/", "include/")):
            for m in LAB_REGION.finditer(read(f)):
                regions.setdefault(int(m.group("lab")), []).append((f, m.group("hint")))
    return regions


def stub_text(text, labs):
    """Replace the regions of the given labs by their hint and stub."""
    def replace(m):
        if int(m.group("lab")) not in labs:
            return m.group(0)
        ind = m.group("indent")
        return ("%s/* LAB %s: %s */\n%s%s\n" % (ind, m.group("lab"), m.group("hint"),
                                                ind, m.group("stub")))
    return LAB_REGION.sub(replace, text)


def handout(lab=None, out=None):
    problems = check_markers()
    if problems:
        raise DeriveError("\n".join(problems))
    chapters = manifest.load(ROOT)
    all_labs = sorted({int(c.lab.rstrip("/").rsplit("lab", 1)[1]) for c in chapters if c.lab})
    # Cumulative: every lab is a stub. Independent (--lab N): labs before N
    # keep the reference code, lab N and later are stubs.
    stubbed = set(all_labs) if lab is None else {l for l in all_labs if l >= lab}
    name = "fern-handout" if lab is None else "fern-lab%d" % lab
    out = out or os.path.join(ROOT, "build", name)
    files = [f for f in tracked_files() if not f.startswith(AUTHOR_ONLY)]

    def transform(f):
        if f.endswith(C_LIKE) and f.startswith(("src/", "include/")):
            return stub_text(read(f), stubbed)
        return None

    write_tree(files, out, transform)
    for f in files:
        if f.endswith(C_LIKE) and f.startswith(("src/", "include/")):
            with open(os.path.join(out, f), encoding="utf-8") as fh:
                left = [m for m in MARKER.finditer(fh.read()) if int(m.group(1)) in stubbed]
            if left:
                raise DeriveError("%s: a lab region was not stubbed" % f)
    init_repo(out, "fern %s handout" % ("cumulative" if lab is None else "lab %d" % lab))
    return out


def identity_env():
    env = dict(os.environ)
    for k, v in (("GIT_AUTHOR_NAME", "fern"), ("GIT_AUTHOR_EMAIL", "fern@localhost"),
                 ("GIT_COMMITTER_NAME", "fern"), ("GIT_COMMITTER_EMAIL", "fern@localhost")):
        env.setdefault(k, v)
    return env


def init_repo(path, message):
    env = identity_env()
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"],
                ["commit", "-q", "-m", message]):
        subprocess.run(["git", "-C", path] + cmd, check=True, env=env,
                       capture_output=True)


def lab_start(n):
    regions = lab_regions()
    if n not in regions:
        raise DeriveError("no code is marked for lab %d (labs with regions: %s)"
                          % (n, " ".join(map(str, sorted(regions))) or "none"))
    if git("status", "--porcelain", "--untracked-files=no").strip():
        raise DeriveError("commit or stash your changes first: lab-start makes a commit")
    branch = "lab%d-start" % n
    env = identity_env()
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "-q", branch],
                      capture_output=True).returncode == 0:
        raise DeriveError("branch %s exists already (git switch %s, or delete it "
                          "with git branch -D %s)" % (branch, branch, branch))
    git("switch", "-q", "-c", branch)
    changed = []
    for f in sorted({f for f, _ in regions[n]}):
        text = stub_text(read(f), {n})
        with open(os.path.join(ROOT, f), "w", encoding="utf-8") as fh:
            fh.write(text)
        changed.append(f)
    subprocess.run(["git", "-C", ROOT, "commit", "-q", "-m",
                    "Start lab %d: replace its code by stubs" % n] + changed,
                   check=True, env=env, capture_output=True)
    return branch, changed


# ---- chapter branches ---------------------------------------------------

def branches():
    chapters = manifest.load(ROOT)
    env = identity_env()
    parent = None
    made = []
    with tempfile.TemporaryDirectory(prefix="fern-branches-") as tmp:
        for c in chapters:
            tree_dir = snapshot(c.number, os.path.join(tmp, "tree%d" % c.number), chapters)
            index = os.path.join(tmp, "index%d" % c.number)
            e = dict(env, GIT_INDEX_FILE=index, GIT_WORK_TREE=tree_dir)
            subprocess.run(["git", "-C", ROOT, "--work-tree", tree_dir, "add", "-A", "."],
                           check=True, env=e, capture_output=True)
            tree = subprocess.run(["git", "-C", ROOT, "write-tree"], check=True, env=e,
                                  capture_output=True, text=True).stdout.strip()
            name = "chapter-%02d-%s" % (c.number, c.slug)
            old = subprocess.run(["git", "-C", ROOT, "rev-parse", "-q", "--verify",
                                  "refs/heads/" + name], capture_output=True, text=True)
            old = old.stdout.strip() if old.returncode == 0 else None
            if old and tree_of(old) == tree and parent_of(old) == parent:
                commit = old      # unchanged: keep it
            else:
                msg = "Chapter %d: %s\n\nGenerated from the fern source by " \
                      "'make chapter-branches'; see %s." % (c.number, c.title, c.blog or "blog/")
                args = ["git", "-C", ROOT, "commit-tree", tree, "-m", msg]
                if parent:
                    args += ["-p", parent]
                commit = subprocess.run(args, check=True, env=env, capture_output=True,
                                        text=True).stdout.strip()
                subprocess.run(["git", "-C", ROOT, "update-ref", "refs/heads/" + name, commit],
                               check=True, capture_output=True)
            made.append((name, commit, commit != old))
            parent = commit
    return made


def tree_of(commit):
    return git("rev-parse", commit + "^{tree}").strip()


def parent_of(commit):
    out = subprocess.run(["git", "-C", ROOT, "rev-parse", "-q", "--verify", commit + "^"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("chapter", type=int)
    s.add_argument("--out")
    sub.add_parser("branches")
    h = sub.add_parser("handout")
    h.add_argument("--lab", type=int, help="independent style: lab N stubbed, "
                   "earlier labs solved (default: cumulative, every lab stubbed)")
    h.add_argument("--out")
    ls = sub.add_parser("lab-start")
    ls.add_argument("lab", type=int)
    sub.add_parser("check-markers")
    args = ap.parse_args()

    try:
        if args.cmd == "snapshot":
            print(snapshot(args.chapter, args.out and os.path.abspath(args.out)))
        elif args.cmd == "branches":
            for name, commit, changed in branches():
                print("%-28s %s %s" % (name, commit[:12], "updated" if changed else "unchanged"))
        elif args.cmd == "handout":
            print(handout(args.lab, args.out and os.path.abspath(args.out)))
        elif args.cmd == "lab-start":
            branch, changed = lab_start(args.lab)
            print("On branch %s, lab %d's code is now stubs in: %s" % (branch, args.lab,
                                                                       " ".join(changed)))
            files = " ".join(changed)
            print("Compare with the reference code: git diff HEAD~1 -- %s" % files)
            print("Put the reference code back:    git checkout HEAD~1 -- %s" % files)
        elif args.cmd == "check-markers":
            problems = check_markers()
            for p in problems:
                print(p)
            regions = lab_regions()
            for lab in sorted(regions):
                for f, hint in regions[lab]:
                    print("lab %d: %s: %s" % (lab, f, hint))
            return 1 if problems else 0
    except (DeriveError, subprocess.CalledProcessError) as e:
        msg = e.stderr if isinstance(e, subprocess.CalledProcessError) else str(e)
        print("error: %s" % (msg.strip() if isinstance(msg, str) else msg), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
