"""The symbol table of an ELF64 file, read with the standard library only:
the tests compare what QEMU shows of the machine with where fern.elf says
its code and data are."""

import os
import struct


def elf_symbols(path):
    """{name: value} of the ELF64 file's symbol table."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    symbols = {}
    for sh in sections:
        if sh[1] != 2:                      # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]            # sh_link: its string table
        for off in range(sh[4], sh[4] + sh[5], sh[9]):
            name, _info, _other, _shndx, value, _size = struct.unpack_from("<IBBHQQ", data, off)
            start = strtab[4] + name
            symbols[data[start:data.index(b"\0", start)].decode()] = value
    return symbols


def kernel_symbols(t, need=()):
    """The symbols of the kernel test `t` boots (fern.elf beside its ISO);
    fail the test, naming what is missing, if there is no such file or it
    lacks a symbol in `need`."""
    path = os.path.join(os.path.dirname(t.iso), "fern.elf")
    if not os.path.exists(path):
        t.fail("no %s to read the kernel's symbols from (build it with make)" % path)
    syms = elf_symbols(path)
    missing = [n for n in need if n not in syms]
    if missing:
        t.fail("%s has no symbol %s" % (path, ", ".join(missing)))
    return syms
