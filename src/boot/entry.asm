; fern's first instructions: from GRUB's 32-bit hand-off to 64-bit C.
;
; GRUB leaves the CPU in 32-bit protected mode with paging off, EAX holding
; the Multiboot2 magic and EBX the physical address of the boot information
; (Multiboot2 specification §3.3). Everything else is ours to set up: a
; stack, page tables, long mode (Intel SDM vol. 3 §9.8.5) and a 64-bit GDT.
;
; The kernel is linked in the higher half, at KERNEL_VMA + its physical
; address, but runs at its physical address until paging is on. That is why
; every address this file touches before the far jump is written
; "symbol - KERNEL_VMA": the physical address of a higher-half symbol.
; KERNEL_VMA comes from include/fern/layout.h: the build generates
; layout.inc, its NASM copy, from the header.

%include "layout.inc"
MB2_BOOT_MAGIC  equ 0x36d76289          ; what a Multiboot2 loader puts in EAX

COM1            equ 0x3f8               ; the first serial port's registers:
COM1_THR        equ COM1 + 0            ; transmit holding (DLAB = 0)
COM1_DLL        equ COM1 + 0            ; divisor latch, low byte (DLAB = 1)
COM1_IER        equ COM1 + 1            ; interrupt enable (DLAB = 0)
COM1_DLM        equ COM1 + 1            ; divisor latch, high byte (DLAB = 1)
COM1_LCR        equ COM1 + 3            ; line control
COM1_MCR        equ COM1 + 4            ; modem control
COM1_LSR        equ COM1 + 5            ; line status
LCR_8N1         equ 0x03                ; 8 data bits, no parity, 1 stop bit
LCR_DLAB        equ 0x80                ; divisor latch access bit
MCR_DTR_RTS     equ 0x03                ; the lines a terminal expects; no loopback
LSR_THR_EMPTY   equ 0x20
VGA_TEXT        equ 0xb8000

EFLAGS_ID       equ 1 << 21             ; writable only if CPUID exists
CPUID_EXT_MAX   equ 0x80000000
CPUID_EXT_INFO  equ 0x80000001
CPUID_EDX_LM    equ 1 << 29             ; "Intel 64 architecture available"
CR0_PE          equ 1 << 0
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xc0000080
EFER_LME        equ 1 << 8

PTE_PRESENT     equ 1 << 0
PTE_WRITABLE    equ 1 << 1
PTE_HUGE        equ 1 << 7              ; a 2 MiB page in a page directory

GDT_KERNEL_CODE equ 0x08
GDT_KERNEL_DATA equ 0x10

BOOT_STACK_SIZE equ 16 * 1024

extern kmain
extern __bss_start
extern __bss_end

