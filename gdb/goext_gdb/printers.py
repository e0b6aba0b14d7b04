"""gdb pretty-printers and convenience functions for Go values, from the core's
one recognizer/formatter table.

- ``print``, ``info locals`` and gdb/MI varobjs show Go strings, slices,
  arrays, maps, chans, interfaces, funcs and the recognized standard-library
  types as Go does, with children and display hints so IDEs can expand maps
  (hint "map": key, value, key, value...) and slices (hint "array").
- Registered per objfile through ``gdb.printing`` as "goext-go" (see
  ``info pretty-printer``; ``disable pretty-printer .* goext-go`` turns it off).
- ``$len(v)``, ``$cap(v)`` and ``$dtype(v)`` work on every kind.

gdb holds the collection and the functions from :mod:`goext_gdb.hooks`, which
imports this module when the first Go value is printed.

The decoding itself is the core's (:mod:`goext_core.values.decode`): a printer reads
a value's memory in bulk through the same Target the commands use.
"""

from __future__ import annotations

import struct
from typing import Any, Iterator, Optional

import gdb  # type: ignore[import-not-found]

from goext_core.errors import GoextError
from goext_core.textsafe import safe_field
from goext_core.values.decode import Decoder, type_system
from goext_core.values.formatters import format_value, has_recognizer
from goext_core.values.model import (
    BYTE_KNOWN,
    BYTE_OPTIMIZED_OUT,
    BYTE_UNAVAILABLE,
    OPTIMIZED_OUT,
    UNAVAILABLE,
    Settings,
    Value,
)
from goext_core.values.types import GoType, Kind

_CONTAINER_KINDS = frozenset({Kind.SLICE, Kind.ARRAY, Kind.MAP, Kind.CHAN})
_PRINTED_KINDS = frozenset({Kind.STRING, Kind.SLICE, Kind.MAP, Kind.CHAN, Kind.INTERFACE, Kind.FUNC})


def _program() -> Any:
    from .commands import current_program

    return current_program()


def _go_type_of(value: "gdb.Value") -> Optional[GoType]:
    gdb_type = value.type
    name = gdb_type.name or str(gdb_type)
    if not name or name.startswith("struct ") and name[7:] in ("runtime.hchan", "runtime.hmap"):
        return None
    try:
        types = type_system(_program())
        if types.dwarf is None:
            return None
        return types.dwarf.type_by_name(name)
    except GoextError:
        return None


def _decode(value: "gdb.Value", go_type: GoType, settings: Optional[Settings] = None) -> Optional[Value]:
    decoder = Decoder(_program(), settings or Settings(max_depth=3))
    try:
        if value.is_optimized_out and value.type.strip_typedefs().code != gdb.TYPE_CODE_STRUCT:
            return decoder.missing(go_type, None, OPTIMIZED_OUT)
        address = value.address
    except gdb.error:
        return decoder.missing(go_type, None, UNAVAILABLE)
    if address is not None:
        return decoder.decode(go_type, int(address))
    # A value gdb holds itself (a function argument, a register, DWARF pieces):
    # rebuild its bytes, marking the parts gdb says are optimized out or unavailable.
    data = bytearray(max(go_type.size, 0))
    known = bytearray([BYTE_OPTIMIZED_OUT]) * len(data)
    if not _fill_bytes(value, data, known, 0, 0):
        return None
    return decoder.decode_bytes(go_type, bytes(data), None, known=bytes(known))


def _fill_bytes(value: "gdb.Value", out: bytearray, known: bytearray, offset: int, depth: int) -> bool:
    if depth > 8:
        return False
    gdb_type = value.type.strip_typedefs()
    size = gdb_type.sizeof
    if offset + size > len(out):
        return False
    if gdb_type.code in (
        gdb.TYPE_CODE_INT,
        gdb.TYPE_CODE_PTR,
        gdb.TYPE_CODE_BOOL,
        gdb.TYPE_CODE_CHAR,
        gdb.TYPE_CODE_ENUM,
        gdb.TYPE_CODE_FLT,
    ):
        try:
            if value.is_optimized_out:
                known[offset : offset + size] = bytes([BYTE_OPTIMIZED_OUT]) * size
                return True
            if gdb_type.code == gdb.TYPE_CODE_FLT:
                if size not in (4, 8):
                    return False
                blob = struct.pack("<f" if size == 4 else "<d", float(value))
            else:
                blob = (int(value) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        except gdb.error:  # <unavailable>: not in the core, or a register gdb could not recover
            known[offset : offset + size] = bytes([BYTE_UNAVAILABLE]) * size
            return True
        out[offset : offset + size] = blob
        known[offset : offset + size] = bytes([BYTE_KNOWN]) * size
        return True
    if gdb_type.code == gdb.TYPE_CODE_STRUCT:
        for member in gdb_type.fields():
            if member.bitpos is None or member.bitpos % 8:
                return False
            if not _fill_bytes(value[member], out, known, offset + member.bitpos // 8, depth + 1):
                return False
        return True
    if gdb_type.code == gdb.TYPE_CODE_ARRAY:
        low, high = gdb_type.range()
        element_size = gdb_type.target().strip_typedefs().sizeof
        if high - low + 1 > 4096:
            return False
        for index in range(low, high + 1):
            if not _fill_bytes(value[index], out, known, offset + (index - low) * element_size, depth + 1):
                return False
        return True
    return False


class GoPrinter:
    """One Go value; children are gdb.Values where gdb has the type, so nested
    values get their own printers (and MI varobjs can be expanded)."""

    def __init__(self, value: "gdb.Value", go_type: GoType) -> None:
        self.value = value
        self.go_type = go_type
        self._decoded: Optional[Value] = None

    def decoded(self) -> Value:
        if self._decoded is None:
            try:
                decoded = _decode(self.value, self.go_type)
            except gdb.error:  # gdb could not give a part of the value: never a Python traceback
                decoded = Value(self.go_type.name, "invalid", error=UNAVAILABLE, unavailable=UNAVAILABLE)
            self._decoded = (
                decoded if decoded is not None else Value(self.go_type.name, "invalid", error="value has no address")
            )
        return self._decoded

    def to_string(self) -> Any:
        decoded = self.decoded()
        if decoded.marked:
            # Partly optimized out: the whole text, with what is not known marked.
            return format_value(decoded, top=self.go_type.kind == Kind.SLICE)
        recognized = decoded.kind not in ("slice", "array", "map", "chan")  # e.g. net.IP: its own text
        if self.go_type.kind in _CONTAINER_KINDS and decoded.ok and not decoded.is_nil and not recognized:
            # Type names come from the target's DWARF: as terminal-safe as its strings.
            if self.go_type.kind == Kind.SLICE:
                return f"{safe_field(decoded.type_name)} len {decoded.length} cap {decoded.capacity}"
            if self.go_type.kind == Kind.MAP:
                return f"{safe_field(decoded.type_name)} len {decoded.length}"
            if self.go_type.kind == Kind.CHAN:
                return format_value(decoded)
            return safe_field(decoded.type_name)
        return format_value(decoded, top=False)


class GoContainerPrinter(GoPrinter):
    """Slices, arrays, maps and chans: expandable children (gdb only asks a
    printer with a ``children`` method for them, so scalars have none)."""

    def display_hint(self) -> Optional[str]:
        kind = self.go_type.kind
        if kind == Kind.MAP:
            return "map"
        if kind in (Kind.SLICE, Kind.ARRAY):
            return "array"
        return None

    def children(self) -> Iterator[tuple[str, Any]]:
        kind = self.go_type.kind
        decoded = self.decoded()
        if not decoded.ok or decoded.is_nil or decoded.marked:
            return
        types = _reachable_types(self.value.type)
        if kind == Kind.MAP:
            for index, (key, elem) in enumerate(decoded.entries):
                yield f"[{index}].key", _child_value(key, types)
                yield f"[{index}].value", _child_value(elem, types)
            return
        if kind in (Kind.SLICE, Kind.ARRAY, Kind.CHAN):
            for name, child in decoded.children:
                yield name, _child_value(child, types)


_TYPE_INDEXES: dict[str, dict[str, Any]] = {}
_MAX_TYPES_WALKED = 256


def _reachable_types(root: Any) -> dict[str, Any]:
    """gdb types by name reachable from a container's type (its buckets, groups,
    buffers), so children can be gdb values of their element/key types."""
    key = str(root)
    if key in _TYPE_INDEXES:
        return _TYPE_INDEXES[key]
    found: dict[str, Any] = {}
    pending = [(root, 0)]
    # gdb.lookup_type("string") fails in Go mode: take the string struct from a
    # runtime global that every Go program has (src/runtime/extern.go buildVersion).
    try:
        symbol = gdb.lookup_global_symbol("runtime.buildVersion") or gdb.lookup_static_symbol("runtime.buildVersion")
        if symbol is not None:
            pending.append((symbol.type, 5))
    except (gdb.error, AttributeError):
        pass
    seen: set[str] = set()
    while pending and len(seen) < _MAX_TYPES_WALKED:
        gdb_type, depth = pending.pop()
        label = str(gdb_type)
        if label in seen or depth > 6:
            continue
        seen.add(label)
        if gdb_type.name:
            found.setdefault(gdb_type.name, gdb_type)
        try:
            if gdb_type.code in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_TYPEDEF):
                pending.append((gdb_type.target(), depth + 1))
            if gdb_type.code == gdb.TYPE_CODE_STRUCT:
                for member in gdb_type.fields():
                    pending.append((member.type, depth + 1))
        except (gdb.error, RuntimeError):
            continue
    if len(_TYPE_INDEXES) > 1024:
        _TYPE_INDEXES.clear()
    _TYPE_INDEXES[key] = found
    return found


def _child_value(child: Value, types: dict[str, Any]) -> Any:
    """A child as a gdb.Value of its own type when gdb knows it, else its text."""
    go_type = child.go_type
    if child.address and go_type is not None and go_type.name in types:
        try:
            return gdb.Value(child.address).cast(types[go_type.name].pointer()).dereference()
        except (gdb.error, RuntimeError):
            pass
    if (
        child.kind in ("int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64")
        and child.text is not None
        and child.ok
    ):
        try:
            return int(child.text)
        except ValueError:
            pass
    return format_value(child, top=False)


def lookup(value: "gdb.Value") -> Optional[GoPrinter]:
    """gdb's lookup hook: a printer for Go values of the kinds we format."""
    try:
        gdb_type = value.type
        code = gdb_type.code
        if value.address is None and gdb_type.strip_typedefs().code in (gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_STRING):
            return None  # gdb's own string (a Python str converted in Go mode), not target memory
        if code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_FLT, gdb.TYPE_CODE_BOOL, gdb.TYPE_CODE_PTR) and not (
            gdb_type.name or ""
        ).startswith(("map[", "chan ", "chan<-", "<-chan", "func(", "time.", "main.")):
            return None
        go_type = _go_type_of(value)
        if go_type is None:
            return None
        if (
            go_type.kind in _PRINTED_KINDS
            or has_recognizer(go_type)
            or go_type.kind == Kind.ARRAY
            and go_type.elem is not None
            and go_type.elem.kind in _PRINTED_KINDS
        ):
            printer = GoContainerPrinter if go_type.kind in _CONTAINER_KINDS else GoPrinter
            return printer(value, go_type)
    except (gdb.error, GoextError, RuntimeError):
        return None
    return None


