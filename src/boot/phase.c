/*
 * Boot phases: where the time between reset and "fern: ready" goes.
 *
 * kmain calls boot_phase("name") as each step of the boot ends; the call
 * records the time-stamp counter (RDTSC, Intel SDM vol. 3 §18.17). A phase
 * lasts from the previous mark to its own. The TSC counts from 0 at reset,
 * so the first phase, from reset to the first mark, is the firmware and the
 * boot loader. With `bench` on the command line, kmain prints the table
 * just before "fern: ready", and `make bench` reads it (docs/performance.md).
 *
 * The figures are raw TSC cycles: their rate is the CPU's (under QEMU's
 * TCG, the host's), which the kernel does not know yet. Once a chapter can
 * measure time with the PIT it can calibrate the TSC against it, and
 * boot_phases_print() is the one place that would also print microseconds.
 */
#include <fern/boot.h>
#include <fern/console.h>
#include <fern/x86.h>

struct phase_mark {
	const char *name;
	uint64_t tsc;
};

static struct phase_mark marks[BOOT_PHASES_MAX];
static size_t mark_count;
static size_t marks_dropped;

void boot_phase(const char *name)
{
	uint64_t now = rdtsc();

	if (mark_count == BOOT_PHASES_MAX) {
		marks_dropped++;
		return;
	}
	marks[mark_count].name = name;
	marks[mark_count].tsc = now;
	mark_count++;
}

void boot_phases_print(void)
{
	uint64_t prev = 0;

	for (size_t i = 0; i < mark_count; i++) {
		kprintf("phase: %s %lu cycles\n", marks[i].name,
			marks[i].tsc - prev);
		prev = marks[i].tsc;
	}
	if (marks_dropped)
		kprintf("phase: error: %lu more phases than the %d kept\n",
			(unsigned long)marks_dropped, BOOT_PHASES_MAX);
}
