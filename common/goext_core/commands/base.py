"""The one command table.  Front ends (gdb, lldb, offline CLI) register every
:class:`CommandSpec` in :data:`COMMANDS` as ``go NAME`` and call :func:`dispatch`.

A command's ``run`` gets a :class:`Context` (whose ``program`` is the
:class:`goext_core.program.GoProgram` of the current target, made on first use),
the parsed arguments and a ``write`` function.  User-facing failures raise :class:`GoextError`; :func:`dispatch` turns
every exception into one line so no debugger ever shows a Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from goext_core.errors import GoextError, UsageError
from goext_core.textsafe import safe_output

if TYPE_CHECKING:
    from goext_core.program import GoProgram

Write = Callable[[str], None]
_AnyAction = TypeVar("_AnyAction", bound=argparse.Action)


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting the debugger, and
    remembers its options and which take a value (for :func:`split_raw_tail`)."""

    valued_options: set[str]
    all_options: list[str]

    def _add_action(self, action: _AnyAction) -> _AnyAction:
        # Every option passes here, those of argument groups and mutually
        # exclusive groups included (add_argument misses those).
        if not hasattr(self, "all_options"):  # -h is added by ArgumentParser.__init__
            self.all_options, self.valued_options = [], set()
        self.all_options += action.option_strings
        if action.option_strings and action.nargs is None and not isinstance(action.const, bool):
            self.valued_options.update(action.option_strings)
        return super()._add_action(action)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def print_help(self, file: Any = None) -> None:
        """-h/--help: dispatch writes the help through its own writer (sanitized,
        to the debugger's output); argparse must not print it to sys.stdout too."""

    def exit(self, status: int = 0, message: Optional[str] = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _HelpShown()


class _HelpShown(Exception):
    pass


# Help is wrapped at one width, not the terminal's: the front ends register
# it from the manifest (see load_command_infos) before any terminal is known,
# and a debugger's own help and 'go help' must read the same.
HELP_WIDTH = 78


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none worth
    saying (flags, None) or the help text names it already."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: Optional[int] = None):
        super().__init__(prog, indent_increment, max_help_position, HELP_WIDTH if width is None else width)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            default is None
            or default is False
            or default is argparse.SUPPRESS
            or "default" in text
            or action.nargs == 0
        ):  # flags: their default is "off" or shared with a sibling flag
            return text
        return f"{text} (default: %(default)s)"


def bounded_int(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse ``type`` for a count: an integer from ``minimum`` to
    ``maximum``, so -1 or 10**12 is a usage error, not a silent surprise."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be from {minimum} to {maximum}, not {value}")
        return value

    parse.__name__ = "count"  # argparse names the type in some messages
    return parse


# Upper bounds for user-given counts: far above any real need, low enough
# that nothing sized from them can exhaust memory.
MAX_FRAMES = 100_000
MAX_GOROUTINE_ID = (1 << 63) - 1
MAX_ELEMENTS = 1_000_000


class Context:
    """What a command runs against.  ``program`` is built only when first used,
    so ``go help`` works with no target loaded."""

    def __init__(self, program_factory: Callable[[], "GoProgram"], interactive: bool = False) -> None:
        self._factory = program_factory
        self._program: Optional["GoProgram"] = None
        self.interactive = interactive

    @property
    def program(self) -> "GoProgram":
        if self._program is None:
            self._program = self._factory()
        return self._program


@dataclass
class CommandSpec:
    name: str  # registered as "go NAME"
    summary: str  # one line, shown in the debugger's help list
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace, Write], None]
    gdb_aliases: list[str] = field(default_factory=list)  # extra top-level gdb commands
    raw_tail: bool = False  # after the options, the rest of the line is one argument, quotes and all

    def parser(self) -> argparse.ArgumentParser:
        parser = _Parser(
            prog=f"go {self.name}", description=self.summary, add_help=True, formatter_class=_HelpWithDefaults
        )
        self.configure(parser)
        return parser

    def help_text(self) -> str:
        return self.parser().format_help()

    def option_strings(self) -> tuple[str, ...]:
        """Every option the command takes (the front ends complete them)."""
        return tuple(sorted(getattr(self.parser(), "all_options", ())))

    def info(self) -> "CommandInfo":
        return CommandInfo(self.name, self.summary, self.help_text(), tuple(self.gdb_aliases), self.option_strings())


