/*
 * Tests of the IDT (idt.c): one gate built by idt_set_gate() compared
 * byte by byte with the layout of SDM vol. 3 Figure 6-8, and the loaded
 * IDT read back through SIDT.
 */
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/ktest.h>
#include <fern/string.h>

KTEST(idt, "idt_set_gate() lays out a gate as SDM vol. 3 Figure 6-8 draws it")
{
	/*
	 * Handler 0xffffffff80123456 on IST1: offset bits 0-15, the kernel
	 * code selector 0x0008, the IST byte, P=1 DPL=0 type 0xE (0x8e),
	 * offset bits 16-31, bits 32-63, four reserved zero bytes. x86 is
	 * little-endian: each field's low byte comes first.
	 */
	static const uint8_t want[16] = {
		0x56, 0x34, 0x08, 0x00, 0x01, 0x8e, 0x12, 0x80,
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	};
	struct idt_gate gate;
	const uint8_t *got = (const uint8_t *)&gate;

	/* Junk first: every byte must be written, the reserved ones too. */
	memset(&gate, 0xa5, sizeof(gate));
	idt_set_gate(&gate, 0xffffffff80123456UL, 1);
	for (int i = 0; i < 16; i++) {
		if (!KTEST_EXPECT_EQ(got[i], want[i])) {
			kprintf("# byte %d of the gate is wrong\n", i);
			break;
		}
	}
}

KTEST(idt, "IDTR holds the 48 gates of vectors 0-47")
{
	struct descriptor_register idtr = read_idtr();

	KTEST_ASSERT(idt_loaded());
	KTEST_EXPECT_EQ(idtr.limit, IDT_ENTRIES * sizeof(struct idt_gate) - 1);
	KTEST_EXPECT_EQ(idtr.base % 8, 0);
}

KTEST(idt, "every gate is a present ring-0 interrupt gate into its vector's stub")
{
	struct descriptor_register idtr = read_idtr();
	const struct idt_gate *gates = (const struct idt_gate *)idtr.base;

	KTEST_ASSERT(idt_loaded());
	for (unsigned int v = 0; v < IDT_ENTRIES; v++) {
		const struct idt_gate *g = &gates[v];
		bool ok = true;

		ok &= KTEST_EXPECT_EQ(g->type_attr, IDT_GATE_PRESENT |
				      IDT_GATE_DPL(0) | IDT_TYPE_INTERRUPT);
		ok &= KTEST_EXPECT_EQ(g->selector, GDT_KERNEL_CODE);
		ok &= KTEST_EXPECT_EQ(idt_gate_handler(g), trap_stubs[v]);
		ok &= KTEST_EXPECT_EQ(g->reserved, 0);
		if (!ok) {
			kprintf("# gate %u is wrong\n", v);
			break;
		}
	}
}

KTEST(idt, "only #DF and NMI switch stacks, to IST1 and IST2")
{
	struct descriptor_register idtr = read_idtr();
	const struct idt_gate *gates = (const struct idt_gate *)idtr.base;

	KTEST_ASSERT(idt_loaded());
	KTEST_EXPECT_EQ(gates[VEC_DOUBLE_FAULT].ist, IST_DOUBLE_FAULT);
	KTEST_EXPECT_EQ(gates[VEC_NMI].ist, IST_NMI);
	for (unsigned int v = 0; v < IDT_ENTRIES; v++) {
		if (v == VEC_DOUBLE_FAULT || v == VEC_NMI)
			continue;
		if (!KTEST_EXPECT_EQ(gates[v].ist, 0)) {
			kprintf("# gate %u names an IST stack\n", v);
			break;
		}
	}
}
