#!/usr/bin/env bash
# Grade a student's tree with the official build files, tests and grader:
# only the student's kernel code (the .c and .h files of src/ and
# include/, not the in-kernel test suites) is taken from their tree, and no
# program of theirs runs here. docs/instructors.md says exactly what is
# trusted; tools/grade_student.py does the work.
#
#   tools/grade-student.sh STUDENT_DIR [LAB] [--out DIR] [grade.py options...]
#   make grade-student STUDENT=~/submissions/alice LAB=3
#
# Without LAB every lab is graded. Results (the build log, failing tests'
# logs) go to --out DIR, by default build/grade-student/NAME-labN/. Extra
# options (e.g. --json FILE, --gradescope FILE, -k TEXT) are passed to
# tests/grade.py; relative paths are taken from the folder you run it in.
exec python3 "$(dirname "$0")/grade_student.py" "$@"
