# fern — one source tree, built as the kernel of any chapter.
#
#   make                  build the newest chapter's ISO (build/fern.iso)
#   make CHAPTER=N        build chapter N (build/chN/fern.iso)
#   make help             every target, with one line each
#
# The chapters are the manifests in chapters/: chapter N is built from the
# sources listed by manifests 1..N, compiled with -DFERN_CHAPTER=N.

SHELL := /bin/bash
.DEFAULT_GOAL := iso
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

# ---- chapters ---------------------------------------------------------------

CHAPTER_MANIFESTS := $(sort $(wildcard chapters/[0-9][0-9]-*.mk))
CHAPTERS :=
include $(CHAPTER_MANIFESTS)
NEWEST := $(lastword $(CHAPTERS))

# A chapter snapshot (make snapshot) has its fences resolved, so it can
# build only its own chapter; chapters/snapshot.mk sets SNAPSHOT there.
SNAPSHOT :=
-include chapters/snapshot.mk
BUILDABLE := $(if $(SNAPSHOT),$(NEWEST),$(CHAPTERS))

# Two images from one source. The *served* image is what `make`, `make iso`
# and `make run` build (build/fern.iso): the kernel a reader runs and, from
# chapter 8 on, the one that serves HTTP, without the in-kernel test
# suites. A *chapter* image (`make CHAPTER=N`, build/chN/fern.iso) keeps
# them: the labs, the posts' `test=...` examples and the grader use it.
# KTESTS=0 or 1 picks the other kind: build/ktests/ (the newest chapter with
# its tests) or build/chN/served/ (chapter N without them).
ifneq ($(filter command line environment,$(origin CHAPTER)),)
  ifeq ($(filter $(CHAPTER),$(BUILDABLE)),)
    $(error CHAPTER=$(CHAPTER) cannot be built here; the chapters are: $(BUILDABLE)$(if $(SNAPSHOT), (this is the snapshot of chapter $(NEWEST): earlier chapters have their own snapshots)))
  endif
  KTESTS ?= 1
  BUILD := build/ch$(CHAPTER)$(if $(filter 0,$(KTESTS)),/served)
else
  CHAPTER := $(NEWEST)
  KTESTS ?= 0
  BUILD := build$(if $(filter 1,$(KTESTS)),/ktests)
endif
ifeq ($(filter 0 1,$(KTESTS)),)
  $(error KTESTS=$(KTESTS): use KTESTS=1 (with the in-kernel tests) or KTESTS=0 (without))
endif
# Chapter numbers are 1..NEWEST, so chapter N is the first N manifests.
ACTIVE := $(wordlist 1,$(CHAPTER),$(CHAPTERS))
# The in-kernel test suites are the files named *_test.c (KTEST cases) and
# *_bench.c (workloads a benchmark runs); the served image leaves them out.
# The runner (ktest.c) stays: asked for tests, it says there are none.
SRCS := $(foreach n,$(ACTIVE),$(ch$(n).srcs))
ifeq ($(KTESTS),0)
  SRCS := $(filter-out %_test.c %_bench.c,$(SRCS))
endif

# ---- tools ------------------------------------------------------------------

# CROSS=x86_64-elf- uses a cross toolchain (macOS); the host gcc or clang
# works on Linux.
CROSS ?=
ifeq ($(origin CC),default)
  CC := $(CROSS)gcc
endif
NASM ?= nasm
PYTHON ?= python3
NM ?= $(CROSS)nm
AWK ?= awk
GRUB_MKRESCUE ?= $(shell command -v grub-mkrescue || command -v grub2-mkrescue || echo grub-mkrescue)
# The BIOS platform files: on an EFI host grub-mkrescue would otherwise
# build an ISO that QEMU's BIOS cannot boot.
GRUB_PLATFORM ?= $(firstword $(wildcard /usr/lib/grub/i386-pc /usr/lib/grub2/i386-pc) /usr/lib/grub/i386-pc)

# Only the GRUB modules the menu needs: a 0.8 MB ISO instead of 9.5 MB,
# built in a fraction of the time.
GRUB_MODULES ?= --install-modules="multiboot2 normal" --fonts= --locales= --themes=

WERROR ?= -Werror
IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo yes)

# Frame pointers and no tail calls: panic()'s backtrace (chapter 2) walks
# the saved frame pointers, and a tail call would hide its caller's frame.
CFLAGS_KERNEL := -std=gnu11 -O2 -g -Wall -Wextra $(WERROR) \
	-ffreestanding -fno-pie -fno-pic -fno-stack-protector \
	-mno-red-zone -mgeneral-regs-only -mcmodel=kernel \
	-fno-omit-frame-pointer -fno-optimize-sibling-calls \
	-fno-asynchronous-unwind-tables \
	-Iinclude -DFERN_CHAPTER=$(CHAPTER) -DFERN_KTESTS=$(KTESTS)
