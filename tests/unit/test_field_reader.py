"""FieldReader: a struct's integer fields decoded with one unpack, as a dict or
as a tuple in a caller's order (0 for a field the layout lacks)."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from goext_core.runtime.goroutines import FieldReader

pytestmark = pytest.mark.unit


def _layout(fields: dict[str, tuple[int, int]]) -> SimpleNamespace:
    return SimpleNamespace(fields=fields)


def test_values_come_in_the_callers_order_with_zero_for_absent_fields() -> None:
    layout = _layout({"a": (0, 8), "b": (8, 4), "c": (16, 8)})
    reader = FieldReader(layout, ("a", "b", "c"), ("c",), "little")
    buf = struct.pack("<QI4xq", 7, 9, -3)
    get = reader.values_getter(("c", "missing", "a", "b"))
    assert get(buf) == (-3, 0, 7, 9)
    assert reader.read(buf) == {"a": 7, "b": 9, "c": -3}


def test_odd_sized_fields_are_decoded_one_by_one_with_the_same_answer() -> None:
    layout = _layout({"a": (0, 8), "odd": (8, 3), "c": (16, 8)})
    reader = FieldReader(layout, ("a", "odd", "c"), (), "big")
    buf = (5).to_bytes(8, "big") + (0x010203).to_bytes(3, "big") + bytes(5) + (11).to_bytes(8, "big")
    assert reader.values_getter(("odd", "a", "none", "c"))(buf) == (0x010203, 5, 0, 11)
