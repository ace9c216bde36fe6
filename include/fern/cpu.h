/**
 * @file cpu.h
 * @brief The CPU's own tables and the interrupt machinery: the GDT and the
 *        TSS, the IDT and its exception reports, the 8259 interrupt
 *        controller (PIC), the 8254 timer (PIT), and the table of IRQ
 *        handlers that drivers register with.
 *
 * An x86 CPU numbers the events that can interrupt it from 0 to 255 and
 * looks each one up in the IDT. fern uses the first 48 vectors:
 *
 * | vectors | what                                               |
 * |---------|----------------------------------------------------|
 * | 0-31    | exceptions, raised by the CPU (SDM vol. 3 §6.15)   |
 * | 32-47   | IRQ 0-15 from the two PICs, remapped here (IRQ_VECTOR_BASE) |
 *
 * Every vector enters through a stub in src/cpu/trap_entry.asm, which
 * saves the interrupted registers as a struct trap_frame and calls
 * trap_dispatch(). Exceptions are reported and end the run, except int3,
 * which reports and resumes; IRQs go to the handler a driver registered
 * with irq_register().
 */
#ifndef FERN_CPU_H
#define FERN_CPU_H

#include <stdbool.h>
#include <stdint.h>

/** @name Segment selectors: byte offsets of fern's GDT entries
 * The boot GDT (src/boot/entry.asm) uses the same two first selectors, so
 * nothing changes for running code when gdt_init() replaces it. @{ */
#define GDT_KERNEL_CODE	0x08	/**< 64-bit ring-0 code segment */
#define GDT_KERNEL_DATA	0x10	/**< ring-0 data segment */
#define GDT_TSS		0x18	/**< the TSS; its descriptor takes two entries */
#define GDT_ENTRIES	5	/**< null, code, data, TSS (2) */
/** @} */

/** @name Interrupt Stack Table slots (SDM vol. 3 §6.14.5)
 * An IDT gate with a non-zero IST index makes the CPU switch to that stack
 * from the TSS before it pushes anything: the way to run a handler when the
 * current stack cannot be trusted, as in a double fault after a stack
 * overflow. @{ */
#define IST_DOUBLE_FAULT	1	/**< \#DF runs on IST1 */
#define IST_NMI			2	/**< NMIs run on IST2 */
#define IST_STACKS		2	/**< IST slots fern fills */
#define IST_STACK_SIZE		(8 * 1024)	/**< bytes in each IST stack */
/** @} */

/**
 * The 64-bit Task State Segment (SDM vol. 3 §7.7, Figure 7-11). In long
 * mode it no longer describes a task: it only holds stack pointers, the
 * ones the CPU loads on a privilege change (RSP0-2) and the seven IST
 * stacks.
 */
struct tss {
	uint32_t reserved0;		/**< must be 0 */
	uint64_t rsp[3];		/**< stacks for rings 0-2 */
	uint64_t reserved1;		/**< must be 0 */
	uint64_t ist[7];		/**< IST1..IST7 (ist[0] is IST1) */
	uint64_t reserved2;		/**< must be 0 */
	uint16_t reserved3;		/**< must be 0 */
	uint16_t iomap_base;		/**< offset of the I/O permission map */
} __attribute__((packed));

/** What LGDT/LIDT load and SGDT/SIDT store (SDM vol. 3 §2.4.1). */
struct descriptor_register {
	uint16_t limit;			/**< size of the table in bytes, minus 1 */
	uint64_t base;			/**< linear address of the table */
} __attribute__((packed));

/** Read GDTR (SGDT). */
static inline struct descriptor_register read_gdtr(void)
{
	struct descriptor_register r;

	__asm__ volatile("sgdt %0" : "=m"(r));
	return r;
}

/** Read IDTR (SIDT). */
static inline struct descriptor_register read_idtr(void)
{
	struct descriptor_register r;

	__asm__ volatile("sidt %0" : "=m"(r));
	return r;
}

/** Read the task register's selector (STR). */
static inline uint16_t read_tr(void)
{
	uint16_t sel;

	__asm__ volatile("str %0" : "=r"(sel));
	return sel;
}

/**
 * Install fern's GDT (kernel code, kernel data, a TSS with IST stacks for
 * double faults and NMIs), reload every segment register from it, and
 * load the task register. Call once, before idt_init().
 */
void gdt_init(void);

/**
 * The bounds of IST stack @p ist (1..IST_STACKS): its lowest byte in
 * @p *bottom and the address just past its highest, which the TSS holds,
 * in @p *top.
 */
void ist_stack_bounds(unsigned int ist, uintptr_t *bottom, uintptr_t *top);

