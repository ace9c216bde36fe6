"""Run fern in QEMU with a timeout, capture COM1, and say what happened.

Every QEMU run goes through Machine: it builds the one command line all of
fern uses (the tests, `make run`, `make debug`, the benchmarks), reads COM1
from QEMU's stdout on a thread, can type on COM1 and talk to QEMU's monitor,
and always kills QEMU in the end. When a run ends, `Machine.outcome` is one
line that says how: the kernel's exit status, a reset (triple fault), a
timeout (after silence, after `fern: ready`, or mid-output), an output
flood, or QEMU failing to start.
"""

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# QEMU's isa-debug-exit turns a guest write of v into exit status (v << 1) | 1
# (include/fern/exit.h).
EXIT_SUCCESS = 33
EXIT_FAILURE = 35
EXIT_NAMES = {
    EXIT_SUCCESS: "success (33)",
    EXIT_FAILURE: "failure (35, the kernel reported an error or panicked)",
    0: "0: the machine reset (a triple fault, or a reboot)",
}

# The flags every fern run uses: software emulation (KVM is not needed and
# nested KVM is far slower here), no window, no reboot on a triple fault,
# and the exit device.
QEMU_FLAGS = [
    "-accel", "tcg", "-M", "pc", "-display", "none", "-no-reboot",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
]

DEFAULT_MEMORY = "128M"
OUTPUT_CAP = 1 << 20  # bytes of COM1 kept before a run counts as a flood
FW_CFG_CMDLINE = "opt/fern/cmdline"


