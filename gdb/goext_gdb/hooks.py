"""What gdb holds of goext's Go values from the moment goext loads: the
pretty-printer collection of each Go objfile, ``$go``, ``$len``, ``$cap`` and
``$dtype``, the ``print`` wrapper and its ``goext-print`` parameter.

Each of them calls :mod:`goext_gdb.printers` or :mod:`goext_gdb.goprint`,
imported the first time gdb prints a Go value, calls a function or fails a
print: they bring goext's decoder, evaluator and formatters, a fifth of
goext's load, which a session that lists goroutines never needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional

import gdb  # type: ignore[import-not-found]
import gdb.printing  # type: ignore[import-not-found]

from goext_core.commands.frontend import is_go_executable

PRINTER_NAME = "goext-go"

_implementations: dict[str, ModuleType] = {}


def implementation(name: str) -> ModuleType:
    """The front-end module ``goext_gdb.NAME`` (printers, goprint), imported on first use."""
    module = _implementations.get(name)
    if module is None:
        module = _implementations[name] = importlib.import_module(f"{__package__}.{name}")
    return module


class GoValuePrinters(gdb.printing.PrettyPrinter):
    """goext's printers of one Go objfile (``info pretty-printer`` shows "goext-go")."""

    def __init__(self) -> None:
        super().__init__(PRINTER_NAME, [])

    def __call__(self, value: "gdb.Value") -> Any:
        return implementation("printers").lookup(value)


class LazyFunction(gdb.Function):
    """A gdb convenience function whose work is ``MODULE.ATTRIBUTE.invoke``."""

    def __init__(self, name: str, module: str, attribute: str, documentation: str) -> None:
        self.__doc__ = documentation  # gdb reads the help from the instance
        self._module = module
        self._attribute = attribute
        super().__init__(name)

    def invoke(self, *arguments: Any) -> Any:
        return getattr(implementation(self._module), self._attribute).invoke(*arguments)


class GoPrintParameter(gdb.Parameter):
    """Whether gdb's print falls back to Go expressions when gdb itself cannot evaluate one."""

    set_doc = "Set whether print evaluates Go expressions gdb cannot."
    show_doc = "Show whether print evaluates Go expressions gdb cannot."

    def __init__(self) -> None:
        super().__init__("goext-print", gdb.COMMAND_DATA, gdb.PARAM_BOOLEAN)
        self.value = True

    def get_show_string(self, value: str) -> str:
        return f"Falling back to goext's Go expressions in print is {value}."


class PrintCommand(gdb.Command):
    """Print value of expression EXP (gdb's print; goext evaluates Go expressions gdb cannot).

    Usage: print [[OPTION]... --] [/FMT] [EXP]
    Everything gdb's print does works as before ("help call" lists the
    options and formats).  In Go code, when gdb cannot evaluate EXP, goext's
    Go evaluator does: print main.gMap["key"], print s[1:3], print x.(*T).Field.
    "set goext-print off" turns that fallback off."""

    def __init__(self, name: str, parameter: GoPrintParameter) -> None:
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)
        self._parameter = parameter

    def invoke(self, arg: str, from_tty: bool) -> None:
        try:
            gdb.execute(f"call {arg}" if arg.strip() else "call $", from_tty)
            return
        except gdb.error as exc:
            gdb_error = str(exc)
        if not self._parameter.value:
            raise gdb.GdbError(gdb_error)
        implementation("goprint").print_fallback(arg, gdb_error)


_registered_objfiles: set[str] = set()
_parameter: Optional[GoPrintParameter] = None


def _register_printers_for(objfile: Any) -> None:
    filename = getattr(objfile, "filename", None) or ""
    if not filename or filename in _registered_objfiles:
        return
    if not is_go_executable(filename):  # only Go executables
        return
    _registered_objfiles.add(filename)
    gdb.printing.register_pretty_printer(objfile, GoValuePrinters(), replace=True)


def register() -> None:
    """Printers for every Go objfile loaded now or later; the functions, the
    parameter and the print wrapper once (gdb's aliases ``p`` and ``inspect``
    follow ``print`` to it)."""
    global _parameter
    for objfile in gdb.objfiles():
        _register_printers_for(objfile)
    gdb.events.new_objfile.connect(lambda event: _register_printers_for(event.new_objfile))
    LazyFunction("len", "printers", "len_function", "$len(v): length of a Go string, slice, array, map or chan.")
    LazyFunction("cap", "printers", "cap_function", "$cap(v): capacity of a Go slice, array or chan.")
    LazyFunction(
        "dtype",
        "printers",
        "dtype_function",
        '$dtype(v): the dynamic type of a Go interface value, as a string ("<nil>" for nil).',
    )
    LazyFunction(
        "go",
        "goprint",
        "go_function",
        '$go("expr"): the value of a Go expression (goext\'s evaluator) in the selected goroutine frame.',
    )
    _parameter = GoPrintParameter()
    PrintCommand("print", _parameter)
