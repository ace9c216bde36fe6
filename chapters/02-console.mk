# Chapter 2 — console: a real serial driver and VGA console, kprintf's
# remaining features, panic() with a backtrace, and in-kernel tests.
#
# See 01-boot.mk for what a manifest is. Besides C files, this chapter adds
# src/console/ksyms.awk, the generator of the symbol table that panic()
# prints names from: the Makefile links twice when a chapter lists it.
# The *_test.c files hold the in-kernel tests (KTEST), each beside the code
# it tests.
#
# cflags: compiler flags this chapter and every later one add to the
# kernel's. Chapter 2 turns on the stack protector, now that there is a
# panic() to report a smashed stack with and a symbol table to name the
# function: stack_protector.c has the canary and __stack_chk_fail, which
# every protected function calls, so the flag must not come before it.
# -mstack-protector-guard=global makes the canary a plain variable instead
# of gcc's thread-local %fs:0x28, which a kernel without TLS does not have.
CHAPTERS += 2
ch2.slug := console
ch2.title := The console: serial, VGA, panic and in-kernel tests
ch2.srcs := \
	src/console/readline.c \
	src/console/panic.c \
	src/console/stack_protector.c \
	src/console/ksyms.awk \
	src/console/ktest.c \
	src/console/shell.c \
	src/lib/string_test.c \
	src/lib/format_test.c \
	src/lib/cmdline_test.c \
	src/boot/multiboot2_test.c \
	src/console/vga_test.c \
	src/console/serial_test.c \
	src/console/panic_test.c \
	src/console/stack_protector_test.c
ch2.cflags := -fstack-protector-strong -mstack-protector-guard=global
ch2.tests := tests/ch02_console.py
ch2.blog := blog/02-console.md
ch2.lab := labs/lab2
