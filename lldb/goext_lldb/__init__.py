"""goext's lldb front end: registers every goext command in lldb.

Loaded by ``lldb/goext.py``'s ``__lldb_init_module``; :func:`load` registers
the commands once per debugger.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Optional

import lldb  # type: ignore[import-not-found]

import goext_core
from goext_core.binary.symfile import SIGNAL_RESTORER
from goext_core.commands.frontend import load_command_table
from goext_core.program import GoProgram

from . import commands, debugfile, goroutine_threads, printers

_registered_debuggers: set[int] = set()


def load(debugger: "lldb.SBDebugger", entry_module: ModuleType) -> None:
    """Register the ``go`` commands in ``debugger`` (again: nothing happens).

    ``command script import`` reloads the entry module on a second import,
    so the command classes are attached to it every time, while the
    registration and the banner happen once.
    """
    specs, warnings = load_command_table()
    commands.attach_classes(specs, entry_module)
    # lldb finds a command's function by name in its own namespace: the entry module's.
    entry_module.goext_lldb_threads_command = goroutine_threads.lldb_threads_command  # type: ignore[attr-defined]
    entry_module.goext_goroutine_command = goroutine_threads.goroutine_command  # type: ignore[attr-defined]
    if debugger.GetID() in _registered_debuggers:
        return
    _registered_debuggers.add(debugger.GetID())
    warnings += commands.register_all(debugger, specs, entry_module)
    add_trap_handler_names(debugger)
    # The summaries first: enabling the thread plug-in on an existing process
    # loads the debug file, which turns the summaries' category on.
    printers.register(debugger, entry_module, _program_for_values)
    warnings += _register_goroutine_threads(debugger, entry_module)
    # A target created before goext was loaded: give lldb its Go DWARF now.
    show_go_values(debugger.GetSelectedTarget())
    for warning in warnings:
        print(warning, file=sys.stderr)
    if not quiet():
        print(f"goext {goext_core.__version__}: go commands registered (go help)")


def _register_goroutine_threads(debugger: "lldb.SBDebugger", entry_module: ModuleType) -> list[str]:
    """``go lldb-threads`` and the OperatingSystem plug-in that makes goroutines
    lldb threads (GOEXT_LLDB_THREADS=0 in the environment leaves it off)."""
    goroutine_threads.on_process_created = _show_go_values
    commands.before_command = show_go_values
    goroutine_threads.program_for_target = lambda sbtarget: commands.program_for_target(
        sbtarget.GetDebugger(), sbtarget
    )
    warnings = commands.register_function(
        debugger,
        "go lldb-threads",
        f"{entry_module.__name__}.goext_lldb_threads_command",
        goroutine_threads.LLDB_THREADS_HELP,
    )
    warnings += commands.register_function(
        debugger, "goroutine", f"{entry_module.__name__}.goext_goroutine_command", goroutine_threads.GOROUTINE_HELP
    )
    if os.environ.get("GOEXT_LLDB_THREADS", "1") == "0":
        goroutine_threads.SETTINGS.enabled = False
        return warnings
    error = goroutine_threads.enable_plugin(debugger)
    return warnings + ([error] if error else [])


# Functions lldb must treat as trap handlers (``target.trap-handler-names``):
# the frame above one was interrupted, not calling, so lldb looks its pc up as
# is (not pc - 1, which at a function's first instruction names the function
# before it).  The signal restorer (its CFI in goext's symbol and debug files
# restores the interrupted registers from the signal frame; runtime.sigreturn
# before Go 1.20, src/runtime/sys_linux_amd64.s) and the calls the runtime
# injects into an interrupted goroutine (src/runtime/traceback.go: sigpanic,
# asyncPreempt; goext's own unwinder does the same).
TRAP_HANDLER_NAMES = (
    SIGNAL_RESTORER,
    "runtime.sigreturn",
    "runtime.sigpanic",
    "runtime.asyncPreempt",
)


def add_trap_handler_names(debugger: "lldb.SBDebugger") -> None:
    """Append goext's trap handler names to lldb's (the user's stay)."""
    present = debugger.GetInternalVariableValue("target.trap-handler-names", debugger.GetInstanceName())
    have = {present.GetStringAtIndex(index) for index in range(present.GetSize())} if present.IsValid() else set()
    missing = [name for name in TRAP_HANDLER_NAMES if name not in have]
    if missing:
        result = lldb.SBCommandReturnObject()
        debugger.GetCommandInterpreter().HandleCommand(
            "settings append target.trap-handler-names " + " ".join(missing), result
        )


def _show_go_values(process: "lldb.SBProcess") -> None:
    show_go_values(process.GetTarget())


def show_go_values(sbtarget: "lldb.SBTarget") -> None:
    """Give lldb goext's symbol file (the debug file with DWARF, the pclntab
    symbols when stripped); with the debug file turn the Go value summaries
    on: lldb's own views show Go values.  Never raises."""
    if not sbtarget.IsValid():
        return
    if debugfile.safe_load(sbtarget) and debugfile.loaded_file(sbtarget):
        printers.enable(sbtarget.GetDebugger())


def _program_for_values(sbtarget: "lldb.SBTarget") -> Optional[GoProgram]:
    """The GoProgram behind lldb's values of ``sbtarget``; None when goext did
    not give lldb the target's Go DWARF (not Go: lldb shows its own view)."""
    if debugfile.loaded_file(sbtarget) is None:
        return None
    return commands.program_for_target(sbtarget.GetDebugger(), sbtarget)


def quiet() -> bool:
    return os.environ.get("GOEXT_QUIET", "") not in ("", "0")