# -- convenience functions ---------------------------------------------------------------------
class _GoFunction:
    """What ``$NAME(v)`` computes (gdb holds a hooks.LazyFunction for it)."""

    def __init__(self, name: str) -> None:
        self.function_name = name

    def invoke(self, value: "gdb.Value") -> Any:
        """One gdb error line for anything that goes wrong (optimized-out and
        unreadable values included), never a Python exception."""
        try:
            if getattr(value, "is_optimized_out", False):
                raise gdb.GdbError(f"${self.function_name}: the value is optimized out")
            return self.compute(value)
        except gdb.GdbError:
            raise
        except (gdb.error, GoextError) as exc:
            raise gdb.GdbError(f"${self.function_name}: {exc}") from None
        except (RuntimeError, ValueError, LookupError, OverflowError, TypeError, AttributeError) as exc:
            raise gdb.GdbError(f"${self.function_name}: {type(exc).__name__}: {exc}") from None

    def compute(self, value: "gdb.Value") -> Any:
        raise NotImplementedError

    def require_kind(self, value: "gdb.Value", kinds: frozenset, what: str) -> None:
        """'T has no length' before anything is decoded: the kind decides it,
        not the value (which may be a gdb temporary of another size)."""
        go_type = _go_type_of(value)
        if go_type is not None and go_type.kind not in kinds:
            raise gdb.GdbError(f"${self.function_name}: {safe_field(go_type.name)} has no {what}")

    def decoded(self, value: "gdb.Value") -> Value:
        go_type = _go_type_of(value)
        if go_type is None:
            raise gdb.GdbError(f"${self.function_name}: not a Go value of a known type ({value.type})")
        try:
            decoded = _decode(value, go_type, Settings(max_elements=0, max_depth=2))
        except gdb.error as exc:
            raise gdb.GdbError(f"${self.function_name}: {exc}") from None
        if decoded is None:
            raise gdb.GdbError(f"${self.function_name}: the value has no address")
        if decoded.error:
            raise gdb.GdbError(f"${self.function_name}: {decoded.error}")
        if any(decoded.details.get(mark) for mark in ("partial", "optimized_out", "unavailable")):
            raise gdb.GdbError(f"${self.function_name}: the value is partly optimized out")
        return decoded


