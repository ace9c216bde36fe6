/*
 * kmain: the first C function, and the boot sequence. Read it top to
 * bottom.
 *
 * Each chapter adds its initialisation by declaring an init call in its
 * own file (INITCALL(), init.h), not by editing this one: kmain runs the
 * levels below in order, and a level whose calls failed, or whose needs
 * did not start, leaves everything that needs it unstarted. Then kmain
 * alone decides how the boot ends: the tests' status, the shell, or idle.
 */
#include <fern/boot.h>
#include <fern/cmdline.h>
#include <fern/console.h>
#include <fern/exit.h>
#include <fern/init.h>
#include <fern/layout.h>
#if FERN_CHAPTER >= 2
#include <fern/ktest.h>
#include <fern/shell.h>
#include <fern/table.h>
#endif
#if FERN_CHAPTER >= 3
#include <fern/cpu.h>
#endif
#include <fern/string.h>
#include <fern/x86.h>

#define LEVEL(l)	(1U << (l))

/*
 * The init levels, in the order they run, and what each needs to have
 * started. A level with no init call in this chapter starts trivially.
 *
 *   cpu      (chapter 3) the GDT, TSS and IDT, so that a fault is reported
 *            instead of resetting the machine; the PIC and the timer;
 *            interrupts on. Runs before the boot information is read.
 *   drivers  (chapter 3) input by interrupt: the PS/2 keyboard, COM1.
 *   mm       (chapter 4) frames from the memory map, the kernel's own page
 *            tables (W^X, a direct map of RAM, guard pages).
 *   heap     (chapter 5) kmalloc, in a range of its own, mapped on demand.
 *   devices  (chapter 6) PCI devices, each matched to its driver.
 *   net      (chapter 7) the network stack on the devices.
 *   app      (chapter 8) the application on the network.
 */
static const struct {
	const char *name;
	unsigned int needs;
} levels[INIT_LEVELS] = {
	[INIT_CPU] = { "cpu", 0 },
	[INIT_DRIVERS] = { "drivers", LEVEL(INIT_CPU) },
	[INIT_MM] = { "mm", 0 },
	[INIT_HEAP] = { "heap", LEVEL(INIT_MM) },
	[INIT_DEVICES] = { "devices", LEVEL(INIT_CPU) | LEVEL(INIT_HEAP) },
	[INIT_NET] = { "net", LEVEL(INIT_DEVICES) },
	[INIT_APP] = { "app", LEVEL(INIT_NET) },
};

extern const struct initcall __initcalls_start[], __initcalls_end[];

/*
 * The boot stack, which entry.asm sets up and kmain, and everything it
 * calls, runs on: 16 KiB, with a 4 KiB page below it that the page tables
 * leave unmapped, so that an overflow faults there instead of silently
 * overwriting whatever lies below. Declared for the table of the kernel's
 * stacks (layout.h), which panic() and the memory code read.
 */
extern char boot_stack_bottom[], boot_stack_top[];
KERNEL_STACK(boot, "the boot stack", boot_stack_bottom, boot_stack_top);

/* The levels that have started. */
static unsigned int started;

/*
 * Run the init calls of @level, unless a level it needs has not started:
 * then say so and run none. The level has started if every call returned
 * 0. A level with calls is a boot phase of its own (`bench`).
 */
static void run_level(enum init_level level, const struct boot_info *info)
{
	unsigned int missing = levels[level].needs & ~started;
	bool ok = true, ran = false;
	const struct initcall *c;

	for (c = __initcalls_start; c < __initcalls_end; c++)
		ran |= c->level == level;
	if (ran && missing) {
		for (int l = 0; l < INIT_LEVELS; l++) {
			if (missing & LEVEL(l))
				kprintf("init: %s: not started: it needs %s, which did not start\n",
					levels[level].name, levels[l].name);
		}
		return;
	}
	for (c = __initcalls_start; c < __initcalls_end; c++) {
		if (c->level == level && c->fn(info) != 0)
			ok = false;
	}
	if (ok && !missing)
		started |= LEVEL(level);
	if (ran)
		boot_phase(levels[level].name);
}

#if FERN_CHAPTER >= 2
/*
 * Who may own the idle time once the boot is done: a table that is empty
 * until chapter 7 declares its event loop there (BOOT_IDLE(), init.h).
 */
LINKER_TABLE(struct boot_idle, boot_idle);
#endif

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

/*
 * How the boot ends, decided here alone. `test=...` runs in-kernel tests,
 * whose result is the exit status (so the harness reads it), unless
 * `idle=1` asks to halt so the harness can inspect the machine, or
 * `shell` asks for the shell after them. `exit=ready` ends the run
 * instead of idling (or running the shell). What is left is idle time:
 * the event loop's from chapter 7 on (the shell is then one of its
 * clients), else the shell's if the command line asks for it, else
 * nobody's.
 */
static __attribute__((noreturn)) void boot_end(void)
{
	bool shell = cmdline_get(cmdline, "shell", NULL, 0);
#if FERN_CHAPTER >= 2
	const struct boot_idle *idle;
	enum ktest_result tests = ktest_main(cmdline);

	if (tests != KTEST_NOT_ASKED && cmdline_is(cmdline, "idle", "1"))
		halt_forever();
	if (tests != KTEST_NOT_ASKED && !shell)
		machine_exit(tests == KTEST_PASSED);
#endif
	(void)shell;
	/* A benchmark or a test may ask for the run to end here. */
	if (cmdline_is(cmdline, "exit", "ready"))
		machine_exit(true);
#if FERN_CHAPTER >= 2
	for_each_table_entry(idle, boot_idle)
		idle->run(shell);
	if (shell)
		shell_run();
#endif
#if FERN_CHAPTER >= 3
	idle_forever();
#else
	halt_forever();
#endif
}

void kmain(uint32_t magic, uint32_t mbi_phys)
{
	static struct boot_info info;

#if FERN_CHAPTER >= 2
	/*
	 * Before anything else: a protected function that starts with the
	 * canary still 0 and returns after it changed would fail its check
	 * (stack_protector.c). kmain itself never returns.
	 */
	stack_guard_init();
#endif
	boot_phase("loader");
	console_init();
	kprintf("fern: hello from 64-bit long mode (chapter %d)\n", FERN_CHAPTER);
	boot_phase("console");
	run_level(INIT_CPU, &info);
	run_level(INIT_DRIVERS, &info);

	if (magic != MB2_BOOT_MAGIC) {
		kprintf("boot: error: bad Multiboot2 magic 0x%x\n", magic);
		halt_forever();
	}
	multiboot2_parse(mbi_phys, &info);
	boot_info_print(&info);
	boot_phase("multiboot");
	assemble_cmdline(&info);
	info.cmdline = cmdline;
	boot_phase("cmdline");

	for (enum init_level l = INIT_MM; l < INIT_LEVELS; l++)
		run_level(l, &info);

	/* `bench`: say where the time went, for `make bench`. */
	if (cmdline_is(cmdline, "bench", ""))
		boot_phases_print();
	kprintf("fern: ready\n");
	boot_end();
}
