/**
 * @file x86.h
 * @brief The few x86 instructions C cannot express: port I/O, halting,
 *        CPUID and the time-stamp counter.
 *
 * Each is a one-instruction inline function, so the compiler sees through
 * it. The names follow the Intel SDM vol. 2 mnemonics.
 */
#ifndef FERN_X86_H
#define FERN_X86_H

#include <stdint.h>

/** Write one byte to an I/O port (OUT, SDM vol. 2B). */
static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/** Write a 16-bit word to an I/O port. */
static inline void outw(uint16_t port, uint16_t value)
{
	__asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

/** Write a 32-bit word to an I/O port. */
static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

/** Read one byte from an I/O port (IN, SDM vol. 2A). */
static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/** Read a 16-bit word from an I/O port. */
static inline uint16_t inw(uint16_t port)
{
	uint16_t value;

	__asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/** Read a 32-bit word from an I/O port. */
static inline uint32_t inl(uint16_t port)
{
	uint32_t value;

	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/** Stop the CPU until the next interrupt (or forever, with interrupts off). */
static inline void hlt(void)
{
	__asm__ volatile("hlt");
}

#if FERN_CHAPTER >= 2
/**
 * Tell the CPU this is a spin-wait loop (PAUSE, SDM vol. 2B): it saves
 * power and lets a hypervisor or a sibling hyperthread run.
 */
static inline void pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

#endif
/** Mask maskable interrupts (clear RFLAGS.IF). */
static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}
#if FERN_CHAPTER >= 3

/**
 * Wait about a microsecond, the time an I/O write to an unused port takes
 * on a real PC: old ISA chips like the 8259 need it between two writes.
 * Port 0x80 is where the BIOS writes its POST codes; nothing listens.
 */
static inline void io_wait(void)
{
	outb(0x80, 0);
}

/** Allow maskable interrupts (set RFLAGS.IF). */
static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/** RFLAGS.IF: maskable interrupts are allowed (SDM vol. 1 §3.4.3.3). */
#define RFLAGS_IF	(1UL << 9)

/** Read RFLAGS (PUSHF, then POP: no instruction reads it directly). */
static inline uint64_t read_rflags(void)
{
	uint64_t flags;

	__asm__ volatile("pushfq\n\tpopq %0" : "=r"(flags) : : "memory");
	return flags;
}

/**
 * Turn interrupts off and return RFLAGS as it was, for irq_restore(). No
 * interrupt handler can run between the two, and pairs nest: an inner
 * pair leaves interrupts off for the outer one.
 */
static inline uint64_t irq_save(void)
{
	uint64_t flags = read_rflags();

	cli();
	return flags;
}

/** Turn interrupts back on if they were on when irq_save() gave @p flags. */
static inline void irq_restore(uint64_t flags)
{
	if (flags & RFLAGS_IF)
		sti();
}

/**
 * Turn interrupts on and wait for the next one. The pair cannot miss an
 * interrupt: STI lets interrupts in only after the instruction that
 * follows it (SDM vol. 2B, STI), so one that is already pending wakes the
 * HLT instead of being handled just before it.
 */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti\n\thlt" : : : "memory");
}

/** Read CR2: the linear address of the last page fault (SDM vol. 3 §4.7). */
static inline uint64_t read_cr2(void)
{
	uint64_t cr2;

	__asm__ volatile("movq %%cr2, %0" : "=r"(cr2));
	return cr2;
}
#endif

/** Read the time-stamp counter: cycles since reset (SDM vol. 3 §18.17). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/** The four registers CPUID fills for one leaf. */
struct cpuid_regs {
	/** What CPUID left in EAX, EBX, ECX and EDX. @{ */
	uint32_t eax, ebx, ecx, edx;
	/** @} */
};

/** Execute CPUID for @p leaf, sub-leaf @p subleaf. */
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

/** Halt forever with interrupts off: the kernel's last instruction. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;) {
		cli();
		hlt();
	}
}
#if FERN_CHAPTER >= 4

/*
 * Chapter 4: the registers that control paging (Intel SDM vol. 3 §2.5)
 * and the instruction that drops a translation from the TLB.
 */

/** Read CR0, which holds the paging (PG) and write-protect (WP) bits. */
static inline uint64_t read_cr0(void)
{
	uint64_t value;

	__asm__ volatile("mov %%cr0, %0" : "=r"(value));
	return value;
}

/** Write CR0. */
static inline void write_cr0(uint64_t value)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(value) : "memory");
}

/** Read CR3: the physical address of the top-level page table (PML4). */
static inline uint64_t read_cr3(void)
{
	uint64_t value;

	__asm__ volatile("mov %%cr3, %0" : "=r"(value));
	return value;
}

/**
 * Write CR3: use the page tables at physical address @p value. This also
 * drops every TLB entry that is not global (SDM vol. 3 §4.10.4.1).
 */
static inline void write_cr3(uint64_t value)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(value) : "memory");
}

/** Drop the TLB's translation of the page that holds @p va (INVLPG, SDM vol. 2A). */
static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/** Read a model-specific register (RDMSR, SDM vol. 2B). */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/** Write a model-specific register (WRMSR, SDM vol. 2B). */
static inline void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value),
			 "d"((uint32_t)(value >> 32)) : "memory");
}
#endif

#endif
