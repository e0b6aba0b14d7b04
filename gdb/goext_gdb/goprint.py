"""gdb's own ``print`` with Go names: ``print main.x``, ``print x.field``,
``print m["k"]``, ``print s[1:3]`` work without quotes in a Go program.

- ``print`` (and ``p``, ``inspect``) first asks gdb itself, exactly as before
  (through ``call``, which is gdb's print without the name); only when gdb
  fails *and* the selected frame is Go code (not C or C++: cgo programs and
  C programs in the same gdb keep gdb's behaviour and messages) is the
  expression evaluated by goext's Go evaluator
  (:mod:`goext_core.values.expr`), in the selected thread's goroutine and
  frame.  The result goes into gdb's value history (``$N``) like any other.
  ``set goext-print off`` turns the fallback off.
- ``$go("expr")`` evaluates a Go expression anywhere, and returns a gdb value
  of its Go type when gdb knows that type (so pretty-printers, ``ptype`` and
  further gdb expressions apply), else its text.

gdb holds the print wrapper, the parameter and ``$go`` from
:mod:`goext_gdb.hooks`, which imports this module the first time gdb's own
print fails or ``$go`` is called.
"""

from __future__ import annotations

from typing import Any, Optional

import gdb  # type: ignore[import-not-found]

from goext_core.commands.frontend import is_go_executable
from goext_core.commands.values import current_goroutine_of, default_frame
from goext_core.errors import GoextError
from goext_core.values.decode import Decoder
from goext_core.values.expr import Scope, frame_scope
from goext_core.values.expr import evaluate as evaluate_expression
from goext_core.values.formatters import format_value
from goext_core.values.model import Settings, Value
from goext_core.values.types import GoType, Kind

from .commands import current_program
from .goroutine_frames import selected_goroutine

# Languages of frames in which gdb's own evaluation is the only one (C, C++...):
# goext answers only in Go code and in frames gdb has no language for
# (assembly runtime functions such as runtime.raise, where a core stops).
_GO_FRAME_LANGUAGES = frozenset({"go", "asm", "unknown", "minimal", "auto"})


def evaluate_here(expression: str, settings: Optional[Settings] = None) -> Value:
    """A Go expression in the selected thread's goroutine and frame (globals only
    when the thread runs no goroutine)."""
    program = current_program()
    decoder = Decoder(program, settings or Settings())
    return evaluate_expression(program, decoder, expression, _selected_scope(program, decoder))


def _selected_scope(program: Any, decoder: Decoder) -> Optional[Scope]:
    try:
        selected = selected_goroutine()  # 'goroutine N ...' shows that goroutine's frames
        record = program.goroutine(selected) if selected is not None else current_goroutine_of(program)
    except GoextError:
        return None
    if record is None:
        return None
    index = _selected_frame_index(program, record)
    scope = frame_scope(program, decoder, record, index)
    scope.locals_optional = True
    return scope


def _selected_frame_index(program: Any, record: Any) -> int:
    """The goext frame of the goroutine that is gdb's selected frame (matched by
    pc and stack pointer), else the goroutine's first frame of the program's own code."""
    try:
        frame = gdb.selected_frame()
        pc = int(frame.pc())
        sp = int(frame.read_register("sp"))
    except (gdb.error, RuntimeError, ValueError):
        return default_frame(program, record)
    frames = program.stack(record).frames
    matches = [index for index, candidate in enumerate(frames) if candidate.pc == pc and not candidate.inlined]
    for index in matches:
        if frames[index].sp == sp:
            return index
    if len(matches) == 1 and frame.level() > 0:
        return matches[0]
    return default_frame(program, record)


def _in_go_code() -> bool:
    """Whether the selected frame (or, without one, the program) is Go."""
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    if frame is not None:
        try:
            return str(frame.language()) in _GO_FRAME_LANGUAGES
        except (AttributeError, gdb.error):  # gdb < 12 has no Frame.language()
            pass
    try:
        language = str(gdb.parameter("language"))
    except gdb.error:
        return False
    return language in ("go", "auto")


def _is_go_program() -> bool:
    return any(is_go_executable(objfile.filename or "") for objfile in gdb.objfiles())


def gdb_value_of(value: Value) -> Optional[Any]:
    """The gdb value of a goext Value: its Go type from gdb's own DWARF at its address."""
    go_type = value.go_type
    if go_type is None or value.error:
        return None
    target = value.details.get("target")
    if value.kind == "pointer" and isinstance(target, int) and go_type.elem is not None:
        elem_type = _gdb_type(go_type.elem)
        if elem_type is None:
            return None
        try:  # a pointer computed by the expression (&x, conversions): gdb's *T at its target
            return gdb.Value(target).cast(elem_type.pointer())
        except (gdb.error, RuntimeError):
            return None
    if value.address is None:
        return None
    gdb_type = _gdb_type(go_type)
    if gdb_type is None:
        return None
    try:
        return gdb.Value(value.address).cast(gdb_type.pointer()).dereference()
    except (gdb.error, RuntimeError):
        return None


