"""Deferred ``sync.Mutex`` unlocks a frame has pending: who holds a mutex.

The runtime does not record which goroutine holds a ``sync.Mutex``, but
``mu.Lock(); defer mu.Unlock()`` leaves a trace: the deferred call is pending
in the locking frame until it returns.  Open-coded defers (the compiler's
choice for a function with at most 8 defers, none in a loop) keep, per frame,
a byte of "defer i is pending" bits and one closure slot per defer, at offsets
from the frame's varp that FUNCDATA_OpenCodedDeferInfo gives
(src/runtime/panic.go: Go 1.19-1.21 ``runOpenDeferFrame`` reads
deferBitsOffset, nDefers, then each defer's closure offset from the last
defer to the first; Go 1.22+ ``initOpenCodedDefers`` reads deferBitsOffset and
slotsOffset, closure i at varp - slotsOffset + i*PtrSize).  Since Go 1.17 a
deferred call with arguments is wrapped in a closure that captured them
(``main.f.func1``, Go 1.22+ ``main.f.deferwrap1``): for ``defer mu.Unlock()``
its first captured word is the mutex's address, and its code is
``sync.(*Mutex).Unlock`` (inlined, or called).

A defer the compiler does not open-code (in a loop, beyond 8, or in a build
with optimizations off, ``-gcflags=-N``) is a ``_defer`` record on the
goroutine's ``g._defer`` list, its closure in ``fn``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from goext_core.binary.codescan import call_targets
from goext_core.binary.leb128 import TruncatedLeb128Error, read_uleb128
from goext_core.binary.pclntab import FUNCDATA_OPEN_CODED_DEFER_INFO
from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.unwind import Frame

if TYPE_CHECKING:
    from goext_core.program import GoProgram

MUTEX_UNLOCK = "sync.(*Mutex).Unlock"
_MAX_OPEN_DEFERS = 8  # the compiler open-codes at most 8 defers per function (deferBits is a byte)
_MAX_WRAPPER_BYTES = 1024  # a defer wrapper that unlocks is a few dozen instructions
_MAX_DEFER_RECORDS = 1024  # bound on a g._defer list walk
# runtime._defer (src/runtime/runtime2.go), 64-bit: Go 1.19-1.21 {started, heap, openDefer bool;
# sp, pc uintptr; fn func(); _panic *_panic; link *_defer; ...}, Go 1.22+ {heap, rangefunc bool;
# sp, pc uintptr; fn func(); link *_defer; head}.
_DEFER_PC, _DEFER_FN = 16, 24
_DEFER_LINK_BEFORE_122, _DEFER_LINK = 40, 32

# Per function entry: (deferBitsOffset, closure offsets below varp by defer index), or None.
DeferLayout = Optional[tuple[int, tuple[int, ...]]]


def _defer_layout(program: "GoProgram", pc: int) -> DeferLayout:
    cache: dict[int, DeferLayout] = program.binary_memo("open_coded_defers", dict)
    func = program.func_for_pc(pc)
    if func is None:
        return None
    if func.entry in cache:
        return cache[func.entry]
    layout: DeferLayout = None
    try:
        info = func.funcdata_address(FUNCDATA_OPEN_CODED_DEFER_INFO)
        if info is not None:
            data = program.binary.read_static(info, 48)
            bits_offset, position = read_uleb128(data, 0)
            if (program.go_minor or 0) >= 22:
                slots_offset, _ = read_uleb128(data, position)
                offsets = tuple(slots_offset - i * program.target.ptr_size for i in range(_MAX_OPEN_DEFERS))
            else:
                count, position = read_uleb128(data, position)
                if count > _MAX_OPEN_DEFERS:
                    raise GoextError(f"{count} open-coded defers")
                backwards = []
                for _ in range(count):
                    offset, position = read_uleb128(data, position)
                    backwards.append(offset)
                offsets = tuple(reversed(backwards))  # listed from the last defer to the first
            layout = (bits_offset, offsets)
    except (GoextError, MemoryReadError, TruncatedLeb128Error, ValueError):
        layout = None
    cache[func.entry] = layout
    return layout


def _unlocks_a_mutex(program: "GoProgram", pc: int) -> bool:
    """Whether the function at run-time ``pc`` (a defer wrapper) is a call of sync.(*Mutex).Unlock:
    Unlock inlined at its outermost level, or called directly."""
    cache: dict[int, bool] = program.binary_memo("defer_wrapper_unlocks", dict)
    func = program.func_for_pc(pc)
    if func is None:
        return False
    if func.entry not in cache:
        found = False
        try:
            size = min(func.end - func.entry, _MAX_WRAPPER_BYTES)
            for link_pc in range(func.entry, func.entry + size):
                frames = program.pclntab.source_frames(link_pc)
                if len(frames) >= 2 and frames[-2].raw_name == MUTEX_UNLOCK:
                    found = True
                    break
            if not found:
                unlock = program.pclntab.func_by_name(MUTEX_UNLOCK)
                if unlock is not None:
                    code = program.binary.read_static(func.entry, size)
                    found = unlock.entry in call_targets(program.binary.arch, code, func.entry)
        except (GoextError, MemoryReadError, ValueError):
            found = False
        cache[func.entry] = found
    return cache[func.entry]


def pending_mutex_unlocks(program: "GoProgram", frame: Frame, delta: int = 0) -> list[int]:
    """Addresses of the sync.Mutexes whose deferred Unlock ``frame`` (a physical frame
    on a goroutine's stack, moved by ``delta`` bytes) has pending: mutexes it holds."""
    if frame.inlined or frame.trap:
        return []
    layout = _defer_layout(program, frame.pc)
    if layout is None:
        return []
    bits_offset, offsets = layout
    ptr = program.target.ptr_size
    # src/runtime/traceback.go: varp is fp less the return address (amd64) and the saved frame pointer.
    varp = frame.fp + delta - (0 if program.binary.arch == "arm64" else ptr)
    if varp > frame.sp + delta:
        varp -= ptr
    found: list[int] = []
    try:
        bits = program.target.read(varp - bits_offset, 1)[0]
        for index, offset in enumerate(offsets):
            if not bits & (1 << index):
                continue
            mutex = _closure_unlocks(program, program.target.read_u64(varp - offset)) if ptr == 8 else None
            if mutex is not None:
                found.append(mutex)
    except (MemoryReadError, IndexError):
        return found
    return found


def _closure_unlocks(program: "GoProgram", closure: int) -> Optional[int]:
    """The mutex a deferred closure unlocks (its first captured word), or None."""
    if not closure:
        return None
    if not _unlocks_a_mutex(program, program.target.read_u64(closure)):
        return None
    return program.target.read_u64(closure + program.target.ptr_size)


def deferred_record_unlocks(program: "GoProgram", record: GoroutineRecord) -> list[tuple[int, str]]:
    """(mutex address, deferring function) of the sync.Mutex Unlocks on the goroutine's
    ``_defer`` list (defers the compiler did not open-code)."""
    layout = program.layouts.structs.get("runtime.g")
    if layout is None or not layout.has("_defer") or program.target.ptr_size != 8:
        return []
    link_offset = _DEFER_LINK if (program.go_minor or 0) >= 22 else _DEFER_LINK_BEFORE_122
    found: list[tuple[int, str]] = []
    try:
        record_address = program.target.read_u64(record.address + layout.offset("_defer"))
        for _ in range(_MAX_DEFER_RECORDS):
            if not record_address:
                break
            mutex = _closure_unlocks(program, program.target.read_u64(record_address + _DEFER_FN))
            if mutex is not None:
                func = program.func_for_pc(program.target.read_u64(record_address + _DEFER_PC))
                found.append((mutex, func.name if func is not None else "?"))
            record_address = program.target.read_u64(record_address + link_offset)
    except (MemoryReadError, GoextError):
        return found
    return found