ifneq ($(IS_CLANG),yes)
  # gcc would otherwise turn the loop in memset() into a call to memset().
  CFLAGS_KERNEL += -fno-tree-loop-distribute-patterns
else
  CFLAGS_KERNEL += --target=x86_64-unknown-none-elf
endif
# What the chapters built add (chN.cflags in their manifests): from
# chapter 2 on, the stack protector, which overrides -fno-stack-protector
# above (the last of the two wins). Before CFLAGS, so that a reader can
# turn it off again: make CHAPTER=2 CFLAGS=-fno-stack-protector.
CFLAGS_KERNEL += $(foreach n,$(ACTIVE),$(ch$(n).cflags))
CFLAGS_KERNEL += $(CFLAGS)
NASMFLAGS := -f elf64 -g -F dwarf -w+all -w+error
LDFLAGS_KERNEL := -nostdlib -static -no-pie -Wl,-n -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-z,max-page-size=0x1000
ifeq ($(IS_CLANG),yes)
  # clang's bare-metal target links static, non-PIE by default and
  # rejects -no-pie as an unused argument.
  LDFLAGS_KERNEL := $(filter-out -no-pie,$(LDFLAGS_KERNEL))
endif
LD := $(CROSS)ld
STRIP := $(CROSS)strip
GRUB_FILE ?= $(shell command -v grub-file || command -v grub2-file)
LIBGCC := $(shell $(CC) -print-libgcc-file-name 2>/dev/null)

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

# ---- the kernel -------------------------------------------------------------

OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(basename $(filter %.c %.asm,$(SRCS))))
FLAGS_STAMP := $(BUILD)/flags.stamp

# Rebuild everything when the compiler flags change (a new chapter changes
# FERN_CHAPTER of the default build): the stamp is rewritten only then.
$(shell mkdir -p $(BUILD) && echo '$(CC) $(CFLAGS_KERNEL) $(NASMFLAGS) $(LDFLAGS_KERNEL) $(SRCS) $(GRUB_MODULES)' > $(FLAGS_STAMP).new && \
	(cmp -s $(FLAGS_STAMP).new $(FLAGS_STAMP) || mv $(FLAGS_STAMP).new $(FLAGS_STAMP)); rm -f $(FLAGS_STAMP).new)

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_KERNEL) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.asm $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "  NASM    $<"
	$(Q)$(NASM) $(NASMFLAGS) -I$(BUILD)/gen/ -MD $(@:.o=.d) -MP $< -o $@

# Constants that assembly shares with C have one definition, in a header;
# NASM gets them generated from it: include/fern/NAME.h gives
# $(BUILD)/gen/NAME.inc, a %define for each object-like macro the header
# itself defines whose value is a plain number (C's U and L suffixes
# dropped). entry.asm includes layout.inc, trap_entry.asm cpu.inc.
$(BUILD)/gen/%.inc: include/fern/%.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(Q)$(CC) -E -dD -D__ASSEMBLER__ -DFERN_CHAPTER=$(CHAPTER) -Iinclude -x c $< | \
		$(AWK) -v src='"$<"' '/^# [0-9]+ "/ { here = ($$3 == src) } \
			here && $$1 == "#define" && $$2 !~ /[(]/ && NF >= 3 { \
			v = $$3; for (i = 4; i <= NF; i++) v = v " " $$i; print $$2, v }' | \
		sed -E 's/([0-9a-fA-F])[uU]?[lL]{1,2}([^0-9A-Za-z_]|$$)/\1\2/g; s/([0-9a-fA-F])[uU]([^0-9A-Za-z_]|$$)/\1\2/g' | \
		$(AWK) '{ v = $$0; sub(/^[^ ]+ /, "", v) } v ~ /^[-0-9a-fA-FxX ()<>|&~+*]+$$/ { print "%define " $$1 " " v }' > $@
$(BUILD)/obj/src/boot/entry.o: $(BUILD)/gen/layout.inc
$(BUILD)/obj/src/cpu/trap_entry.o: $(BUILD)/gen/cpu.inc

$(BUILD)/linker.ld: src/boot/linker.ld.S include/fern/layout.h $(FLAGS_STAMP)
	$(Q)$(CC) -E -P -x c -undef -D__ASSEMBLER__ -DFERN_CHAPTER=$(CHAPTER) -Iinclude $< -o $@

