; The Multiboot2 header: how GRUB recognises fern as a kernel it can load.
;
; GRUB scans the first 32 KiB of the image for this header (Multiboot2
; specification §3.1.1). It must be 8-byte aligned, and so must every tag in
; it. The linker script puts the .multiboot2 section first in the image, and
; `ld -n` stops the linker from padding the file so that it moves away.

MB2_HEADER_MAGIC        equ 0xe85250d6
MB2_ARCH_I386           equ 0           ; "32-bit protected mode of i386"
MB2_TAG_END             equ 0

section .multiboot2 align=8
mb2_header_start:
	dd MB2_HEADER_MAGIC
	dd MB2_ARCH_I386
	dd mb2_header_end - mb2_header_start
	; The four fields above must add up to zero, modulo 2^32.
	dd -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header_start))

	; No optional tags: GRUB loads the ELF segments at their physical
	; addresses and jumps to the ELF entry point, which is all fern needs.
	align 8
	dw MB2_TAG_END
	dw 0
	dd 8
mb2_header_end:
