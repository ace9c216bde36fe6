/*
 * The kernel's address space: built once at boot, then named in fault
 * reports. The layout is the table in include/fern/layout.h, and the
 * kernel window's parts are listed in include/fern/mm.h.
 *
 * The boot code (src/boot/entry.asm) left us page tables that map the
 * first GiB twice, at 0 and at KERNEL_VMA, all of it writable and
 * executable. They got us into long mode; they are too generous to keep:
 *
 * - a stray write can change the kernel's code, and a jump into data runs
 *   it; W^X (write xor execute) says no page may be both;
 * - a NULL pointer is a valid address while the identity map exists;
 * - memory above 1 GiB cannot be reached at all.
 *
 * So mm_init() builds new tables: a direct map of all RAM, the kernel
 * image section by section with the least access each needs, and nothing
 * in the lower half. Then it loads them into CR3, and the boot tables and
 * their identity map are gone.
 */
#include <fern/boot.h>
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/cpu.h>
#include <fern/errno.h>
#include <fern/init.h>
#include <fern/layout.h>
#include <fern/mm.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <fern/x86.h>

/* Symbols of the linker script (src/boot/linker.ld.S). */
extern char __kernel_phys_start[], __kernel_phys_end[];
extern char __text_start[], __rodata_start[], __data_start[];
extern char __bss_start[], __bss_end[], __kernel_end[];

/* The PML4 entry that maps @va: bits 47..39. */
#define PML4_INDEX(va)	(((va) >> 39) & (PT_ENTRIES - 1))

/* CPUID leaf 0x80000001, EDX bit 20: the XD/NX bit exists (SDM vol. 2A). */
#define CPUID_EXT_INFO	0x80000001
#define CPUID_EDX_NX	(1U << 20)
/* Paging controls (SDM vol. 3 §2.5 and §2.2.1). */
#define CR0_WP		(1UL << 16)	/* supervisor writes obey read-only pages */
#define MSR_EFER	0xc0000080
#define EFER_NXE	(1UL << 11)	/* PTE_NX is a flag, not a reserved bit */

/*
 * One part of the kernel window: the first MiB, or a section of the image.
 * The linker script starts each section on a 4 KiB boundary, so that each
 * can have its own page protection.
 */
struct kernel_section {
	const char *name;
	uintptr_t start, end;	/* virtual, in the kernel window */
	pte_t flags;
};

#define MAX_SECTIONS	8

static struct {
	bool direct;		/* phys_to_virt() works (for the first GiB at least) */
	bool remapped;		/* the kernel's own tables are in CR3 */
	uint64_t direct_top;	/* the direct map covers physical 0 .. this */
	struct phys_range mbi;	/* the boot information */
	struct phys_range reserved[PMM_MAX_RESERVED];
	size_t reserved_count;
} mm;

/*
 * The kernel window, part by part, from low to high. The .bss part ends on
 * the page boundary after __bss_end; the symbol table (.ksyms) follows it
 * up to __kernel_end.
 */
static size_t kernel_sections(struct kernel_section *s)
{
	uintptr_t image = KERNEL_VMA + (uintptr_t)__kernel_phys_start;
	uintptr_t bss_end = ALIGN_UP((uintptr_t)__bss_end, PAGE_SIZE);
	uintptr_t end = ALIGN_UP((uintptr_t)__kernel_end, PAGE_SIZE);
	size_t n = 0;

	s[n++] = (struct kernel_section){ "low memory (the first MiB)",
		KERNEL_VMA, KERNEL_VMA + LOW_MEMORY_SIZE, PTE_WRITABLE | PTE_NX };
	s[n++] = (struct kernel_section){ "the boot code (.boot)",
		image, (uintptr_t)__text_start, PTE_NX };
	s[n++] = (struct kernel_section){ "kernel text",
		(uintptr_t)__text_start, (uintptr_t)__rodata_start, 0 };
	s[n++] = (struct kernel_section){ "kernel rodata",
		(uintptr_t)__rodata_start, (uintptr_t)__data_start, PTE_NX };
	s[n++] = (struct kernel_section){ "kernel data",
		(uintptr_t)__data_start, (uintptr_t)__bss_start, PTE_WRITABLE | PTE_NX };
	s[n++] = (struct kernel_section){ "kernel bss",
		(uintptr_t)__bss_start, bss_end, PTE_WRITABLE | PTE_NX };
	if (end > bss_end)
		s[n++] = (struct kernel_section){ "the symbol table (.ksyms)",
			bss_end, end, PTE_NX };
	return n;
}

