"""systemd-coredump on a machine without systemd as PID 1, for tests.

:func:`systemd_coredump` installs the package if needed, starts
``systemd-journald`` standalone and ``systemd-coredump`` behind
``systemd-socket-activate``, and points kernel.core_pattern at the
systemd-coredump pipe.  Whatever happens, core_pattern gets back exactly the
value it had and both daemons are stopped by their PIDs.  It holds the
"core-dump" lock throughout (as tests/support/cores.py does for its pattern
changes), so no other test crashes a fixture meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

from . import Unavailable, file_lock
from .cores import CORE_PATTERN

COREDUMP = Path("/lib/systemd/systemd-coredump")
JOURNALD = Path("/lib/systemd/systemd-journald")
SOCKET = Path("/run/systemd/coredump")
SYSCTL_FILE = Path("/usr/lib/sysctl.d/50-coredump.conf")
# Debian 12's value (SYSCTL_FILE), used when that file cannot be read.
DEFAULT_PIPE = "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h"

_START_TIMEOUT_S = 20
_STOP_TIMEOUT_S = 10


def _pipe_pattern() -> str:
    try:
        text = SYSCTL_FILE.read_text()
    except OSError:
        return DEFAULT_PIPE
    match = re.search(r"^kernel\.core_pattern\s*=\s*(\|.+)$", text, re.M)
    return match.group(1).strip() if match else DEFAULT_PIPE


def _stop(process: "subprocess.Popen[bytes] | None") -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


@contextlib.contextmanager
def systemd_coredump() -> Iterator[None]:
    """Cores of crashing processes go to systemd-coredump (and coredumpctl) inside the block."""
    if os.geteuid() != 0:
        raise Unavailable("systemd-coredump needs root (core_pattern, /run/systemd)")
    if Path("/run/systemd/system").is_dir():
        raise Unavailable("systemd runs here: the standalone set-up would fight it")
    with file_lock("core-dump"):
        saved = CORE_PATTERN.read_text().rstrip("\n")
        journald = activator = None
        try:
            if not COREDUMP.exists():
                from .distro import apt_install

                # Its postinst points core_pattern at the pipe: restored in finally.
                apt_install("systemd-coredump", str(COREDUMP))
                CORE_PATTERN.write_text(saved + "\n")
            for tool in (JOURNALD, Path("/usr/bin/systemd-socket-activate"), Path("/usr/bin/coredumpctl")):
                if not tool.exists():
                    raise Unavailable(f"{tool} is missing")
            journald = subprocess.Popen(
                [str(JOURNALD)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if SOCKET.exists():
                SOCKET.unlink()  # left by an earlier run; the activator binds a fresh one
            activator = subprocess.Popen(
                ["/usr/bin/systemd-socket-activate", "--seqpacket", "-a", "-l", str(SOCKET), str(COREDUMP)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + _START_TIMEOUT_S
            while not (SOCKET.exists() and Path("/run/systemd/journal/socket").exists()):
                if time.monotonic() > deadline or activator.poll() is not None or journald.poll() is not None:
                    raise AssertionError("journald or the coredump socket did not come up")
                time.sleep(0.1)
            CORE_PATTERN.write_text(_pipe_pattern() + "\n")
            yield
        finally:
            CORE_PATTERN.write_text(saved + "\n")
            _stop(activator)
            _stop(journald)


def wait_for_coredump(pid: int, timeout: float = 60.0) -> str:
    """``coredumpctl info PID`` once systemd-coredump has stored the core."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["coredumpctl", "--no-pager", "info", str(pid)], capture_output=True, text=True, timeout=30
        )
        last = done.stdout + done.stderr
        if done.returncode == 0 and re.search(r"Storage: .*\(present\)", last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"coredumpctl has no stored core of PID {pid} after {timeout}s:\n{last[-2000:]}")


__all__ = ["systemd_coredump", "wait_for_coredump"]
