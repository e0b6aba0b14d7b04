"""gdb commands: the ``go`` prefix, one ``go NAME`` per command, and the
top-level aliases some specs ask for (``info goroutines``)."""

from __future__ import annotations

from typing import Optional, Union

import gdb  # type: ignore[import-not-found]

from goext_core.commands import CommandInfo, Context, dispatch
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


def _documentation(info: CommandInfo) -> str:
    # gdb shows the first line in "help go"; the rest in "help go NAME".
    return f"{info.summary}\n\n{info.help_text().rstrip()}"


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
    """Runs one command; registered as ``go NAME`` or as an alias."""

    def __init__(self, info: CommandInfo, gdb_name: str) -> None:
        self.__doc__ = _documentation(info)  # gdb reads the help from the instance
        self.spec_name = info.name
        self._options = info.options
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
        cut = len(token) - len(word or "")
        return [option[cut:] for option in self._options if option.startswith(token)]


def register_all(infos: dict[str, CommandInfo]) -> None:
    """Register ``go`` and every command (call once per gdb: gdb drops the
    subcommands of a prefix command that is registered again)."""
    GoPrefixCommand()
    for info in infos.values():
        GoSubcommand(info, f"go {info.name}")
    for alias, spec_name in aliases_for(infos).items():
        ALIASES[alias] = spec_name
        GoSubcommand(infos[spec_name], alias)


def aliases_for(infos: dict[str, CommandInfo]) -> dict[str, str]:
    """Top-level gdb commands: each command's gdb_aliases, plus ``info goroutines``
    for users of Go's runtime-gdb.py."""
    aliases: dict[str, str] = {}
    for info in infos.values():
        for alias in info.gdb_aliases:
            aliases[" ".join(alias.split())] = info.name
    if "goroutines" in infos:
        aliases.setdefault("info goroutines", "goroutines")
    return aliases


def reclaim_alias(gdb_name: str, infos: dict[str, CommandInfo]) -> None:
    """Register our alias again after another script took the name."""
    spec_name = ALIASES.get(" ".join(gdb_name.split()))
    if spec_name is not None and spec_name in infos:
        GoSubcommand(infos[spec_name], gdb_name)
