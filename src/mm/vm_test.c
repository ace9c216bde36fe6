/*
 * Tests of the page tables (vm.c) on the kernel's live tables: what
 * vm_map() says is what the MMU then does, read back through a second
 * mapping of the same frame (the direct map). And checks of the layout
 * that mm_init() built (layout.c): W^X, the NULL page, the identity map.
 *
 * The tests map things at TEST_VA, a part of the kernel half that nothing
 * else uses, and unmap them again.
 */
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/ktest.h>
#include <fern/mm.h>

extern char __text_start[], __rodata_start[], __data_start[], __kernel_end[];

#define TEST_VA	MM_TEST_BASE
/*
 * For the large page: a 2 MiB slot whose page-directory entry is still
 * empty (vm_map() uses 4 KiB pages where a page table exists already).
 */
#define TEST_LARGE_VA	(TEST_VA + (1UL << 30))

/* A frame, or fail the test case: the allocator is tested elsewhere. */
static uint64_t test_frame(struct ktest_ctx *ktest)
{
	uint64_t frame = pmm_alloc();

	KTEST_EXPECT(frame != 0);
	return frame;
}

KTEST(vm, "a mapped page shows its frame, both ways, through the MMU")
{
	pte_t *pml4 = vm_active();
	uint64_t frame = test_frame(ktest), pa = 0;
	volatile uint64_t *direct = phys_to_virt(frame);
	volatile uint64_t *mapped = (volatile uint64_t *)(TEST_VA + 0x5000);

	if (!frame)
		return;
	KTEST_EXPECT_EQ(vm_translate(pml4, (uintptr_t)mapped, NULL, NULL), -ENOENT);
	direct[0] = 0x600df00d12345678UL;
	KTEST_ASSERT_EQ(vm_map(pml4, (uintptr_t)mapped, frame, PAGE_SIZE,
			       PTE_WRITABLE | PTE_NX), 0);
	KTEST_EXPECT_EQ(mapped[0], 0x600df00d12345678UL);
	mapped[1] = 0xfeedface;
	KTEST_EXPECT_EQ(direct[1], 0xfeedface);
	KTEST_EXPECT_EQ(vm_translate(pml4, (uintptr_t)mapped + 8, &pa, NULL), 0);
	KTEST_EXPECT_EQ(pa, frame + 8);
	KTEST_EXPECT_EQ(vm_unmap(pml4, (uintptr_t)mapped, PAGE_SIZE), 0);
	KTEST_EXPECT_EQ(vm_translate(pml4, (uintptr_t)mapped, NULL, NULL), -ENOENT);
	pmm_free(frame);
}

KTEST(vm, "a page mapped again after an unmap shows the new frame")
{
	pte_t *pml4 = vm_active();
	uint64_t a = test_frame(ktest), b = test_frame(ktest);
	volatile uint64_t *mapped = (volatile uint64_t *)TEST_VA;

	if (!a || !b)
		return;
	*(volatile uint64_t *)phys_to_virt(a) = 0xaaaa;
	*(volatile uint64_t *)phys_to_virt(b) = 0xbbbb;
	KTEST_ASSERT_EQ(vm_map(pml4, TEST_VA, a, PAGE_SIZE, PTE_NX), 0);
	KTEST_EXPECT_EQ(*mapped, 0xaaaa);
	/* Without INVLPG in vm_unmap, the TLB would still give frame a. */
	KTEST_EXPECT_EQ(vm_unmap(pml4, TEST_VA, PAGE_SIZE), 0);
	KTEST_ASSERT_EQ(vm_map(pml4, TEST_VA, b, PAGE_SIZE, PTE_NX), 0);
	KTEST_EXPECT_EQ(*mapped, 0xbbbb);
	vm_unmap(pml4, TEST_VA, PAGE_SIZE);
	pmm_free(a);
	pmm_free(b);
}

KTEST(vm, "protect changes what a mapping allows, and says so")
{
	pte_t *pml4 = vm_active();
	uint64_t frame = test_frame(ktest);
	pte_t flags = 0;

	if (!frame)
		return;
	KTEST_ASSERT_EQ(vm_map(pml4, TEST_VA, frame, PAGE_SIZE, PTE_NX), 0);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_VA, NULL, &flags), 0);
	KTEST_EXPECT(!(flags & PTE_WRITABLE));
	KTEST_EXPECT_EQ(vm_protect(pml4, TEST_VA, PAGE_SIZE, PTE_WRITABLE | PTE_NX), 0);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_VA, NULL, &flags), 0);
	KTEST_EXPECT(flags & PTE_WRITABLE);
	*(volatile uint64_t *)TEST_VA = 42;	/* faults if the TLB kept read-only */
	KTEST_EXPECT_EQ(*(volatile uint64_t *)phys_to_virt(frame), 42);
	KTEST_EXPECT_EQ(vm_protect(pml4, TEST_VA, 2 * PAGE_SIZE, 0), -ENOENT);
	vm_unmap(pml4, TEST_VA, PAGE_SIZE);
	pmm_free(frame);
}

