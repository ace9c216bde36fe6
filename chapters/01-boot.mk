# Chapter 1 — boot: from GRUB's Multiboot2 hand-off to 64-bit C.
#
# A chapter manifest names what the chapter adds; it never holds code. The
# Makefile builds chapter N from the sources of manifests 1..N, the grader
# runs the tests files listed here, and the snapshot tool copies exactly
# these files. Sources compile with -DFERN_CHAPTER=N, and code added inside
# an existing file is fenced with `#if FERN_CHAPTER >= M`. Keys: srcs (built
# into the kernel), tests (Python test files, host tests), files (anything
# else only this chapter on needs, e.g. a bench script), cflags (compiler
# flags for this chapter and every later one), blog, lab.
CHAPTERS += 1
ch1.slug := boot
ch1.title := Booting: GRUB, Multiboot2 and long mode
ch1.srcs := \
	src/boot/header.asm \
	src/boot/entry.asm \
	src/boot/kmain.c \
	src/boot/multiboot2.c \
	src/boot/fw_cfg.c \
	src/boot/phase.c \
	src/console/serial.c \
	src/console/vga.c \
	src/console/console.c \
	src/lib/string.c \
	src/lib/format.c \
	src/lib/cmdline.c \
	src/lib/exit.c
ch1.tests := tests/ch01_boot.py
ch1.blog := blog/01-boot.md
ch1.lab := labs/lab1
