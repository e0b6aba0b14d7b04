"""The one command table, shared by gdb, lldb and ``python3 -m goext_core``.

:mod:`goext_core.commands.base` holds the machinery (CommandSpec, Context,
dispatch, the ``command`` decorator and the COMMANDS registry); each command
module registers its commands into COMMANDS when it is imported.  Importing
this package imports every command module, so ``COMMANDS`` here is complete.
Command modules import :mod:`goext_core.commands.base`, never this package.
"""

from __future__ import annotations

# Imported in the order their commands were always registered (help first, in base).
from goext_core.commands import (
    heap,
    process,
    stacks,
    values,
    workflow,
)
from goext_core.commands.base import COMMANDS, CommandSpec, Context, Write, dispatch

__all__ = ["COMMANDS", "CommandSpec", "Context", "Write", "dispatch", "heap", "process", "stacks", "values", "workflow"]