/**
 * Whether the canary below IST stack @p ist is intact. The words just
 * below each IST stack hold a known pattern: a handler that overflowed its
 * stack has overwritten them. (Chapter 4 also puts an unmapped guard page
 * below each IST stack; the canary still catches a small overflow that
 * lands between the two.)
 */
bool ist_stack_intact(unsigned int ist);

/** @name Vectors
 * The exceptions, by the mnemonics of SDM vol. 3 §6.15, Table 6-1. @{ */
#define VEC_DIVIDE_ERROR	0	/**< \#DE: DIV or IDIV by 0, or overflow */
#define VEC_DEBUG		1	/**< \#DB */
#define VEC_NMI			2	/**< non-maskable interrupt */
#define VEC_BREAKPOINT		3	/**< \#BP: int3 */
#define VEC_INVALID_OPCODE	6	/**< \#UD: e.g. ud2 */
#define VEC_DOUBLE_FAULT	8	/**< \#DF: a fault while delivering one */
#define VEC_INVALID_TSS		10	/**< \#TS */
#define VEC_SEGMENT_NOT_PRESENT	11	/**< \#NP */
#define VEC_STACK_FAULT		12	/**< \#SS */
#define VEC_GENERAL_PROTECTION	13	/**< \#GP */
#define VEC_PAGE_FAULT		14	/**< \#PF */
#define NR_EXCEPTIONS		32	/**< vectors 0-31 are the CPU's */
#define IRQ_VECTOR_BASE		32	/**< IRQ n arrives as vector 32 + n */
#define NR_IRQS			16	/**< IRQ 0-15, two cascaded PICs */
#define IDT_ENTRIES		48	/**< gates in fern's IDT: 0-47 */
/** @} */

/**
 * The exceptions for which the CPU pushes an error code, a bit per
 * vector: #DF (8), #TS (10), #NP (11), #SS (12), #GP (13), #PF (14),
 * #AC (17), #CP (21), #VC (29) and #SX (30) (SDM vol. 3 §6.15; #VC and
 * #SX are AMD's). IRQs never push one. The entry stubs of
 * src/cpu/trap_entry.asm are made from it, and from IDT_ENTRIES and
 * TRAP_NO_ERROR_CODE: the build generates their NASM copies from this
 * header (cpu.inc), so there is one definition.
 */
#define TRAP_ERROR_CODE_VECTORS	((1 << 8) | (1 << 10) | (1 << 11) | \
				 (1 << 12) | (1 << 13) | (1 << 14) | \
				 (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30))

/**
 * One gate descriptor of the long-mode IDT: 16 bytes that say where the
 * handler of a vector is and how to enter it (SDM vol. 3 §6.14.1,
 * Figure 6-8, "64-Bit IDT Gate Descriptors").
 */
struct idt_gate {
	uint16_t offset_low;	/**< handler address, bits 0-15 */
	uint16_t selector;	/**< code segment to run the handler in */
	uint8_t ist;		/**< bits 0-2: IST slot, 0 for none */
	uint8_t type_attr;	/**< bit 7 P, bits 5-6 DPL, bits 0-3 type */
	uint16_t offset_mid;	/**< handler address, bits 16-31 */
	uint32_t offset_high;	/**< handler address, bits 32-63 */
	uint32_t reserved;	/**< must be 0 */
} __attribute__((packed));

/** @name Fields of idt_gate.type_attr
 * @{ */
#define IDT_GATE_PRESENT	0x80	/**< P: the gate is usable */
#define IDT_GATE_DPL(n)		((n) << 5)	/**< lowest ring that may `int` it */
#define IDT_TYPE_INTERRUPT	0xe	/**< 64-bit interrupt gate: clears IF */
#define IDT_TYPE_TRAP		0xf	/**< 64-bit trap gate: leaves IF */
/** @} */

/**
 * Fill @p gate so that its vector enters @p handler in the kernel code
 * segment, with interrupts off (an interrupt gate), from ring 0 only, on
 * IST slot @p ist (0 for the current stack).
 */
void idt_set_gate(struct idt_gate *gate, uintptr_t handler, unsigned int ist);

/** The handler address stored in @p gate: its three offset fields joined. */
uintptr_t idt_gate_handler(const struct idt_gate *gate);

/** The entry stub of each vector, from src/cpu/trap_entry.asm. */
extern const uintptr_t trap_stubs[IDT_ENTRIES];

/**
 * Fill the IDT with a gate to each vector's stub, check every gate by
 * reading it back, and load it with LIDT.
 *
 * @return 0, or -1 (after printing which gate is wrong) if a gate does not
 *         read back right; the IDT is then not loaded, since entering a
 *         wrong gate would reset the machine.
 */
