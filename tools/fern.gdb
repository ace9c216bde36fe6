# gdb commands for debugging fern in QEMU. `make debug` starts QEMU paused
# with its gdb server on localhost:1234 (-s -S), then runs
#
#   gdb -q -x tools/fern.gdb build/fern.elf      (build/chN/fern.elf with CHAPTER=N)
#
# docs/debugging.md is the guide: breakpoints, stepping, reading memory.
#
# The classic trap: the ELF file is 64-bit, but the first instructions are
# not. GRUB jumps to _start (src/boot/entry.asm) in 32-bit protected mode,
# with paging off, at physical addresses around 1 MiB. Only after the far
# jump to long_mode_entry does the CPU run 64-bit code, and only then is
# the kernel's higher-half address space (0xffffffff80000000 and up, where
# kmain and all C code are linked) mapped.
#
# - Break in the C code with a hardware breakpoint: `hbreak kmain`. It uses
#   the CPU's debug registers and fires whenever that virtual address runs,
#   however early it was set. A software breakpoint (`break`) is an int3
#   byte written into memory; set before paging is on, it is written at the
#   wrong address (or cannot be written at all), so it never fires. Under
#   QEMU's TCG, which fern always uses, QEMU keeps software breakpoints
#   itself and `break kmain` happens to work as well; with KVM or on real
#   hardware it does not. Once the kernel runs in long mode (stopped in
#   kmain, say), `break` works everywhere.
# - gdb decodes the 32-bit boot code as 64-bit code: `x/i $pc` at _start
#   shows nonsense. Read that code in the source (`list`, and `si` steps
#   one instruction), or disassemble it for 32-bit mode outside gdb:
#     objdump -d -M i386,intel -j .boot build/fern.elf

set architecture i386:x86-64
# The boot code is written in NASM's Intel syntax; show it the same way.
set disassembly-flavor intel
target remote localhost:1234

echo \n
echo fern: QEMU is paused before the first BIOS instruction. Try:\n
echo \ \ hbreak kmain      stop in the first C function\n
echo \ \ continue          run to it (Ctrl-C stops the kernel again)\n
echo \ \ next / step / si  a C line / into a call / one instruction\n
echo \ \ bt, info registers, p/x VAR, x/8gx ADDR\n
echo \ \ quit              leave gdb; make debug then stops QEMU\n
echo \n
