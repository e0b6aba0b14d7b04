"""lldb commands: a ``go`` container with one ``go NAME`` per command spec.

``command script add -c`` needs a class reachable from lldb's session
namespace, so one class per spec is generated and attached to the entry
module (the one ``command script import`` loaded).
"""

from __future__ import annotations

import os
import re
import sys
from types import ModuleType
from typing import Callable, Optional

import lldb  # type: ignore[import-not-found]

from goext_core.commands import CommandInfo, Context, dispatch
from goext_core.commands.frontend import HeldBackWriter, ProgramCache, quote_argument
from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.progress import set_reporter, terminal_reporter

from . import goroutine_threads
from .target import LldbTarget

PREFIX_HELP = "Inspect Go programs: goroutines, stacks and values (goext). 'go help' lists the commands."

# Set by the front end: run before every go command (gives lldb the Go DWARF).
before_command: Optional[Callable[["lldb.SBTarget"], None]] = None
_programs = ProgramCache()  # one per (debugger, target, executable); old ones are dropped


def program_for_target(debugger: "lldb.SBDebugger", sbtarget: "lldb.SBTarget") -> GoProgram:
    """The GoProgram of ``sbtarget`` (cached per debugger, target and executable),
    with its reads checked once against lldb's stop id."""
    if not sbtarget.IsValid():
        raise GoextError("no target: create one with a program, a core or a pid first")
    executable = sbtarget.GetExecutable()
    key = (debugger.GetID(), debugger.GetIndexOfTarget(sbtarget), executable.fullpath or "")
    program = _programs.get(key)
    if program is None:
        target = LldbTarget(sbtarget)
        target.begin_command()
        return _programs.add(key, GoProgram(target))
    if isinstance(program.target, LldbTarget):
        program.target.bind(sbtarget)
        # Once per command (and per printed value): reads inside trust it.
        program.target.begin_command()
    return program


def _program_factory(debugger: "lldb.SBDebugger", exe_ctx: "lldb.SBExecutionContext") -> Callable[[], GoProgram]:
    def current_program() -> GoProgram:
        sbtarget = exe_ctx.GetTarget() if exe_ctx is not None else lldb.SBTarget()
        if not sbtarget.IsValid():
            sbtarget = debugger.GetSelectedTarget()
        return program_for_target(debugger, sbtarget)

    return current_program


def run_command(
    name: str,
    arg: str,
    debugger: "lldb.SBDebugger",
    exe_ctx: "lldb.SBExecutionContext",
    result: "lldb.SBCommandReturnObject",
) -> None:
    """Dispatch ``go NAME ARG``; a failure goes to ``result.SetError`` as one line."""
    chunks: list[str] = []
    writer = HeldBackWriter(chunks.append)
    interactive = _at_terminal()
    goroutine_threads.ensure_loaded(debugger)
    if before_command is not None:
        before_command(debugger.GetSelectedTarget())
    context = Context(_program_factory(debugger, exe_ctx), interactive=False)
    # Progress only for a person at a terminal; lldb flags Ctrl-C instead of raising it.
    interpreter = debugger.GetCommandInterpreter()
    reporter = terminal_reporter(_write_status, interpreter.WasInterrupted) if interactive else None
    previous = set_reporter(reporter)
    try:
        succeeded = dispatch(context, name, arg, writer.write)
    finally:
        set_reporter(previous)
    if succeeded:
        writer.flush()
    else:
        error = writer.take_error()
    if chunks:
        result.Print("".join(chunks))
    if succeeded:
        result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
    else:
        # lldb prefixes "error: " itself.
        result.SetError(re.sub(r"^goext: error: ", "goext: ", error))


def _at_terminal() -> bool:
    try:
        return os.isatty(0) and os.isatty(2)
    except OSError:
        return False


def _write_status(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def class_name(spec_name: str) -> str:
    return "GoextCommand_" + re.sub(r"\W", "_", spec_name)


def command_class(spec: CommandInfo) -> type:
    """A class for ``command script add -c`` running command ``spec``."""

    class GoCommand:
        def __init__(self, debugger: "lldb.SBDebugger", internal_dict: dict) -> None:
            pass

        def __call__(self, debugger, command, exe_ctx, result) -> None:  # type: ignore[no-untyped-def]
            run_command(spec.name, command, debugger, exe_ctx, result)

        def get_short_help(self) -> str:
            return spec.summary

        def get_long_help(self) -> str:
            try:
                return spec.help_text()
            except Exception as exc:
                return f"{spec.summary}\n(no help: {exc})"

    GoCommand.__name__ = GoCommand.__qualname__ = class_name(spec.name)
    return GoCommand


def lldb_quote(text: str) -> str:
    """Quote one argument for lldb's command line."""
    return quote_argument(text.replace("\n", " "))


def attach_classes(specs: dict[str, CommandInfo], entry_module: ModuleType) -> None:
    for spec in specs.values():
        command = command_class(spec)
        setattr(entry_module, command.__name__, command)


def register_all(debugger: "lldb.SBDebugger", specs: dict[str, CommandInfo], entry_module: ModuleType) -> list[str]:
    """Add the ``go`` container and its subcommands; returns error lines."""
    interpreter = debugger.GetCommandInterpreter()
    errors: list[str] = []

    def run(command: str) -> None:
        result = lldb.SBCommandReturnObject()
        interpreter.HandleCommand(command, result)
        if not result.Succeeded():
            errors.append(f"goext: warning: '{command}' failed: {(result.GetError() or '').strip()}")

    run(f"command container add -o -h {lldb_quote(PREFIX_HELP)} go")
    for spec in specs.values():
        run(f"command script add -o -c {entry_module.__name__}.{class_name(spec.name)} go {spec.name}")
    return errors


def register_function(debugger: "lldb.SBDebugger", command: str, function: str, help_text: str) -> list[str]:
    """``command script add -f``: an lldb-only command; returns error lines."""
    result = lldb.SBCommandReturnObject()
    line = f"command script add -o -h {lldb_quote(help_text.splitlines()[0])} -f {function} {command}"
    debugger.GetCommandInterpreter().HandleCommand(line, result)
    if result.Succeeded():
        return []
    return [f"goext: warning: '{line}' failed: {(result.GetError() or '').strip()}"]
