/*
 * The Global Descriptor Table and the Task State Segment.
 *
 * In 64-bit mode segmentation is almost gone: code and data segments have
 * no base and no limit, and what is left of a code segment descriptor is
 * the ring (DPL) and the L bit that says "64-bit code". The boot code got
 * into long mode with a temporary GDT in .boot.rodata. This file builds
 * the one fern keeps, because of the one thing a GDT still carries that
 * matters: the TSS, and with it the Interrupt Stack Table, the only way to
 * make the CPU switch to a known-good stack when an exception arrives.
 *
 * The layout (selectors in cpu.h):
 *
 *     0x00  null           the CPU never uses entry 0
 *     0x08  kernel code    64-bit, ring 0
 *     0x10  kernel data    ring 0
 *     0x18  TSS            16 bytes: a system descriptor is twice as long
 */
#include <fern/cpu.h>
#include <fern/layout.h>

/*
 * Bits of a code or data segment descriptor (SDM vol. 3 §3.4.5, Figure
 * 3-8), as a 64-bit word. Base and limit are ignored in 64-bit mode.
 */
#define SEG_TYPE_DATA_RW	(0x2UL << 40)	/* data, read/write */
#define SEG_TYPE_CODE_XR	(0xaUL << 40)	/* code, execute/read */
#define SEG_S			(1UL << 44)	/* code or data, not system */
#define SEG_DPL(n)		((uint64_t)(n) << 45)
#define SEG_P			(1UL << 47)	/* present */
#define SEG_L			(1UL << 53)	/* 64-bit code */

/* A system descriptor's type for a 64-bit TSS (SDM vol. 3 §3.5, Table 3-2). */
#define SYS_TYPE_TSS_AVAILABLE	0x9UL

/* What the words below each IST stack hold until something overflows it. */
#define IST_CANARY		0x5741524e53544b21UL	/* "!KTSNRAW" */
#define IST_CANARY_WORDS	4

/*
 * Each IST stack with its canary right below it: stacks grow down, so an
 * overflow writes the canary first. 16-byte alignment keeps the top, which
 * goes into the TSS, aligned as the ABI wants (the CPU also aligns RSP to
 * 16 bytes when it switches stacks, SDM vol. 3 §6.14.2).
 */
struct ist_stack {
#if FERN_CHAPTER >= 4
	/*
	 * Chapter 4 leaves this page unmapped, so that an overflow faults
	 * on it at once instead of writing over whatever lies below.
	 */
	uint8_t guard[4096];
#endif
	uint64_t canary[IST_CANARY_WORDS];
	uint8_t stack[IST_STACK_SIZE];
#if FERN_CHAPTER >= 4
} __attribute__((aligned(4096)));
#else
} __attribute__((aligned(16)));
#endif

static struct ist_stack ist_stacks[IST_STACKS];
KERNEL_STACK(ist1, "the double-fault stack (IST1)",
	     ist_stacks[IST_DOUBLE_FAULT - 1].stack,
	     ist_stacks[IST_DOUBLE_FAULT - 1].stack + IST_STACK_SIZE);
KERNEL_STACK(ist2, "the NMI stack (IST2)", ist_stacks[IST_NMI - 1].stack,
	     ist_stacks[IST_NMI - 1].stack + IST_STACK_SIZE);
static struct tss tss;

/* In .data: LTR writes the "busy" bit into the TSS descriptor. */
static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
	[0] = 0,
	[GDT_KERNEL_CODE / 8] = SEG_P | SEG_DPL(0) | SEG_S | SEG_TYPE_CODE_XR | SEG_L,
	[GDT_KERNEL_DATA / 8] = SEG_P | SEG_DPL(0) | SEG_S | SEG_TYPE_DATA_RW,
};

/*
 * The TSS descriptor (SDM vol. 3 §7.2.3, Figure 7-4): the layout of a
 * segment descriptor, with a 32-bit base split in three, followed by a
 * second word that holds bits 32-63 of the base. Its address is known only
 * at run time, so it is filled in here.
 */
static void set_tss_descriptor(uint64_t *slot, uintptr_t base, uint32_t limit)
{
	slot[0] = (limit & 0xffffUL) |
		  (base & 0xffffffUL) << 16 |
		  SYS_TYPE_TSS_AVAILABLE << 40 |
		  SEG_P |
		  (uint64_t)((limit >> 16) & 0xf) << 48 |
		  (uint64_t)((base >> 24) & 0xff) << 56;
	slot[1] = base >> 32;
}

void ist_stack_bounds(unsigned int ist, uintptr_t *bottom, uintptr_t *top)
{
	struct ist_stack *s = &ist_stacks[ist - 1];

	*bottom = (uintptr_t)s->stack;
	*top = (uintptr_t)(s->stack + IST_STACK_SIZE);
}

bool ist_stack_intact(unsigned int ist)
{
	const volatile uint64_t *canary = ist_stacks[ist - 1].canary;

	for (int i = 0; i < IST_CANARY_WORDS; i++) {
		if (canary[i] != IST_CANARY)
			return false;
	}
	return true;
}

/*
 * Load GDTR, then every segment register, because each keeps a copy of
 * the descriptor it was loaded from until it is loaded again. CS cannot be
 * the target of a MOV: a far return pops a new CS with the RIP to go on
 * at, here the next instruction. FS and GS get the null selector; 64-bit
 * code reaches them through MSRs when it wants them at all.
 */
static void gdt_load(void)
{
	struct descriptor_register gdtr = {
		.limit = sizeof(gdt) - 1,
		.base = (uintptr_t)gdt,
	};

	__asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
	__asm__ volatile("pushq %[code]\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %[data], %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs"
			 : : [code] "i"(GDT_KERNEL_CODE), [data] "i"(GDT_KERNEL_DATA)
			 : "rax", "memory");
	/* LTR marks the TSS descriptor busy: loading it twice is a #GP. */
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)GDT_TSS) : "memory");
}

void gdt_init(void)
{
	for (unsigned int i = 1; i <= IST_STACKS; i++) {
		uintptr_t bottom, top;

		for (int w = 0; w < IST_CANARY_WORDS; w++)
			ist_stacks[i - 1].canary[w] = IST_CANARY;
		ist_stack_bounds(i, &bottom, &top);
		tss.ist[i - 1] = top;
	}
	/* No I/O permission map: its offset is past the end of the TSS. */
	tss.iomap_base = sizeof(tss);
	set_tss_descriptor(&gdt[GDT_TSS / 8], (uintptr_t)&tss, sizeof(tss) - 1);
	gdt_load();
}
