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

#endif
