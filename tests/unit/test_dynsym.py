"""binary/elf.py DynamicSymbols: lookups in a hand-made .dynsym, as a Go
program that imports plugin exports its functions and globals."""

from __future__ import annotations

import struct

import pytest

from goext_core.binary.elf import DynamicSymbols

pytestmark = pytest.mark.unit

_FUNC, _OBJECT = 2, 1
_GLOBAL = 1 << 4


def _table(symbols: list[tuple[bytes, int, int, int, int]], is64: bool = True, order: str = "little") -> DynamicSymbols:
    """symbols: (name, value, size, type, section index); the string table
    shares the suffix "allgs" of "runtime.allgs" the way linkers do."""
    strings = bytearray(b"\0")
    offsets: dict[bytes, int] = {}
    for name, *_ in symbols:
        if name not in offsets:
            where = strings.find(name + b"\0")
            if where < 0:
                where = len(strings)
                strings += name + b"\0"
            offsets[name] = where
    bo = "<" if order == "little" else ">"
    records = bytearray(24 if is64 else 16)  # the null symbol
    for name, value, size, kind, section in symbols:
        info = _GLOBAL | kind
        if is64:
            records += struct.pack(bo + "IBBHQQ", offsets[name], info, 0, section, value, size)
        else:
            records += struct.pack(bo + "IIIBBH", offsets[name], value, size, info, 0, section)
    data = bytes(records) + bytes(strings)
    return DynamicSymbols(data, 0, len(symbols) + 1, len(records), len(data), is64, order)  # type: ignore[arg-type]


SYMBOLS = [
    (b"realloc", 0, 0, _FUNC, 0),  # imported: no address here
    (b"runtime.allgs", 0x37D0350, 24, _OBJECT, 31),
    (b"runtime.main", 0xD2D000, 825, _FUNC, 15),
    (b"allgs", 0x1000, 8, _OBJECT, 31),  # its string is the tail of runtime.allgs's
    (b"main.alias", 0xD2D000, 825, _FUNC, 15),  # a second name at runtime.main's address
]


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("order", ["little", "big"])
def test_lookup_by_name(is64: bool, order: str) -> None:
    table = _table(SYMBOLS, is64, order)
    index = table.index_of("runtime.allgs")
    assert index is not None and table.entry(index)[1:3] == (0x37D0350, 24)
    shared = table.index_of("allgs")
    assert shared is not None and table.entry(shared)[1] == 0x1000
    assert table.index_of("realloc") is None  # undefined
    assert table.index_of("runtime.nothere") is None
    assert table.index_of("untime.main") is None  # a tail of a name is no name


def test_defined_functions_first_name_wins() -> None:
    table = _table(SYMBOLS)
    assert set(table.defined_functions()) == {0xD2D000}
    wanted = [("runtime.main", 0xD2D000), ("main.alias", 0xD2D000), ("runtime.mai", 0xD2D000), ("runtime.main", 0x1)]
    assert table.functions_named_alike(wanted) == {("runtime.main", 0xD2D000)}
