/**
 * @file init.h
 * @brief Init calls: how a chapter adds its initialisation to the boot by
 *        declaring it in its own file, in the style of Linux's initcall
 *        levels.
 *
 * @code
 * static int heap_start(const struct boot_info *info)
 * {
 *	(void)info;
 *	return kheap_init();
 * }
 * INITCALL(INIT_HEAP, heap_start);
 * @endcode
 *
 * INITCALL() puts a struct initcall in the linker section `.initcalls`.
 * kmain runs the levels in the order of enum init_level, and each level's
 * calls in link order (the order of the chapter manifests). The levels,
 * what each needs and where kmain runs them are listed in
 * src/boot/kmain.c.
 *
 * An init call returns 0, or a negative error number after saying what
 * went wrong. A level in which a call failed has not started, and a level
 * that needs it is then not run at all: the layers above a layer that
 * could not start never start on it.
 */
#ifndef FERN_INIT_H
#define FERN_INIT_H

#include <stdbool.h>

struct boot_info;

/**
 * The init levels, in the order kmain runs them. A level may be empty in
 * a chapter that does not have it yet; kmain runs it all the same.
 */
enum init_level {
	INIT_CPU,	/**< GDT, IDT, PIC, timer, interrupts on (chapter 3) */
	INIT_DRIVERS,	/**< input devices by IRQ: keyboard, COM1 (chapter 3) */
	INIT_MM,	/**< frames and the kernel's page tables (chapter 4) */
	INIT_HEAP,	/**< kmalloc (chapter 5) */
	INIT_DEVICES,	/**< PCI devices, matched to their drivers (chapter 6) */
	INIT_NET,	/**< the network stack (chapter 7) */
	INIT_APP,	/**< the application (chapter 8) */
	INIT_LEVELS	/**< how many levels there are */
};

/** One init call, as INITCALL() lays it out in `.initcalls`. */
struct initcall {
	/** Start something; 0 or a negative error number. */
	int (*fn)(const struct boot_info *info);
	const char *name;		/**< the function's name, for messages */
	enum init_level level;		/**< when it runs */
};

/**
 * Run @p fn at init level @p level. @p fn gets the boot information,
 * whose cmdline is the whole command line (GRUB's and fw_cfg's options).
 */
#define INITCALL(level, fn)						\
	static const struct initcall initcall_##fn			\
	__attribute__((used, section(".initcalls"), aligned(8))) =	\
		{ fn, #fn, level }

/**
 * Who runs the idle time once the boot is done, declared with BOOT_IDLE():
 * @c run never returns, and gets whether the command line asked for the
 * shell (which it then runs among its other work). kmain hands the end of
 * the boot to the first one; until a chapter declares one (chapter 7's
 * event loop), the shell or idle_forever() has it.
 */
struct boot_idle {
	__attribute__((noreturn)) void (*run)(bool shell); /**< runs the rest of the boot */
	const char *name;		/**< the function's name */
};

/**
 * Make @p fn the owner of the idle time at the end of the boot (in a file
 * that includes table.h). One per kernel.
 */
#define BOOT_IDLE(fn)							\
	static const struct boot_idle boot_idle_##fn			\
	TABLE_ENTRY(boot_idle) = { fn, #fn }

#endif
