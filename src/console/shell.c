/*
 * The shell: read a line, split it into words, run the command the first
 * word names. It is a way for a test, or a person, to drive the kernel over
 * the serial line. It never waits inside: shell_poll() takes the input that
 * is there, edits the line with console_line_feed() (console_readline()'s
 * editing, one byte at a time) and returns, so whatever runs the idle time
 * can run the shell too.
 */
#include <fern/console.h>
#include <fern/exit.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <stdbool.h>

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

/* Run one finished line: split it, find the command, report a failure. */
static void shell_execute(char *line)
{
	char *argv[SHELL_ARGS_MAX + 1];
	const struct kcmd *cmd;
	int argc, status;

	argc = split_words(line, argv);
	if (argc == 0)
		return;
	argv[argc] = NULL;
	cmd = find_command(argv[0]);
	if (!cmd) {
		kprintf("unknown command \"%s\" (try help)\n", argv[0]);
		return;
	}
	status = cmd->fn(argc, argv);
	if (status != 0)
		kprintf("%s: failed (%d)\n", argv[0], status);
}

/*
 * The line being typed lives here, not on a stack, because it outlives
 * each shell_poll(): a line usually arrives over several calls.
 */
static char shell_buf[SHELL_LINE_MAX];
static struct console_line shell_line = { .buf = shell_buf, .size = sizeof(shell_buf) };
static bool shell_prompted;

void shell_poll(void)
{
	int c;

	if (!shell_prompted) {
		kprintf(SHELL_PROMPT);
		shell_prompted = true;
	}
	while ((c = console_try_getc()) >= 0) {
		if (!console_line_feed(&shell_line, c))
			continue;
		shell_execute(shell_buf);
		shell_line.len = 0;
		kprintf(SHELL_PROMPT);
	}
}

void shell_run(void)
{
	for (;;) {
		shell_poll();
		console_wait_input();
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
