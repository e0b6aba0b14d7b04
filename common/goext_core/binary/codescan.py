"""The data addresses a function's machine code refers to (amd64, arm64).

A stripped Go binary has no data symbols, but pclntab still names every
function, and the compiler addresses a global the same way in every
function: amd64 code reads ``runtime.allp`` as ``MOVQ runtime.allp(SB), AX``,
one instruction with a RIP-relative operand (ModRM mod=00 r/m=101, a 32-bit
displacement from the next instruction); arm64 code builds the address with
``ADRP`` (the 4 KiB page, relative to the instruction's page) followed by an
``ADD`` of the low 12 bits, or folds them into the offset of the ``LDR``/``STR``
that follows.

This module decodes just enough of those encodings to list, for a byte
string of code, each such reference: where the instruction is, the address it
refers to, and what it does there (load, store, compare, take the address...)
with how many bytes and which immediate.  It is a pattern decoder, not a
disassembler: every position of the code is examined, so a reference is never
lost to a misdecoded instruction before it, and a byte sequence that merely
looks like one can appear.  Callers therefore keep only targets inside the
binary's data sections and validate every candidate against the runtime's
invariants before they believe it.

Encodings: Intel SDM vol. 2 (ModRM, REX, operand-size prefix), Arm ARM
C6.2 (ADRP, ADD immediate, LDR/STR unsigned offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# What an instruction does at the referenced address.
LOAD, STORE, ADDRESS, COMPARE, UPDATE = "load", "store", "address", "compare", "update"

# amd64 one-byte opcodes with a ModRM operand: opcode -> (kind, width, immediate bytes).
# width 1 is a byte operand; 0 an address only (LEA); None the operand size
# (8 with REX.W, 2 with a 0x66 prefix, else 4).  An immediate of None bytes is
# as wide as the operand, at most 4.  A ModRM /digit (reg field) refines some.
_OPCODES: dict[int, tuple[str, Optional[int], Optional[int]]] = {
    0x8B: (LOAD, None, 0),
    0x8A: (LOAD, 1, 0),
    0x89: (STORE, None, 0),
    0x88: (STORE, 1, 0),
    0x8D: (ADDRESS, 0, 0),
    0xC7: (STORE, None, None),  # /0 MOV r/m, imm
    0xC6: (STORE, 1, 1),  # /0 MOV r/m8, imm8
    0x80: (UPDATE, 1, 1),  # group 1 (/7 is CMP)
    0x81: (UPDATE, None, None),
    0x83: (UPDATE, None, 1),
    0x38: (COMPARE, 1, 0),
    0x39: (COMPARE, None, 0),
    0x3A: (COMPARE, 1, 0),
    0x3B: (COMPARE, None, 0),
    0x84: (COMPARE, 1, 0),  # TEST
    0x85: (COMPARE, None, 0),
    0xF6: (COMPARE, 1, 1),  # /0 TEST r/m8, imm8
    0xF7: (COMPARE, None, None),  # /0 TEST r/m, imm
    0x86: (UPDATE, 1, 0),  # XCHG (atomic stores)
    0x87: (UPDATE, None, 0),
    0x01: (UPDATE, None, 0),  # ADD r/m, r
    0x03: (LOAD, None, 0),  # ADD r, r/m
    0x29: (UPDATE, None, 0),  # SUB r/m, r
    0x2B: (LOAD, None, 0),  # SUB r, r/m
    0x63: (LOAD, 4, 0),  # MOVSXD
    0xFF: (UPDATE, None, 0),  # /0 INC, /1 DEC (other /digits are jumps and calls through memory)
    0xFE: (UPDATE, 1, 0),
}
# Two-byte opcodes 0x0F xx.
_OPCODES_0F: dict[int, tuple[str, Optional[int], Optional[int]]] = {
    0xB6: (LOAD, 1, 0),  # MOVZX r, r/m8
    0xB7: (LOAD, 2, 0),  # MOVZX r, r/m16
    0xBE: (LOAD, 1, 0),  # MOVSX
    0xBF: (LOAD, 2, 0),
    0xB1: (UPDATE, None, 0),  # CMPXCHG
    0xB0: (UPDATE, 1, 0),
    0xC1: (UPDATE, None, 0),  # XADD
    0x10: (LOAD, 16, 0),  # MOVUPS x, m128 (also MOVSD/MOVSS with a prefix: loads)
    0x11: (STORE, 16, 0),  # MOVUPS m128, x (Go zeroes globals with MOVUPS X15, m)
}
_REX_W = 0x08
# Operand-size, LOCK, REP/REPNE (also the MOVSS/MOVSD selectors): they precede REX.
_LEGACY_PREFIXES = frozenset({0x66, 0xF0, 0xF2, 0xF3})


@dataclass(frozen=True)
class DataRef:
    """One instruction's reference to an absolute address."""

    pc: int  # address of the instruction (of the ADRP on arm64)
    target: int  # the address it refers to
    kind: str  # LOAD, STORE, ADDRESS, COMPARE or UPDATE
    width: int  # bytes accessed; 0 when only the address is taken
    immediate: Optional[int] = None  # the immediate stored or compared, if the instruction has one


