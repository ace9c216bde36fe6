#!/usr/bin/env python3
"""Count the chapter fences (`#if FERN_CHAPTER ...` and `#elif` on it) in
each file of src/ and include/, most first, and their total.

A fence is code a chapter adds inside an earlier chapter's file. A few are
the point of the method; many in one file mean a missing seam (a table, a
hook, an init call), so the count is worth watching:

    python3 tools/fences.py            # a table
    python3 tools/fences.py --json     # the same as JSON, for make bench
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^\s*#\s*(if|elif)\b.*\bFERN_CHAPTER\b")
SUFFIXES = {".c", ".h", ".asm", ".S", ".inc"}


def counts(root=ROOT):
    """{path relative to root: number of fences}, files with none left out."""
    found = {}
    for top in ("src", "include"):
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            n = sum(1 for line in path.read_text(errors="replace").splitlines()
                    if FENCE.match(line))
            if n:
                found[str(path.relative_to(root))] = n
    return found


def main(argv):
    found = counts()
    if "--json" in argv:
        print(json.dumps({"files": found, "total": sum(found.values())}, indent=2))
        return 0
    for path, n in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])):
        print("%4d  %s" % (n, path))
    print("%4d  fences in %d files" % (sum(found.values()), len(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
