#!/usr/bin/env bash
# Install the tools fern needs, on Debian or Ubuntu. `make deps` runs this.
#
#   tools/deps.sh          install what is missing (re-runs through sudo)
#   tools/deps.sh --check  only say whether anything is missing (exit 1 if so)
#
# When every package is already installed and every tool works, it does
# nothing and takes a fraction of a second, so CI can run it every time.
# On other systems it prints what to install by hand and exits 1.
# `make doctor` checks the result, tool by tool.
set -euo pipefail

# The Debian packages, and why each is needed. "--no-install-recommends"
# is enough for all of them (checked on a fresh Debian 12 system: the ISO
# builds and boots, gdb attaches, make check passes): grub-mkrescue finds
# xorriso because we install it by name, and qemu-system-x86 depends on its
# firmware (seabios, ipxe-qemu); its GUI and extra block drivers are only
# recommended, and fern runs QEMU without a window.
PACKAGES=(
	make            # the build
	gcc             # the compiler (clang works too, but is not needed)
	libc6-dev       # headers for the host unit tests in tests/
	binutils        # ld, objdump, readelf, nm
	nasm            # the boot code in src/boot/*.asm
	grub-common     # grub-mkrescue and grub-file
	grub-pc-bin     # /usr/lib/grub/i386-pc: GRUB for BIOS PCs, what QEMU boots
	xorriso         # grub-mkrescue writes the ISO with it
	mtools          # mformat: grub-mkrescue needs it for EFI images (not fern's)
	qemu-system-x86 # qemu-system-x86_64
	python3         # the test harness and grader in tests/
	python3-yaml    # the self-test that reads .github/workflows/grade.yml
	unzip           # the self-test that unpacks the Gradescope autograder zip
	doxygen         # make docs
	gdb             # make debug
	unifdef         # chapter snapshots and lab handouts
	cmark-gfm       # chapter 8: the posts rendered to HTML for the site the kernel serves
	python3-h11     # chapter 8's tests: an HTTP/1.1 parser that is not fern's
	curl            # chapter 8's tests: a real HTTP client
	passt           # chapter 8's tests: the host's own TCP, carried to the guest as frames
	wrk             # make bench-http: requests per second and latency
	clang           # make fuzz: libFuzzer (Debian's clang ships it) with ASan and UBSan
)
# make bench-http also needs apt-get and dpkg-deb (make bench-deps fetches
# its Linux baseline with them); every Debian and Ubuntu system has them.

# The tools that must run, as "command|how to ask its version".
TOOLS=(
	"make|make --version"
	"gcc|gcc --version"
	"ld|ld --version"
	"nasm|nasm -v"
	"grub-mkrescue|grub-mkrescue --version"
	"grub-file|grub-file --help"
	"xorriso|xorriso -version"
	"mformat|mformat --version"
	"qemu-system-x86_64|qemu-system-x86_64 --version"
	"python3|python3 --version"
	"doxygen|doxygen --version"
	"gdb|gdb --version"
	"unifdef|unifdef -V"
	"cmark-gfm|cmark-gfm --version"
	"curl|curl --version"
	"passt|passt --version"
	"clang|clang --version"
)

# GRUB's BIOS platform files. An EFI machine may have grub-mkrescue
# without them, and then builds ISOs that QEMU's BIOS cannot boot.
GRUB_BIOS_DIR=/usr/lib/grub/i386-pc

