"""Students' trees for the grading self-tests: the course's src/ and
include/ as a student would hand them in, with the labs solved or stubbed."""

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def student_tree(path, stub):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import derive
    for top in ("src", "include"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                src = os.path.join(d, f)
                dst = os.path.join(path, os.path.relpath(src, ROOT))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if stub and f.endswith(derive.C_LIKE):
                    with open(src) as fh, open(dst, "w") as out:
                        out.write(derive.stub_text(fh.read(), set(range(1, 100))))
                else:
                    shutil.copyfile(src, dst)
    return path


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)
