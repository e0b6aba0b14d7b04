"""DWARF location expressions and location lists (DWARF 4 .debug_loc, DWARF 5
.debug_loclists), evaluated with what goext's unwinder recovered for a frame.

Go's functions use DW_OP_call_frame_cfa as their frame base, and on amd64 the
unwinder's ``frame.fp`` is exactly that CFA, so stack-slot variables of any
frame of any goroutine resolve.  Register locations are only known for the
innermost frame of a goroutine running on a thread; elsewhere they are
"unavailable" (Go has no callee-saved registers to recover).  Bytes goext
cannot know are marked in ``Location.known``, never filled in with zeros.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from goext_core.binary.codescan import stack_writes
from goext_core.binary.leb128 import TruncatedLeb128Error, read_sleb128, read_uleb128
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.values.model import (
    BYTE_KNOWN,
    BYTE_OPTIMIZED_OUT,
    BYTE_UNAVAILABLE,
    OPTIMIZED_OUT,
    UNAVAILABLE,
    mask_reason,
)

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
    """Where a variable's value is: in memory, or as bytes (registers/constants).

    ``known`` says, per byte of ``data``, whether it is known (BYTE_KNOWN) or
    why not; None means every byte is known.  ``optimized_out`` means nothing
    is known (``reason`` says why); ``partial`` that some bytes are not."""

    address: Optional[int] = None
    data: bytes = b""
    optimized_out: bool = False
    partial: bool = False
    known: Optional[bytes] = None
    reason: str = OPTIMIZED_OUT
    pieces: int = 0  # DW_OP_piece count: their sizes add up to len(data)
    # (offset in data, address, size) of each piece read from memory
    memory_pieces: tuple[tuple[int, int, int], ...] = ()
    since: Optional[int] = None  # link-time pc where its location-list entry begins


class _Unknown(Exception):
    """A piece whose value this frame does not have."""

    def __init__(self, reason: str = UNAVAILABLE) -> None:
        super().__init__(reason)
        self.reason = reason


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


# Operand shapes of the DWARF operations goext decodes (DWARF 5, section 2.5 and 2.6).
_NO_OPERAND = frozenset(
    {0x06, 0x12, 0x13, 0x14, 0x16, 0x17, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22}
    | {0x24, 0x25, 0x26, 0x27, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x96, 0x9B, 0x9C, 0x9F, 0xE0}
    | set(range(0x30, 0x70))
)
_FIXED_OPERAND = {0x08: 1, 0x09: 1, 0x0A: 2, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8, 0x0F: 8, 0x15: 1, 0x94: 1}
_ULEB_OPERAND = frozenset({0x10, 0x23, 0x90, 0x93})
_SLEB_OPERAND = frozenset({0x11, 0x91} | set(range(0x70, 0x90)))
_PIECE_OPS = frozenset({0x93, 0x9D})  # DW_OP_piece, DW_OP_bit_piece
_BLOCK_OPS = frozenset({0x9E, 0xA3, 0xF3})  # implicit_value, entry_value, GNU_entry_value
_BINARY_OPS: dict[int, Any] = {
    0x1A: lambda a, b: a & b,
    0x1B: lambda a, b: a // b if b else None,
    0x1C: lambda a, b: a - b,
    0x1D: lambda a, b: a % b if b else None,
    0x1E: lambda a, b: a * b,
    0x21: lambda a, b: a | b,
    0x22: lambda a, b: a + b,
    0x24: lambda a, b: a << b if b < 128 else 0,
    0x25: lambda a, b: a >> b,
    0x27: lambda a, b: a ^ b,
    0x29: lambda a, b: int(a == b),
    0x2A: lambda a, b: int(a >= b),
    0x2B: lambda a, b: int(a > b),
    0x2C: lambda a, b: int(a <= b),
    0x2D: lambda a, b: int(a < b),
    0x2E: lambda a, b: int(a != b),
}


@dataclass
class _Op:
    code: int
    operands: tuple[int, ...] = ()
    block: bytes = b""


def decode_operations(ops: bytes, ptr_size: int = 8) -> list[_Op]:
    """A DWARF expression as a list of operations; CorruptDataError on an
    operation goext does not know (its operand length is unknown, so nothing
    after it can be trusted)."""
    out: list[_Op] = []
    position = 0
    while position < len(ops):
        if len(out) >= _MAX_OPS:
            raise CorruptDataError("DWARF expression too long")
        code = ops[position]
        position += 1
        if code in _NO_OPERAND:
            out.append(_Op(code))
        elif code == 0x03:  # DW_OP_addr
            if position + ptr_size > len(ops):
                raise CorruptDataError("truncated DW_OP_addr")
            out.append(_Op(code, (int.from_bytes(ops[position : position + ptr_size], "little"),)))
            position += ptr_size
        elif code in _FIXED_OPERAND:
            size = _FIXED_OPERAND[code]
            if position + size > len(ops):
                raise CorruptDataError("truncated DWARF operand")
            signed = code in (0x09, 0x0B, 0x0D, 0x0F)
            out.append(_Op(code, (int.from_bytes(ops[position : position + size], "little", signed=signed),)))
            position += size
        elif code in _ULEB_OPERAND:
            value, position = _uleb(ops, position)
            out.append(_Op(code, (value,)))
        elif code in _SLEB_OPERAND:
            value, position = _sleb(ops, position)
            out.append(_Op(code, (value,)))
        elif code == 0x92:  # bregx
            number, position = _uleb(ops, position)
            offset, position = _sleb(ops, position)
            out.append(_Op(code, (number, offset)))
        elif code == 0x9D:  # bit_piece: size, offset in bits
            bits, position = _uleb(ops, position)
            offset, position = _uleb(ops, position)
            out.append(_Op(code, (bits, offset)))
        elif code in _BLOCK_OPS:
            size, position = _uleb(ops, position)
            if position + size > len(ops):
                raise CorruptDataError("truncated DWARF block operand")
            out.append(_Op(code, (size,), bytes(ops[position : position + size])))
            position += size
        elif code == 0xA0:  # implicit_pointer: a 4-byte DIE reference (32-bit DWARF), an offset
            position += 4
            offset, position = _sleb(ops, position)
            out.append(_Op(code, (offset,)))
        else:
            raise CorruptDataError(f"unsupported DWARF operation {code:#04x}")
    return out


def _overlapping(ranges: list[tuple[int, int]]) -> bool:
    ordered = sorted(ranges)
    return any(start + size > next_start for (start, size), (next_start, _) in zip(ordered, ordered[1:]))


class ExpressionEvaluator:
    """A DWARF expression stack machine over one frame's registers."""

    def __init__(self, program: "GoProgram", registers: dict[str, int], cfa: int) -> None:
        self.program = program
        self.registers = registers
        self.cfa = cfa
        self.ptr = program.target.ptr_size
        names = ARM64_DWARF_REGISTERS if program.target.arch == "arm64" else AMD64_DWARF_REGISTERS
        self.register_names = names
        self._piece_memory: list[tuple[int, int]] = []  # (address, size) of the memory pieces read

    def register(self, number: int) -> int:
        # Go has no callee-saved registers: an outer frame's registers other
        # than its sp/pc/CFA are not recoverable; they are unavailable, not zero.
        if number >= len(self.register_names):
            raise _Unknown()
        name = self.register_names[number]
        if name not in self.registers:
            raise _Unknown()
        return self.registers[name]

    def evaluate(self, ops: bytes) -> Location:
        try:
            operations = decode_operations(ops, self.ptr)
        except CorruptDataError:
            return Location(optimized_out=True, reason=UNAVAILABLE)
        data = bytearray()
        known = bytearray()
        saw_piece = False
        start = 0
        self._piece_memory = []
        memory_pieces: list[tuple[int, int, int]] = []
        for index, operation in enumerate(operations):
            if operation.code not in _PIECE_OPS:
                continue
            saw_piece = True
            read_before = len(self._piece_memory)
            piece_ops = operations[start:index]
            start = index + 1
            if operation.code == 0x93:
                size = operation.operands[0]
                if size > 1 << 16:
                    raise CorruptDataError(f"DW_OP_piece of {size} bytes")
                piece, piece_known = self._piece(piece_ops, size)
            else:
                bits, offset = operation.operands
                if bits % 8 or offset % 8 or bits > 1 << 19:
                    # Sub-byte pieces (never emitted by Go): not worth a guess.
                    piece, piece_known = bytes((bits + 7) // 8), bytes([BYTE_UNAVAILABLE]) * ((bits + 7) // 8)
                else:
                    whole, whole_known = self._piece(piece_ops, (bits + offset) // 8)
                    piece, piece_known = whole[offset // 8 :], whole_known[offset // 8 :]
            if len(self._piece_memory) > read_before and operation.code == 0x93:
                address, size = self._piece_memory[-1]
                memory_pieces.append((len(data), address, size))
            data += piece
            known += piece_known
        if saw_piece:
            if start < len(operations):  # trailing operations without a piece: one more word
                piece, piece_known = self._piece(operations[start:], self.ptr)
                data += piece
                known += piece_known
            if _overlapping(self._piece_memory):
                # Two parts of one value cannot be in the same memory at once:
                # the description is stale (seen in Go 1.19's location lists).
                return Location(optimized_out=True, reason=UNAVAILABLE)
            count = sum(1 for operation in operations if operation.code in _PIECE_OPS)
            mask = bytes(known)
            reason = mask_reason(mask)
            placed = tuple(memory_pieces)
            if reason is None:
                return Location(data=bytes(data), pieces=count, memory_pieces=placed)
            if all(byte != BYTE_KNOWN for byte in mask):
                return Location(optimized_out=True, reason=reason)
            return Location(data=bytes(data), partial=True, known=mask, pieces=count, memory_pieces=placed)
        try:
            return self._whole(operations)
        except _Unknown as unknown:
            return Location(optimized_out=True, reason=unknown.reason)

    def _whole(self, operations: list[_Op]) -> Location:
        """A location without pieces: an address, a register, or a value."""
        if not operations:
            return Location(optimized_out=True)
        result = self._run(operations)
        kind, payload = result
        if kind == "empty":
            return Location(optimized_out=True)
        if kind == "register":
            return Location(data=self.register(payload).to_bytes(self.ptr, "little"))
        if kind == "value":
            return Location(data=(payload & ((1 << (8 * self.ptr)) - 1)).to_bytes(self.ptr, "little"))
        if kind == "implicit":
            return Location(data=payload)
        return Location(address=payload)

    def _piece(self, operations: list[_Op], size: int) -> tuple[bytes, bytes]:
        """The bytes of one piece and their states."""
        if not operations:  # an empty piece: the compiler kept no copy of these bytes
            return bytes(size), bytes([BYTE_OPTIMIZED_OUT]) * size
        try:
            kind, payload = self._run(operations)
            if kind == "empty":
                return bytes(size), bytes([BYTE_OPTIMIZED_OUT]) * size
            if kind == "register":
                number = self.register(payload)
                blob = (number & ((1 << (8 * min(size, 8))) - 1)).to_bytes(8, "little")[:size]
                if size > 8:  # wider than a general register: the rest is not in it
                    return blob.ljust(size, b"\0"), bytes([BYTE_KNOWN]) * 8 + bytes([BYTE_UNAVAILABLE]) * (size - 8)
                return blob, bytes([BYTE_KNOWN]) * size
            if kind == "value":
                if size > 8:
                    raise _Unknown()
                return (payload & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), bytes([BYTE_KNOWN]) * size
            if kind == "implicit":
                blob = payload[:size]
                return blob.ljust(size, b"\0"), bytes([BYTE_KNOWN]) * len(blob) + bytes([BYTE_OPTIMIZED_OUT]) * (
                    size - len(blob)
                )
            self._piece_memory.append((payload, size))
            try:
                return self.program.target.read(payload, size), bytes([BYTE_KNOWN]) * size
            except MemoryReadError:
                raise _Unknown() from None
        except _Unknown as unknown:
            state = BYTE_OPTIMIZED_OUT if unknown.reason == OPTIMIZED_OUT else BYTE_UNAVAILABLE
            return bytes(size), bytes([state]) * size

    def _run(self, operations: list[_Op]) -> tuple[str, Any]:
        """Run the operations of one location description: ("address", a),
        ("register", n), ("value", v), ("implicit", bytes) or ("empty", None).
        Raises _Unknown for what this frame cannot know."""
        stack: list[int] = []
        mask = (1 << (8 * self.ptr)) - 1
        result: Optional[tuple[str, Any]] = None
        try:
            for operation in operations:
                if result is not None:
                    raise CorruptDataError("DWARF operations after the end of a location description")
                code, operands = operation.code, operation.operands
                if code == 0x03:  # DW_OP_addr
                    stack.append(operands[0] + self.program.target.load_bias())
                elif 0x30 <= code <= 0x4F:  # DW_OP_lit0..31
                    stack.append(code - 0x30)
                elif code in _FIXED_OPERAND and code not in (0x15, 0x94):  # const1u..const8s
                    stack.append(operands[0])
                elif code in (0x10, 0x11):  # constu, consts
                    stack.append(operands[0])
                elif code == 0x9C:  # call_frame_cfa
                    stack.append(self.cfa)
                elif code == 0x91:  # fbreg: Go's frame base is the CFA
                    stack.append(self.cfa + operands[0])
                elif 0x70 <= code <= 0x8F:  # breg0..31
                    stack.append((self.register(code - 0x70) + operands[0]) & mask)
                elif code == 0x92:  # bregx
                    stack.append((self.register(operands[0]) + operands[1]) & mask)
                elif 0x50 <= code <= 0x6F:  # reg0..31
                    result = ("register", code - 0x50)
                elif code == 0x90:  # regx
                    result = ("register", operands[0])
                elif code == 0x23:  # plus_uconst
                    stack.append((stack.pop() + operands[0]) & mask)
                elif code in _BINARY_OPS:
                    right = stack.pop()
                    computed = _BINARY_OPS[code](stack.pop(), right)
                    if computed is None:
                        raise CorruptDataError("division by zero in a DWARF expression")
                    stack.append(computed & mask)
                elif code == 0x1F:  # neg
                    stack.append(-stack.pop() & mask)
                elif code == 0x20:  # not
                    stack.append(~stack.pop() & mask)
                elif code == 0x19:  # abs
                    top = stack.pop()
                    stack.append(((1 << (8 * self.ptr)) - top) & mask if top >> (8 * self.ptr - 1) else top)
                elif code == 0x06:  # deref
                    stack.append(self._read_word(stack.pop(), self.ptr))
                elif code == 0x94:  # deref_size
                    stack.append(self._read_word(stack.pop(), operands[0]))
                elif code == 0x12:  # dup
                    stack.append(stack[-1])
                elif code == 0x13:  # drop
                    stack.pop()
                elif code == 0x14:  # over
                    stack.append(stack[-2])
                elif code == 0x15:  # pick
                    stack.append(stack[-1 - operands[0]])
                elif code == 0x16:  # swap
                    stack[-1], stack[-2] = stack[-2], stack[-1]
                elif code == 0x17:  # rot
                    stack[-1], stack[-2], stack[-3] = stack[-2], stack[-3], stack[-1]
                elif code == 0x9F:  # stack_value: the value is the top of the stack, not an address
                    result = ("value", stack[-1])
                elif code == 0x9E:  # implicit_value: the bytes are in the expression
                    result = ("implicit", operation.block)
                elif code == 0x96:  # nop
                    pass
                else:
                    # entry_value (the value at function entry: only a live
                    # debugger at that call could know it), implicit_pointer,
                    # thread-local storage: not recoverable from a stopped frame.
                    raise _Unknown()
        except IndexError:
            raise CorruptDataError("DWARF expression stack underflow") from None
        if result is not None:
            return result
        if not stack:
            return ("empty", None)
        return ("address", stack[-1])

    def _read_word(self, address: int, size: int) -> int:
        if not 0 < size <= 8:
            raise CorruptDataError(f"bad DW_OP_deref_size {size}")
        try:
            return int.from_bytes(self.program.target.read(address, size), "little")
        except MemoryReadError:
            raise _Unknown() from None


def has_location_list(variable: "VariableDie") -> bool:
    """Whether the variable's location changes with the pc (a location list)."""
    return variable.location is not None and variable.location_form in _LOCLIST_FORMS


def evaluate_location(
    program: "GoProgram", dwarf: "DwarfTypes", variable: "VariableDie", pc: int, frame: Any, registers: dict[str, int]
) -> Optional[Location]:
    """Where ``variable`` is at link-time ``pc`` of ``frame``.  A location list
    without an entry for ``pc`` means the compiler kept no copy there: optimized
    out (the caller decides from the lexical scope whether the variable is in
    scope at all)."""
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
            return Location(optimized_out=True)
        since, ops = listed
        if not ops:
            return Location(optimized_out=True)
        location = evaluator.evaluate(ops)
        location.since = since
        return location
    raise GoextError(f"unsupported location form {form} for {variable.name}")


# -- stack slots written since a location-list entry began -------------------------------
MAX_SCANNED_FUNCTION = 1 << 22  # bytes of one function's code scanned for stack writes


def rewritten_stack_bytes(program: "GoProgram", since: int, frame: Any) -> Optional[list[tuple[int, int]]]:
    """(address, size) of the stack bytes of ``frame`` that an instruction
    between ``since`` (link-time; a location-list entry's start) and the
    frame's pc writes, or whose address it takes; None when goext cannot tell.

    The compiler reuses a dead variable's spill slot for another value (of the
    same type), yet the variable's location list may still say it is there: a
    slot written after the entry began may hold something else.  The entry
    starts after the instruction that put the variable there, so a write in
    between is not the variable's own (a write further down the function that
    runs before the pc, across a loop's back edge, is not seen)."""
    bias = program.target.load_bias()
    stop = frame.pc - bias
    if stop <= since:
        return []
    func = program.func_for_pc(frame.pc)
    if func is None or not func.entry <= since:
        return None
    memo: dict[int, Optional[list[tuple[int, int, int]]]] = program.binary_memo("stack_writes", dict)
    if func.entry not in memo:
        memo[func.entry] = _function_stack_writes(program, func.entry, func.end)
    writes = memo[func.entry]
    if writes is None:
        return None
    try:
        frame_delta = program.sp_delta(frame.pc)
    except GoextError:
        return None
    start = bisect_left(writes, (since, -(1 << 62), 0))
    out = []
    for pc, from_entry_sp, width in writes[start:]:
        if pc >= stop:
            break
        out.append((frame.sp + frame_delta + from_entry_sp, width))
    return out


def _function_stack_writes(program: "GoProgram", entry: int, end: int) -> Optional[list[tuple[int, int, int]]]:
    """(link-time pc, offset from the stack pointer at the function's entry,
    size) of the stack writes of one function, in code order."""
    if not 0 < end - entry <= MAX_SCANNED_FUNCTION:
        return None
    bias = program.target.load_bias()
    try:
        code = program.binary.read_static(entry, end - entry)
        writes = stack_writes(program.binary.arch, code, entry)
        if writes is None:
            return None
        # The stack pointer at a write is the entry's minus the pcsp value there
        # (Go moves it only in prologues and epilogues).
        return [(write.pc, write.offset - program.sp_delta(write.pc + bias), max(write.width, 1)) for write in writes]
    except GoextError:
        return None


def without_rewritten_bytes(program: "GoProgram", location: Location, size: int, frame: Any) -> Location:
    """``location`` with the stack bytes written since its location-list entry
    began (rewritten_stack_bytes) marked unavailable, never shown as the variable's."""
    if location.since is None or location.optimized_out:
        return location
    if location.address is not None:
        regions: tuple[tuple[int, int, int], ...] = ((0, location.address, size),)
    else:
        regions = location.memory_pieces
    if not regions:
        return location
    writes = rewritten_stack_bytes(program, location.since, frame)
    if writes is None:
        writes = [(address, length) for _, address, length in regions]  # cannot tell: nothing in memory is sure
    stale: set[int] = set()
    for offset, address, length in regions:
        for written, width in writes:
            low, high = max(address, written), min(address + length, written + width)
            stale.update(range(offset + low - address, offset + high - address))
    if not stale:
        return location
    if location.address is not None:
        try:
            data = program.target.read(location.address, size)
        except MemoryReadError:
            return Location(optimized_out=True, reason=UNAVAILABLE)
        known = bytearray([BYTE_KNOWN]) * size
        placed = regions
    else:
        data = location.data
        known = bytearray(location.known if location.known is not None else bytes([BYTE_KNOWN]) * len(data))
        placed = location.memory_pieces
    for index in stale:
        if index < len(known):
            known[index] = BYTE_UNAVAILABLE
    if all(byte != BYTE_KNOWN for byte in known):
        return Location(optimized_out=True, reason=UNAVAILABLE)
    return Location(
        data=bytes(data),
        partial=True,
        known=bytes(known),
        pieces=location.pieces,
        memory_pieces=placed,
        since=location.since,
    )


def _loclist_expression(dwarf: "DwarfTypes", variable: "VariableDie", pc: int) -> Optional[tuple[int, bytes]]:
    """Where the entry of ``variable``'s location list for ``pc`` begins, and its
    expression, memoized per binary (every goroutine parked at one call site asks the same)."""
    key = (variable.die_offset, pc)
    memo = dwarf.location_memo
    if key not in memo:
        if len(memo) >= _MAX_LOCATION_MEMO:
            memo.clear()
        memo[key] = _find_loclist_expression(dwarf, variable, pc)
    return memo[key]


_MAX_LOCATION_MEMO = 1 << 16


def _find_loclist_expression(dwarf: "DwarfTypes", variable: "VariableDie", pc: int) -> Optional[tuple[int, bytes]]:
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
            return begin, bytes(entry.loc_expr)
    return None


__all__ = [
    "AMD64_DWARF_REGISTERS",
    "BYTE_KNOWN",
    "BYTE_OPTIMIZED_OUT",
    "BYTE_UNAVAILABLE",
    "OPTIMIZED_OUT",
    "UNAVAILABLE",
    "ExpressionEvaluator",
    "Location",
    "decode_operations",
    "evaluate_location",
    "has_location_list",
    "mask_reason",
    "rewritten_stack_bytes",
    "without_rewritten_bytes",
]
