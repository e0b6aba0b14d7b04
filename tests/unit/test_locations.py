"""DWARF locations with parts goext cannot know, and how values built from
them decode and print: empty pieces, registers an outer frame does not have,
unreadable memory, entry values, implicit values, stale (overlapping or
oversized) piece lists.  Synthetic expressions over fake memory."""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

import pytest

from goext_core.values.decode import Decoder
from goext_core.values.formatters import format_value, value_to_json
from goext_core.values.locations import ExpressionEvaluator, Location, without_rewritten_bytes
from goext_core.values.model import BYTE_KNOWN, BYTE_OPTIMIZED_OUT, BYTE_UNAVAILABLE, Settings, Value
from goext_core.values.types import Field, GoType, Kind
from unit.fakes import FakeTarget

pytestmark = pytest.mark.unit

INT = GoType("int", Kind.INT, 8)
INT32 = GoType("int32", Kind.INT32, 4)
STRING = GoType("string", Kind.STRING, 16)
SLICE = GoType("[]int32", Kind.SLICE, 24, _elem=INT32)
ERROR = GoType("error", Kind.INTERFACE, 16)
ANY = GoType("interface {}", Kind.INTERFACE, 16, facts={"empty_interface": True})
POINT = GoType("main.Point", Kind.STRUCT, 16)
POINT.set_fields([Field("X", 0, INT), Field("Y", 8, INT)])
RECORD = GoType("main.Record", Kind.STRUCT, 40)
RECORD.set_fields([Field("Name", 0, STRING), Field("Where", 16, POINT), Field("Count", 32, INT)])

# DWARF operations used below.
PIECE8 = [0x93, 0x08]
RAX, RBX = 0x50, 0x53  # DW_OP_reg0 / reg3
STACK, MEMORY = 0x1000, 0x2000