# From chapter 2 on, panic() names functions from a symbol table linked
# into the kernel. The table is made from the linked kernel, so the kernel
# is linked twice: pass 1 with an empty table, then `nm` of pass 1 gives the
# table for pass 2. The table's section is the last in the linker script,
# so its growth moves no code or data, which the final link checks.
KSYMS_GEN := $(filter src/console/ksyms.awk,$(SRCS))
KSYMS_OBJ := $(if $(KSYMS_GEN),$(BUILD)/ksyms.o)
# Symbols that may move between the passes: the table's own, and the end.
KSYMS_MOVABLE := -e ' ksym_' -e ' __kernel_end$$' -e ' __kernel_phys_end$$'

$(BUILD)/ksyms-empty.c: $(KSYMS_GEN)
	$(Q)$(AWK) -f $(KSYMS_GEN) < /dev/null > $@

$(BUILD)/fern.pass1.elf: $(OBJS) $(BUILD)/ksyms-empty.o $(BUILD)/linker.ld
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_KERNEL) $(LDFLAGS_KERNEL) -T $(BUILD)/linker.ld -o $@ $(OBJS) $(BUILD)/ksyms-empty.o $(LIBGCC)

$(BUILD)/ksyms.c: $(BUILD)/fern.pass1.elf $(KSYMS_GEN)
	@echo "  KSYMS   $@"
	$(Q)$(NM) -n $< | $(AWK) -f $(KSYMS_GEN) > $@

$(BUILD)/ksyms.o $(BUILD)/ksyms-empty.o: %.o: %.c include/fern/console.h $(FLAGS_STAMP)
	$(Q)$(CC) $(CFLAGS_KERNEL) -c $< -o $@

$(BUILD)/fern.elf: $(OBJS) $(KSYMS_OBJ) $(BUILD)/linker.ld
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_KERNEL) $(LDFLAGS_KERNEL) -T $(BUILD)/linker.ld -o $@ $(OBJS) $(KSYMS_OBJ) $(LIBGCC)
	$(Q)if [ -n "$(KSYMS_OBJ)" ] && ! cmp -s <($(NM) -n $(BUILD)/fern.pass1.elf | grep -v $(KSYMS_MOVABLE)) \
		<($(NM) -n $@ | grep -v $(KSYMS_MOVABLE)); then \
		echo "error: adding the symbol table moved code or data (compare nm of $@ and $(BUILD)/fern.pass1.elf)" >&2; \
		rm -f $@; exit 1; fi
	$(Q)if [ -n "$(GRUB_FILE)" ] && ! $(GRUB_FILE) --is-x86-multiboot2 $@; then \
		echo "error: $@ has no valid Multiboot2 header in its first 32 KiB" >&2; rm -f $@; exit 1; fi

# $(call make-iso,ISO,ELF): a GRUB rescue ISO that boots ELF with grub.cfg.
# The ISO gets a copy without debug information (GRUB would read it all at
# every boot); gdb reads the full ELF in build/.
define make-iso
	@echo "  ISO     $(1)"
	$(Q)rm -rf $(1).dir && mkdir -p $(1).dir/boot/grub
	$(Q)$(STRIP) --strip-debug -o $(1).dir/boot/fern.elf $(2)
	$(Q)cp src/boot/grub.cfg $(1).dir/boot/grub/grub.cfg
	$(Q)$(if $(3),cp $(3) $(1).dir/boot/site.img && \
		sed -i 's|^\(\s*\)multiboot2 .*|&\n\1module2 /boot/site.img|' $(1).dir/boot/grub/grub.cfg)
	$(Q)if ! $(GRUB_MKRESCUE) -d $(GRUB_PLATFORM) $(GRUB_MODULES) -o $(1) $(1).dir > $(1).log 2>&1; then \
		cat $(1).log >&2; \
		echo "error: grub-mkrescue failed; run 'make doctor' to see what is missing" >&2; exit 1; fi
	$(Q)rm -rf $(1).dir
endef

