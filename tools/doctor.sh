#!/usr/bin/env bash
# Check every tool fern uses and say what is missing. `make doctor` runs this.
#
# One line per tool: ok or MISSING, the version found, and for a missing
# tool the Debian package that provides it (`make deps` installs them all).
# It honours the variables the Makefile and the harness honour: CC, CROSS,
# GRUB_MKRESCUE, GRUB_PLATFORM, PYTHON, HOST_CC, FUZZ_CC, FERN_QEMU.
#
# Exit status: 0 if every required tool is there, 1 otherwise. Tools that
# only one command needs (doxygen for `make docs`, gdb for `make debug`,
# apt-get and dpkg-deb for `make bench-deps`,
# clang with libFuzzer for `make fuzz`,
# mformat for grub-mkrescue when it builds an EFI image, which the Makefile's
# BIOS-only `-d` never asks for) are reported, but do not make it fail.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

CROSS=${CROSS:-}
CC=${CC:-${CROSS}gcc}
PYTHON=${PYTHON:-python3}
QEMU=${FERN_QEMU:-qemu-system-x86_64}

missing_required=()
missing_optional=()
missing_packages=()

# report STATUS NAME DETAIL
report() {
	printf '  %-8s %-20s %s\n' "$1" "$2" "$3"
}

# found NAME VERSION: a tool that is there.
found() {
	report ok "$1" "$2"
}

# missing NAME PACKAGE WHY [optional]: a tool that is not there, or broken.
# PACKAGE is the Debian package to install, or - if there is none.
missing() {
	local name=$1 pkg=$2 why=$3 kind=${4:-required}

	if [[ $pkg != - ]]; then
		why="$why; Debian package: $pkg"
		missing_packages+=("$pkg")
	fi
	if [[ $kind == optional ]]; then
		report missing "$name" "$why (optional)"
		missing_optional+=("$name")
	else
		report MISSING "$name" "$why"
		missing_required+=("$name")
	fi
}

# first_line COMMAND...: the first non-empty line COMMAND prints; fails if
# COMMAND fails. (Not `COMMAND | sed ...q`: a reader that stops early can
# kill a chatty COMMAND with SIGPIPE, which pipefail reports as a failure.)
first_line() {
	local out

	out=$("$@" 2>&1) || return
	sed -n '/[^[:space:]]/{p;q;}' <<<"$out"
}

# check NAME PACKAGE VERSION-COMMAND... : the usual case, a program that
# says its version.
check() {
	local name=$1 pkg=$2 version

	shift 2
	if ! command -v "$1" >/dev/null 2>&1; then
		missing "$name" "$pkg" "not found"
		return
	fi
	if ! version=$(first_line "$@") || [[ -z $version ]]; then
		missing "$name" "$pkg" "'$*' fails"
		return
	fi
	found "$name" "$version"
}

# The slow probes (each starts a big program) run in the background from
# the start, in parallel, and are read where their tool is reported; this
# keeps the whole check well under a second.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hostcc=${HOST_CC:-cc}

# probe NAME COMMAND...: run COMMAND in the background; its output goes to
# $tmp/NAME and its exit status to $tmp/NAME.rc.
probe() {
	local name=$1

	shift
	{
		"$@" >"$tmp/$name" 2>&1
		echo $? >"$tmp/$name.rc"
	} &
}

# probed NAME: wait for the probes, then succeed if NAME's command did.
probed() {
	wait
	[[ -f $tmp/$1.rc && $(<"$tmp/$1.rc") == 0 ]]
}

probe qemu-version "$QEMU" --version
probe qemu-accel "$QEMU" -accel help
# One Python run says its version and whether it is new enough.
probe python "$PYTHON" -c 'import sys
print("Python %d.%d.%d" % sys.version_info[:3])
sys.exit(sys.version_info < (3, 9))'
printf '#include <stdio.h>\nint main(void) { return puts("") < 0; }\n' >"$tmp/t.c"
probe hostcc "$hostcc" -fsanitize=address,undefined "$tmp/t.c" -o "$tmp/t"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (int)(d[0] + n) * 0; }\n' \
	>"$tmp/fuzz.c"
probe fuzzcc "${FUZZ_CC:-clang}" -fsanitize=fuzzer,address,undefined "$tmp/fuzz.c" -o "$tmp/fuzz"
probe doxygen doxygen --version
probe gdb gdb --version

echo "fern doctor: the tools for building, running, testing and debugging fern"
echo

check make make make --version

# The compiler: what the Makefile will use.
# shellcheck disable=SC2086  # CC may hold a command and its options
if ! command -v ${CC%% *} >/dev/null 2>&1; then
	if [[ -n $CROSS ]]; then
		missing "C compiler ($CC)" - "not found (macOS: brew install ${CROSS}gcc ${CROSS}binutils)"
	else
		missing "C compiler ($CC)" gcc "not found"
	fi
