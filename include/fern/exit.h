/**
 * @file exit.h
 * @brief Ending a QEMU run with a status the test harness can read.
 *
 * QEMU's isa-debug-exit device (`-device isa-debug-exit,iobase=0xf4,
 * iosize=0x04`) makes QEMU exit with status (v << 1) | 1 when the guest
 * writes v to its port. Status 0 is therefore impossible, and fern uses one
 * value for success and one for failure:
 *
 * | kernel writes        | QEMU exit status |
 * |----------------------|------------------|
 * | FERN_EXIT_SUCCESS    | 33               |
 * | FERN_EXIT_FAILURE    | 35               |
 *
 * Without the device (real hardware, or a plain `qemu` command) the write
 * does nothing and the kernel halts instead.
 */
#ifndef FERN_EXIT_H
#define FERN_EXIT_H

#include <stdbool.h>

/** The isa-debug-exit I/O port fern's QEMU command lines use. */
#define QEMU_EXIT_PORT		0xf4
/** Written on success: QEMU exits with status 33. */
#define FERN_EXIT_SUCCESS	0x10
/** Written on failure: QEMU exits with status 35. */
#define FERN_EXIT_FAILURE	0x11

/** Leave QEMU with the success or failure status; halt if that fails. */
__attribute__((noreturn)) void machine_exit(bool success);

#endif
