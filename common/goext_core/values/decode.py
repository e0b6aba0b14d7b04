"""Decode Go values from target memory into a neutral tree of :class:`Value`.

The decoder reads a value's bytes once (whole structs, whole bucket arrays,
whole channel buffers) through the target's page cache, then slices fields out of that
buffer, so a debugger front end sees a few large reads rather than one call per
field.  Every loop is bounded by :class:`Settings`; anything unreadable becomes
a Value with ``error`` set, never an exception.

Runtime layouts used here cite their source:
- slices/strings: src/runtime/slice.go, string.go ({ptr, len[, cap]});
- interfaces: src/runtime/runtime2.go (eface{_type, data}, iface{tab, data};
  itab{inter, _type, ...} / internal/abi.ITab{Inter, Type, ...} since 1.23);
- maps and chans: :mod:`goext_core.values.maps` and :func:`Decoder._chan`.
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Any, Callable, Optional

from goext_core.errors import CorruptDataError, GoextError, MemoryReadError, MissingDependencyError
from goext_core.values.dwarftypes import load_dwarf_types
from goext_core.values.formatters import error_message, format_value, recognize, wrapped_chain
from goext_core.values.locations import Location, evaluate_location, has_location_list, without_rewritten_bytes
from goext_core.values.maps import decode_map
from goext_core.values.model import (
    BYTE_KNOWN,
    BYTE_OPTIMIZED_OUT,
    OPTIMIZED_OUT,
    UNAVAILABLE,
    Memory,
    Settings,
    Value,
    mask_reason,
    quote_go_string,
)
from goext_core.values.rtypes import RuntimeTypes
from goext_core.values.types import COMPLEX_KINDS, FLOAT_KINDS, SIGNED_KINDS, UNSIGNED_KINDS, Field, GoType, Kind

if TYPE_CHECKING:
    from goext_core.program import GoProgram


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


# Kinds whose values are one pointer word: stored directly in an interface's
# data word (src/internal/abi/type.go IsDirectIface; cmd/compile types.IsDirectIface).
_POINTER_SHAPED = frozenset({Kind.POINTER, Kind.CHAN, Kind.MAP, Kind.FUNC, Kind.UNSAFE_POINTER})


def is_direct_iface(go_type: GoType, depth: int = 0) -> bool:
    if "direct_iface" in go_type.facts:
        return bool(go_type.facts["direct_iface"])
    if go_type.kind in _POINTER_SHAPED:
        return True
    if depth > 8:
        return False
    if go_type.kind == Kind.STRUCT:
        fields = [f for f in go_type.fields if f.type.size > 0]
        return len(fields) == 1 and go_type.size == fields[0].type.size and is_direct_iface(fields[0].type, depth + 1)
    if go_type.kind == Kind.ARRAY:
        return go_type.length == 1 and go_type.elem is not None and is_direct_iface(go_type.elem, depth + 1)
    return False


class Decoder:
    """Turns (type, address) into :class:`Value` trees for one program."""

    def __init__(self, program: "GoProgram", settings: Optional[Settings] = None) -> None:
        self.program = program
        self.settings = settings or Settings()
        self.memory = Memory(program.target)
        self.ptr_size = program.target.ptr_size
        self.types = type_system(program)
        self._path: set[tuple[int, str]] = set()  # pointers being followed (cycle check)
        self.decoded_values = 0

    # -- entry points -------------------------------------------------------------
    def decode(self, go_type: GoType, address: int, depth: int = 0) -> Value:
        try:
            data = self.memory.read(address, go_type.size) if go_type.size else b""
        except MemoryReadError as exc:
            return self.unreadable(go_type, address, exc)
        key = (address, go_type.name)
        if go_type.kind != Kind.STRUCT or key in self._path:
            return self.decode_bytes(go_type, data, address, depth)
        # A pointer back to this struct while it is being shown is a cycle.
        self._path.add(key)
        try:
            return self.decode_bytes(go_type, data, address, depth)
        finally:
            self._path.discard(key)

    def decode_bytes(
        self, go_type: GoType, data: bytes, address: Optional[int], depth: int = 0, known: Optional[bytes] = None
    ) -> Value:
        """Decode a value from its bytes.  ``known`` (one BYTE_* state per byte,
        see values.model) marks bytes goext does not know: what depends on
        them is marked optimized out / unavailable, the rest is decoded."""
        if known is not None:
            known = known[: go_type.size].ljust(go_type.size, bytes([BYTE_OPTIMIZED_OUT]))
            reason = mask_reason(known)
            if reason is None:
                known = None
            elif go_type.kind not in _PARTIAL_KINDS or all(byte != BYTE_KNOWN for byte in known):
                return self.missing(go_type, address, reason)
        self.decoded_values += 1
        if self.decoded_values > self.settings.max_values:
            # The whole printout is over budget: stop expanding, say so once per value.
            return Value(go_type.name, _kind_name(go_type), address, text="…", go_type=go_type)
        try:
            if known is not None:
                # Recognizers read fixed words: never on partly unknown bytes.
                return self._partial(go_type, data.ljust(go_type.size, b"\0"), known, address, depth)
            special = recognize(self, go_type)
            if special is not None:
                result = special(self, go_type, data, address, depth)
                if result is not None:
                    return result
            return self._by_kind(go_type, data, address, depth)
        except MemoryReadError as exc:
            return self.unreadable(go_type, address, exc)
        except GoextError as exc:
            return Value(go_type.name, _kind_name(go_type), address, error=str(exc), go_type=go_type)
        except (ValueError, IndexError, struct.error, OverflowError, RecursionError) as exc:
            return Value(
                go_type.name,
                _kind_name(go_type),
                address,
                error=f"cannot decode: {type(exc).__name__}",
                go_type=go_type,
            )

    def missing(self, go_type: GoType, address: Optional[int], reason: str) -> Value:
        """A value none of whose bytes goext knows (``reason``: optimized out, unavailable)."""
        return Value(go_type.name, _kind_name(go_type), address, error=reason, unavailable=reason, go_type=go_type)

    def unreadable(self, go_type: GoType, address: Optional[int], exc: Exception) -> Value:
        where = f" at {address:#x}" if address else ""
        return Value(go_type.name, _kind_name(go_type), address, error=f"unreadable{where}", go_type=go_type)

    # -- helpers --------------------------------------------------------------------
    def word(self, data: bytes, offset: int) -> int:
        return int.from_bytes(data[offset : offset + self.ptr_size], "little")

    def field_bytes(self, data: bytes, member: Field) -> bytes:
        return data[member.offset : member.offset + member.type.size]

    def runtime_type(self, address: int) -> Optional[GoType]:
        return self.types.by_runtime_type(address)

    # -- kinds --------------------------------------------------------------------------
    def _by_kind(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        kind = t.kind
        if len(data) < t.size:
            raise MemoryReadError(address or 0, t.size, "short read")
        if kind == Kind.BOOL:
            return self._scalar(t, address, "true" if data[0] else "false")
        if kind in SIGNED_KINDS:
            return self._scalar(t, address, str(int.from_bytes(data[: t.size], "little", signed=True)))
        if kind in UNSIGNED_KINDS:
            number = int.from_bytes(data[: t.size], "little")
            text = f"{number:#x}" if kind == Kind.UINTPTR else str(number)
            return self._scalar(t, address, text)
        if kind in FLOAT_KINDS:
            value = struct.unpack("<f" if t.size == 4 else "<d", data[: t.size])[0]
            return self._scalar(t, address, format_float(value, t.size == 4))
        if kind in COMPLEX_KINDS:
            half = t.size // 2
            fmt = "<f" if half == 4 else "<d"
            real = struct.unpack(fmt, data[:half])[0]
            imag = struct.unpack(fmt, data[half : t.size])[0]
            return self._scalar(t, address, format_complex(real, imag, half == 4))
        if kind == Kind.STRING:
            return self._string(t, data, address)
        if kind == Kind.SLICE:
            return self._slice(t, data, address, depth)
        if kind == Kind.ARRAY:
            return self._array(t, data, address, depth)
        if kind == Kind.STRUCT:
            return self._struct(t, data, address, depth)
        if kind == Kind.POINTER:
            return self._pointer(t, data, address, depth)
        if kind == Kind.UNSAFE_POINTER:
            pointer = self.word(data, 0)
            value = self._scalar(t, address, "nil" if pointer == 0 else f"{pointer:#x}")
            value.is_nil = pointer == 0
            return value
        if kind == Kind.INTERFACE:
            return self._interface(t, data, address, depth)
        if kind == Kind.MAP:
            return decode_map(self, t, self.word(data, 0), address, depth)
        if kind == Kind.CHAN:
            return self._chan(t, self.word(data, 0), address, depth)
        if kind == Kind.FUNC:
            return self._func(t, self.word(data, 0), address)
        return Value(t.name, "invalid", address, error=f"unknown kind of {t.name}", go_type=t)

    def _scalar(self, t: GoType, address: Optional[int], text: str) -> Value:
        return Value(
            t.name, t.kind.name.lower().replace("unsafe_pointer", "unsafe.Pointer"), address, text=text, go_type=t
        )

    def read_string(self, pointer: int, length: int) -> tuple[bytes, int]:
        """Up to max_string bytes of a string, and how many were left out."""
        if length < 0 or length > 1 << 40:
            raise GoextError(f"bad string length {length}")
        shown = min(length, self.settings.max_string)
        blob = self.memory.read(pointer, shown) if shown else b""
        return blob, length - shown

    def _string(self, t: GoType, data: bytes, address: Optional[int]) -> Value:
        pointer, length = self.word(data, 0), self.word(data, self.ptr_size)
        if length > 1 << 40:
            return Value(t.name, "string", address, error=f"bad string length {length}", go_type=t)
        blob, more = self.read_string(pointer, length) if length else (b"", 0)
        return Value(
            t.name,
            "string",
            address,
            text=quote_go_string(blob),
            length=length,
            more=more,
            details={"bytes": blob},
            go_type=t,
        )

    def elements(self, elem: GoType, base: int, count: int, depth: int) -> tuple[list[tuple[str, Value]], int]:
        """Decode ``count`` consecutive elements (bounded); returns (children, omitted)."""
        shown = min(count, self.settings.max_elements)
        children: list[tuple[str, Value]] = []
        if shown and elem.size:
            try:
                blob = self.memory.read(base, shown * elem.size)
            except MemoryReadError as exc:
                return [("[0]", self.unreadable(elem, base, exc))], count - 1
            for index in range(shown):
                chunk = blob[index * elem.size : (index + 1) * elem.size]
                children.append((f"[{index}]", self.decode_bytes(elem, chunk, base + index * elem.size, depth + 1)))
        elif shown:
            children = [(f"[{i}]", self.decode_bytes(elem, b"", base, depth + 1)) for i in range(shown)]
        return children, count - shown

    def _slice(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        pointer = self.word(data, 0)
        length = self.word(data, self.ptr_size)
        capacity = self.word(data, 2 * self.ptr_size)
        value = Value(t.name, "slice", address, length=length, capacity=capacity, go_type=t)
        if pointer == 0 and length == 0:
            value.is_nil = True
            return value
        if length > capacity or length > 1 << 40:
            value.error = f"bad slice header (len {length}, cap {capacity})"
            return value
        elem = t.elem
        if elem is None:
            value.error = f"unknown element type of {t.name}"
            return value
        if depth >= self.settings.max_depth:
            value.more = length
            return value
        value.children, value.more = self.elements(elem, pointer, length, depth)
        return value

    def _array(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        value = Value(t.name, "array", address, length=t.length, go_type=t)
        elem = t.elem
        if elem is None:
            value.error = f"unknown element type of {t.name}"
            return value
        if depth >= self.settings.max_depth:
            value.more = t.length
            return value
        shown = min(t.length, self.settings.max_elements)
        for index in range(shown):
            chunk = data[index * elem.size : (index + 1) * elem.size]
            where = address + index * elem.size if address is not None else None
            value.children.append((f"[{index}]", self.decode_bytes(elem, chunk, where, depth + 1)))
        value.more = t.length - shown
        return value

    def _struct(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        value = Value(t.name, "struct", address, go_type=t)
        if depth >= self.settings.max_depth:
            value.more = len(t.fields)
            return value
        for member in t.fields[: self.settings.max_elements * 4]:
            where = address + member.offset if address is not None else None
            child = self.decode_bytes(member.type, self.field_bytes(data, member), where, depth + 1)
            if member.embedded:
                child.details["embedded"] = True
            value.children.append((member.name, child))
        return value

    def _pointer(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        pointer = self.word(data, 0)
        value = Value(t.name, "pointer", address, text="nil" if pointer == 0 else f"{pointer:#x}", go_type=t)
        value.details["target"] = pointer
        if pointer == 0:
            value.is_nil = True
            return value
        elem = t.elem
        if elem is None or elem.size == 0 or not self.settings.follow_pointers or depth >= self.settings.max_depth:
            return value
        key = (pointer, elem.name)
        if key in self._path:
            value.details["cycle"] = True
            return value
        self._path.add(key)
        try:
            # One level only: the pointee's own pointers show their address.
            saved = self.settings.follow_pointers
            self.settings.follow_pointers = elem.kind != Kind.STRUCT or depth == 0
            try:
                value.children.append(("*", self.decode(elem, pointer, depth + 1)))
            finally:
                self.settings.follow_pointers = saved
        finally:
            self._path.discard(key)
        return value

    def dynamic_type(self, t: GoType, data: bytes) -> tuple[int, int]:
        """(run-time address of the dynamic type descriptor, data word) of an interface."""
        first, data_word = self.word(data, 0), self.word(data, self.ptr_size)
        if first == 0 or t.is_empty_interface:
            return first, data_word
        # itab{inter, _type, ...}: the dynamic type is the second word
        # (src/runtime/runtime2.go itab; src/internal/abi/iface.go ITab since 1.23).
        # An itab names its interface type: a word that is no itab of this
        # interface (a stale stack slot optimized code's DWARF still points
        # at) is refused rather than decoded as one.
        if t.runtime_type:
            expected = t.runtime_type + (self.types.bias if t.source == "dwarf" else 0)
            inter = self.memory.ptr(first)
            if inter != expected:
                raise GoextError(f"bad interface: {first:#x} is not an itab of {t.name}")
        return self.memory.ptr(first + self.ptr_size), data_word

    def _interface(self, t: GoType, data: bytes, address: Optional[int], depth: int) -> Value:
        value = Value(t.name, "interface", address, go_type=t)
        type_address, data_word = self.dynamic_type(t, data)
        if type_address == 0:
            value.is_nil = True
            return value
        dynamic = self.runtime_type(type_address)
        if dynamic is None:
            value.error = f"bad interface: no type descriptor at {type_address:#x}"
            return value
        value.details["dynamic_type"] = dynamic.name
        saved = self.settings.follow_pointers
        self.settings.follow_pointers = True  # a boxed pointer is shown with its target
        try:
            self._box(value, dynamic, data_word, depth)
        finally:
            self.settings.follow_pointers = saved
        message = error_message(self, value)
        if message is not None:
            value.details["error_message"] = message
            chain = wrapped_chain(value)
            if chain:
                value.details["wraps"] = chain
        return value

    def _box(self, value: Value, dynamic: GoType, data_word: int, depth: int) -> None:
        if is_direct_iface(dynamic):
            inner = self.decode_bytes(
                dynamic,
                data_word.to_bytes(self.ptr_size, "little")[: dynamic.size].ljust(dynamic.size, b"\0"),
                None,
                depth + 1,
            )
        elif data_word == 0:
            inner = Value(dynamic.name, _kind_name(dynamic), None, error="nil data word", go_type=dynamic)
        else:
            inner = self.decode(dynamic, data_word, depth + 1)
        value.children.append((dynamic.name, inner))

    def _func(self, t: GoType, closure: int, address: Optional[int]) -> Value:
        value = Value(t.name, "func", address, go_type=t)
        if closure == 0:
            value.is_nil = True
            value.text = "nil"
            return value
        # A func value points at a closure whose first word is the code pointer
        # (src/runtime/runtime2.go funcval).
        try:
            pc = self.memory.ptr(closure)
        except MemoryReadError:
            value.error = f"unreadable closure at {closure:#x}"
            return value
        name = None
        try:
            name = self.program.func_name(pc)
        except GoextError:
            pass
        value.text = name or f"{pc:#x}"
        value.details["pc"] = pc
        return value

    def _chan(self, t: GoType, hchan: int, address: Optional[int], depth: int) -> Value:
        value = Value(t.name, "chan", address, go_type=t)
        if hchan == 0:
            value.is_nil = True
            return value
        value.details["hchan"] = hchan
        layout = self.program.layouts["runtime.hchan"]
        header = self.memory.read(hchan, layout.size)

        def get(name: str) -> int:
            offset, size = layout.fields[name]
            return int.from_bytes(header[offset : offset + size], "little")

        count, capacity = get("qcount"), get("dataqsiz")
        if count > capacity or capacity > 1 << 32:
            value.error = f"bad channel header (len {count}, cap {capacity})"
            return value
        value.length, value.capacity = count, capacity
        value.details["closed"] = get("closed") != 0
        elem = t.elem
        if elem is not None and count and depth < self.settings.max_depth:
            buffer, recvx = get("buf"), get("recvx")
            shown = min(count, self.settings.max_elements)
            for index in range(shown):
                slot = (recvx + index) % capacity
                where = buffer + slot * elem.size
                value.children.append((f"[{index}]", self.decode(elem, where, depth + 1)))
            value.more = count - shown
        for key, queue in (("recv_waiters", "recvq.first"), ("send_waiters", "sendq.first")):
            ids, more = self._waiters(get(queue))
            value.details[key] = ids
            if more:
                value.details[f"{key}_more"] = more
        return value

    def _waiters(self, sudog: int) -> tuple[list[int], "int | str"]:
        """Goroutine ids on a waitq (runtime.sudog{g, next, ...}, src/runtime/runtime2.go),
        at most max_elements of them, and how many more there are ("N+" when
        even counting them stopped at its bound)."""
        layouts = self.program.layouts
        sudog_layout = layouts["runtime.sudog"]
        goid_offset = layouts.g.offset("goid")
        g_offset, next_offset = sudog_layout.offset("g"), sudog_layout.offset("next")
        out: list[int] = []
        seen: set[int] = set()
        while sudog and sudog not in seen and len(out) < self.settings.max_elements:
            seen.add(sudog)
            g = self.memory.ptr(sudog + g_offset)
            if g:
                out.append(int.from_bytes(self.memory.read(g + goid_offset, 8), "little"))
            sudog = self.memory.ptr(sudog + next_offset)
        more = 0
        while sudog and sudog not in seen:
            if more >= _MAX_WAITERS_COUNTED:
                return out, f"{more}+"
            seen.add(sudog)
            more += 1
            try:
                sudog = self.memory.ptr(sudog + next_offset)
            except MemoryReadError:
                return out, f"{more}+"
        return out, more

    # -- values whose bytes are partly known (DWARF pieces) ------------------------------------
    def _partial(self, t: GoType, data: bytes, known: bytes, address: Optional[int], depth: int) -> Value:
        if t.kind == Kind.STRUCT:
            value = Value(t.name, "struct", address, go_type=t, partial=True)
            if depth >= self.settings.max_depth:
                value.more = len(t.fields)
                return value
            for member in t.fields[: self.settings.max_elements * 4]:
                where = address + member.offset if address is not None else None
                end = member.offset + member.type.size
                child = self.decode_bytes(
                    member.type, data[member.offset : end], where, depth + 1, known[member.offset : end]
                )
                if member.embedded:
                    child.details["embedded"] = True
                value.children.append((member.name, child))
            value.partial = any(child.marked for _, child in value.children)  # not for unknown padding
            return value
        if t.kind == Kind.ARRAY:
            value = Value(t.name, "array", address, length=t.length, go_type=t, partial=True)
            elem = t.elem
            if elem is None:
                value.error = f"unknown element type of {t.name}"
                return value
            shown = min(t.length, self.settings.max_elements)
            if depth >= self.settings.max_depth:
                shown = 0
            for index in range(shown):
                begin, end = index * elem.size, (index + 1) * elem.size
                where = address + begin if address is not None else None
                child = self.decode_bytes(elem, data[begin:end], where, depth + 1, known[begin:end])
                value.children.append((f"[{index}]", child))
            value.more = t.length - shown
            value.partial = any(child.marked for _, child in value.children) or (
                mask_reason(known[shown * elem.size :]) is not None
            )
            return value
        words = self._header_words(data, known, {Kind.SLICE: 3, Kind.STRING: 2, Kind.INTERFACE: 2}[t.kind])
        if t.kind == Kind.SLICE:
            return self._partial_slice(t, words, address, depth)
        if t.kind == Kind.STRING:
            return self._partial_string(t, words, address)
        return self._partial_interface(t, words, address, depth)

    def _header_words(self, data: bytes, known: bytes, count: int) -> list[tuple[Optional[int], Optional[str]]]:
        """(value or None, why not known) of each pointer-sized header word."""
        out: list[tuple[Optional[int], Optional[str]]] = []
        for index in range(count):
            begin, end = index * self.ptr_size, (index + 1) * self.ptr_size
            reason = mask_reason(known[begin:end])
            out.append((None, reason) if reason else (self.word(data, begin), None))
        return out

    def _partial_slice(
        self, t: GoType, words: list[tuple[Optional[int], Optional[str]]], address: Optional[int], depth: int
    ) -> Value:
        (pointer, pointer_reason), (length, length_reason), (capacity, capacity_reason) = words
        value = Value(t.name, "slice", address, length=length, capacity=capacity, go_type=t, partial=True)
        for name, reason in (("ptr", pointer_reason), ("len", length_reason), ("cap", capacity_reason)):
            if reason:
                value.missing[name] = reason
        if pointer is not None:
            value.details["data"] = pointer
        if length is None or length == 0:
            return value  # never walked as if empty: the text says the length is not known
        if length > 1 << 40 or capacity is not None and length > capacity:
            value.error = f"bad slice header (len {length}, cap {capacity})"
            return value
        if pointer is None or t.elem is None:
            return value  # the elements' address is not known
        if depth >= self.settings.max_depth:
            value.more = length
            return value
        value.children, value.more = self.elements(t.elem, pointer, length, depth)
        return value

    def _partial_string(
        self, t: GoType, words: list[tuple[Optional[int], Optional[str]]], address: Optional[int]
    ) -> Value:
        (pointer, pointer_reason), (length, length_reason) = words
        if length == 0:  # the bytes of an empty string are not needed
            return Value(t.name, "string", address, text='""', length=0, details={"bytes": b""}, go_type=t)
        reason = length_reason or pointer_reason or OPTIMIZED_OUT
        value = self.missing(t, address, reason)
        value.length = length
        value.missing = {name: why for name, why in (("ptr", pointer_reason), ("len", length_reason)) if why}
        return value

    def _partial_interface(
        self, t: GoType, words: list[tuple[Optional[int], Optional[str]]], address: Optional[int], depth: int
    ) -> Value:
        (first, type_reason), (data_word, data_reason) = words
        value = Value(t.name, "interface", address, go_type=t, partial=True)
        if first is None:
            value.missing["type"] = type_reason or OPTIMIZED_OUT
            if data_word is not None:
                value.details["data"] = data_word
            return value
        if first == 0:
            return Value(t.name, "interface", address, is_nil=True, go_type=t)  # nil whatever the data word
        type_address, _ = self.dynamic_type(t, first.to_bytes(self.ptr_size, "little") + bytes(self.ptr_size))
        dynamic = self.runtime_type(type_address)
        if dynamic is None:
            value.error = f"bad interface: no type descriptor at {type_address:#x}"
            return value
        value.details["dynamic_type"] = dynamic.name
        value.missing["data"] = data_reason or OPTIMIZED_OUT
        value.children.append((dynamic.name, self.missing(dynamic, None, value.missing["data"])))
        return value


# Waiters counted past the ones shown on one channel queue.
_MAX_WAITERS_COUNTED = 1 << 16

# Kinds whose values can be partly known: their parts are separate words or fields.
_PARTIAL_KINDS = frozenset({Kind.STRUCT, Kind.ARRAY, Kind.SLICE, Kind.STRING, Kind.INTERFACE})


def _kind_name(t: GoType) -> str:
    return "unsafe.Pointer" if t.kind == Kind.UNSAFE_POINTER else t.kind.name.lower()


# -- scalar spelling, as fmt's %v does ----------------------------------------------------
def format_float(value: float, single: bool = False) -> str:
    """fmt %v of a float: strconv 'g' with the shortest digits, exponent form when
    exp < -4 || exp >= 6 (src/fmt/print.go fmtFloat %v; src/strconv/ftoa.go formatDigits)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if single:
        text = None
        for precision in range(1, 10):
            candidate = f"{value:.{precision}g}"
            if struct.unpack("<f", struct.pack("<f", float(candidate)))[0] == value:
                text = candidate
                break
        text = text or repr(value)
    else:
        text = repr(value)
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    if "e" in text:
        mantissa, exponent_text = text.split("e")
        exponent = int(exponent_text)
    else:
        mantissa, exponent = text, 0
    if "." in mantissa:
        whole, frac = mantissa.split(".")
    else:
        whole, frac = mantissa, ""
    frac = frac.rstrip("0")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return sign + "0"
    # decimal point position relative to the digit string
    point = len(whole.lstrip("0")) + exponent if whole.strip("0") else exponent - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_complex(real: float, imag: float, single: bool = False) -> str:
    imag_text = format_float(imag, single)
    if not imag_text.startswith(("-", "+")):
        imag_text = "+" + imag_text
    return f"({format_float(real, single)}{imag_text}i)"


