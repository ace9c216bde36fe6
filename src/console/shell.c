/*
 * The shell: read a line, split it into words, run the command the first
 * word names. It is the consumer of console_readline(), and a way for a
 * test to drive the kernel over the serial line.
 */
#include <fern/console.h>
#include <fern/exit.h>
#include <fern/shell.h>
#include <fern/string.h>

#define SHELL_LINE_MAX	128
#define SHELL_ARGS_MAX	16

extern const struct kcmd __kcmds_start[], __kcmds_end[];

/*
 * Split @line in place at spaces: each word gets a NUL after it and a
 * pointer in @argv. Words past SHELL_ARGS_MAX are ignored.
 */
static int split_words(char *line, char **argv)
{
	int argc = 0;

	while (*line) {
		while (*line == ' ')
			*line++ = '\0';
		if (!*line)
			break;
		if (argc < SHELL_ARGS_MAX)
			argv[argc++] = line;
		while (*line && *line != ' ')
			line++;
	}
	return argc;
}

static const struct kcmd *find_command(const char *name)
{
	for (const struct kcmd *c = __kcmds_start; c < __kcmds_end; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

void shell_run(void)
{
	for (;;) {
		char line[SHELL_LINE_MAX];
		char *argv[SHELL_ARGS_MAX + 1];
		const struct kcmd *cmd;
		int argc, status;

		kprintf(SHELL_PROMPT);
		console_readline(line, sizeof(line));
		argc = split_words(line, argv);
		if (argc == 0)
			continue;
		argv[argc] = NULL;
		cmd = find_command(argv[0]);
		if (!cmd) {
			kprintf("unknown command \"%s\" (try help)\n", argv[0]);
			continue;
		}
		status = cmd->fn(argc, argv);
		if (status != 0)
			kprintf("%s: failed (%d)\n", argv[0], status);
	}
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (const struct kcmd *c = __kcmds_start; c < __kcmds_end; c++)
		kprintf("  %-8s %s\n", c->name, c->help);
	return 0;
}
KCMD(help, "list the commands", cmd_help);

static int cmd_echo(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		kprintf("%s%s", argv[i], i + 1 < argc ? " " : "");
	kprintf("\n");
	return 0;
}
KCMD(echo, "print the arguments", cmd_echo);

static int cmd_exit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	machine_exit(true);
}
KCMD(exit, "leave QEMU with the success status", cmd_exit);
