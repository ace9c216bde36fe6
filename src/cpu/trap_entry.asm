; The entry points of the IDT: one small stub per vector, all made by one
; macro from one table, and the common code that saves what was
; interrupted, calls the C dispatcher and returns with IRETQ.
;
; When an interrupt or exception arrives in 64-bit mode, the CPU aligns RSP
; down to 16 bytes (after switching to an IST stack if the gate names one)
; and pushes SS, RSP, RFLAGS, CS and RIP; for some exceptions it then
; pushes an error code (SDM vol. 3 §6.14.2). Each stub evens this out, so
; that every vector leaves the same struct trap_frame (include/fern/cpu.h):
; a stub whose vector has no error code pushes TRAP_NO_ERROR_CODE in its
; place, and every stub then pushes its vector number.
;
; The handlers run with interrupts off: every gate is an interrupt gate,
; which clears RFLAGS.IF on entry, and IRETQ restores the interrupted
; RFLAGS, IF included. So nothing here needs cli or sti.

; The one table is TRAP_ERROR_CODE_VECTORS in include/fern/cpu.h: bit n
; is set if the CPU pushes an error code for vector n. It, IDT_ENTRIES and
; TRAP_NO_ERROR_CODE come from there: the build generates cpu.inc, their
; NASM copy, from the header.
%include "cpu.inc"

; Offset of the interrupted RIP in the trap frame, once all 15 general
; registers are saved: 15 registers, the vector, the error code.
FRAME_RIP       equ (15 + 2) * 8

extern trap_dispatch

section .text

; trap_stub N: the entry point of vector N.
%macro trap_stub 1
trap_stub_%1:
%if ((TRAP_ERROR_CODE_VECTORS >> %1) & 1) == 0
	push TRAP_NO_ERROR_CODE
%endif
	push %1
	jmp trap_common
%endmacro

%assign vector 0
%rep IDT_ENTRIES
	trap_stub %[vector]
%assign vector vector + 1
%endrep

; The code every stub jumps to. Save the general registers, in the order
; struct trap_frame lists them from its end, so that RSP then points at
; the frame's first field, r15.
trap_common:
	push rax
	push rbx
	push rcx
	push rdx
	push rsi
	push rdi
	push rbp
	push r8
	push r9
	push r10
	push r11
	push r12
	push r13
	push r14
	push r15

	; A stack frame as a CALL from the interrupted instruction would
	; have made it: its RIP as the return address, then RBP. A backtrace
	; taken inside a handler (panic's) then walks from the handler on
	; into the code that was interrupted.
	push qword [rsp + FRAME_RIP]
	push rbp
	mov rbp, rsp

	; C code may assume the direction flag is clear (System V ABI §3.2.1);
	; the interrupted code may have set it. IRETQ restores it.
	cld
	lea rdi, [rsp + 16]             ; trap_dispatch(struct trap_frame *)
	; RSP is 16-byte aligned here, as the ABI wants at a CALL: the CPU
	; aligned it, then 24 words were pushed.
	call trap_dispatch
	add rsp, 16                     ; the backtrace frame

	pop r15
	pop r14
	pop r13
	pop r12
	pop r11
	pop r10
	pop r9
	pop r8
	pop rbp
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rbx
	pop rax
	add rsp, 16                     ; the vector and the error code
	iretq

; The stubs' addresses, by vector, for idt_init() (trap_stubs in cpu.h).
section .rodata
global trap_stubs
align 8
trap_stubs:
%assign vector 0
%rep IDT_ENTRIES
	dq trap_stub_%[vector]
%assign vector vector + 1
%endrep