int idt_init(void);

/** True once idt_init() has loaded the IDT: exceptions are reported. */
bool idt_loaded(void);

/**
 * What the stubs in src/cpu/trap_entry.asm save on the stack, lowest
 * address first. The CPU pushes the last five (SDM vol. 3 §6.14.2,
 * Figure 6-9), a stub the vector and the error code, and the common entry
 * code the general registers. trap_dispatch() gets a pointer to it, and
 * whatever it changes here is what the interrupted code gets back.
 */
struct trap_frame {
	/** The general registers, as the interrupted code left them. @{ */
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	/** @} */
	uint64_t vector;	/**< 0-255: what happened */
	uint64_t error_code;	/**< the CPU's, or TRAP_NO_ERROR_CODE */
	uint64_t rip;		/**< where to resume */
	uint64_t cs;		/**< code segment to resume in */
	uint64_t rflags;	/**< flags to resume with */
	uint64_t rsp;		/**< stack pointer to resume with */
	uint64_t ss;		/**< stack segment to resume with */
};

/**
 * What the stub of a vector without an error code stores in
 * trap_frame.error_code: the CPU's error codes never have their upper 32
 * bits set, so this cannot be one.
 */
#define TRAP_NO_ERROR_CODE	(~0UL)

/**
 * The one C entry point of every interrupt and exception, called by the
 * stubs with interrupts off. Routes the vector: int3 is reported and
 * execution resumes after it; any other exception is reported (name, error
 * code, registers, backtrace) and ends the run with the failure status;
 * IRQs go to irq_dispatch().
 */
void trap_dispatch(struct trap_frame *frame);

/**
 * Report exception @p frame->vector: its name, the error code decoded,
 * RIP with the function it is in, RSP and RFLAGS, CR2 for page and double
 * faults, the IST stack for \#DF and NMI, the registers and a backtrace.
 * Then end the run with the failure status.
 */
__attribute__((noreturn)) void exception_report(const struct trap_frame *frame);

/**
 * Report an int3 (`breakpoint at ADDRESS FUNCTION+OFFSET; resuming`) and
 * count it. Returning from the trap then resumes after the int3.
 */
void breakpoint_report(const struct trap_frame *frame);

/** The mnemonic of exception @p vector ("#PF"), or "" if it has none. */
const char *exception_mnemonic(unsigned int vector);

/** The name of exception @p vector ("page fault"), or "reserved". */
const char *exception_name(unsigned int vector);

/** How many times int3 has been reported and resumed from. */
unsigned long breakpoint_count(void);
#if FERN_CHAPTER >= 4

/**
 * Have the reports of page faults and double faults call @p fn with the
 * faulting address (CR2), to say what lies there. Chapter 4's memory
 * layout knows (mm_explain_address()); the CPU layer, below it, cannot
 * call it directly, so mm hands it over here.
 */
void exception_set_address_explainer(void (*fn)(uintptr_t addr));
#endif

/** @name IRQ lines of the PC, as the 8259s number them
 * @{ */
#define IRQ_TIMER	0	/**< the PIT's channel 0 */
#define IRQ_KEYBOARD	1	/**< the PS/2 controller's keyboard port */
#define IRQ_CASCADE	2	/**< where the slave PIC joins the master */
#define IRQ_COM1	4	/**< the first serial port */
#define IRQ_SPURIOUS_MASTER	7	/**< a master's spurious IRQ shows as 7 */
#define IRQ_SPURIOUS_SLAVE	15	/**< a slave's spurious IRQ shows as 15 */
/** @} */

/**
 * An interrupt controller, as the IRQ layer sees it: the four things it
 * asks of one. Chapter 3's is the pair of 8259 PICs (pic.c); an IOAPIC or
 * MSI later is another struct irq_chip in a file of its own, and nothing
 * above irq.c changes.
 */
struct irq_chip {
	const char *name;			/**< for the `interrupts:` line */
	void (*mask)(unsigned int irq);		/**< stop line @p irq */
	void (*unmask)(unsigned int irq);	/**< let line @p irq interrupt */
	void (*eoi)(unsigned int irq);		/**< line @p irq was handled */
	/** Whether IRQ @p irq that just arrived did not really happen. */
	bool (*spurious)(unsigned int irq);
	bool (*masked)(unsigned int irq);	/**< whether @p irq is masked */
};

/**
 * Make @p chip the controller that irq.c masks, unmasks and acknowledges
 * lines with, and unmask the lines that already have handlers.
 */
void irq_set_chip(const struct irq_chip *chip);

