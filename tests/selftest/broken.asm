; Deliberately broken kernels for the harness's own tests (the fault
; matrix). Each one boots through GRUB like fern and then misbehaves in one
; way; build with `nasm -f elf64 -D<MODE>` where MODE is one of
; TRIPLE_FAULT, SILENT, FLOOD, HANG.

section .multiboot2 align=8
header:
	dd 0xe85250d6, 0, header_end - header
	dd -(0xe85250d6 + (header_end - header))
	dw 0, 0
	dd 8
header_end:

section .text
bits 32
global _start
_start:
%ifndef SILENT
	mov esi, message
.print:
	lodsb
	test al, al
	jz .printed
	mov dx, 0x3f8
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
	mov dx, 0x3f8
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
	db "selftest: broken kernel starting", 10, "working...", 10, 0
empty_idt:
	dw 0
	dd 0
