"""Open only regular files.

goext reads executables, cores, snapshots and sources that users name.  A
FIFO would block ``open`` (and then ``read``) forever, a device can be endless
and a directory cannot be mapped, so anything but a regular file is refused
in one line before it is read.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from goext_core.errors import GoextError


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def require_regular_file(path: str, what: str) -> None:
    """Raise GoextError unless ``path`` (after symlinks) is a regular file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise GoextError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL byte in the name
        raise GoextError(f"cannot open {what} {path!r}: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise GoextError(f"{what} {path} is {_kind(info.st_mode)}, not a regular file")


def open_regular_file(path: str, what: str) -> BinaryIO:
    """``open(path, "rb")`` for regular files only.

    The file is opened non-blocking and checked with fstat, so a FIFO put in
    place after a stat cannot make the open itself hang."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise GoextError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise GoextError(f"cannot open {what} {path!r}: {exc}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise GoextError(f"{what} {path} is {_kind(mode)}, not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


__all__ = ["open_regular_file", "require_regular_file"]
