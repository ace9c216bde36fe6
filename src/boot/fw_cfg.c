/*
 * QEMU's firmware configuration device (fw_cfg): a key-value store the
 * host fills from its command line (`-fw_cfg name=opt/...,string=...`).
 * fern reads its test options from it, so that the harness can choose
 * what a boot does without rebuilding the kernel or the ISO.
 *
 * On x86 it is two I/O ports: write a 16-bit key to the selector, then read
 * the item byte by byte from the data port (QEMU docs/specs/fw_cfg.rst).
 * Multi-byte fields of the file directory are big-endian.
 */
#include <fern/boot.h>
#include <fern/string.h>
#include <fern/x86.h>

#define FW_CFG_PORT_SEL		0x510
#define FW_CFG_PORT_DATA	0x511
#define FW_CFG_SIGNATURE	0x0000
#define FW_CFG_FILE_DIR		0x0019
#define FW_CFG_NAME_MAX		56

static void fw_cfg_read(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len--)
		*p++ = inb(FW_CFG_PORT_DATA);
}

static uint32_t read_be32(void)
{
	uint8_t b[4];

	fw_cfg_read(b, 4);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | b[2] << 8 | b[3];
}

static uint16_t read_be16(void)
{
	uint8_t b[2];

	fw_cfg_read(b, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Real hardware has nothing at these ports; the signature tells. */
static bool fw_cfg_present(void)
{
	char sig[4];

	outw(FW_CFG_PORT_SEL, FW_CFG_SIGNATURE);
	fw_cfg_read(sig, 4);
	return memcmp(sig, "QEMU", 4) == 0;
}

int fw_cfg_read_file(const char *name, char *buf, size_t size)
{
	uint32_t count;

	if (size == 0 || !fw_cfg_present())
		return -1;
	outw(FW_CFG_PORT_SEL, FW_CFG_FILE_DIR);
	count = read_be32();
	for (uint32_t i = 0; i < count; i++) {
		char entry_name[FW_CFG_NAME_MAX];
		uint32_t file_size = read_be32();
		uint16_t select = read_be16();

		read_be16();	/* reserved */
		fw_cfg_read(entry_name, sizeof(entry_name));
		entry_name[FW_CFG_NAME_MAX - 1] = '\0';
		if (strcmp(entry_name, name) != 0)
			continue;
		if (file_size > size - 1)
			return -2;
		outw(FW_CFG_PORT_SEL, select);
		fw_cfg_read(buf, file_size);
		buf[file_size] = '\0';
		return (int)file_size;
	}
	return -1;
}
