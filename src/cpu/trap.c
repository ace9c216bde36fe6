/*
 * trap_dispatch(): where every interrupt and exception arrives in C, and
 * the reports that exceptions print.
 *
 * An exception means the CPU could not go on with an instruction: a
 * division by zero, an opcode that does not exist, an access to memory
 * that is not mapped. fern cannot fix any of those yet (chapter 4 will
 * handle some page faults), so it says as clearly as it can what happened
 * and where, and stops: the vector's name, the error code decoded, the
 * instruction with the function it is in, the registers, a backtrace.
 * int3 is the exception that exists to be raised on purpose: it is
 * reported and the interrupted code goes on.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/exit.h>
#include <fern/x86.h>

/* The exceptions of SDM vol. 3 §6.15, Table 6-1 (28-30 are AMD's). */
static const struct {
	const char *mnemonic;
	const char *name;
} exceptions[NR_EXCEPTIONS] = {
	[0] = { "#DE", "divide error" },
	[1] = { "#DB", "debug exception" },
	[2] = { "NMI", "non-maskable interrupt" },
	[3] = { "#BP", "breakpoint" },
	[4] = { "#OF", "overflow" },
	[5] = { "#BR", "BOUND range exceeded" },
	[6] = { "#UD", "invalid opcode" },
	[7] = { "#NM", "device not available" },
	[8] = { "#DF", "double fault" },
	[9] = { "", "coprocessor segment overrun" },
	[10] = { "#TS", "invalid TSS" },
	[11] = { "#NP", "segment not present" },
	[12] = { "#SS", "stack-segment fault" },
	[13] = { "#GP", "general protection fault" },
	[14] = { "#PF", "page fault" },
	[16] = { "#MF", "x87 floating-point error" },
	[17] = { "#AC", "alignment check" },
	[18] = { "#MC", "machine check" },
	[19] = { "#XM", "SIMD floating-point exception" },
	[20] = { "#VE", "virtualization exception" },
	[21] = { "#CP", "control protection exception" },
	[28] = { "#HV", "hypervisor injection exception" },
	[29] = { "#VC", "VMM communication exception" },
	[30] = { "#SX", "security exception" },
};

/* A page fault's error code (SDM vol. 3 §4.7, Figure 4-12). */
#define PF_P		(1 << 0)	/* 0: page not present; 1: protection */
#define PF_W		(1 << 1)	/* the access was a write */
#define PF_U		(1 << 2)	/* the access was made in user mode */
#define PF_RSVD		(1 << 3)	/* a paging entry had a reserved bit set */
#define PF_I		(1 << 4)	/* the access was an instruction fetch */
#define PF_PK		(1 << 5)	/* a protection key forbade it */
#define PF_SS		(1 << 6)	/* a shadow-stack access */

/*
 * The error code of #TS, #NP, #SS and #GP names the selector or gate that
 * caused the fault (SDM vol. 3 §6.13, Figure 6-7): the selector's index
 * and table bit, with two bits of its own in place of the RPL.
 */
#define ERR_EXT		(1 << 0)	/* caused by an event outside the program */
#define ERR_IDT		(1 << 1)	/* the index is an IDT vector */
#define ERR_TI		(1 << 2)	/* (not IDT) 0: GDT, 1: LDT */
#define ERR_INDEX_SHIFT	3

static unsigned long breakpoints;
#if FERN_CHAPTER >= 4
static void (*explain_address)(uintptr_t addr);

void exception_set_address_explainer(void (*fn)(uintptr_t addr))
{
	explain_address = fn;
}
#endif

const char *exception_mnemonic(unsigned int vector)
{
	if (vector >= NR_EXCEPTIONS || !exceptions[vector].mnemonic)
		return "";
	return exceptions[vector].mnemonic;
}

const char *exception_name(unsigned int vector)
{
	if (vector >= NR_EXCEPTIONS || !exceptions[vector].name)
		return "reserved";
	return exceptions[vector].name;
}

