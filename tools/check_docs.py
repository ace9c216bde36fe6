#!/usr/bin/env python3
"""`make check-docs`: the posts and labs checked against the code.

    python3 tools/check_docs.py                 check every post, lab, doc and the README
    python3 tools/check_docs.py blog/02-console.md     check one file
    python3 tools/check_docs.py --annotate      write the source of each unmarked snippet
                                                into its info string (where it is found)

What is checked (docs/instructors.md, "Writing a post or a lab", says how to
mark a block):

1. Snippets. A fenced block with a language (```c, ```nasm, ```make, ...) in
   blog/NN-*.md or labs/labN/README.md shows fern's code, so its info string
   names the file it comes from: ```c src/console/serial.c. The block must be
   found in that file *as of chapter NN* (the chapter's snapshot: fences
   resolved by unifdef), ignoring whitespace; a line that is only `...`
   (or `/* ... */`, `// ...`, `; ...`, `# ...`) elides a part, and the pieces
   must appear in order; a function's prototype (`int f(void);`) stands for
   its definition. A snippet that shows a lab's reference code (inside
   a LAB N BEGIN ... STUB region) fails: a post shows the handout's stub or
   prose instead. A block that is deliberately not from the tree (a wrong
   example, a sketch) says so with the word `example`: ```c example.
   A block without a language is a shell session or an output.
2. Commands. Every `make ...` a reader is told to run (in a session's
   `$ ` lines, in ```sh blocks and in inline code) names real targets and
   variables of the Makefile; `python3 tests/...py` and `tools/...` scripts
   exist and accept the options shown.
3. Links. Every relative link in the posts, labs, docs and the README
   resolves to a file, and an anchor to a heading of it.
4. Figures. In a post (blog/NN-*.md) and in docs/performance.md, a
   paragraph, list item or table that states a measured figure, a number
   with a unit of time, size, rate, ratio or share (0.81 s, 28 ms, 12.5
   KiB, 120,376 bytes, 4,367 requests/s, 1.39×, 92 %, 8.0 M TSC cycles),
   names the command that measured it in inline code (`make bench`,
   `size -t ...`, `stat -c %s ...`, `python3 tools/bench_heap.py`). The
   command may instead be where the figure is read from: a table's
   caption (the paragraph just above it, or just below unless that one
   ends with a colon), a list's lead paragraph, a session block beside
   the unit (its `$ ` lines, or the paragraph that introduces it), or a
   `Command: `...`` paragraph of the section (a record of a run). Specs
   are not figures: round binary sizes (4 KiB pages, 16 KiB stacks, 768
   KiB: at most two bits set, unless "about 16 KiB" or "16 KiB of code"),
   byte counts under 10,000 without a comma (a 20-byte header), bounds
   and settings (≤ 1.25×, a budget of 1.25×, every 10 ms, a 30 s idle
   timeout, 200 ms at least, 8 s after), products (80×25), whole "N
   times", counts without a unit, and anything in code or a heading. A
   unit whose figures are not measurements (a constant, a computed value,
   a figure quoted from elsewhere) says so in a comment on the line above
   it or inside it, `<!-- not measured: why -->`; `<!-- measured by:
   unknown -->` marks a figure nobody could attribute, and fails.

5. Outputs. A session block marked ```text run (or ```text run=handout)
   is run for real with --outputs: its `$ ` commands run one after the other
   (bash, 90 s each at most) in a fresh copy of the chapter's snapshot; with
   run=handout, of the cumulative handout that `make handout` writes (every
   lab stubbed); with run=lab-handout, of lab N's own handout (`make handout
   LAB=N`: earlier labs solved). The chapter image is built first, and what each prints must match the
   lines pasted under it. A line `...` stands for any number of lines.
   Addresses and other 0x numbers, nonces, times and TSC cycle counts are
   variable everywhere; other numbers are variable in kernel output but
   must match in the grader's result lines (PASS/FAIL with points, Score,
   N passed), so a changed message or a changed score fails the check.

6. Mutations. An answer key shows what a bug does to the grade: a
   ```diff mutation block (a unified diff of the reference code) followed
   by a ```text mutation block (the grader's lines). With --outputs the diff
   is applied to a fresh copy of the chapter's snapshot, `make labN-check`
   runs, and every pasted line must appear in its output in that order (the
   rest may be left out); the `— N/100` at the end of the heading above the
   diff must be the score, unless the heading says the result is flaky.

With --run, two commands the README promises are also run for real, each
bounded by a timeout: the quick start's `make run` (with `exit=ready`, so
that it ends) reaches `fern: ready` and exits 0, and `make debug` attaches
gdb, which stops at a hardware breakpoint on kmain and names it in `bt`,
for chapter 1 and for the served image.

Each problem is one line, `FILE:LINE: what is wrong`; the last line is
`N passed, N failed` over the files checked. Exit status 0 only if all pass.
"""

import argparse
import functools
import glob
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import derive  # noqa: E402
from fernlab import manifest  # noqa: E402

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<info>.*)$")
# Languages of blocks that are sessions or outputs, not code from the tree.
SESSION_LANGS = {"", "sh", "shell", "console", "text", "output"}
ELISION = re.compile(r"^\s*(\.\.\.|/\*\s*\.\.\.\s*\*/|//\s*\.\.\.|;\s*\.\.\.|#\s*\.\.\.)\s*$")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# Make variables a reader may set that the Makefile reads from the
# environment or the command line without naming them in a rule.
MAKE_BUILTIN_VARS = {"V", "CC", "CFLAGS", "CROSS", "NASM", "PYTHON", "WERROR", "MAKEFLAGS"}


class Problems:
    def __init__(self):
        self.items = []

    def add(self, path, line, what):
        self.items.append("%s:%d: %s" % (path, line, what))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


# ---- the markdown -----------------------------------------------------------

class Block:
    def __init__(self, path, line, info, lines, fence_line):
        self.path = path
        self.line = line            # the line of the opening fence (1-based)
        self.info = info.strip()
        words = self.info.split()
        self.lang = words[0].lower() if words else ""
        self.attrs = words[1:]
        self.lines = lines
        self.fence_line = fence_line

    @property
    def source(self):
        return next((w for w in self.attrs if "/" in w or w in ("Makefile",)), None)

    @property
    def is_example(self):
        return "example" in self.attrs