@dataclass(frozen=True)
class CommandInfo:
    """What a front end registers for a command: its name, help and options,
    read from the manifest (:func:`load_command_infos`) without importing the
    command's module.  ``help_text()`` as :class:`CommandSpec` has it."""

    name: str
    summary: str
    help: str
    gdb_aliases: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def help_text(self) -> str:
        return self.help


COMMANDS: dict[str, CommandSpec] = {}

# The module of each command, so that running one imports only its module
# (see the package's docstring).  Help is in this module.
_COMMAND_PACKAGE = "goext_core.commands"
# In the order their commands were always registered in.
COMMAND_MODULES: dict[str, str] = {
    "help": "base",
    "heap": "heap",
    "leaks": "heap",
    "sched": "process",
    "threads": "process",
    "deadlock": "process",
    "snapshot": "process",
    "report": "process",
    "goroutines": "stacks",
    "bt": "stacks",
    "info": "stacks",
    "print": "values",
    "locals": "values",
    "args": "values",
    "symbols": "workflow",
    "list": "workflow",
}
_MODULES = tuple(dict.fromkeys(module for module in COMMAND_MODULES.values() if module != "base"))


def load_all_commands() -> dict[str, CommandSpec]:
    """Import every command module; COMMANDS is then complete."""
    for module in _MODULES:
        importlib.import_module(f"{_COMMAND_PACKAGE}.{module}")
    return COMMANDS


def load_command(name: str) -> dict[str, CommandSpec]:
    """Import the module of command ``name`` only (every module for a name
    that is no command: the table must be complete to say so)."""
    module = COMMAND_MODULES.get(name)
    if module is None:
        return load_all_commands()
    if module != "base":
        importlib.import_module(f"{_COMMAND_PACKAGE}.{module}")
    return COMMANDS


# The front ends' view of every command, written by tools/command_manifest.py
# from the command modules (a unit test says when it is stale): registering
# commands in a debugger then imports none of them, and a session that runs
# one command pays for that command's module only.
MANIFEST_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifest.json")
MANIFEST_FORMAT = 1


def build_manifest() -> dict[str, Any]:
    """The manifest's content, from the command modules themselves."""
    specs = load_all_commands()
    commands = {name: specs[name].info() for name in COMMAND_MODULES}
    return {
        "format": MANIFEST_FORMAT,
        "commands": {
            name: {
                "summary": info.summary,
                "help": info.help,
                "gdb_aliases": list(info.gdb_aliases),
                "options": list(info.options),
            }
            for name, info in commands.items()
        },
    }


def load_command_infos() -> dict[str, CommandInfo]:
    """Every command as the front ends register it: goext's own in
    COMMAND_MODULES order, from the manifest (from the modules when it is
    missing or does not name exactly the declared commands), then any command
    put into COMMANDS by other code before the front end loaded."""
    infos = _manifest_infos()
    if infos is None:
        specs = load_all_commands()
        infos = {name: specs[name].info() for name in COMMAND_MODULES if name in specs}
    for name, spec in list(COMMANDS.items()):
        module = COMMAND_MODULES.get(name)
        if module is None or spec.run.__module__ != f"{_COMMAND_PACKAGE}.{module}":
            infos[name] = spec.info()
    return infos


