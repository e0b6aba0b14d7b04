"""Give gdb function symbols for stripped Go executables as soon as they load.

When the main executable of a program space is a Go binary without a symbol
table, goext writes the pclntab functions (and, on amd64, CFI from the pcsp
tables) into a small ELF file (:mod:`goext_core.binary.symfile`) and attaches it as
the executable's separate debug file: gdb's own ``bt``, ``info symbol`` and
``break FUNC`` then work.  ``set goext-auto-symbols off`` (or
``GOEXT_AUTO_SYMBOLS=0`` in the environment) turns this off; ``go symbols``
does the same on demand.
"""

from __future__ import annotations

import os

import gdb  # type: ignore[import-not-found]

from goext_core.commands.frontend import auto_symbols_enabled, stripped_go_symbol_file


class AutoSymbolsParameter(gdb.Parameter):
    """Whether goext adds pclntab function symbols to stripped Go executables."""

    set_doc = "Set whether goext adds function symbols from pclntab to stripped Go executables."
    show_doc = "Show whether goext adds function symbols from pclntab to stripped Go executables."

    def __init__(self) -> None:
        super().__init__("goext-auto-symbols", gdb.COMMAND_DATA, gdb.PARAM_BOOLEAN)
        self.value = auto_symbols_enabled()

    def get_show_string(self, value: str) -> str:
        return f"Adding pclntab symbols to stripped Go executables is {value}."


_parameter: "AutoSymbolsParameter | None" = None
_attached: set[str] = set()  # executables (real paths) given symbols in this gdb


def register() -> None:
    global _parameter
    if _parameter is not None:
        return
    _parameter = AutoSymbolsParameter()
    gdb.events.new_objfile.connect(_on_new_objfile)
    # The executable may have been loaded before goext (gdb -x goext.py EXE).
    for progspace in gdb.progspaces():
        for objfile in progspace.objfiles():
            _maybe_attach(objfile)


def _on_new_objfile(event: "gdb.NewObjFileEvent") -> None:
    try:
        _maybe_attach(event.new_objfile)
    except Exception as exc:
        gdb.write(f"goext: could not add symbols: {exc}\n", gdb.STDERR)


def _maybe_attach(objfile: "gdb.Objfile") -> None:
    if _parameter is None or not _parameter.value or not objfile.is_valid():
        return
    if getattr(objfile, "owner", None) is not None:
        return  # a separate debug file itself
    progspace = objfile.progspace
    if progspace is None or not progspace.filename or not objfile.filename:
        return
    real = os.path.realpath(objfile.filename)
    if real != os.path.realpath(progspace.filename) or real in _attached:
        return
    path = stripped_go_symbol_file(real, for_gdb=True)
    if path is None:
        return
    _attached.add(real)
    objfile.add_separate_debug_file(path)