def parse_blocks(path, text):
    """Fenced code blocks, and the prose lines outside them."""
    blocks, prose = [], []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence = m.group("fence")
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^ {0,3}%s%s*\s*$" % (
                re.escape(fence), re.escape(fence[0])), lines[i]):
            body.append(lines[i])
            i += 1
        blocks.append(Block(path, start + 1, m.group("info"), body, lines[start]))
        i += 1
    return blocks, prose


def front_matter_chapter(text):
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if m:
        c = re.search(r"^chapter:\s*(\d+)\s*$", m.group(1), re.M)
        if c:
            return int(c.group(1))
    return None


def doc_chapter(path, text):
    """The chapter whose tree a post or lab shows, or None for other docs."""
    m = re.match(r"labs/lab(\d+)/|solutions/lab(\d+)\.md$", path)
    if m:
        return int(m.group(1) or m.group(2))
    return front_matter_chapter(text)


# ---- the tree as of a chapter -----------------------------------------------

class Tree:
    """The text of every file of the snapshot of chapter n, computed in
    memory as tools/derive.py would write it."""

    def __init__(self, n, chapters):
        self.n = n
        self.files = derive.chapter_files(n, derive.tracked_files(), chapters)
        self._text = {}

    def text(self, path):
        if path not in self._text:
            if path not in self.files:
                self._text[path] = None
            else:
                raw = read(path)
                self._text[path] = derive.unfenced(raw, self.n) if path.endswith(derive.C_LIKE) else raw
        return self._text[path]


def squeeze(text):
    """`text` without whitespace, and for each kept character its offset
    in `text`."""
    kept, where = [], []
    for i, ch in enumerate(text):
        if not ch.isspace():
            kept.append(ch)
            where.append(i)
    return "".join(kept), where


def pieces(block_lines):
    """The snippet cut at its elision lines, each piece without whitespace."""
    out, cur = [], []
    for line in block_lines:
        if ELISION.match(line):
            out.append("".join(cur))
            cur = []
        else:
            cur.append(re.sub(r"\s+", "", line))
    out.append("".join(cur))
    return [p for p in out if p]


def find_pieces(parts, text):
    """The (start, end) offsets in `text` of each piece, found in order,
    or None."""
    flat, where = squeeze(text)
    spans, pos = [], 0
    for p in parts:
        i = flat.find(p, pos)
        if i < 0 and p.endswith(";"):
            # A prototype stands for the function's definition.
            i = flat.find(p[:-1] + "{", pos)
            p = p[:-1]
        if i < 0:
            return None
        spans.append((where[i], where[i + len(p) - 1] + 1))
        pos = i + len(p)
    return spans


def lab_bodies(text):
    """(lab, start, end) of the reference code of every lab region."""
    return [(int(m.group("lab")), m.start("body"), m.end("body"))
            for m in derive.LAB_REGION.finditer(text)]


def check_snippet(block, tree, problems, annotate):
    parts = pieces(block.lines)
    if not parts:
        return None
    src = block.source
    if src is None:
        # Where is it? Offer the answer.
        hits = [f for f in tree.files
                if f.startswith(("src/", "include/", "tests/", "tools/", "chapters/", "Makefile"))
                and tree.text(f) is not None and find_pieces(parts, tree.text(f))]
        if annotate and len(hits) >= 1:
            best = sorted(hits, key=lambda f: (not f.startswith("src/"), len(f)))[0]
            return best
        if hits:
            problems.add(block.path, block.line,
                         "the ```%s block does not name its source; it is in %s (add it to the "
                         "info string, or run tools/check_docs.py --annotate)"
                         % (block.lang, ", ".join(hits[:3])))
        else:
            problems.add(block.path, block.line,
                         "the ```%s block does not name its source and is not in chapter %d's "
                         "tree; fix it, or mark it ```%s example if it is not fern's code"
                         % (block.lang, tree.n, block.lang))
        return None
    text = tree.text(src)
    if text is None:
        problems.add(block.path, block.line, "%s is not in chapter %d's tree" % (src, tree.n))
        return None
    spans = find_pieces(parts, text)
    if spans is None:
        stubbed = derive.stub_text(text, set(range(1, 100)))
        if find_pieces(parts, stubbed) is not None:
            return None         # the handout's stub: what a post may show
        first = first_missing(parts, text)
        problems.add(block.path, block.line,
                     "the snippet is not in %s as of chapter %d (a piece not found: %s)"
                     % (src, tree.n, first))
        return None
    # An answer key may show the reference code; a post or a handout may not.
    for lab, start, end in ([] if block.path.startswith("solutions/") else lab_bodies(text)):
        for s, e in spans:
            overlap = min(e, end) - max(s, start)
            if overlap > 40:
                problems.add(block.path, block.line,
                             "the snippet shows lab %d's reference code (%s, inside a LAB %d "
                             "region): show the handout's stub or describe it in prose"
                             % (lab, src, lab))
                return None
    return None


def first_missing(parts, text):
    flat, _ = squeeze(text)
    pos = 0
    for p in parts:
        i = flat.find(p, pos)
        if i < 0:
            # The longest prefix that is there, to show where it differs.
            lo = 0
            for k in range(len(p), 0, -1):
                if flat.find(p[:k], pos) >= 0:
                    lo = k
                    break
            return "%r, differing after %r" % (p[:60] + ("..." if len(p) > 60 else ""),
                                               p[max(0, lo - 30):lo])
        pos = i + len(p)
    return "?"


# ---- commands ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def make_targets():
    """Targets and pattern targets of the Makefile."""
    names, patterns = set(), []
    for line in read("Makefile").splitlines():
        m = re.match(r"^([A-Za-z0-9_.%/$()-][A-Za-z0-9_.%/ $()-]*?)\s*:(?!=)", line)
        if not m or line.startswith("\t"):
            continue
        for word in m.group(1).split():
            if "%" in word:
                patterns.append(re.compile("^" + re.escape(word).replace("%", ".+") + "$"))
            elif "$" not in word:
                names.add(word)
    return names, patterns


@functools.lru_cache(maxsize=None)
def make_variables():
    text = read("Makefile") + "".join(read(p) for p in glob.glob(
        os.path.join(ROOT, "chapters", "*.mk")) if os.path.exists(p))
    names = set(re.findall(r"\$[({](\w+)[)}]", text))
    names |= set(re.findall(r"^\s*(?:export\s+)?(\w+)\s*[?:+]?=", text, re.M))
    names |= set(re.findall(r"origin (\w+)", text))
    return names | MAKE_BUILTIN_VARS