_LENGTH_KINDS = frozenset({Kind.STRING, Kind.SLICE, Kind.ARRAY, Kind.MAP, Kind.CHAN})
_CAPACITY_KINDS = frozenset({Kind.SLICE, Kind.ARRAY, Kind.CHAN})


class LenFunction(_GoFunction):
    """$len(v): length of a Go string, slice, array, map or chan."""

    def __init__(self) -> None:
        super().__init__("len")

    def compute(self, value: "gdb.Value") -> int:
        self.require_kind(value, _LENGTH_KINDS, "length")
        decoded = self.decoded(value)
        if decoded.is_nil:
            return 0
        if "len" in decoded.missing:
            raise gdb.GdbError(f"$len: the length is {decoded.missing['len']}")
        if decoded.length is None:
            raise gdb.GdbError(f"$len: {decoded.type_name} has no length")
        return int(decoded.length)


class CapFunction(_GoFunction):
    """$cap(v): capacity of a Go slice, array or chan."""

    def __init__(self) -> None:
        super().__init__("cap")

    def compute(self, value: "gdb.Value") -> int:
        self.require_kind(value, _CAPACITY_KINDS, "capacity")
        decoded = self.decoded(value)
        if decoded.is_nil:
            return 0
        if decoded.kind == "array":
            return int(decoded.length or 0)
        if "cap" in decoded.missing:
            raise gdb.GdbError(f"$cap: the capacity is {decoded.missing['cap']}")
        if decoded.capacity is None:
            raise gdb.GdbError(f"$cap: {decoded.type_name} has no capacity")
        return int(decoded.capacity)


class DtypeFunction(_GoFunction):
    """$dtype(v): the dynamic type of a Go interface value, as a string ("<nil>" for nil)."""

    def __init__(self) -> None:
        super().__init__("dtype")

    def compute(self, value: "gdb.Value") -> str:
        decoded = self.decoded(value)
        if decoded.kind != "interface":
            return safe_field(decoded.type_name)
        if decoded.is_nil:
            return "<nil>"
        if "type" in decoded.missing:
            return f"<type {decoded.missing['type']}>"
        return safe_field(decoded.details.get("dynamic_type", "?"))


len_function = LenFunction()
cap_function = CapFunction()
dtype_function = DtypeFunction()