else
	target=$($CC -dumpmachine 2>/dev/null)
	version=$(first_line $CC --version)
	if [[ $version == *clang* || $target == x86_64* ]]; then
		found "C compiler ($CC)" "$version"
	else
		missing "C compiler ($CC)" gcc "$CC builds for '$target', not x86_64; use CROSS=x86_64-elf- or CC=clang"
	fi
fi

if [[ -n $CROSS ]]; then
	check "${CROSS}ld" "-" "${CROSS}ld" --version
else
	check ld binutils ld --version
fi
check nasm nasm nasm -v

# grub-mkrescue is grub2-mkrescue on Fedora; the Makefile takes either.
mkrescue=${GRUB_MKRESCUE:-}
if [[ -z $mkrescue ]]; then
	for name in grub-mkrescue grub2-mkrescue; do
		if command -v "$name" >/dev/null 2>&1; then
			mkrescue=$name
			break
		fi
	done
fi
if [[ -n $mkrescue ]] && command -v "$mkrescue" >/dev/null 2>&1; then
	found "grub-mkrescue" "$(first_line "$mkrescue" --version) (found as $mkrescue)"
else
	missing "grub-mkrescue" grub-common "neither grub-mkrescue nor grub2-mkrescue found"
fi

# grub-file checks the Multiboot2 header after each link.
if command -v grub-file >/dev/null 2>&1; then
	# It prints its version, then complains about --version on stderr.
	found "grub-file" "$(grub-file --version 2>/dev/null | sed -n 1p)"
elif command -v grub2-file >/dev/null 2>&1; then
	found "grub-file" "found as grub2-file; the Makefile looks for grub-file, so it skips its header check"
else
	missing "grub-file" grub-common "not found"
fi

# The BIOS platform files. Without them grub-mkrescue builds an EFI-only
# ISO on an EFI machine, and QEMU's BIOS cannot boot it.
platform=${GRUB_PLATFORM:-}
if [[ -z $platform ]]; then
	platform=/usr/lib/grub/i386-pc
	[[ -d $platform ]] || [[ ! -d /usr/lib/grub2/i386-pc ]] || platform=/usr/lib/grub2/i386-pc
fi
if [[ -f $platform/modinfo.sh ]]; then
	found "GRUB BIOS files" "$platform"
else
	missing "GRUB BIOS files" grub-pc-bin "$platform/modinfo.sh not found (without it the ISO cannot boot in QEMU)"
fi

check xorriso xorriso xorriso -version

# QEMU, and its software emulator TCG: fern never uses KVM.
if command -v "$QEMU" >/dev/null 2>&1; then
	probed qemu-version
	version=$(sed -n 1p "$tmp/qemu-version")
	if probed qemu-accel && grep -qx tcg "$tmp/qemu-accel"; then
		found "$QEMU" "$version"
	else
		missing "$QEMU" qemu-system-x86 "$version, but without TCG (software emulation)"
	fi
else
	missing "$QEMU" qemu-system-x86 "not found"
fi

# Python 3.9 or newer runs the harness and the grader.
if command -v "$PYTHON" >/dev/null 2>&1; then
	probed python
	version=$(sed -n 1p "$tmp/python")
	if probed python; then
		found "$PYTHON" "$version"
	elif [[ $version == Python\ * ]]; then
		missing "$PYTHON" python3 "$version is older than 3.9"
	else
		missing "$PYTHON" python3 "'$PYTHON' does not run"
	fi
else
	missing "$PYTHON" python3 "not found"
fi

check unifdef unifdef unifdef -V
# Chapter 8's site image: the posts, labs and guides rendered to HTML.
check cmark-gfm cmark-gfm cmark-gfm --version
check curl curl curl --version
# passt prints no version (Debian 12's says "unknown"); that it is there is enough.
if command -v passt >/dev/null 2>&1; then
	found passt "$(command -v passt)"
else
	missing passt passt "not found; chapter 8's test through the host's own TCP needs it"
fi
# wrk prints its version and exits 1 whatever it is asked.
check wrk wrk sh -c 'wrk -v 2>&1 | head -n 1'
h11_probe='import sys; sys.path.append("/usr/lib/python3/dist-packages"); import h11; print("h11", h11.__version__)'
if "$PYTHON" -c "$h11_probe" >/dev/null 2>&1; then
	found "h11" "$("$PYTHON" -c "$h11_probe")"
else
	missing "h11" python3-h11 "'$PYTHON' cannot import h11; chapter 8's tests need it"
fi

