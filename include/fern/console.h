/**
 * @file console.h
 * @brief Where the kernel's text goes: COM1 and the VGA text screen.
 *
 * Serial comes first because it is what tests, CI and a headless QEMU can
 * read; the VGA screen is what a person watching the QEMU window sees. The
 * console layer writes every character to both.
 */
#ifndef FERN_CONSOLE_H
#define FERN_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** I/O port base of the first serial port (COM1). */
#define COM1_PORT 0x3f8

/** Make the console usable: set up the serial port and clear the screen. */
void console_init(void);

/** Write @p len bytes of @p s to every console output. */
void console_write(const char *s, size_t len);

/**
 * Take the console for several prints that must come out as one piece, a
 * whole line say: nothing else prints until console_unlock(). kprintf()
 * and console_write() take it themselves for each call; it nests. From
 * chapter 3 on it is "interrupts off" (console.c says why); before, there
 * is nothing to hold back.
 *
 * @return what console_unlock() needs to restore.
 */
uint64_t console_lock(void);

/** Give back the console taken by console_lock() (@p flags is its result). */
void console_unlock(uint64_t flags);

/** Format like printf and write the result to the console. */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** kprintf() taking a va_list. */
int kvprintf(const char *fmt, va_list ap);

/** Send one byte to COM1, waiting until the transmitter can take it. */
void serial_putc(char c);

/** Put one character on the VGA text screen at the cursor. */
void vga_putc(char c);

/** Clear the VGA text screen and put the cursor home. */
void vga_clear(void);
#if FERN_CHAPTER >= 2

/*
 * Chapter 2: a real 16550 driver, a VGA console with colour, scrolling and
 * a cursor, console input, and panic().
 */

/**
 * Program COM1 for 115200 baud, 8 data bits, no parity, 1 stop bit, with
 * its FIFOs on and its interrupts off (PC16550D datasheet, §8), whatever
 * state it was left in. A loopback self-test in between checks that a
 * UART answers; it waits a time (10 ms), not a number of polls, and
 * loopback is off again when this returns, pass or fail.
 *
 * @return 0, or -1 if no UART answered the loopback test (then output to
 *         COM1 goes nowhere, but nothing hangs).
 */
int serial_init(void);

/**
 * For tests: if set, serial_init()'s loopback test reads the line status
 * (offset 5) and receive (offset 0) registers through this function
 * instead of from COM1, so that a test can play a UART that QEMU does not
 * emulate: one slow to loop a byte back, or one that never does. Writes
 * still go to COM1. NULL (the default) reads the hardware.
 */
extern uint8_t (*serial_selftest_in)(uint16_t reg);

/**
 * Take one received byte from COM1 if one is waiting, without blocking.
 *
 * @return the byte (0..255), or -1 if none has arrived.
 */
int serial_try_getc(void);

/** Write a string to COM1 only, turning each LF into CR LF. */
void serial_puts(const char *s);

/**
 * The 16 colours of the VGA text mode attribute byte (IBM VGA Technical
 * Reference, "Attributes"). The low four bits of an attribute are the
 * foreground colour; bits 4-6 the background.
 */
enum vga_color {
	VGA_BLACK = 0,
	VGA_BLUE = 1,
	VGA_GREEN = 2,
	VGA_CYAN = 3,
	VGA_RED = 4,
	VGA_MAGENTA = 5,
	VGA_BROWN = 6,
	VGA_LIGHT_GREY = 7,
	VGA_DARK_GREY = 8,
	VGA_LIGHT_BLUE = 9,
	VGA_LIGHT_GREEN = 10,
	VGA_LIGHT_CYAN = 11,
	VGA_LIGHT_RED = 12,
	VGA_LIGHT_MAGENTA = 13,
	VGA_YELLOW = 14,
	VGA_WHITE = 15,
};

/**
 * Choose the colours of the characters written from now on. Only the
 * first eight colours work as a background: bit 7 of the attribute makes
 * the character blink instead. The default is light grey on black.
 */
void vga_set_color(enum vga_color fg, enum vga_color bg);

/** Where the next character will go: @p row 0..24, @p col 0..79. */
void vga_get_cursor(int *row, int *col);

/** Move the cursor (and the blinking hardware cursor) to @p row, @p col. */
void vga_set_cursor(int row, int col);

/**
 * Wait for one byte of input and return it (0..255).
 *
 * In chapter 2 this polls COM1. Chapter 3 feeds it from the serial and
 * keyboard interrupt handlers through this same function, so callers never
 * learn where input comes from.
 */
int console_getc(void);

/**
 * Take one byte of input if one is waiting, without blocking: what
 * console_getc() would return, or -1 at once if it would wait.
 */
int console_try_getc(void);

/**
 * Wait the way console_getc() waits, without taking a byte: return when
 * input may have arrived (in chapter 3, after the next interrupt unless a
 * byte is already queued; before, at once). A loop of console_try_getc()
 * and this is console_getc() for code that has other work between bytes.
 */
void console_wait_input(void);

/**
 * A line being edited one byte at a time, for code that cannot block in
 * console_readline(): @c buf of @c size bytes holds @c len of them. Start
 * with @c len 0, and again after each finished line.
 */
struct console_line {
	char *buf;		/**< where the line is stored */
	size_t size;		/**< bytes in @c buf, the NUL included; > 0 */
	size_t len;		/**< bytes typed so far */
};

/**
 * Edit @p line with one input byte @p c, as console_readline() does (echo,
 * backspace, line ends, bytes ignored or dropped).
 *
 * @return true if @p c ended the line; it is then NUL-terminated in
 *         @c buf, with its length in @c len.
 */
