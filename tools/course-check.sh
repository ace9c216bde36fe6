#!/usr/bin/env bash
# Prove the course derived from the one source works (run by .ci/run):
#  1. every chapter snapshot builds on its own and passes its `make check`;
#  2. in a cumulative handout every lab builds and scores below full marks;
#  3. the reference code in src/ scores full marks on every lab;
#  4. pasting the reference code back into the handout scores full marks;
#  5. an independent handout for the last lab keeps earlier labs solved.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/course-check
rm -rf "$out" && mkdir -p "$out"
chapters=$(sed -n 's/^CHAPTERS += \([0-9]*\)$/\1/p' chapters/[0-9][0-9]-*.mk)
labs=$(for n in $chapters; do [ -d "labs/lab$n" ] && echo "$n"; done || true)
fail=0

score() {  # score DIR LAB -> prints "got/max", returns the grader's status
	local log="$out/$(basename "$1")-lab$2.log" rc=0
	make -C "$1" --no-print-directory "lab$2-check" > "$log" 2>&1 || rc=$?
	local s
	s=$(sed -n 's/^Score: \([0-9]*\/[0-9]*\).*/\1/p' "$log" | tail -n 1)
	echo "${s:-none}"
	return $rc
}

for n in $chapters; do
	snap=$(python3 tools/derive.py snapshot "$n" --out "$out/snapshot-$n" | tail -n 1)
	if make -C "$snap" --no-print-directory check > "$out/snapshot-$n.log" 2>&1; then
		echo "ok   snapshot $n passes its own make check ($(tail -n 1 "$out/snapshot-$n.log"))"
	else
		echo "FAIL snapshot $n: make check failed; see $out/snapshot-$n.log"; fail=1
	fi
	if grep -rlE '^\s*#\s*(if|elif).*FERN_CHAPTER' "$snap/src" "$snap/include" >/dev/null; then
		echo "FAIL snapshot $n keeps chapter conditionals"; fail=1
	fi
done

handout=$(python3 tools/derive.py handout --out "$out/handout" | tail -n 1)
for n in $labs; do
	if s=$(score "$handout" "$n"); then
		echo "FAIL handout: lab $n passes without the student's code ($s)"; fail=1
	elif [ "$s" = none ] || [ "${s%/*}" = "${s#*/}" ]; then
		echo "FAIL handout: lab $n did not report a partial score ($s); see $out/handout-lab$n.log"; fail=1
	else
		echo "ok   handout: lab $n builds and scores $s before the student's work"
	fi
	if s=$(score . "$n"); then
		echo "ok   reference: lab $n scores $s"
	else
		echo "FAIL reference: lab $n scores $s; see $out/.-lab$n.log"; fail=1
	fi
done

cp -r src include "$handout/"
for n in $labs; do
	if s=$(score "$handout" "$n"); then
		echo "ok   handout with the reference code pasted back: lab $n scores $s"
	else
		echo "FAIL handout with the reference code: lab $n scores $s"; fail=1
	fi
done

last=$(echo "$labs" | tail -n 1)
if [ -n "$last" ] && [ "$last" != "$(echo "$labs" | head -n 1)" ]; then
	ind=$(python3 tools/derive.py handout --lab "$last" --out "$out/independent" | tail -n 1)
	first=$(echo "$labs" | head -n 1)
	if s=$(score "$ind" "$first"); then
		echo "ok   independent handout for lab $last: lab $first stays solved ($s)"
	else
		echo "FAIL independent handout for lab $last: lab $first scores $s"; fail=1
	fi
	if s=$(score "$ind" "$last"); then
		echo "FAIL independent handout: lab $last passes without the student's code"; fail=1
	else
		echo "ok   independent handout: lab $last scores $s before the student's work"
	fi
fi
exit $fail
