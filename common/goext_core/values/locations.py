"""DWARF location expressions and location lists (DWARF 4 .debug_loc, DWARF 5
.debug_loclists), evaluated with what goext's unwinder recovered for a frame.

Go's functions use DW_OP_call_frame_cfa as their frame base, and on amd64 the
unwinder's ``frame.fp`` is exactly that CFA, so stack-slot variables of any
frame of any goroutine resolve.  Register locations are only known for the
innermost frame of a goroutine running on a thread; elsewhere they are
"optimized out" (Go has no callee-saved registers to recover).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_sleb128, read_uleb128
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.values.dwarftypes import DwarfTypes, VariableDie

# DWARF register numbers, amd64 (System V psABI, table 3.36).
AMD64_DWARF_REGISTERS = [
    "rax",
    "rdx",
    "rcx",
    "rbx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rip",
]
# arm64: x0..x30, sp (31).
ARM64_DWARF_REGISTERS = [f"x{i}" for i in range(31)] + ["sp"]

_MAX_OPS = 4096
_EXPRLOC_FORMS = frozenset({"DW_FORM_exprloc", "DW_FORM_block1", "DW_FORM_block2", "DW_FORM_block4", "DW_FORM_block"})
_LOCLIST_FORMS = frozenset({"DW_FORM_sec_offset", "DW_FORM_data4", "DW_FORM_data8", "DW_FORM_loclistx"})


@dataclass
class Location:
    """Where a variable's value is: in memory, or as bytes (registers/constants)."""

    address: Optional[int] = None
    data: bytes = b""
    optimized_out: bool = False
    partial: bool = False


class _Unknown(Exception):
    """A register the frame does not have: the piece is optimized out."""


def _uleb(ops: bytes, position: int) -> tuple[int, int]:
    try:
        return read_uleb128(ops, position)
    except TruncatedLeb128Error:
        raise CorruptDataError("truncated LEB128 in a DWARF expression") from None


def _sleb(ops: bytes, position: int) -> tuple[int, int]:
    try:
        return read_sleb128(ops, position)
    except TruncatedLeb128Error:
        raise CorruptDataError("truncated LEB128 in a DWARF expression") from None


class ExpressionEvaluator:
    """A DWARF expression stack machine over one frame's registers."""

    def __init__(self, program: "GoProgram", registers: dict[str, int], cfa: int) -> None:
        self.program = program
        self.registers = registers
        self.cfa = cfa
        self.ptr = program.target.ptr_size
        names = ARM64_DWARF_REGISTERS if program.target.arch == "arm64" else AMD64_DWARF_REGISTERS
        self.register_names = names

    def register(self, number: int) -> int:
        if number >= len(self.register_names):
            raise _Unknown()
        name = self.register_names[number]
        if name not in self.registers:
            raise _Unknown()
        return self.registers[name]

    def evaluate(self, ops: bytes) -> Location:
        stack: list[int] = []
        pieces: list[bytes] = []
        any_unknown = False
        in_register: Optional[int] = None
        is_value = False
        position, executed = 0, 0
        mask = (1 << (8 * self.ptr)) - 1
        while position < len(ops):
            executed += 1
            if executed > _MAX_OPS:
                raise CorruptDataError("DWARF expression too long")
            op = ops[position]
            position += 1
            try:
                if op == 0x03:  # DW_OP_addr
                    stack.append(
                        int.from_bytes(ops[position : position + self.ptr], "little") + self.program.target.load_bias()
                    )
                    position += self.ptr
                elif 0x30 <= op <= 0x4F:  # DW_OP_lit0..31
                    stack.append(op - 0x30)
                elif op in (0x08, 0x0A, 0x0C, 0x0E):  # const1u/2u/4u/8u
                    size = {0x08: 1, 0x0A: 2, 0x0C: 4, 0x0E: 8}[op]
                    stack.append(int.from_bytes(ops[position : position + size], "little"))
                    position += size
                elif op in (0x09, 0x0B, 0x0D, 0x0F):  # const1s/2s/4s/8s
                    size = {0x09: 1, 0x0B: 2, 0x0D: 4, 0x0F: 8}[op]
                    stack.append(int.from_bytes(ops[position : position + size], "little", signed=True))
                    position += size
                elif op == 0x10:  # constu
                    value, position = _uleb(ops, position)
                    stack.append(value)
                elif op == 0x11:  # consts
                    value, position = _sleb(ops, position)
                    stack.append(value)
                elif op == 0x9C:  # call_frame_cfa
                    stack.append(self.cfa)
                elif op == 0x91:  # fbreg: Go's frame base is the CFA
                    offset, position = _sleb(ops, position)
                    stack.append(self.cfa + offset)
                elif 0x70 <= op <= 0x8F:  # breg0..31
                    offset, position = _sleb(ops, position)
                    stack.append(self.register(op - 0x70) + offset)
                elif op == 0x92:  # bregx
                    number, position = _uleb(ops, position)
                    offset, position = _sleb(ops, position)
                    stack.append(self.register(number) + offset)
                elif 0x50 <= op <= 0x6F:  # reg0..31
                    in_register = op - 0x50
                elif op == 0x90:  # regx
                    in_register, position = _uleb(ops, position)
                elif op == 0x23:  # plus_uconst
                    value, position = _uleb(ops, position)
                    stack.append((stack.pop() + value) & mask)
                elif op == 0x22:  # plus
                    right = stack.pop()
                    stack.append((stack.pop() + right) & mask)
                elif op == 0x1C:  # minus
                    right = stack.pop()
                    stack.append((stack.pop() - right) & mask)
                elif op == 0x06:  # deref
                    address = stack.pop()
                    stack.append(int.from_bytes(self.program.target.read(address, self.ptr), "little"))
                elif op == 0x12:  # dup
                    stack.append(stack[-1])
                elif op == 0x13:  # drop
                    stack.pop()
                elif op == 0x9F:  # stack_value
                    is_value = True
                elif op == 0x93:  # piece
                    size, position = _uleb(ops, position)
                    try:
                        pieces.append(self._piece(stack, in_register, is_value, size))
                    except _Unknown:  # a register this frame does not have: that piece only is lost
                        pieces.append(b"\0" * size)
                        any_unknown = True
                    stack, in_register, is_value = [], None, False
                elif op == 0x96:  # nop
                    pass
                else:
                    raise CorruptDataError(f"unsupported DWARF operation {op:#04x}")
            except _Unknown:
                any_unknown = True
                if pieces or self._has_piece_after(ops, position):
                    # Skip to the next piece: only that piece is unknown.
                    next_piece = ops.find(0x93, position)
                    if next_piece < 0:
                        break
                    position = next_piece + 1
                    size, position = _uleb(ops, position)
                    pieces.append(b"\0" * size)
                    stack, in_register, is_value = [], None, False
                    continue
                return Location(optimized_out=True)
            except IndexError:
                raise CorruptDataError("DWARF expression stack underflow") from None
        if pieces:
            if stack or in_register is not None:
                pieces.append(self._piece(stack, in_register, is_value, self.ptr))
            return Location(data=b"".join(pieces), partial=any_unknown)
        if in_register is not None:
            try:
                return Location(data=self.register(in_register).to_bytes(self.ptr, "little"))
            except _Unknown:
                return Location(optimized_out=True)
        if not stack:
            return Location(optimized_out=True)
        if is_value:
            return Location(data=(stack[-1] & mask).to_bytes(self.ptr, "little"))
        return Location(address=stack[-1])

    @staticmethod
    def _has_piece_after(ops: bytes, position: int) -> bool:
        return 0x93 in ops[position:]

    def _piece(self, stack: list[int], in_register: Optional[int], is_value: bool, size: int) -> bytes:
        if in_register is not None:
            return (
                self.register(in_register) & ((1 << (8 * size)) - 1) if size <= 8 else self.register(in_register)
            ).to_bytes(max(size, 8), "little")[:size]
        if not stack:
            return b"\0" * size  # an empty piece: optimized out
        if is_value:
            return (stack[-1] & ((1 << (8 * min(size, 8))) - 1)).to_bytes(size, "little")
        try:
            return self.program.target.read(stack[-1], size)
        except MemoryReadError:
            return b"\0" * size


