/**
 * @file table.h
 * @brief Linker tables: arrays that code adds to by declaration, from any
 *        file, with no list anyone must keep up to date.
 *
 * A table NAME is three kinds of input section, which the linker script
 * sorts by name into one run: `.table.NAME.0` holds only the table's
 * start, `.table.NAME.1` its entries, `.table.NAME.2` only its end. So a
 * later chapter declares a new table (chapter 6's PCI drivers, say) and
 * its entries without touching the linker script, which has the one rule
 * `KEEP(*(SORT_BY_NAME(.table.*)))` for every table. (KTEST, KCMD and
 * INITCALL, older than this header, have sections of their own.)
 *
 * @code
 * LINKER_TABLE(struct pci_driver, pci_drivers);	// once, in pci.c
 *
 * static const struct pci_driver virtio_pci TABLE_ENTRY(pci_drivers) = {
 *	...
 * };						// in any file
 *
 * for_each_table_entry(d, pci_drivers)		// d: a const pointer
 *	...
 * @endcode
 *
 * Entries must be 8-byte multiples in size (structs of pointers are), so
 * that the linker's alignment padding never falls between two of them.
 */
#ifndef FERN_TABLE_H
#define FERN_TABLE_H

/** @cond INTERNAL */
#define TABLE_SECTION(name, part) ".table." #name "." #part
/** @endcond */

/**
 * Define the table @p name of @p type (its start and end markers): once,
 * in the file that owns the table.
 */
#define LINKER_TABLE(type, name)					\
	const type __table_##name##_start[0]				\
		__attribute__((used, section(TABLE_SECTION(name, 0)), aligned(8))); \
	const type __table_##name##_end[0]				\
		__attribute__((used, section(TABLE_SECTION(name, 2)), aligned(8)))

/** Say, in a file other than the owner's, that table @p name exists. */
#define DECLARE_LINKER_TABLE(type, name)				\
	extern const type __table_##name##_start[], __table_##name##_end[]

/**
 * Put the `static const` object being defined into table @p name; write it
 * between the object's name and its `=`.
 */
#define TABLE_ENTRY(name)						\
	__attribute__((used, section(TABLE_SECTION(name, 1)), aligned(8)))

/** @cond INTERNAL */
/*
 * In the file that defines a table, its markers are arrays of zero
 * entries, and the compiler may conclude that no entry lies between them
 * (reading one would be out of bounds) and drop the loop, or worse. The
 * empty asm hides where the pointer came from: it is just an address.
 */
#define TABLE_ADDR(marker)						\
	({ __typeof__(&(marker)[0]) __addr = (marker);			\
	   __asm__("" : "+r"(__addr)); __addr; })
/** @endcond */

/** Visit every entry of table @p name, with @p p a pointer to each. */
#define for_each_table_entry(p, name)					\
	for ((p) = TABLE_ADDR(__table_##name##_start);			\
	     (p) < TABLE_ADDR(__table_##name##_end); (p)++)

#endif