def _prefixes_before(code: bytes, opcode_at: int) -> tuple[int, int, set[int]]:
    """(where the instruction starts, its REX byte or 0, its legacy prefixes)
    for the opcode at ``opcode_at``: the REX byte just before it, and up to
    three legacy prefixes before that."""
    start = opcode_at
    rex = 0
    if start >= 1 and 0x40 <= code[start - 1] <= 0x4F:
        rex = code[start - 1]
        start -= 1
    prefixes: set[int] = set()
    while start >= 1 and code[start - 1] in _LEGACY_PREFIXES and len(prefixes) < 3:
        prefixes.add(code[start - 1])
        start -= 1
    return start, rex, prefixes


def _operand_width(width: Optional[int], rex: int, operand16: bool) -> int:
    if width is not None:
        return width
    if rex & _REX_W:
        return 8
    return 2 if operand16 else 4


def amd64_data_refs(code: bytes, base: int) -> list[DataRef]:
    """RIP-relative memory operands in ``code`` (loaded at ``base``), in code order."""
    out: list[DataRef] = []
    end = len(code)
    for modrm_at in range(1, end - 4):
        modrm = code[modrm_at]
        if modrm & 0xC7 != 0x05:  # mod=00, r/m=101: [RIP + disp32] in 64-bit mode
            continue
        reg = (modrm >> 3) & 7
        opcode = code[modrm_at - 1]
        two_byte = modrm_at >= 2 and code[modrm_at - 2] == 0x0F
        entry = _OPCODES_0F.get(opcode) if two_byte else _OPCODES.get(opcode)
        if entry is None:
            continue
        kind, width, immediate_size = entry
        start, rex, prefixes = _prefixes_before(code, modrm_at - (2 if two_byte else 1))
        operand16 = 0x66 in prefixes
        if two_byte and opcode in (0x10, 0x11):
            width = 4 if 0xF3 in prefixes else 8 if 0xF2 in prefixes else 16  # MOVSS, MOVSD, MOVUPS
        if not two_byte:
            if opcode in (0x80, 0x81, 0x83) and reg == 7:
                kind = COMPARE
            elif opcode in (0xC6, 0xC7, 0xF6, 0xF7) and reg != 0:
                continue  # not MOV/TEST: another instruction of the group
            elif opcode in (0xFE, 0xFF) and reg > 1:
                continue  # indirect CALL/JMP/PUSH: the target is a code pointer
        size = _operand_width(width, rex, operand16)
        if immediate_size is None:
            immediate_size = min(size, 4)
        next_at = modrm_at + 5 + immediate_size
        if next_at > end:
            continue
        displacement = int.from_bytes(code[modrm_at + 1 : modrm_at + 5], "little", signed=True)
        immediate = None
        if immediate_size:
            immediate = int.from_bytes(code[modrm_at + 5 : next_at], "little", signed=True)
        out.append(DataRef(base + start, base + next_at + displacement, kind, size, immediate))
    return out


