"""Which stack slots of a frame hold live pointers: the garbage collector's own answer.

The compiler records, for every call site, which words of the frame's locals and
arguments hold live pointers (FUNCDATA_LocalsPointerMaps, FUNCDATA_ArgsPointerMaps,
indexed by PCDATA_StackMapIndex), and which address-taken locals are "stack
objects" (FUNCDATA_StackObjects).  The GC scans exactly those words
(src/runtime/stkframe.go getStackMap, src/runtime/mgcmark.go scanframeworker).
They live in pclntab and the funcdata, so stripped binaries have them too.

A parked goroutine stops only at call sites, so every one of its frames has a
map.  A frame interrupted at an arbitrary instruction (async preemption, a
signal) has none: the GC scans it conservatively, and so does this module
(``None``: every word may be live).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from goext_core.binary.pclntab import (
    FUNCDATA_ARGS_POINTER_MAPS,
    FUNCDATA_LOCALS_POINTER_MAPS,
    FUNCDATA_STACK_OBJECTS,
    PCDATA_STACK_MAP_INDEX,
)
from goext_core.errors import GoextError, MemoryReadError

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.runtime.unwind import Frame

_ARGS_SIZE_UNKNOWN = -0x80000000  # abi.ArgsSizeUnknown: assembly and reflect frames
MAX_FRAME_WORDS = 1 << 16  # a bitmap longer than this (512 KB of frame) is corrupt
MAX_STACK_OBJECTS = 4096

# Offsets of live pointer words from the frame's sp, per pc (None: no map, scan it all).
LiveOffsets = Optional[tuple[int, ...]]
# (offsets of the live pointer words of the locals and args maps; (offset, size,
# pointer-holding bytes, offsets of its pointer words in it or None when its mask is
# unknown) of each stack object), from the frame's sp; None: no map.
StackObject = tuple[int, int, int, Optional[tuple[int, ...]]]
FrameMaps = Optional[tuple[tuple[int, ...], tuple[StackObject, ...]]]


def _bits(data: bytes, nbit: int) -> list[int]:
    return [i for i in range(nbit) if data[i >> 3] >> (i & 7) & 1]


def _bitmap(program: "GoProgram", address: int, index: int) -> list[int]:
    """Set bits of entry ``index`` of the stackmap at link-time ``address``
    (stackmap{n, nbit int32; bytedata}, src/runtime/symtab.go stackmapdata)."""
    binary = program.binary
    header = binary.read_static(address, 8)
    count = int.from_bytes(header[:4], "little", signed=True)
    nbit = int.from_bytes(header[4:8], "little", signed=True)
    if nbit <= 0:
        return []
    if not 0 <= index < count or nbit > MAX_FRAME_WORDS:
        raise GoextError(f"stack map index {index} out of range ({count} maps of {nbit} bits)")
    width = (nbit + 7) >> 3
    return _bits(binary.read_static(address + 8 + index * width, width), nbit)


def _live_offsets(program: "GoProgram", pc: int, fp: int) -> LiveOffsets:
    """sp-relative offsets of the live pointer words of the frame of the function
    at run-time return address ``pc`` whose fp is ``fp`` bytes above its sp."""
    maps = _frame_maps(program, pc, fp)
    if maps is None:
        return None
    offsets, objects = maps
    every = list(offsets)
    for base, _size, ptrdata, _words in objects:
        every += range(base, base + min(ptrdata, MAX_FRAME_WORDS * program.target.ptr_size), program.target.ptr_size)
    return tuple(sorted(set(every)))


def _frame_maps(program: "GoProgram", pc: int, fp: int) -> FrameMaps:
    """The locals/args maps' live words and the stack objects of a frame (see FrameMaps)."""
    func = program.func_for_pc(pc)
    if func is None:
        return None
    bias = program.target.load_bias()
    ptr = program.target.ptr_size
    arm64 = program.binary.arch == "arm64"
    # src/runtime/traceback.go (unwinder.resolveInternal): varp and argp from fp.
    varp = fp - (0 if arm64 else ptr)
    if varp > 0:
        varp -= ptr  # the saved frame pointer (framepointer_enabled on amd64 and arm64)
    argp = fp + (8 if arm64 else 0)  # sys.MinFrameSize
    link_pc = pc - bias
    index = -1
    if link_pc != func.entry:
        index = func.pcdata(PCDATA_STACK_MAP_INDEX, link_pc - 1)
    if index == -1:
        index = 0
    offsets: list[int] = []
    stack_objects: list[StackObject] = []
    minsize = 16 if arm64 else 0  # sys.StackAlign on arm64, sys.MinFrameSize elsewhere
    if varp > minsize:
        locals_map = func.funcdata_address(FUNCDATA_LOCALS_POINTER_MAPS)
        if locals_map is None:
            return None
        header = program.binary.read_static(locals_map, 8)
        nbit = int.from_bytes(header[4:8], "little", signed=True)
        offsets += [varp - nbit * ptr + bit * ptr for bit in _bitmap(program, locals_map, index)]
    if func.args not in (0, _ARGS_SIZE_UNKNOWN):
        args_map = func.funcdata_address(FUNCDATA_ARGS_POINTER_MAPS)
        if args_map is not None:
            offsets += [argp + bit * ptr for bit in _bitmap(program, args_map, index)]
    elif func.args == _ARGS_SIZE_UNKNOWN:
        return None
    objects = func.funcdata_address(FUNCDATA_STACK_OBJECTS)
    if objects is not None:
        # n uintptr, then stackObjectRecord{off, size, _ptrdata int32; gcdataoff uint32}
        # (src/runtime/stack.go); off < 0 is from varp, else from argp; the object's
        # pointer mask is at moduledata.rodata + gcdataoff (stackObjectRecord.gcdata).
        count = int.from_bytes(program.binary.read_static(objects, ptr), "little")
        if count > MAX_STACK_OBJECTS:
            raise GoextError(f"{count} stack objects")
        records = program.binary.read_static(objects + ptr, 16 * count)
        for number in range(count):
            record = records[16 * number : 16 * number + 16]
            off = int.from_bytes(record[0:4], "little", signed=True)
            size = int.from_bytes(record[4:8], "little", signed=True)
            raw_ptrdata = int.from_bytes(record[8:12], "little", signed=True)
            ptrdata = abs(raw_ptrdata)
            gcdataoff = int.from_bytes(record[12:16], "little")
            # A negative _ptrdata (Go 1.19-1.20) is a GC program: its mask is not read.
            words = None if raw_ptrdata < 0 else _stack_object_words(program, gcdataoff, ptrdata)
            stack_objects.append(((varp if off < 0 else argp) + off, size, ptrdata, words))
    return tuple(sorted(set(offsets))), tuple(stack_objects)