section .boot.text progbits alloc exec nowrite align=16
bits 32
global _start
_start:
	; Save the loader's two registers before anything can clobber them.
	mov [boot_magic - KERNEL_VMA], eax
	mov [boot_mbi - KERNEL_VMA], ebx
	cli
	cld

	; Zero .bss (the stack, the page tables and C's zero-initialised data).
	mov edi, __bss_start - KERNEL_VMA
	mov ecx, __bss_end - KERNEL_VMA
	sub ecx, edi
	shr ecx, 2
	xor eax, eax
	rep stosd
	mov esp, boot_stack_top - KERNEL_VMA
	call setup_com1

	cmp dword [boot_magic - KERNEL_VMA], MB2_BOOT_MAGIC
	mov esi, msg_no_multiboot
	jne boot_fail

	; CPUID exists if the ID flag in EFLAGS can be flipped.
	pushfd
	pop eax
	mov ecx, eax
	xor eax, EFLAGS_ID
	push eax
	popfd
	pushfd
	pop eax
	push ecx
	popfd
	cmp eax, ecx
	mov esi, msg_no_cpuid
	je boot_fail

	; Long mode is advertised by extended CPUID leaf 0x80000001.
	mov eax, CPUID_EXT_MAX
	cpuid
	cmp eax, CPUID_EXT_INFO
	mov esi, msg_no_long_mode
	jb boot_fail
	mov eax, CPUID_EXT_INFO
	cpuid
	test edx, CPUID_EDX_LM
	jz boot_fail

	call setup_boot_page_tables

	; Long mode needs PAE paging: CR3, then CR4.PAE, then EFER.LME, and
	; finally CR0.PG, which activates IA-32e mode (SDM vol. 3 §9.8.5).
	mov eax, boot_pml4 - KERNEL_VMA
	mov cr3, eax
	mov eax, cr4
	or eax, CR4_PAE
	mov cr4, eax
	mov ecx, MSR_EFER
	rdmsr
	or eax, EFER_LME
	wrmsr
	mov eax, cr0
	or eax, CR0_PG | CR0_PE
	mov cr0, eax

	; We are in compatibility mode; a far jump to a 64-bit code segment
	; finishes the switch.
	lgdt [gdt64_pointer]
	jmp GDT_KERNEL_CODE:long_mode_entry

; Map the first 1 GiB of physical memory twice with 2 MiB pages: at 0
; (identity, so the next instruction after CR0.PG still exists) and at
; KERNEL_VMA (where the C code is linked). The first 2 MiB, where the kernel
; lives, get 4 KiB pages instead, so that the page below the boot stack can
; stay unmapped: a guard page, which turns a stack overflow into a page
; fault instead of silently overwriting what lies below the stack.
; Chapter 4 replaces these tables.
setup_boot_page_tables:
	mov eax, boot_pdpt_low - KERNEL_VMA
	or eax, PTE_PRESENT | PTE_WRITABLE
	mov [boot_pml4 - KERNEL_VMA], eax
	mov eax, boot_pdpt_high - KERNEL_VMA
	or eax, PTE_PRESENT | PTE_WRITABLE
	mov [boot_pml4 - KERNEL_VMA + 511 * 8], eax

	mov eax, boot_pd - KERNEL_VMA
	or eax, PTE_PRESENT | PTE_WRITABLE
	mov [boot_pdpt_low - KERNEL_VMA], eax
	mov [boot_pdpt_high - KERNEL_VMA + 510 * 8], eax

	xor ecx, ecx
.next_2mib:
	mov eax, ecx
	shl eax, 21
	or eax, PTE_PRESENT | PTE_WRITABLE | PTE_HUGE
	mov [boot_pd - KERNEL_VMA + ecx * 8], eax
	inc ecx
	cmp ecx, 512
	jne .next_2mib

	mov eax, boot_pt - KERNEL_VMA
	or eax, PTE_PRESENT | PTE_WRITABLE
	mov [boot_pd - KERNEL_VMA], eax
	xor ecx, ecx
.next_4kib:
	mov eax, ecx
	shl eax, 12
	or eax, PTE_PRESENT | PTE_WRITABLE
	mov [boot_pt - KERNEL_VMA + ecx * 8], eax
	inc ecx
	cmp ecx, 512
	jne .next_4kib
	mov eax, boot_stack_guard - KERNEL_VMA
	shr eax, 12
	mov dword [boot_pt - KERNEL_VMA + eax * 8], 0
	ret

; Program COM1 before the first byte goes out, boot_fail's included: 115200
; baud, 8 data bits, no parity, one stop bit ("8N1"), interrupts off,
; loopback off (PC16550D datasheet §8). Nothing promises that the firmware
; did it: QEMU's UART comes out of reset with 5 data bits at 9600 baud, and
; QEMU ignores both, but a real UART would send every byte cut to 5 bits.
; The baud rate divisor hides behind THR and IER while LCR.DLAB is set.
setup_com1:
	mov dx, COM1_IER
	mov al, 0
	out dx, al
	mov dx, COM1_LCR
	mov al, LCR_DLAB
	out dx, al
	mov dx, COM1_DLL
	mov al, 1                       ; divisor 1: 115200 / 1 baud
	out dx, al
	mov dx, COM1_DLM
	mov al, 0
	out dx, al
	mov dx, COM1_LCR
	mov al, LCR_8N1                 ; and DLAB off again
	out dx, al
	mov dx, COM1_MCR
	mov al, MCR_DTR_RTS
	out dx, al
	ret

; Report a boot failure on COM1 and on the first VGA line, then stop.
; ESI holds the NUL-terminated message. No C, no stack beyond this frame.
boot_fail:
	mov edi, VGA_TEXT
	mov ebx, esi
.next_char:
	mov cl, [ebx]
	test cl, cl
	jz .done
	mov dx, COM1_LSR
.wait_thr:
	in al, dx
	test al, LSR_THR_EMPTY
	jz .wait_thr
	mov dx, COM1_THR
	mov al, cl
	out dx, al
	mov ah, 0x4f                    ; white on red
	mov [edi], ax
	add edi, 2
	inc ebx
	jmp .next_char
.done:
	mov dx, COM1_THR
	mov al, 10
	out dx, al
.halt:
	cli
	hlt
	jmp .halt

bits 64
long_mode_entry:
	mov ax, GDT_KERNEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	xor eax, eax
	mov fs, ax
	mov gs, ax

	; Leave the identity map: stack, GDT and code all move to the higher
	; half, so that chapter 4 can remove the mapping at 0.
	mov rsp, boot_stack_top
	mov rax, gdt64_pointer_high
	lgdt [rax]
	mov rax, boot_magic
	mov edi, [rax]
	mov rax, boot_mbi
	mov esi, [rax]
	xor ebp, ebp                    ; a zero frame pointer ends backtraces
	mov rax, kmain
	call rax
	; kmain never returns; if it did, stop here.
.idle:
	cli
	hlt
	jmp .idle

section .boot.rodata progbits alloc noexec nowrite align=8
; A flat 64-bit GDT: null, kernel code (L=1), kernel data. Chapter 3 builds
; the real one with a TSS.
gdt64:
	dq 0
	dq 0x00209a0000000000           ; present, DPL 0, code, long mode
	dq 0x0000920000000000           ; present, DPL 0, data, writable
gdt64_end:
gdt64_pointer:
	dw gdt64_end - gdt64 - 1
	dd gdt64
	align 8
gdt64_pointer_high:
	dw gdt64_end - gdt64 - 1
	dq gdt64 + KERNEL_VMA

msg_no_multiboot:
	db "fern: boot error: not started by a Multiboot2 loader (bad magic in EAX)", 0
msg_no_cpuid:
	db "fern: boot error: this CPU has no CPUID instruction", 0
msg_no_long_mode:
	db "fern: boot error: this CPU does not support long mode (x86_64)", 0

; The loader's EAX and EBX, kept in .data (not .bss, which is zeroed).
section .data
boot_magic:     dd 0
boot_mbi:       dd 0

section .bss nobits alloc noexec write align=4096
boot_pml4:      resb 4096
boot_pdpt_low:  resb 4096
boot_pdpt_high: resb 4096
boot_pd:        resb 4096
boot_pt:        resb 4096
global boot_stack_guard
global boot_stack_bottom
global boot_stack_top
boot_stack_guard:                       ; never mapped (see above)
	resb 4096
boot_stack_bottom:
	resb BOOT_STACK_SIZE
boot_stack_top:
