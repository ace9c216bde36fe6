/**
 * @file shell.h
 * @brief A tiny command shell on the console, for poking at a running
 *        kernel by hand or from a test.
 *
 * Commands are declared where they are implemented, like tests:
 *
 * @code
 * static int cmd_echo(int argc, char **argv) { ... }
 * KCMD(echo, "print the arguments", cmd_echo);
 * @endcode
 *
 * KCMD() puts a struct kcmd in the linker section `.kcmds`; the shell
 * finds every command there, so a later chapter adds a command (a heap
 * report, say) with one declaration and no edit to the shell.
 */
#ifndef FERN_SHELL_H
#define FERN_SHELL_H

/** A command's function: arguments as in C's main(); 0 means success. */
typedef int (*kcmd_fn)(int argc, char **argv);

/** One shell command, as KCMD() lays it out in the `.kcmds` section. */
struct kcmd {
	const char *name;	/**< what the user types */
	const char *help;	/**< one line for `help` */
	kcmd_fn fn;		/**< what runs; argv[0] is the name */
};

/** @cond INTERNAL */
/* As in ktest.h: keep the commands of a file in the order of the source. */
#ifdef __clang__
#define KCMD_IN_ORDER
#else
#define KCMD_IN_ORDER __attribute__((no_reorder))
#endif
/** @endcond */

/** Declare the command @p name (a bare word), described by @p help. */
#define KCMD(name, help, fn)						\
	static const struct kcmd kcmd_##fn KCMD_IN_ORDER		\
		__attribute__((used, section(".kcmds"), aligned(8))) =	\
		{ #name, help, fn }

/** The prompt the shell prints before reading each line. */
#define SHELL_PROMPT "fern> "

/**
 * Do the shell's work for the input that is waiting, and return without
 * waiting for more: print the prompt the first time, edit the line with
 * each queued byte, and run each line that is finished (printing the
 * prompt again after it). Whoever owns the idle time calls it again when
 * input may have arrived; chapter 7's event loop does so.
 */
void shell_poll(void);

/**
 * Run the shell forever (the `exit` command leaves QEMU): shell_poll(),
 * then console_wait_input(), in a loop. kmain runs it as the boot's idle
 * work when the command line has `shell`.
 */
__attribute__((noreturn)) void shell_run(void);

#endif