# -- type system: DWARF first, runtime metadata otherwise ------------------------------------
class TypeSystem:
    """Type lookups for one program: DWARF when present, else runtime metadata."""

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.bias = program.target.load_bias()
        self._dwarf: Any = None
        self._dwarf_loaded = False
        self._runtime: Any = None

    @property
    def dwarf(self) -> Any:
        if not self._dwarf_loaded:
            self._dwarf_loaded = True
            try:
                # The executable's own DWARF, or the debug file debuginfod served for it.
                source = self.program.debug_binary or self.program.binary
                self._dwarf = load_dwarf_types(source, self.types_base_static())
            except MissingDependencyError:
                # DWARF is there but cannot be read here: a command that needs
                # it says why, rather than answering as if there were none.
                self._dwarf_loaded = False
                raise
            except GoextError as exc:
                self.program.notes.append(str(exc))
                self._dwarf = None
        return self._dwarf

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            self._runtime = RuntimeTypes(self.program)
        return self._runtime

    def types_base_static(self) -> int:
        address = self.program.binary.symbol("runtime.types")
        if address is not None:
            return address
        section = self.program.binary.section(".rodata")
        return section.address if section is not None else 0

    def _dwarf_damaged(self, exc: GoextError) -> None:
        """Damaged DWARF costs only DWARF: say so once, use the runtime's type metadata."""
        note = f"{exc}; using the runtime's type metadata instead"
        if note not in self.program.notes:
            self.program.notes.append(note)

    def by_runtime_type(self, address: int) -> Optional[GoType]:
        return self._dwarf_then_runtime(
            lambda dwarf: dwarf.type_by_runtime_type(address - self.bias), lambda: self.runtime.type_at(address)
        )

    def by_name(self, name: str) -> Optional[GoType]:
        return self._dwarf_then_runtime(lambda dwarf: dwarf.type_by_name(name), lambda: self.runtime.type_by_name(name))

    def _dwarf_then_runtime(
        self, from_dwarf: Callable[[Any], Optional[GoType]], from_runtime: Callable[[], Optional[GoType]]
    ) -> Optional[GoType]:
        """A type from DWARF when there is DWARF and it knows it, else from the
        runtime's type metadata; damaged DWARF costs a note, not the answer."""
        if self.dwarf is not None:
            try:
                found = from_dwarf(self.dwarf)
            except CorruptDataError as exc:
                self._dwarf_damaged(exc)
                found = None
            if found is not None:
                return found
        try:
            return from_runtime()
        except GoextError:
            return None

    def global_variable(self, name: str) -> Optional[tuple[int, GoType]]:
        if self.dwarf is None:
            return None
        found = self.dwarf.global_variable(name)
        if found is None:
            return None
        return found[0] + self.bias, found[1]