/**
 * Program both PICs to deliver IRQ 0-15 as vectors 32-47, mask every
 * line, and make them the IRQ layer's controller (irq_set_chip()).
 *
 * @return 0, or -1 if the PICs could not be remapped: they then still
 *         use the BIOS's vectors, which collide with exceptions, so their
 *         lines stay masked and they are not made the controller.
 */
int pic_init(void);

/** The PICs' mask of all 16 lines, read back: bit n set means IRQ n is masked. */
uint16_t pic_get_mask(void);

/** What an IRQ handler answers: was its device the one asking? */
enum irq_result {
	IRQ_NONE = 0,		/**< not mine: my device was not asking */
	IRQ_HANDLED = 1,	/**< mine, and acknowledged at the device */
};

/**
 * An IRQ handler: runs with interrupts off, with the @p ctx it was
 * registered with (its device). Several devices can share one line (PCI
 * devices do), so a handler first asks its device whether it interrupted,
 * and answers IRQ_NONE if not.
 */
typedef enum irq_result (*irq_handler_fn)(void *ctx);

/** Handlers one IRQ line can have: a static table, no allocator needed. */
#define IRQ_HANDLERS_PER_LINE	4

/**
 * Add @p fn, with @p ctx, to the handlers of IRQ line @p irq, named
 * @p name (for `irqs`), and unmask the line. Handlers already there stay:
 * when the line interrupts, every handler runs.
 *
 * @return 0; -EINVAL for a line past 15 or a NULL @p fn; -EEXIST if
 *         @p fn with @p ctx is already there; -ENOSPC if the line has
 *         IRQ_HANDLERS_PER_LINE handlers.
 */
int irq_register(unsigned int irq, irq_handler_fn fn, void *ctx, const char *name);

/**
 * Remove @p fn with @p ctx from IRQ line @p irq; the last handler to go
 * masks the line.
 *
 * @return 0, or -ENOENT if it was not there.
 */
int irq_unregister(unsigned int irq, irq_handler_fn fn, void *ctx);

/**
 * Handle IRQ @p irq: drop it if it is spurious, else count it, run every
 * handler of its line and acknowledge it at the controller. Called by
 * trap_dispatch().
 */
void irq_dispatch(unsigned int irq);

/** Mask line @p irq at the controller (nothing before there is one). */
void irq_mask(unsigned int irq);

/** Acknowledge line @p irq at the controller (end of interrupt). */
void irq_eoi(unsigned int irq);

/** Whether line @p irq is masked (true before there is a controller). */
bool irq_masked(unsigned int irq);

/** How many interrupts IRQ line @p irq has delivered (spurious ones not). */
uint64_t irq_count(unsigned int irq);

/**
 * How many interrupts of IRQ line @p irq no handler claimed: every
 * handler answered IRQ_NONE. A few are normal on a shared line; a count
 * that grows with the line's means a device nobody drives is asking.
 */
uint64_t irq_unclaimed_count(unsigned int irq);

/** How many spurious interrupts arrived as IRQ @p irq (7 or 15). */
uint64_t irq_spurious_count(unsigned int irq);

/**
 * Turn on what chapter 3 adds: gdt_init(), idt_init(), pic_init(), the
 * timer at TIMER_HZ, then interrupts (STI). Prints one line, `interrupts:
 * on ...` or why they stay off.
 *
 * @return 0 if interrupts are on, -1 if something left them off.
 */
int interrupts_init(void);

/** True once interrupts_init() has turned interrupts on. */
bool interrupts_on(void);

/**
 * Idle for good: halt, and let each interrupt (a tick, a key) wake the CPU
 * only to handle it. With interrupts off, just halt.
 */
__attribute__((noreturn)) void idle_forever(void);

/** @name The timer
 * The PIT's channel 0 interrupts TIMER_HZ times a second; each interrupt
 * is a tick. @{ */
#define TIMER_HZ	100		/**< ticks a second: one every 10 ms */
/** @} */

/**
 * Make the PIT's channel 0 interrupt @p hz times a second (19 to
 * PIT_INPUT_HZ, i8254.h) and count its interrupts as ticks.
 */
void pit_init(unsigned int hz);

/**
 * Change the rate of a running timer to @p hz ticks a second (the same
 * range as pit_init()); sleep_ms() and uptime follow the new rate.
 */
void pit_set_rate(unsigned int hz);

/** Ticks since pit_init(). */
uint64_t timer_ticks(void);

/**
 * Wait at least @p ms milliseconds, halting between ticks. Panics if the
 * timer is not running (it would wait forever). Call with interrupts on.
 */
void sleep_ms(unsigned int ms);

#endif
