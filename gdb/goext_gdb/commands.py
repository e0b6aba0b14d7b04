"""gdb commands: the ``go`` prefix, one ``go NAME`` per command spec, and the
top-level aliases some specs ask for (``info goroutines``)."""

from __future__ import annotations

import argparse
from typing import Iterable, Optional, Union

import gdb  # type: ignore[import-not-found]

from goext_core.commands import CommandSpec, Context, dispatch
from goext_core.commands.frontend import HeldBackWriter, ProgramCache
from goext_core.program import GoProgram
from goext_core.progress import set_reporter, terminal_reporter

from .corefile import load_executable_for_core
from .target import GdbTarget

# gdb command name -> spec name, for aliases that other scripts may take over.
ALIASES: dict[str, str] = {}

_programs = ProgramCache()  # one per (program space, executable); old ones are dropped
_targets: dict[object, GdbTarget] = {}


def current_program() -> GoProgram:
    """The GoProgram of the selected inferior, reused while its executable stays.
    Every entry into goext (command, printer, unwinder) comes through here."""
    progspace = gdb.selected_inferior().progspace
    for stale in [ps for ps in _targets if not ps.is_valid()]:
        del _targets[stale]
    target = _targets.get(progspace)
    if target is None:
        target = _targets[progspace] = GdbTarget(progspace)
    target.begin_command()
    key = (progspace, target.executable() or "")
    program = _programs.get(key)
    return program if program is not None else _programs.add(key, GoProgram(target))


def run_command(name: str, arg: str, from_tty: bool) -> None:
    """Dispatch ``go NAME ARG``; a failure becomes a gdb error carrying the
    one-line message, so scripts stop and nothing is printed twice."""
    load_executable_for_core()  # gdb -c CORE alone: find the executable first
    writer = HeldBackWriter(gdb.write)
    # Progress of long loops only for a person at the terminal; Ctrl-C raises KeyboardInterrupt.
    reporter = terminal_reporter(_write_status) if from_tty else None
    previous = set_reporter(reporter)
    try:
        succeeded = dispatch(Context(current_program, interactive=bool(from_tty)), name, arg, writer.write)
    finally:
        set_reporter(previous)
    if succeeded:
        writer.flush()
        return
    raise gdb.GdbError(writer.take_error())


def _write_status(text: str) -> None:
    gdb.write(text, gdb.STDERR)
    gdb.flush(gdb.STDERR)


def _documentation(spec: CommandSpec) -> str:
    # gdb shows the first line in "help go"; the rest in "help go NAME".
    try:
        details = spec.help_text().rstrip()
    except Exception as exc:
        details = f"(no help: {exc})"
    return f"{spec.summary}\n\n{details}"


def _option_strings(spec: CommandSpec) -> list[str]:
    try:
        parser = spec.parser()
    except Exception:
        return []
    # argparse has no public way to list options; _actions is stable since 2.7.
    actions: Iterable[argparse.Action] = parser._actions
    return sorted(option for action in actions for option in action.option_strings)


class GoPrefixCommand(gdb.Command):
    """Inspect Go programs: goroutines, stacks and values (goext).

    Usage: go COMMAND [ARGS...]   'go help' lists the commands, 'go help COMMAND' explains one."""

    def __init__(self) -> None:
        super().__init__("go", gdb.COMMAND_USER, gdb.COMPLETE_COMMAND, prefix=True)

    def invoke(self, arg: str, from_tty: bool) -> None:
        # Reached for "go" alone and for a word that is no subcommand.
        words = arg.split(None, 1)
        if not words:
            run_command("help", "", from_tty)
        else:
            run_command(words[0], words[1] if len(words) > 1 else "", from_tty)


class GoSubcommand(gdb.Command):
    """Runs one command spec; registered as ``go NAME`` or as an alias."""

    def __init__(self, spec: CommandSpec, gdb_name: str) -> None:
        self.__doc__ = _documentation(spec)  # gdb reads the help from the instance
        self.spec_name = spec.name
        self._spec = spec
        self._options: Optional[list[str]] = None
        super().__init__(gdb_name, gdb.COMMAND_USER)

    def invoke(self, arg: str, from_tty: bool) -> None:
        self.dont_repeat()  # a bare Enter should not rerun a possibly slow scan
        run_command(self.spec_name, arg, from_tty)

    def complete(self, text: str, word: Optional[str]) -> Union[list[str], int]:
        # gdb breaks words at "-", so match the whole last token and hand
        # back only the part that replaces ``word``.
        token = "" if not text or text[-1].isspace() else text.split()[-1]
        if not token.startswith("-"):
            return gdb.COMPLETE_NONE
        if self._options is None:
            self._options = _option_strings(self._spec)
        cut = len(token) - len(word or "")
        return [option[cut:] for option in self._options if option.startswith(token)]


def register_all(specs: dict[str, CommandSpec]) -> None:
    """Register ``go`` and every spec (call once per gdb: gdb drops the
    subcommands of a prefix command that is registered again)."""
    GoPrefixCommand()
    for spec in specs.values():
        GoSubcommand(spec, f"go {spec.name}")
    for alias, spec_name in aliases_for(specs).items():
        ALIASES[alias] = spec_name
        GoSubcommand(specs[spec_name], alias)


def aliases_for(specs: dict[str, CommandSpec]) -> dict[str, str]:
    """Top-level gdb commands: each spec's gdb_aliases, plus ``info goroutines``
    for users of Go's runtime-gdb.py."""
    aliases: dict[str, str] = {}
    for spec in specs.values():
        for alias in spec.gdb_aliases:
            aliases[" ".join(alias.split())] = spec.name
    if "goroutines" in specs:
        aliases.setdefault("info goroutines", "goroutines")
    return aliases


def reclaim_alias(gdb_name: str, specs: dict[str, CommandSpec]) -> None:
    """Register our alias again after another script took the name."""
    spec_name = ALIASES.get(" ".join(gdb_name.split()))
    if spec_name is not None and spec_name in specs:
        GoSubcommand(specs[spec_name], gdb_name)