def _stack_object_words(program: "GoProgram", gcdataoff: int, ptrdata: int) -> Optional[tuple[int, ...]]:
    """Byte offsets of a stack object's pointer words, from its mask in rodata; None
    when it cannot be read."""
    rodata = _rodata(program)
    ptr = program.target.ptr_size
    if rodata is None or not 0 <= ptrdata <= MAX_FRAME_WORDS * ptr:
        return None
    words = ptrdata // ptr
    try:
        mask = int.from_bytes(program.binary.read_static(rodata + gcdataoff, (words + 7) // 8), "little")
    except (GoextError, MemoryReadError, ValueError):
        return None
    return tuple(bit * ptr for bit in range(words) if mask >> bit & 1)


def _rodata(program: "GoProgram") -> Optional[int]:
    """Link-time address of the module's rodata (moduledata.rodata: the start of the
    .rodata section, where the linker puts runtime.rodata, src/cmd/link symtab.go)."""

    def compute() -> Optional[int]:
        section = program.binary.section(".rodata")
        return section.address if section is not None else None

    return program.binary_memo("stack_object_rodata", compute)


def live_pointer_slots(program: "GoProgram", frame: "Frame") -> Optional[list[int]]:
    """Addresses of the words of ``frame`` (a physical frame on a goroutine's stack)
    that the GC would scan as live pointers; None when the frame has no usable map
    (interrupted mid-instruction, assembly, unreadable funcdata)."""
    if frame.trap:
        return None
    cache: dict[int, LiveOffsets] = program.binary_memo("live_pointer_offsets", dict)
    if frame.pc not in cache:
        if len(cache) > 1 << 18:
            cache.clear()
        try:
            offsets = _live_offsets(program, frame.pc, frame.fp - frame.sp)
        except (GoextError, MemoryReadError, ValueError):
            offsets = None
        cache[frame.pc] = offsets
    found = cache[frame.pc]
    return None if found is None else [frame.sp + offset for offset in found]


def frame_maps(program: "GoProgram", frame: "Frame") -> FrameMaps:
    """Like :func:`live_pointer_slots`, with the stack objects apart, as the GC sees
    them (src/runtime/mgcmark.go scanstack): (addresses of the live pointer words of
    the locals and args maps; (address, size, pointer-holding bytes, offsets of its
    pointer words or None) of each stack object,
    which the GC scans only when a live pointer or a scanned stack object points into it)."""
    if frame.trap:
        return None
    cache: dict[int, FrameMaps] = program.binary_memo("frame_pointer_maps", dict)
    if frame.pc not in cache:
        if len(cache) > 1 << 18:
            cache.clear()
        try:
            maps = _frame_maps(program, frame.pc, frame.fp - frame.sp)
        except (GoextError, MemoryReadError, ValueError):
            maps = None
        cache[frame.pc] = maps
    found = cache[frame.pc]
    if found is None:
        return None
    offsets, objects = found
    return tuple(frame.sp + offset for offset in offsets), tuple(
        (frame.sp + off, size, ptrdata, words) for off, size, ptrdata, words in objects
    )
