"""Give gdb function symbols for stripped Go executables as soon as they load.

When the main executable of a program space is a Go binary without a symbol
table, goext writes the pclntab functions into a small ELF file
(:mod:`goext_core.binary.symfile`) and attaches it as the executable's
separate debug file: gdb's own ``bt``, ``info symbol`` and ``break FUNC``
then work.  On amd64 gdb unwinds Go frames through :class:`StrippedGoUnwinder`,
which computes each frame's rule from the pcsp table when gdb first asks for
it; the file carries CFI only where stacks end and for the signal restorer.
(Writing CFI for all 50,000 functions of a large binary up front cost more
than gdb's own load of the core.)  ``set goext-auto-symbols off`` (or
``GOEXT_AUTO_SYMBOLS=0`` in the environment) turns this off; ``go symbols``
writes a file with CFI for every function, on demand.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import gdb  # type: ignore[import-not-found]
from gdb.unwinder import Unwinder, register_unwinder  # type: ignore[import-not-found]

from goext_core.binary.symfile import FrameRules, code_reader
from goext_core.commands.frontend import auto_symbols_enabled, stripped_go_symbol_file

from .commands import current_program


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
# Executables (real paths) whose Go frames StrippedGoUnwinder gives gdb.
_unwound: set[str] = set()
# gdb's PendingFrame.level() (gdb 12+) tells a frame's own pc from a return
# address; without it gdb gets a file with CFI for every function instead.
_CAN_UNWIND = hasattr(gdb, "PendingFrame") and hasattr(gdb.PendingFrame, "level")


def register() -> None:
    global _parameter
    if _parameter is not None:
        return
    _parameter = AutoSymbolsParameter()
    if _CAN_UNWIND:
        register_unwinder(None, StrippedGoUnwinder(), replace=True)
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
    path = stripped_go_symbol_file(real, for_gdb=True, unwound_by_goext=_CAN_UNWIND)
    if path is None:
        return
    _attached.add(real)
    if _CAN_UNWIND:
        _unwound.add(real)
    objfile.add_separate_debug_file(path)


def _real_path(path: Optional[str]) -> str:
    return os.path.realpath(path) if path else ""


class _FrameId:
    """gdb wants an object with gdb.Value ``sp`` and ``pc`` attributes."""

    def __init__(self, sp: "gdb.Value", pc: "gdb.Value") -> None:
        self.sp = sp
        self.pc = pc


class StrippedGoUnwinder(Unwinder):
    """Go frames of the stripped executables goext gave a symbol file without
    CFI: the rule at a pc is the one that file's CFI would hold
    (:class:`goext_core.binary.symfile.FrameRules`), and gdb gets what its
    DWARF unwinder would have made of it: the CFA and the function's entry as
    the frame's identity, the caller's pc and BP read lazily from the stack
    (an unreadable one stops the backtrace with gdb's own message).  Frames
    it has no rule for (other code, where stacks end, the signal restorer)
    go on to gdb's other unwinders."""

    def __init__(self) -> None:
        super().__init__("goext-stripped-go")
        # (thread, level) of the signal restorer frames seen in the current
        # unwinding: the frame above one is the interrupted frame, whose pc is
        # not a return address (gdb looks its CFI up at pc, not at pc - 1).
        self._restorers: set[tuple[Any, int]] = set()

    def __call__(self, pending: Any) -> Any:
        if not _unwound:
            return None
        try:
            return self._unwind(pending)
        except Exception:  # never into gdb's unwinding: no rule, gdb's other unwinders decide
            return None

    def _unwind(self, pending: Any) -> Any:
        if not pending.architecture().name().startswith("i386:x86-64"):
            return None
        level = int(pending.level())
        thread = gdb.selected_thread()  # while unwinding: the thread being unwound
        key = thread.ptid if thread is not None else None
        if level == 0:
            self._restorers = {entry for entry in self._restorers if entry[0] != key}
        pc_value = pending.read_register("rip")
        pc = int(pc_value)
        program = current_program()
        # gdb sniffs every frame of every thread: the executable's real path once per binary.
        executable = program.binary_memo("executable real path", lambda: _real_path(program.target.executable()))
        if executable not in _unwound:
            return None
        rules: FrameRules = program.binary_memo(
            "gdb frame rules", lambda: FrameRules(program.pclntab, code_reader(program.binary))
        )
        bias = program.target.load_bias()
        interrupted = level == 0 or (key, level - 1) in self._restorers
        link_pc = pc - bias if interrupted else pc - bias - 1
        if rules.is_signal_restorer(pc - bias):
            self._restorers.add((key, level))
            return None
        rule = rules.rule(link_pc)
        if rule is None:
            return None
        sp_value = pending.read_register("rsp")
        word = sp_value.type  # void *: the size of a saved register
        cfa = int(sp_value) + rule.cfa_offset
        info = pending.create_unwind_info(
            _FrameId(gdb.Value(cfa).cast(word), gdb.Value(rule.entry + bias).cast(pc_value.type))
        )
        # Lazy values at their stack slots: read when gdb needs them, and an
        # unreadable slot stops the backtrace with gdb's own message.
        info.add_saved_register("rip", gdb.Value(cfa - 8).cast(pc_value.type.pointer()).dereference())
        info.add_saved_register("rsp", gdb.Value(cfa).cast(word))
        if rule.bp_saved:
            info.add_saved_register("rbp", gdb.Value(cfa - 16).cast(word.pointer()).dereference())
        else:
            info.add_saved_register("rbp", pending.read_register("rbp"))
        return info