KTEST(vm, "a 2 MiB range maps as one large page, and splits when cut")
{
	pte_t *pml4 = vm_active();
	/* Physical 2..4 MiB is RAM in any machine fern boots on (-m 8M up). */
	uint64_t pa = 2UL << 20;
	volatile uint64_t *big = (volatile uint64_t *)TEST_LARGE_VA;
	pte_t flags = 0;
	bool same = true;

	KTEST_ASSERT_EQ(vm_map(pml4, TEST_LARGE_VA, pa, LARGE_PAGE_SIZE, PTE_NX), 0);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_LARGE_VA + 0x12345, NULL, &flags), 0);
	KTEST_EXPECT(flags & PTE_HUGE);
	KTEST_EXPECT_EQ(big[0x1fff8 / 8], *(volatile uint64_t *)phys_to_virt(pa + 0x1fff8));
	/* Cut out one page in the middle: the other 511 must stay. */
	KTEST_EXPECT_EQ(vm_unmap(pml4, TEST_LARGE_VA + 0x100000, PAGE_SIZE), 0);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_LARGE_VA + 0x100000, NULL, NULL), -ENOENT);
	for (uint64_t off = 0; off < LARGE_PAGE_SIZE; off += PAGE_SIZE) {
		if (off == 0x100000)
			continue;
		same &= big[off / 8] == *(volatile uint64_t *)phys_to_virt(pa + off);
	}
	KTEST_EXPECT(same);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_LARGE_VA + 0xff000, NULL, &flags), 0);
	KTEST_EXPECT(!(flags & PTE_HUGE));
	KTEST_EXPECT_EQ(vm_unmap(pml4, TEST_LARGE_VA, LARGE_PAGE_SIZE), -ENOENT);
	KTEST_EXPECT_EQ(vm_translate(pml4, TEST_LARGE_VA, NULL, NULL), -ENOENT);
}

/* The access a page of the kernel window has: PTE_WRITABLE, PTE_NX. */
static pte_t access_of(uintptr_t va)
{
	pte_t flags = 0;

	if (vm_translate(vm_active(), va, NULL, &flags) < 0)
		return ~0UL;
	return flags & (PTE_WRITABLE | PTE_NX);
}

KTEST(vm, "kernel text is read-only and executable, the rest not executable")
{
	KTEST_ASSERT(mm_remapped());
	KTEST_EXPECT_EQ(access_of((uintptr_t)__text_start), 0);
	KTEST_EXPECT_EQ(access_of((uintptr_t)__rodata_start), PTE_NX);
	KTEST_EXPECT_EQ(access_of((uintptr_t)__data_start), PTE_WRITABLE | PTE_NX);
	KTEST_EXPECT_EQ(access_of((uintptr_t)phys_to_virt(0x100000)), PTE_NX);
	KTEST_EXPECT_EQ(access_of((uintptr_t)phys_to_virt(virt_to_phys(__text_start))), PTE_NX);
}

KTEST(vm, "no page of the kernel window is both writable and executable")
{
	uintptr_t bad = 0;

	KTEST_ASSERT(mm_remapped());
	for (uintptr_t va = KERNEL_VMA; va < (uintptr_t)__kernel_end; va += PAGE_SIZE) {
		if (access_of(va) == PTE_WRITABLE) {
			bad = va;
			break;
		}
	}
	KTEST_EXPECT_EQ(bad, 0);
}

KTEST(vm, "the NULL page and the old identity map are not mapped")
{
	pte_t *pml4 = vm_active();

	KTEST_ASSERT(mm_remapped());
	KTEST_EXPECT_EQ(vm_translate(pml4, 0, NULL, NULL), -ENOENT);
	KTEST_EXPECT_EQ(vm_translate(pml4, 0xb8000, NULL, NULL), -ENOENT);
	KTEST_EXPECT_EQ(vm_translate(pml4, virt_to_phys(__text_start), NULL, NULL), -ENOENT);
}

KTEST(vm, "stacks have unmapped guard pages below them")
{
	pte_t *pml4 = vm_active();
	/* This test runs on the boot stack. */
	const struct kernel_stack *boot = kernel_stack_at((uintptr_t)__builtin_frame_address(0));
	const struct kernel_stack *s;
	unsigned int stacks = 0;

	KTEST_ASSERT(mm_remapped());
	KTEST_ASSERT(boot != NULL);
	KTEST_EXPECT_STREQ(boot->name, "the boot stack");
	KTEST_EXPECT_STREQ(mm_guard_page_stack(kernel_stack_guard(boot) + 100),
			   "the boot stack");
	KTEST_EXPECT(mm_guard_page_stack((uintptr_t)boot->bottom) == NULL);
	for_each_kernel_stack(s) {
		uintptr_t bottom = (uintptr_t)s->bottom;

		KTEST_EXPECT_EQ(vm_translate(pml4, kernel_stack_guard(s), NULL, NULL), -ENOENT);
		KTEST_EXPECT_EQ(vm_translate(pml4, bottom, NULL, NULL), 0);
		KTEST_EXPECT_EQ(vm_translate(pml4, (uintptr_t)s->top - 1, NULL, NULL), 0);
		KTEST_EXPECT(bottom - kernel_stack_guard(s) < 2 * PAGE_SIZE);
		stacks++;
	}
	/* The boot stack and one per IST slot. */
	KTEST_EXPECT_EQ(stacks, 1 + IST_STACKS);
}
