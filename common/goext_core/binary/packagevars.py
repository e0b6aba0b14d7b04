"""One DWARF variable per Go package, so lldb's ``target variable main.gX`` works.

lldb's ``target variable ARG`` takes the longest prefix of ARG made of
``[A-Za-z_0-9:]`` as a variable name and reads the rest as a member path: for
``main.gX`` it looks up a global named ``main`` and its member ``gX``, never
the Go global ``main.gX``.  lldb's own commands cannot be replaced, so the
lldb debug file (``lldbdebug.py``) gets one more compile unit holding, for
every package whose path is a plain identifier (``main``, ``runtime``,
``os``...), a variable named after the package whose type is a struct with one
member per global of the package: the member sits at the global's address
minus the package's lowest global address, typed with the global's own type
DIE (``DW_FORM_ref_addr``), and the variable's location is that lowest
address.  ``main.gX`` is then member ``gX`` of variable ``main``, at the
global's own address with its own type.

lldb reads an aggregate variable's members one by one, at their addresses and
sizes, never the struct as a whole (measured on cores and live processes), so
the struct may span the gaps between a package's globals in ``.noptrdata``,
``.data``, ``.bss`` and ``.noptrbss``.  Globals whose name is not a member
lldb can reach (``main.init.0``, ``main..dict...``), whose location is not a
plain address, or whose size cannot be read from DWARF are left out.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Literal, Optional

from goext_core.binary.dwarfscan import Die, DwarfScanError, DwarfScanner, Unit
from goext_core.binary.leb128 import TruncatedLeb128Error, encode_uleb128

# DWARF 4 (section 7): tags, attributes, forms, children flag.
_DW_TAG_compile_unit = 0x11
_DW_TAG_structure_type = 0x13
_DW_TAG_member = 0x0D
_DW_TAG_variable = 0x34
_DW_TAG_pointer_type = 0x0F
# Typedefs and qualifiers: the size is the underlying type's.
_TYPE_WRAPPERS = frozenset({0x16, 0x26, 0x35})  # typedef, const_type, volatile_type
_DW_AT_location = 0x02
_DW_AT_name = 0x03
_DW_AT_byte_size = 0x0B
_DW_AT_language = 0x13
_DW_AT_producer = 0x25
_DW_AT_data_member_location = 0x38
_DW_AT_external = 0x3F
_DW_AT_type = 0x49
_DW_FORM_data1 = 0x0B
_DW_FORM_string = 0x08
_DW_FORM_udata = 0x0F
_DW_FORM_ref_addr = 0x10
_DW_FORM_ref4 = 0x13
_DW_FORM_exprloc = 0x18
_DW_FORM_flag_present = 0x19
_DW_CHILDREN_no = 0
_DW_CHILDREN_yes = 1
_DW_OP_addr = 0x03
_DW_LANG_C99 = 0x0C
_UNIT_VERSION = 4
_NAME = frozenset({0x03})
_VARIABLE_ATTRIBUTES = frozenset({0x02, 0x03, 0x49})  # location, name, type
_TYPE_ATTRIBUTES = frozenset({0x0B, 0x49})  # byte_size, type
# Abbreviation codes of the new unit (its own abbreviation table).
_ABBREV_UNIT, _ABBREV_STRUCT, _ABBREV_MEMBER, _ABBREV_VARIABLE = 1, 2, 3, 4

# The name lldb takes as a variable: its variable-name pattern, and a package
# path without '/' or '.' (the Go compile unit of a package is named by its path).
_PACKAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
# A Go identifier (Unicode letters, digits, underscore): what lldb's member
# path reads as one member (it stops at '.', '[' or '-'), and nothing a
# terminal would interpret when lldb prints the name.
_MEMBER_NAME = re.compile(r"[^\W\d]\w*")
# Type chains (typedefs) longer than this are corrupt.
_MAX_TYPE_DEPTH = 32
# Children of a unit's top DIE read at most (a corrupt unit must not loop for ever).
_MAX_UNIT_CHILDREN = 1_000_000
# The type of each package variable is named "package NAME": not a Go type
# name, so goext's summaries leave it alone and lldb lists its members.
TYPE_PREFIX = "package "


@dataclass(frozen=True)
class PackageGlobal:
    member: str  # the name after "package."
    address: int  # link-time
    size: int
    type_offset: int  # absolute .debug_info offset of its type DIE


def package_globals(debug_info: bytes, debug_abbrev: bytes, little_endian: bool) -> dict[str, list[PackageGlobal]]:
    """Package name -> its globals (address order) that lldb can reach as
    ``package.member``, from the executable's (decompressed) DWARF.  Units
    the scanner cannot walk are left out."""
    scanner = DwarfScanner(debug_info, debug_abbrev, little_endian)
    sizes: dict[int, Optional[int]] = {}
    found: dict[str, list[PackageGlobal]] = {}
    for unit in scanner.units():
        try:
            top, end = scanner.die_at(unit, unit.first_die, _NAME)
            package = top.values.get(_DW_AT_name, (0, None))[1] if top is not None else None
            if top is None or not isinstance(package, str) or not _PACKAGE_NAME.fullmatch(package):
                continue
            for count, die in enumerate(scanner.children(unit, top, end, _VARIABLE_ATTRIBUTES)):
                if count > _MAX_UNIT_CHILDREN:
                    break
                if die.tag == _DW_TAG_variable:
                    entry = _package_global(scanner, unit, die, package, sizes)
                    if entry is not None:
                        found.setdefault(package, []).append(entry)
        except (DwarfScanError, TruncatedLeb128Error):
            continue  # this unit's globals stay out: lldb says it finds no such variable
    for package, members in found.items():
        unique: dict[str, PackageGlobal] = {}
        for item in sorted(members, key=lambda entry: (entry.address, entry.member)):
            unique.setdefault(item.member, item)
        found[package] = list(unique.values())
    return found


def _package_global(
    scanner: DwarfScanner, unit: Unit, die: Die, package: str, sizes: dict[int, Optional[int]]
) -> Optional[PackageGlobal]:
    name = die.values.get(_DW_AT_name, (0, None))[1]
    if not isinstance(name, str) or not name.startswith(package + "."):
        return None
    member = name[len(package) + 1 :]
    if not _MEMBER_NAME.fullmatch(member):
        return None
    expression = die.values.get(_DW_AT_location, (0, None))[1]
    if not isinstance(expression, bytes) or len(expression) != 1 + unit.address_size:
        return None
    if expression[0] != _DW_OP_addr:
        return None
    type_offset = scanner.reference(unit, *die.values.get(_DW_AT_type, (0, None)))
    if type_offset is None:
        return None
    if type_offset not in sizes:
        sizes[type_offset] = _type_size(scanner, type_offset, unit.address_size)
    size = sizes[type_offset]
    if size is None:
        return None
    return PackageGlobal(member, int.from_bytes(expression[1:], scanner.order), size, type_offset)


def package_unit(
    packages: dict[str, list[PackageGlobal]],
    abbrev_offset: int,
    address_size: int,
    little_endian: bool,
) -> tuple[bytes, bytes]:
    """(.debug_info bytes, .debug_abbrev bytes) of the package unit, to be
    appended to those sections (its abbreviations at ``abbrev_offset``;
    references inside the unit are unit-relative)."""
    endian = "<" if little_endian else ">"
    order: Literal["little", "big"] = "little" if little_endian else "big"
    abbrevs = _abbreviations()
    body = bytearray()
    body += encode_uleb128(_ABBREV_UNIT)
    body += b"goext package variables\0"
    body += b"goext\0"
    body += bytes([_DW_LANG_C99])
    # Header: unit_length (4), version (2), abbrev offset (4), address size (1).
    header_size = 11
    for package in sorted(packages):
        members = packages[package]
        if not members:
            continue
        base = members[0].address
        span = max(member.address + member.size for member in members) - base
        struct_offset = header_size + len(body)
        body += encode_uleb128(_ABBREV_STRUCT)
        body += (TYPE_PREFIX + package).encode() + b"\0"
        body += encode_uleb128(span)
        for member in members:
            body += encode_uleb128(_ABBREV_MEMBER)
            body += member.member.encode() + b"\0"
            body += struct.pack(endian + "I", member.type_offset)
            body += encode_uleb128(member.address - base)
        body += b"\0"  # end of the struct's members
        body += encode_uleb128(_ABBREV_VARIABLE)
        body += package.encode() + b"\0"
        body += struct.pack(endian + "I", struct_offset)
        location = bytes([_DW_OP_addr]) + base.to_bytes(address_size, order)
        body += encode_uleb128(len(location)) + location
    body += b"\0"  # end of the unit's children
    unit_length = len(body) + header_size - 4
    header = struct.pack(endian + "IHIB", unit_length, _UNIT_VERSION, abbrev_offset, address_size)
    return header + bytes(body), abbrevs


def _abbreviations() -> bytes:
    def entry(code: int, tag: int, children: int, attributes: list[tuple[int, int]]) -> bytes:
        out = encode_uleb128(code) + encode_uleb128(tag) + bytes([children])
        for attribute, form in attributes:
            out += encode_uleb128(attribute) + encode_uleb128(form)
        return out + b"\0\0"

    return (
        entry(
            _ABBREV_UNIT,
            _DW_TAG_compile_unit,
            _DW_CHILDREN_yes,
            [(_DW_AT_name, _DW_FORM_string), (_DW_AT_producer, _DW_FORM_string), (_DW_AT_language, _DW_FORM_data1)],
        )
        + entry(
            _ABBREV_STRUCT,
            _DW_TAG_structure_type,
            _DW_CHILDREN_yes,
            [(_DW_AT_name, _DW_FORM_string), (_DW_AT_byte_size, _DW_FORM_udata)],
        )
        + entry(
            _ABBREV_MEMBER,
            _DW_TAG_member,
            _DW_CHILDREN_no,
            [
                (_DW_AT_name, _DW_FORM_string),
                (_DW_AT_type, _DW_FORM_ref_addr),
                (_DW_AT_data_member_location, _DW_FORM_udata),
            ],
        )
        + entry(
            _ABBREV_VARIABLE,
            _DW_TAG_variable,
            _DW_CHILDREN_no,
            [
                (_DW_AT_name, _DW_FORM_string),
                (_DW_AT_type, _DW_FORM_ref4),
                (_DW_AT_location, _DW_FORM_exprloc),
                (_DW_AT_external, _DW_FORM_flag_present),
            ],
        )
        + b"\0"
    )


def _type_size(scanner: DwarfScanner, offset: int, address_size: int) -> Optional[int]:
    """Byte size of the type DIE at ``offset``, through typedefs and qualifiers."""
    for _ in range(_MAX_TYPE_DEPTH):
        unit = scanner.unit_containing(offset)
        if unit is None:
            return None
        try:
            die, _ = scanner.die_at(unit, offset, _TYPE_ATTRIBUTES)
        except (DwarfScanError, TruncatedLeb128Error):
            return None
        if die is None:
            return None
        size = scanner.unsigned(*die.values.get(_DW_AT_byte_size, (0, None)))
        if size is not None:
            return size
        if die.tag == _DW_TAG_pointer_type:
            return address_size  # Go's pointer DIEs have no DW_AT_byte_size
        if die.tag not in _TYPE_WRAPPERS:
            return None
        following = scanner.reference(unit, *die.values.get(_DW_AT_type, (0, None)))
        if following is None:
            return None
        offset = following
    return None


__all__ = ["TYPE_PREFIX", "PackageGlobal", "package_globals", "package_unit"]
