/**
 * @file boot.h
 * @brief What the kernel learns at boot: the Multiboot2 information from
 *        GRUB, the command line, and QEMU's fw_cfg; and where the boot's
 *        time goes (boot_phase()).
 *
 * Where things are in the address space is layout.h's business, not this
 * header's: the boot information is read through PHYS_TO_VIRT() there.
 */
#ifndef FERN_BOOT_H
#define FERN_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The value a Multiboot2 loader leaves in EAX (Multiboot2 spec §3.3). */
#define MB2_BOOT_MAGIC	0x36d76289

/** Multiboot2 tag types fern reads (Multiboot2 spec §3.6). */
enum mb2_tag_type {
	MB2_TAG_END = 0,
	MB2_TAG_CMDLINE = 1,
	MB2_TAG_LOADER_NAME = 2,
#if FERN_CHAPTER >= 4
	MB2_TAG_MODULE = 3,
#endif
	MB2_TAG_BASIC_MEMINFO = 4,
	MB2_TAG_MMAP = 6,
};

/** Memory map region types (Multiboot2 spec §3.6.8). */
enum mb2_memory_type {
	MB2_MEMORY_AVAILABLE = 1,
	MB2_MEMORY_RESERVED = 2,
	MB2_MEMORY_ACPI_RECLAIMABLE = 3,
	MB2_MEMORY_NVS = 4,
	MB2_MEMORY_BADRAM = 5,
};

/** The most memory map regions fern keeps; more are reported and dropped. */
#define BOOT_MAX_REGIONS 64
/** The longest command line fern keeps, including its NUL. */
#define BOOT_CMDLINE_MAX 512

#if FERN_CHAPTER >= 4
/** The most boot modules fern keeps; more are reported and dropped. */
#define BOOT_MAX_MODULES 8

/**
 * Where GRUB loaded a boot module (a `module2` line of grub.cfg): memory
 * the frame allocator must not hand out (chapter 4).
 */
struct boot_module {
	uint64_t start;		/**< physical address of the first byte */
	uint64_t end;		/**< one past the last byte */
};

#endif
/** One region of the physical memory map. */
struct mem_region {
	uint64_t base;		/**< first byte */
	uint64_t length;	/**< size in bytes */
	uint32_t type;		/**< an enum mb2_memory_type value */
};

/** Everything fern keeps from the boot information. */
struct boot_info {
	const char *loader_name;	/**< NULL if the loader gave none */
	const char *cmdline;		/**< GRUB's command line, or NULL */
	struct mem_region regions[BOOT_MAX_REGIONS];	/**< the memory map */
	size_t region_count;		/**< entries used in @c regions */
	uint64_t usable_bytes;		/**< sum of the available regions */
	uint64_t mbi_phys;		/**< where the MBI is, to reserve it */
	uint32_t mbi_size;		/**< its total size in bytes */
#if FERN_CHAPTER >= 4
	struct boot_module modules[BOOT_MAX_MODULES];	/**< the boot modules */
	size_t module_count;		/**< entries used in @c modules */
#endif
	int errors;			/**< malformed tags found */
};

/**
 * Walk the Multiboot2 information at physical address @p mbi_phys and fill
 * @p info. Every tag is checked against the MBI's total size before it is
 * read; a malformed tag is reported on the console and ends the walk.
 *
 * @return 0 on success, a negative number if the MBI could not be used.
 */
int multiboot2_parse(uint64_t mbi_phys, struct boot_info *info);

/** Print the loader name, command line and memory map, one line each. */
void boot_info_print(const struct boot_info *info);

/** A human name for a memory map region type ("available", ...). */
const char *mem_region_type_name(uint32_t type);

/**
 * Read a file from QEMU's firmware configuration device (fw_cfg, see
 * QEMU's docs/specs/fw_cfg.rst) into @p buf, NUL-terminated.
 *
 * @return the file's size, -1 if there is no fw_cfg device or no such
 *         file, -2 if it does not fit in @p size - 1 bytes.
 */
int fw_cfg_read_file(const char *name, char *buf, size_t size);

/** The fw_cfg file that holds extra command-line options from QEMU. */
#define FW_CFG_CMDLINE_FILE "opt/fern/cmdline"

/** The most boot phases boot_phase() records; later ones are counted. */
#define BOOT_PHASES_MAX 16

/**
 * Mark the end of boot phase @p name (a string literal, one word): record
 * the time-stamp counter now. The phase lasts from the previous mark, or
 * from reset for the first one. Cheap enough to call on every boot.
 */
void boot_phase(const char *name);

/**
 * Print one line per recorded phase, `phase: NAME N cycles`, in the order
 * they were marked. kmain calls it when the command line has `bench`;
 * `make bench` reads these lines.
 */
void boot_phases_print(void);

/** The kernel's C entry point, called by entry.asm in long mode. */
void kmain(uint32_t magic, uint32_t mbi_phys);

#endif
