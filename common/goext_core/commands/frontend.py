"""What both debugger front ends share: the command table, output handling,
the programs kept per debugger target and argument quoting."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Hashable, Optional

from goext_core.binary.elf import GoBinary
from goext_core.binary.symfile import symbol_file_for
from goext_core.commands.base import CommandInfo, load_command_infos
from goext_core.errors import GoextError

if TYPE_CHECKING:
    from goext_core.program import GoProgram


def load_command_table() -> tuple[dict[str, CommandInfo], list[str]]:
    """Every declared command as the front ends register it (from the
    manifest: no command module is imported), plus warning lines (none today)."""
    return load_command_infos(), []


class HeldBackWriter:
    """Writes through, one chunk late, in batches.

    :func:`goext_core.commands.dispatch` reports a failure by writing the
    one-line message last.  Holding back the latest chunk lets the front end
    hand that line to the debugger's own error channel (gdb.GdbError,
    SBCommandReturnObject.SetError) instead of printing it twice.  Chunks are
    passed on joined, about ``batch`` characters at a time: a listing of
    100,000 goroutines would otherwise cost 200,000 debugger writes.
    """

    def __init__(self, sink: Callable[[str], None], batch: int = 16384) -> None:
        self._sink = sink
        self._batch = batch
        self._held: Optional[str] = None
        self._pending: list[str] = []
        self._pending_size = 0

    def write(self, text: str) -> None:
        if not text:
            return
        if self._held is not None:
            self._pending.append(self._held)
            self._pending_size += len(self._held)
            if self._pending_size >= self._batch:
                self._write_pending()
        self._held = text

    def _write_pending(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._sink(text)

    def flush(self) -> None:
        """The command succeeded: write what was held."""
        if self._held is not None:
            self._pending.append(self._held)
            self._held = None
        self._write_pending()

    def take_error(self) -> str:
        """The command failed: write what came before the message line, and
        return that line instead of writing it."""
        self._write_pending()
        held, self._held = self._held, None
        return (held or "goext: error: command failed").rstrip("\n")


class ProgramCache:
    """The GoProgram of each debugger target, kept for the few most recently
    used: building one parses the executable's tables."""

    def __init__(self, limit: int = 8) -> None:
        self._limit = limit
        self._programs: "OrderedDict[Hashable, GoProgram]" = OrderedDict()

    def get(self, key: Hashable) -> "Optional[GoProgram]":
        program = self._programs.get(key)
        if program is not None:
            self._programs.move_to_end(key)
        return program

    def add(self, key: Hashable, program: "GoProgram") -> "GoProgram":
        self._programs[key] = program
        self._programs.move_to_end(key)
        while len(self._programs) > self._limit:
            self._programs.popitem(last=False)
        return program


def quote_argument(text: str) -> str:
    """``text`` as one double-quoted argument of a gdb or lldb command (paths)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def auto_symbols_enabled() -> bool:
    """GOEXT_AUTO_SYMBOLS=0 turns off loading pclntab symbols for stripped binaries."""
    return os.environ.get("GOEXT_AUTO_SYMBOLS", "1").lower() not in ("0", "off", "no", "false")


# path -> (size, mtime, verdict): objfiles are asked about again and again.
_GO_EXECUTABLES: dict[str, tuple[int, int, bool]] = {}


def is_go_executable(path: str) -> bool:
    """Whether the file at ``path`` is a Go executable (or its separate debug
    file): a Go section or build id in its headers.  Asking the debugger for
    a symbol such as runtime.main instead makes it index the whole DWARF
    first (0.1 s for a 10 MB program, seconds for big ones)."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return False
    known = _GO_EXECUTABLES.get(path)
    if known is not None and known[:2] == (status.st_size, status.st_mtime_ns):
        return known[2]
    try:
        with GoBinary(path) as binary:
            verdict = any(binary.section(name) is not None for name in _GO_SECTIONS) or binary.go_build_id() is not None
    except GoextError:
        verdict = False
    _GO_EXECUTABLES[path] = (status.st_size, status.st_mtime_ns, verdict)
    return verdict


_GO_SECTIONS = (".gopclntab", ".go.buildinfo", ".note.go.buildid")


def stripped_go_symbol_file(path: str, for_gdb: bool = False, unwound_by_goext: bool = False) -> Optional[str]:
    """The symbol file for ``path`` when it is a Go executable with neither a
    symbol table nor DWARF; None for everything else (or on any problem).
    ``for_gdb``, ``unwound_by_goext``: see :func:`goext_core.binary.symfile.symbol_file_for`."""
    try:
        with GoBinary(path) as binary:
            if binary.section(".gopclntab") is None and binary.go_build_id() is None:
                return None
            if binary.symbol("runtime.main") is not None or binary.has_dwarf():
                return None
            return symbol_file_for(binary, for_gdb=for_gdb, unwound_by_goext=unwound_by_goext)
    except GoextError:
        return None
