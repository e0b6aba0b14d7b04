"""binary/codescan.py: data references decoded from hand-assembled amd64 and arm64 code."""

from __future__ import annotations

import struct

import pytest

from goext_core.binary.codescan import (
    ADDRESS,
    COMPARE,
    LOAD,
    STORE,
    UPDATE,
    DataRef,
    amd64_data_refs,
    amd64_stack_writes,
    arm64_data_refs,
    arm64_stack_writes,
    data_refs,
    stack_writes,
)

pytestmark = pytest.mark.unit

BASE = 0x401000


def _one(refs: list[DataRef]) -> DataRef:
    assert len(refs) == 1, refs
    return refs[0]


@pytest.mark.parametrize(
    "code, kind, width, immediate, end",
    [
        ("48 8b 05 10 00 00 00", LOAD, 8, None, 7),  # MOVQ x(SB), AX
        ("8b 05 10 00 00 00", LOAD, 4, None, 6),  # MOVL x(SB), AX
        ("44 89 05 10 00 00 00", STORE, 4, None, 7),  # MOVL R8, x(SB): REX.R only
        ("48 8d 05 10 00 00 00", ADDRESS, 0, None, 7),  # LEAQ x(SB), AX
        ("83 3d 10 00 00 00 00", COMPARE, 4, 0, 7),  # CMPL x(SB), $0
        ("80 3d 10 00 00 00 01", COMPARE, 1, 1, 7),  # CMPB x(SB), $1
        ("83 05 10 00 00 00 01", UPDATE, 4, 1, 7),  # ADDL $1, x(SB)
        ("c6 05 10 00 00 00 01", STORE, 1, 1, 7),  # MOVB $1, x(SB)
        ("48 c7 05 10 00 00 00 2a 00 00 00", STORE, 8, 42, 11),  # MOVQ $42, x(SB)
        ("66 c7 05 10 00 00 00 34 12", STORE, 2, 0x1234, 9),  # MOVW $0x1234, x(SB)
        ("87 05 10 00 00 00", UPDATE, 4, None, 6),  # XCHGL AX, x(SB): atomic store
        ("f0 48 0f b1 0d 10 00 00 00", UPDATE, 8, None, 9),  # LOCK CMPXCHGQ CX, x(SB)
        ("0f b6 05 10 00 00 00", LOAD, 1, None, 7),  # MOVBLZX x(SB), AX
        ("48 63 05 10 00 00 00", LOAD, 4, None, 7),  # MOVLQSX x(SB), AX
        ("44 0f 11 3d 10 00 00 00", STORE, 16, None, 8),  # MOVUPS X15, x(SB)
    ],
)
def test_amd64_rip_relative_operands(code, kind, width, immediate, end):
    raw = bytes.fromhex("90 90 " + code)  # two NOPs first: pc is where the prefixes start
    ref = _one(amd64_data_refs(raw, BASE))
    assert (ref.kind, ref.width, ref.immediate) == (kind, width, immediate)
    assert ref.pc == BASE + 2
    assert ref.target == BASE + 2 + end + 0x10  # RIP is the next instruction's address


def test_amd64_negative_displacement_and_code_order():
    raw = bytes.fromhex("8b 05 f0 ff ff ff") + bytes.fromhex("48 8d 0d 00 01 00 00")
    first, second = amd64_data_refs(raw, BASE)
    assert first.target == BASE + 6 - 0x10 and first.kind == LOAD
    assert second.target == BASE + 13 + 0x100 and second.kind == ADDRESS and second.pc == BASE + 6


@pytest.mark.parametrize(
    "code",
    [
        "48 8b 45 08",  # MOVQ 8(BP), AX: not RIP-relative
        "ff 15 10 00 00 00",  # CALL through a pointer in memory: a code pointer, not data
        "ff 25 10 00 00 00",  # JMP through memory
        "c7 0d 10 00 00 00 00 00 00 00",  # C7 /1 does not exist
        "e8 05 00 00 00",  # CALL rel32 whose bytes contain a 0x05
        "8b 05 10 00",  # cut short: no whole displacement
    ],
)
def test_amd64_ignores_what_is_not_a_data_operand(code):
    assert amd64_data_refs(bytes.fromhex(code), BASE) == []


def _words(*words: int) -> bytes:
    return b"".join(struct.pack("<I", word) for word in words)


def _adrp(register: int, pages: int) -> int:
    immediate = pages & 0x1FFFFF
    return 0x90000000 | ((immediate & 3) << 29) | ((immediate >> 2) << 5) | register


ARM_BASE = 0x10_0000


def test_arm64_adrp_add():
    # ADRP X0, +1 page; ADD X0, X0, #0x10
    ref = _one(arm64_data_refs(_words(_adrp(0, 1), 0x91000000 | (0x10 << 10)), ARM_BASE + 8))
    assert (ref.kind, ref.width, ref.pc) == (ADDRESS, 0, ARM_BASE + 8)
    assert ref.target == ARM_BASE + 0x1000 + 0x10


