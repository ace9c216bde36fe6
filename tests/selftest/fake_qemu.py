#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 that misbehaves on purpose, for the
harness's fault matrix. The behaviour is the first argument, or, when the
harness runs it as FERN_QEMU (its first argument is then a QEMU flag), the
environment variable FERN_FAKE_QEMU; the real QEMU flags are ignored."""

import os
import sys
import time

args = sys.argv[1:]
if args and not args[0].startswith("-"):
    mode = args.pop(0)
else:
    mode = os.environ.get("FERN_FAKE_QEMU", "reset")
out = sys.stdout
if mode == "qemu-error":
    sys.stderr.write("qemu-system-x86_64: -cdrom fern.iso: Could not open 'fern.iso'\n")
    sys.exit(1)
if mode == "wrong-exit":
    out.write("fern: ready\r\n")
    out.flush()
    sys.exit(35)
if mode == "ready-then-hang":
    out.write("memory: 1024 KiB usable\r\nfern: ready\r\n")
    out.flush()
    time.sleep(3600)
if mode in ("slow-line", "silent"):
    time.sleep(3600)
if mode == "reset":
    # A kernel that resets the machine (keyboard controller, ACPI): under
    # -no-reboot QEMU exits with status 0 and its log has no triple fault.
    out.write("fern: working...\r\n")
    out.flush()
    time.sleep(0.2)
    sys.exit(0)
sys.exit(2)
