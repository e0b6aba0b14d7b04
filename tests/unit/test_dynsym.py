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
    data, count, strings_at = _image(symbols, is64, order)
    return DynamicSymbols(data, 0, count, strings_at, len(data), is64, order)  # type: ignore[arg-type]


def _image(symbols: list[tuple[bytes, int, int, int, int]], is64: bool, order: str) -> tuple[bytes, int, int]:
    """(.dynsym then .dynstr, symbol count, where .dynstr starts) for symbols:
    (name, value, size, type, section index); the string table shares the
    suffix "allgs" of "runtime.allgs" the way linkers do."""
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
    return bytes(records) + bytes(strings), len(symbols) + 1, len(records)


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
    names = ["runtime.main", "main.alias", "runtime.mai", "runtime.main"]
    assert table.functions_named_alike(names, [0xD2D000, 0xD2D000, 0xD2D000, 0x1]) == {("runtime.main", 0xD2D000)}


def _gnu_hash(name: bytes) -> int:
    value = 5381
    for byte in name:
        value = (value * 33 + byte) & 0xFFFFFFFF
    return value


def _hashed_table(
    symbols: list[tuple[bytes, int, int, int, int]], buckets: int, order: str = "little"
) -> DynamicSymbols:
    """A table with a .gnu.hash as linkers write it: the undefined symbols
    first, then the defined ones grouped by bucket, one chain word each."""
    undefined = [symbol for symbol in symbols if symbol[4] == 0]
    defined = sorted((symbol for symbol in symbols if symbol[4] != 0), key=lambda s: _gnu_hash(s[0]) % buckets)
    first_hashed = 1 + len(undefined)
    plain, count, strings_at = _image(undefined + defined, True, order)
    bo = "<" if order == "little" else ">"
    heads = [0] * buckets
    chain = []
    for position, symbol in enumerate(defined):
        bucket = _gnu_hash(symbol[0]) % buckets
        if not heads[bucket]:
            heads[bucket] = first_hashed + position
        last = position + 1 == len(defined) or _gnu_hash(defined[position + 1][0]) % buckets != bucket
        chain.append(_gnu_hash(symbol[0]) & ~1 | int(last))
    section = struct.pack(bo + "4I", buckets, first_hashed, 1, 6) + bytes(8)  # one bloom word (not read)
    section += struct.pack(bo + f"{buckets}I", *heads) + struct.pack(bo + f"{len(chain)}I", *chain)
    data = plain + section
    return DynamicSymbols(data, 0, count, strings_at, len(plain), True, order, (len(plain), len(data)))  # type: ignore[arg-type]


@pytest.mark.parametrize("buckets", [1, 2, 3])
@pytest.mark.parametrize("order", ["little", "big"])
def test_lookup_through_the_gnu_hash_table(buckets: int, order: str) -> None:
    table = _hashed_table(SYMBOLS, buckets, order)
    for name, value, *_ in SYMBOLS[1:]:
        index = table.index_of(name.decode())
        assert index is not None and table.entry(index)[1] == value, name
    assert table.index_of("realloc") is None  # undefined: not hashed
    assert table.index_of("runtime.nothere") is None
    assert table.index_of("untime.main") is None
