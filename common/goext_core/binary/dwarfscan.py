"""A small, fast reader of ``.debug_info`` for whole-section scans.

pyelftools builds an object per DIE (about 140 µs each): walking every DIE of
a large Go binary's packages takes many seconds.  This reader walks the raw
bytes: unit headers, abbreviation tables, and DIEs whose attributes are
decoded only when asked for (the others are skipped by their form's size).
It knows 32-bit DWARF 2 to 5 compile units (what the Go linker writes);
anything else (64-bit DWARF, type or split units, a form it does not know) is
:class:`DwarfScanError`, and the caller leaves that unit out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_sleb128, read_uleb128
from goext_core.errors import CorruptDataError

# DWARF 5 section 7.5.5 (forms) and 7.5.1 (unit types).
_DW_UT_compile = 0x01
_DW_UT_partial = 0x03
_FIXED_FORM_SIZES = {
    0x0B: 1,  # data1
    0x05: 2,  # data2
    0x06: 4,  # data4
    0x07: 8,  # data8
    0x1E: 16,  # data16
    0x0C: 1,  # flag
    0x19: 0,  # flag_present
    0x21: 0,  # implicit_const (its value is in the abbreviation)
    0x11: 1,  # ref1
    0x12: 2,  # ref2
    0x13: 4,  # ref4
    0x14: 8,  # ref8
    0x20: 8,  # ref_sig8
    0x0E: 4,  # strp (32-bit DWARF)
    0x1F: 4,  # line_strp
    0x17: 4,  # sec_offset
    0x10: 4,  # ref_addr (DWARF 3+, 32-bit)
    0x1D: 4,  # strp_sup
    0x1C: 4,  # ref_sup4
    0x24: 8,  # ref_sup8
    0x25: 1,  # strx1
    0x26: 2,  # strx2
    0x27: 3,  # strx3
    0x28: 4,  # strx4
    0x29: 1,  # addrx1
    0x2A: 2,  # addrx2
    0x2B: 3,  # addrx3
    0x2C: 4,  # addrx4
}
_LEB_FORMS = {0x0D, 0x0F, 0x15, 0x1A, 0x1B, 0x22, 0x23}  # sdata, udata, ref_udata, strx, addrx, loclistx, rnglistx
_FORM_ADDR = 0x01
_FORM_STRING = 0x08
_FORM_BLOCK = 0x09
_FORM_BLOCK1 = 0x0A
_FORM_BLOCK2 = 0x03
_FORM_BLOCK4 = 0x04
_FORM_EXPRLOC = 0x18
_FORM_REF_ADDR = 0x10
_FORM_INDIRECT = 0x16
_FORM_SDATA = 0x0D
_FORM_IMPLICIT_CONST = 0x21
_UNIT_RELATIVE_REFS = {0x11: 1, 0x12: 2, 0x13: 4, 0x14: 8}
_FORM_REF_UDATA = 0x15
_UNSIGNED_DATA = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8}
_FORM_UDATA = 0x0F
# Abbreviations with more attributes than this are corrupt.
_MAX_ATTRIBUTES = 1_000


class DwarfScanError(CorruptDataError):
    """A unit this reader cannot walk (corrupt, or a layout it does not know)."""


@dataclass(frozen=True)
class Abbreviation:
    tag: int
    has_children: bool
    specs: tuple[tuple[int, int, int], ...]  # (attribute, form, implicit constant)


@dataclass(frozen=True)
class Unit:
    offset: int  # of the unit header
    end: int  # one past the unit
    first_die: int
    version: int
    address_size: int
    abbreviations: dict[int, Abbreviation]


@dataclass
class Die:
    offset: int
    tag: int
    has_children: bool
    values: dict[int, tuple[int, object]]  # attribute -> (form, raw value) of the asked-for attributes


class DwarfScanner:
    def __init__(self, info: bytes, abbrev: bytes, little_endian: bool) -> None:
        self.info = info
        self.abbrev = abbrev
        self.order: Literal["little", "big"] = "little" if little_endian else "big"
        self._tables: dict[int, dict[int, Abbreviation]] = {}
        self._units: Optional[list[Unit]] = None

    # -- units ------------------------------------------------------------------
    def units(self) -> list[Unit]:
        """Every unit this reader can walk, in section order (others left out)."""
        if self._units is None:
            units: list[Unit] = []
            position = 0
            while position + 4 <= len(self.info):
                length = self._uint(position, 4)
                if length >= 0xFFFFFFF0:
                    break  # 64-bit DWARF (or reserved): not Go's
                end = position + 4 + length
                if end > len(self.info):
                    break
                try:
                    units.append(self._unit(position, end))
                except (DwarfScanError, TruncatedLeb128Error):
                    pass
                position = end
            self._units = units
        return self._units

    def unit_containing(self, offset: int) -> Optional[Unit]:
        units = self.units()
        low, high = 0, len(units)
        while low < high:
            middle = (low + high) // 2
            if units[middle].end <= offset:
                low = middle + 1
            else:
                high = middle
        return units[low] if low < len(units) and units[low].offset <= offset else None

    def _unit(self, position: int, end: int) -> Unit:
        version = self._uint(position + 4, 2)
        if 2 <= version <= 4:
            abbrev_offset = self._uint(position + 6, 4)
            address_size = self._uint(position + 10, 1)
            first = position + 11
        elif version == 5:
            unit_type = self._uint(position + 6, 1)
            if unit_type not in (_DW_UT_compile, _DW_UT_partial):
                raise DwarfScanError(f"unit type {unit_type}")
            address_size = self._uint(position + 7, 1)
            abbrev_offset = self._uint(position + 8, 4)
            first = position + 12
        else:
            raise DwarfScanError(f"DWARF version {version}")
        return Unit(position, end, first, version, address_size, self._table(abbrev_offset))

    def _table(self, offset: int) -> dict[int, Abbreviation]:
        table = self._tables.get(offset)
        if table is not None:
            return table
        table = {}
        position = offset
        data = self.abbrev
        while True:
            code, position = read_uleb128(data, position)
            if code == 0:
                break
            tag, position = read_uleb128(data, position)
            if position >= len(data):
                raise DwarfScanError("truncated abbreviation table")
            children = data[position] == 1
            position += 1
            specs = []
            for _ in range(_MAX_ATTRIBUTES):
                attribute, position = read_uleb128(data, position)
                form, position = read_uleb128(data, position)
                constant = 0
                if form == _FORM_IMPLICIT_CONST:
                    constant, position = read_sleb128(data, position)
                if attribute == 0 and form == 0:
                    break
                specs.append((attribute, form, constant))
            else:
                raise DwarfScanError("abbreviation with too many attributes")
            table[code] = Abbreviation(tag, children, tuple(specs))
        self._tables[offset] = table
        return table

    # -- DIEs ---------------------------------------------------------------------
    def die_at(self, unit: Unit, offset: int, wanted: frozenset[int]) -> tuple[Optional[Die], int]:
        """The DIE at ``offset`` (None for a children list's end) with the
        ``wanted`` attributes, and the offset just after it."""
        code, position = read_uleb128(self.info, offset, unit.end)
        if code == 0:
            return None, position
        abbreviation = unit.abbreviations.get(code)
        if abbreviation is None:
            raise DwarfScanError(f"unknown abbreviation {code} at {offset:#x}")
        values: dict[int, tuple[int, object]] = {}
        for attribute, form, constant in abbreviation.specs:
            if attribute in wanted:
                value, position = self._value(unit, form, position, constant)
                values[attribute] = (form, value)
            else:
                position = self._skip(unit, form, position)
        if position > unit.end:
            raise DwarfScanError(f"DIE at {offset:#x} runs past its unit")
        return Die(offset, abbreviation.tag, abbreviation.has_children, values), position

    def children(self, unit: Unit, parent: Die, end: int, wanted: frozenset[int]) -> Iterator[Die]:
        """The children of ``parent`` (whose attributes end at ``end``), each
        with the ``wanted`` attributes; their own children are skipped."""
        if not parent.has_children:
            return
        position = end
        depth = 0
        while position < unit.end:
            die, position = self.die_at(unit, position, wanted if depth == 0 else frozenset())
            if die is None:
                if depth == 0:
                    return
                depth -= 1
                continue
            if depth == 0:
                yield die
            if die.has_children:
                depth += 1

    def reference(self, unit: Unit, form: int, value: object) -> Optional[int]:
        """The absolute .debug_info offset a reference attribute names."""
        if not isinstance(value, int):
            return None
        if form == _FORM_REF_ADDR:
            return value
        if form in _UNIT_RELATIVE_REFS or form == _FORM_REF_UDATA:
            return unit.offset + value
        return None

    def unsigned(self, form: int, value: object) -> Optional[int]:
        return value if isinstance(value, int) and (form in _UNSIGNED_DATA or form == _FORM_UDATA) else None

    # -- forms ------------------------------------------------------------------------
    def _skip(self, unit: Unit, form: int, position: int) -> int:
        size = _FIXED_FORM_SIZES.get(form)
        if size is not None:
            return position + size
        if form == _FORM_ADDR:
            return position + unit.address_size
        if form in _LEB_FORMS:
            return read_uleb128(self.info, position, unit.end)[1]
        if form == _FORM_STRING:
            end = self.info.find(b"\0", position, unit.end)
            if end < 0:
                raise DwarfScanError("unterminated string")
            return end + 1
        if form in (_FORM_BLOCK1, _FORM_BLOCK2, _FORM_BLOCK4, _FORM_BLOCK, _FORM_EXPRLOC):
            length, start = self._block_length(unit, form, position)
            return start + length
        if form == _FORM_INDIRECT:
            actual, position = read_uleb128(self.info, position, unit.end)
            return self._skip(unit, actual, position)
        raise DwarfScanError(f"form {form:#x}")

    def _value(self, unit: Unit, form: int, position: int, constant: int) -> tuple[object, int]:
        if form == _FORM_STRING:
            end = self.info.find(b"\0", position, unit.end)
            if end < 0:
                raise DwarfScanError("unterminated string")
            return self.info[position:end].decode("utf-8", "replace"), end + 1
        if form in (_FORM_BLOCK1, _FORM_BLOCK2, _FORM_BLOCK4, _FORM_BLOCK, _FORM_EXPRLOC):
            length, start = self._block_length(unit, form, position)
            return self.info[start : start + length], start + length
        if form == _FORM_IMPLICIT_CONST:
            return constant, position
        if form == _FORM_SDATA:
            return read_sleb128(self.info, position, unit.end)
        if form in (_FORM_UDATA, _FORM_REF_UDATA):
            return read_uleb128(self.info, position, unit.end)
        size = unit.address_size if form == _FORM_ADDR else _FIXED_FORM_SIZES.get(form)
        if size is not None and size <= 8:
            return self._uint(position, size), position + size
        return None, self._skip(unit, form, position)

    def _block_length(self, unit: Unit, form: int, position: int) -> tuple[int, int]:
        if form == _FORM_BLOCK1:
            return self._uint(position, 1), position + 1
        if form == _FORM_BLOCK2:
            return self._uint(position, 2), position + 2
        if form == _FORM_BLOCK4:
            return self._uint(position, 4), position + 4
        return read_uleb128(self.info, position, unit.end)

    def _uint(self, position: int, size: int) -> int:
        if position + size > len(self.info):
            raise DwarfScanError("truncated .debug_info")
        return int.from_bytes(self.info[position : position + size], self.order)


__all__ = ["Abbreviation", "Die", "DwarfScanError", "DwarfScanner", "Unit"]
