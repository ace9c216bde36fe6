"""Read the VGA text screen from outside the kernel, through QEMU's monitor.

The kernel's claims about what it printed prove nothing about the screen;
reading the 80x25 cells at physical 0xb8000 with the monitor's `xp`
command does.
"""

import re

VGA_TEXT = 0xb8000
COLS, ROWS = 80, 25
WORD = re.compile(r"0x([0-9a-fA-F]{4})\b")


def read_cells(machine):
    """All 2000 cells as (character, attribute) pairs, row by row."""
    out = machine.monitor("xp /%dhx 0x%x" % (COLS * ROWS, VGA_TEXT))
    words = []
    for line in out.splitlines():
        if ":" in line:
            words += [int(w, 16) for w in WORD.findall(line.split(":", 1)[1])]
    if len(words) != COLS * ROWS:
        raise ValueError("the monitor returned %d cells, expected %d"
                         % (len(words), COLS * ROWS))
    return [(chr(w & 0xff), w >> 8) for w in words]


def read_screen(machine):
    """The screen as 25 strings with trailing blanks removed."""
    cells = read_cells(machine)
    return ["".join(c for c, _ in cells[r * COLS:(r + 1) * COLS]).rstrip()
            for r in range(ROWS)]
