/*
 * Tests of the Multiboot2 parser (multiboot2.c) on boot information we
 * build ourselves, good and bad, in a buffer of the kernel's. The parser
 * takes a physical address; the buffer is in the kernel image, whose
 * physical address is its virtual address minus KERNEL_VMA.
 *
 * The malformed cases make the parser print its "boot: error:" lines:
 * that is the behaviour under test.
 */
#include <fern/boot.h>
#include <fern/ktest.h>
#include <fern/layout.h>
#include <fern/string.h>

/* The MBI and each tag start on 8-byte boundaries (Multiboot2 §3.6). */
static uint8_t mbi[512] __attribute__((aligned(8)));
static uint32_t mbi_len;

static void mbi_begin(void)
{
	memset(mbi, 0, sizeof(mbi));
	mbi_len = 8;	/* total_size and reserved */
}

/* Append a tag with room for @payload bytes; return where they go. */
static void *mbi_add_tag(uint32_t type, uint32_t payload)
{
	uint32_t *tag = (uint32_t *)(mbi + mbi_len);

	tag[0] = type;
	tag[1] = 8 + payload;
	mbi_len += (8 + payload + 7) & ~7u;
	return tag + 2;
}

static void mbi_add_string(uint32_t type, const char *s)
{
	memcpy(mbi_add_tag(type, (uint32_t)strlen(s) + 1), s, strlen(s) + 1);
}

/* A memory map tag: entry_size, entry_version, then the entries. */
struct fake_region {
	uint64_t base, length;
	uint32_t type, reserved;
};

static void mbi_add_mmap(const struct fake_region *r, uint32_t count)
{
	uint32_t *m = mbi_add_tag(MB2_TAG_MMAP, 8 + count * sizeof(*r));

	m[0] = sizeof(*r);
	m[1] = 0;
	memcpy(m + 2, r, count * sizeof(*r));
}

/* Optionally end with the end tag; fill in total_size; return the address. */
static uint64_t mbi_finish(bool end_tag)
{
	if (end_tag)
		mbi_add_tag(MB2_TAG_END, 0);
	*(uint32_t *)mbi = mbi_len;
	return (uintptr_t)mbi - KERNEL_VMA;
}

static const struct fake_region pc_map[] = {
	{ 0x0, 0x9fc00, MB2_MEMORY_AVAILABLE, 0 },
	{ 0x9fc00, 0x400, MB2_MEMORY_RESERVED, 0 },
	{ 0x100000, 0x7ee0000, MB2_MEMORY_AVAILABLE, 0 },
	{ 0xfffc0000, 0x40000, MB2_MEMORY_RESERVED, 0 },
};

KTEST(boot, "a well-formed MBI gives the command line, loader and map")
{
	static struct boot_info info;

	mbi_begin();
	mbi_add_string(MB2_TAG_CMDLINE, "console=ttyS0 test=1");
	mbi_add_string(MB2_TAG_LOADER_NAME, "fake loader");
	mbi_add_mmap(pc_map, 4);
	KTEST_ASSERT_EQ(multiboot2_parse(mbi_finish(true), &info), 0);
	KTEST_EXPECT_EQ(info.errors, 0);
	KTEST_EXPECT_STREQ(info.cmdline, "console=ttyS0 test=1");
	KTEST_EXPECT_STREQ(info.loader_name, "fake loader");
	KTEST_ASSERT_EQ(info.region_count, 4);
	KTEST_EXPECT_EQ(info.regions[2].base, 0x100000);
	KTEST_EXPECT_EQ(info.regions[2].length, 0x7ee0000);
	KTEST_EXPECT_EQ(info.regions[3].type, MB2_MEMORY_RESERVED);
}

KTEST(boot, "the usable total is the sum of the available regions")
{
	static struct boot_info info;

	mbi_begin();
	mbi_add_mmap(pc_map, 4);
	multiboot2_parse(mbi_finish(true), &info);
	KTEST_EXPECT_EQ(info.usable_bytes, 0x9fc00 + 0x7ee0000);
}

KTEST(boot, "a tag that runs past the total size stops the walk with an error")
{
	static struct boot_info info;
	uint32_t *bad;

	mbi_begin();
	mbi_add_mmap(pc_map, 4);
	bad = mbi_add_tag(MB2_TAG_LOADER_NAME, 8);
	bad[-1] = 4096;		/* its size field */
	mbi_add_string(MB2_TAG_CMDLINE, "never read");
	KTEST_EXPECT(multiboot2_parse(mbi_finish(true), &info) < 0);
	KTEST_EXPECT(info.errors > 0);
	KTEST_EXPECT(info.cmdline == NULL);
	KTEST_EXPECT(info.loader_name == NULL);
}

KTEST(boot, "a command line without its NUL is rejected")
{
	static struct boot_info info;

	mbi_begin();
	memcpy(mbi_add_tag(MB2_TAG_CMDLINE, 4), "abcd", 4);
	mbi_add_mmap(pc_map, 4);
	multiboot2_parse(mbi_finish(true), &info);
	KTEST_EXPECT(info.cmdline == NULL);
	KTEST_EXPECT(info.errors > 0);
	/* The walk goes on after a bad string tag. */
	KTEST_EXPECT_EQ(info.region_count, 4);
}

KTEST(boot, "a missing end tag is reported")
{
	static struct boot_info info;

	mbi_begin();
	mbi_add_string(MB2_TAG_CMDLINE, "a=1");
	mbi_add_mmap(pc_map, 4);
	multiboot2_parse(mbi_finish(false), &info);
	KTEST_EXPECT(info.errors > 0);
	KTEST_EXPECT_STREQ(info.cmdline, "a=1");
}

KTEST(boot, "an MBI that is misaligned, absent or too small is refused")
{
	static struct boot_info info;
	uint64_t phys;

	mbi_begin();
	mbi_add_mmap(pc_map, 4);
	phys = mbi_finish(true);
	KTEST_EXPECT(multiboot2_parse(phys + 4, &info) < 0);
	KTEST_EXPECT(multiboot2_parse(0, &info) < 0);
	*(uint32_t *)mbi = 8;
	KTEST_EXPECT(multiboot2_parse(phys, &info) < 0);
	KTEST_EXPECT(info.errors > 0);
}
#if FERN_CHAPTER >= 4

KTEST(boot, "boot modules are recorded, so that their memory can be reserved")
{
	static struct boot_info info;
	uint32_t *m;

	mbi_begin();
	m = mbi_add_tag(MB2_TAG_MODULE, 8 + sizeof("initrd"));
	m[0] = 0x400000;
	m[1] = 0x423456;
	memcpy(m + 2, "initrd", sizeof("initrd"));
	m = mbi_add_tag(MB2_TAG_MODULE, 8);
	m[0] = 0x500000;
	m[1] = 0x4fffff;	/* ends before it starts */
	mbi_add_mmap(pc_map, 4);
	KTEST_ASSERT_EQ(multiboot2_parse(mbi_finish(true), &info), 0);
	KTEST_ASSERT_EQ(info.module_count, 1);
	KTEST_EXPECT_EQ(info.modules[0].start, 0x400000);
	KTEST_EXPECT_EQ(info.modules[0].end, 0x423456);
	KTEST_EXPECT_EQ(info.errors, 1);
	KTEST_EXPECT_EQ(info.region_count, 4);
}
#endif
