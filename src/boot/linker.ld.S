/*
 * fern's memory layout, for the linker.
 *
 * GRUB loads each ELF segment at its physical (load) address. The boot code
 * in .boot runs there, at 1 MiB, before paging. Everything else is linked at
 * KERNEL_VMA + its physical address: the top 2 GiB of the address space,
 * which is what gcc's -mcmodel=kernel expects (KERNEL_VMA, from
 * include/fern/layout.h). Each section starts on a 4 KiB
 * page so that chapter 4 can give it its own protection (W^X).
 */
#include <fern/layout.h>

ENTRY(_start)

/* One loadable segment per kind of access, so no segment is both W and X. */
PHDRS
{
	boot PT_LOAD FLAGS(5);		/* read + execute */
	text PT_LOAD FLAGS(5);		/* read + execute */
	rodata PT_LOAD FLAGS(4);	/* read */
	data PT_LOAD FLAGS(6);		/* read + write */
#if FERN_CHAPTER >= 2
	ksyms PT_LOAD FLAGS(4);		/* read */
#endif
}

SECTIONS
{
	. = 1M;
	__kernel_phys_start = .;

	.boot : {
		KEEP(*(.multiboot2))
		*(.boot.text)
		*(.boot.rodata)
		__boot_end = .;
	} :boot

	. = ALIGN(4K);
	. += KERNEL_VMA;

	.text : AT(ADDR(.text) - KERNEL_VMA) {
		__text_start = .;
		*(.text .text.*)
		__text_end = .;
	} :text

	. = ALIGN(4K);
	.rodata : AT(ADDR(.rodata) - KERNEL_VMA) {
		__rodata_start = .;
		*(.rodata .rodata.*)
		/*
		 * The init calls of INITCALL() (init.h), which kmain runs by
		 * level: each chapter adds its own by declaring it.
		 */
		. = ALIGN(8);
		__initcalls_start = .;
		KEEP(*(.initcalls))
		__initcalls_end = .;
		/*
		 * The kernel's stacks, declared by their owners with
		 * KERNEL_STACK() (layout.h).
		 */
		. = ALIGN(8);
		__kstacks_start = .;
		KEEP(*(.kstacks))
		__kstacks_end = .;
#if FERN_CHAPTER >= 2
		/*
		 * Tables that code adds to by declaration: the tests of
		 * KTEST() (ktest.h) and the shell commands of KCMD()
		 * (shell.h). The start and end symbols make each an array.
		 */
		. = ALIGN(8);
		__ktests_start = .;
		KEEP(*(.ktests))
		__ktests_end = .;
		. = ALIGN(8);
		__kcmds_start = .;
		KEEP(*(.kcmds))
		__kcmds_end = .;
		/*
		 * The tables of table.h, which later chapters declare
		 * without editing this script: each table's start marker,
		 * entries and end marker sort into one array by name.
		 */
		. = ALIGN(8);
		KEEP(*(SORT_BY_NAME(.table.*)))
#endif
		__rodata_end = .;
	} :rodata

	. = ALIGN(4K);
	.data : AT(ADDR(.data) - KERNEL_VMA) {
		__data_start = .;
		*(.data .data.*)
	} :data

	. = ALIGN(4K);
	.bss : AT(ADDR(.bss) - KERNEL_VMA) {
		__bss_start = .;
		*(COMMON)
		*(.bss .bss.*)
		. = ALIGN(16);
		__bss_end = .;
	} :data
#if FERN_CHAPTER >= 2

	/*
	 * The symbol table panic() names functions with. The build makes it
	 * from the linked kernel and then links again (see the Makefile).
	 * Placed last, it can grow between the two links without moving any
	 * code or data.
	 */
	. = ALIGN(4K);
	.ksyms : AT(ADDR(.ksyms) - KERNEL_VMA) {
		KEEP(*(.ksyms))
	} :ksyms
#endif

	__kernel_end = .;
	/* entry.asm maps the first 2 MiB with 4 KiB pages to leave a guard page. */
	ASSERT(boot_stack_guard - KERNEL_VMA < 2M, "the boot stack must lie in the first 2 MiB")
	__kernel_phys_end = . - KERNEL_VMA;

	/DISCARD/ : {
		*(.note*)
		*(.comment)
		*(.eh_frame*)
	}
}
