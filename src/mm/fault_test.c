/*
 * Page faults raised on purpose, one suite each, run only when named
 * (test=write-text, ...): each breaks one rule of the kernel's page
 * tables, and the run ends with the exception report, which the harness
 * checks against what the case announced: the error code, CR2, and the
 * region mm_explain_address() names.
 *
 * The addresses come from the time-stamp counter where they can, so that
 * they change from boot to boot and a report cannot be printed by heart.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/ktest.h>
#include <fern/mm.h>
#include <fern/x86.h>

extern char __text_start[], __rodata_start[], __data_start[];

/* One `ret` instruction, in .data: writable, so never executable. */
static uint8_t ret_in_data[16] = { 0xc3 };

/* A number that changes from boot to boot. */
static uint64_t boot_random(void)
{
	return rdtsc() * 0x9e3779b97f4a7c15UL >> 16;
}

/*
 * Whether the fault can be raised and reported: without an IDT (see the
 * boot's 'interrupts:' line) it would reset the machine, and on the boot
 * page tables (@need_remap) every page is writable and executable, so the
 * write would land and the jump would run.
 */
static bool ready_to_fault(struct ktest_ctx *ktest, bool need_remap)
{
	if (!idt_loaded()) {
		kprintf("# the IDT is not loaded (see the 'interrupts:' line of the boot), "
			"so the fault would reset the machine\n");
		KTEST_EXPECT(idt_loaded());
		return false;
	}
	if (need_remap && !mm_remapped()) {
		kprintf("# the kernel runs on the boot page tables, which allow everything "
			"(see the 'mm:' lines of the boot)\n");
		KTEST_EXPECT(mm_remapped());
		return false;
	}
	return true;
}

__attribute__((noinline)) static void write_to(volatile uint8_t *p)
{
	*p = 0xcc;
}

__attribute__((noinline)) static void call_at(const void *code)
{
	((void (*)(void))code)();
}

__attribute__((noinline)) static uint64_t read_from(const volatile uint64_t *p)
{
	return *p;
}

KTEST_EXPLICIT(write-text, "a write to kernel text is a protection fault there")
{
	uintptr_t addr = (uintptr_t)__text_start +
			 boot_random() % (uintptr_t)(__rodata_start - __text_start);

	if (!ready_to_fault(ktest, true))
		return;
	ktest_checkpoint("write-text: writing to 0x%016lx in kernel text", addr);
	write_to((volatile uint8_t *)addr);
	KTEST_EXPECT(!"the write to kernel text went on");
}

KTEST_EXPLICIT(write-rodata, "a write to read-only data is a protection fault there")
{
	uintptr_t addr = (uintptr_t)__rodata_start +
			 boot_random() % (uintptr_t)(__data_start - __rodata_start);

	if (!ready_to_fault(ktest, true))
		return;
	ktest_checkpoint("write-rodata: writing to 0x%016lx in kernel rodata", addr);
	write_to((volatile uint8_t *)addr);
	KTEST_EXPECT(!"the write to rodata went on");
}

KTEST_EXPLICIT(exec-data, "a jump into kernel data is an instruction-fetch fault")
{
	if (!ready_to_fault(ktest, true))
		return;
	ktest_checkpoint("exec-data: calling 0x%016lx in kernel data",
			 (uintptr_t)ret_in_data);
	call_at(ret_in_data);
	KTEST_EXPECT(!"the code in .data ran");
}

/*
 * The heap of chapter 5 will hand out memory from frames like this one;
 * here the frame is reached through the direct map, which is never
 * executable either.
 */
KTEST_EXPLICIT(exec-frame, "a jump into an allocated frame is an instruction-fetch fault")
{
	uint64_t frame = pmm_alloc();
	uint8_t *code;

	if (!ready_to_fault(ktest, true))
		return;
	KTEST_ASSERT(frame != 0);
	code = (uint8_t *)phys_to_virt(frame) + (boot_random() % 256) * 16;
	*code = 0xc3;
	ktest_checkpoint("exec-frame: calling 0x%016lx in a frame of the direct map",
			 (uintptr_t)code);
	call_at(code);
	KTEST_EXPECT(!"the code in the frame ran");
}

KTEST_EXPLICIT(null-pointer, "a read through a NULL pointer faults on the NULL page")
{
	/* A field of a struct at NULL: somewhere in the first page. */
	uintptr_t addr = boot_random() % PAGE_SIZE & ~7UL;

	if (!ready_to_fault(ktest, true))
		return;
	ktest_checkpoint("null-pointer: reading 0x%016lx through a NULL pointer", addr);
	read_from((const volatile uint64_t *)addr);
	KTEST_EXPECT(!"the read through NULL went on");
}
