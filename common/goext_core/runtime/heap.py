"""The Go heap as the runtime sees it: its spans and the objects allocated in them.

The walk follows the runtime's own index (src/runtime/mheap.go): ``mheap_.allArenas``
lists every heap arena's index; ``mheap_.arenas[l1][l2]`` is that arena's
``heapArena``, whose ``pageInUse`` bitmap marks the first page of every span in
state mSpanInUse and whose ``spans`` array maps each page to its ``mspan``.  One
read per arena for each of those two arrays, one read per span for the mspan and
one for its allocation bits: a 1 GB heap is a few thousand reads.

An object slot ``i`` of a span is allocated when ``i < freeindex`` (handed out since
the span was last swept) or its bit in ``allocBits`` is set (allocated at the last
sweep): ``mspan.isFree``, src/runtime/mbitmap.go.  Objects that died in the last GC
cycle but whose span is not swept yet still count, exactly as the runtime's own
object counts do until the sweeper frees them.

Types come only from where the runtime records them (Go 1.22+, src/runtime/mbitmap.go):
the allocation header, the first word of a small object with pointers larger than
512 bytes, and ``mspan.largeType`` for a large object with pointers.  Everything else
is reported by size class, untyped; nothing is guessed here (values/heaptypes.py
types more objects by following typed pointers from typed roots).

Every loop is bounded; a span that fails its checks is reported and skipped.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from goext_core.errors import CorruptDataError, GoextError, MemoryReadError, UnsupportedError
from goext_core.progress import check_interrupt
from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.layouts import RUNTIME_FIELDS

if TYPE_CHECKING:
    from goext_core.program import GoProgram

PAGE_SIZE = 8192  # _PageSize = 1 << _PageShift (13), src/runtime/malloc.go
PAGES_PER_ARENA = 8192  # heapArenaBytes / pageSize, src/runtime/malloc.go (64-bit Linux)
ARENA_BYTES = 1 << 26  # heapArenaBytes: logHeapArenaBytes = 26 on 64-bit Linux, src/runtime/malloc.go
ARENA_L2_BITS = 22  # heapAddrBits (48) - logHeapArenaBytes (26) - arenaL1Bits (0 off Windows), malloc.go
# arenaBaseOffset, src/runtime/malloc.go: the amd64 heap index starts at the bottom of the
# negative half of the address space; arm64's at zero.
ARENA_BASE_OFFSET = {"amd64": 0xFFFF800000000000, "arm64": 0}
SPAN_IN_USE = 1  # mSpanInUse, src/runtime/mheap.go
NUM_SIZE_CLASSES = 68  # _NumSizeClasses, src/runtime/sizeclasses.go (Go 1.19-1.27)
NUM_SPAN_CLASSES = NUM_SIZE_CLASSES * 2  # numSpanClasses: sizeclass<<1 | noscan, src/runtime/mheap.go
MAX_SMALL_SIZE = 32768  # _MaxSmallSize, src/runtime/sizeclasses.go
MIN_SIZE_FOR_MALLOC_HEADER = 512  # goarch.PtrSize * ptrBits, src/runtime/mbitmap.go (Go 1.22+)
MALLOC_HEADER_SIZE = 8  # mallocHeaderSize, src/runtime/malloc.go (Go 1.22+)
ALLOCATION_HEADERS_SINCE = 22  # the allocation-header heap layout replaced the heap bitmap in Go 1.22
# class_to_allocnpages (src/runtime/sizeclasses.go) is at most 10 pages in Go 1.19-1.27.
_MAX_SMALL_SPAN_PAGES = 64
_MAX_ARENAS = 1 << 16  # 4 TiB of heap
_MAX_SPAN_PAGES = 1 << 24  # 128 GiB in one object
_MAX_PROBLEMS = 1000  # problems kept in full; later ones are only counted
_MAX_PROCS = 4096  # as runtime/sched.py
_ARENAS_CHECKED = 16  # arenas searched for an in-use span when checking a candidate mheap_
_INTERRUPT_EVERY = 1024  # spans between Ctrl-C checks

# The mspan fields the walk reads are the ones the layout tables carry.
_MSPAN_FIELDS = RUNTIME_FIELDS["runtime.mspan"]


@dataclass(frozen=True)
class Span:
    """One in-use heap span (the fields goext reads of an mspan)."""

    address: int  # of the mspan
    base: int  # startAddr
    npages: int
    spanclass: int
    elemsize: int
    nelems: int
    freeindex: int
    alloc_count: int
    alloc_count_before_cache: int
    sweepgen: int
    large_type: int
    alloc_bits: int  # address of the allocation bits

    @property
    def sizeclass(self) -> int:
        return self.spanclass >> 1

    @property
    def noscan(self) -> bool:
        return bool(self.spanclass & 1)

    @property
    def size(self) -> int:
        return self.npages * PAGE_SIZE

    def has_headers(self, go_minor: int) -> bool:
        """Whether each object begins with an allocation header (src/runtime/mbitmap.go heapBitsInSpan)."""
        return (
            go_minor >= ALLOCATION_HEADERS_SINCE
            and not self.noscan
            and self.sizeclass != 0
            and self.elemsize > MIN_SIZE_FOR_MALLOC_HEADER
        )


def count_allocated(alloc_bits: bytes, freeindex: int, nelems: int) -> int:
    """Allocated slots of a span: every slot below ``freeindex``, then the set bits
    of ``alloc_bits`` (slot i is bit i%8 of byte i/8, src/runtime/mheap.go gcBits.bitp)."""
    if not 0 <= freeindex <= nelems or len(alloc_bits) * 8 < nelems:
        raise CorruptDataError(f"freeindex {freeindex}, nelems {nelems}, {len(alloc_bits)} bytes of bits")
    remaining = nelems - freeindex
    if remaining == 0:
        return freeindex
    bits = (int.from_bytes(alloc_bits, "little") >> freeindex) & ((1 << remaining) - 1)
    return freeindex + bin(bits).count("1")


# The set bits of each byte value, lowest first.
_BYTE_BITS = [tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256)]


def set_bit_indexes(data: bytes, start: int = 0, stop: Optional[int] = None) -> Iterator[int]:
    """Indexes ``i`` in [start, stop) whose bit is set in the bitmap ``data`` (bit i%8 of
    byte i/8, the runtime's gcBits and pageInUse order), lowest first; linear in the
    bitmap's length, byte by byte."""
    stop = len(data) * 8 if stop is None else min(stop, len(data) * 8)
    for position in range(max(start, 0) // 8, (stop + 7) // 8):
        value = data[position]
        if value:
            base = position * 8
            for bit in _BYTE_BITS[value]:
                index = base + bit
                if start <= index < stop:
                    yield index


def allocated_slots(alloc_bits: bytes, freeindex: int, nelems: int) -> Iterator[int]:
    """The indexes of the allocated slots, in order (see :func:`count_allocated`)."""
    if not 0 <= freeindex <= nelems or len(alloc_bits) * 8 < nelems:
        raise CorruptDataError(f"freeindex {freeindex}, nelems {nelems}, {len(alloc_bits)} bytes of bits")
    yield from range(freeindex)
    yield from set_bit_indexes(alloc_bits, freeindex, nelems)


def page_starts(page_in_use: bytes, limit: int = PAGES_PER_ARENA) -> Iterator[int]:
    """Page numbers whose bit is set in a heapArena.pageInUse bitmap (bit i%8 of byte i/8)."""
    return set_bit_indexes(page_in_use, 0, limit)


@dataclass
class HeapGeometry:
    """Where the heap's index lives in this process."""

    mheap: int
    arenas_l2: int  # mheap_.arenas[0]: *[1 << 22]*heapArena
    arena_indexes: list[int]  # mheap_.allArenas
    arena_base_offset: int
    sweepgen: int
    pages_in_use: Optional[int]

    def arena_base(self, index: int) -> int:
        return (index * ARENA_BYTES + self.arena_base_offset) & ((1 << 64) - 1)


def _struct(program: "GoProgram", name: str, needed: tuple[str, ...]) -> StructLayout:
    layout = program.layouts.structs.get(name)
    if layout is None or not all(layout.has(path) for path in needed):
        missing = [path for path in needed if layout is None or not layout.has(path)]
        raise UnsupportedError(f"no layout for {name} ({', '.join(missing)}; {program.layouts.source})")
    return layout


def _unsigned(buf: bytes, layout: StructLayout, path: str) -> int:
    offset, size = layout.fields[path]
    return int.from_bytes(buf[offset : offset + (size or 8)], "little")


def _read_fields(program: "GoProgram", address: int, layout: StructLayout, paths: tuple[str, ...]) -> dict[str, int]:
    """The named integer fields of the struct at ``address``, with one read spanning them."""
    present = [path for path in paths if layout.has(path)]
    start = min(layout.fields[path][0] for path in present)
    end = max(layout.fields[path][0] + (layout.fields[path][1] or 8) for path in present)
    buf = program.target.read(address + start, end - start)
    out = {}
    for path in present:
        offset, size = layout.fields[path]
        out[path] = int.from_bytes(buf[offset - start : offset - start + (size or 8)], "little")
    return out


def check_supported(program: "GoProgram") -> None:
    """Raise UnsupportedError unless goext knows this heap's geometry."""
    if program.target.ptr_size != 8 or program.target.byte_order != "little":
        raise UnsupportedError("go heap reads 64-bit little-endian heaps only")
    if program.binary.arch not in ARENA_BASE_OFFSET:
        raise UnsupportedError(f"go heap knows the heap layout of amd64 and arm64, not {program.binary.arch}")
    if program.go_minor is None:
        raise UnsupportedError("cannot tell this binary's Go version")


def geometry_at(program: "GoProgram", mheap: int) -> HeapGeometry:
    """The heap index of the ``runtime.mheap`` at ``mheap``; CorruptDataError when it is not one."""
    # mheap_.allArenas, renamed heapArenas in Go 1.25 (src/runtime/mheap.go).
    layout = program.layouts.structs.get("runtime.mheap")
    arenas_list = "heapArenas" if layout is not None and layout.has("heapArenas.array") else "allArenas"
    layout = _struct(program, "runtime.mheap", ("arenas", f"{arenas_list}.array", f"{arenas_list}.len", "sweepgen"))
    if layout.field_size("arenas") not in (0, program.target.ptr_size):
        # arenaL1Bits is 0 except on 64-bit Windows (src/runtime/malloc.go).
        raise UnsupportedError("this heap has a two-level arena index (arenaL1Bits != 0)")
    values = _read_fields(
        program, mheap, layout, ("arenas", f"{arenas_list}.array", f"{arenas_list}.len", "sweepgen", "pagesInUse")
    )
    count, array = values[f"{arenas_list}.len"], values[f"{arenas_list}.array"]
    if not 0 < count <= _MAX_ARENAS or values["arenas"] == 0 or array == 0:
        raise CorruptDataError(f"mheap_ at {mheap:#x}: {count} arenas, index {values['arenas']:#x}")
    if values["sweepgen"] % 2:  # advanced by 2 per cycle from 0 (src/runtime/mgc.go gcSweep)
        raise CorruptDataError(f"mheap_ at {mheap:#x}: odd sweepgen {values['sweepgen']}")
    raw = program.target.read(array, count * 8)
    indexes = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
    if any(index >= 1 << ARENA_L2_BITS for index in indexes):
        raise CorruptDataError(f"mheap_ at {mheap:#x}: arena index out of range")
    return HeapGeometry(
        mheap,
        values["arenas"],
        indexes,
        ARENA_BASE_OFFSET[program.binary.arch],
        values["sweepgen"],
        values.get("pagesInUse"),
    )


def plausible_mheap(program: "GoProgram", mheap: int) -> bool:
    """Whether ``mheap`` holds a heap index whose first arena's first in-use page
    maps to an in-use span starting there (the shape check for stripped binaries)."""
    try:
        geometry = geometry_at(program, mheap)
        problems: list[str] = []
        first = next(iter_spans(program, geometry, problems, arenas=_ARENAS_CHECKED), None)
    except (GoextError, KeyError):
        return False
    return first is not None and not problems


def heap_geometry(program: "GoProgram") -> HeapGeometry:
    check_supported(program)
    mheap = program.runtime_symbol("runtime.mheap_")
    if mheap is None:
        raise UnsupportedError("runtime.mheap_ not found (no symbol, and no single place in the data fits its shape)")
    return geometry_at(program, mheap)


def read_span(program: "GoProgram", address: int, layout: StructLayout) -> Span:
    """The mspan at ``address``; CorruptDataError when it is not a sane in-use heap span."""
    values = _read_fields(program, address, layout, _MSPAN_FIELDS)
    if values["state"] != SPAN_IN_USE:
        raise CorruptDataError(f"span {address:#x}: state {values['state']}, not in use")
    span = Span(
        address=address,
        base=values["startAddr"],
        npages=values["npages"],
        spanclass=values["spanclass"],
        elemsize=values["elemsize"],
        nelems=values["nelems"],
        freeindex=values["freeindex"],
        alloc_count=values["allocCount"],
        alloc_count_before_cache=values.get("allocCountBeforeCache", 0),
        sweepgen=values["sweepgen"],
        large_type=values.get("largeType", 0),
        alloc_bits=values["allocBits"],
    )
    problem = span_problem(span)
    if problem:
        raise CorruptDataError(f"span {address:#x} at {span.base:#x}: {problem}")
    return span


def span_problem(span: Span) -> str:
    """Why ``span`` cannot be an in-use heap span, or ""."""
    if span.base % PAGE_SIZE or not 0 < span.npages <= _MAX_SPAN_PAGES:
        return f"base {span.base:#x}, {span.npages} pages"
    if span.spanclass >= NUM_SPAN_CLASSES:
        return f"span class {span.spanclass}"
    if span.sizeclass == 0:
        if span.nelems != 1 or span.elemsize != span.size:
            return f"large span with {span.nelems} objects of {span.elemsize} bytes in {span.size}"
    elif (
        not 0 < span.elemsize <= MAX_SMALL_SIZE
        or span.npages > _MAX_SMALL_SPAN_PAGES
        or not 0 < span.nelems * span.elemsize <= span.size
    ):
        return f"{span.nelems} objects of {span.elemsize} bytes in {span.size}"
    if span.freeindex > span.nelems or span.alloc_count > span.nelems or not span.alloc_bits:
        return f"freeindex {span.freeindex}, allocCount {span.alloc_count}, nelems {span.nelems}"
    return ""


def note_problem(problems: list[str], text: str) -> None:
    """Keep the first _MAX_PROBLEMS problems; after that only say that there are more."""
    if len(problems) < _MAX_PROBLEMS:
        problems.append(text)
    elif len(problems) == _MAX_PROBLEMS:
        problems.append("... further problems not listed")


def iter_spans(
    program: "GoProgram", geometry: HeapGeometry, problems: list[str], arenas: int = _MAX_ARENAS
) -> Iterator[Span]:
    """Every in-use heap span of the first ``arenas`` arenas, arena by arena; a span
    that fails its checks is described in ``problems`` and skipped."""
    arena_layout = _struct(program, "runtime.heapArena", ("spans", "pageInUse"))
    span_layout = _struct(program, "runtime.mspan", ("startAddr", "npages", "spanclass", "state", "elemsize"))
    spans_offset, page_bits_offset = arena_layout.offset("spans"), arena_layout.offset("pageInUse")
    for arena_index in geometry.arena_indexes[:arenas]:
        check_interrupt("walking the heap")
        base = geometry.arena_base(arena_index)
        try:
            arena = program.target.read_ptr(geometry.arenas_l2 + arena_index * 8)
            if not arena:
                note_problem(problems, f"arena {base:#x}: no heapArena")
                continue
            page_bits = program.target.read(arena + page_bits_offset, PAGES_PER_ARENA // 8)
            span_table = program.target.read(arena + spans_offset, PAGES_PER_ARENA * 8)
        except MemoryReadError as exc:
            note_problem(problems, f"arena {base:#x}: {exc}")
            continue
        for page in page_starts(page_bits):
            address = int.from_bytes(span_table[page * 8 : page * 8 + 8], "little")
            page_address = base + page * PAGE_SIZE
            try:
                span = read_span(program, address, span_layout)
            except GoextError as exc:
                note_problem(problems, f"page {page_address:#x}: {exc}")
                continue
            if span.base != page_address:
                note_problem(problems, f"page {page_address:#x}: its span {address:#x} starts at {span.base:#x}")
                continue
            yield span


def read_alloc_bits(program: "GoProgram", span: Span) -> bytes:
    return program.target.read(span.alloc_bits, (span.nelems + 7) // 8)


def span_allocated(program: "GoProgram", span: Span) -> int:
    return count_allocated(read_alloc_bits(program, span), span.freeindex, span.nelems)


# -- what a slot holds ------------------------------------------------------------------

UNTYPED = 0  # type key of objects whose type the runtime did not record
NOT_YET_TYPED = -1  # an allocation header or largeType still nil (allocation in progress)


@dataclass
class Tally:
    objects: int = 0
    bytes: int = 0

    def add(self, objects: int, size: int) -> None:
        self.objects += objects
        self.bytes += objects * size


@dataclass
class HeapCensus:
    """Live objects counted by span class and by recorded type, plus what the
    reconciliation needs."""

    go_minor: int
    spans: int = 0
    span_bytes: int = 0  # pages of in-use heap spans: the runtime's heapInUse
    objects: Tally = field(default_factory=Tally)
    by_span_class: dict[int, Tally] = field(default_factory=dict)
    span_count_by_class: dict[int, int] = field(default_factory=dict)
    elemsize_by_class: dict[int, int] = field(default_factory=dict)  # sizeclass -> object size seen
    # (type address, or UNTYPED / NOT_YET_TYPED; span class; object size)
    by_type: dict[tuple[int, int, int], Tally] = field(default_factory=dict)
    alloc_count_mismatches: int = 0  # spans whose allocCount disagrees with their bits
    problems: list[str] = field(default_factory=list)


def census(program: "GoProgram", types: bool = True) -> HeapCensus:
    """Count every allocated object of the heap (one pass over the spans)."""
    geometry = heap_geometry(program)
    minor = program.go_minor or 0
    result = HeapCensus(minor)
    for span in iter_spans(program, geometry, result.problems):
        if result.spans % _INTERRUPT_EVERY == 0:
            check_interrupt("counting heap objects")
        try:
            bits = read_alloc_bits(program, span)
            allocated = count_allocated(bits, span.freeindex, span.nelems)
        except GoextError as exc:
            note_problem(result.problems, f"span {span.address:#x} at {span.base:#x}: allocation bits: {exc}")
            continue
        result.spans += 1
        result.span_bytes += span.size
        result.span_count_by_class[span.spanclass] = result.span_count_by_class.get(span.spanclass, 0) + 1
        if span.sizeclass:
            result.elemsize_by_class.setdefault(span.sizeclass, span.elemsize)
        if allocated != span.alloc_count:
            result.alloc_count_mismatches += 1
        if not allocated:
            continue
        result.objects.add(allocated, span.elemsize)
        result.by_span_class.setdefault(span.spanclass, Tally()).add(allocated, span.elemsize)
        if not types:
            continue
        for type_key, count in span_types(program, span, bits).items():
            result.by_type.setdefault((type_key, span.spanclass, span.elemsize), Tally()).add(count, span.elemsize)
    return result


def span_types(program: "GoProgram", span: Span, bits: Optional[bytes] = None) -> dict[int, int]:
    """{type descriptor address (or UNTYPED / NOT_YET_TYPED): allocated objects} of one span."""
    minor = program.go_minor or 0
    if bits is None:
        bits = read_alloc_bits(program, span)
    if span.sizeclass == 0 and minor >= ALLOCATION_HEADERS_SINCE and not span.noscan:
        allocated = count_allocated(bits, span.freeindex, span.nelems)
        return {span.large_type or NOT_YET_TYPED: allocated} if allocated else {}
    if not span.has_headers(minor):
        allocated = count_allocated(bits, span.freeindex, span.nelems)
        return {UNTYPED: allocated} if allocated else {}
    memory = program.target.read(span.base, span.nelems * span.elemsize)
    out: dict[int, int] = {}
    for slot in allocated_slots(bits, span.freeindex, span.nelems):
        at = slot * span.elemsize
        header = int.from_bytes(memory[at : at + 8], "little") or NOT_YET_TYPED
        out[header] = out.get(header, 0) + 1
    return out


def objects(program: "GoProgram", wanted: Callable[[int, Span], bool], limit: int) -> Iterator[tuple[int, Span]]:
    """(address of the Go value, its span) of allocated objects whose recorded type
    address satisfies ``wanted(type_address, span)``, at most ``limit`` of them.  The
    Go value of an object with an allocation header starts after the header."""
    geometry = heap_geometry(program)
    minor = program.go_minor or 0
    problems: list[str] = []
    found = 0
    for span in iter_spans(program, geometry, problems):
        if found >= limit:
            return
        if minor < ALLOCATION_HEADERS_SINCE or span.noscan:
            continue
        if span.sizeclass == 0:
            if span.large_type and wanted(span.large_type, span) and span_allocated(program, span):
                found += 1
                yield span.base, span
            continue
        if not span.has_headers(minor):
            continue
        try:
            bits = read_alloc_bits(program, span)
            memory = program.target.read(span.base, span.nelems * span.elemsize)
        except GoextError:
            continue
        for slot in allocated_slots(bits, span.freeindex, span.nelems):
            at = slot * span.elemsize
            header = int.from_bytes(memory[at : at + 8], "little")
            if header and wanted(header, span):
                found += 1
                yield span.base + at + MALLOC_HEADER_SIZE, span
                if found >= limit:
                    return


# -- every object, sorted ----------------------------------------------------------------


class HeapObjects:
    """Every allocated heap object, in address order, in compact arrays (no Python
    object per heap object: 20 million objects take ~20 bytes each).

    Object ``i`` is the slot at ``addresses[i]`` of ``sizes[i]`` bytes (the span's
    element size; a large object is its whole span) in ``spans[span_of[i]]``.  With
    an allocation header (Go 1.22+, objects over 512 bytes with pointers) the Go
    value starts MALLOC_HEADER_SIZE bytes into the slot.
    """

    def __init__(self) -> None:
        self.addresses = array("Q")
        self.sizes = array("Q")
        self.span_of = array("I")
        self.spans: list[Span] = []
        self.problems: list[str] = []

    def __len__(self) -> int:
        return len(self.addresses)

    def find(self, address: int) -> int:
        """Index of the object whose slot contains ``address``; -1 when none does."""
        index = bisect.bisect_right(self.addresses, address) - 1
        if index >= 0 and address < self.addresses[index] + self.sizes[index]:
            return index
        return -1

    def span(self, index: int) -> Span:
        return self.spans[self.span_of[index]]

    def total_bytes(self) -> int:
        return sum(self.sizes)


def heap_objects(program: "GoProgram") -> HeapObjects:
    """Every allocated object of the heap (read once per stop of the target)."""
    return program.stop_memo("heap_objects", lambda: _collect_objects(program))


def _collect_objects(program: "GoProgram") -> HeapObjects:
    result = HeapObjects()
    spans = sorted(iter_spans(program, heap_geometry(program), result.problems), key=lambda span: span.base)
    for number, span in enumerate(spans):
        if number % _INTERRUPT_EVERY == 0:
            check_interrupt("indexing heap objects")
        try:
            bits = read_alloc_bits(program, span)
            slots = list(allocated_slots(bits, span.freeindex, span.nelems))
        except GoextError as exc:
            note_problem(result.problems, f"span {span.address:#x} at {span.base:#x}: allocation bits: {exc}")
            continue
        span_index = len(result.spans)
        result.spans.append(span)
        size = span.size if span.sizeclass == 0 else span.elemsize
        for slot in slots:
            result.addresses.append(span.base + slot * span.elemsize)
            result.sizes.append(size)
            result.span_of.append(span_index)
    return result


# -- the runtime's own figures ----------------------------------------------------------


@dataclass
class RuntimeFigures:
    """What the runtime itself recorded about the heap (None: not readable)."""

    heap_in_use: Optional[int] = None  # gcController.heapInUse: bytes of in-use heap spans
    heap_live: Optional[int] = None  # gcController.heapLive
    objects: Optional[int] = None  # memstats.heapStats: allocated - freed (ReadMemStats' HeapObjects)
    bytes: Optional[int] = None  # ... and their bytes (HeapAlloc); None if a class size is unknown
    objects_by_sizeclass: dict[int, int] = field(default_factory=dict)  # 0 = large
    tiny_allocs: Optional[int] = None
    cached_unflushed: dict[int, int] = field(default_factory=dict)  # sizeclass -> objects
    cached_spans: int = 0
    reusable: int = 0  # freed objects on the Ps' reusable lists (GOEXPERIMENT=runtimefreegc, Go 1.26+)
    notes: list[str] = field(default_factory=list)


def _heap_stats(program: "GoProgram", figures: RuntimeFigures, class_sizes: dict[int, int]) -> None:
    memstats = program.runtime_symbol("runtime.memstats")
    mstats = program.layouts.structs.get("runtime.mstats")
    delta = program.layouts.structs.get("runtime.heapStatsDelta")
    needed = ("largeAlloc", "largeAllocCount", "smallAllocCount", "largeFree", "largeFreeCount", "smallFreeCount")
    if memstats is None or mstats is None or delta is None or not mstats.has("heapStats.stats"):
        figures.notes.append("memstats.heapStats: not found")
        return
    if not all(delta.has(name) for name in needed) or not delta.size:
        figures.notes.append("memstats.heapStats: no layout")
        return
    offset, size = mstats.fields["heapStats.stats"]
    generations = size // delta.size
    if generations != 3:  # consistentHeapStats.stats [3]heapStatsDelta, src/runtime/mstats.go
        figures.notes.append(f"memstats.heapStats: {generations} generations, expected 3")
        return
    data = program.target.read(memstats + offset, size)
    classes = delta.field_size("smallAllocCount") // 8
    small = [0] * classes
    large = large_bytes = tiny = 0
    for generation in range(generations):
        buf = data[generation * delta.size : (generation + 1) * delta.size]
        large += _unsigned(buf, delta, "largeAllocCount") - _unsigned(buf, delta, "largeFreeCount")
        large_bytes += _unsigned(buf, delta, "largeAlloc") - _unsigned(buf, delta, "largeFree")
        if delta.has("tinyAllocCount"):
            tiny += _unsigned(buf, delta, "tinyAllocCount")
        alloc_at, free_at = delta.offset("smallAllocCount"), delta.offset("smallFreeCount")
        for sizeclass in range(classes):
            allocs = int.from_bytes(buf[alloc_at + 8 * sizeclass : alloc_at + 8 * sizeclass + 8], "little")
            frees = int.from_bytes(buf[free_at + 8 * sizeclass : free_at + 8 * sizeclass + 8], "little")
            small[sizeclass] += allocs - frees
    figures.objects_by_sizeclass = {0: large, **{c: n for c, n in enumerate(small) if c and n}}
    figures.objects = large + sum(small)
    figures.tiny_allocs = tiny
    unknown = [c for c, n in enumerate(small) if c and n and c not in class_sizes]
    figures.bytes = None if unknown else large_bytes + sum(n * class_sizes[c] for c, n in enumerate(small) if c and n)


def _cached_spans(program: "GoProgram", figures: RuntimeFigures) -> None:
    """Objects allocated from spans the Ps' mcaches hold: counted in the runtime's
    statistics only when the span leaves the cache (src/runtime/mcache.go refill,
    releaseAll: smallAllocCount += allocCount - allocCountBeforeCache)."""
    allp = program.runtime_symbol("runtime.allp")
    p_layout = program.layouts.structs.get("runtime.p")
    mcache_layout = program.layouts.structs.get("runtime.mcache")
    span_layout = program.layouts.structs.get("runtime.mspan")
    if allp is None or p_layout is None or mcache_layout is None or span_layout is None:
        figures.notes.append("per-P span caches: runtime.allp or a layout is missing")
        return
    if not p_layout.has("mcache") or not mcache_layout.has("alloc"):
        figures.notes.append("per-P span caches: no layout")
        return
    pointer, length = program.target.read_ptr(allp), program.target.read_ptr(allp + 8)
    if not 0 < length <= _MAX_PROCS:
        figures.notes.append(f"per-P span caches: allp has {length} entries")
        return
    raw = program.target.read(pointer, length * 8)
    for index in range(length):
        p = int.from_bytes(raw[index * 8 : index * 8 + 8], "little")
        if not p:
            continue
        mcache = program.target.read_ptr(p + p_layout.offset("mcache"))
        if not mcache:
            continue
        table = program.target.read(mcache + mcache_layout.offset("alloc"), NUM_SPAN_CLASSES * 8)
        if mcache_layout.has("reusableNoscan"):
            figures.reusable += _reusable_objects(program, mcache + mcache_layout.offset("reusableNoscan"))
        for spanclass in range(NUM_SPAN_CLASSES):
            address = int.from_bytes(table[spanclass * 8 : spanclass * 8 + 8], "little")
            if not address:
                continue
            try:
                span = read_span(program, address, span_layout)
            except GoextError:
                continue  # emptymspan (not in use) or unreadable
            if span.spanclass != spanclass:
                continue
            figures.cached_spans += 1
            unflushed = span.alloc_count - span.alloc_count_before_cache
            if unflushed:
                figures.cached_unflushed[span.sizeclass] = figures.cached_unflushed.get(span.sizeclass, 0) + unflushed


_MAX_REUSABLE = 1 << 16  # per list: more than a span's objects


def _reusable_objects(program: "GoProgram", lists: int) -> int:
    """Objects on one mcache's reusableNoscan lists (src/runtime/mcache.go): freed
    explicitly, still allocated in their span's bits.  Each list is bounded and
    stops at a cycle."""
    heads = program.target.read(lists, NUM_SPAN_CLASSES * 8)
    total = 0
    for spanclass in range(NUM_SPAN_CLASSES):
        node = int.from_bytes(heads[spanclass * 8 : spanclass * 8 + 8], "little")
        seen: set[int] = set()
        while node and node not in seen and len(seen) < _MAX_REUSABLE:
            seen.add(node)
            node = program.target.read_ptr(node)  # gclink.next is the object's first word
        total += len(seen)
    return total


def runtime_figures(program: "GoProgram", class_sizes: dict[int, int]) -> RuntimeFigures:
    """The runtime's own heap figures; ``class_sizes`` (sizeclass -> bytes, from the
    spans seen) turns its per-class counts into bytes."""
    figures = RuntimeFigures()
    controller = program.runtime_symbol("runtime.gcController")
    layout = program.layouts.structs.get("runtime.gcControllerState")
    if controller is not None and layout is not None:
        try:
            values = _read_fields(program, controller, layout, ("heapInUse", "heapLive"))
            figures.heap_in_use = values.get("heapInUse")
            figures.heap_live = values.get("heapLive")
        except GoextError as exc:
            figures.notes.append(f"gcController: {exc}")
    else:
        figures.notes.append("gcController: not found")
    for step in (lambda: _heap_stats(program, figures, class_sizes), lambda: _cached_spans(program, figures)):
        try:
            step()
        except GoextError as exc:
            figures.notes.append(str(exc))
    return figures


def types_region(program: "GoProgram") -> Optional[tuple[int, int]]:
    """[moduledata.types, etypes) of the first module: where the type descriptors a
    header may name live (a type the runtime built itself lies elsewhere)."""
    moduledata = program.runtime_symbol("runtime.firstmoduledata")
    layout = program.layouts.structs.get("runtime.moduledata")
    if moduledata is None or layout is None or not (layout.has("types") and layout.has("etypes")):
        return None
    try:
        values = _read_fields(program, moduledata, layout, ("types", "etypes"))
    except GoextError:
        return None
    if not 0 < values["types"] < values["etypes"]:
        return None
    return values["types"], values["etypes"]