def _sign_extend(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def arm64_data_refs(code: bytes, base: int) -> list[DataRef]:
    """ADRP + ADD / LDR / STR pairs in ``code`` (loaded at ``base``, 4-aligned), in code order."""
    out: list[DataRef] = []
    count = len(code) // 4
    words = [int.from_bytes(code[4 * i : 4 * i + 4], "little") for i in range(count)]
    for index in range(count - 1):
        adrp = words[index]
        if adrp & 0x9F000000 != 0x90000000:
            continue
        register = adrp & 0x1F
        page_delta = _sign_extend((((adrp >> 5) & 0x7FFFF) << 2) | ((adrp >> 29) & 3), 21) << 12
        pc = base + 4 * index
        page = (pc & ~0xFFF) + page_delta
        follower = words[index + 1]
        if (follower >> 5) & 0x1F != register:
            continue
        if follower & 0xFF800000 == 0x91000000:  # ADD Xd, Xn, #imm12{, LSL #12}, 64-bit
            shift = 12 if follower & (1 << 22) else 0
            out.append(DataRef(pc, page + (((follower >> 10) & 0xFFF) << shift), ADDRESS, 0))
        elif follower & 0x3B000000 == 0x39000000 and not follower & (1 << 26):
            # LDR/STR (immediate, unsigned offset) of a general register: size, opc, imm12 scaled.
            scale = follower >> 30
            opc = (follower >> 22) & 3
            kind = STORE if opc == 0 else LOAD
            if scale == 3 and opc >= 2:
                continue  # PRFM, not an access
            target = page + (((follower >> 10) & 0xFFF) << scale)
            out.append(DataRef(pc, target, kind, 1 << scale))
    return out


@dataclass(frozen=True)
class StackWrite:
    """One instruction that may write the stack at the stack pointer plus ``offset``."""

    pc: int  # address of the instruction
    offset: int  # from the stack pointer at that instruction
    width: int  # bytes written; 0 when the address is taken (a callee may write through it)


# amd64 stores to memory besides _OPCODES' ones: two-byte opcodes 0x0F xx.
_STORES_0F: dict[int, int] = {
    0x11: 16,  # MOVUPS/MOVUPD m, x (MOVSS 4 with F3, MOVSD 8 with F2)
    0x29: 16,  # MOVAPS/MOVAPD m, x
    0x7F: 16,  # MOVDQA/MOVDQU m, x
    0xD6: 8,  # MOVQ m64, x
    0xB1: 0,  # CMPXCHG (0: the operand size)
    0xC1: 0,  # XADD
}


def amd64_stack_writes(code: bytes, base: int) -> list[StackWrite]:
    """Instructions in ``code`` (loaded at ``base``) that write at [RSP + disp]
    (ModRM mod 01/10, r/m 100, SIB base RSP without index) or take that
    address (LEA), in code order.  A pattern scan like amd64_data_refs: a byte
    sequence inside another instruction may match, and a prefix may be taken
    from the instruction before (an extra or wider write, never a lost one)."""
    out: list[StackWrite] = []
    end = len(code)
    for modrm_at in range(1, end - 2):
        modrm = code[modrm_at]
        mod = modrm >> 6
        if mod not in (1, 2) or modrm & 7 != 4 or code[modrm_at + 1] & 0x3F != 0x24:
            continue
        reg = (modrm >> 3) & 7
        opcode = code[modrm_at - 1]
        two_byte = modrm_at >= 2 and code[modrm_at - 2] == 0x0F
        # With REX.B or REX.X the base or index would be r12, not RSP; but the
        # byte before may be the end of another instruction: kept, an extra write.
        start, rex, prefixes = _prefixes_before(code, modrm_at - (2 if two_byte else 1))
        operand16 = 0x66 in prefixes
        if two_byte:
            if opcode not in _STORES_0F:
                continue
            width: Optional[int] = _STORES_0F[opcode] or None
            if opcode == 0x11:
                width = 4 if 0xF3 in prefixes else 8 if 0xF2 in prefixes else 16
            size = _operand_width(width, rex, operand16)
        else:
            entry = _OPCODES.get(opcode)
            if entry is None or entry[0] not in (STORE, UPDATE, ADDRESS):
                continue
            kind, known_width, _ = entry
            if opcode in (0x80, 0x81, 0x83) and reg == 7:
                continue  # CMP
            if opcode in (0xC6, 0xC7) and reg != 0:
                continue
            if opcode in (0xFE, 0xFF) and reg > 1:
                continue  # CALL/JMP/PUSH through memory: reads it
            size = 0 if kind == ADDRESS else _operand_width(known_width, rex, operand16)
        disp_size = 1 if mod == 1 else 4
        if modrm_at + 2 + disp_size > end:
            continue
        displacement = int.from_bytes(code[modrm_at + 2 : modrm_at + 2 + disp_size], "little", signed=True)
        out.append(StackWrite(base + start, displacement, size))
    return out


def arm64_stack_writes(code: bytes, base: int) -> list[StackWrite]:
    """Instructions in ``code`` (loaded at ``base``, 4-aligned) that store at
    [SP, #imm] (STR/STUR of a general or FP register, STP) or compute SP + imm
    (ADD Xd, SP, #imm), in code order.  Writeback forms (pre/post-index) move SP
    itself: the pcsp table accounts for them."""
    out: list[StackWrite] = []
    for index in range(len(code) // 4):
        word = int.from_bytes(code[4 * index : 4 * index + 4], "little")
        pc = base + 4 * index
        if (word >> 5) & 0x1F != 31:
            continue  # base register is not SP
        vector = bool(word & (1 << 26))
        if word & 0x3B000000 == 0x39000000:  # LDR/STR (immediate, unsigned offset)
            opc, scale = (word >> 22) & 3, word >> 30
            if vector and opc == 2:
                scale = 4  # STR Qt
            elif opc != 0:
                continue  # a load
            out.append(StackWrite(pc, ((word >> 10) & 0xFFF) << scale, 1 << scale))
        elif word & 0x3B200C00 == 0x38000000:  # STUR/LDUR (unscaled)
            opc, scale = (word >> 22) & 3, word >> 30
            if vector and opc == 2:
                scale = 4
            elif opc != 0:
                continue
            out.append(StackWrite(pc, _sign_extend((word >> 12) & 0x1FF, 9), 1 << scale))
        elif word & 0x3BC00000 in (0x29000000, 0x28000000):  # STP / STNP (signed offset)
            opc = word >> 30
            scale = 2 + opc if vector else (3 if opc == 2 else 2)
            offset = _sign_extend((word >> 15) & 0x7F, 7) << scale
            out.append(StackWrite(pc, offset, 2 << scale))
        elif word & 0xFF800000 == 0x91000000:  # ADD Xd, SP, #imm12{, LSL #12}
            shift = 12 if word & (1 << 22) else 0
            out.append(StackWrite(pc, ((word >> 10) & 0xFFF) << shift, 0))
    return out


def stack_writes(arch: str, code: bytes, base: int) -> Optional[list[StackWrite]]:
    """The stack writes of ``code`` for GOARCH ``arch``; None for an architecture not decoded."""
    if arch == "amd64":
        return amd64_stack_writes(code, base)
    if arch == "arm64":
        return arm64_stack_writes(code, base)
    return None


def call_targets(arch: str, code: bytes, base: int) -> set[int]:
    """Targets of the direct calls that may be in ``code`` (loaded at ``base``;
    amd64 CALL rel32, arm64 BL imm26): a pattern match at every position, so
    only to be compared against known entries; empty for an architecture not decoded."""
    targets: set[int] = set()
    if arch == "amd64":
        for at in range(len(code) - 4):
            if code[at] == 0xE8:
                targets.add(base + at + 5 + int.from_bytes(code[at + 1 : at + 5], "little", signed=True))
    elif arch == "arm64":
        for at in range(0, len(code) - 3, 4):
            word = int.from_bytes(code[at : at + 4], "little")
            if word & 0xFC000000 == 0x94000000:
                targets.add(base + at + 4 * _sign_extend(word & 0x3FFFFFF, 26))
    return targets


def data_refs(arch: str, code: bytes, base: int) -> list[DataRef]:
    """The references of ``code`` for GOARCH ``arch``; [] for an architecture not decoded."""
    if arch == "amd64":
        return amd64_data_refs(code, base)
    if arch == "arm64":
        return arm64_data_refs(code, base)
    return []


__all__ = [
    "ADDRESS",
    "COMPARE",
    "LOAD",
    "STORE",
    "UPDATE",
    "DataRef",
    "StackWrite",
    "amd64_data_refs",
    "amd64_stack_writes",
    "arm64_stack_writes",
    "arm64_data_refs",
    "call_targets",
    "data_refs",
    "stack_writes",
]