def test_arm64_adrp_add_shifted():
    # ADD X3, X3, #1, LSL #12
    ref = _one(arm64_data_refs(_words(_adrp(3, 2), 0x91400000 | (1 << 10) | (3 << 5) | 3), ARM_BASE))
    assert ref.target == ARM_BASE + 0x2000 + 0x1000


@pytest.mark.parametrize(
    "load_store, kind, width, offset",
    [
        (0xF9400000 | (3 << 10), LOAD, 8, 0x18),  # LDR X2, [X1, #0x18]
        (0xB9400000 | (5 << 10), LOAD, 4, 0x14),  # LDR W2, [X1, #0x14]
        (0x39000000 | (7 << 10), STORE, 1, 7),  # STRB W2, [X1, #7]
        (0x79000000 | (2 << 10), STORE, 2, 4),  # STRH W2, [X1, #4]
        (0xB9800000 | (1 << 10), LOAD, 4, 4),  # LDRSW X2, [X1, #4]
    ],
)
def test_arm64_adrp_load_store(load_store, kind, width, offset):
    code = _words(_adrp(1, -1), load_store | (1 << 5) | 2)
    ref = _one(arm64_data_refs(code, ARM_BASE + 0x804))
    assert (ref.kind, ref.width) == (kind, width)
    assert ref.target == ARM_BASE - 0x1000 + offset  # the page of the ADRP, not its pc


def test_arm64_ignores_unpaired_and_other_registers():
    add_other_register = 0x91000000 | (0x10 << 10) | (2 << 5) | 2  # ADD X2, X2: not the ADRP's X0
    simd_load = 0xFD400000 | (0 << 5) | 1  # LDR D1, [X0]: a vector register, not a data word
    prefetch = 0xF9800000  # PRFM
    for follower in (add_other_register, simd_load, prefetch, 0xD503201F):  # ... and NOP
        assert arm64_data_refs(_words(_adrp(0, 1), follower), ARM_BASE) == []
    assert arm64_data_refs(_words(_adrp(0, 1)), ARM_BASE) == []  # nothing follows


def test_data_refs_dispatches_by_goarch():
    raw = bytes.fromhex("48 8b 05 10 00 00 00")
    assert data_refs("amd64", raw, BASE) == amd64_data_refs(raw, BASE)
    assert data_refs("riscv64", raw, BASE) == []


# -- stack writes: what may overwrite a spilled variable's slot ----------------------------
def test_amd64_stack_writes():
    code = bytes.fromhex(
        "f20f11442430"  # MOVSD X0, 0x30(SP)
        "48897c2448"  # MOVQ DI, 0x48(SP)
        "885c2427"  # MOVB BL, 0x27(SP)
        "48c744245001000000"  # MOVQ $1, 0x50(SP)
        "0f11842480000000"  # MOVUPS X0, 0x80(SP) (disp32)
        "488d4c2468"  # LEAQ 0x68(SP), CX
        "488b4c2438"  # MOVQ 0x38(SP), CX: a load
        "48890424"  # MOVQ AX, (SP): mod 00, not a spill slot form Go emits
    )
    writes = amd64_stack_writes(code, BASE)
    # (The MOVB is seen from the byte before it, 0x48, taken for a REX prefix: a wider write.)
    assert [(w.pc - BASE, w.offset, w.width) for w in writes] == [
        (0, 0x30, 8),
        (6, 0x48, 8),
        (10, 0x27, 1),
        (15, 0x50, 8),
        (24, 0x80, 16),
        (32, 0x68, 0),
    ]
    # The byte before a store may be another instruction's last, 0x41 like a REX.B:
    # the store still counts (a lost write could leave a stale value unmarked).
    shifted = amd64_stack_writes(bytes.fromhex("c6442410418944 2408".replace(" ", "")), BASE)
    assert (0x08, 4) in [(w.offset, w.width) for w in shifted]


def test_arm64_stack_writes():
    words = [
        0xF9000FE0,  # STR X0, [SP, #24]
        0xA90107E0,  # STP X0, X1, [SP, #16]
        0xB81FC3E1,  # STUR W1, [SP, #-4]
        0x910083E0,  # ADD X0, SP, #32
        0xF94007E0,  # LDR X0, [SP, #8]: a load
        0xA9BF7BFD,  # STP X29, X30, [SP, #-16]!: moves SP (the pcsp table says so)
        0xF9000C20,  # STR X0, [X1, #24]: not SP
    ]
    code = b"".join(struct.pack("<I", word) for word in words)
    writes = arm64_stack_writes(code, BASE)
    assert [(w.pc - BASE, w.offset, w.width) for w in writes] == [(0, 24, 8), (4, 16, 16), (8, -4, 4), (12, 32, 0)]
    assert stack_writes("386", code, BASE) is None