def evaluate_location(
    program: "GoProgram", dwarf: "DwarfTypes", variable: "VariableDie", pc: int, frame: Any, registers: dict[str, int]
) -> Optional[Location]:
    """Where ``variable`` is at link-time ``pc`` of ``frame``: a Location, or None
    when a location list says it is not live there."""
    evaluator = ExpressionEvaluator(program, registers, frame.fp)
    form = variable.location_form
    if variable.location is None:
        return Location(optimized_out=True)
    if form in _EXPRLOC_FORMS:
        ops = bytes(variable.location)
        if not ops:
            return Location(optimized_out=True)
        return evaluator.evaluate(ops)
    if form in _LOCLIST_FORMS:
        listed = _loclist_expression(dwarf, variable, pc)
        if listed is None:
            return None
        ops = listed
        if not ops:
            return Location(optimized_out=True)
        return evaluator.evaluate(ops)
    raise GoextError(f"unsupported location form {form} for {variable.name}")


def _loclist_expression(dwarf: "DwarfTypes", variable: "VariableDie", pc: int) -> Optional[bytes]:
    try:
        die = dwarf.dwarf.get_DIE_from_refaddr(variable.die_offset)
        lists = dwarf.dwarf.location_lists()
        if lists is None:
            raise CorruptDataError("the binary has no location lists")
        cu = die.cu
        version = cu["version"]
        if variable.location_form == "DW_FORM_loclistx" or version >= 5:
            entries = lists.get_location_list_at_offset(die.attributes["DW_AT_location"].value, die=die)
        else:
            entries = lists.get_location_list_at_offset(variable.location)
        top = cu.get_top_DIE()
        base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0
    except GoextError:
        raise
    except Exception as exc:
        raise CorruptDataError(f"bad location list for {variable.name}: {type(exc).__name__}") from None
    for count, entry in enumerate(entries):
        if count > 1 << 16:
            break
        kind = type(entry).__name__
        if kind == "BaseAddressEntry":
            base = entry.base_address
            continue
        if kind != "LocationEntry":
            continue
        begin, end = entry.begin_offset, entry.end_offset
        if not getattr(entry, "is_absolute", False):
            begin, end = begin + base, end + base
        if begin <= pc < end:
            return bytes(entry.loc_expr)
    return None


__all__ = ["AMD64_DWARF_REGISTERS", "ExpressionEvaluator", "Location", "evaluate_location"]
