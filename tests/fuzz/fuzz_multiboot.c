/*
 * Fuzz target: the Multiboot2 tag walker (src/boot/multiboot2.c) on the
 * input as the boot information GRUB would leave in memory.
 *
 * The walker reads the information through PHYS_TO_VIRT(), which in the
 * kernel adds KERNEL_VMA, an address no host process has. This file
 * therefore includes the walker itself, after a layout.h of its own:
 * "physical" address 8 is the first byte of a buffer exactly as long as
 * the information claims to be (its first four bytes), so a read past
 * what it claims is AddressSanitizer's. Bytes the input lacks are zero;
 * bytes beyond the claim are not there. When the claim is not one the
 * walker accepts (16 bytes to 64 KiB) the buffer is the four bytes it
 * reads to find that out.
 *
 * After the walk, the result is printed as the boot prints it, with
 * fern's own formatter, which reads every string the walker kept (each
 * must end inside its tag).
 */
#include <stdint.h>

/* Keep the kernel's layout.h out: the information lives in our buffer. */
#define FERN_LAYOUT_H
#define BOOT_MAPPED	0x40000000
static uintptr_t mbi_base;
#define PHYS_TO_VIRT(p)	((uintptr_t)(p) + mbi_base)

#include "../../src/boot/multiboot2.c"

#include <fern/format.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The console: fern's formatter (chapter 1's kvformat()), into nothing. */
static void discard(char c, void *arg)
{
	(void)c;
	(void)arg;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvformat(discard, NULL, fmt, ap);
	va_end(ap);
	return n;
}

#define MBI_PHYS	8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info info;
	uint32_t total = 0;
	size_t len = 4;
	uint8_t *mbi;

	memcpy(&total, data, size < 4 ? size : 4);
	if (total >= 16 && total <= MB2_MBI_MAX_SIZE)
		len = total;
	mbi = calloc(1, len);
	if (!mbi)
		return 0;
	memcpy(mbi, data, size < len ? size : len);
	mbi_base = (uintptr_t)mbi - MBI_PHYS;
	multiboot2_parse(MBI_PHYS, &info);
	boot_info_print(&info);
	if (info.region_count > BOOT_MAX_REGIONS) {
		fprintf(stderr, "fuzz: more regions than boot_info holds\n");
		abort();
	}
	free(mbi);
	return 0;
}
