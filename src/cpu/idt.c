/*
 * The Interrupt Descriptor Table: for each vector, a gate that says where
 * its handler is and how to enter it (SDM vol. 3 §6.14.1).
 *
 * fern's IDT has 48 gates: the 32 exceptions and the 16 IRQs. Each leads
 * to that vector's stub in trap_entry.asm, through the kernel code
 * segment, as an interrupt gate (so IF is clear in every handler). The
 * gates of #DF and NMI also name an IST stack (gdt.c). A vector past the
 * table's limit, say a stray `int $0x80`, is a #GP whose error code names
 * it: the report shows "IDT vector 128".
 */
#include <fern/console.h>
#include <fern/cpu.h>

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));
static bool loaded;

_Static_assert(sizeof(struct idt_gate) == 16, "a long-mode gate is 16 bytes");

/*
 * Fill one gate. Figure 6-8 of the SDM shows the 16 bytes: the handler's
 * 64-bit address is cut into three pieces (bits 0-15, 16-31, 32-63, in
 * that order of fields), a code segment selector, the IST index, and the
 * type byte: present, the DPL (the least privileged ring allowed to raise
 * the vector with INT n; ring 0 here, as nothing runs in another), and the
 * type, a 64-bit interrupt gate.
 */
void idt_set_gate(struct idt_gate *gate, uintptr_t handler, unsigned int ist)
{
	/* LAB 3 BEGIN: fill every field of *gate as SDM vol. 3 Figure 6-8 draws it: the handler's address in three pieces, the kernel code selector, the IST slot, a present ring-0 interrupt gate */
	gate->offset_low = handler & 0xffff;
	gate->selector = GDT_KERNEL_CODE;
	gate->ist = ist & 0x7;
	gate->type_attr = IDT_GATE_PRESENT | IDT_GATE_DPL(0) | IDT_TYPE_INTERRUPT;
	gate->offset_mid = (handler >> 16) & 0xffff;
	gate->offset_high = (uint32_t)(handler >> 32);
	gate->reserved = 0;
	/* LAB 3 STUB: (void)gate; (void)handler; (void)ist; */
	/* LAB 3 END */
}

uintptr_t idt_gate_handler(const struct idt_gate *gate)
{
	return (uintptr_t)gate->offset_high << 32 |
	       (uintptr_t)gate->offset_mid << 16 | gate->offset_low;
}

/* The IST slot each vector's gate names: 0 means "stay on this stack". */
static unsigned int vector_ist(unsigned int vector)
{
	if (vector == VEC_DOUBLE_FAULT)
		return IST_DOUBLE_FAULT;
	if (vector == VEC_NMI)
		return IST_NMI;
	return 0;
}

/*
 * Read gate @vector back and say what is wrong with it, if anything. A
 * wrong gate is not an error the CPU reports: entering it faults again,
 * and a fault while delivering a fault ends in a reset. So every gate is
 * checked here, before LIDT, where a mistake can still be printed.
 */
static bool gate_is_right(unsigned int vector)
{
	const struct idt_gate *g = &idt[vector];
	uint8_t want_type = IDT_GATE_PRESENT | IDT_GATE_DPL(0) | IDT_TYPE_INTERRUPT;

	if (!(g->type_attr & IDT_GATE_PRESENT)) {
		kprintf("idt: gate %u is not present\n", vector);
		return false;
	}
	if (g->type_attr != want_type) {
		kprintf("idt: gate %u has type byte 0x%02x, not 0x%02x (a present ring-0 interrupt gate)\n",
			vector, g->type_attr, want_type);
		return false;
	}
	if (g->selector != GDT_KERNEL_CODE) {
		kprintf("idt: gate %u has selector 0x%x, not the kernel code segment 0x%x\n",
			vector, g->selector, GDT_KERNEL_CODE);
		return false;
	}
	if (idt_gate_handler(g) != trap_stubs[vector]) {
		kprintf("idt: gate %u leads to 0x%lx, not to its stub at 0x%lx\n",
			vector, idt_gate_handler(g), trap_stubs[vector]);
		return false;
	}
	if (g->ist != vector_ist(vector) || g->reserved != 0) {
		kprintf("idt: gate %u has IST byte 0x%x and reserved 0x%x, not %u and 0\n",
			vector, g->ist, g->reserved, vector_ist(vector));
		return false;
	}
	return true;
}

int idt_init(void)
{
	struct descriptor_register idtr = {
		.limit = sizeof(idt) - 1,
		.base = (uintptr_t)idt,
	};

	for (unsigned int v = 0; v < IDT_ENTRIES; v++)
		idt_set_gate(&idt[v], trap_stubs[v], vector_ist(v));
	for (unsigned int v = 0; v < IDT_ENTRIES; v++) {
		if (!gate_is_right(v))
			return -1;
	}
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
	loaded = true;
	return 0;
}

bool idt_loaded(void)
{
	return loaded;
}
