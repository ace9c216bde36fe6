#!/usr/bin/env bash
# Grade a student's tree with the official tests, grader and build files:
# only the student's kernel code (src/ and include/) is taken from their
# tree, so edits to tests/, the Makefile or the manifests change nothing.
#
#   tools/grade-student.sh STUDENT_DIR [LAB] [grade.py options...]
#   make grade-student STUDENT=~/submissions/alice LAB=3
#
# Without LAB every lab is graded. Extra options (e.g. --json FILE,
# --gradescope FILE) are passed to tests/grade.py.
set -euo pipefail
student=${1:-}
lab=${2:-}
shift $(( $# >= 2 ? 2 : $# ))
if [ -z "$student" ] || [ ! -d "$student/src" ]; then
	echo "usage: $0 STUDENT_DIR [LAB] [grade.py options]  (STUDENT_DIR must contain src/)" >&2
	exit 2
fi
official=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fern-grade-XXXXXX")
trap 'rm -rf "$work"' EXIT
# The official tree without its src/ and include/, then the student's.
tar -C "$official" --exclude=./build --exclude=./.git --exclude=./src \
	--exclude=./include --exclude=./solutions -cf - . | tar -C "$work" -xf -
cp -r "$student/src" "$student/include" "$work/"
cd "$work"
if [ -n "$lab" ]; then
	make --no-print-directory CHAPTER="$lab" iso
	python3 tests/grade.py --lab "$lab" "$@"
else
	make --no-print-directory all-chapters
	python3 tests/grade.py --labs "$@"
fi
