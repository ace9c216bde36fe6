#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 that misbehaves on purpose, for the
harness's fault matrix. The first argument is the behaviour; the rest (the
real QEMU flags) is ignored."""

import sys
import time

mode = sys.argv[1]
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
if mode == "slow-line":
    time.sleep(3600)
sys.exit(2)