/*
 * The name of the stack whose guard page holds @addr, or NULL. Every
 * kernel stack (the table of layout.h: the boot stack, the IST stacks)
 * has a page-aligned guard page below it, which stays unmapped.
 */
static const char *stack_guarded_by(uintptr_t addr)
{
	const struct kernel_stack *s;

	for_each_kernel_stack(s) {
		uintptr_t guard = kernel_stack_guard(s);

		if (addr >= guard && addr < guard + PAGE_SIZE)
			return s->name;
	}
	return NULL;
}

/* The memory map regions that are RAM, and so go into the direct map. */
static bool is_ram(uint32_t type)
{
	return type == MB2_MEMORY_AVAILABLE ||
	       type == MB2_MEMORY_ACPI_RECLAIMABLE || type == MB2_MEMORY_NVS;
}

/*
 * What the frame allocator must never hand out: the first MiB (the
 * real-mode interrupt table, the BIOS data areas, the VGA buffer, and
 * where firmware likes to leave tables), the kernel image where GRUB
 * loaded it, the boot information, into which boot_info still points,
 * and the boot modules GRUB loaded.
 */
static void collect_reserved(const struct boot_info *info)
{
	size_t n = 0;

	mm.reserved[n++] = (struct phys_range){ 0, LOW_MEMORY_SIZE, "the first MiB" };
	mm.reserved[n++] = (struct phys_range){ (uintptr_t)__kernel_phys_start,
		(uintptr_t)__kernel_phys_end, "the kernel image" };
	if (info->mbi_size) {
		mm.mbi = (struct phys_range){ info->mbi_phys,
			info->mbi_phys + info->mbi_size, "the boot information" };
		mm.reserved[n++] = mm.mbi;
	}
	for (size_t i = 0; i < info->module_count; i++)
		mm.reserved[n++] = (struct phys_range){ info->modules[i].start,
			info->modules[i].end, "a boot module" };
	mm.reserved_count = n;
}

/*
 * Turn on the two controls W^X needs: EFER.NXE, without which bit 63 of an
 * entry is reserved and PTE_NX would fault instead of forbidding fetches
 * (SDM vol. 3 §4.1.2), and CR0.WP, without which the kernel could write
 * to read-only pages anyway (§4.6.1). Return false if the CPU has no NX.
 */
static bool enable_protection(void)
{
	if (!(cpuid(CPUID_EXT_INFO, 0).edx & CPUID_EDX_NX))
		return false;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	return true;
}

/*
 * Map all RAM at DIRECT_MAP_BASE, in 2 MiB pages: each 2 MiB block of
 * physical addresses that holds any RAM. The blocks also cover the odd
 * hole between regions, which does no harm; the large holes (the PCI
 * window below 4 GiB, say) stay unmapped, for drivers to map as they need.
 * (1 GiB pages would need fewer tables, but not every CPU has them: CPUID
 * 0x80000001 EDX bit 26, which QEMU's default CPU lacks.)
 */