def type_system(program: "GoProgram") -> TypeSystem:
    cache = program.binary_memo("type_system", lambda: {})
    if "types" not in cache:
        cache["types"] = TypeSystem(program)
    return cache["types"]


# -- locals -----------------------------------------------------------------------------
def frame_variables(
    program: "GoProgram",
    record: Any,
    frame_index: int,
    settings: Optional[Settings] = None,
    params: Optional[bool] = None,
    locations: Optional[dict[str, Location]] = None,
    declared_by_line: Optional[int] = None,
    split_slots: bool = False,
) -> list[tuple[str, Value, bool]]:
    """(name, value, is_param) of the variables of one frame of a goroutine, by
    their Go names, as the frame's pc sees them (and, into ``locations`` when
    given, where each one's bytes are, by the same names; with
    ``declared_by_line``, only the locals declared on or before that line;
    with ``split_slots``, the places DWARF gives, for naming and typing stack
    memory rather than showing values: the compiler's split slots too, and
    spill slots not checked for reuse):

    - only the variables whose lexical blocks hold the pc; a name declared in
      several of them is the innermost one's, and the ones it shadows are
      listed as "(name)" (as delve does), with ``details["shadowed"]``;
    - an inlined frame has the variables of its inlined call (they live in the
      physical frame that holds it);
    - a variable the compiler moved to the heap (DWARF's "&x", also a closure's
      captured-by-reference one) is "x", its value read through the pointer;
    - a variable in scope without a location at the pc is optimized out, and
      the bytes DWARF pieces leave out are marked, never read as zero."""
    stack = program.stack(record)
    frames = stack.frames
    if not 0 <= frame_index < len(frames):
        raise GoextError(f"goroutine {record.id} has no frame {frame_index} (it has {len(frames)})")
    frame = frames[frame_index]
    types = type_system(program)
    if types.dwarf is None:
        raise GoextError("locals need DWARF, and this binary has none")
    bias = program.target.load_bias()
    # Inlined frames share the pc and registers of the physical frame after them.
    physical_index = frame_index
    while physical_index + 1 < len(frames) and frames[physical_index].inlined:
        physical_index += 1
    physical = frames[physical_index]
    # A return address points after the call: look the variables up at the call.
    running = physical_index == 0 and record.plain_status == 2
    lookup_pc = physical.pc - bias if physical.symbolized_at_pc or running else physical.pc - bias - 1
    function = types.dwarf.function_at(lookup_pc)
    if function is None:
        raise GoextError(f"no DWARF for {frame.function}")
    owner = _inlined_owner(function, lookup_pc, frames, frame_index, physical_index)
    decoder = Decoder(program, settings)
    registers = frame_registers(program, record, physical_index)
    chosen: list[tuple[str, Any, GoType]] = []
    for variable in function.variables:
        if variable.type_offset is None or not variable.name or variable.inlined_in != owner:
            continue
        if not all(any(low <= lookup_pc < high for low, high in ranges) for ranges in variable.scopes):
            continue  # its block does not hold the pc
        if not variable.is_param and variable.decl_line > frame.line > 0:
            continue  # declared further down its block: not assigned yet at this line
        if declared_by_line is not None and not variable.is_param and variable.decl_line > declared_by_line > 0:
            continue
        go_type = types.dwarf.type_at(variable.type_offset)
        chosen.append((variable.name, variable, go_type))
    listed_whole = {name.lstrip("&") for name, _, _ in chosen if split_slot_base(name) is None}
    chosen = [
        entry
        for entry in chosen
        if (split_slots or split_slot_base(entry[0]) not in listed_whole)
        and (params is None or entry[1].is_param == params)
    ]
    names = _go_names(chosen)
    out: list[tuple[str, Value, bool]] = []
    for (dwarf_name, variable, go_type), name in zip(chosen, names):
        decoder.decoded_values = 0  # each variable has the whole output budget
        if not split_slots and split_slot_base(dwarf_name) is not None and not has_location_list(variable):
            # A piece's spill slot with one location for the whole function: it
            # holds the piece only while spilled there, which nothing says when.
            out.append((name, decoder.missing(go_type, None, UNAVAILABLE), variable.is_param))
            continue
        value = _variable_value(
            program,
            types.dwarf,
            decoder,
            variable,
            go_type,
            lookup_pc,
            physical,
            registers,
            locations,
            name,
            reused_slots=not split_slots,
        )
        if dwarf_name.startswith("&"):
            value = _through_heap_pointer(decoder, value, go_type)
        if name.startswith("("):
            value.details["shadowed"] = True
        out.append((name, value, variable.is_param))
    return out


_SPLIT_SLOT = re.compile(r"([^\W\d]\w*)(?:\.\w+|\[\d+\])+")


def split_slot_base(name: str) -> Optional[str]:
    """The variable a compiler-made name stands for a piece of ("kept.ptr",
    "err.itab", "p.X", "a[0]": the Go compiler's split stack slots of a
    decomposed variable; Go names never hold a dot), else None."""
    match = _SPLIT_SLOT.fullmatch(name)
    return match.group(1) if match else None


def _inlined_owner(function: Any, pc: int, frames: list[Any], frame_index: int, physical_index: int) -> int:
    """The DWARF offset of the inlined call frame ``frame_index`` is (0: the
    physical function).  Frames of one physical frame are innermost first; the
    DWARF chain of inlined calls holding the pc is outermost first."""
    if frame_index == physical_index:
        return 0
    chain = function.inlined_chain(pc)
    first = physical_index
    while first > 0 and frames[first - 1].inlined:
        first -= 1
    depth = physical_index - frame_index  # 1: inlined directly into the physical function
    if len(chain) == physical_index - first:
        return chain[depth - 1].offset
    # pclntab and DWARF disagree on the depth: the call of the same function, if only one.
    name = _without_type_arguments(frames[frame_index].function)
    matches = [call for call in chain if _without_type_arguments(call.name) == name]
    if len(matches) == 1:
        return matches[0].offset
    raise GoextError(f"no DWARF for the inlined call of {frames[frame_index].function} at this pc")


