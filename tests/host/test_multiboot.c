/*
 * Host unit test of the Multiboot2 tag walker (src/boot/multiboot2.c),
 * built with AddressSanitizer and UBSan by `make host-tests`. The kernel's
 * own tests (src/boot/multiboot2_test.c) run it in QEMU; here UBSan also
 * sees each load, and each MBI sits in a heap block of exactly its size.
 *
 * The walker reads the MBI through PHYS_TO_VIRT(), which in the kernel
 * adds KERNEL_VMA, an address no host process has: so this file includes
 * the walker after a layout of its own, in which "physical" address 8 is
 * the first byte of the test's block (as tests/fuzz/fuzz_multiboot.c does).
 * It needs nothing else but kprintf(), which fern's formatter does here.
 */
#include <stdint.h>

#define FERN_LAYOUT_H
#define BOOT_MAPPED	0x40000000
static uintptr_t mbi_base;
#define PHYS_TO_VIRT(p)	((uintptr_t)(p) + mbi_base)

#include "../../src/boot/multiboot2.c"

#include <fern/format.h>

#include <stdarg.h>
#include <stdlib.h>

#include "tap.h"

/* What the walker printed last: its error lines. */
static char printed[1024];
static size_t printed_len;

/* kvformat(), the formatter of chapter 1 on, one character at a time. */
static void keep(char c, void *arg)
{
	(void)arg;
	if (printed_len + 1 < sizeof(printed)) {
		printed[printed_len++] = c;
		printed[printed_len] = '\0';
	}
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvformat(keep, NULL, fmt, ap);
	va_end(ap);
	return n;
}

static uint8_t mbi[512];
static uint32_t mbi_len;

static void *add_tag(uint32_t type, uint32_t payload)
{
	uint32_t *tag = (uint32_t *)(mbi + mbi_len);

	tag[0] = type;
	tag[1] = 8 + payload;
	mbi_len += (8 + payload + 7) & ~7u;
	return tag + 2;
}

/* A memory map of @n entries of @entry_size bytes, each 4 KiB available. */
static void add_mmap(uint32_t entry_size, uint32_t n)
{
	uint32_t *m = add_tag(MB2_TAG_MMAP, 8 + n * entry_size);
	uint8_t *e = (uint8_t *)(m + 2);

	m[0] = entry_size;
	m[1] = 0;
	for (uint32_t i = 0; i < n; i++, e += entry_size) {
		uint64_t base = (uint64_t)i << 20, length = 4096;
		uint32_t type = MB2_MEMORY_AVAILABLE;

		memset(e, 0, entry_size);
		memcpy(e, &base, 8);
		memcpy(e + 8, &length, 8);
		memcpy(e + 16, &type, 4);
	}
}

/* Parse what was added, from a block of exactly its size. */
static int parse(struct boot_info *info)
{
	uint8_t *block;
	int err;

	add_tag(MB2_TAG_END, 0);
	memcpy(mbi, &mbi_len, 4);
	block = malloc(mbi_len);
	memcpy(block, mbi, mbi_len);
	mbi_base = (uintptr_t)block - 8;
	printed[0] = '\0';
	printed_len = 0;
	err = multiboot2_parse(8, info);
	free(block);
	mbi_len = 8;
	memset(mbi, 0, sizeof(mbi));
	return err;
}

int main(void)
{
	static struct boot_info info;

	mbi_len = 8;
	add_mmap(24, 3);
	tap_ok(parse(&info) == 0 && info.errors == 0 && info.region_count == 3 &&
	       info.usable_bytes == 3 * 4096, "multiboot2: a map of three 24-byte entries");
	add_mmap(32, 2);
	tap_ok(parse(&info) == 0 && info.errors == 0 && info.region_count == 2,
	       "multiboot2: entries of 32 bytes (a later loader's) are read 32 bytes apart");
	/* Found by fuzzing: entries 28 bytes apart put every other entry's
	 * 64-bit fields off their alignment, a misaligned load in C. The
	 * specification (§3.6.8) makes entry_size a multiple of 8. */
	add_mmap(28, 2);
	tap_ok(parse(&info) == 0 && info.errors == 1 && info.region_count == 0 &&
	       strstr(printed, "boot: error: memory map tag"),
	       "multiboot2: an entry_size that is not a multiple of 8 is a broken tag");
	return tap_done();
}