MAX_TYPE_NESTING = 8


def _gdb_type(go_type: GoType, depth: int = 0) -> Optional[Any]:
    """gdb's type for a Go type, of the Go type's size: by name, or (gdb names
    no "[3]int" or "*[3]int" it was not given in DWARF) built from the element
    type.  gdb's "int" and "uint" are C's 4-byte ones: Go's are int64/uint64."""
    names = [go_type.name]
    if go_type.kind in (Kind.INT, Kind.UINT, Kind.UINTPTR):
        names.append(f"{'int' if go_type.kind == Kind.INT else 'uint'}{8 * go_type.size}")
    for name in names:
        try:
            found = gdb.lookup_type(name)
        except gdb.error:
            continue
        if found.sizeof == go_type.size:
            return found
    elem = go_type.elem
    if elem is None or depth >= MAX_TYPE_NESTING:
        return None
    if go_type.kind == Kind.ARRAY and go_type.length > 0:
        elem_type = _gdb_type(elem, depth + 1)
        try:
            return None if elem_type is None else elem_type.array(go_type.length - 1)
        except (gdb.error, RuntimeError, ValueError):
            return None
    if go_type.kind == Kind.POINTER:
        elem_type = _gdb_type(elem, depth + 1)
        return None if elem_type is None else elem_type.pointer()
    return None


class _GoExpressionFunction:
    """What ``$go("expr")`` computes (gdb holds a hooks.LazyFunction for it)."""

    def invoke(self, *arguments: Any) -> Any:
        if len(arguments) != 1:
            raise gdb.GdbError('$go takes one string: $go("gMap[\\"key\\"]")')
        try:
            expression = arguments[0].string()
        except (gdb.error, AttributeError, UnicodeError):
            raise gdb.GdbError('$go takes one string: $go("gMap[\\"key\\"]")') from None
        try:
            value = evaluate_here(expression)
        except GoextError as exc:
            raise gdb.GdbError(f"$go: {exc}") from None
        except (gdb.error, RuntimeError, ValueError, LookupError, OverflowError) as exc:
            raise gdb.GdbError(f"$go: {type(exc).__name__}: {exc}") from None
        native = gdb_value_of(value)
        if native is not None:
            return native
        scalar = _scalar_gdb_value(value)
        return scalar if scalar is not None else format_value(value)


go_function = _GoExpressionFunction()


def print_fallback(arg: str, gdb_error: str) -> None:
    """gdb's print failed on ``arg``: evaluate it as Go in Go code, else raise
    gdb's own error (see the module's docstring)."""
    if not _go_fallback_applies(arg):
        raise gdb.GdbError(gdb_error)
    try:
        value = evaluate_here(arg.strip())
    except GoextError as exc:
        raise gdb.GdbError(f"{gdb_error} (goext: {exc})") from None
    except (gdb.error, RuntimeError, ValueError, LookupError, OverflowError) as exc:
        raise gdb.GdbError(f"{gdb_error} (goext: {type(exc).__name__}: {exc})") from None
    _show(value)


def _go_fallback_applies(arg: str) -> bool:
    text = arg.strip()
    if not text or text.startswith(("/", "-")) and not text[1:2].isdigit():
        return False  # print options and /FMT are gdb's own
    if "$" in text:
        return False  # gdb's convenience variables and functions: nothing goext knows
    return _in_go_code() and _is_go_program()


def _scalar_gdb_value(value: Value) -> Optional[Any]:
    """A gdb value for a scalar or string result gdb has no type for (numbers, bools, string bytes)."""
    if value.error or value.text is None:
        return None
    try:
        if value.kind in ("int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"):
            return gdb.Value(int(value.text))
        if value.kind == "uintptr":
            return gdb.Value(int(value.text, 16))
        if value.kind in ("float32", "float64"):
            return gdb.Value(float(value.text))
        if value.kind == "bool":
            return gdb.Value(value.text == "true")
        if value.kind == "string" and not value.more:
            blob = value.details.get("bytes")
            if isinstance(blob, bytes):
                return gdb.Value(blob.decode("utf-8", "replace"))
    except (gdb.error, ValueError, RuntimeError, OverflowError):
        return None
    return None


def _show(value: Value) -> None:
    """Print a result as gdb prints values: "$N = text", N in gdb's value history."""
    held = gdb_value_of(value)
    if held is None:
        held = _scalar_gdb_value(value)
    text = format_value(value)
    if held is not None:
        try:
            number = gdb.add_history(held)
            gdb.write(f"${number} = {text}\n")
            return
        except (gdb.error, AttributeError, RuntimeError):  # gdb < 12 has no add_history
            pass
    gdb.write(f"{text}\n")