def _manifest_infos() -> Optional[dict[str, CommandInfo]]:
    try:
        with open(MANIFEST_PATH, encoding="utf-8") as handle:
            manifest = json.load(handle)
        entries = manifest["commands"]
        if manifest.get("format") != MANIFEST_FORMAT or list(entries) != list(COMMAND_MODULES):
            return None
        return {
            name: CommandInfo(
                name,
                str(entry["summary"]),
                str(entry["help"]),
                tuple(map(str, entry["gdb_aliases"])),
                tuple(map(str, entry["options"])),
            )
            for name, entry in entries.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def command(
    name: str, summary: str, configure: Callable[[argparse.ArgumentParser], None], raw_tail: bool = False
) -> Callable:
    """Decorator: declare a command once; every front end registers it.  With
    ``raw_tail`` the text after the options reaches the command as typed (a Go
    expression keeps its quotes: go print m["key"])."""

    def register(run: Callable[[Context, argparse.Namespace, Write], None]) -> Callable:
        COMMANDS[name] = CommandSpec(name, summary, configure, run, raw_tail=raw_tail)
        return run

    return register


def split_raw_tail(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """Leading options split as a shell would; everything after them (or after
    "--") kept as one raw argument."""
    takes_value: set[str] = getattr(parser, "valued_options", set())
    position = 0
    options: list[str] = []
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if (
            position >= len(text)
            or text[position] != "-"
            or not text[position + 1 : position + 2].isalpha()
            and (text[position : position + 2] != "--")
        ):
            break
        end = _token_end(text, position)
        option = text[position:end]
        position = end
        if option == "--":
            break
        options.append(option)
        name = option.split("=", 1)[0]
        attached_short = len(option) > 2 and not option.startswith("--") and option[:2] in takes_value
        if name in takes_value and "=" not in option and not attached_short:
            while position < len(text) and text[position].isspace():
                position += 1
            end = _token_end(text, position)
            options.append(text[position:end])
            position = end
    argv = shlex.split(" ".join(options))
    tail = text[position:].strip()
    return argv + (["--", tail] if tail else [])


def _token_end(text: str, position: int) -> int:
    """End of one shell word (quotes keep spaces) starting at ``position``."""
    quote = ""
    while position < len(text):
        char = text[position]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char.isspace():
            break
        position += 1
    return position


def format_error(exc: BaseException) -> str:
    if isinstance(exc, GoextError):
        return f"goext: error: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return "goext: interrupted"
    return f"goext: internal error: {type(exc).__name__}: {exc} (set GOEXT_DEBUG=1 for a traceback)"


def dispatch(context: Context, name: str, arg_string: str, write: Write) -> bool:
    """Run ``go NAME ARGS``.  Returns False when it failed (the message was written).

    Every chunk of text output, error lines included, passes through
    :func:`goext_core.textsafe.safe_output`: the last line of defence, so a
    target string a renderer forgot to escape still cannot drive the terminal.
    """
    write = _terminal_safe(write)
    spec = COMMANDS.get(name) or load_command(name).get(name)
    if spec is None:
        write(f"goext: error: unknown command 'go {name}'; try 'go help'\n")
        return False
    try:
        parser = spec.parser()
        try:
            argv = split_raw_tail(parser, arg_string or "") if spec.raw_tail else shlex.split(arg_string or "")
        except ValueError as exc:
            raise UsageError(f"go {name}: {exc}") from None
        try:
            args = parser.parse_args(argv)
        except _HelpShown:
            write(spec.help_text())
            return True
        spec.run(context, args, write)
        return True
    except BaseException as exc:
        if os.environ.get("GOEXT_DEBUG"):
            write(traceback.format_exc())
        write(format_error(exc) + "\n")
        if isinstance(exc, (SystemExit, GeneratorExit)):
            raise
        return False


def _terminal_safe(write: Write) -> Write:
    def write_safely(text: str) -> None:
        write(safe_output(text))

    return write_safely


def _configure_help(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", nargs="?", help="a command name")


@command("help", "List goext's commands, or show one command's help.", _configure_help)
def _run_help(context: Context, args: argparse.Namespace, write: Write) -> None:
    load_all_commands()
    if args.topic:
        spec = COMMANDS.get(args.topic)
        if spec is None:
            raise UsageError(f"no command 'go {args.topic}'")
        write(spec.help_text())
        return
    write("goext commands:\n")
    for spec in sorted(COMMANDS.values(), key=lambda s: s.name):
        write(f"  go {spec.name:<12} {spec.summary}\n")
