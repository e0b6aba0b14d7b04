"""What both debugger front ends share: the command table and output handling."""

from __future__ import annotations

from typing import Any, Callable, Optional

from goext_core.commands.base import COMMANDS, CommandSpec
from goext_core.errors import MemoryReadError


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


class PageCache:
    """Whole pages of target memory, kept until the target's generation changes.

    A debugger read costs far more than a dictionary lookup, and goext reads
    many small pieces near each other (g structs, frames of one stack), so the
    front ends read through this.  A page that cannot be read whole is never
    cached: such reads go straight to the debugger."""

    PAGE = 4096
    MAX_PAGES = 16384  # 64 MiB
    DIRECT = 4 * PAGE  # larger reads bypass the cache

    def __init__(self, read_raw: Callable[[int, int], bytes]) -> None:
        self._read_raw = read_raw
        self._pages: dict[int, bytes] = {}
        self._generation: Optional[int] = None

    def read(self, address: int, size: int, generation: int) -> bytes:
        if generation != self._generation:
            self._pages.clear()
            self._generation = generation
        if size > self.DIRECT:
            return self._read_raw(address, size)
        first = address - address % self.PAGE
        chunks = []
        for page in range(first, address + size, self.PAGE):
            data = self._pages.get(page)
            if data is None:
                try:
                    data = self._read_raw(page, self.PAGE)
                except MemoryReadError:  # a partly readable page: read exactly what was asked
                    return self._read_raw(address, size)
                if len(self._pages) >= self.MAX_PAGES:
                    self._pages.clear()
                self._pages[page] = data
            chunks.append(data)
        joined = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        start = address - first
        return joined[start:start + size]


class GenerationCache:
    """Values computed from the target, dropped when its generation changes."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._generation: Optional[int] = None

    def get(self, key: str, compute: Callable[[], Any], generation: int) -> Any:
        if generation != self._generation:
            self._values.clear()
            self._generation = generation
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]
