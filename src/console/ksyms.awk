# Make the kernel symbol table (struct ksym, console.h) from `nm -n` of
# the linked kernel:
#
#     nm -n fern.elf | awk -f src/console/ksyms.awk > ksyms.c
#
# nm prints "ADDRESS TYPE NAME", sorted by address with -n. Only code
# symbols matter for a backtrace: types t and T (local and global text),
# w and W (weak). The linker script's section markers (__text_start, ...)
# are left out: they share an address with a real function.
#
# With no input it makes an empty table, for the first of the two links.
# The names go into one char array in the same .ksyms section as the
# table, not into .rodata, so that nothing outside .ksyms changes size
# between the two links.

BEGIN {
	n = 0
	offset = 0
}

$2 ~ /^[tTwW]$/ && $3 !~ /^__.*_(start|end)$/ {
	addr[n] = $1
	name[n] = $3
	at[n] = offset
	offset += length($3) + 1
	n++
}

END {
	print "/* Generated from the linked kernel by src/console/ksyms.awk; do not edit. */"
	print "#include <fern/console.h>"
	print ""
	print "const struct ksym ksym_table[] __attribute__((section(\".ksyms\"))) = {"
	for (i = 0; i < n; i++)
		printf "\t{ 0x%sUL, %d },\n", addr[i], at[i]
	# An array cannot be empty; this entry is past ksym_count.
	print "\t{ 0, 0 },"
	print "};"
	print ""
	printf "const size_t ksym_count __attribute__((section(\".ksyms\"))) = %d;\n", n
	print ""
	print "const char ksym_names[] __attribute__((section(\".ksyms\"))) ="
	for (i = 0; i < n; i++)
		printf "\t\"%s\\0\"\n", name[i]
	print "\t\"\";"
}
