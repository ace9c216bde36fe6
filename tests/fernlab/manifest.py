"""Read the chapter manifests (chapters/NN-slug.mk).

The manifests are Makefile fragments so that make can include them; this
reads the few `chN.key := value` lines the harness needs, with backslash
continuations, and nothing else.
"""

import glob
import os
import re

ASSIGN = re.compile(r"^ch(\d+)\.(\w+)\s*:?=\s*(.*)$")


class Chapter:
    def __init__(self, number):
        self.number = number
        self.slug = ""
        self.title = ""
        self.srcs = []
        self.tests = []
        self.files = []         # other files the chapter adds (scripts, tools)
        self.blog = ""
        self.lab = ""

    @property
    def name(self):
        return "%02d-%s" % (self.number, self.slug)


def load(root, pattern="[0-9][0-9]-*.mk"):
    chapters = {}
    for path in sorted(glob.glob(os.path.join(root, "chapters", pattern))):
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
        for line in text.splitlines():
            m = ASSIGN.match(line.strip())
            if not m:
                continue
            n, key, value = int(m.group(1)), m.group(2), m.group(3).strip()
            ch = chapters.setdefault(n, Chapter(n))
            if key in ("srcs", "tests", "files"):
                setattr(ch, key, value.split())
            elif hasattr(ch, key):
                setattr(ch, key, value)
    return [chapters[n] for n in sorted(chapters)]


def drafts(root):
    """The chapters being written (chapters/NN-slug.mk.draft): not built,
    and their files belong to no snapshot and no handout."""
    return load(root, "[0-9][0-9]-*.mk.draft")