static int map_direct(pte_t *pml4, const struct boot_info *info)
{
	uint64_t top = 0;

	for (size_t i = 0; i < info->region_count; i++) {
		const struct mem_region *r = &info->regions[i];

		if (is_ram(r->type) && r->base + r->length > top)
			top = r->base + r->length;
	}
	if (top > PMM_MAX_PHYS)
		top = PMM_MAX_PHYS;
	top = ALIGN_UP(top, LARGE_PAGE_SIZE);
	for (uint64_t p = 0; p < top; p += LARGE_PAGE_SIZE) {
		bool ram = false;
		int err;

		for (size_t i = 0; i < info->region_count && !ram; i++) {
			const struct mem_region *r = &info->regions[i];

			ram = is_ram(r->type) && r->base < p + LARGE_PAGE_SIZE &&
			      p < r->base + r->length;
		}
		if (!ram)
			continue;
		err = vm_map(pml4, DIRECT_MAP_BASE + p, p, LARGE_PAGE_SIZE,
			     PTE_WRITABLE | PTE_NX);
		if (err)
			return err;
	}
	mm.direct_top = top;
	return 0;
}

/*
 * Map the kernel window: each part with its own flags, page by page,
 * leaving out the guard page below each stack. Then give each part's alias
 * in the direct map the same access minus execute, so the code cannot be
 * rewritten through the direct map either.
 *
 * boot_info's strings (the loader's name, the command line) point into the
 * boot information through the kernel window (PHYS_TO_VIRT), so its pages
 * stay there too, read-only, wherever GRUB put it.
 */
