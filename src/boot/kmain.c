/*
 * kmain: the first C function, and the place where each chapter plugs in
 * its initialisation. Read it top to bottom: it is the boot sequence.
 */
#include <fern/boot.h>
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/exit.h>
#if FERN_CHAPTER >= 2
#include <fern/ktest.h>
#include <fern/shell.h>
#endif
#if FERN_CHAPTER >= 3
#include <fern/cpu.h>
#include <fern/drivers.h>
#endif
#if FERN_CHAPTER >= 4
#include <fern/mm.h>
#endif
#if FERN_CHAPTER >= 5
#include <fern/heap.h>
#endif
#include <fern/string.h>
#include <fern/x86.h>

/* GRUB's command line followed by the options QEMU passed through fw_cfg. */
static char cmdline[2 * BOOT_CMDLINE_MAX];

/*
 * Build the command line the kernel obeys. The GRUB menu entry holds the
 * options that every boot of this ISO shares; the test harness appends its
 * own (which tests to run, its nonce) through fw_cfg, so choosing a test
 * never needs a rebuild.
 */
static void assemble_cmdline(const struct boot_info *info)
{
	char extra[BOOT_CMDLINE_MAX];
	size_t len = 0;
	int n;

	if (info->cmdline) {
		len = strnlen(info->cmdline, BOOT_CMDLINE_MAX - 1);
		memcpy(cmdline, info->cmdline, len);
	}
	n = fw_cfg_read_file(FW_CFG_CMDLINE_FILE, extra, sizeof(extra));
	if (n == -2)
		kprintf("boot: error: fw_cfg %s is longer than %d bytes; ignored\n",
			FW_CFG_CMDLINE_FILE, BOOT_CMDLINE_MAX - 1);
	if (n > 0) {
		kprintf("boot: fw_cfg options \"%s\"\n", extra);
		if (len)
			cmdline[len++] = ' ';
		memcpy(cmdline + len, extra, (size_t)n);
		len += (size_t)n;
	}
	cmdline[len] = '\0';
}

void kmain(uint32_t magic, uint32_t mbi_phys)
{
	static struct boot_info info;

	boot_phase("loader");
	console_init();
	kprintf("fern: hello from 64-bit long mode (chapter %d)\n", FERN_CHAPTER);
	boot_phase("console");
#if FERN_CHAPTER >= 3

	/*
	 * Chapter 3: the CPU's tables, so that from here on a fault is
	 * reported instead of resetting the machine; then the interrupt
	 * controller and the timer, interrupts on, and the input devices.
	 */
	if (interrupts_init() == 0) {
		keyboard_init();
		serial_irq_init();
	}
	boot_phase("interrupts");
#endif

	if (magic != MB2_BOOT_MAGIC) {
		kprintf("boot: error: bad Multiboot2 magic 0x%x\n", magic);
		halt_forever();
	}
	multiboot2_parse(mbi_phys, &info);
	boot_info_print(&info);
	boot_phase("multiboot");
	assemble_cmdline(&info);
	boot_phase("cmdline");
#if FERN_CHAPTER >= 4

	/*
	 * Chapter 4: frames from the memory map, then the kernel's own page
	 * tables (W^X, a direct map of RAM, guard pages, no identity map).
	 * `mm=verbose` also prints the layout.
	 */
	mm_init(&info);
	if (cmdline_is(cmdline, "mm", "verbose"))
		mm_print_layout();
	boot_phase("mm");
#endif
#if FERN_CHAPTER >= 5

	/*
	 * Chapter 5: the heap, in a range of its own; its pages are mapped
	 * as it grows, so this maps nothing yet.
	 */
	kheap_init();
	boot_phase("heap");
#endif

	/* `bench`: say where the time went, for `make bench`. */
	if (cmdline_is(cmdline, "bench", ""))
		boot_phases_print();
	kprintf("fern: ready\n");
#if FERN_CHAPTER >= 2

	/* `test=...` runs in-kernel tests; `shell` reads commands on COM1. */
	ktest_main(cmdline);
	if (cmdline_get(cmdline, "shell", NULL, 0))
		shell_run();
#endif

	/* A benchmark or a test may ask for the run to end here. */
	if (cmdline_is(cmdline, "exit", "ready"))
		machine_exit(true);
#if FERN_CHAPTER >= 3
	idle_forever();
#else
	halt_forever();
#endif
}
