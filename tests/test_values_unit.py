"""Value decoding on synthetic memory: map walking (classic growth and overflow,
swiss directory dedupe), garbage and cycles bounded, DWARF expressions, and
fmt-compatible scalar spelling.  No Go toolchain needed."""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

import pytest

from goext_core.values.decode import Decoder, format_complex, format_float
from goext_core.values.formatters import format_duration, format_value
from goext_core.values.locations import ExpressionEvaluator
from goext_core.values.maps import BUCKET_COUNT, slot_layout
from goext_core.values.model import Settings, quote_go_string
from goext_core.values.types import Field, GoType, Kind
from unit.fakes import FakeTarget

INT = GoType("int", Kind.INT, 8)
STRING = GoType("string", Kind.STRING, 16)


class _Pclntab:
    def func_by_name(self, name: str) -> Optional[object]:
        return object() if self.classic and name == "runtime.evacuate" else None

    def __init__(self, classic: bool) -> None:
        self.classic = classic


class _Program:
    """What the decoder uses of GoProgram, over fake memory."""

    def __init__(self, target: FakeTarget, classic: bool = True) -> None:
        self.target = target
        self.pclntab = _Pclntab(classic)
        self.go_minor = 22 if classic else 24
        self.notes: list[str] = []
        self._static: dict[str, Any] = {}

        class _Binary:
            def has_dwarf(self) -> bool:
                return False

        self.binary = _Binary()

    def binary_memo(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._static:
            self._static[key] = compute()
        return self._static[key]

    def func_name(self, pc: int) -> Optional[str]:
        return None


def _map_type(key: GoType, elem: GoType) -> GoType:
    return GoType(f"map[{key.name}]{elem.name}", Kind.MAP, 8, _key=key, _elem=elem)


def _decode(
    target: FakeTarget, address: int, go_type: GoType, classic: bool = True, settings: Optional[Settings] = None
) -> Any:
    return Decoder(_Program(target, classic), settings or Settings(max_elements=10_000)).decode(go_type, address)


def _classic_bucket(cells: dict[int, tuple[int, int]], tophash: Optional[list[int]] = None, overflow: int = 0) -> bytes:
    _, elems_offset, _, size, _, _ = slot_layout(8, 8, 8, 8, 8, swiss=False)
    data = bytearray(size)
    tops = tophash or [0] * BUCKET_COUNT
    for slot, (key, value) in cells.items():
        tops[slot] = tops[slot] or 100
        struct.pack_into("<q", data, BUCKET_COUNT + 8 * slot, key)
        struct.pack_into("<q", data, elems_offset + 8 * slot, value)
    data[:BUCKET_COUNT] = bytes(tops)
    struct.pack_into("<Q", data, size - 8, overflow)
    return bytes(data)


@pytest.mark.unit
def test_classic_map_mid_growth_counts_each_entry_once():
    # hmap{count, flags, B=1, ..., buckets, oldbuckets}: old array of 1 bucket, half-evacuated picture:
    # the old bucket is NOT evacuated (tophash[0] >= 5), so its cells are live only there;
    # the new array holds entries inserted since, one of them in an overflow bucket.
    _, _, _, size, _, _ = slot_layout(8, 8, 8, 8, 8, swiss=False)
    hmap, new, old, overflow = 0x1000, 0x2000, 0x3000, 0x4000
    header = struct.pack("<QBBHIQQQQ", 6, 0, 1, 0, 0, new, old, 0, 0)
    segments = {
        hmap: header,
        new: _classic_bucket({0: (10, 100)}) + _classic_bucket({3: (11, 110)}, overflow=overflow),
        overflow: _classic_bucket({7: (12, 120)}),
        old: _classic_bucket({0: (1, 10), 1: (2, 20), 5: (3, 30)}),
    }
    value = _decode(*_with_cell(segments, hmap), _map_type(INT, INT))
    pairs = sorted((int(k.text), int(v.text)) for k, v in value.entries)
    assert pairs == [(1, 10), (2, 20), (3, 30), (10, 100), (11, 110), (12, 120)]
    assert value.details.get("growing") is True


@pytest.mark.unit
def test_classic_map_skips_evacuated_old_buckets():
    hmap, new, old = 0x1000, 0x2000, 0x3000
    header = struct.pack("<QBBHIQQQQ", 1, 0, 1, 0, 0, new, old, 0, 0)
    evacuated = [2] + [4] * 7  # evacuatedX, evacuatedEmpty: moved to the new array
    segments = {
        hmap: header,
        new: _classic_bucket({0: (5, 50)}) + _classic_bucket({}),
        old: _classic_bucket({0: (5, 50)}, tophash=evacuated),
    }
    value = _decode(*_with_cell(segments, hmap), _map_type(INT, INT))
    assert [(k.text, v.text) for k, v in value.entries] == [("5", "50")]


def _with_cell(segments: dict[int, bytes], pointer: int) -> tuple[FakeTarget, int]:
    """The target, and the address of a map variable holding ``pointer``."""
    cell = 0x9000
    segments[cell] = pointer.to_bytes(8, "little")
    return FakeTarget(segments), cell


def _swiss_group(cells: dict[int, tuple[int, int]]) -> bytes:
    slot, elem_offset, _, size, _, _ = slot_layout(8, 8, 8, 8, 8, swiss=True)
    data = bytearray(size)
    ctrl = [0x80] * 8
    for index, (key, value) in cells.items():
        ctrl[index] = 0x11
        struct.pack_into("<qq", data, 8 + index * slot, key, value)
    data[:8] = bytes(ctrl)
    return bytes(data)


@pytest.mark.unit
def test_swiss_directory_walks_a_shared_table_once():
    # dirLen 4, globalDepth 2: table A (localDepth 1) sits at indexes 0 and 1,
    # table B at 2, table C at 3.  A must be walked once (table.index == 0).
    m, directory, ta, tb, tc = 0x1000, 0x2000, 0x3000, 0x4000, 0x5000
    ga, gb, gc = 0x6000, 0x7000, 0x8000

    def table(index: int, groups: int) -> bytes:
        return struct.pack("<HHHBxqQQ", 1, 8, 0, 1, index, groups, 0)

    segments = {
        m: struct.pack("<QQQqBBxxxxxx", 3, 0, directory, 4, 2, 62),
        directory: struct.pack("<QQQQ", ta, ta, tb, tc),
        ta: table(0, ga),
        tb: table(2, gb),
        tc: table(3, gc),
        ga: _swiss_group({0: (1, 10)}),
        gb: _swiss_group({4: (2, 20)}),
        gc: _swiss_group({7: (3, 30)}),
    }
    value = _decode(*_with_cell(segments, m), _map_type(INT, INT), classic=False)
    assert sorted((int(k.text), int(v.text)) for k, v in value.entries) == [(1, 10), (2, 20), (3, 30)]


@pytest.mark.unit
def test_swiss_small_map_is_one_group_and_deleted_slots_are_skipped():
    m, group = 0x1000, 0x2000
    data = bytearray(_swiss_group({0: (1, 10), 2: (3, 30)}))
    data[1] = 0xFE  # ctrlDeleted
    segments = {m: struct.pack("<QQQqBBxxxxxx", 2, 0, group, 0, 0, 0), group: bytes(data)}
    value = _decode(*_with_cell(segments, m), _map_type(INT, INT), classic=False)
    assert sorted((k.text, v.text) for k, v in value.entries) == [("1", "10"), ("3", "30")]


@pytest.mark.unit
def test_garbage_headers_give_bounded_errors():
    target = FakeTarget({0x1000: struct.pack("<QQQ", 0x5000, 1 << 50, 1 << 50), 0x2000: b"\xff" * 64})
    slice_type = GoType("[]int", Kind.SLICE, 24, _elem=INT)
    assert "bad slice header" in _decode(target, 0x1000, slice_type).error
    assert _decode(target, 0x1000, STRING).error.startswith("bad string length")
    assert _decode(target, 0xDEAD0000, INT).error.startswith("unreadable")
    hmap = _decode(target, 0x2000, _map_type(INT, INT))  # a map pointer to nowhere
    assert hmap.error is not None
    assert format_value(hmap).startswith("<")


@pytest.mark.unit
def test_pointer_cycles_and_depth_are_bounded():
    node = GoType("main.Node", Kind.STRUCT, 16)
    pointer = GoType("*main.Node", Kind.POINTER, 8, _elem=node)
    node._fields = [Field("Value", 0, INT), Field("Next", 8, pointer)]
    # A -> B -> A, and a node pointing at itself.
    target = FakeTarget(
        {
            0x1000: struct.pack("<qQ", 1, 0x2000),
            0x2000: struct.pack("<qQ", 2, 0x1000),
            0x3000: struct.pack("<Q", 0x1000),
            0x4000: struct.pack("<qQ", 3, 0x4000),
        }
    )
    text = format_value(_decode(target, 0x3000, pointer))
    assert text.count("Value: 1") == 1 and "Value: 2" in text and len(text) < 500
    assert format_value(_decode(target, 0x4000, node)) == "main.Node{Value: 3, Next: (*main.Node)(0x4000) <cycle>}"
    deep = Decoder(_Program(target), Settings(max_depth=2)).decode(pointer, 0x3000)
    assert len(format_value(deep)) < 200


@pytest.mark.unit
def test_fmt_spelling_of_scalars():
    assert [format_float(x) for x in (3.25, -2.5e10, 1e100, 0.5, 36.6, 1e6, 123456.0, 1e-5, 1.0, 0.0)] == [
        "3.25",
        "-2.5e+10",
        "1e+100",
        "0.5",
        "36.6",
        "1e+06",
        "123456",
        "1e-05",
        "1",
        "0",
    ]
    assert format_float(struct.unpack("<f", struct.pack("<f", 0.1))[0], single=True) == "0.1"
    assert format_complex(1.5, -2) == "(1.5-2i)" and format_complex(-3.25, 4.5) == "(-3.25+4.5i)"
    assert [format_duration(n) for n in (0, 1500, 3_000_000_000, 5_400_000_000_000 + 1_500_000_000, -90_000_000)] == [
        "0s",
        "1.5µs",
        "3s",
        "1h30m1.5s",
        "-90ms",
    ]
    assert quote_go_string(b'a"b\\\n\x00\xff\xe4\xb8\x96') == '"a\\"b\\\\\\n\\x00\\xff世"'


@pytest.mark.unit
def test_dwarf_expressions():
    target = FakeTarget({0x1000: struct.pack("<QQ", 0xAAAA, 0xBBBB)})
    program = _Program(target)
    evaluator = ExpressionEvaluator(program, {"rsp": 0x1000, "rax": 7}, cfa=0x1010)
    assert evaluator.evaluate(bytes([0x9C])).address == 0x1010  # DW_OP_call_frame_cfa
    assert evaluator.evaluate(bytes([0x91, 0x70])).address == 0x1000  # DW_OP_fbreg -16
    assert evaluator.evaluate(bytes([0x77, 0x08])).address == 0x1008  # DW_OP_breg7 (rsp) +8
    assert evaluator.evaluate(bytes([0x50])).data == (7).to_bytes(8, "little")  # DW_OP_reg0 (rax)
    # rbx (reg3) is unknown in this frame: that piece is optimized out, the rest is read.
    location = evaluator.evaluate(bytes([0x53, 0x93, 0x08, 0x91, 0x78, 0x93, 0x08]))
    assert location.partial and location.data[8:] == struct.pack("<Q", 0xBBBB)
    assert evaluator.evaluate(bytes([0x53])).optimized_out
