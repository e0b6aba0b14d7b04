"""Offline CLI: run any goext command on a core file, with no debugger.

python3 -m goext_core EXECUTABLE CORE COMMAND [ARGS...]
python3 -m goext_core --core CORE COMMAND [ARGS...]   (executable from the core's file notes)
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from typing import Optional

from goext_core.commands import COMMAND_MODULES, Context, dispatch
from goext_core.dependencies import add_pyelftools
from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.target.corefind import open_core

# A distribution's pyelftools for a Python that does not look there (e.g.
# another python3 first on PATH).  Without it only DWARF is lost: the
# commands that need DWARF say so in one line.
add_pyelftools()

USAGE = __doc__.strip() + "\n\nCommands: " + ", ".join(sorted(COMMAND_MODULES)) + "\n"


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] == "--core":
        if len(argv) < 3:
            sys.stderr.write(USAGE)
            return 2
        executable, core, rest = None, argv[1], argv[2:]
    else:
        if len(argv) < 3:
            sys.stderr.write(USAGE)
            return 2
        executable, core, rest = argv[0], argv[1], argv[2:]
    name, arguments = rest[0], " ".join(shlex.quote(a) for a in rest[1:])

    def factory() -> GoProgram:
        # Finds the executable from the core's notes and build-ids when not
        # given; names build-ids and Go versions when the given one differs.
        return GoProgram(open_core(core, executable))

    try:
        ok = dispatch(Context(factory), name, arguments, _write_stdout)
    except GoextError as exc:  # dispatch already reports; this is belt and braces
        sys.stdout.write(f"goext: error: {exc}\n")
        ok = False
    sys.stdout.flush()
    return 0 if ok else 1


def run() -> int:
    """main(), quiet when the reader of our output goes away (``| head``),
    as Unix tools are: no traceback, the conventional status of SIGPIPE."""
    try:
        return main()
    except BrokenPipeError:
        # Further writes (the interpreter's final flush) would raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(run())