def _without_type_arguments(name: str) -> str:
    """main.f[...] and main.f[go.shape.int] are both main.f."""
    start = name.find("[")
    end = name.rfind("]")
    return name[:start] + name[end + 1 :] if 0 <= start < end else name


def _go_names(chosen: list[tuple[str, Any, GoType]]) -> list[str]:
    """Go names of the variables in scope: "&x" is x; a name declared in
    nested blocks is the innermost declaration's, the others are "(x)"."""
    plain = [name[1:] if name.startswith("&") else name for name, _, _ in chosen]
    names = list(plain)
    by_name: dict[str, list[int]] = {}
    for index, name in enumerate(plain):
        by_name.setdefault(name, []).append(index)
    for indexes in by_name.values():
        if len(indexes) < 2:
            continue
        innermost = max(indexes, key=lambda i: (len(chosen[i][1].scopes), chosen[i][1].decl_line, i))
        for index in indexes:
            if index != innermost:
                names[index] = f"({plain[index]})"
    return names


def _variable_value(
    program: "GoProgram",
    dwarf: Any,
    decoder: "Decoder",
    variable: Any,
    go_type: GoType,
    pc: int,
    frame: Any,
    registers: dict[str, int],
    locations: Optional[dict[str, Location]] = None,
    name: str = "",
    reused_slots: bool = True,
) -> Value:
    try:
        location = evaluate_location(program, dwarf, variable, pc, frame, registers)
    except GoextError as exc:
        return Value(go_type.name, _kind_name(go_type), error=str(exc), go_type=go_type)
    if locations is not None and location is not None:
        locations[name] = location
    ptr = program.target.ptr_size
    if (
        reused_slots
        and location is not None
        and location.since is not None
        and (location.pieces or go_type.size <= ptr)
        and register_allocatable(go_type, ptr)
    ):
        # A spilled value's stack slot: the compiler may have given it to another value since.
        location = without_rewritten_bytes(program, location, go_type.size, frame)
    if location is None or location.optimized_out:
        reason = location.reason if location is not None else OPTIMIZED_OUT
        return decoder.missing(go_type, None, reason)
    if location.address is not None:
        return decoder.decode(go_type, location.address)
    if location.pieces and len(location.data) > go_type.size:
        # Pieces describing more bytes than the type has: a stale description
        # (seen in Go 1.19's location lists), not to be decoded as the value.
        return decoder.missing(go_type, None, UNAVAILABLE)
    # Bytes past what the location supplies are not known (a register holds
    # one word; pieces may cover less than the type).
    data = location.data[: go_type.size].ljust(go_type.size, b"\0")
    known = location.known if location.known is not None else bytes([BYTE_KNOWN]) * len(location.data)
    known = known[: go_type.size].ljust(go_type.size, bytes([BYTE_OPTIMIZED_OUT]))
    value = decoder.decode_bytes(go_type, data, None, known=known)
    if value.marked:
        value.details["partial"] = True
    elif mask_reason(known) is None:
        value.raw = data
    return value