bool console_line_feed(struct console_line *line, int c);

/**
 * Read one line into @p buf with simple editing: characters are echoed,
 * backspace (0x08 or 0x7f) erases the previous one, CR or LF ends the
 * line. Other control bytes and bytes >= 0x80 are ignored, and characters
 * that do not fit in @p size - 1 bytes are dropped without an echo.
 *
 * @return the length of the line, which is stored NUL-terminated; 0 if
 *         @p size is 0 (then nothing is read).
 */
size_t console_readline(char *buf, size_t size);

/**
 * Report a fatal error and stop: print `panic: ` and the message, the
 * caller and a backtrace, then leave QEMU with the failure status.
 */
__attribute__((noreturn, format(printf, 1, 2)))
void panic(const char *fmt, ...);
#if FERN_CHAPTER >= 5

/**
 * panic(), on behalf of the code at @p caller (a return address): the
 * report's `caller:` line names it instead of the function that calls
 * this, which is only the messenger (the heap's misuse report). The
 * backtrace still starts here and shows how the report was reached.
 */
__attribute__((noreturn, format(printf, 2, 3)))
void panic_at(const void *caller, const char *fmt, ...);
#endif

/** Panic with the condition's text, file and line if @p cond is false. */
#define assert(cond)							\
	do {								\
		if (!(cond))						\
			panic("assertion \"%s\" failed at %s:%d",	\
			      #cond, __FILE__, __LINE__);		\
	} while (0)

/**
 * Print the chain of return addresses that starts at frame pointer @p fp,
 * one line per frame, with the function each address lies in. Stops at a
 * zero frame pointer, at a frame pointer that does not point into the
 * kernel's stacks, or after a fixed depth.
 */
void backtrace_print(uintptr_t fp);

/**
 * One entry of the kernel symbol table the build links into the kernel
 * (generated from `nm` of the linked kernel by src/console/ksyms.awk).
 */
struct ksym {
	uint64_t addr;		/**< where the function starts */
	uint32_t name;		/**< offset of its name in ksym_names */
};

/** The symbol table, sorted by address. */
extern const struct ksym ksym_table[];
/** The number of entries in ksym_table. */
extern const size_t ksym_count;
/** The symbol names, each NUL-terminated, one after the other. */
extern const char ksym_names[];

/**
 * Find the function that contains @p addr.
 *
 * @return its name, with the distance from its start in @p *offset, or
 *         NULL if @p addr is not in the kernel's code.
 */
const char *ksym_lookup(uintptr_t addr, uintptr_t *offset);

/** What kind of code address ksym_print() is given. */
enum ksym_kind {
	KSYM_INSTRUCTION,	/**< the address of an instruction (a saved RIP) */
	KSYM_RETURN_ADDRESS,	/**< a return address: looked up one byte back */
};

/**
 * Print @p addr as `0x<16 hex digits> <function>+0x<offset>`, the one way
 * every report (panic, exception, heap misuse) names a place in the code.
 * No newline.
 *
 * @return false, having printed only `0x<addr>`, if @p addr lies in no
 *         function; the caller says so in its own words.
 */
bool ksym_print(uintptr_t addr, enum ksym_kind kind);

/**
 * A guard for one kind of fatal report, taken first thing by the code
 * that prints it (panic(), an exception's report).
 */
struct fatal_guard {
	volatile int entered;	/**< how often the report was started */
	const char *again;	/**< the line printed instead of a second one */
};

/**
 * Start the report @p guard protects, with interrupts off. If it was
 * started before, the report itself failed: print @c again on COM1 alone
 * and end the run with the failure status.
 */
void fatal_guard_enter(struct fatal_guard *guard);

/**
 * The stack protector's canary (src/console/stack_protector.c): what every
 * function compiled with -fstack-protector-strong copies into its frame
 * and checks before it returns. Written once, by stack_guard_init().
 */
extern uintptr_t __stack_chk_guard;

/**
 * Give the canary its value: RDRAND if the CPU has it, else the time stamp
 * counter, mixed, with the low byte zero. kmain calls it first of all:
 * every protected frame live when the canary changes fails its check, so
 * nothing may call it later.
 */
void stack_guard_init(void);

/**
 * What a protected function calls instead of returning when its canary
 * was overwritten: panic with the function's name ("stack smashing
 * detected in NAME+0xOFF").
 */
__attribute__((noreturn)) void __stack_chk_fail(void);
#endif
#if FERN_CHAPTER >= 3

/*
 * Chapter 3: input arrives by interrupt. The keyboard's and COM1's
 * interrupt handlers (src/drivers/, above the console) put bytes in a
 * queue here; console_getc() takes them out. kprintf() runs with
 * interrupts off, so a handler that prints cannot cut into a line.
 */

/**
 * Queue one byte of input for console_getc(). Meant for interrupt
 * handlers: it never waits, and it drops the byte if the queue is full.
 */
void console_input_push(char c);

/**
 * Say that COM1's input now arrives by interrupt, through
 * console_input_push(): from now on console_getc() sleeps until a byte is
 * queued instead of polling the UART. Call it with interrupts on.
 */
void console_input_irq_on(void);

/**
 * Make COM1 raise its interrupt (IRQ 4 on a PC) as soon as a byte arrives:
 * the "received data available" interrupt, with the receive FIFO's
 * trigger level at one byte (PC16550D §8.4, §8.5). Register a handler for
 * the IRQ line first.
 */
void serial_enable_rx_interrupt(void);
#endif

#endif