class _Program:
    """What the evaluator and the decoder use of GoProgram, over fake memory."""

    def __init__(self, target: FakeTarget) -> None:
        self.target = target
        self.notes: list[str] = []
        self._static: dict[str, Any] = {}

    def binary_memo(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._static:
            self._static[key] = compute()
        return self._static[key]


def _fbreg(offset: int) -> list[int]:
    """DW_OP_fbreg with a one-byte SLEB128 offset."""
    assert -64 <= offset < 64
    return [0x91, offset & 0x7F]


def _below_cfa(words: bytes) -> bytes:
    """Stack memory with ``words`` just below the CFA (fbreg -len(words) .. -1)."""
    return words.rjust(32, b"\0").ljust(64, b"\0")


def _evaluate(ops: list[int], registers: Optional[dict[str, int]] = None, memory: bytes = b"") -> Location:
    target = FakeTarget({STACK: memory or bytes(64)})
    return ExpressionEvaluator(_Program(target), registers or {}, cfa=STACK + 32).evaluate(bytes(ops))


def _decoder(memory: Optional[dict[int, bytes]] = None) -> Decoder:
    return Decoder(_Program(FakeTarget(memory or {MEMORY: struct.pack("<4i", 1, 2, 3, 4)})), Settings())


def _decode(go_type: GoType, location: Location, decoder: Optional[Decoder] = None) -> Value:
    known = location.known if location.known is not None else bytes([BYTE_KNOWN]) * len(location.data)
    data = location.data[: go_type.size].ljust(go_type.size, b"\0")
    mask = known[: go_type.size].ljust(go_type.size, bytes([BYTE_OPTIMIZED_OUT]))
    return (decoder or _decoder()).decode_bytes(go_type, data, None, known=mask)


def test_empty_pieces_are_optimized_out_not_zero():
    # A slice whose pointer is on the stack and whose len and cap pieces are empty.
    memory = _below_cfa(struct.pack("<Q", MEMORY))
    location = _evaluate(_fbreg(-8) + PIECE8 + PIECE8 + PIECE8, memory=memory)
    assert location.partial and location.known == bytes([BYTE_KNOWN] * 8 + [BYTE_OPTIMIZED_OUT] * 16)
    value = _decode(SLICE, location)
    assert value.length is None and value.capacity is None and not value.children
    assert format_value(value) == "[]int32 len <optimized out> cap <optimized out> <elements optimized out>"
    payload = value_to_json(value)
    assert payload["partly_optimized_out"] is True and "len" not in payload
    assert payload["missing"] == {"len": "optimized out", "cap": "optimized out"}


def test_slice_with_known_len_and_pointer_is_walked():
    memory = _below_cfa(struct.pack("<QQ", MEMORY, 4))
    location = _evaluate(_fbreg(-16) + PIECE8 + _fbreg(-8) + PIECE8 + PIECE8, memory=memory)
    value = _decode(SLICE, location)
    assert format_value(value) == "[]int32 len 4 cap <optimized out> [1, 2, 3, 4]"


def test_empty_slice_with_its_pointer_gone():
    # len and cap 0 on the stack, the pointer in a register the frame lacks: empty, nil or not.
    location = _evaluate([RBX] + PIECE8 + _fbreg(-16) + PIECE8 + _fbreg(-8) + PIECE8, memory=bytes(64))
    value = _decode(SLICE, location)
    assert format_value(value) == "[]int32 len 0 cap 0 [] <ptr unavailable>" and value.partial


def test_registers_an_outer_frame_lacks_are_unavailable():
    # len in rbx, which the unwinder could not recover; cap in rax, which it has.
    memory = _below_cfa(struct.pack("<Q", MEMORY))
    location = _evaluate(_fbreg(-8) + PIECE8 + [RBX] + PIECE8 + [RAX] + PIECE8, {"rax": 4}, memory)
    assert location.known == bytes([BYTE_KNOWN] * 8 + [BYTE_UNAVAILABLE] * 8 + [BYTE_KNOWN] * 8)
    assert format_value(_decode(SLICE, location)) == "[]int32 len <unavailable> cap 4 <elements unavailable>"
    whole = _evaluate([RBX])
    assert whole.optimized_out and whole.reason == "unavailable"
    assert format_value(_decoder().missing(INT, None, whole.reason)) == "<unavailable>"
    assert _evaluate([RAX], {"rax": 7}).data == (7).to_bytes(8, "little")


def test_interface_with_its_type_word_gone():
    location = _evaluate(PIECE8 + [RAX] + PIECE8, {"rax": 0xC000010000})
    value = _decode(ERROR, location)
    assert not value.is_nil and value.missing == {"type": "optimized out"}
    assert format_value(value) == "error(<type optimized out>) data 0xc000010000"
    assert value_to_json(value)["missing"] == {"type": "optimized out"}


def test_interface_with_its_data_word_gone():
    decoder = _decoder()
    decoder.runtime_type = lambda address: INT if address == 0x4000 else None  # type: ignore[method-assign]
    location = _evaluate([RAX] + PIECE8 + PIECE8, {"rax": 0x4000})
    assert format_value(_decode(ANY, location, decoder)) == "int(<optimized out>)"
    # A nil type word makes the interface nil, whatever the data word.
    assert format_value(_decode(ANY, _evaluate([RAX] + PIECE8 + PIECE8, {"rax": 0}), decoder)) == "nil"


def test_struct_keeps_the_fields_it_knows():
    # Name unknown (two empty pieces), Where.X on the stack, Where.Y gone, Count in rax.
    memory = _below_cfa(struct.pack("<q", -5))
    ops = PIECE8 + PIECE8 + _fbreg(-8) + PIECE8 + PIECE8 + [RAX] + PIECE8
    value = _decode(RECORD, _evaluate(ops, {"rax": 9}, memory))
    assert format_value(value) == "main.Record{Name: <optimized out>, Where: {X: -5, Y: <optimized out>}, Count: 9}"
    fields = {item["name"]: item for item in value_to_json(value)["fields"]}
    assert fields["Name"]["optimized_out"] is True and fields["Name"]["reason"] == "optimized out"
    assert fields["Where"]["partly_optimized_out"] is True and "optimized_out" not in fields["Count"]


def test_a_short_register_location_leaves_the_rest_unknown():
    # A string in one register: the length word is not described, so not known.
    value = _decode(STRING, _evaluate([RAX], {"rax": MEMORY}))
    assert value.unavailable == "optimized out" and value.missing == {"len": "optimized out"}
    assert format_value(value) == "<optimized out>"


def test_stack_implicit_and_entry_values():
    assert _evaluate([0x35, 0x9F]).data == (5).to_bytes(8, "little")  # DW_OP_lit5 DW_OP_stack_value
    implicit = _evaluate([0x9E, 0x04, 1, 2, 3, 4])  # DW_OP_implicit_value 4 bytes
    assert implicit.data == bytes([1, 2, 3, 4]) and implicit.known is None
    # DW_OP_entry_value(DW_OP_reg0) DW_OP_stack_value: only known at the call itself.
    entry = _evaluate([0xA3, 0x01, RAX, 0x9F], {"rax": 3})
    assert entry.optimized_out and entry.reason == "unavailable"
    # The same inside a piece loses that piece only.
    mixed = _evaluate([0xA3, 0x01, RAX, 0x9F] + PIECE8 + [0x33, 0x9F] + PIECE8)
    assert mixed.known == bytes([BYTE_UNAVAILABLE] * 8 + [BYTE_KNOWN] * 8) and mixed.data[8:] == (3).to_bytes(
        8, "little"
    )


def test_unreadable_memory_and_unknown_operations():
    # A piece in memory the core does not have.
    location = _evaluate([0x0C] + list((0x7000).to_bytes(4, "little")) + PIECE8 + [0x31, 0x9F] + PIECE8)
    assert location.known == bytes([BYTE_UNAVAILABLE] * 8 + [BYTE_KNOWN] * 8)
    # An operation goext does not decode: nothing after it can be trusted.
    assert _evaluate([0xE5, 0x00]).optimized_out


def test_stale_piece_lists_are_not_decoded():
    # Two parts of one value at the same stack slot (as Go 1.19 wrote for some interfaces).
    memory = _below_cfa(struct.pack("<Q", 0x4E96B8))
    stale = _evaluate(_fbreg(-8) + PIECE8 + _fbreg(-8) + PIECE8, memory=memory)
    assert stale.optimized_out and stale.reason == "unavailable"
    adjacent = _evaluate(_fbreg(-16) + PIECE8 + _fbreg(-8) + PIECE8, memory=memory)
    assert not adjacent.optimized_out and adjacent.pieces == 2


def test_location_list_gap_and_scalars_partly_known():
    # A scalar with only some bytes known is not known at all.
    value = _decoder().decode_bytes(INT, bytes(8), None, known=bytes([BYTE_KNOWN] * 4 + [BYTE_OPTIMIZED_OUT] * 4))
    assert value.unavailable == "optimized out" and value.error == "optimized out" and value.marked
    assert value_to_json(value)["optimized_out"] is True
    # Fully known bytes decode as always, with no mark.
    plain = _decoder().decode_bytes(INT, (42).to_bytes(8, "little"), None, known=bytes([BYTE_KNOWN] * 8))
    assert plain.text == "42" and not plain.marked


class _CodeProgram(_Program):
    """A program whose one function (at CODE, sp delta 0x20 in its body) is ``code``."""

    def __init__(self, target: FakeTarget, code: bytes) -> None:
        super().__init__(target)
        self.binary = self
        self.arch = "amd64"
        self.code = code

    def read_static(self, address: int, size: int) -> bytes:
        return self.code[address - CODE : address - CODE + size]

    def sp_delta(self, pc: int) -> int:
        return 0x20

    def func_for_pc(self, pc: int) -> Any:
        return type("Func", (), {"entry": CODE, "end": CODE + len(self.code)})()


CODE = 0x401000


class _Frame:
    pc = CODE + 0x40  # the return address
    sp = STACK
    fp = STACK + 0x28


def test_a_stack_slot_written_since_the_entry_began_is_unavailable():
    """The compiler gave a dead variable's spill slots to another value, and its
    location list still points there: the rewritten bytes are not the variable's."""
    memory = bytearray(64)
    memory[0x10:0x18] = (0x5000).to_bytes(8, "little")
    memory[0x18:0x20] = (4).to_bytes(8, "little")
    target = FakeTarget({STACK: bytes(memory)})
    code = bytes.fromhex("48897c2410").ljust(0x40, b"\x90")  # MOVQ DI, 0x10(SP) after the entry began
    program = _CodeProgram(target, code)
    pieces = Location(
        data=bytes(memory[0x10:0x20]), pieces=2, memory_pieces=((0, STACK + 0x10, 8), (8, STACK + 0x18, 8)), since=CODE
    )
    marked = without_rewritten_bytes(program, pieces, 16, _Frame())
    assert marked.known == bytes([BYTE_UNAVAILABLE]) * 8 + bytes([BYTE_KNOWN]) * 8
    assert "unavailable" in format_value(_decode(STRING, marked))
    # A whole-address location: read, and the rewritten word marked.
    whole = without_rewritten_bytes(program, Location(address=STACK + 0x10, since=CODE), 16, _Frame())
    assert whole.address is None and whole.known == marked.known
    # The store that put the variable there, before its entry began: untouched.
    spilled = Location(data=pieces.data, pieces=2, memory_pieces=pieces.memory_pieces, since=CODE + 5)
    assert without_rewritten_bytes(program, spilled, 16, _Frame()) is spilled
    # No store to the slots since the entry began: untouched.
    assert without_rewritten_bytes(_CodeProgram(target, bytes(0x40)), pieces, 16, _Frame()) is pieces
    # No location-list entry (a fixed home written in place): not examined.
    home = Location(address=STACK + 0x10)
    assert without_rewritten_bytes(program, home, 16, _Frame()) is home