unsigned long breakpoint_count(void)
{
	return breakpoints;
}

/* "0x<addr> <function>+0x<offset>", or "0x<addr> ??" outside the code. */
static void print_code_address(uintptr_t addr)
{
	if (!ksym_print(addr, KSYM_INSTRUCTION))
		kprintf(" ?? (not in the kernel's code)");
	kprintf("\n");
}

static void print_error_code(const struct trap_frame *f)
{
	uint64_t e = f->error_code;

	kprintf("  error code: 0x%lx", e);
	switch (f->vector) {
	case VEC_PAGE_FAULT:
		kprintf(" (%s, %s, %s mode%s%s%s%s)\n",
			e & PF_P ? "protection violation" : "not-present page",
			e & PF_W ? "write" : "read",
			e & PF_U ? "user" : "kernel",
			e & PF_I ? ", instruction fetch" : "",
			e & PF_RSVD ? ", reserved bit set" : "",
			e & PF_PK ? ", protection key" : "",
			e & PF_SS ? ", shadow stack" : "");
		break;
	case VEC_INVALID_TSS:
	case VEC_SEGMENT_NOT_PRESENT:
	case VEC_STACK_FAULT:
	case VEC_GENERAL_PROTECTION:
		if (e == 0)
			kprintf(" (no selector: the fault is not about a segment)\n");
		else if (e & ERR_IDT)
			kprintf(" (IDT vector %lu, external %lu)\n",
				e >> ERR_INDEX_SHIFT, e & ERR_EXT);
		else
			kprintf(" (selector 0x%lx: %s index %lu, external %lu)\n",
				e & ~3UL, e & ERR_TI ? "LDT" : "GDT",
				e >> ERR_INDEX_SHIFT, e & ERR_EXT);
		break;
	default:
		kprintf("\n");
		break;
	}
}

/*
 * #DF and NMI run on their IST stacks. Say whether this one did: the frame
 * lies on the stack the handler runs on. And check its canary.
 */
static void print_ist_stack(const struct trap_frame *f)
{
	unsigned int ist = f->vector == VEC_DOUBLE_FAULT ? IST_DOUBLE_FAULT : IST_NMI;
	uintptr_t bottom, top, here = (uintptr_t)f;

	ist_stack_bounds(ist, &bottom, &top);
	if (here >= bottom && here < top)
		kprintf("  stack: the handler runs on the IST%u stack 0x%lx-0x%lx, canary %s\n",
			ist, bottom, top,
			ist_stack_intact(ist) ? "intact" : "OVERWRITTEN (it overflowed)");
	else
		kprintf("  stack: the handler runs at 0x%lx, NOT on its IST%u stack 0x%lx-0x%lx\n",
			here, ist, bottom, top);
}

static void print_registers(const struct trap_frame *f)
{
	kprintf("  rax=0x%016lx rbx=0x%016lx rcx=0x%016lx rdx=0x%016lx\n",
		f->rax, f->rbx, f->rcx, f->rdx);
	kprintf("  rsi=0x%016lx rdi=0x%016lx rbp=0x%016lx r8=0x%016lx\n",
		f->rsi, f->rdi, f->rbp, f->r8);
	kprintf("  r9=0x%016lx r10=0x%016lx r11=0x%016lx r12=0x%016lx\n",
		f->r9, f->r10, f->r11, f->r12);
	kprintf("  r13=0x%016lx r14=0x%016lx r15=0x%016lx\n",
		f->r13, f->r14, f->r15);
}

/*
 * Report an exception and end the run with the failure status. If the
 * report itself faults (a bug in the console, say), a second report would
 * fault again, and so on until the stack runs out: the second time, say
 * so in the fewest instructions possible and stop.
 */