def timeout_scale():
    """FERN_TIMEOUT_SCALE multiplies every timeout (slow machines: 2 or 3).
    A value that is not a number greater than 0 is refused: silently using
    1 instead would hide the mistake until a slow test timed out."""
    text = os.environ.get("FERN_TIMEOUT_SCALE", "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = None
    if scale is None or not (scale > 0) or scale == float("inf"):
        raise HarnessError("FERN_TIMEOUT_SCALE=%r is not a number greater than 0 "
                           "(use e.g. FERN_TIMEOUT_SCALE=2 to double every timeout)"
                           % text)
    return scale


def scaled_note():
    """' (FERN_TIMEOUT_SCALE=0.1 shortened it)' when timeouts are scaled
    below 1, else '': a timeout message then says the harness, not
    necessarily the kernel, was too quick."""
    try:
        scale = timeout_scale()
    except HarnessError:
        return ""
    if scale < 1:
        return " (FERN_TIMEOUT_SCALE=%g shortened it)" % scale
    return ""


def qemu_binary():
    return os.environ.get("FERN_QEMU", "qemu-system-x86_64")


def new_nonce():
    return secrets.token_hex(4)


def qemu_command(iso, memory=DEFAULT_MEMORY, cmdline="", extra=(),
                 serial="stdio", qemu=None):
    """The QEMU command line for booting `iso` with `cmdline` appended to
    the kernel's command line through fw_cfg."""
    cmd = list(qemu) if isinstance(qemu, (list, tuple)) else [qemu or qemu_binary()]
    cmd += QEMU_FLAGS + ["-m", str(memory), "-boot", "d", "-cdrom", iso,
                         "-serial", serial]
    if cmdline:
        # QEMU's option parser takes ",," for a literal comma.
        cmd += ["-fw_cfg", "name=%s,string=%s" % (FW_CFG_CMDLINE,
                                                   cmdline.replace(",", ",,"))]
    return cmd + list(extra)


INT_LINE = re.compile(r"^\s*\d+: v=[0-9a-f]+ ")


class Machine:
    """One QEMU run. Use as a context manager so QEMU is always killed."""

    def __init__(self, iso, memory=DEFAULT_MEMORY, cmdline="", timeout=10,
                 extra=(), nonce=None, qemu=None, monitor=False):
        self.iso = iso
        self.nonce = nonce if nonce is not None else new_nonce()
        if self.nonce and "nonce=" not in cmdline:
            cmdline = (cmdline + " nonce=" + self.nonce).strip()
        self.cmdline = cmdline
        self.timeout = timeout * timeout_scale()
        self.memory = memory
        self.extra = list(extra)
        self.qemu = qemu
        self.want_monitor = monitor
        self.proc = None
        self.output = bytearray()
        self.line_times = []       # time.monotonic() at which each COM1 line ended
        self.stderr = bytearray()
        self.flooded = False
        self.killed_for = None     # why we killed QEMU, if we did
        self.exit_status = None
        self.start_time = None
        self.end_time = None
        self.qemu_log = None
        self.trace = []            # lines of the enabled trace events, when the run ended
        self._log_items = ["cpu_reset"]
        self._triple_fault = False
        self._cond = threading.Condition()
        self._threads = []
        self._tmpdir = None
        self._qmp = None
        self.command = None

    # -- lifetime -------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if not os.path.exists(self.iso):
            raise HarnessError("ISO not found: %s (build it with 'make iso', "
                               "or 'make CHAPTER=N iso')" % self.iso)
        self._tmpdir = tempfile.mkdtemp(prefix="fern-qemu-")
        self.qemu_log = os.path.join(self._tmpdir, "qemu.log")
        # QEMU keeps only the last -d: merge a Boot's own log items (e.g.
        # "int", every interrupt and exception the CPU took) with the
        # cpu_reset that triple-fault detection needs.
        items, rest, words = ["cpu_reset"], [], iter(self.extra)
        for w in words:
            if w == "-d":
                items += next(words, "").split(",")
            else:
                rest.append(w)
        self._log_items = items
        extra = ["-d", ",".join(items), "-D", self.qemu_log] + rest
        if self.want_monitor:
            sock = os.path.join(self._tmpdir, "qmp.sock")
            extra += ["-qmp", "unix:%s,server=on,wait=off" % sock]
            self._qmp_path = sock
        self.command = qemu_command(self.iso, self.memory, self.cmdline, extra,
                                    qemu=self.qemu)
        try:
            self.proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            raise HarnessError("QEMU not found: '%s' is not installed (Debian "
                               "package qemu-system-x86; run 'make doctor')"
                               % self.command[0])
        self.start_time = time.monotonic()
        for stream, sink in ((self.proc.stdout, self.output),
                             (self.proc.stderr, self.stderr)):
            t = threading.Thread(target=self._reader, args=(stream, sink),
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _reader(self, stream, sink):
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                if len(sink) < OUTPUT_CAP:
                    kept = chunk[:OUTPUT_CAP - len(sink)]
                    sink += kept
                    if sink is self.output:
                        self.line_times += [time.monotonic()] * kept.count(b"\n")
                elif sink is self.output and not self.flooded:
                    self.flooded = True
                    self._kill("flood")
                self._cond.notify_all()

    def _kill(self, why):
        if self.proc and self.proc.poll() is None:
            if self.killed_for is None:
                self.killed_for = why
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def remaining(self):
        return self.timeout - (time.monotonic() - self.start_time)

    def wait_exit(self):
        """Wait for QEMU to end by itself, killing it at the deadline."""
        try:
            self.exit_status = self.proc.wait(timeout=max(self.remaining(), 0.01))
        except subprocess.TimeoutExpired:
            self._kill("timeout")
            self.exit_status = self.proc.wait()
        self._finish()
        return self

    def stop(self, why="stopped"):
        """End the run now (the test has seen what it needed)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._kill(why)
        self.exit_status = self.proc.wait()
        self._finish()

    def _finish(self):
        if self.end_time is None:
            self.end_time = time.monotonic()
        for t in self._threads:
            t.join(timeout=2)
        if self._qmp:
            self._qmp.close()
            self._qmp = None
        if self._tmpdir:
            # Keep what we need from QEMU's log, then clean up: whether
            # it says "Triple fault", and the lines of the trace events a
            # test enabled (`-trace enable=NAME`, e.g. the PIC's port
            # writes): what the kernel did, as QEMU saw it.
            events = tuple(w.split("=", 1)[1] + " " for w in self.extra
                           if w.startswith("enable="))
            try:
                with open(self.qemu_log, errors="replace") as f:
                    log = f.read()
                self._triple_fault = "Triple fault" in log
                if events or "int" in self._log_items:
                    # QEMU's interrupt log: "   3: v=0e e=0002 i=0 ... CR2=...".
                    self.trace = [l for l in log.split("\n")
                                  if (events and l.startswith(events)) or
                                  ("int" in self._log_items and INT_LINE.match(l))]
            except OSError:
                self._triple_fault = False
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- COM1 -----------------------------------------------------------

    def text(self):
        with self._cond:
            return self.output.decode("utf-8", "replace").replace("\r", "")

    def lines(self):
        return self.text().split("\n")

    def wait(self, pattern, timeout=None):
        """Wait until a line of COM1 matches `pattern` ({nonce} is filled
        in); return the match, or None if QEMU ended or time ran out."""
        regex = compile_pattern(pattern, self.nonce)
        deadline = time.monotonic() + (timeout * timeout_scale() if timeout
                                       else max(self.remaining(), 0))
        with self._cond:
            while True:
                ended = self.proc.poll() is not None and \
                    all(not t.is_alive() for t in self._threads)
                lines = self.output.decode("utf-8", "replace") \
                    .replace("\r", "").split("\n")
                if not ended and regex.pattern.endswith("$"):
                    lines.pop()     # a line still being written (a prompt
                                    # without "$" may match it)
                for line in lines:
                    m = regex.search(line)
                    if m:
                        return m
                left = min(deadline, self.start_time + self.timeout) - time.monotonic()
                if left <= 0 or ended:
                    return None
                self._cond.wait(min(left, 0.1))

    def send(self, text):
        """Type `text` on COM1."""
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    # -- QEMU monitor ---------------------------------------------------

    def monitor(self, command):
        """Run a QEMU monitor command (e.g. 'xp /8hx 0xb8000', 'sendkey a')
        and return its text output."""
        if not self.want_monitor:
            raise HarnessError("this Machine was started without monitor=True")
        if self._qmp is None:
            self._qmp = QMP(self._qmp_path, timeout=max(self.remaining(), 1))
        return self._qmp.hmp(command)

    def qmp(self, command, **arguments):
        """Run a QMP command (e.g. 'query-pci') and return its result,
        parsed from JSON."""
        if not self.want_monitor:
            raise HarnessError("this Machine was started without monitor=True")
        if self._qmp is None:
            self._qmp = QMP(self._qmp_path, timeout=max(self.remaining(), 1))
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        return self._qmp._call(msg)

    # -- what happened --------------------------------------------------

    def seconds(self):
        end = self.end_time or time.monotonic()
        return end - self.start_time if self.start_time else 0.0

    def triple_faulted(self):
        """True if QEMU's cpu_reset log said "Triple fault" (read when the
        run ended)."""
        return self._triple_fault

    def settle(self):
        """Make sure the run has ended before anyone says how it ended: a
        test that gave up waiting (no prompt came) asks for the outcome
        while QEMU may have just exited (a triple fault, a reset) or be
        past its deadline (a silent or hung kernel). Reap or kill it now,
        so the answer is the cause, not "still running"."""
        if self.proc is None or self.exit_status is not None:
            return
        if self.proc.poll() is not None:
            self.exit_status = self.proc.wait()
            self._finish()
        elif self.remaining() <= 0:
            self._kill("timeout")
            self.exit_status = self.proc.wait()
            self._finish()

    def outcome(self):
        """One line: how this run ended."""
        self.settle()
        lines = [l for l in self.lines() if l.strip()]
        last = lines[-1] if lines else ""
        if self.killed_for == "flood":
            return "output flood: more than %d KiB on COM1, QEMU killed" % (OUTPUT_CAP // 1024)
        if self.killed_for == "timeout":
            note = scaled_note()
            if not lines:
                return "silent: no output on COM1 within %.0f s%s" % (self.timeout, note)
            if last.strip() == "fern: ready":
                return ("timeout after %.0f s%s: the kernel idled after 'fern: ready' "
                        "and never exited" % (self.timeout, note))
            if note:
                return ("timeout after %.1f s%s: the kernel had not finished; last line %r"
                        % (self.timeout, note, last[-120:]))
            return "timeout after %.0f s: the kernel hung; last line %r" % (self.timeout, last[-120:])
        if self.killed_for:
            return "stopped by the harness (%s)" % self.killed_for
        if self.exit_status == 0:
            if self.triple_faulted():
                return "triple fault: the CPU reset (QEMU exit 0); last line %r" % last[-120:]
            return "the machine reset or shut down (QEMU exit 0); last line %r" % last[-120:]
        if self.exit_status in (EXIT_SUCCESS, EXIT_FAILURE):
            return "exit status %s" % EXIT_NAMES[self.exit_status]
        if self.exit_status is None:
            return ("still running: the test stopped waiting before the run's %.0f s "
                    "timeout; last line %r" % (self.timeout, last[-120:]))
        err = self.stderr.decode("utf-8", "replace").strip().splitlines()
        if err:
            return "QEMU failed (status %s): %s" % (self.exit_status, err[-1][:200])
        return "QEMU exited with unexpected status %s" % self.exit_status

    def log_text(self):
        return ("# command: %s\n# outcome: %s\n# seconds: %.2f\n%s%s" % (
            shlex.join(self.command or []), self.outcome(), self.seconds(),
            self.text(),
            ("\n# QEMU stderr:\n" + self.stderr.decode("utf-8", "replace"))
            if self.stderr else ""))


class QMP:
    """A minimal QEMU Machine Protocol client, used for human monitor
    commands (QEMU docs: interop/qmp-spec)."""

    def __init__(self, path, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise HarnessError("cannot reach QEMU's monitor at %s" % path)
                time.sleep(0.05)
        self.buf = b""
        self._read()                      # greeting
        self._call({"execute": "qmp_capabilities"})

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HarnessError("QEMU's monitor closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def _call(self, msg):
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise HarnessError("QEMU monitor: %s" % reply["error"].get("desc"))

    def hmp(self, command):
        return self._call({"execute": "human-monitor-command",
                           "arguments": {"command-line": command}})

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class HarnessError(Exception):
    """A problem reported in one line, never as a traceback."""


def compile_pattern(pattern, nonce):
    if isinstance(pattern, re.Pattern):
        return pattern
    return re.compile(pattern.replace("{nonce}", re.escape(nonce or "")))
