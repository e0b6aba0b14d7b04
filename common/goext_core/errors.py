"""Typed errors.  A read failure carries the address, like drgn's FaultError."""

from __future__ import annotations


class GoextError(Exception):
    """A user-facing error: printed as one line, never as a traceback."""


class MemoryReadError(GoextError):
    """Target memory at ``address`` could not be read."""

    def __init__(self, address: int, size: int, reason: str = "") -> None:
        self.address = address
        self.size = size
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"cannot read {size} bytes at {address:#x}{detail}")


class CorruptDataError(GoextError):
    """Target data was read but does not make sense (bad magic, absurd length, cycle)."""


class TruncatedError(CorruptDataError):
    """A file ends before data its own headers describe: it was cut short."""


class UnsupportedError(GoextError):
    """The binary or target uses something goext does not support."""


class UsageError(GoextError):
    """Wrong arguments given to a command."""


class MissingDependencyError(GoextError):
    """An optional third-party module (pyelftools, for DWARF) is not installed."""
