; The floor for `make bench`: the least a Multiboot2 kernel can do. GRUB
; loads it exactly as it loads fern (same ISO layout, same grub.cfg), it
; writes one line to COM1 and stops. The time from QEMU's launch to that
; line is what QEMU, the firmware and GRUB cost before any kernel runs;
; tools/bench.py divides each chapter's boot-to-ready time by it.
;
; No stack, no long mode, no checks: whatever fern does beyond this is
; what the ratio measures. Build: nasm -f elf64, ld -n -T floor.ld.

COM1 equ 0x3f8

section .multiboot2 align=8
header:				; Multiboot2 spec §3.1.1: magic, arch (0 = i386),
	dd 0xe85250d6, 0	; length, checksum; then only the end tag
	dd header_end - header
	dd -(0xe85250d6 + (header_end - header))
	dw 0, 0
	dd 8
header_end:

section .text
bits 32
global _start
_start:
	; GRUB left the CPU in 32-bit protected mode; the UART's transmit
	; register is ready without any setup under QEMU.
	mov esi, message
	mov dx, COM1
.print:
	lodsb
	test al, al
	jz .halt
	out dx, al
	jmp .print
.halt:
	cli
	hlt
	jmp .halt

section .rodata
message:
	db "floor: ready", 10, 0