void exception_report(const struct trap_frame *f)
{
	static struct fatal_guard guard = {
		.again = "exception: another exception while reporting one; stopping\n",
	};
	unsigned int vector = (unsigned int)f->vector;
	const char *mnemonic = exception_mnemonic(vector);

	fatal_guard_enter(&guard);
	vga_set_color(VGA_LIGHT_RED, VGA_BLACK);
	kprintf("exception: %s%s%s (vector %u)\n", mnemonic, *mnemonic ? " " : "",
		exception_name(vector), vector);
	if (f->error_code != TRAP_NO_ERROR_CODE)
		print_error_code(f);
	kprintf("  rip: ");
	print_code_address(f->rip);
	kprintf("  rsp: 0x%016lx rflags: 0x%lx cs: 0x%lx ss: 0x%lx\n",
		f->rsp, f->rflags, f->cs, f->ss);
	if (vector == VEC_PAGE_FAULT || vector == VEC_DOUBLE_FAULT) {
		uint64_t cr2 = read_cr2();

		kprintf("  cr2: 0x%016lx (%s)\n", cr2, vector == VEC_PAGE_FAULT ?
			"the address the access tried" : "from the last page fault");
#if FERN_CHAPTER >= 4
		if (explain_address)
			explain_address(cr2);
#endif
		/*
		 * A stack overflow faults on the page below the stack, right
		 * under RSP. On the same stack the CPU cannot even push the
		 * page fault's frame: that is what makes it a double fault.
		 */
		if (cr2 < f->rsp + 4096 && cr2 + 4096 > f->rsp)
			kprintf("  note: cr2 is within a page of rsp: the stack overflowed into an unmapped page\n");
	}
	if (vector == VEC_DOUBLE_FAULT || vector == VEC_NMI)
		print_ist_stack(f);
	print_registers(f);
	kprintf("  backtrace:\n");
	backtrace_print(f->rbp);
	machine_exit(false);
}

/*
 * int3 is a trap, not a fault: the saved RIP is the next instruction, so
 * returning resumes after it. The int3 itself is the byte before.
 */
void breakpoint_report(const struct trap_frame *f)
{
	breakpoints++;
	kprintf("breakpoint at ");
	ksym_print(f->rip - 1, KSYM_INSTRUCTION);
	kprintf("; resuming\n");
}

/*
 * The dispatcher's last resort: a vector that nothing routes. An IRQ line
 * that nobody handles is masked and acknowledged, so that a device which
 * keeps asking cannot stop the kernel; any other vector is fatal.
 */
static void trap_unclaimed(const struct trap_frame *f)
{
	uint64_t vector = f->vector;

	if (vector >= IRQ_VECTOR_BASE && vector < IRQ_VECTOR_BASE + NR_IRQS) {
		unsigned int irq = (unsigned int)(vector - IRQ_VECTOR_BASE);

		kprintf("trap: IRQ %u (vector %lu) reached trap_dispatch(), but nothing routes it; masking the line\n",
			irq, vector);
		irq_mask(irq);
		irq_eoi(irq);
		return;
	}
	kprintf("trap: vector %lu (%s) reached trap_dispatch(), but nothing routes it; stopping\n",
		vector, exception_name((unsigned int)vector));
	kprintf("  rip: ");
	print_code_address(f->rip);
	machine_exit(false);
}

void trap_dispatch(struct trap_frame *frame)
{
	uint64_t vector = frame->vector;

	/* LAB 3 BEGIN: route by vector: #BP to breakpoint_report() and return; other exceptions to exception_report(); IRQ vectors to irq_dispatch() with the IRQ number, and return */
	if (vector == VEC_BREAKPOINT) {
		breakpoint_report(frame);
		return;
	}
	if (vector < NR_EXCEPTIONS)
		exception_report(frame);
	if (vector >= IRQ_VECTOR_BASE && vector < IRQ_VECTOR_BASE + NR_IRQS) {
		irq_dispatch((unsigned int)(vector - IRQ_VECTOR_BASE));
		return;
	}
	/* LAB 3 STUB: (void)vector; */
	/* LAB 3 END */
	trap_unclaimed(frame);
}
