/*
 * Tests of the GDT and the TSS (gdt.c), read back from the CPU: SGDT, STR
 * and the segment registers say what is loaded, and the descriptors are
 * decoded here from their bits, as the SDM's figures draw them.
 */
#include <fern/cpu.h>
#include <fern/ktest.h>

/* Linker script symbols: fern's writable data, from .data to the end of .bss. */
extern const char __data_start[], __bss_end[];

/* The 8-byte GDT entry a selector points at, through GDTR. */
static uint64_t descriptor(uint16_t selector)
{
	struct descriptor_register gdtr = read_gdtr();

	return ((const uint64_t *)gdtr.base)[selector >> 3];
}

/* One bit, or a field of bits, of a descriptor (SDM vol. 3 Figure 3-8). */
#define BIT(d, n)		(((d) >> (n)) & 1)
#define FIELD(d, lo, width)	(((d) >> (lo)) & ((1UL << (width)) - 1))

#define READ_SEGMENT(reg)						\
	({								\
		uint16_t sel;						\
		__asm__ volatile("movw %%" #reg ", %0" : "=r"(sel));	\
		sel;							\
	})

KTEST(gdt, "GDTR holds fern's 5-entry GDT, in writable memory")
{
	struct descriptor_register gdtr = read_gdtr();

	/* The boot GDT, in .boot.rodata, has 3 entries and is read-only. */
	KTEST_EXPECT_EQ(gdtr.limit, GDT_ENTRIES * 8 - 1);
	KTEST_EXPECT(gdtr.base >= (uintptr_t)__data_start &&
		     gdtr.base < (uintptr_t)__bss_end);
	KTEST_EXPECT_EQ(descriptor(0), 0);
}

KTEST(gdt, "CS is a present 64-bit ring-0 code segment")
{
	uint16_t cs = READ_SEGMENT(cs);
	uint64_t d = descriptor(cs);

	KTEST_ASSERT_EQ(cs, GDT_KERNEL_CODE);
	KTEST_EXPECT_EQ(BIT(d, 47), 1);		/* P */
	KTEST_EXPECT_EQ(FIELD(d, 45, 2), 0);	/* DPL */
	KTEST_EXPECT_EQ(BIT(d, 44), 1);		/* S: code or data */
	KTEST_EXPECT_EQ(BIT(d, 43), 1);		/* type: code */
	KTEST_EXPECT_EQ(BIT(d, 53), 1);		/* L: 64-bit */
	KTEST_EXPECT_EQ(BIT(d, 54), 0);		/* D must be 0 when L is 1 */
}

KTEST(gdt, "DS, ES and SS hold a present, writable ring-0 data segment")
{
	uint16_t ds = READ_SEGMENT(ds), es = READ_SEGMENT(es), ss = READ_SEGMENT(ss);
	uint64_t d = descriptor(GDT_KERNEL_DATA);

	KTEST_EXPECT_EQ(ds, GDT_KERNEL_DATA);
	KTEST_EXPECT_EQ(es, GDT_KERNEL_DATA);
	KTEST_EXPECT_EQ(ss, GDT_KERNEL_DATA);
	KTEST_EXPECT_EQ(BIT(d, 47), 1);		/* P */
	KTEST_EXPECT_EQ(FIELD(d, 45, 2), 0);	/* DPL */
	KTEST_EXPECT_EQ(BIT(d, 44), 1);		/* S */
	KTEST_EXPECT_EQ(BIT(d, 43), 0);		/* type: data */
	KTEST_EXPECT_EQ(BIT(d, 41), 1);		/* writable */
}

KTEST(gdt, "TR selects a busy 64-bit TSS whose IST1 is the double-fault stack")
{
	uint16_t tr = read_tr();
	uint64_t low, high, base, limit;
	uintptr_t bottom, top;
	const struct tss *tss;

	KTEST_ASSERT_EQ(tr, GDT_TSS);
	/* A system descriptor is 16 bytes: two GDT entries (Figure 7-4). */
	low = descriptor(tr);
	high = descriptor(tr + 8);
	KTEST_EXPECT_EQ(BIT(low, 47), 1);		/* P */
	KTEST_EXPECT_EQ(BIT(low, 44), 0);		/* S: a system segment */
	KTEST_EXPECT_EQ(FIELD(low, 40, 4), 0xb);	/* busy 64-bit TSS: LTR marks it */
	base = FIELD(low, 16, 24) | FIELD(low, 56, 8) << 24 | FIELD(high, 0, 32) << 32;
	limit = FIELD(low, 0, 16) | FIELD(low, 48, 4) << 16;
	KTEST_EXPECT(limit + 1 >= sizeof(struct tss));
	KTEST_EXPECT_EQ(sizeof(struct tss), 104);

	tss = (const struct tss *)base;
	ist_stack_bounds(IST_DOUBLE_FAULT, &bottom, &top);
	KTEST_EXPECT_EQ(tss->ist[IST_DOUBLE_FAULT - 1], top);
	KTEST_EXPECT_EQ(top - bottom, IST_STACK_SIZE);
}

KTEST(gdt, "each IST stack is 16-byte aligned, with an intact canary below it")
{
	uint64_t low = descriptor(GDT_TSS), high = descriptor(GDT_TSS + 8);
	const struct tss *tss = (const struct tss *)(FIELD(low, 16, 24) |
		FIELD(low, 56, 8) << 24 | FIELD(high, 0, 32) << 32);
	for (unsigned int ist = 1; ist <= IST_STACKS; ist++) {
		uintptr_t bottom, top;

		ist_stack_bounds(ist, &bottom, &top);
		KTEST_EXPECT_EQ(tss->ist[ist - 1], top);
		KTEST_EXPECT_EQ(top % 16, 0);
		KTEST_EXPECT(ist_stack_intact(ist));
	}
	/* Slots fern does not use stay 0: a gate naming one would be a bug. */
	for (unsigned int ist = IST_STACKS + 1; ist <= 7; ist++)
		KTEST_EXPECT_EQ(tss->ist[ist - 1], 0);
}