static int map_kernel(pte_t *pml4)
{
	struct kernel_section s[MAX_SECTIONS];
	size_t n = kernel_sections(s);
	int err;


	for (size_t i = 0; i < n; i++) {
		uintptr_t phys = s[i].start - KERNEL_VMA;

		for (uintptr_t va = s[i].start; va < s[i].end; va += PAGE_SIZE) {
			if (stack_guarded_by(va))
				continue;
			err = vm_map(pml4, va, va - KERNEL_VMA, PAGE_SIZE, s[i].flags);
			if (err)
				return err;
		}
		if (i == 0 || s[i].end == s[i].start)
			continue;	/* the first MiB keeps its direct map */
		err = vm_protect(pml4, DIRECT_MAP_BASE + phys, s[i].end - s[i].start,
				 s[i].flags | PTE_NX);
		if (err)
			return err;
	}
	for (uint64_t p = ALIGN_DOWN(mm.mbi.start, PAGE_SIZE); p < mm.mbi.end;
	     p += PAGE_SIZE) {
		/* A page it shares with the image or the first MiB stays as it is. */
		if (vm_translate(pml4, KERNEL_VMA + p, NULL, NULL) == 0)
			continue;
		err = vm_map(pml4, KERNEL_VMA + p, p, PAGE_SIZE, PTE_NX);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Before loading the new tables into CR3, check with vm_translate() (which
 * reads them as the MMU will) that the code, the stack and the tables
 * themselves will still be there: a mistake here would otherwise be a
 * triple fault with nothing printed. Return what is wrong, or NULL.
 */
static const char *check_tables(const pte_t *pml4)
{
	struct kernel_section s[MAX_SECTIONS];
	const struct kernel_stack *stack;
	size_t n = kernel_sections(s);
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uint64_t pa;
	pte_t flags;

	for (size_t i = 0; i < n; i++) {
		pte_t want = s[i].flags | PTE_PRESENT;

		if (s[i].end == s[i].start)
			continue;
		if (vm_translate(pml4, s[i].start, &pa, &flags) < 0 ||
		    pa != s[i].start - KERNEL_VMA)
			return s[i].name;
		if ((flags & (PTE_PRESENT | PTE_WRITABLE | PTE_NX)) != want)
			return s[i].name;
	}
	if (vm_translate(pml4, ALIGN_DOWN(sp, PAGE_SIZE), &pa, NULL) < 0 ||
	    pa != ALIGN_DOWN(sp, PAGE_SIZE) - KERNEL_VMA)
		return "the stack";
	for_each_kernel_stack(stack) {
		if (vm_translate(pml4, kernel_stack_guard(stack), NULL, NULL) == 0)
			return "a stack's guard page (it is mapped)";
	}
	if (vm_translate(pml4, (uintptr_t)pml4, &pa, &flags) < 0 ||
	    pa != virt_to_phys(pml4) || !(flags & PTE_WRITABLE))
		return "the page tables (in the direct map)";
	if (vm_translate(pml4, 0, NULL, NULL) == 0)
		return "the lower half (it is mapped)";
	return NULL;
}

/*
 * Build the kernel's tables and switch to them. Return NULL, or what went
 * wrong, with the error number in @err.
 */
static const char *remap(const struct boot_info *info, pte_t *boot_pml4, int *err)
{
	pte_t *pml4;
	const char *bad;

	*err = -EINVAL;
	if (!enable_protection())
		return "this CPU has no NX bit (CPUID 0x80000001 EDX bit 20)";
	*err = -ENOMEM;
	pml4 = vm_create();
	if (!pml4)
		return "pmm_alloc() gives no frame";
	/*
	 * The direct map first, then at once let the boot tables use it too:
	 * from here on phys_to_virt() reaches all RAM, wherever the frames of
	 * the tables to come lie.
	 */
	*err = map_direct(pml4, info);
	if (*err)
		return "cannot build the direct map";
	boot_pml4[PML4_INDEX(DIRECT_MAP_BASE)] = pml4[PML4_INDEX(DIRECT_MAP_BASE)];
	write_cr3(read_cr3());

	*err = map_kernel(pml4);
	if (*err)
		return "cannot map the kernel image";
	bad = check_tables(pml4);
	if (bad) {
		*err = -EINVAL;
		kprintf("mm: the new page tables would map %s wrongly\n", bad);
		return "the new page tables are wrong";
	}
	/* Loading CR3 also flushes every translation of the old tables. */
	write_cr3(virt_to_phys(pml4));
	mm.remapped = true;
	return NULL;
}

int mm_init(const struct boot_info *info)
{
	pte_t *boot_pml4 = (pte_t *)PHYS_TO_VIRT(read_cr3() & PTE_ADDR);
	const char *why;
	int err;

	/*
	 * phys_to_virt() must work before the direct map is built, for the
	 * allocator's bitmap and the new tables: until then, the direct
	 * map's PML4 entry borrows the identity map's table for the first
	 * GiB. The boot PML4 itself is reachable through the boot window,
	 * PHYS_TO_VIRT (layout.h).
	 */
	boot_pml4[PML4_INDEX(DIRECT_MAP_BASE)] = boot_pml4[0];
	mm.direct = true;
	/* From now on, fault reports say what lies at the faulting address. */
	exception_set_address_explainer(mm_explain_address);

	collect_reserved(info);
	err = pmm_init(info->regions, info->region_count, mm.reserved,
		       mm.reserved_count);
	if (err) {
		kprintf("mm: error: no room for the frame allocator in RAM below 1 GiB (%d); "
			"keeping the boot page tables\n", err);
		return err;
	}
	why = remap(info, boot_pml4, &err);
	kprintf("mm: %lu frames (%lu KiB) of RAM managed, %lu free\n",
		pmm_total_frames(), pmm_total_frames() * (PAGE_SIZE / 1024),
		pmm_free_frames());
	if (why) {
		kprintf("mm: error: %s (%d); keeping the boot page tables\n", why, err);
		return err;
	}
	kprintf("mm: kernel remapped W^X, physical 0-%lu MiB direct-mapped at 0x%lx, "
		"identity map removed\n", mm.direct_top >> 20, DIRECT_MAP_BASE);
	return 0;
}

/* Init level INIT_MM; `mm=verbose` also prints the layout. */
static int mm_start(const struct boot_info *info)
{
	int err = mm_init(info);

	if (cmdline_is(info->cmdline, "mm", "verbose"))
		mm_print_layout();
	return err;
}
INITCALL(INIT_MM, mm_start);

bool mm_remapped(void)
{
	return mm.remapped;
}

const char *mm_guard_page_stack(uintptr_t addr)
{
	return stack_guarded_by(addr);
}

const char *mm_region_name(uintptr_t addr)
{
	struct kernel_section s[MAX_SECTIONS];
	size_t n = kernel_sections(s);
	const struct kernel_stack *stack = kernel_stack_at(addr);

	if (addr < PAGE_SIZE)
		return "the NULL page";
	if (stack_guarded_by(addr))
		return "a stack's guard page";
	if (addr < LOWER_HALF_END)
		return "the lower half (nothing is mapped there)";
	if (addr < UPPER_HALF_BASE)
		return "the non-canonical hole (no address there is valid)";
	if (addr >= DIRECT_MAP_BASE && addr < DIRECT_MAP_BASE + mm.direct_top)
		return "the direct map";
	if (stack)
		return stack->name;
	for (size_t i = 0; i < n; i++) {
		if (addr >= s[i].start && addr < s[i].end)
			return s[i].name;
	}
	if (addr >= KERNEL_VMA + mm.mbi.start && addr < KERNEL_VMA + mm.mbi.end)
		return mm.mbi.what;
#if FERN_CHAPTER >= 5
	if (addr >= KHEAP_BASE && addr - KHEAP_BASE < KHEAP_SIZE)
		return "the kernel heap";
#endif
	if (addr >= MMIO_BASE && addr - MMIO_BASE < MMIO_SIZE)
		return "the device window (nothing is mapped there yet)";
	return "no region (unmapped kernel space)";
}

/* "rwx" for the flags of an entry, as `info mem` would show them. */
static void access_string(pte_t flags, char out[4])
{
	out[0] = 'r';
	out[1] = flags & PTE_WRITABLE ? 'w' : '-';
	out[2] = flags & PTE_NX ? '-' : 'x';
	out[3] = '\0';
}

void mm_explain_address(uintptr_t addr)
{
	const char *stack = stack_guarded_by(addr);
	pte_t flags;
	char access[4];

	if (stack) {
		kprintf("  address: 0x%016lx is the guard page below %s: a stack overflow\n",
			addr, stack);
		return;
	}
	/* The page tables are readable only once phys_to_virt() works. */
	if (mm.direct && vm_translate(vm_active(), addr, NULL, &flags) == 0) {
		access_string(flags, access);
		kprintf("  address: 0x%016lx is in %s (mapped %s)\n", addr,
			mm_region_name(addr), access);
	} else {
		kprintf("  address: 0x%016lx is in %s (not mapped)%s\n", addr,
			mm_region_name(addr),
			addr < PAGE_SIZE ? ": a NULL pointer dereference" : "");
	}
}

/* The layout, for `mm=verbose` and the shell's `mm` command. */
void mm_print_layout(void)
{
	struct kernel_section s[MAX_SECTIONS];
	const struct kernel_stack *stack;
	size_t n = kernel_sections(s);
	char access[4];

	for (size_t i = 0; i < mm.reserved_count; i++)
		kprintf("mm: reserved 0x%016lx-0x%016lx %s\n", mm.reserved[i].start,
			mm.reserved[i].end, mm.reserved[i].what);
	kprintf("mm: map 0x%016lx-0x%016lx rw- the direct map\n", DIRECT_MAP_BASE,
		DIRECT_MAP_BASE + mm.direct_top);
	for (size_t i = 0; i < n; i++) {
		access_string(s[i].flags, access);
		kprintf("mm: map 0x%016lx-0x%016lx %s %s\n", s[i].start, s[i].end,
			access, s[i].name);
	}
	if (mm.mbi.end)
		kprintf("mm: map 0x%016lx-0x%016lx r-- %s\n", KERNEL_VMA + mm.mbi.start,
			KERNEL_VMA + mm.mbi.end, mm.mbi.what);
	for_each_kernel_stack(stack)
		kprintf("mm: guard 0x%016lx-0x%016lx --- below %s\n",
			kernel_stack_guard(stack), kernel_stack_guard(stack) + PAGE_SIZE,
			stack->name);
	kprintf("mm: window 0x%016lx-0x%016lx --- the device window, for device registers (unmapped)\n",
		MMIO_BASE, MMIO_BASE + MMIO_SIZE);
	kprintf("mm: %lu of %lu frames free\n", pmm_free_frames(), pmm_total_frames());
}

static int cmd_mm(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mm_print_layout();
	return 0;
}
KCMD(mm, "show the memory layout and the free frames", cmd_mm);
