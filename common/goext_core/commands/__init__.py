"""The one command table, shared by gdb, lldb and ``python3 -m goext_core``.

:mod:`goext_core.commands.base` holds the machinery (CommandSpec, Context,
dispatch, the ``command`` decorator and the COMMANDS registry); each command
module registers its commands into COMMANDS when it is imported.  Command
modules import :mod:`goext_core.commands.base`, never this package.

Importing this package imports no command module: the heap and value
commands pull in most of goext, which a one-shot ``go goroutines`` on a core
should not pay for (it is a third of a 10,000-goroutine list).
:func:`dispatch` loads the module of the command it runs (:func:`load_command`);
:data:`COMMAND_MODULES` names each command's module, and a unit test checks it
against what the modules register.  The front ends register commands from
``manifest.json`` (:func:`load_command_infos`: names, help, options), so that
loading goext in a debugger imports no command module either.
"""

from __future__ import annotations

from goext_core.commands.base import (
    COMMAND_MODULES,
    COMMANDS,
    CommandInfo,
    CommandSpec,
    Context,
    Write,
    dispatch,
    load_all_commands,
    load_command,
    load_command_infos,
)

__all__ = [
    "COMMANDS",
    "COMMAND_MODULES",
    "CommandInfo",
    "CommandSpec",
    "Context",
    "Write",
    "dispatch",
    "load_all_commands",
    "load_command",
    "load_command_infos",
]
