"""The symbol table of an ELF64 file, read with the standard library only:
the tests compare what QEMU shows of the machine with where fern.elf says
its code and data are."""

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
