"""``gdb -c CORE`` without an executable: find the Go executable and load it.

The offline CLI and lldb find a core's executable by themselves; gdb 13 opens
the core alone and names no function.  When a core is open in a program space
that has no executable, goext looks for the executable the way the CLI does
(:func:`goext_core.target.corefind.find_executable`: the core's file note, the
Go and GNU build-ids, the core's directory, the current one,
``$GOEXT_EXE_PATH``, debuginfod) and loads it with ``file``, saying so in one
line.  Cores without a Go build-id are left alone, so gdb sessions without Go
see nothing of this.

It runs when gdb reads the core's first objfile (the VDSO), before the prompt,
and before any goext command.
"""

from __future__ import annotations

from typing import Any, Optional

import gdb  # type: ignore[import-not-found]

from goext_core.commands.frontend import quote_argument
from goext_core.errors import GoextError
from goext_core.target.corefind import core_identity, find_executable

from .target import core_file_of

_tried: set[tuple[int, str]] = set()  # (program space id, core): looked for once
_busy = False


def load_executable_for_core() -> Optional[str]:
    """Load the executable of the selected inferior's core when gdb has none;
    the path loaded, or None (nothing to do, not a Go core, or not found)."""
    global _busy
    if _busy:
        return None
    inferior = gdb.selected_inferior()
    progspace = inferior.progspace
    connection = getattr(inferior, "connection", None)
    if progspace.filename or inferior.pid <= 0 or connection is None or connection.type != "core":
        return None
    core = core_file_of(inferior)
    if not core or (id(progspace), core) in _tried:
        return None
    _tried.add((id(progspace), core))
    _busy = True
    try:
        return _load(core)
    finally:
        _busy = False


def _load(core: str) -> Optional[str]:
    try:
        identity = core_identity(core)
    except (GoextError, OSError):
        return None
    if identity.go_build_id is None:
        return None  # not a Go program (or one goext cannot recognise): gdb's business
    try:
        executable = find_executable(core)
    except (GoextError, OSError) as exc:
        gdb.write(f"goext: {exc}\n", gdb.STDERR)
        return None
    try:
        gdb.execute(f"file {quote_argument(executable)}", to_string=True)
    except gdb.error as exc:
        gdb.write(f"goext: cannot load the executable {executable} of the core: {exc}\n", gdb.STDERR)
        return None
    gdb.write(f"goext: loaded the core's executable {executable} (matched by build-id)\n")
    return executable


def _on_new_objfile(_event: Any) -> None:
    try:
        load_executable_for_core()
    except Exception as exc:  # an event handler must not break gdb's core loading
        gdb.write(f"goext: could not look for the core's executable: {exc}\n", gdb.STDERR)


def _before_prompt() -> None:
    try:
        load_executable_for_core()
    except Exception:
        pass


_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    gdb.events.new_objfile.connect(_on_new_objfile)
    before_prompt = getattr(gdb.events, "before_prompt", None)
    if before_prompt is not None:
        before_prompt.connect(_before_prompt)
    _on_new_objfile(None)  # a core opened before goext was loaded