@functools.lru_cache(maxsize=None)
def script_help(script):
    """The --help text of a Python script of the tree."""
    p = subprocess.run([sys.executable, os.path.join(ROOT, script), "--help"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    return p.stdout + p.stderr


@functools.lru_cache(maxsize=None)
def env_var_used(name):
    """Whether the tree reads the environment variable `name`."""
    for pattern in ("tests/**/*.py", "tools/*.py", "tools/*.sh", "Makefile"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            with open(path, encoding="utf-8", errors="replace") as f:
                if name in f.read():
                    return True
    return False


def check_command(cmd, path, line, problems, chapters):
    """One shell command line (after `$ `)."""
    try:
        words = shlex.split(cmd, comments=True)
    except ValueError:
        return
    # Split into simple commands at pipes and lists.
    cur = []
    for w in words + [";"]:
        if w in ("|", "||", "&&", ";", "&"):
            if cur:
                check_simple(cur, path, line, problems, chapters)
            cur = []
        else:
            cur.append(w)


REDIRECT = re.compile(r"^\d*(>>?|<)(&\d+)?$")
REDIRECT_ATTACHED = re.compile(r"^\d*(>>?|<)&?\S+$")


def drop_redirections(words):
    """`words` without shell redirections (2>&1, > FILE, < FILE)."""
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif REDIRECT.match(w):
            skip = not re.search(r"&\d+$", w)
        elif REDIRECT_ATTACHED.match(w):
            pass
        else:
            out.append(w)
    return out


def check_simple(words, path, line, problems, chapters):
    # Usage lines write optional parts in brackets: [CHAPTER=N].
    words = [w.strip("[]") for w in drop_redirections(words) if w.strip("[]")]
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name = words[0].split("=", 1)[0]
        if not env_var_used(name) and name not in make_variables():
            problems.add(path, line, "the environment variable %s is read nowhere in the tree"
                         % name)
        words = words[1:]
    while words and words[0] in ("sudo", "timeout", "time", "/usr/bin/time", "env"):
        words = words[1:]
        while words and (words[0].startswith("-") or re.match(r"^\d+[smh]?$", words[0])):
            words = words[1:]
    if not words:
        return
    prog = words[0]
    if prog == "make":
        check_make(words[1:], path, line, problems, chapters)
    elif prog in ("python3", "python") and len(words) > 1 and words[1].startswith(("tests/", "tools/")):
        check_script(words[1], words[2:], path, line, problems)
    elif prog.startswith(("tools/", "tests/", "./tools/")):
        script = prog[2:] if prog.startswith("./") else prog
        if not os.path.exists(os.path.join(ROOT, script)):
            problems.add(path, line, "%s does not exist" % script)


def check_make(args, path, line, problems, chapters):
    names, patterns = make_targets()
    skip_next = False
    for a in args:
        if skip_next:
            skip_next = False
            continue
        if a in ("-C", "-f", "-j", "-o", "-W"):
            skip_next = True
            return_if_dir = a == "-C"
            if return_if_dir:
                return      # another tree (a snapshot, a handout): its own Makefile
            continue
        if a.startswith("-") or a in ("...", "…"):
            continue
        if "=" in a:
            name, value = a.split("=", 1)
            if name not in make_variables():
                problems.add(path, line, "make: the variable %s is not used by the Makefile" % name)
            if name == "CHAPTER" and value.isdigit() and int(value) not in [c.number for c in chapters]:
                problems.add(path, line, "make CHAPTER=%s: there is no chapter %s" % (value, value))
            continue
        if "/" in a or a in names or any(p.match(a) for p in patterns):
            continue
        problems.add(path, line, "make %s: the Makefile has no target %r" % (" ".join(args), a))


def check_script(script, args, path, line, problems):
    if not os.path.exists(os.path.join(ROOT, script)):
        problems.add(path, line, "%s does not exist" % script)
        return
    if not script.endswith(".py"):
        return
    helptext = script_help(script)
    for a in args:
        if a.startswith("-") and a not in ("-", "--"):
            opt = a.split("=", 1)[0]
            if not re.search(r"(^|[\s\[,])%s\b" % re.escape(opt), helptext):
                problems.add(path, line, "%s has no option %s (see %s --help)" % (script, opt, script))


def session_commands(block):
    """(offset, command) of the `$ ` lines of a session block, with
    backslash continuations joined."""
    out, i = [], 0
    lines = block.lines
    while i < len(lines):
        m = re.match(r"^\s*\$ (.*)$", lines[i])
        if not m:
            i += 1
            continue
        cmd, start = m.group(1), i
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd[:-1] + " " + lines[i].strip()
        out.append((start + 1, cmd))
        i += 1
    return out


def sh_block_commands(block):
    """A ```sh block without prompts: each non-comment line is a command."""
    out = []
    for i, l in enumerate(block.lines):
        s = l.strip()
        if s and not s.startswith("#"):
            out.append((i + 1, s[2:] if s.startswith("$ ") else s))
    return out


# ---- links ------------------------------------------------------------------

def slug(heading):
    """GitHub's anchor for a heading."""
    h = heading.strip().lower()
    h = re.sub(r"[`*_]", "", h)
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


@functools.lru_cache(maxsize=None)
def anchors(path):
    text = read(path)
    blocks, prose = parse_blocks(path, text)
    return {slug(l.lstrip("#")) for _, l in prose if re.match(r"^#{1,6} ", l)}


def check_links(path, prose, problems):
    base = os.path.dirname(path)
    for n, line in prose:
        for m in LINK.finditer(INLINE_CODE.sub("", line)):
            target = m.group("target")
            if re.match(r"^[a-z]+:", target) or target.startswith("<"):
                continue
            file_part, _, anchor = target.partition("#")
            rel = os.path.normpath(os.path.join(base, file_part)) if file_part else path
            if not os.path.exists(os.path.join(ROOT, rel)):
                problems.add(path, n, "the link %s points to %s, which does not exist" % (target, rel))
                continue
            if anchor and rel.endswith(".md") and anchor not in anchors(rel):
                problems.add(path, n, "the link %s: %s has no heading #%s" % (target, rel, anchor))


# ---- figures ----------------------------------------------------------------

# The files whose figures must name the command that measured them.
FIGURE_FILES = re.compile(r"^(blog/\d\d-[^/]*\.md|docs/performance\.md)$")
NOT_MEASURED = re.compile(r"<!--\s*not measured\b.*?-->", re.S)
# Measured, by a command nobody could tell: a failure until it is named.
UNKNOWN_COMMAND = re.compile(r"<!--\s*measured by:\s*unknown\b.*?-->", re.S)
# A record of a run (docs/performance.md's history) names its command once,
# for the whole section under its heading: "Command: `make bench BENCH_RUNS=20`".
SECTION_COMMAND = re.compile(r"\bCommands?:\s+`([^`\n]+)`")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
LIST_ITEM = re.compile(r"^\s{0,3}([-*+]|\d{1,3}[.)])\s+")
_NUM = r"(?<![\w.,/^-])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SP = r"[ \u00a0\u2009\u202f]?"
# A number and its unit of time, size, rate, ratio or share, in prose.
FIGURE = re.compile(
    _NUM + r"(?:" +
    _SP + r"(?P<rate>(?:req|requests?|allocations?|allocs?|ops|operations?|packets?|frames?|"
    r"connections?|bytes?|[KMG]i?B|kB|[MG]bit)(?:/s\b| per second\b| a second\b))|" +
    _SP + r"(?P<cycles>(?:[MGk] |million |billion |thousand )?(?:TSC |CPU |host )?cycles\b)|" +
    _SP + r"(?P<size>bytes?\b|[KMGT]iB\b|[KMG]B\b|kB\b)|" +
    r"(?: (?P<time>s\b(?!/)|seconds?\b|minutes?\b)|" + _SP +
    r"(?P<time2>ms\b|[µμ]s\b|us\b|ns\b|milliseconds?\b|microseconds?\b))|" +
    _SP + r"(?P<ratio>×(?!\s*[\d(A-Z])|x\b(?!\s*\d))|" +
    r"(?P<times> times\b)|" +
    _SP + r"(?P<share>%|per ?cent\b))")
# Words just before a figure that make it a bound, not a result.
BOUND_BEFORE = re.compile(r"(?:[≤≥<>⩽⩾±÷/]|\bat most|\bat least|\bup to|\bno more than|\bbudget"
                          r"(?: of| is)?|\bgoal(?: of| is)?|\blimit(?: of| is)?|\bbound(?: of)?"
                          r"|\bevery|\bper|\bwithin|\b(?:timeout|timer)(?: of| is)?)"
                          r"\s*(?:the |a |an )?$")
# Words just before a size that make even a round one a result: about 16 KiB.
APPROX_BEFORE = re.compile(r"(?:\babout|\baround|\broughly|\bnearly|\balmost|\bsome|\bunder"
                           r"|\bapproximately|≈|~)\s*$")
# Words just after a figure that make it a setting or a bound.
SETTING_AFTER = re.compile(r"^\s*(?:at most|at least|or less|or more|budget|timeout|tick|"
                           r"timer|interval|idle|limit|floor|cap|deadline|delay|stacks?|"
                           r"pages?|alignment|boundary|resolution|away|after)\b")
# Words just after a size that make even a round one a result: 16 KiB of code.
GROWTH_AFTER = re.compile(r"^\s*(?:more|less|larger|smaller|bigger|(?:more |less )?of "
                          r"(?:code|text|\.?bss|read-only))\b")
# A command that measures, in inline code or a session block: a step of
# a pipeline or a list may be it (`for m in 3M 8M; do MEMORY=$m make run`).
MEASURING = re.compile(
    r"^(?:\w+=\S*\s+)*(?:(?:time|/usr/bin/time|timeout)(?:\s+-\S+|\s+\d+\S*)*\s+)?"
    r"(?:(?:make|python3?|size|stat|wc|du|ls|readelf|objdump|nm|gzip|curl|wrk|perf|hyperfine|"
    r"qemu-system-x86_64|strip|time|(?:\./)?(?:tools|tests)/\S+\.(?:py|sh))(?:\s|$)"
    r"|(?:\./)?build/\S+\s+\S)")


def measuring(cmd):
    """Whether a shell command (or a step of it) is one that measures."""
    return any(MEASURING.match(step.strip())
               for step in re.split(r"[;|&()]+|\b(?:do|then)\b", cmd))


def round_binary(value):
    """Whether a whole number has at most two bits set (4, 12, 48, 768):
    the sizes of pages, stacks, buffers and address ranges."""
    return value > 0 and bin(value).count("1") <= 2


def figures(text):
    """The measured figures in a unit's prose: [(offset, figure)]. Specs
    are left out: sizes that are round binary numbers (`4 KiB`, `16 KiB
    stacks`, `768 KiB`), byte counts under 10,000 written without a comma
    (a 20-byte header), products (`80×25`, `IHL × 4 bytes`), bounds and
    settings (`budget 1.25×`, `≥ 3×`, `every 10 ms`, `30 s idle`), and
    `N times` without a decimal point."""
    out = []
    for m in FIGURE.finditer(text):
        num = m.group("num")
        value = float(num.replace(",", ""))
        whole = "." not in num
        # Inline code is blanked: `idle_ms` (30 s) reads "idle timer of (30 s".
        before = re.sub(r"\s+", " ", text[max(0, m.start() - 40):m.start()])
        before = re.sub(r"[\s(]+$", " ", before)
        after = re.sub(r"\s+", " ", text[m.end():m.end() + 24])
        if BOUND_BEFORE.search(before) or SETTING_AFTER.match(after):
            continue
        if re.search(r"\d\s*[×x*]\s*$", before) or re.match(r"^\s*[×x]\s*\d", after):
            continue                        # a product or a dimension: 80 × 25, IHL × 4 bytes
        if m.group("size") and not (APPROX_BEFORE.search(before) or GROWTH_AFTER.match(after)):
            if whole and round_binary(int(value)):
                continue
            if whole and m.group("size").startswith("byte") and value < 10000 and "," not in num:
                continue
        if m.group("times") and whole:
            continue
        if m.group("ratio") and m.group("ratio") == "x" and whole:
            continue
        out.append((m.start(), m.group(0)))
    return out


class Unit:
    """A paragraph, a list item, a table, a heading or a fenced block."""

    def __init__(self, kind, first, lines):
        self.kind = kind            # "para", "item", "table", "heading", "block"
        self.first = first          # its first line (1-based)
        self.lines = lines
        self.mark = None            # "not measured" or "unknown", from a comment
        self.block = None

    def prose(self):
        """Its text, with inline code, comments and link targets blanked
        (so that offsets still count lines)."""
        text = "\n".join(self.lines)
        blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
        text = HTML_COMMENT.sub(blank, text)
        text = re.sub(r"`[^`]+`", blank, text)      # a code span may cross a line break
        text = re.sub(r"\]\([^)\s]*\)", blank, text)
        return text

    def commands(self):
        """The measuring commands it names: inline code in prose, `$ `
        lines (and a ```sh block's lines) in a block."""
        if self.kind == "block":
            b = self.block
            if b.lang not in SESSION_LANGS:
                return []
            cmds = session_commands(b) if b.lang != "sh" else sh_block_commands(b)
            return [c for _, c in cmds if measuring(c)]
        spans = re.findall(r"`([^`]+)`", "\n".join(self.lines))
        return [c for c in (re.sub(r"\s*\n\s*", " ", s) for s in spans) if measuring(c)]


def figure_mark(text):
    """What a comment in `text` says about its unit's figures, or None."""
    if UNKNOWN_COMMAND.search(text):
        return "unknown"
    return "not measured" if NOT_MEASURED.search(text) else None


def units(text, blocks):
    """The units of a Markdown file in order, front matter left out. A
    comment on a line of its own marks the unit below it."""
    lines = text.split("\n")
    by_line = {b.line: b for b in blocks}
    out, i, mark = [], 0, None
    m = re.match(r"^---\n.*?\n---\n", text, re.S)
    if m:
        i = m.group(0).count("\n")
    cur = None
    while i < len(lines):
        line = lines[i]
        if i + 1 in by_line:
            b = by_line[i + 1]
            u = Unit("block", i + 1, b.lines)
            u.block = b
            out.append(u)
            cur, mark = None, None
            i = i + len(b.lines) + 2
            continue
        s = line.strip()
        if not s:
            cur = None
        elif HTML_COMMENT.fullmatch(s):
            cur = None
            mark = figure_mark(s) or mark
        elif s.startswith("#") and re.match(r"^#{1,6}\s", s):
            out.append(Unit("heading", i + 1, [line]))
            cur, mark = None, None
        else:
            kind = "table" if s.startswith("|") else "item" if LIST_ITEM.match(line) else "para"
            # A line that is not an item continues the item above it.
            if cur is None or kind == "item" or (kind == "table") != (cur.kind == "table"):
                cur = Unit(kind, i + 1, [])
                cur.mark, mark = mark, None
                out.append(cur)
            cur.lines.append(line)
            cur.mark = figure_mark(line) or cur.mark
        i += 1
    return out


def attributed(us, k):
    """Whether unit us[k] names the command that measured its figures, or
    sits where one is named: the caption of its table or list, or a
    session block (or table) beside it, with that block's caption."""
    u = us[k]

    def prev(j):
        return us[j - 1] if j > 0 else None

    def nxt(j):
        return us[j + 1] if j + 1 < len(us) else None

    def exhibit(j):
        """A table or session block and the paragraph just above it."""
        e = us[j]
        if e.commands():
            return True
        p = prev(j)
        return p is not None and p.kind == "para" and bool(p.commands())

    def beside_exhibit(j):
        return any(0 <= i < len(us) and i != k and us[i].kind in ("block", "table")
                   and exhibit(i) for i in (j - 1, j + 1))

    if u.commands():
        return True
    if u.kind == "table":
        # Its caption: the paragraph above, or the one below unless that
        # one ends with a colon (then it introduces what comes after it).
        above, below = prev(k), nxt(k)
        if above is not None and above.kind == "para" and above.commands():
            return True
        if below is not None and below.kind == "para" and below.commands() and \
                not "\n".join(below.lines).rstrip().endswith(":"):
            return True
    if u.kind == "item":
        # An item of a list: the paragraph that leads the list.
        j = k
        while j > 0 and us[j - 1].kind == "item":
            j -= 1
        p = prev(j)
        if p is not None and p.kind == "para" and (p.commands() or beside_exhibit(j - 1)):
            return True
    return beside_exhibit(k)


def recorded_sections(us):
    """The indices of the units that a `Command: `...`` paragraph covers:
    those of its section, from the nearest heading above it to the next
    heading of that level or above."""
    def level(u):
        return len(u.lines[0]) - len(u.lines[0].lstrip("#"))

    covered, head = set(), None
    for k, u in enumerate(us):
        if u.kind == "heading":
            head = k
        elif head is not None and u.kind == "para" and any(
                measuring(c) for c in SECTION_COMMAND.findall("\n".join(u.lines))):
            end = next((j for j in range(head + 1, len(us)) if us[j].kind == "heading"
                        and level(us[j]) <= level(us[head])), len(us))
            covered.update(range(head + 1, end))
    return covered


def check_figures(path, text, blocks, problems):
    """Every measured figure names the command that measured it."""
    if not (FIGURE_FILES.match(path) or path == SELFTEST):
        return
    us = units(text, blocks)
    recorded = recorded_sections(us)
    for k, u in enumerate(us):
        if u.kind in ("block", "heading") or u.mark == "not measured" or \
                (k in recorded and u.mark is None):
            continue
        prose = u.prose()
        found = figures(prose)
        if not found or (u.mark is None and attributed(us, k)):
            continue
        line = u.first + prose.count("\n", 0, found[0][0])
        what = {"para": "paragraph", "item": "list item", "table": "table"}[u.kind]
        shown = ", ".join(f for _, f in found[:4]) + (", ..." if len(found) > 4 else "")
        if u.mark == "unknown":
            problems.add(path, line, "the %s's figures (%s) are marked as measured by an "
                         "unknown command: find it and name it in inline code, or measure "
                         "them again with one" % (what, shown))
        else:
            problems.add(path, line, "the %s states measured figures (%s) but names no "
                         "command that measured them: name it in inline code (`make bench`, "
                         "`size -t ...`), or mark constants <!-- not measured: why -->"
                         % (what, shown))


# ---- one file ---------------------------------------------------------------

def check_file(path, chapters, trees, annotate):
    problems = Problems()
    text = read(path)
    blocks, prose = parse_blocks(path, text)
    n = doc_chapter(path, text)
    newest = chapters[-1].number
    if n is not None and n > newest:
        n = None
    edits = {}
    for b in blocks:
        if b.lang == "diff" and "mutation" in b.attrs:
            continue            # applied and graded by --outputs
        if b.lang not in SESSION_LANGS:
            if n is not None and not b.is_example:
                if n not in trees:
                    trees[n] = Tree(n, chapters)
                found = check_snippet(b, trees[n], problems, annotate)
                if found:
                    edits[b.line] = "%s%s %s" % (b.fence_line.split(b.info)[0] if b.info else b.fence_line,
                                                 b.info, found)
            continue
        cmds = session_commands(b) if b.lang in ("", "text", "console", "output") else sh_block_commands(b)
        for off, cmd in cmds:
            check_command(cmd, path, b.line + off, problems, chapters)
    for ln, line in prose:
        for m in INLINE_CODE.finditer(line):
            code = m.group(1).strip()
            if re.match(r"^(\w+=\S+\s+)*make(\s|$)", code):
                check_command(code, path, ln, problems, chapters)
    check_links(path, prose, problems)
    check_figures(path, text, blocks, problems)
    if edits:
        lines = text.split("\n")
        for ln, new in edits.items():
            lines[ln - 1] = new
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        print("%s: named the source of %d snippet(s)" % (path, len(edits)))
    return problems


def run_make(args, stdin_text, timeout):
    """Run make with `args`; (exit status or None on timeout, output)."""
    try:
        p = subprocess.run(["make", "--no-print-directory"] + args, input=stdin_text,
                           capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                           start_new_session=True)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        return None, out.decode("utf-8", "replace") if isinstance(out, bytes) else out


def run_checks(scale):
    """The README's run and debug commands, for real. [(name, problem or None)]"""
    results = []
    status, out = run_make(["run", "CMDLINE=exit=ready"], "", 60 * scale)
    ok = status == 0 and re.search(r"^fern: ready\r?$", out, re.M)
    results.append(("make run CMDLINE=exit=ready reaches 'fern: ready' and exits 0",
                    None if ok else "exit status %s; last lines: %s"
                    % ("timeout" if status is None else status, out.strip().splitlines()[-3:])))
    gdb = "hbreak kmain\ncontinue\nbt\nquit\n"
    for args in (["debug", "CHAPTER=1"], ["debug"]):
        status, out = run_make(args, gdb, 90 * scale)
        ok = re.search(r"^(\(gdb\) )?#0\s+kmain \(", out, re.M)
        results.append(("make %s: gdb stops at kmain and bt names it" % " ".join(args),
                        None if ok else "exit status %s; no '#0 kmain (' frame; last lines: %s"
                        % ("timeout" if status is None else status, out.strip().splitlines()[-3:])))
    return results


# ---- outputs ----------------------------------------------------------------

# A reader's shell, not the environment of the `make check-docs` that runs
# this: make passes MAKEFLAGS and MAKELEVEL down, and a make run under them
# prints "make[1]:" and "Entering directory" lines a reader never sees.
READER_ENV = {k: v for k, v in os.environ.items()
              if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT",
                           "MAKE_TERMERR")}

GRADE_LINE = re.compile(r"^(PASS|FAIL)\s|^Score:|^\d+ passed, \d+ failed")


def normalize(line, loose):
    """A line of output with its variable parts replaced."""
    line = line.replace("\r", "").rstrip()
    # The harness's nonces are 8 hex digits (fernlab.qemu.new_nonce()).
    line = re.sub(r"\[(?:\d{4,}|[0-9a-f]{8})\]", "[NONCE]", line)
    line = re.sub(r"nonce=(?:[0-9a-f]{8}\b|\d+)", "nonce=NONCE", line)
    line = re.sub(r"0x[0-9a-fA-F]+", "0x#", line)
    line = re.sub(r"\b\d+ cycles\b", "# cycles", line)
    line = re.sub(r"\b\d+(\.\d+)?\s*(s|ms|us)\b", "# s", line)
    if loose:
        line = re.sub(r"\d+", "#", line)
    return re.sub(r"\s+", " ", line).strip()


def line_matches(pasted, actual):
    if normalize(pasted, False) == normalize(actual, False):
        return True
    # Numbers may differ in kernel output (a random selector, a frame
    # count at another -m), never in the grader's results.
    return not GRADE_LINE.match(pasted.strip()) and normalize(pasted, True) == normalize(actual, True)


def output_matches(pasted, actual):
    """Whether `actual` (lines) is `pasted` (lines, with `...` for any run
    of lines). Returns None, or the first pasted line that found no match."""
    pasted = [l for l in pasted if l.strip()]
    actual = [l for l in actual if l.strip()]
    # Cells: (i, j) = pasted[i:] can match actual[j:].
    memo = {}

    def match(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(pasted):
            ok = j == len(actual)
        elif pasted[i].strip() in ("...", "…"):
            ok = any(match(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            ok = j < len(actual) and line_matches(pasted[i], actual[j]) and match(i + 1, j + 1)
        memo[key] = ok
        return ok

    sys.setrecursionlimit(max(10000, 4 * (len(pasted) + len(actual)) + 100))
    if match(0, 0):
        return None
    # The first pasted line that cannot be placed after the previous ones.
    j = 0
    for i, p in enumerate(pasted):
        if p.strip() in ("...", "…"):
            continue
        k = next((k for k in range(j, len(actual)) if line_matches(p, actual[k])), None)
        if k is None:
            return p
        j = k + 1
    return pasted[-1] if pasted else "(nothing)"


def session_steps(block):
    """[(offset, command, pasted output lines, offset of the output)] of a
    session block. Offsets count from the opening fence: the command's is
    its `$ ` line, the output's is the line after the command's last
    (backslash-continued) line."""
    steps, cur = [], None
    i, lines = 0, block.lines
    while i < len(lines):
        m = re.match(r"^\s*\$ (.*)$", lines[i])
        if m:
            cmd, start = m.group(1), i
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd[:-1] + " " + lines[i].strip()
            cur = [start + 1, cmd, [], i + 2]
            steps.append(cur)
        elif cur is not None:
            cur[2].append(lines[i])
        i += 1
    return steps


class Workspace:
    """Fresh trees to run a block's commands in: the snapshot of a chapter,
    or the handout of a lab, each made once and copied per block."""

    def __init__(self, tmp, chapters):
        self.tmp = tmp
        self.chapters = chapters
        self.bases = {}

    def base(self, kind, n):
        key = (kind, n)
        if key not in self.bases:
            out = os.path.join(self.tmp, "%s-%d" % (kind, n))
            if kind == "snapshot":
                derive.snapshot(n, out, self.chapters)
            elif kind == "handout":
                derive.handout(None, out)
            else:
                derive.handout(n, out)
            p = subprocess.run(["make", "-s", "--no-print-directory", "CHAPTER=%d" % n, "iso"],
                               cwd=out, capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise derive.DeriveError("building chapter %d in the %s failed: %s"
                                         % (n, kind, (p.stdout + p.stderr).strip()[-300:]))
            self.bases[key] = out
        return self.bases[key]

    def fresh(self, kind, n, name):
        base = self.base(kind, n)
        dst = os.path.join(self.tmp, name)
        subprocess.run(["cp", "-a", base, dst], check=True)
        return dst


def excerpt(out, reasons=3):
    """The lines of a grader's output an answer key shows: each failing
    test with its first `reasons` reasons ([...] for the rest), and the
    score."""
    keep, shown, cut = [], 0, False
    in_fail = False
    for line in out.replace("\r", "").split("\n"):
        if line.startswith(("FAIL ", "PASS ", "==", "make", "Score:")):
            if cut:
                keep.append("[...]")
            cut, shown = False, 0
            in_fail = line.startswith("FAIL ")
            if in_fail or line.startswith("Score:"):
                keep.append(line.rstrip())
        elif in_fail and line.startswith("      ") and not line.startswith(
                ("      last lines", "        |", "      full log", "      run ended")):
            if shown < reasons:
                keep.append(line.rstrip())
                shown += 1
            else:
                cut = True
    return keep


def subsequence_missing(pasted, actual):
    """The first pasted line (`...`/`[...]` skipped) that does not appear,
    in order, in `actual`; None if all do."""
    j = 0
    for p in pasted:
        if not p.strip() or p.strip() in ("...", "[...]", "…"):
            continue
        k = next((k for k in range(j, len(actual)) if line_matches(p, actual[k])), None)
        if k is None:
            return p
        j = k + 1
    return None


def check_mutation(path, n, heading, diff, output_block, work, problems, update, edits):
    score = re.search(r"— (\d+)/(\d+)", heading[1]) if heading else None
    flaky = heading and "flaky" in heading[1]
    tree = work.fresh("snapshot", n, "mut-%s-%d" % (re.sub(r"\W", "_", path), diff.line))
    try:
        p = subprocess.run(["patch", "-p1", "-s", "--no-backup-if-mismatch", "-r", "-"],
                           input="\n".join(diff.lines) + "\n", cwd=tree, capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            problems.add(path, diff.line, "the mutation no longer applies to chapter %d's code "
                         "(%s): update the diff" % (n, (p.stdout + p.stderr).strip()[:120]))
            return
        try:
            r = subprocess.run(["make", "--no-print-directory", "lab%d-check" % n], cwd=tree,
                               env=READER_ENV, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=180, start_new_session=True, errors="replace")
        except subprocess.TimeoutExpired:
            problems.add(path, diff.line, "make lab%d-check with this mutation did not finish "
                         "within 180 s" % n)
            return
        out = r.stdout + r.stderr
        real = re.search(r"^Score: (\d+)/(\d+)", out, re.M)
        if flaky:
            return
        wrong = []
        if score and real and score.groups() != real.groups():
            wrong.append((heading[0], "the heading says %s/%s, the grader says %s/%s"
                          % (score.group(1), score.group(2), real.group(1), real.group(2))))
        missing = subsequence_missing(output_block.lines, out.split("\n"))
        if missing is not None:
            wrong.append((output_block.line, "the grader's output with this mutation has no line %r"
                          % missing.strip()[:110]))
        if not wrong:
            return
        if update and real:
            if score:
                edits.append(("heading", heading[0], heading[1][:score.start()] + "— %s/%s"
                              % real.groups() + heading[1][score.end():]))
            edits.append(("block", output_block.line, len(output_block.lines), excerpt(out)))
            return
        for line, what in wrong:
            problems.add(path, line, what)
    finally:
        subprocess.run(["rm", "-rf", tree])


def check_outputs(path, chapters, work, problems, update=False):
    text = read(path)
    blocks, _ = parse_blocks(path, text)
    n = doc_chapter(path, text)
    ran = 0
    replacements = []           # (first line index, old count, new lines)
    edits = []
    lines_all = text.split("\n")
    for i, b in enumerate(blocks):
        if b.lang == "diff" and "mutation" in b.attrs:
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if nxt is None or nxt.lang != "text" or "mutation" not in nxt.attrs:
                problems.add(path, b.line, "a ```diff mutation block needs a ```text mutation "
                             "block (the grader's output) after it")
                continue
            head = next(((k + 1, lines_all[k]) for k in range(b.line - 2, -1, -1)
                         if lines_all[k].startswith("#")), None)
            check_mutation(path, n, head, b, nxt, work, problems, update, edits)
            ran += 1
            continue
        mode = next((a for a in b.attrs if a == "run" or a.startswith("run=")), None)
        if b.lang != "text" or mode is None:
            continue
        if n is None:
            problems.add(path, b.line, "a ```text run block outside a post or lab: which chapter?")
            continue
        kind = {"run": "snapshot", "run=handout": "handout",
                "run=lab-handout": "lab-handout"}.get(mode)
        if kind is None:
            problems.add(path, b.line, "unknown mode %r: run, run=handout or run=lab-handout" % mode)
            continue
        try:
            tree = work.fresh(kind, n, "%s-%d" % (re.sub(r"\W", "_", path), b.line))
        except (derive.DeriveError, subprocess.SubprocessError, OSError) as e:
            problems.add(path, b.line, "could not make the tree to run in: %s" % e)
            continue
        ran += 1
        for off, cmd, pasted, out_off in session_steps(b):
            try:
                p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=tree, env=READER_ENV,
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=90, start_new_session=True,
                                   errors="replace")
                out = p.stdout + p.stderr
            except subprocess.TimeoutExpired:
                problems.add(path, b.line + off, "`%s` did not finish within 90 s" % cmd)
                break
            bad = output_matches(pasted, out.split("\n"))
            if bad is not None and update and not any(l.strip() in ("...", "…") for l in pasted):
                # Paste the real output instead (times and nonces included).
                real = [l.rstrip() for l in out.replace("\r", "").split("\n")]
                while real and not real[-1]:
                    real.pop()
                replacements.append((b.line + out_off - 1, len(pasted), real))
                continue
            if bad is not None:
                shown = [l for l in out.split("\n") if l.strip()][-6:]
                problems.add(path, b.line + off,
                             "the output of `%s` differs: the pasted line %r is not in a real run "
                             "(last lines: %s)" % (cmd[:70], bad.strip()[:100],
                                                   " | ".join(l[:80] for l in shown)))
        subprocess.run(["rm", "-rf", tree])
    for e in edits:
        if e[0] == "heading":
            replacements.append((e[1] - 1, 1, [e[2]]))
        else:
            replacements.append((e[1], e[2], e[3]))
    if replacements:
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
            f.write(paste_outputs(text, replacements))
        print("%s: pasted the real output of %d command(s)" % (path, len(replacements)))
    return ran


def paste_outputs(text, replacements):
    """`text` with each (first line index, line count, new lines) of
    `replacements` put in place, the last first."""
    lines = text.split("\n")
    for first, count, new in sorted(replacements, reverse=True):
        lines[first:first + count] = new
    return "\n".join(lines)


def selftest_update():
    """--update pastes a command's output under it, after the lines that
    continue the command, and keeps those. Returns the discrepancies."""
    text = "\n".join(["para", "", "```text run", "$ printf '%s\\n' a \\", "      b",
                      "old", "$ true", "```"])
    blocks, _ = parse_blocks("x.md", text)
    b = blocks[0]
    reps = [(b.line + out_off - 1, len(pasted), ["new " + cmd.split()[0]])
            for off, cmd, pasted, out_off in session_steps(b)]
    want = "\n".join(["para", "", "```text run", "$ printf '%s\\n' a \\", "      b",
                      "new printf", "$ true", "new true", "```"])
    got = paste_outputs(text, reps)
    if got != want:
        return ["tools/check_docs.py: --update would write %r, not %r" % (got, want)]
    return []


SELFTEST = "tests/selftest/docs_bad.md"


def selftest(chapters):
    """Check the checker: every problem announced in SELFTEST by an
    `<!-- expect: TEXT -->` comment is found on the next non-blank line,
    and nothing else is. Returns the list of discrepancies."""
    text = read(SELFTEST)
    lines = text.split("\n")
    expected = {}
    for i, l in enumerate(lines):
        m = re.match(r"^<!-- expect: (.*?) -->$", l)
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            expected[j + 1] = m.group(1)
    got = {}
    for item in check_file(SELFTEST, chapters, {}, False).items:
        m = re.match(r"^[^:]+:(\d+): (.*)$", item)
        got.setdefault(int(m.group(1)), []).append(m.group(2))
    # A command in a session block is reported on its own line, one or
    # two lines below the comment's target (the fence).
    wrong, claimed = selftest_update(), set()
    for line, what in sorted(expected.items()):
        near = [l for l in (line, line + 1, line + 2) if any(what in g for g in got.get(l, []))]
        if near:
            claimed.add(near[0])
        else:
            wrong.append("%s:%d: expected a problem '%s', got %s"
                         % (SELFTEST, line, what, got.get(line) or "none"))
    for line, items in sorted(got.items()):
        if line not in claimed:
            wrong.append("%s:%d: unexpected problem: %s" % (SELFTEST, line, items[0]))
    return wrong


def default_files():
    files = sorted(glob.glob("blog/*.md", root_dir=ROOT))
    files += sorted(glob.glob("labs/lab*/README.md", root_dir=ROOT))
    files += sorted(glob.glob("solutions/lab*.md", root_dir=ROOT))
    files += sorted(glob.glob("docs/*.md", root_dir=ROOT))
    files += ["README.md"]
    return files


def main():
    ap = argparse.ArgumentParser(description="check the posts and labs against the code")
    ap.add_argument("files", nargs="*", help="Markdown files (default: posts, labs, docs, README)")
    ap.add_argument("--selftest", action="store_true",
                    help="first check that the checker finds the problems planted in %s" % SELFTEST)
    ap.add_argument("--outputs", action="store_true",
                    help="also run the ```text run blocks and compare their output")
    ap.add_argument("--update", action="store_true",
                    help="with --outputs: paste the real output into blocks that differ "
                    "(those without '...'); read the diff before committing")
    ap.add_argument("--run", action="store_true",
                    help="also run the README's make run and make debug for real")
    ap.add_argument("--annotate", action="store_true",
                    help="name the source file of each snippet that is found in the tree")
    args = ap.parse_args()
    os.chdir(ROOT)
    chapters = manifest.load(ROOT)
    trees = {}
    passed = failed = 0
    if args.selftest:
        wrong = selftest(chapters)
        for w in wrong:
            print(w)
        if wrong:
            failed += 1
            print("FAIL  the checker's own test (%s)" % SELFTEST)
        else:
            passed += 1
            print("ok    the checker finds every planted problem (%s)" % SELFTEST)
    for path in args.files or default_files():
        try:
            problems = check_file(path, chapters, trees, args.annotate)
        except (OSError, derive.DeriveError) as e:
            print("%s: error: %s" % (path, e))
            failed += 1
            continue
        if problems.items:
            failed += 1
            for p in problems.items:
                print(p)
            print("FAIL  %s: %d problem(s)" % (path, len(problems.items)))
        else:
            passed += 1
            print("ok    %s" % path)
    if args.outputs:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="fern-docs-") as tmp:
            work = Workspace(tmp, chapters)
            for path in args.files or default_files():
                problems = Problems()
                ran = check_outputs(path, chapters, work, problems, args.update)
                if not ran and not problems.items:
                    continue
                for p in problems.items:
                    print(p)
                if problems.items:
                    failed += 1
                    print("FAIL  outputs of %s: %d problem(s)" % (path, len(problems.items)))
                else:
                    passed += 1
                    print("ok    outputs of %s: %d block(s) run" % (path, ran))
    if args.run:
        scale = float(os.environ.get("FERN_TIMEOUT_SCALE", "1") or 1)
        for name, problem in run_checks(max(scale, 1.0)):
            if problem:
                failed += 1
                print("FAIL  %s: %s" % (name, problem))
            else:
                passed += 1
                print("ok    %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed else 1


if __name__ == "__main__":
    sys.exit(main())