# The class-grading self-tests (make check-grading): the Gradescope zip is
# unpacked with unzip, the GitHub workflow is read with PyYAML.
check unzip unzip unzip -v
yaml_probe='import sys; sys.path.append("/usr/lib/python3/dist-packages"); import yaml; print("PyYAML", yaml.__version__)'
if "$PYTHON" -c "$yaml_probe" >/dev/null 2>&1; then
	found "PyYAML" "$("$PYTHON" -c "$yaml_probe")"
else
	missing "PyYAML" python3-yaml "'$PYTHON' cannot import yaml; make check-grading needs it"
fi

# The host unit tests are compiled with the host's C library and run with
# sanitizers.
if ! command -v "$hostcc" >/dev/null 2>&1; then
	missing "host C library" "gcc libc6-dev" "no host compiler '$hostcc' for tests/host"
elif probed hostcc; then
	found "host C library" "$hostcc compiles tests/host programs with -fsanitize=address,undefined"
else
	missing "host C library" libc6-dev "$hostcc cannot build a program with <stdio.h> and sanitizers"
fi

# make fuzz (and fuzz-smoke, the last step of .ci/run) needs clang with
# libFuzzer and the sanitizers' runtimes, which Debian's clang package has;
# no other command does, so it is optional here.
fuzzcc=${FUZZ_CC:-clang}
if ! command -v "$fuzzcc" >/dev/null 2>&1; then
	missing "clang (libFuzzer)" clang "no '$fuzzcc'; only make fuzz and make fuzz-smoke need it" optional
elif probed fuzzcc; then
	found "clang (libFuzzer)" "$(first_line "$fuzzcc" --version) (make fuzz)"
else
	missing "clang (libFuzzer)" clang "'$fuzzcc -fsanitize=fuzzer,address,undefined' does not link; only make fuzz needs it" optional
fi

# Each of these is needed by one command only.
if command -v mformat >/dev/null 2>&1; then
	found "mformat (mtools)" "$(first_line mformat --version)"
else
	missing "mformat (mtools)" mtools "not found; only grub-mkrescue without -d needs it" optional
fi
if command -v doxygen >/dev/null 2>&1; then
	probed doxygen
	found doxygen "$(sed -n 1p "$tmp/doxygen") (make docs)"
else
	missing doxygen doxygen "not found; only 'make docs' needs it" optional
fi
if command -v gdb >/dev/null 2>&1; then
	probed gdb
	found gdb "$(sed -n 1p "$tmp/gdb") (make debug)"
else
	missing gdb gdb "not found; only 'make debug' needs it" optional
fi

# make bench-http: the Linux baseline is fetched with apt-get download and
# unpacked with dpkg-deb, as the user running it (no root, nothing
# installed); tools/bench_http.py writes the initramfs itself, so neither
# cpio nor kmod is needed. wrk, above, measures both guests.
if command -v apt-get >/dev/null 2>&1; then
	found apt-get "$(first_line apt-get --version) (make bench-deps)"
else
	missing apt-get apt "not found; only 'make bench-deps' (make bench-http) needs it" optional
fi
if command -v dpkg-deb >/dev/null 2>&1; then
	found dpkg-deb "$(first_line dpkg-deb --version) (make bench-deps)"
else
	missing dpkg-deb dpkg "not found; only 'make bench-deps' (make bench-http) needs it" optional
fi

echo
if compgen -G "build/bench-http/root/boot/vmlinuz-*" >/dev/null; then
	echo "note: make bench-http's Linux baseline is downloaded (build/bench-http/)."
else
	echo "note: make bench-http's Linux baseline is not downloaded yet: 'make bench-deps' fetches it (27 MB)."
fi
echo "note: KVM is not needed: fern runs QEMU with TCG (software emulation)."

# The build needs a few MiB per chapter; warn well before it runs out.
dir=build
[[ -d $dir ]] || dir=.
free_kib=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')
if [[ -n $free_kib ]] && ((free_kib < 256 * 1024)); then
	echo "warning: only $((free_kib / 1024)) MiB free where $dir/ lives; builds and test logs may fail"
fi

# join ITEM...: the items separated by commas.
join() {
	local IFS=, all

	all="$*"
	echo "${all//,/, }"
}

if ((${#missing_required[@]} == 0)); then
	if ((${#missing_optional[@]} == 0)); then
		echo "doctor: ok, every tool fern uses is installed"
	else
		echo "doctor: ok, every required tool is installed (optional, missing: $(join "${missing_optional[@]}"))"
	fi
	exit 0
fi
# shellcheck disable=SC2207  # package names have no spaces
packages=($(printf '%s\n' "${missing_packages[@]}" | sort -u))
if ((${#packages[@]} > 0)); then
	echo "doctor: MISSING $(join "${missing_required[@]}"); install with 'make deps' (Debian/Ubuntu) or: sudo apt-get install ${packages[*]}"
else
	echo "doctor: MISSING $(join "${missing_required[@]}")"
fi
exit 1
