"""binary/dwarfscan.py and binary/packagevars.py on hand-built DWARF: the
package globals lldb reaches as ``main.gX``, the unit goext adds for them,
and damaged input (left out, never an exception)."""

from __future__ import annotations

import struct

import pytest

from goext_core.binary.dwarfscan import DwarfScanner
from goext_core.binary.leb128 import encode_uleb128
from goext_core.binary.packagevars import TYPE_PREFIX, PackageGlobal, package_globals, package_unit

pytestmark = pytest.mark.unit

# DWARF tags, attributes and forms used below (DWARF 5 section 7).
CU, VARIABLE, BASE, SUBPROGRAM, TYPEDEF, POINTER = 0x11, 0x34, 0x24, 0x2E, 0x16, 0x0F
NAME, LOCATION, TYPE, BYTE_SIZE = 0x03, 0x02, 0x49, 0x0B
STRING, EXPRLOC, REF4, REF_ADDR, DATA1 = 0x08, 0x18, 0x13, 0x10, 0x0B


def _abbrevs() -> bytes:
    def entry(code: int, tag: int, children: bool, specs: list[tuple[int, int]]) -> bytes:
        out = encode_uleb128(code) + encode_uleb128(tag) + bytes([1 if children else 0])
        for attribute, form in specs:
            out += encode_uleb128(attribute) + encode_uleb128(form)
        return out + b"\0\0"

    return (
        entry(1, CU, True, [(NAME, STRING)])
        + entry(2, VARIABLE, False, [(NAME, STRING), (LOCATION, EXPRLOC), (TYPE, REF4)])
        + entry(3, BASE, False, [(NAME, STRING), (BYTE_SIZE, DATA1)])
        + entry(4, SUBPROGRAM, True, [(NAME, STRING)])
        + entry(5, TYPEDEF, False, [(NAME, STRING), (TYPE, REF_ADDR)])
        + entry(6, POINTER, False, [(TYPE, REF4)])
        + b"\0"
    )


def _unit(package: str, globals_: list[tuple[str, int]]) -> bytes:
    """A DWARF 4 unit named ``package``: a function with a local variable (to
    be skipped), an int, a typedef of it, a pointer, then the globals
    (name, address), alternately typed int (by typedef) and pointer."""
    body = bytearray(encode_uleb128(1) + package.encode() + b"\0")
    body += encode_uleb128(4) + b"main.f\0"
    body += encode_uleb128(2) + b"local\0" + bytes([2, 0x91, 0x10]) + struct.pack("<I", 0)  # fbreg: not a global
    body += b"\0"  # end of the function's children
    int_at = 11 + len(body)
    body += encode_uleb128(3) + b"int\0" + bytes([8])
    typedef_at = 11 + len(body)
    body += encode_uleb128(5) + b"main.Celsius\0" + struct.pack("<I", int_at)  # ref_addr: this is unit 0
    pointer_at = 11 + len(body)
    body += encode_uleb128(6) + struct.pack("<I", int_at)
    for index, (name, address) in enumerate(globals_):
        location = bytes([0x03]) + struct.pack("<Q", address)
        body += encode_uleb128(2) + name.encode() + b"\0" + encode_uleb128(len(location)) + location
        body += struct.pack("<I", typedef_at if index % 2 == 0 else pointer_at)
    body += b"\0"
    return struct.pack("<IHIB", len(body) + 7, 4, 0, 8) + bytes(body)


GLOBALS = [
    ("main.gB", 0x5000),
    ("main.gA", 0x4000),
    ("main.init.0", 0x4100),
    ("main.gC", 0x6000),
    ("main.g\x1b]52;c;X", 0x7000),  # names lldb would print: only Go identifiers get in
    ("main.\u202eg", 0x7100),
]


def test_package_globals_from_a_unit() -> None:
    found = package_globals(_unit("main", GLOBALS), _abbrevs(), True)
    assert list(found) == ["main"]
    members = found["main"]
    # Address order; "init.0" is no member lldb can reach, nor are names with
    # terminal controls; the local is no global.
    assert [(m.member, m.address, m.size) for m in members] == [("gA", 0x4000, 8), ("gB", 0x5000, 8), ("gC", 0x6000, 8)]


def test_units_of_packages_with_paths_are_left_out() -> None:
    assert package_globals(_unit("net/http", [("net/http.x", 0x4000)]), _abbrevs(), True) == {}


def test_damaged_dwarf_is_left_out_without_an_exception() -> None:
    unit = _unit("main", GLOBALS)
    for cut in range(0, len(unit), 7):
        package_globals(unit[:cut], _abbrevs(), True)  # no exception
        package_globals(unit, _abbrevs()[:cut], True)
    bad_form = bytearray(_abbrevs())
    bad_form[bad_form.index(bytes([NAME, STRING])) + 1] = 0x7F  # an unknown form in the unit's abbreviation
    assert package_globals(unit, bytes(bad_form), True) == {}


def test_package_unit_is_readable_dwarf() -> None:
    members = [PackageGlobal("gA", 0x4000, 8, 0x40), PackageGlobal("gB", 0x5010, 16, 0x50)]
    info, abbrevs = package_unit({"main": members}, 0, 8, True)
    scanner = DwarfScanner(info, abbrevs, True)
    (unit,) = scanner.units()
    assert unit.version == 4 and unit.address_size == 8
    top, end = scanner.die_at(unit, unit.first_die, frozenset({NAME}))
    assert top is not None and top.values[NAME][1] == "goext package variables"
    children = list(scanner.children(unit, top, end, frozenset({NAME, LOCATION, TYPE, BYTE_SIZE})))
    struct_die, variable = children
    assert struct_die.values[NAME][1] == TYPE_PREFIX + "main"
    assert struct_die.values[BYTE_SIZE][1] == 0x5010 + 16 - 0x4000
    assert variable.values[NAME][1] == "main"
    assert variable.values[LOCATION][1] == bytes([0x03]) + struct.pack("<Q", 0x4000)
    assert scanner.reference(unit, *variable.values[TYPE]) == struct_die.offset
