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
#include <stddef.h>
#include <stdint.h>

/** I/O port base of the first serial port (COM1). */
#define COM1_PORT 0x3f8

/** Make the console usable: set up the serial port and clear the screen. */
void console_init(void);

/** Write @p len bytes of @p s to every console output. */
void console_write(const char *s, size_t len);

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

#endif
