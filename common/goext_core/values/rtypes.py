"""Go types from the runtime's own type descriptors (no DWARF needed).

Layouts, amd64 and other 64-bit targets, unchanged from Go 1.19 to 1.27
(src/runtime/type.go before 1.21, src/internal/abi/type.go since; the struct
was renamed runtime._type -> internal/abi.Type in 1.21 and runtime.itab ->
internal/abi.ITab in 1.23, without moving fields):

    Type{Size_ uintptr @0; PtrBytes @8; Hash uint32 @16; TFlag uint8 @20;
         Align_ @21; FieldAlign_ @22; Kind_ uint8 @23; Equal @24; GCData @32;
         Str NameOff int32 @40; PtrToThis TypeOff int32 @44}
    then per kind, at @48: Ptr/Slice{Elem}; Array{Elem, Slice, Len};
    Chan{Elem, Dir}; Map{Key, Elem, ...}; Interface{PkgPath Name, Methods []Imethod};
    Struct{PkgPath Name, Fields []StructField{Name *byte, Typ *Type, Offset uintptr}}.

Kind_ & 0x1f is the kind.  The "stored directly in an interface" flag was
Kind_ & 0x20 (KindDirectIface) until Go 1.25 and is TFlag & 0x20
(TFlagDirectIface) since 1.26.  TFlag & 2 (TFlagExtraStar) means Str
spells "*T" for T.  A Name is {flags byte; varint length; bytes}; flag bit 3
marks an embedded struct field (since 1.19).  Str is an offset from
moduledata.types.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_uleb128
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.values.types import CHAN_BOTH, Field, GoType, Kind, kind_from_int

if TYPE_CHECKING:
    from goext_core.program import GoProgram

_HEADER = 48
_KIND_MASK = 0x1F
_KIND_DIRECT_IFACE = 0x20
_TFLAG_EXTRA_STAR = 0x02
_TFLAG_DIRECT_IFACE = 0x20
_NAME_EMBEDDED = 0x08
_MAX_FIELDS = 4096
_MAX_NAME = 1 << 16
_STR_OFFSET = 40


class RuntimeTypes:
    """Decodes runtime type descriptors of one program, memoized by address."""

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.target = program.target
        self.ptr = program.target.ptr_size
        self._types: dict[int, GoType] = {}
        self._base: Optional[int] = None
        self._by_name: dict[str, Optional[int]] = {}

    # -- the types region --------------------------------------------------------------
    @property
    def base(self) -> int:
        """Run-time address of moduledata.types."""
        if self._base is None:
            binary = self.program.binary
            bias = self.target.load_bias()
            address = binary.symbol("runtime.types")
            if address is None:
                section = binary.section(".go.type") or binary.section(".rodata")
                address = section.address if section is not None else 0
            self._base = address + bias if address else 0
        return self._base

    def _region(self) -> tuple[int, bytes]:
        """(run-time start, bytes) of the section holding the type descriptors."""
        cache = self.program.binary_memo("rtype_region", dict)
        if "region" not in cache:
            binary = self.program.binary
            section = binary.section(".go.type") or binary.section(".rodata")
            data = binary.section_data(section.name) if section is not None else None
            start = section.address + self.target.load_bias() if section is not None else 0
            cache["region"] = (start, bytes(data or b""))
        return cache["region"]

    # -- reading --------------------------------------------------------------------------
    def _read(self, address: int, size: int) -> bytes:
        return self.target.read(address, size)

    def _word(self, data: bytes, offset: int) -> int:
        return int.from_bytes(data[offset : offset + self.ptr], "little")

    def read_name(self, address: int) -> tuple[str, int]:
        """(text, flags) of an internal/abi.Name at ``address``."""
        head = self._read(address, 1 + 4)
        flags = head[0]
        try:
            length, after = read_uleb128(head, 1)
        except TruncatedLeb128Error:
            raise CorruptDataError(f"bad type name length at {address:#x}") from None
        used = after - 1
        if length > _MAX_NAME:
            raise CorruptDataError(f"bad type name length {length} at {address:#x}")
        text = self._read(address + 1 + used, length).decode("utf-8", "replace") if length else ""
        return text, flags

    def type_name(self, address: int) -> str:
        header = self._read(address, _HEADER)
        name_off = int.from_bytes(header[_STR_OFFSET : _STR_OFFSET + 4], "little", signed=True)
        text, _ = self.read_name(self.base + name_off)
        if header[20] & _TFLAG_EXTRA_STAR and text.startswith("*"):
            text = text[1:]
        return text

    def type_at(self, address: int) -> GoType:
        """The GoType of the descriptor at run-time ``address``."""
        cached = self._types.get(address)
        if cached is not None:
            return cached
        if not address:
            raise CorruptDataError("nil type descriptor")
        try:
            header = self._read(address, _HEADER + 3 * self.ptr)
        except MemoryReadError:
            raise CorruptDataError(f"no type descriptor at {address:#x}") from None
        size = self._word(header, 0)
        tflag, kind_byte = header[20], header[23]
        kind = kind_from_int(kind_byte & _KIND_MASK)
        if kind == Kind.INVALID or size > 1 << 40:
            raise CorruptDataError(f"no type descriptor at {address:#x}")
        name = self.type_name(address)
        go_type = GoType(name, kind, size, runtime_type=address, source="runtime")
        minor = self.program.go_minor or 0
        if minor >= 26:
            go_type.facts["direct_iface"] = bool(tflag & _TFLAG_DIRECT_IFACE)
        else:
            go_type.facts["direct_iface"] = bool(kind_byte & _KIND_DIRECT_IFACE)
        if kind == Kind.ARRAY:
            go_type.length = self._word(header, _HEADER + 2 * self.ptr)
        elif kind == Kind.CHAN:
            go_type.chan_dir = self._word(header, _HEADER + self.ptr) or CHAN_BOTH
        elif kind == Kind.INTERFACE:
            go_type.facts["empty_interface"] = self._word(header, _HEADER + 2 * self.ptr) == 0
        self._types[address] = go_type
        go_type.load_parts_with(functools.partial(self._load_parts, header=header))
        return go_type

    def _load_parts(self, go_type: GoType, header: bytes) -> None:
        kind = go_type.kind
        try:
            if kind in (Kind.POINTER, Kind.SLICE, Kind.ARRAY, Kind.CHAN):
                go_type.set_elem(self.type_at(self._word(header, _HEADER)))
            elif kind == Kind.MAP:
                go_type.set_key(self.type_at(self._word(header, _HEADER)))
                go_type.set_elem(self.type_at(self._word(header, _HEADER + self.ptr)))
            elif kind == Kind.STRUCT:
                go_type.set_fields(self._fields(header))
        except GoextError:
            pass  # left unknown: the decoder reports what it cannot show

    def _fields(self, header: bytes) -> list[Field]:
        array = self._word(header, _HEADER + self.ptr)
        count = self._word(header, _HEADER + 2 * self.ptr)
        if count > _MAX_FIELDS:
            raise CorruptDataError(f"struct type with {count} fields")
        stride = 3 * self.ptr
        blob = self._read(array, count * stride) if count else b""
        out = []
        for index in range(count):
            record = blob[index * stride : (index + 1) * stride]
            name, flags = self.read_name(self._word(record, 0))
            field_type = self.type_at(self._word(record, self.ptr))
            out.append(Field(name, self._word(record, 2 * self.ptr), field_type, bool(flags & _NAME_EMBEDDED)))
        return out

    # -- by name ------------------------------------------------------------------------------
    def type_by_name(self, name: str) -> Optional[GoType]:
        """Find a type descriptor by its Go name, by searching the type section for the
        name's bytes and then for a descriptor whose Str points at them."""
        if name in self._by_name:
            address = self._by_name[name]
            return self.type_at(address) if address else None
        address = self._search(name)
        self._by_name[name] = address
        return self.type_at(address) if address else None

    def _search(self, name: str) -> Optional[int]:
        start, blob = self._region()
        if not blob or not self.base:
            return None
        for spelling, want_star in ((name, False), ("*" + name, True)):
            encoded = spelling.encode()
            if len(encoded) >= 128:
                continue  # longer names use a two-byte varint: not searched
            needle = bytes([len(encoded)]) + encoded
            position = blob.find(needle)
            for _ in range(64):
                if position < 0:
                    break
                name_address = start + position - 1  # the flags byte
                found = self._descriptor_with_name(start, blob, name_address - self.base, want_star, name)
                if found:
                    return found
                position = blob.find(needle, position + 1)
        return None

    def _descriptor_with_name(
        self, start: int, blob: bytes, name_off: int, want_star: bool, name: str
    ) -> Optional[int]:
        if not -(1 << 31) <= name_off < 1 << 31:
            return None
        needle = name_off.to_bytes(4, "little", signed=True)
        position = blob.find(needle)
        for _ in range(256):
            if position < 0:
                return None
            candidate = start + position - _STR_OFFSET
            if candidate % 8 == 0 and position >= _STR_OFFSET:
                try:
                    if self.type_name(candidate) == name and self.type_at(candidate) is not None:
                        return candidate
                except GoextError:
                    pass
            position = blob.find(needle, position + 1)
        return None


__all__ = ["RuntimeTypes"]
