"""What both debugger front ends share: the command table and output handling."""

from __future__ import annotations

from typing import Callable, Optional

from .commands import COMMANDS, CommandSpec


def load_command_table() -> tuple[dict[str, CommandSpec], list[str]]:
    """Every declared command, plus warning lines (none today: command modules
    are imported by goext_core.commands itself)."""
    return COMMANDS, []


class HeldBackWriter:
    """Writes through, one chunk late.

    :func:`goext_core.commands.dispatch` reports a failure by writing the
    one-line message last.  Holding back the latest chunk lets the front end
    hand that line to the debugger's own error channel (gdb.GdbError,
    SBCommandReturnObject.SetError) instead of printing it twice.
    """

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._held: Optional[str] = None

    def write(self, text: str) -> None:
        if not text:
            return
        if self._held is not None:
            self._sink(self._held)
        self._held = text

    def flush(self) -> None:
        """The command succeeded: write what was held."""
        if self._held is not None:
            self._sink(self._held)
            self._held = None

    def take_error(self) -> str:
        """The command failed: return the held message line instead of writing it."""
        held, self._held = self._held, None
        return (held or "goext: error: command failed").rstrip("\n")
