; Tiny Multiboot2 kernels, each built with `nasm -f elf64 -D<MODE>` and
; booted through GRUB exactly like fern (same ISO layout, same grub.cfg):
;
; FLOOR         the least a kernel can do: one line on COM1, then halt.
;               `make bench` divides each chapter's boot time by its boot
;               time: what QEMU, the firmware and GRUB cost before any
;               kernel runs (docs/performance.md).
; TRIPLE_FAULT, SILENT, FLOOD, HANG
;               deliberately broken kernels for the harness's fault matrix
;               (tests/harness_selftest.py).
;
; No stack, no long mode, no checks: 32-bit code at 1 MiB (tiny.ld).

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
%ifndef SILENT
	; GRUB left the CPU in 32-bit protected mode; the UART's transmit
	; register is ready without any setup under QEMU.
	mov esi, message
	mov dx, COM1
.print:
	lodsb
	test al, al
	jz .printed
	out dx, al
	jmp .print
.printed:
%endif
%ifdef TRIPLE_FAULT
	; An IDT with limit 0: the breakpoint cannot be delivered (#GP), nor
	; can the #GP (#DF), nor the #DF: the CPU resets.
	lidt [empty_idt]
	int3
%endif
%ifdef FLOOD
.flood:
	mov al, 'x'
	out dx, al
	jmp .flood
%endif
.halt:
	cli
	hlt
	jmp .halt

section .rodata
message:
%ifdef FLOOR
	db "floor: ready", 10, 0
%else
	db "selftest: broken kernel starting", 10, "working...", 10, 0
%endif
empty_idt:
	dw 0
	dd 0