# From chapter 8 on the ISO also carries the site the unikernel serves
# (tools/site.py renders the posts, labs and guides), as a Multiboot2
# module that GRUB loads next to the kernel.
SITE_IMAGE := $(if $(filter-out 1 2 3 4 5 6 7,$(CHAPTER)),build/site.img)
SITE_SOURCES := $(wildcard blog/*.md labs/*/README.md docs/*.md) README.md tools/site.py

build/site.img: $(SITE_SOURCES)
	@echo "  SITE    $@"
	$(Q)$(PYTHON) tools/site.py --out $@ > /dev/null

$(BUILD)/fern.iso: $(BUILD)/fern.elf src/boot/grub.cfg $(FLAGS_STAMP) $(SITE_IMAGE)
	$(call make-iso,$@,$<,$(SITE_IMAGE))

-include $(OBJS:.o=.d)

.PHONY: iso kernel
kernel: $(BUILD)/fern.elf	## build the kernel ELF only
iso: $(BUILD)/fern.iso		## build the bootable ISO (CHAPTER=N for chapter N)

# ---- running ----------------------------------------------------------------

# From chapter 6 on, `make run` and `make debug` attach the devices the
# kernel drives: a virtio-rng device and a virtio-blk disk backed by
# build/disk.img (1 MiB of zeros, made once, kept between runs). QEMU_EXTRA
# adds QEMU options of your own, e.g. QEMU_EXTRA='-M q35'.
DISK_IMAGE := build/disk.img
VIRTIO_DEVICES := -device virtio-rng-pci \
	-drive file=$(DISK_IMAGE),if=none,id=disk0,format=raw \
	-device virtio-blk-pci,drive=disk0
# From chapter 7 on, also a virtio-net card on QEMU's user networking
# (its DHCP server gives the kernel 10.0.2.15), with the kernel's UDP echo
# service (port 7) reachable from this machine at 127.0.0.1:UDP_ECHO_PORT.
comma := ,
UDP_ECHO_PORT ?= 5007
# From chapter 8 on, the HTTP server's port 80 is at 127.0.0.1:HTTP_PORT.
HTTP_PORT ?= 8080
NET_DEVICES := -netdev user,id=net0,hostfwd=udp:127.0.0.1:$(UDP_ECHO_PORT)-:7$(if \
	$(filter-out 1 2 3 4 5 6 7,$(CHAPTER)),$(comma)hostfwd=tcp:127.0.0.1:$(HTTP_PORT)-:80) \
	-device virtio-net-pci,netdev=net0
RUN_DEVICES := $(strip $(if $(filter-out 1 2 3 4 5,$(CHAPTER)),$(VIRTIO_DEVICES)) \
	$(if $(filter-out 1 2 3 4 5 6,$(CHAPTER)),$(NET_DEVICES)))
QEMU_EXTRA ?=
RUN_EXTRA := $(strip $(RUN_DEVICES) $(QEMU_EXTRA))

$(DISK_IMAGE):
	@mkdir -p $(@D)
	$(Q)truncate -s 1M $@

.PHONY: run debug
run: iso $(if $(RUN_DEVICES),$(DISK_IMAGE))	## boot the ISO in QEMU, serial on this terminal (Ctrl-A X quits)
	$(Q)$(PYTHON) tests/run.py --iso $(BUILD)/fern.iso $(if $(CMDLINE),--cmdline '$(CMDLINE)') $(if $(RUN_EXTRA),--qemu-extra '$(RUN_EXTRA)')

debug: iso $(if $(RUN_DEVICES),$(DISK_IMAGE))	## boot paused with a gdb server on :1234 and attach gdb
	$(Q)$(PYTHON) tests/run.py --iso $(BUILD)/fern.iso --debug --elf $(BUILD)/fern.elf $(if $(CMDLINE),--cmdline '$(CMDLINE)') $(if $(RUN_EXTRA),--qemu-extra '$(RUN_EXTRA)')

# ---- tests ------------------------------------------------------------------

GRADE := $(PYTHON) tests/grade.py

# Host unit tests (tests/host/): the kernel's pure-logic files compiled for
# the host with sanitizers and compared with the host C library. Leak
# checking is off by default: it needs ptrace, which containers often deny.
HOST_CC ?= cc
HOST_CFLAGS := -std=gnu11 -g -Wall -Wextra $(WERROR) -Iinclude -DFERN_CHAPTER=99 \
	-fsanitize=address,undefined -fno-sanitize-recover=all
# string.c defines the C library's own names: rename them for the host.
HOST_STRING_NAMES := memcpy memmove memset memcmp strlen strnlen strcmp strncmp strchr
# One test per tests/host/test_*.c that exists: a chapter snapshot has only
# its own chapters' tests.
HOST_TESTS := $(patsubst tests/host/%.c,build/host/%,$(wildcard tests/host/test_*.c))

.PHONY: host-tests
host-tests: $(HOST_TESTS)	## run the host unit tests (tests/host/) with ASan and UBSan
	$(Q)status=0; for t in $(HOST_TESTS); do echo "== $$t"; \
		ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} \
		UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1} $$t || status=1; done; exit $$status

build/host/test_%: tests/host/test_%.c src/lib/%.c include/fern/%.h tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/lib/$*.c

build/host/fern_string.o: src/lib/string.c include/fern/string.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -fno-builtin $(foreach f,$(HOST_STRING_NAMES),-D$(f)=fern_$(f)) -c $< -o $@

build/host/test_string: tests/host/test_string.c build/host/fern_string.o tests/host/tap.h
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< build/host/fern_string.o

# The heap's core (chapter 5) is in src/mm/, and needs no renaming.
build/host/test_heap: tests/host/test_heap.c src/mm/heap.c include/fern/heap.h tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/mm/heap.c

# The virtqueue and BAR decoding (chapter 6) touch no hardware.
build/host/test_virtq: tests/host/test_virtq.c src/drivers/virtqueue.c include/fern/virtio.h tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/drivers/virtqueue.c

build/host/test_pci: tests/host/test_pci.c src/drivers/pci_bar.c include/fern/pci.h tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/drivers/pci_bar.c

# The network stack (chapter 7): its src/net/ files with the checksum, the
# packet buffers and the netdev seam, over a fake clock, loop and card
# (tests/host/net_host.h). That it builds at all proves the stack needs no
# kernel header beyond its own.
NET_HOST_SRCS = $(filter-out %_test.c,$(filter src/net/%,$(ch7.srcs))) src/lib/checksum.c \
	src/lib/cmdline.c src/lib/parse.c src/lib/format.c src/drivers/pbuf.c src/drivers/netdev.c
build/host/test_net: tests/host/test_net.c tests/host/net_host.c tests/host/net_host.h \
		$(NET_HOST_SRCS) $(wildcard include/fern/*.h) tests/host/tap.h tests/host/wire.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -include tests/host/net_host.h -o $@ $< tests/host/net_host.c \
		$(NET_HOST_SRCS)

# TCP (chapter 8) over the same stack and fakes, with the echo service on
# port 7, and a heap that is the host's malloc (tests/host/tcp_host.c).
TCP_HOST_SRCS = $(NET_HOST_SRCS) src/net/tcp.c src/net/tcp_echo.c
build/host/test_tcp: tests/host/test_tcp.c tests/host/net_host.c tests/host/net_host.h \
		tests/host/tcp_host.c $(TCP_HOST_SRCS) $(wildcard include/fern/*.h) tests/host/tap.h tests/host/wire.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -include tests/host/net_host.h -o $@ $< tests/host/net_host.c \
		tests/host/tcp_host.c $(TCP_HOST_SRCS)

# The HTTP request parser (chapter 8) keeps no state and needs nothing but
# the C library's string functions.
build/host/test_http: tests/host/test_http.c src/app/http_parse.c include/fern/http.h tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/app/http_parse.c

# The site-image reader (chapter 8) prints with kprintf() and takes its
# file table with kcalloc(): net_host.c's console and tcp_host.c's heap.
build/host/test_site: tests/host/test_site.c src/app/site.c include/fern/site.h tests/host/tap.h \
		tests/host/net_host.c tests/host/net_host.h tests/host/tcp_host.c src/lib/format.c
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -include tests/host/net_host.h -o $@ $< src/app/site.c \
		tests/host/net_host.c tests/host/tcp_host.c src/lib/format.c src/drivers/pbuf.c \
		src/drivers/netdev.c

# The Multiboot2 walker (chapter 1), which the test includes after a
# layout.h of its own.
build/host/test_multiboot: tests/host/test_multiboot.c src/boot/multiboot2.c include/fern/boot.h \
		tests/host/tap.h src/lib/format.c
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< src/lib/format.c

# Host tests of the memory code (src/mm/NAME.c, from chapter 4 on), over
# fake physical memory and faked privileged instructions
# (tests/host/mm_host.h).
build/host/test_%: tests/host/test_%.c src/mm/%.c include/fern/mm.h tests/host/mm_host.h tests/host/mm_host.c tests/host/tap.h
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -include tests/host/mm_host.h -o $@ $< src/mm/$*.c tests/host/mm_host.c

# Fuzzing (tests/fuzz/): the parsers of untrusted input built for the
# host with clang's libFuzzer, AddressSanitizer and UBSan, one program per
# entry point (build/fuzz/NAME). `make fuzz` runs each for FUZZ_SECONDS
# (five targets: two and a half minutes in all), its corpus kept in
# build/fuzz/corpus/NAME/ and started from the generated seeds of
# tests/fuzz/seeds.py; a crash is saved under build/fuzz/crashes/NAME/
# with the command that replays it. `make fuzz-smoke` is a short run of
# each, for CI (.ci/run). A tree without tests/fuzz/fuzz_*.c has no targets.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Iinclude -DFERN_CHAPTER=99 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_PROGRAMS := $(FUZZ_TARGETS:%=build/fuzz/%)
# The network targets and site's run over tests/host/net_host.h's fakes
# (console, clock, DMA memory, the card, which need the packet buffers and
# the formatter: FUZZ_FAKES, of which the stack has all but net_host.c)
# and tcp_host.c's malloc heap. The
# stack is built with arp.c, dhcp.c and tcp.c replaced by the
# tests/fuzz/reset_*.c that include them (tests/fuzz/reset.h says why).
FUZZ_FAKES := tests/host/net_host.c src/drivers/pbuf.c src/drivers/netdev.c src/lib/format.c
FUZZ_HDRS := $(wildcard include/fern/*.h tests/host/*.h tests/fuzz/*.h)
FUZZ_STACK := $(filter-out src/net/arp.c src/net/dhcp.c,$(NET_HOST_SRCS)) tests/fuzz/net_fuzz.c \
	tests/fuzz/reset_arp.c tests/fuzz/reset_dhcp.c
FUZZ_BUILD = $(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@

build/fuzz/frame: tests/fuzz/fuzz_frame.c tests/fuzz/reset_tcp.c $(FUZZ_STACK) src/net/tcp_echo.c \
		src/app/http.c src/app/http_parse.c src/app/site.c src/app/main.c \
		src/net/arp.c src/net/dhcp.c src/net/tcp.c $(FUZZ_FAKES) tests/host/tcp_host.c \
		$(FUZZ_HDRS) | fuzz-clang
	$(FUZZ_BUILD) -include tests/host/net_host.h tests/fuzz/fuzz_frame.c tests/fuzz/reset_tcp.c \
		$(FUZZ_STACK) src/net/tcp_echo.c src/app/http.c src/app/http_parse.c src/app/site.c \
		src/app/main.c tests/host/net_host.c tests/host/tcp_host.c
build/fuzz/dhcp: tests/fuzz/fuzz_dhcp.c $(FUZZ_STACK) src/net/arp.c src/net/dhcp.c $(FUZZ_FAKES) \
		$(FUZZ_HDRS) | fuzz-clang
	$(FUZZ_BUILD) -include tests/host/net_host.h tests/fuzz/fuzz_dhcp.c $(FUZZ_STACK) \
		tests/host/net_host.c
build/fuzz/site: tests/fuzz/fuzz_site.c src/app/site.c $(FUZZ_FAKES) tests/host/tcp_host.c \
		$(FUZZ_HDRS) | fuzz-clang
	$(FUZZ_BUILD) -include tests/host/net_host.h tests/fuzz/fuzz_site.c src/app/site.c \
		$(FUZZ_FAKES) tests/host/tcp_host.c
# These two need no fakes: the walker is included by its target, which
# has its own kprintf(); the HTTP parser keeps no state at all.
build/fuzz/multiboot: tests/fuzz/fuzz_multiboot.c src/boot/multiboot2.c src/lib/format.c \
		$(FUZZ_HDRS) | fuzz-clang
	$(FUZZ_BUILD) tests/fuzz/fuzz_multiboot.c src/lib/format.c
build/fuzz/http: tests/fuzz/fuzz_http.c src/app/http_parse.c include/fern/http.h | fuzz-clang
	$(FUZZ_BUILD) tests/fuzz/fuzz_http.c src/app/http_parse.c

# One line, not a page of linker errors, when clang or libFuzzer is missing
# (checked before every build: an order-only prerequisite of each target).
.PHONY: fuzz-clang
fuzz-clang:
	@mkdir -p build/fuzz
	$(Q)printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (int)(d[0] + n) * 0; }\n' \
		>build/fuzz/probe.c
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined build/fuzz/probe.c -o build/fuzz/probe \
		2>/dev/null || { echo "fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not build: clang with libFuzzer is missing ('make doctor' names the package: clang)"; exit 1; }

build/fuzz/seeds/.made: tests/fuzz/seeds.py
	$(Q)$(PYTHON) tests/fuzz/seeds.py build/fuzz/seeds
	$(Q)touch $@

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FUZZ_PROGRAMS) build/fuzz/seeds/.made

fuzz: fuzz-build		## fuzz every parser of untrusted input FUZZ_SECONDS each (clang's libFuzzer; tests/fuzz/)
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build		## every fuzz target for FUZZ_SMOKE_SECONDS (CI)
	$(Q)tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

.PHONY: check all-chapters served-chapters grade selftest-kernels host-tests-build
# Tiny Multiboot2 kernels (tests/selftest/tiny.asm): the deliberately
# broken ones of the harness's fault matrix, and the bench's floor.
SELFTEST_MODES := triple_fault silent flood hang
selftest-kernels: $(SELFTEST_MODES:%=build/selftest/%.iso)

build/selftest/%.elf: tests/selftest/tiny.asm tests/selftest/tiny.ld
	@mkdir -p $(@D)
	$(Q)$(NASM) -f elf64 -D$(shell echo $* | tr a-z A-Z) $< -o $(@:.elf=.o)
	$(Q)$(LD) -n -T tests/selftest/tiny.ld -o $@ $(@:.elf=.o)

.SECONDARY: $(SELFTEST_MODES:%=build/selftest/%.elf) build/selftest/floor.elf
build/selftest/%.iso: build/selftest/%.elf src/boot/grub.cfg
	$(call make-iso,$@,$<)

# The floor with the served site as its module: what GRUB's reading of
# the site costs, apart from fern's code (make bench's "floor + site").
build/selftest/floor-site.iso: build/selftest/floor.elf build/site.img src/boot/grub.cfg
	$(call make-iso,$@,$<,build/site.img)

all-chapters:			## build every chapter's ISO (build/chN/)
	$(Q)for n in $(BUILDABLE); do $(MAKE) --no-print-directory CHAPTER=$$n iso || exit 1; done
	$(Q)$(MAKE) --no-print-directory iso

served-chapters:		## build every chapter's served image, without tests (build/chN/served/)
	$(Q)for n in $(BUILDABLE); do $(MAKE) --no-print-directory CHAPTER=$$n KTESTS=0 iso || exit 1; done

# The host tests are built here and run by the grader, one line each.
host-tests-build: $(HOST_TESTS)

check: all-chapters selftest-kernels host-tests-build	## build every chapter and run every test
	$(Q)$(GRADE) --check $(GRADEFLAGS)

lab%-check:			## grade lab N against chapter N's kernel (e.g. make lab1-check)
	$(Q)$(MAKE) --no-print-directory CHAPTER=$(if $(SNAPSHOT),$(NEWEST),$*) iso
	$(Q)$(GRADE) --lab $* $(GRADEFLAGS)

grade: all-chapters		## grade every lab
	$(Q)$(GRADE) --labs $(GRADEFLAGS)

# ---- benchmarks -------------------------------------------------------------

# The floor: a Multiboot2 stub that prints one line, booted through the
# same GRUB ISO path as fern (tests/selftest/tiny.asm, docs/performance.md).
BENCH_RUNS ?= 5

.PHONY: bench
bench: all-chapters served-chapters build/selftest/floor.iso $(if $(SITE_IMAGE),build/selftest/floor-site.iso)	## boot time vs the GRUB floor, sizes, grader time (BENCH_RUNS=N)
	$(Q)$(PYTHON) tools/bench.py --runs $(BENCH_RUNS) $(BENCHFLAGS)

# The heap's allocations per second and fragmentation, measured by the
# kernel itself (test=heap-bench, src/mm/heap_bench.c).
.PHONY: bench-heap
# The workload is test code, so it runs on the chapter image (with KTESTS).
bench-heap:			## the heap's allocations/s and fragmentation in QEMU (BENCH_RUNS=N)
	$(Q)if [ ! -f tools/bench_heap.py ]; then \
		echo "make bench-heap: this tree has no heap yet (chapter 5)" >&2; exit 2; fi
	$(Q)$(MAKE) --no-print-directory CHAPTER=$(CHAPTER) iso
	$(Q)$(PYTHON) tools/bench_heap.py --runs $(BENCH_RUNS) --iso build/ch$(CHAPTER)/fern.iso

# fern's HTTP server against the baseline a reader would pick instead: a
# stock Debian kernel with a busybox initramfs running busybox httpd on the
# same page, both under the same QEMU flags (tools/bench_http.py,
# docs/performance.md). bench-deps downloads the two Debian packages into
# build/bench-http/ with apt-get download (no root, nothing installed) and
# unpacks them; once they are there it does nothing. BENCH_RUNS=N sets the
# boot rounds (default 3 here), BENCH_HTTP_FLAGS passes other options
# (--duration S, --no-memory; see python3 tools/bench_http.py --help).
.PHONY: bench-deps bench-http
bench-deps:			## download and unpack the Linux baseline of make bench-http (build/bench-http/)
	$(Q)if [ ! -f tools/bench_http.py ]; then \
		echo "make bench-deps: this tree has no HTTP server yet (chapter 8)" >&2; exit 2; fi
	$(Q)$(PYTHON) tools/bench_http.py --prepare

# It measures the served image, build/fern.iso, of a tree with chapter 8;
# the checks come before anything is downloaded or built.
bench-http:			## fern's HTTP against a Linux guest: boot, req/s, p99, memory, size (BENCH_RUNS=N)
	$(Q)if [ -z "$(SITE_IMAGE)" ]; then \
		echo "make bench-http: chapter $(CHAPTER) has no HTTP server (chapter 8 has)" >&2; exit 2; fi
	$(Q)if [ "$(BUILD)" != build ]; then \
		echo "make bench-http: it measures the served image build/fern.iso; leave out CHAPTER= and KTESTS=" >&2; exit 2; fi
	$(Q)$(MAKE) --no-print-directory bench-deps iso build/selftest/floor.iso
	$(Q)$(PYTHON) tools/bench_http.py $(if $(filter command line environment,$(origin \
		BENCH_RUNS)),--runs $(BENCH_RUNS)) $(BENCH_HTTP_FLAGS)

# ---- the course: snapshots, branches, handouts ------------------------------

DERIVE := $(PYTHON) tools/derive.py
.PHONY: snapshot chapter-branches handout lab-start grade-student course-check \
	autograder grade-all ci-grade check-grading
snapshot:			## write the tree as of CHAPTER=N to build/snapshots/ (prints its path)
	$(Q)$(DERIVE) snapshot $(CHAPTER)

chapter-branches:		## make or update the git branches chapter-01-boot, chapter-02-...
	$(Q)$(DERIVE) branches

handout:			## write a student repository (LAB=N: lab N and later stubbed, earlier solved)
	$(Q)$(DERIVE) handout $(if $(LAB),--lab $(LAB))

lab-start:			## stub lab N in place on a new branch labN-start (make lab-start N=3)
	$(Q)$(if $(N),$(DERIVE) lab-start $(N),echo "usage: make lab-start N=<lab number>" >&2; exit 2)

grade-student:			## grade a student's tree with the official tests (STUDENT=dir LAB=N)
	$(Q)tools/grade-student.sh "$(STUDENT)" "$(LAB)" $(GRADEFLAGS)

# Grading a class (docs/instructors.md, "Grading a whole class").
autograder:			## write a Gradescope autograder zip for lab LAB=N (build/autograder-labN.zip)
	$(Q)$(if $(LAB),,echo "error: say which lab: make autograder LAB=N" >&2; exit 2;) \
		$(PYTHON) tools/autograder.py build --lab $(LAB)

JOBS ?=
grade-all:			## grade every student of ROSTER=dir for LAB=N into grades.csv (JOBS=k)
	$(Q)$(if $(and $(ROSTER),$(LAB)),,echo "error: make grade-all ROSTER=dir LAB=N [JOBS=k]" >&2; exit 2;) \
		$(PYTHON) tools/grade_all.py "$(ROSTER)" $(LAB) $(if $(JOBS),--jobs $(JOBS)) $(GRADEFLAGS)

check-grading:			## the class-grading self-tests: autograder zip, grade-all, ci-grade (in .ci/run)
	$(Q)$(GRADE) --grading $(GRADEFLAGS)

# The served image under attack, load and soak (tests/hardening.py,
# docs/security.md): a few minutes, so .ci/run runs it, not make check.
# FERN_SOAK_SECONDS and FERN_SOAK_CONNECTIONS size the wrk soak.
.PHONY: hardening
hardening:			## the served image under attack, slow clients and a wrk soak (in .ci/run)
	$(Q)if [ -z "$(SITE_IMAGE)" ]; then \
		echo "make hardening: chapter $(CHAPTER) has no HTTP server (chapter 8 has)" >&2; exit 2; fi
	$(Q)$(MAKE) --no-print-directory iso
	$(Q)$(GRADE) --hardening $(GRADEFLAGS)

ci-grade:			## what the GitHub workflow runs: grade every lab (or LAB=N), summary for GitHub
	$(Q)LAB="$(LAB)" GRADEFLAGS="$(GRADEFLAGS)" $(PYTHON) tools/ci_grade.py

course-check:			## prove every snapshot passes, the handout fails cleanly, solutions score full
	$(Q)tools/course-check.sh

.PHONY: check-docs
check-docs:			## check the posts, labs and docs against the code: snippets, commands, links, run/debug
	$(Q)$(MAKE) --no-print-directory CHAPTER=1 iso
	$(Q)$(MAKE) --no-print-directory iso
	$(Q)$(PYTHON) tools/check_docs.py --selftest --run --outputs

# ---- everything else --------------------------------------------------------

.PHONY: deps doctor docs clean help
deps:				## install the build and test tools (Debian/Ubuntu; uses sudo if needed)
	$(Q)tools/deps.sh

doctor:				## check every tool and say which package provides what is missing
	$(Q)tools/doctor.sh

docs:				## Doxygen HTML of include/ in build/docs (warnings are errors)
	$(Q)mkdir -p build/docs
	$(Q)doxygen docs/Doxyfile

clean:				## remove build/
	rm -rf build

help:				## list the targets
	@grep -hE '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16
