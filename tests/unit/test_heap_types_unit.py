"""values/heaptypes.py and the memory pieces of a DWARF location, on synthetic
data: the labels of arrays, the pointer words of a value's plan (what the GC's
stack maps are checked against), and where each piece of a composite local lives."""

from __future__ import annotations

import struct

import pytest

from goext_core.runtime.heap import NUM_SIZE_CLASSES
from goext_core.values.heaptypes import (
    CLASS_TO_SIZE,
    PLAN_ARRAY,
    PLAN_EFACE,
    PLAN_POINTER,
    PLAN_STRING,
    array_label,
    pointer_words,
)
from unit.test_locations import PIECE8, RAX, STACK, _below_cfa, _evaluate, _fbreg

pytestmark = pytest.mark.unit


def test_class_table_is_the_runtimes():
    assert len(CLASS_TO_SIZE) == NUM_SIZE_CLASSES
    assert list(CLASS_TO_SIZE) == sorted(CLASS_TO_SIZE) and CLASS_TO_SIZE[-1] == 32768


@pytest.mark.parametrize(
    "element, payload, label",
    [(56, 64, "main.Item"), (8, 8, "main.Item"), (8, 16, "[]main.Item"), (80, 6144, "[]main.Item")],
)
def test_array_label(element, payload, label):
    assert array_label("main.Item", element, payload) == label


def test_pointer_words_of_a_plan():
    # struct{p *T; n int; s string; e any; a [3]struct{x int; q *T}} as plan entries (offset, code, argument).
    inner = ((8, PLAN_POINTER, None),)
    plan = (
        (0, PLAN_POINTER, None),
        (16, PLAN_STRING, None),
        (32, PLAN_EFACE, None),
        (48, PLAN_ARRAY, (inner, 16, 3)),
    )
    # An interface's type word is no pointer to the GC: only its data word (40) counts.
    assert list(pointer_words(plan, 0, 96)) == [0, 16, 40, 56, 72, 88]
    assert list(pointer_words(plan, 0, 60)) == [0, 16, 40, 56]


def test_memory_pieces_say_where_each_piece_is():
    # A slice: pointer on the stack at fbreg -8, len in a register, cap on the stack at fbreg -16.
    memory = _below_cfa(struct.pack("<QQ", 7, 0x2000))
    location = _evaluate(
        _fbreg(-8) + PIECE8 + [RAX] + PIECE8 + _fbreg(-16) + PIECE8, registers={"rax": 3}, memory=memory
    )
    assert struct.unpack("<3Q", location.data) == (0x2000, 3, 7)
    assert location.memory_pieces == ((0, STACK + 24, 8), (16, STACK + 16, 8))
    whole = _evaluate(_fbreg(-8), memory=memory)
    assert whole.address == STACK + 24 and whole.memory_pieces == ()
