/*
 * Reading the Multiboot2 information (MBI) that GRUB leaves in memory.
 *
 * The MBI is a fixed 8-byte header (total size, reserved) followed by tags,
 * each starting with a type and a size and padded to 8 bytes (Multiboot2
 * specification §3.6). A tag of type 0 ends the list. We trust none of it:
 * every size is checked against the total before the tag is read, so a
 * corrupt MBI produces an error line instead of a wild read.
 */
#include <fern/boot.h>
#include <fern/console.h>
#include <fern/layout.h>
#include <fern/string.h>

struct mb2_tag {
	uint32_t type;
	uint32_t size;
};

struct mb2_tag_string {
	struct mb2_tag tag;
	char string[];
};

struct mb2_tag_mmap {
	struct mb2_tag tag;
	uint32_t entry_size;
	uint32_t entry_version;
	/* entries follow */
};

struct mb2_mmap_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type;
	uint32_t reserved;
};

struct mb2_tag_meminfo {
	struct mb2_tag tag;
	uint32_t mem_lower;	/* KiB below 1 MiB */
	uint32_t mem_upper;	/* KiB above 1 MiB, up to the first hole */
};

#if FERN_CHAPTER >= 4
/* A boot module (Multiboot2 spec §3.6.6); its command line follows. */
struct mb2_tag_module {
	struct mb2_tag tag;
	uint32_t mod_start;
	uint32_t mod_end;
};

#endif
#define MB2_MBI_MAX_SIZE (64 * 1024)

static void mbi_error(struct boot_info *info, const char *what, uint32_t offset,
		      uint32_t type, uint32_t size)
{
	kprintf("boot: error: %s (tag type %u at offset %u, size %u, mbi size %u)\n",
		what, type, offset, size, info->mbi_size);
	info->errors++;
}

/* A string tag is usable only if its NUL lies inside the tag. */
static const char *tag_string(const struct mb2_tag *tag)
{
	/* LAB 1 BEGIN: return the tag's string only if its NUL lies inside the tag's size */
	const struct mb2_tag_string *t = (const void *)tag;
	size_t max = tag->size - sizeof(*tag);

	if (strnlen(t->string, max) == max)
		return NULL;
	return t->string;
	/* LAB 1 STUB: kprintf("lab 1: tag_string() is not implemented\n"); (void)tag; return NULL; */
	/* LAB 1 END */
}

static void add_region(struct boot_info *info, uint64_t base, uint64_t length,
		       uint32_t type)
{
	if (info->region_count == BOOT_MAX_REGIONS) {
		kprintf("boot: error: more than %d memory regions; ignoring 0x%lx\n",
			BOOT_MAX_REGIONS, base);
		info->errors++;
		return;
	}
	info->regions[info->region_count++] =
		(struct mem_region){ .base = base, .length = length, .type = type };
	if (type == MB2_MEMORY_AVAILABLE)
		info->usable_bytes += length;
}

#if FERN_CHAPTER >= 4
/* Remember where a module lies, so that chapter 4 can reserve its memory. */
static void add_module(struct boot_info *info, const struct mb2_tag *tag,
		       uint32_t offset)
{
	const struct mb2_tag_module *m = (const void *)tag;

	if (tag->size < sizeof(*m) || m->mod_end < m->mod_start) {
		mbi_error(info, "module tag too small or ends before it starts",
			  offset, tag->type, tag->size);
		return;
	}
	if (info->module_count == BOOT_MAX_MODULES) {
		kprintf("boot: error: more than %d boot modules; ignoring 0x%x\n",
			BOOT_MAX_MODULES, m->mod_start);
		info->errors++;
		return;
	}
	info->modules[info->module_count++] =
		(struct boot_module){ .start = m->mod_start, .end = m->mod_end };
}

#endif
static void parse_mmap(struct boot_info *info, const struct mb2_tag *tag,
		       uint32_t offset)
{
	const struct mb2_tag_mmap *m = (const void *)tag;

	/* The specification (§3.6.8) makes entry_size a multiple of 8, which
	 * keeps each entry's 64-bit fields aligned; another size is a broken
	 * tag, not one to read with misaligned loads (found by fuzzing). */
	if (tag->size < sizeof(*m) || m->entry_size < sizeof(struct mb2_mmap_entry) ||
	    m->entry_size % 8 != 0) {
		mbi_error(info, "memory map tag too small or its entry size wrong",
			  offset, tag->type, tag->size);
		return;
	}
	/* LAB 1 BEGIN: walk the entries (entry_size bytes apart, up to the tag's end) and add_region() each non-empty one */
	const uint8_t *end = (const uint8_t *)tag + tag->size;

	/* Compare what is left, not entry + entry_size: a huge entry_size
	 * would wrap the pointer around. */
	for (const uint8_t *entry = (const uint8_t *)(m + 1);
	     (size_t)(end - entry) >= m->entry_size; entry += m->entry_size) {
		const struct mb2_mmap_entry *e = (const void *)entry;

		if (e->length == 0)
			continue;
		add_region(info, e->base, e->length, e->type);
	}
	/* LAB 1 STUB: kprintf("lab 1: parse_mmap() is not implemented\n"); */
	/* LAB 1 END */
}

