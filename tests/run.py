#!/usr/bin/env python3
"""`make run` and `make debug`: boot an ISO in QEMU for a person.

    python3 tests/run.py --iso build/fern.iso [--cmdline 'exit=ready'] [--memory 64M]
    python3 tests/run.py --iso build/fern.iso --debug --elf build/fern.elf

run: COM1 is this terminal (Ctrl-A X quits QEMU, Ctrl-A C toggles QEMU's
monitor). debug: QEMU starts paused with a gdb server on localhost:1234,
COM1 goes to build/debug-serial.log, and gdb attaches with the kernel's
symbols (tools/fern.gdb); quitting gdb ends QEMU. The QEMU flags are the
same ones the tests use (fernlab/qemu.py).
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fernlab.qemu import (DEFAULT_MEMORY, EXIT_SUCCESS, qemu_binary,  # noqa: E402
                          qemu_command)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iso", required=True)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--memory", default=os.environ.get("MEMORY", DEFAULT_MEMORY))
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--elf")
    ap.add_argument("--qemu-extra", default="",
                    help="more QEMU options, as one shell-quoted string "
                         "(e.g. the devices 'make run' attaches from chapter 6 on)")
    args = ap.parse_args()
    extra = shlex.split(args.qemu_extra)

    if not os.path.exists(args.iso):
        sys.exit("error: %s does not exist; build it with 'make iso'" % args.iso)
    if not shutil.which(qemu_binary()):
        sys.exit("error: %s is not installed (Debian package qemu-system-x86); "
                 "run 'make doctor'" % qemu_binary())

    if not args.debug:
        cmd = qemu_command(args.iso, args.memory, args.cmdline, serial="mon:stdio",
                           extra=extra)
        print("fern: booting %s in QEMU; Ctrl-A X quits, Ctrl-A C toggles the "
              "QEMU monitor" % args.iso, flush=True)
        status = subprocess.call(cmd)
        # The exit device's statuses (include/fern/exit.h): 33 is success.
        sys.exit(0 if status in (0, EXIT_SUCCESS) else 1)

    if not shutil.which("gdb"):
        sys.exit("error: gdb is not installed (Debian package gdb)")
    log = os.path.join(os.path.dirname(args.iso), "debug-serial.log")
    cmd = qemu_command(args.iso, args.memory, args.cmdline, serial="file:" + log,
                       extra=extra + ["-s", "-S"])
    # QEMU runs in its own session so that Ctrl-C in gdb (which stops the
    # kernel) does not kill it; we end it ourselves when gdb ends or when
    # the terminal goes away.
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)

    def end_qemu(*_):
        qemu.kill()
        qemu.wait()
        sys.exit(1)

    signal.signal(signal.SIGHUP, end_qemu)
    signal.signal(signal.SIGTERM, end_qemu)
    # Ctrl-C belongs to gdb: ignore it here without passing SIG_IGN on.
    signal.signal(signal.SIGINT, lambda *_: None)
    print("fern: QEMU is paused with a gdb server on localhost:1234; COM1 goes "
          "to %s (watch it with: tail -f %s)" % (log, log), flush=True)
    try:
        gdb = ["gdb", "-q", "-x", os.path.join(HERE, "..", "tools", "fern.gdb")]
        subprocess.call(gdb + ([args.elf] if args.elf else []))
    finally:
        qemu.kill()
        qemu.wait()


if __name__ == "__main__":
    main()
