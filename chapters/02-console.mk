# Chapter 2 — console: a real serial driver and VGA console, kprintf's
# remaining features, panic() with a backtrace, and in-kernel tests.
#
# See 01-boot.mk for what a manifest is. Besides C files, this chapter adds
# src/console/ksyms.awk, the generator of the symbol table that panic()
# prints names from: the Makefile links twice when a chapter lists it.
# The *_test.c files hold the in-kernel tests (KTEST), each beside the code
# it tests.
CHAPTERS += 2
ch2.slug := console
ch2.title := The console: serial, VGA, panic and in-kernel tests
ch2.srcs := \
	src/console/readline.c \
	src/console/panic.c \
	src/console/ksyms.awk \
	src/console/ktest.c \
	src/console/shell.c \
	src/lib/string_test.c \
	src/lib/format_test.c \
	src/lib/cmdline_test.c \
	src/boot/multiboot2_test.c \
	src/console/vga_test.c \
	src/console/serial_test.c \
	src/console/panic_test.c
ch2.tests := tests/ch02_console.py
ch2.blog := blog/02-console.md
ch2.lab := labs/lab2