MAX_SSA_FIELDS = 4  # cmd/compile/internal/ssa/decompose.go MaxStruct


def register_allocatable(go_type: GoType, ptr_size: int, depth: int = 0) -> bool:
    """Whether the Go compiler keeps a variable of this type in registers and
    spill slots (cmd/compile/internal/ssa/value.go CanSSA; ssagen TypeOK before
    Go 1.21): at most 4 words, arrays of at most one element, structs of at most
    4 such fields.  Other variables live in their own stack home, written in
    place."""
    if depth > 16:
        return False
    if go_type.size == 0:
        return True
    if go_type.size > MAX_SSA_FIELDS * ptr_size:
        return False
    if go_type.kind == Kind.ARRAY:
        return go_type.length <= 1 and (go_type.elem is None or register_allocatable(go_type.elem, ptr_size, depth + 1))
    if go_type.kind == Kind.STRUCT:
        if is_direct_iface(go_type):
            return True
        fields = go_type.fields
        return len(fields) <= MAX_SSA_FIELDS and all(
            register_allocatable(member.type, ptr_size, depth + 1) for member in fields
        )
    return True


def _through_heap_pointer(decoder: "Decoder", pointer_value: Value, pointer_type: GoType) -> Value:
    """A heap-allocated variable's value from its "&x" pointer (as delve shows it)."""
    elem = pointer_type.elem
    if elem is None:
        return pointer_value
    if pointer_value.unavailable:
        return decoder.missing(elem, None, pointer_value.unavailable)
    target = pointer_value.details.get("target")
    if pointer_value.error or not isinstance(target, int):
        return Value(elem.name, _kind_name(elem), error=pointer_value.error or "unreadable", go_type=elem)
    if target == 0:
        # Not allocated yet at this pc (new(x) runs at the declaration).
        return decoder.missing(elem, None, UNAVAILABLE)
    value = decoder.decode(elem, target)
    value.details["heap"] = True
    return value


