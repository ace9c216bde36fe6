/*
 * The exit device. One port write ends the QEMU process; if nothing is
 * listening on the port, we halt, which is the right end on real hardware.
 */
#include <fern/exit.h>
#include <fern/x86.h>

void machine_exit(bool success)
{
	outb(QEMU_EXIT_PORT, success ? FERN_EXIT_SUCCESS : FERN_EXIT_FAILURE);
	halt_forever();
}
