"""goext's gdb front end: registers every goext command in gdb.

Loaded by ``gdb/goext.py``; :func:`load` does the work once per gdb process.
"""

from __future__ import annotations

import os

import gdb  # type: ignore[import-not-found]

import goext_core
from goext_core.commands import CommandInfo
from goext_core.commands.frontend import load_command_table

from . import coexist, commands, corefile, goroutine_frames, hooks, symbols, target

_loaded = False


def load() -> None:
    """Register the commands and hooks (only the first call does anything)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    specs, warnings = load_command_table()
    commands.register_all(specs)
    if commands.ALIASES:
        coexist.install_guard(
            is_ours=lambda name: " ".join(name.split()) in (*commands.ALIASES, goroutine_frames.COMMAND_NAME),
            reclaim=lambda name: _reclaim(name, specs),
        )
    target.connect_events()
    goroutine_frames.register()
    symbols.register()  # pclntab symbols for stripped Go executables
    corefile.register()  # gdb -c CORE alone: load the core's executable
    hooks.register()  # Go value printers, $len/$cap/$dtype/$go, print's Go fallback
    for warning in warnings:
        gdb.write(warning + "\n", gdb.STDERR)
    if not quiet():
        gdb.write(f"goext {goext_core.__version__}: go commands registered (go help)\n")


def _reclaim(name: str, specs: dict[str, CommandInfo]) -> None:
    if " ".join(name.split()) == goroutine_frames.COMMAND_NAME:
        goroutine_frames.reclaim()
    else:
        commands.reclaim_alias(name, specs)


def quiet() -> bool:
    """GOEXT_QUIET=1, or ``set $goext_quiet = 1`` before loading."""
    if os.environ.get("GOEXT_QUIET", "") not in ("", "0"):
        return True
    try:
        value = gdb.convenience_variable("goext_quiet")
    except (AttributeError, gdb.error):  # gdb < 8.3 has no convenience_variable()
        return False
    try:
        return value is not None and bool(int(value))
    except (gdb.error, ValueError, TypeError):
        return False