# Print why the installation is incomplete, one indented line per problem;
# print nothing if it is complete. Missing packages come first; the tools
# themselves are tried only once every package is installed.
what_is_missing() {
	local status pkg tool cmd absent=()

	if command -v dpkg-query >/dev/null 2>&1; then
		status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
			"${PACKAGES[@]}" 2>/dev/null || true)
		for pkg in "${PACKAGES[@]}"; do
			if ! grep -q "^$pkg ii" <<<"$status"; then
				absent+=("$pkg")
			fi
		done
		if ((${#absent[@]} > 0)); then
			echo "  packages not installed: ${absent[*]}"
			return
		fi
	fi
	for tool in "${TOOLS[@]}"; do
		cmd=${tool#*|}
		if ! $cmd >/dev/null 2>&1; then
			echo "  ${tool%%|*} is installed but '$cmd' fails"
		fi
	done
	if [[ ! -f $GRUB_BIOS_DIR/modinfo.sh ]]; then
		echo "  $GRUB_BIOS_DIR is missing (package grub-pc-bin)"
	fi
	if python3 --version >/dev/null 2>&1 &&
		! python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
		echo "  python3 is older than 3.9 (the first python3 on PATH: $(command -v python3))"
	fi
}

manual_instructions() {
	local os=unknown

	if [[ $(uname -s) == Darwin ]]; then
		os=macos
	elif [[ -r /etc/os-release ]]; then
		# shellcheck disable=SC1091
		os=$(. /etc/os-release && echo "${ID:-unknown} ${ID_LIKE:-}")
	fi
	echo "tools/deps.sh installs packages with apt-get (Debian, Ubuntu)," >&2
	echo "and this system has no apt-get. Install these by hand:" >&2
	echo >&2
	case $os in
	*fedora* | *rhel* | *centos*)
		cat >&2 <<-'EOF'
		  sudo dnf install make gcc glibc-devel binutils nasm \
		      grub2-tools grub2-tools-extra grub2-pc-modules xorriso mtools \
		      qemu-system-x86-core python3 doxygen gdb unifdef

		Fedora calls the ISO tool grub2-mkrescue; the Makefile finds it
		under either name.
		EOF
		;;
	*arch*)
		cat >&2 <<-'EOF'
		  sudo pacman -S --needed make gcc binutils nasm grub libisoburn \
		      mtools qemu-system-x86 python doxygen gdb unifdef

		(libisoburn provides xorriso.)
		EOF
		;;
	macos*)
		cat >&2 <<-'EOF'
		  brew install x86_64-elf-gcc x86_64-elf-binutils nasm i686-elf-grub \
		      xorriso mtools qemu python doxygen x86_64-elf-gdb unifdef

		macOS's own compiler cannot build an ELF kernel; use the cross
		toolchain, and point the Makefile at the GRUB from Homebrew:

		  make CROSS=x86_64-elf- GRUB_MKRESCUE=i686-elf-grub-mkrescue \
		       GRUB_PLATFORM=<the i386-pc directory of i686-elf-grub>

		(find that directory with:
		 find "$(brew --prefix i686-elf-grub)" -name modinfo.sh)
		macOS is not tested by fern's CI.
		EOF
		;;
	*)
		cat >&2 <<-'EOF'
		  make, gcc (or clang), binutils, nasm, GRUB 2 with its i386-pc
		  (BIOS) platform files and grub-mkrescue, xorriso, mtools,
		  qemu-system-x86_64, python3 (3.9 or newer), doxygen, gdb, unifdef
		EOF
		;;
	esac
	echo >&2
	echo "Then run 'make doctor' to check that everything is found." >&2
}

main() {
	local missing self

	if [[ $# -gt 1 || ( $# -eq 1 && $1 != --check ) ]]; then
		echo "usage: tools/deps.sh [--check]   (install what fern needs; --check only reports)" >&2
		return 2
	fi
	missing=$(what_is_missing)
	if [[ -z $missing ]]; then
		echo "deps: everything fern needs is installed ('make doctor' shows the versions)"
		return 0
	fi
	if [[ ${1:-} == --check ]]; then
		echo "$missing"
		return 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		manual_instructions
		return 1
	fi

	echo "deps: to install:"
	echo "$missing"
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "error: installing packages needs root, and sudo is not installed;" >&2
			echo "       run 'tools/deps.sh' as root, or install these packages:" >&2
			echo "       ${PACKAGES[*]}" >&2
			return 1
		fi
		self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
		echo "deps: not root; running through sudo"
		exec sudo -- "$self" "$@"
	fi

	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${PACKAGES[@]}"

	missing=$(what_is_missing)
	if [[ -n $missing ]]; then
		echo "error: still missing after apt-get install:" >&2
		echo "$missing" >&2
		return 1
	fi
	echo "deps: done; 'make doctor' shows the versions"
}

main "$@"