int multiboot2_parse(uint64_t mbi_phys, struct boot_info *info)
{
	const uint8_t *mbi;
	uint32_t total, offset;
	bool have_mmap = false, ended = false;
	const struct mb2_tag_meminfo *meminfo = NULL;

	memset(info, 0, sizeof(*info));
	info->mbi_phys = mbi_phys;

	if (mbi_phys == 0 || mbi_phys % 8 != 0 ||
	    mbi_phys + MB2_MBI_MAX_SIZE > BOOT_MAPPED) {
		kprintf("boot: error: boot information at 0x%lx is not 8-byte aligned "
			"or lies outside the first 1 GiB\n", mbi_phys);
		info->errors++;
		return -1;
	}
	mbi = (const uint8_t *)PHYS_TO_VIRT(mbi_phys);
	total = *(const uint32_t *)mbi;
	info->mbi_size = total;
	if (total < 16 || total > MB2_MBI_MAX_SIZE) {
		kprintf("boot: error: boot information claims %u bytes "
			"(expected 16 to %u)\n", total, MB2_MBI_MAX_SIZE);
		info->errors++;
		return -1;
	}

	/* Tags start after the 8-byte header, each at an 8-byte boundary. */
	offset = 8;
	while (offset + sizeof(struct mb2_tag) <= total) {
		const struct mb2_tag *tag = (const void *)(mbi + offset);

		if (tag->size < sizeof(*tag) || tag->size > total - offset) {
			mbi_error(info, "tag runs past the end of the boot information",
				  offset, tag->type, tag->size);
			return -1;
		}
		if (tag->type == MB2_TAG_END) {
			ended = true;
			break;
		}
		switch (tag->type) {
		case MB2_TAG_CMDLINE:
			info->cmdline = tag_string(tag);
			if (!info->cmdline)
				mbi_error(info, "command line is not NUL-terminated",
					  offset, tag->type, tag->size);
			break;
		case MB2_TAG_LOADER_NAME:
			info->loader_name = tag_string(tag);
			if (!info->loader_name)
				mbi_error(info, "loader name is not NUL-terminated",
					  offset, tag->type, tag->size);
			break;
		case MB2_TAG_BASIC_MEMINFO:
			if (tag->size >= sizeof(*meminfo))
				meminfo = (const void *)tag;
			break;
		case MB2_TAG_MMAP:
			have_mmap = true;
			parse_mmap(info, tag, offset);
			break;
#if FERN_CHAPTER >= 4
		case MB2_TAG_MODULE:
			add_module(info, tag, offset);
			break;
#endif
		default:
			break;	/* tags we do not need */
		}
		offset += (tag->size + 7) & ~7u;
	}
	if (!ended) {
		kprintf("boot: error: boot information has no end tag\n");
		info->errors++;
	}

	/* Without a map, the basic lower/upper sizes are the best we have. */
	if (!have_mmap && meminfo) {
		kprintf("boot: no memory map from the loader; using basic memory info\n");
		add_region(info, 0, (uint64_t)meminfo->mem_lower * 1024,
			   MB2_MEMORY_AVAILABLE);
		add_region(info, 1 << 20, (uint64_t)meminfo->mem_upper * 1024,
			   MB2_MEMORY_AVAILABLE);
	} else if (!have_mmap) {
		kprintf("boot: error: the loader gave no memory information\n");
		info->errors++;
	}
	return 0;
}

const char *mem_region_type_name(uint32_t type)
{
	switch (type) {
	case MB2_MEMORY_AVAILABLE:
		return "available";
	case MB2_MEMORY_ACPI_RECLAIMABLE:
		return "ACPI reclaimable";
	case MB2_MEMORY_NVS:
		return "ACPI NVS";
	case MB2_MEMORY_BADRAM:
		return "bad RAM";
	default:
		return "reserved";
	}
}

void boot_info_print(const struct boot_info *info)
{
	kprintf("boot: loader \"%s\"\n",
		info->loader_name ? info->loader_name : "(none)");
	kprintf("boot: cmdline \"%s\"\n", info->cmdline ? info->cmdline : "");
	for (size_t i = 0; i < info->region_count; i++) {
		const struct mem_region *r = &info->regions[i];

		kprintf("mmap: base 0x%016lx length 0x%016lx type %u (%s)\n",
			r->base, r->length, r->type, mem_region_type_name(r->type));
	}
	kprintf("memory: %lu KiB usable\n", info->usable_bytes / 1024);
}