def frame_registers(program: "GoProgram", record: Any, frame_index: int) -> dict[str, int]:
    """Registers known for a frame: the innermost frame of a goroutine on a thread
    has the thread's; every other frame only its CFA (frame.fp on amd64) and
    sp/pc.  Go has no callee-saved registers, so nothing else of an outer frame
    can be recovered: the others are left out, and read as unavailable."""
    frame = program.stack(record).frames[frame_index]
    if program.target.arch == "arm64":
        registers: dict[str, int] = {"sp": frame.sp, "cfa": frame.fp}
    else:
        registers = {"rsp": frame.sp, "rip": frame.pc, "cfa": frame.fp}
    if frame_index == 0:
        machine = program.machine_of(record)
        thread = program.thread_for(machine) if machine is not None and record.plain_status == 2 else None
        if thread is not None:
            registers.update(thread.registers)
            registers["cfa"] = frame.fp
    return registers


def frame_locals_json(program: "GoProgram", record: Any, frame_index: int) -> list[dict[str, Any]]:
    """Locals and arguments of one frame for the snapshot's --locals:
    [{"name", "type", "value" (formatted text), "kind", "arg"}], plus
    "optimized_out" / "partly_optimized_out" when (part of) the value is not
    known (the text marks it too); never raises GoextError."""
    try:
        variables = frame_variables(program, record, frame_index)
    except GoextError as exc:
        return [{"name": "", "type": "", "value": "", "kind": "error", "error": str(exc)}]
    rows = []
    for name, value, is_param in variables:
        row: dict[str, Any] = {
            "name": name,
            "type": value.type_name,
            "value": format_value(value),
            "kind": value.kind,
            "arg": is_param,
        }
        if value.unavailable:
            row["optimized_out"] = True
        elif value.partial:
            row["partly_optimized_out"] = True
        rows.append(row)
    return rows
