"""The heap's object graph and its roots: what keeps each object alive.

Edges: for every allocated object (runtime/heap.py HeapObjects), the objects its
pointer words point into.  Which words hold pointers is the garbage collector's own
metadata, read per span from one bulk read of the span's memory:

* noscan spans (spanclass & 1) hold no pointers (src/runtime/mheap.go spanClass);
* Go 1.22+ (src/runtime/mbitmap.go; mbitmap_allocheaders.go in 1.22-1.23): objects of
  at most 512 bytes have one bit per word at the end of their span (heapBits; before
  the Green Tea GC's inline mark bits, Go 1.25+ with the experiment, default in 1.26);
  larger ones in small spans begin with an allocation header, the ``*_type`` whose
  GCData mask (PtrBytes long) tiles the slot every Size_ bytes; a large object's type
  is ``mspan.largeType``.  Go 1.24+ types with TFlagGCMaskOnDemand keep the mask one
  dereference away, built on first use (src/runtime/type.go getGCMaskOnDemand);
* Go 1.20-1.21: ``heapArena.bitmap``, one bit per word of the arena, and
  ``noMorePtrs`` (src/runtime/mbitmap.go of those releases);
* Go 1.19: ``heapArena.bitmap``, two bits per word, four words per byte: the low
  nibble says pointer, the high nibble "more pointers follow" (scan/dead).

Where the layout cannot be read the object is scanned conservatively (every aligned
word that points into an allocated object is an edge), ``precise`` is False and
``notes`` says how many objects and bytes.

Roots (src/runtime/mgcmark.go markroot): the data and bss of every module, through
the GC's own pointer masks (moduledata.gcdatamask / gcbssmask, built by modulesinit,
src/runtime/symtab.go); every goroutine's stack, through the compiler's stack maps and
the stack objects they reach (runtime/stackmaps.py; conservative for a frame without
a map); the innermost frame and the registers of running goroutines (conservative);
finalizers, cleanups and weak handles (mspan.specials, src/runtime/mheap.go;
markrootSpans); queued finalizers (runtime.allfin) and cleanups (gcCleanups, Go
1.25+); each P's tiny-allocator block (gcMarkTinyAllocs).

The edges are kept as compressed sparse rows in two arrays (no Python object per
object or edge), built once per stop; the reversed edges are built on first use.
"""

from __future__ import annotations

import bisect
import os
from array import array
from dataclasses import dataclass, field
from itertools import accumulate, chain, repeat
from operator import sub
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.progress import check_interrupt
from goext_core.runtime.heap import (
    ALLOCATION_HEADERS_SINCE,
    ARENA_BYTES,
    MALLOC_HEADER_SIZE,
    MIN_SIZE_FOR_MALLOC_HEADER,
    HeapGeometry,
    HeapObjects,
    Span,
    heap_geometry,
    heap_objects,
    set_bit_indexes,
)
from goext_core.runtime.layouts import is_dead_status
from goext_core.runtime.stackmaps import frame_maps

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.runtime.dwarflayout import StructLayout
    from goext_core.runtime.goroutines import GoroutineRecord
    from goext_core.runtime.unwind import Frame

WORD = 8  # the heap walk supports 64-bit targets only (runtime/heap.py check_supported)
# internal/abi.Type (src/internal/abi/type.go; runtime._type in src/runtime/type.go before
# Go 1.21): Size_ at 0, PtrBytes at 8, TFlag at 20, Kind_ at 23, GCData at 32 on 64-bit,
# unchanged from Go 1.14 to 1.27.  Not in the runtime's DWARF compile unit.
TYPE_SIZE_OFFSET, TYPE_PTRBYTES_OFFSET, TYPE_TFLAG_OFFSET, TYPE_KIND_OFFSET, TYPE_GCDATA_OFFSET = 0, 8, 20, 23, 32
TYPE_HEADER_BYTES = 40
KIND_GC_PROG = 1 << 6  # kindGCProg, src/runtime/typekind.go (Go 1.19-1.23; gone in 1.24)
TFLAG_GC_MASK_ON_DEMAND = 1 << 4  # abi.TFlagGCMaskOnDemand, src/internal/abi/type.go (Go 1.24+)
GC_MASK_ON_DEMAND_SINCE = 24
ONE_BIT_ARENA_BITMAP_SINCE = 20  # Go 1.20 replaced the 2-bit heap bitmap (src/runtime/mbitmap.go)
WORDS_PER_ARENA = ARENA_BYTES // WORD
# spanInlineMarkBits{scans [63]uint8; owned uint8; marks [63]uint8; class spanClass},
# src/runtime/mgcmark_greenteagc.go (Go 1.25+), for spans of objects from 16 bytes.
SPAN_INLINE_MARK_BITS_BYTES = 128
GREEN_TEA_SINCE = 25
GREEN_TEA_MIN_SIZE = 16
# The _KindSpecial* constants of src/runtime/mheap.go, renumbered in Go 1.23 and 1.25.
_SPECIAL_KINDS_1_19 = ("finalizer", "profile", "reachable", "pin counter")
_SPECIAL_KINDS_1_23 = ("finalizer", "weak handle", "profile", "reachable", "pin counter", "cleanup")
_SPECIAL_KINDS_1_25 = (
    "tiny block",
    "finalizer",
    "weak handle",
    "profile",
    "reachable",
    "pin counter",
    "cleanup",
    "check finalizer",
    "bubble",
    "secret",
)


def special_kinds(minor: int) -> dict[int, str]:
    """_KindSpecial* value -> what it is, for Go 1.<minor> (numbered from 1)."""
    names = _SPECIAL_KINDS_1_25 if minor >= 25 else _SPECIAL_KINDS_1_23 if minor >= 23 else _SPECIAL_KINDS_1_19
    return {number: name for number, name in enumerate(names, 1)}


# finBlock, src/runtime/mfinal.go: {alllink, next *finBlock; cnt uint32; _ int32;
# fin [(finBlockSize - 2*ptr - 2*4) / 40]finalizer}, finBlockSize = 4 KiB: 4,064 bytes.
FINBLOCK_CNT = 16
FINBLOCK_FIRST = 24
FINALIZER_BYTES = 40
FINBLOCK_CAPACITY = (4096 - FINBLOCK_FIRST) // FINALIZER_BYTES
FINBLOCK_BYTES = FINBLOCK_FIRST + FINBLOCK_CAPACITY * FINALIZER_BYTES
# cleanupBlock, src/runtime/mcleanup.go (Go 1.25+): {lfnode (16 bytes); alllink; n uint32}
# then the queued cleanups, 512 bytes in all; cleanupQueue.all follows two cache-line-padded
# fields (CacheLinePadSize: 64 on amd64, 128 on arm64, src/internal/cpu).
CLEANUP_QUEUE_SINCE = 25
CLEANUP_BLOCK_BYTES = 512
CLEANUP_BLOCK_HEADER = 32
CLEANUP_BLOCK_ALLLINK = 16
CLEANUP_BLOCK_COUNT = 24
CACHE_LINE_PAD = {"amd64": 64, "arm64": 128}
_MAX_MODULES = 64
_MAX_PROCS = 4096  # as runtime/sched.py
_MAX_GLOBAL_BYTES = 1 << 30
_MAX_SPECIALS_PER_SPAN = 1 << 16
_MAX_STACK_BYTES = 1 << 30  # maxstacksize on 64-bit, src/runtime/proc.go
_MAX_FINBLOCKS = 1 << 16
_MAX_TYPE_PTR_BYTES = 1 << 34
_INTERRUPT_EVERY = 256


# The integer registers a running goroutine's values may be in (ABIInternal,
# src/cmd/compile/abi-internal.md): not segment bases (fs_base points at the M's
# TLS), flags, pc or the stack/frame pointers.
_VALUE_REGISTERS = {
    "amd64": frozenset(
        ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
    ),
    "arm64": frozenset(f"x{number}" for number in range(29)),
}


@dataclass(frozen=True)
class HeapRoot:
    kind: str  # "global", "stack", "finalizer", "cleanup", "runtime"
    name: str  # what a user reads: "main.cache", "goroutine 7 main.worker (main.go:42)", ...
    address: int  # the root's pointer slot in memory (0 when it is not a memory word)
    goroutine: Optional[int]  # stack roots: the goroutine id; else None
    targets: tuple[int, ...]  # indexes (into HeapObjects) of the objects it points at


@dataclass
class HeapGraph:
    objects: HeapObjects
    edge_start: array  # array("Q"), len(objects) + 1: CSR offsets
    edges: array  # array("I"): object indexes; object i points at edges[edge_start[i]:edge_start[i+1]]
    roots: list[HeapRoot]
    precise: bool  # False when some objects/roots were scanned conservatively
    notes: list[str]  # what was conservative/unreadable, for the output
    stats: dict[str, int] = field(default_factory=dict)  # counts for the output (objects scanned, ...)
    _reverse: Optional[tuple[array, array]] = field(default=None, repr=False)

    def targets(self, index: int) -> array:
        return self.edges[self.edge_start[index] : self.edge_start[index + 1]]

    def reverse(self) -> tuple[array, array]:
        """(start, sources): the objects pointing at object i are
        sources[start[i]:start[i+1]], built on first use (CSR of the reversed edges)."""
        if self._reverse is None:
            self._reverse = reverse_edges(self.edge_start, self.edges, len(self.objects))
        return self._reverse


_SORTED_REVERSE_MAX_EDGES = 1 << 22  # the sort's Python ints cost ~40 bytes per edge


def reverse_edges(edge_start: array, edges: array, count: int, lean: Optional[bool] = None) -> tuple[array, array]:
    """(start, sources): the CSR of the reversed edges, sources of each target in
    increasing order.  Up to a few million edges by a sort that runs in C; above, by a
    counting pass in Python that keeps nothing but arrays (slower, flat in memory)."""
    check_interrupt("reversing heap references")
    if lean is None:
        lean = len(edges) > _SORTED_REVERSE_MAX_EDGES
    if not lean:
        # The source of each edge position, then the positions ordered by target (stable).
        owner = array("I", chain.from_iterable(map(repeat, range(count), map(sub, edge_start[1:], edge_start[:-1]))))
        order = sorted(range(len(edges)), key=edges.__getitem__)
        sources = array("I", map(owner.__getitem__, order))
        del owner
        targets = array("I", map(edges.__getitem__, order))
        del order
        start = array("Q", map(bisect.bisect_left, repeat(targets, count + 1), range(count + 1)))
        return start, sources
    counts = array("Q", bytes(8 * (count + 1)))
    for target in edges:
        counts[target + 1] += 1
    start = array("Q", accumulate(counts))
    fill = array("Q", start)
    sources = array("I", bytes(4 * len(edges)))
    for source in range(count):
        if source % 65536 == 0:
            check_interrupt("reversing heap references")
        for position in range(edge_start[source], edge_start[source + 1]):
            target = edges[position]
            sources[fill[target]] = source
            fill[target] += 1
    return start, sources


def reachable(graph: HeapGraph, roots: Iterable[HeapRoot]) -> bytearray:
    """1 for every object reached from ``roots`` through the graph's edges."""
    seen = bytearray(len(graph.objects))
    pending = array("I")  # not a list: a wide graph would keep millions of int objects
    for root in roots:
        for target in root.targets:
            if not seen[target]:
                seen[target] = 1
                pending.append(target)
    edge_start, edges = graph.edge_start, graph.edges
    steps = 0
    while pending:
        index = pending.pop()
        steps += 1
        if steps % 65536 == 0:
            check_interrupt("following heap references")
        for position in range(edge_start[index], edge_start[index + 1]):
            target = edges[position]
            if not seen[target]:
                seen[target] = 1
                pending.append(target)
    return seen


def build_heap_graph(program: "GoProgram") -> HeapGraph:
    """The heap's objects, their references and the roots (once per stop of the target)."""
    return program.stop_memo("heap_graph", lambda: _build(program))


def _build(program: "GoProgram") -> HeapGraph:
    objects = heap_objects(program)
    scanner = ObjectScanner(program, objects)
    edge_start, edges = scanner.scan_all()
    roots = RootFinder(program, objects, scanner).find()
    notes = scanner.notes() + scanner.root_notes
    if objects.problems:
        # Objects of skipped spans are not in the index: references to and from them are unknown.
        scanner.imprecise = True
        notes.append(f"{len(objects.problems)} spans or arenas skipped as unreadable or corrupt (see 'go heap')")
    graph = HeapGraph(objects, edge_start, edges, roots, not scanner.imprecise, notes)
    graph.stats = {
        "objects": len(objects),
        "edges": len(edges),
        "roots": len(roots),
        "conservative_objects": scanner.conservative_objects,
        "conservative_bytes": scanner.conservative_bytes,
    }
    return graph


# -- pointer layouts ------------------------------------------------------------------------


def bit_positions(mask: int) -> tuple[int, ...]:
    """Indexes of the set bits of ``mask``, lowest first (linear in its length: a
    module's data mask has millions of bits)."""
    if mask.bit_length() > 512:
        return tuple(_SetBits(mask, mask.bit_length()))
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return tuple(out)


def compact_nibbles(data: bytes) -> int:
    """The low nibbles of ``data``'s bytes as one little-endian bit string (byte i's
    bits 0-3 become bits 4i..4i+3): Go 1.19's pointer bits, 4 words per bitmap byte."""
    if not data:
        return 0
    padded = data + bytes(-len(data) % 8)
    value = int.from_bytes(padded, "little") & int.from_bytes(b"\x0f" * len(padded), "little")
    value = (value | value >> 4) & int.from_bytes(b"\xff\x00" * (len(padded) // 2), "little")
    value = (value | value >> 8) & int.from_bytes(b"\xff\xff\x00\x00" * (len(padded) // 4), "little")
    value = (value | value >> 16) & int.from_bytes(b"\xff\xff\xff\xff\x00\x00\x00\x00" * (len(padded) // 8), "little")
    words = array("I", value.to_bytes(len(padded), "little"))
    return int.from_bytes(words[0::2].tobytes(), "little")


def two_bit_pointer_mask(pointer_bits: int, scan_bits: int, words: int) -> int:
    """Go 1.19 (src/runtime/mbitmap.go, scanobject in mgcmark.go): an object's pointer
    words are those with the pointer bit set before the first word whose scan bit is 0."""
    dead = ~scan_bits & ((1 << words) - 1)
    if dead:
        first_dead = (dead & -dead).bit_length() - 1
        pointer_bits &= (1 << first_dead) - 1
    return pointer_bits & ((1 << words) - 1)


def tile_type_mask(mask: int, ptr_words: int, type_size: int, first: int, limit: int) -> tuple[int, ...]:
    """Byte offsets of the pointer words of a slot holding values of a type, from byte
    ``first`` to ``limit`` every ``type_size`` bytes (an array of T filling the slot:
    the tiling of typePointers.next, src/runtime/mbitmap.go)."""
    return tuple(word * WORD for word in tiled_words(mask, ptr_words, type_size, first, limit))


_MAX_LISTED_WORDS = 4096  # above this a tiling is generated as it is read, not stored


class _Tiling:
    """Word indexes ``first + k*stride + w`` (w in ``words``) below ``limit``, generated
    on each iteration: a large array's layout without a Python int per pointer word."""

    def __init__(self, words: tuple[int, ...], stride: int, first: int, limit: int) -> None:
        self.words, self.stride, self.first, self.limit = words, stride, first, limit

    def __iter__(self) -> Iterator[int]:
        limit = self.limit
        for element in range(self.first, limit, self.stride):
            for word in self.words:
                if element + word >= limit:
                    return
                yield element + word


class _SetBits:
    """The set bits of a long mask, generated byte by byte on each iteration."""

    def __init__(self, mask: int, words: int) -> None:
        self.data = mask.to_bytes((words + 7) // 8, "little")

    def __iter__(self) -> Iterator[int]:
        return set_bit_indexes(self.data)


def tiled_words(mask: int, ptr_words: int, type_size: int, first: int, limit: int) -> Iterable[int]:
    """Word indexes (from the slot's start) of the pointer words of values of a type
    tiled from byte ``first`` to ``limit`` (see tile_type_mask): a range when every
    word is a pointer ([]*T), a tuple when short, else generated on demand."""
    words = bit_positions(mask & ((1 << ptr_words) - 1))
    if not words or type_size <= 0 or type_size % WORD:
        return ()
    stride, start, end = type_size // WORD, first // WORD, limit // WORD
    if words == tuple(range(stride)):
        return range(start, end)
    tiling = _Tiling(words, stride, start, end)
    if (end - start) // stride * len(words) <= _MAX_LISTED_WORDS:
        return tuple(tiling)
    return tiling


# (object's start in the span's memory, slot size, the memory as words) -> indexes of its
# pointer words from its first word, or None when only a conservative scan is possible.
ObjectLayout = Callable[[int, int, memoryview], Optional[Iterable[int]]]


class ObjectScanner:
    """Pointer words of every object, span by span, and the edges they make."""

    def __init__(self, program: "GoProgram", objects: HeapObjects, geometry: Optional[HeapGeometry] = None) -> None:
        self.program = program
        self.objects = objects
        self.minor = program.go_minor or 0
        self.addresses = objects.addresses
        self.sizes = objects.sizes
        self.low = objects.addresses[0] if len(objects) else 0
        self.high = objects.addresses[-1] + objects.sizes[-1] if len(objects) else 0
        self.conservative_objects = 0
        self.conservative_bytes = 0
        self.reasons: dict[str, int] = {}
        self.root_notes: list[str] = []
        self.imprecise = False
        self._type_masks: dict[tuple[int, int, int], Optional[Iterable[int]]] = {}
        self._bit_masks: dict[tuple[int, int], tuple[int, ...]] = {}
        self._type_reasons: dict[int, str] = {}  # why a type's layout is unknown
        self._span_first: Optional[array] = None
        self._arena_cache: dict[int, int] = {}
        self._geometry = geometry  # found on first need (Go 1.19-1.21 arena bitmaps)
        arena = program.layouts.structs.get("runtime.heapArena")
        self._arena_layout: Optional["StructLayout"] = arena

    # -- results ------------------------------------------------------------------------
    def notes(self) -> list[str]:
        out = []
        if self.conservative_objects:
            why = "; ".join(f"{count:,} {reason}" for reason, count in sorted(self.reasons.items()))
            out.append(
                f"{self.conservative_objects:,} objects ({self.conservative_bytes:,} bytes) scanned conservatively "
                f"(every word that points into an object counted as a reference): {why}"
            )
        return out

    def conservative(self, reason: str, objects: int, size: int) -> None:
        self.imprecise = True
        self.conservative_objects += objects
        self.conservative_bytes += objects * size
        self.reasons[reason] = self.reasons.get(reason, 0) + objects

    def target_of(self, value: int) -> int:
        """Index of the object containing ``value``; -1 when none does."""
        if not self.low <= value < self.high:
            return -1
        index = bisect.bisect_right(self.addresses, value) - 1
        if index >= 0 and value < self.addresses[index] + self.sizes[index]:
            return index
        return -1

    def span_ranges(self) -> array:
        """first[s]: the index of span s's first object (objects are in span order)."""
        if self._span_first is None:
            first = array("Q", bytes(8 * (len(self.objects.spans) + 1)))
            for span_index in self.objects.span_of:
                first[span_index + 1] += 1
            for index in range(len(self.objects.spans)):
                first[index + 1] += first[index]
            self._span_first = first
        return self._span_first

    # -- the whole heap -------------------------------------------------------------------
    def scan_all(self) -> tuple[array, array]:
        objects = self.objects
        edge_start = array("Q", bytes(8 * (len(objects) + 1)))  # filled in place: no growth copies
        edges = array("I")
        first = self.span_ranges()
        addresses, sizes, low, high = self.addresses, self.sizes, self.low, self.high
        find, append = bisect.bisect_right, edges.append
        for span_index, span in enumerate(objects.spans):
            if span_index % _INTERRUPT_EVERY == 0:
                check_interrupt("scanning heap objects for references")
            begin, end = first[span_index], first[span_index + 1]
            if begin == end:
                continue
            # The hot loop: every pointer word of every object (kept inline for speed).
            index = begin
            for words, base, offsets in self.span_words(span, begin, end):
                for offset in offsets:
                    value = words[base + offset]
                    if low <= value < high:
                        target = find(addresses, value) - 1
                        if value - addresses[target] < sizes[target]:
                            append(target)
                index += 1
                edge_start[index] = len(edges)
        return edge_start, edges

    def offsets_into(self, index: int, low: int, high: int) -> list[int]:
        """Offsets in object ``index``'s slot of its pointer words whose value is in [low, high)."""
        span = self.objects.spans[self.objects.span_of[index]]
        for words, base, offsets in self.span_words(span, index, index + 1):
            return [offset * WORD for offset in offsets if low <= words[base + offset] < high]
        return []

    def object_pointers(self, index: int) -> list[tuple[int, int]]:
        """(offset in the slot, value) of the pointer words of object ``index`` that are not 0."""
        span = self.objects.spans[self.objects.span_of[index]]
        for words, base, offsets in self.span_words(span, index, index + 1):
            return [(offset * WORD, words[base + offset]) for offset in offsets if words[base + offset]]
        return []

    def span_words(self, span: Span, begin: int, end: int) -> Iterator[tuple[memoryview, int, Iterable[int]]]:
        """For each object begin..end-1 of ``span``, in order: (the span's memory as
        words, the object's first word in it, the indexes from there of the words
        the GC would read as pointers)."""
        empty = memoryview(b"").cast("Q")
        if span.noscan:
            for _ in range(begin, end):
                yield empty, 0, ()
            return
        slot = span.size if span.sizeclass == 0 else span.elemsize
        first_address = self.addresses[begin]
        last_address = self.addresses[end - 1] + slot
        # Go 1.22+ small spans keep heap bits at the span's end: read the whole span.
        read_end = span.base + span.size if span.sizeclass else last_address
        try:
            memory = self.program.target.read(first_address, read_end - first_address)
        except (MemoryReadError, GoextError):
            self.conservative("objects in unreadable spans (no edges)", end - begin, slot)
            for _ in range(begin, end):
                yield empty, 0, ()
            return
        words = memoryview(memory)[: len(memory) & ~7].cast("Q")
        layout = self.span_layout(span, memory, first_address)
        every_word = range(slot // WORD)
        for index in range(begin, end):
            start = self.addresses[index] - first_address
            found = layout(start, slot, words)
            if found is None:
                self.conservative(self.last_reason, 1, slot)
                yield words, start // WORD, every_word
            else:
                yield words, start // WORD, found

    last_reason = ""

    def span_layout(self, span: Span, memory: bytes, first_address: int) -> ObjectLayout:
        """How to find the pointer words of the objects of ``span`` (``memory`` is read
        from ``first_address``, its first allocated object, to the span's end)."""
        try:
            if self.minor >= ALLOCATION_HEADERS_SINCE:
                if span.sizeclass and span.elemsize <= MIN_SIZE_FOR_MALLOC_HEADER:
                    bitmap_end = len(memory) - self._inline_mark_bytes(span, memory)
                    bitmap_bytes = span.size // WORD // 8  # spanHeapBitsRange, src/runtime/mbitmap.go
                    bits = int.from_bytes(memory[bitmap_end - bitmap_bytes : bitmap_end], "little")
                    return self._bits_layout(bits, (first_address - span.base) // WORD, None)
                return self._typed_layout(span)
            pointer_bits, extra = self._arena_bitmap(span)
        except (MemoryReadError, GoextError) as exc:
            return self._unknown(f"objects whose span's pointer bitmap is unreadable ({type(exc).__name__})")
        if self.minor >= ONE_BIT_ARENA_BITMAP_SINCE:
            return self._bits_layout(pointer_bits, (first_address - span.base) // WORD, extra)
        return self._two_bit_layout(pointer_bits, extra, (first_address - span.base) // WORD)

    def _inline_mark_bytes(self, span: Span, memory: bytes) -> int:
        """Bytes of Green Tea GC's spanInlineMarkBits after the heap bits (Go 1.25+ with
        GOEXPERIMENT=greenteagc, the default since 1.26; objects of 16 to 512 bytes:
        spanHeapBitsRange, src/runtime/mbitmap.go; gcUsesSpanInlineMarkBits,
        src/runtime/mgcmark_greenteagc.go).  The struct ends with the span's class,
        which tells whether this binary has them: without them the span's last byte
        holds the heap bits of the bitmap's own words, 0."""
        if self.minor < GREEN_TEA_SINCE or span.elemsize < GREEN_TEA_MIN_SIZE:
            return 0
        last = memory[-1]
        if last == span.spanclass:
            return SPAN_INLINE_MARK_BITS_BYTES
        if last == 0:
            return 0
        raise GoextError(f"span {span.base:#x}: last byte {last:#x} is neither 0 nor its span class")

    def _unknown(self, reason: str) -> ObjectLayout:
        def unknown(start: int, slot: int, words: memoryview) -> Optional[Iterable[int]]:
            self.last_reason = reason
            return None

        return unknown

    def _offsets_of_mask(self, mask: int, words: int) -> Iterable[int]:
        if words > _MAX_LISTED_WORDS:  # a large object: not kept, not listed
            return range(words) if mask == (1 << words) - 1 else _SetBits(mask, words)
        key = (mask, words)
        found = self._bit_masks.get(key)
        if found is None:
            if len(self._bit_masks) > 1 << 16:
                self._bit_masks.clear()
            found = self._bit_masks[key] = bit_positions(mask)
        return found

    def _bits_layout(self, bits: int, first_word: int, no_more: Optional[int]) -> ObjectLayout:
        """One bit per word from the span's first word (Go 1.22+ heap bits, 1.20-1.21
        arena bitmap).  ``no_more``: the 1.20-1.21 noMorePtrs bits of the span's bitmap
        words (64 heap words each): an object has no pointers past a word whose bit is set."""

        def layout(start: int, slot: int, words: memoryview) -> Optional[Iterable[int]]:
            count = slot // WORD
            word = first_word + start // WORD
            mask = (bits >> word) & ((1 << count) - 1)
            if no_more and (word % 64) + count > 64:
                for bitmap_word in range(word // 64, (word + count - 1) // 64):
                    if no_more >> bitmap_word & 1:
                        mask &= (1 << ((bitmap_word + 1) * 64 - word)) - 1
                        break
            return self._offsets_of_mask(mask, count)

        return layout

    def _two_bit_layout(self, pointer_bits: int, scan_bits: int, first_word: int) -> ObjectLayout:
        def layout(start: int, slot: int, words: memoryview) -> Optional[Iterable[int]]:
            count = slot // WORD
            word = first_word + start // WORD
            mask = two_bit_pointer_mask(pointer_bits >> word, scan_bits >> word, count)
            return self._offsets_of_mask(mask, count)

        return layout

    def _typed_layout(self, span: Span) -> ObjectLayout:
        """Objects whose type the runtime recorded: the allocation header (small spans)
        or mspan.largeType (src/runtime/mbitmap.go typePointersOfUnchecked)."""

        def layout(start: int, slot: int, words: memoryview) -> Optional[Iterable[int]]:
            if span.sizeclass == 0:
                type_address, header = span.large_type, 0
                if not type_address and self.minor >= GC_MASK_ON_DEMAND_SINCE:
                    return ()  # delayed zeroing: the runtime scans nothing yet (mallocgc, Go 1.24+)
            else:
                type_address, header = words[start // WORD], MALLOC_HEADER_SIZE
            if not type_address:
                self.last_reason = "objects whose type is not recorded yet (allocation in progress)"
                return None
            key = (type_address, slot, header)
            if key not in self._type_masks:
                self._type_masks[key] = self._type_offsets(type_address, slot, header)
            found = self._type_masks[key]
            if found is None:
                self.last_reason = self._type_reasons.get(type_address, "objects with an unreadable type")
            return found

        return layout

    def _type_offsets(self, type_address: int, slot: int, header: int) -> Optional[Iterable[int]]:
        target = self.program.target
        try:
            raw = target.read(type_address, TYPE_HEADER_BYTES)
        except MemoryReadError:
            self._type_reasons[type_address] = "objects whose type descriptor is unreadable"
            return None
        size = int.from_bytes(raw[TYPE_SIZE_OFFSET : TYPE_SIZE_OFFSET + 8], "little")
        ptr_bytes = int.from_bytes(raw[TYPE_PTRBYTES_OFFSET : TYPE_PTRBYTES_OFFSET + 8], "little")
        gcdata = int.from_bytes(raw[TYPE_GCDATA_OFFSET : TYPE_GCDATA_OFFSET + 8], "little")
        if ptr_bytes == 0:
            return ()
        if not 0 < size or ptr_bytes > size or ptr_bytes > _MAX_TYPE_PTR_BYTES or not gcdata:
            self._type_reasons[type_address] = "objects whose type descriptor is implausible"
            return None
        if self.minor < GC_MASK_ON_DEMAND_SINCE and raw[TYPE_KIND_OFFSET] & KIND_GC_PROG:
            # A GC program: the runtime unrolls it into a dummy type for large objects only
            # (heapSetType, src/runtime/mbitmap_allocheaders.go); such a header cannot be here.
            self._type_reasons[type_address] = "objects whose type has a GC program"
            return None
        if self.minor >= GC_MASK_ON_DEMAND_SINCE and raw[TYPE_TFLAG_OFFSET] & TFLAG_GC_MASK_ON_DEMAND:
            try:
                built = target.read_ptr(gcdata)  # GCData is a **byte (src/runtime/type.go getGCMaskOnDemand)
            except MemoryReadError:
                built = 0
            in_progress = self.program.runtime_symbol("runtime.inProgress")
            if not built or built == in_progress:
                self._type_reasons[type_address] = (
                    "objects whose type's pointer mask the runtime builds on demand and had not built"
                )
                return None
            gcdata = built
        ptr_words = ptr_bytes // WORD
        try:
            mask = int.from_bytes(target.read(gcdata, (ptr_words + 7) // 8), "little")
        except MemoryReadError:
            self._type_reasons[type_address] = "objects whose type's pointer mask is unreadable"
            return None
        return tiled_words(mask, ptr_words, size, header, slot)

    def _arena_bitmap(self, span: Span) -> tuple[int, int]:
        """Go 1.19-1.21: the span's words' bits from heapArena.bitmap, and (1.20-1.21) the
        noMorePtrs bits of its bitmap words, or (1.19) the scan bits; a span may cross arenas."""
        layout = self._arena_layout
        if layout is None or not layout.has("bitmap"):
            raise GoextError("no layout for heapArena.bitmap")
        if self._geometry is None:
            self._geometry = heap_geometry(self.program)
        geometry = self._geometry
        pointer_bits = extra = 0
        done = 0  # words of the span handled
        total = span.size // WORD
        while done < total:
            address = span.base + done * WORD
            arena_index = ((address - geometry.arena_base_offset) & ((1 << 64) - 1)) // ARENA_BYTES
            arena_start = geometry.arena_base(arena_index)
            word = (address - arena_start) // WORD
            count = min(total - done, WORDS_PER_ARENA - word)
            arena = self._arena_cache.get(arena_index)
            if arena is None:
                arena = self._arena_cache[arena_index] = self.program.target.read_ptr(
                    geometry.arenas_l2 + arena_index * WORD
                )
            if not arena:
                raise GoextError(f"no heapArena for {address:#x}")
            bitmap = arena + layout.offset("bitmap")
            if self.minor >= ONE_BIT_ARENA_BITMAP_SINCE:
                # 1 bit per word, little-endian words (src/runtime/mbitmap.go heapBitsForAddr).
                data = self.program.target.read(bitmap + word // 8, (count + 7) // 8)
                pointer_bits |= int.from_bytes(data, "little") << done
                if layout.has("noMorePtrs"):
                    first, last = word // 64, (word + count - 1) // 64
                    raw = self.program.target.read(
                        arena + layout.offset("noMorePtrs") + first // 8, last // 8 - first // 8 + 1
                    )
                    no_more = int.from_bytes(raw, "little") >> (first % 8)
                    extra |= (no_more & ((1 << (last - first + 1)) - 1)) << (done // 64)
            else:
                # 2 bits per word, 4 words per byte: pointer bits low, scan bits high.
                data = self.program.target.read(bitmap + word // 4, (count + 3) // 4)
                pointer_bits |= compact_nibbles(data) << done
                extra |= compact_nibbles(data.translate(_HIGH_NIBBLES)) << done
            done += count
        return pointer_bits, extra


_HIGH_NIBBLES = bytes(value >> 4 for value in range(256))


# -- roots -------------------------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _named(name: str) -> Callable[[int], str]:
    """A root namer that gives every slot the same name."""
    return lambda _address: name


@dataclass
class _Symbol:
    address: int
    size: int
    name: str


class RootFinder:
    def __init__(self, program: "GoProgram", objects: HeapObjects, scanner: ObjectScanner) -> None:
        self.program = program
        self.objects = objects
        self.scanner = scanner
        self.roots: list[HeapRoot] = []
        self.notes = scanner.root_notes

    def find(self) -> list[HeapRoot]:
        steps = (
            self.globals,
            self.stacks,
            self.specials,
            self.queued_finalizers,
            self.queued_cleanups,
            self.tiny_blocks,
        )
        for step in steps:
            try:
                step()
            except GoextError as exc:
                self.scanner.imprecise = True
                self.notes.append(f"roots: {exc}")
        return self.roots

    def add_words(
        self,
        kind: str,
        base: int,
        data: bytes,
        offsets: Iterable[int],
        name_of: Callable[[int], str],
        goroutine: Optional[int] = None,
    ) -> None:
        for offset in offsets:
            value = int.from_bytes(data[offset : offset + WORD], "little")
            target = self.scanner.target_of(value)
            if target >= 0:
                self.roots.append(HeapRoot(kind, name_of(base + offset), base + offset, goroutine, (target,)))

    # -- data and bss ---------------------------------------------------------------------
    def modules(self) -> list[int]:
        first = self.program.runtime_symbol("runtime.firstmoduledata")
        if first is None:
            raise GoextError("runtime.firstmoduledata not found: data and bss roots not scanned")
        layout = self.program.layouts["runtime.moduledata"]
        out = [first]
        if layout.has("next"):
            while len(out) < _MAX_MODULES:
                following = self.program.target.read_ptr(out[-1] + layout.offset("next"))
                if not following or following in out:
                    break
                out.append(following)
        return out

    def symbols(self) -> list[_Symbol]:
        """Data symbols by address: the executable's, else its debug file's."""
        binary = self.program.binary
        if not binary.symbols:
            debug = self.program.debug_binary
            if debug is not None:
                binary = debug

        def compute() -> list[_Symbol]:
            out = []
            for name, value in binary.symbols.items():
                size = binary.symbol_size(name) or 0
                if value and size:
                    out.append(_Symbol(value, size, name))
            out.sort(key=lambda symbol: symbol.address)
            return out

        return self.program.binary_memo("heapgraph_data_symbols", compute)

    def globals(self) -> None:
        layout = self.program.layouts["runtime.moduledata"]
        needed = ("data", "edata", "bss", "ebss", "gcdatamask.n", "gcdatamask.bytedata")
        missing = [name for name in needed if not layout.has(name)]
        if missing:
            raise GoextError(f"no layout for moduledata {', '.join(missing)}: data and bss roots not scanned")
        symbols = self.symbols()
        starts = [symbol.address for symbol in symbols]
        bias = self.program.target.load_bias()
        for module in self.modules():
            read = self.program.target.read_ptr
            for section, start_field, end_field, mask in (
                ("data", "data", "edata", "gcdatamask"),
                ("bss", "bss", "ebss", "gcbssmask"),
            ):
                start = read(module + layout.offset(start_field))
                end = read(module + layout.offset(end_field))
                nbits = self.program.target.read_u32(module + layout.offset(f"{mask}.n"))
                bitmap = read(module + layout.offset(f"{mask}.bytedata"))
                if not 0 <= end - start <= _MAX_GLOBAL_BYTES:
                    self.notes.append(f"module {module:#x}: {section} of {end - start} bytes not scanned")
                    self.scanner.imprecise = True
                    continue
                if end == start:
                    continue
                data = self.program.target.read(start, end - start)
                words = (end - start) // WORD
                if not bitmap or nbits < words:
                    # Before modulesinit ran (a process stopped at its very start): scan it all.
                    self.notes.append(f"{section} of module {module:#x}: no GC mask yet, scanned conservatively")
                    self.scanner.imprecise = True
                    offsets: Iterable[int] = range(0, words * WORD, WORD)
                else:
                    bits = self.program.target.read(bitmap, (words + 7) // 8)
                    offsets = [bit * WORD for bit in bit_positions(int.from_bytes(bits, "little"))]

                def name_of(address: int, section: str = section, start: int = start) -> str:
                    position = bisect.bisect_right(starts, address - bias) - 1
                    if position >= 0:
                        symbol = symbols[position]
                        if address - bias < symbol.address + symbol.size:
                            offset = address - bias - symbol.address
                            return symbol.name if offset == 0 else f"{symbol.name}+{offset:#x}"
                    return f"{section}+{address - start:#x}"

                self.add_words("global", start, data, offsets, name_of)

    # -- stacks -----------------------------------------------------------------------------
    def stacks(self) -> None:
        program = self.program
        tally = {
            "no map": 0,
            "not unwound": 0,
            "running frames": 0,
            "registers": 0,
            "running": 0,
            "unreadable": 0,
            "stack objects without a mask": 0,
        }
        for number, record in enumerate(program.goroutines()):
            if number % 64 == 0:
                check_interrupt("reading goroutine stacks for heap roots")
            if is_dead_status(record.status):
                continue
            if record.error or not record.stack_hi:
                tally["unreadable"] += 1
                continue
            self.goroutine_stack(record, tally)
        if tally["no map"] or tally["not unwound"]:
            self.scanner.imprecise = True
            self.notes.append(
                f"stacks: {tally['no map']} frames without a stack map (interrupted, or assembly) and "
                f"{tally['not unwound']} goroutines not fully unwound scanned conservatively"
            )
        if tally["stack objects without a mask"]:
            self.scanner.imprecise = True
            self.notes.append(
                f"stacks: {tally['stack objects without a mask']} stack objects without a readable pointer mask "
                "scanned conservatively"
            )
        if tally["unreadable"]:
            self.scanner.imprecise = True
            self.notes.append(f"stacks: {tally['unreadable']} goroutines unreadable: their stacks not scanned")
        if tally["running"]:
            # The GC never scans a goroutine mid-instruction: it stops it at a safe point first.
            running, registers = tally["running"], tally["registers"]
            self.notes.append(
                f"{_count(running, 'goroutine')} running at the dump: innermost frame and registers "
                f"({_count(registers, 'register')} pointing into the heap) scanned conservatively "
                "(the GC would have stopped it at a safe point first)"
            )

    def goroutine_stack(self, record: GoroutineRecord, tally: dict[str, int]) -> None:
        program = self.program
        stack = program.stack(record)
        frames = [f for f in stack.frames if not f.inlined and f.stack == "goroutine"]
        low = min((f.sp for f in frames), default=record.sched_sp or record.stack_lo)
        if not record.stack_lo <= low < record.stack_hi:
            low = record.stack_lo
        low = max(low, record.stack_hi - _MAX_STACK_BYTES) & ~7
        high = record.stack_hi
        try:
            data = program.target.read(low, high - low)
        except MemoryReadError as exc:
            self.notes.append(f"goroutine {record.id}: stack unreadable ({exc})")
            self.scanner.imprecise = True
            return
        words = memoryview(data)[: len(data) & ~7].cast("Q")
        scanned: list[tuple[int, str]] = []  # (slot address, frame name) scanned as roots
        objects: list[tuple[int, int, int, Optional[tuple[int, ...]], str]] = []  # stack objects, and frame
        covered_high = low
        for position, frame in enumerate(frames):
            name = f"goroutine {record.id} {frame.function} ({os.path.basename(frame.file)}:{frame.line})"
            running_here = record.is_running and position == 0
            maps = None if running_here else frame_maps(program, frame)
            if maps is None:
                tally["running frames" if running_here else "no map"] += 1
                begin, finish = max(frame.sp, low), min(self.frame_args_end(frame), high)
                scanned += [(slot, name) for slot in range(begin, finish, WORD)]
            else:
                scanned += [(slot, name) for slot in maps[0] if low <= slot <= high - WORD]
                objects += [(address, size, ptrdata, words, name) for address, size, ptrdata, words in maps[1]]
            covered_high = max(covered_high, frame.fp + WORD)
        if stack.error or not frames or not stack.complete:
            # The frames goext could not unwind: every word above them may be live.
            tally["not unwound"] += 1
            rest = f"goroutine {record.id} (stack not unwound: scanned conservatively)"
            scanned += [(slot, rest) for slot in range(max(covered_high, low), high, WORD)]
        reached, unmasked = self.live_stack_objects(objects, scanned, words, low, high)
        scanned += reached
        tally["stack objects without a mask"] += unmasked
        for slot, name in scanned:
            value = words[(slot - low) // WORD]
            target = self.scanner.target_of(value)
            if target >= 0:
                self.roots.append(HeapRoot("stack", name, slot, record.id, (target,)))
        if record.is_running:
            tally["running"] += 1
            tally["registers"] += self.register_roots(record)

    def frame_args_end(self, frame: Frame) -> int:
        """The end of a frame's arguments: the words a conservative scan of the frame
        covers, from its sp (argp = fp, or fp + 8 on arm64, src/runtime/traceback.go;
        the argument size from the function's table, 0 when unknown)."""
        argp = frame.fp + (WORD if self.program.binary.arch == "arm64" else 0)
        func = self.program.func_for_pc(frame.pc)
        args = getattr(func, "args", 0) if func is not None else 0
        return argp + (args if 0 < args < _MAX_STACK_BYTES else 0)

    @staticmethod
    def live_stack_objects(
        objects: list[tuple[int, int, int, Optional[tuple[int, ...]], str]],
        scanned: list[tuple[int, str]],
        words: memoryview,
        low: int,
        high: int,
    ) -> tuple[list[tuple[int, str]], int]:
        """(the pointer words of the stack objects that a scanned word, or a stack object
        found so, points into: the only ones the GC scans, src/runtime/mgcmark.go
        scanstack, mgcstack.go; how many of those had no readable mask, so that every
        word of their pointer-holding prefix counts)."""
        objects = sorted(o for o in objects if low <= o[0] and o[0] + max(o[1], o[2]) <= high and o[1] > 0)
        starts = [o[0] for o in objects]
        found = [False] * len(objects)
        pending = [words[(slot - low) // WORD] for slot, _ in scanned]
        out: list[tuple[int, str]] = []
        unmasked = 0
        while pending:
            value = pending.pop()
            if not low <= value < high:
                continue
            position = bisect.bisect_right(starts, value) - 1
            if position < 0 or found[position] or value >= objects[position][0] + objects[position][1]:
                continue
            found[position] = True
            address, _size, ptrdata, offsets, name = objects[position]
            if offsets is None:
                unmasked += 1
                offsets = tuple(range(0, ptrdata, WORD))
            slots = [address + offset for offset in offsets]
            out += [(slot, name) for slot in slots]
            pending += [words[(slot - low) // WORD] for slot in slots]
        return out, unmasked

    def register_roots(self, record: GoroutineRecord) -> int:
        machine = self.program.machine_of(record)
        thread = self.program.thread_for(machine) if machine is not None else None
        if thread is None:
            return 0
        found = 0
        names = _VALUE_REGISTERS.get(self.program.binary.arch, ())
        for register, value in sorted(thread.registers.items()):
            if register not in names:
                continue  # segment bases, flags, pc: never a Go value (and debuggers differ in which they show)
            target = self.scanner.target_of(value)
            if target >= 0:
                found += 1
                name = f"goroutine {record.id} register {register} (thread {thread.tid})"
                self.roots.append(HeapRoot("stack", name, 0, record.id, (target,)))
        return found

    # -- finalizers and cleanups --------------------------------------------------------------
    def specials(self) -> None:
        program = self.program
        span_layout = program.layouts["runtime.mspan"]
        special = program.layouts.structs.get("runtime.special")
        if not span_layout.has("specials") or special is None:
            raise GoextError("no layout for mspan.specials: finalizer roots not read")
        finalizer = program.layouts.structs.get("runtime.specialfinalizer")
        cleanup = program.layouts.structs.get("runtime.specialCleanup")
        names = special_kinds(self.scanner.minor)
        weak_handles = 0
        unreadable = 0
        ignored: dict[str, int] = {}
        first = self.scanner.span_ranges()
        for span_index, span in enumerate(self.objects.spans):
            if span_index % _INTERRUPT_EVERY == 0:
                check_interrupt("reading finalizers")
            if first[span_index] == first[span_index + 1]:
                continue
            try:
                node = program.target.read_ptr(span.address + span_layout.offset("specials"))
                seen = 0
                while node and seen < _MAX_SPECIALS_PER_SPAN:
                    seen += 1
                    head = program.target.read(node, special.size or 24)
                    offset = int.from_bytes(head[special.offset("offset") : special.offset("offset") + 8], "little")
                    offset &= (1 << (8 * (special.field_size("offset") or 8))) - 1
                    kind = names.get(head[special.offset("kind")], f"kind {head[special.offset('kind')]}")
                    address = span.base + offset
                    target = self.scanner.target_of(address)
                    if kind == "finalizer" and finalizer is not None:
                        if target < 0:
                            ignored["finalizer of an unallocated slot (corrupt?)"] = (
                                ignored.get("finalizer of an unallocated slot (corrupt?)", 0) + 1
                            )
                            node = program.target.read_ptr(node + special.offset("next"))
                            continue
                        fn = program.target.read_ptr(node + finalizer.offset("fn"))
                        fn_target = self.scanner.target_of(fn)
                        targets = (target,) if fn_target < 0 or fn_target == target else (target, fn_target)
                        self.roots.append(HeapRoot("finalizer", f"finalizer of {address:#x}", node, None, targets))
                    elif kind == "cleanup" and cleanup is not None:
                        # The cleanup's function is a root, not the object (src/runtime/mgcmark.go gcScanCleanup).
                        fn = program.target.read_ptr(node + cleanup.offset("fn"))
                        fn_target = self.scanner.target_of(fn)
                        if fn_target >= 0:
                            self.roots.append(HeapRoot("cleanup", f"cleanup of {address:#x}", node, None, (fn_target,)))
                    elif kind == "weak handle":
                        # specialWeakHandle{special; handle *atomic.Uintptr}: markrootSpans marks the
                        # handle (src/runtime/mgcmark.go), which follows the special header.
                        handle = program.target.read_ptr(node + special.size)
                        handle_target = self.scanner.target_of(handle)
                        if handle_target >= 0:
                            weak_handles += 1
                            name = f"weak pointer handle of {address:#x}"
                            self.roots.append(HeapRoot("runtime", name, node + special.size, None, (handle_target,)))
                    else:
                        ignored[kind] = ignored.get(kind, 0) + 1
                    node = program.target.read_ptr(node + special.offset("next"))
            except MemoryReadError:
                unreadable += 1
        if unreadable:
            self.scanner.imprecise = True
            self.notes.append(f"finalizers: the specials of {unreadable} spans are unreadable")
        if ignored:
            listed = ", ".join(f"{count} {label}" for label, count in sorted(ignored.items()))
            self.notes.append(f"specials that are not roots ignored: {listed}")

    def queued_finalizers(self) -> None:
        """Finalizers queued to run: markroot's fixedRootFinalizers scans every finBlock
        on runtime.allfin (src/runtime/mgcmark.go): each of its ``cnt`` finalizer records
        {fn *funcval; arg unsafe.Pointer; nret uintptr; fint *_type; ot *ptrtype}
        (src/runtime/mfinal.go) keeps its fn and its object alive."""
        allfin = self.program.runtime_symbol("runtime.allfin")
        if allfin is None:
            self.notes.append(
                "queued finalizers: runtime.allfin not found: an object whose finalizer is queued to run "
                "is not counted as reachable"
            )
            return
        block = self.program.target.read_ptr(allfin)
        blocks = 0
        while block and blocks < _MAX_FINBLOCKS:
            blocks += 1
            data = self.program.target.read(block, FINBLOCK_BYTES)
            count = min(int.from_bytes(data[FINBLOCK_CNT : FINBLOCK_CNT + 4], "little"), FINBLOCK_CAPACITY)
            for record in range(FINBLOCK_FIRST, FINBLOCK_FIRST + count * FINALIZER_BYTES, FINALIZER_BYTES):
                fn = int.from_bytes(data[record : record + WORD], "little")
                arg = int.from_bytes(data[record + WORD : record + 2 * WORD], "little")
                targets = tuple(t for t in (self.scanner.target_of(arg), self.scanner.target_of(fn)) if t >= 0)
                if targets:
                    name = f"queued finalizer of {arg:#x}"
                    self.roots.append(HeapRoot("finalizer", name, block + record + WORD, None, targets))
            block = int.from_bytes(data[0:WORD], "little")  # finBlock.alllink

    def tiny_blocks(self) -> None:
        """Each P's current tiny-allocator block: gcMarkTinyAllocs marks it at the start
        of every cycle (src/runtime/mgcmark.go), whoever else refers to it."""
        program = self.program
        allp = program.runtime_symbol("runtime.allp")
        p_layout = program.layouts.structs.get("runtime.p")
        mcache = program.layouts.structs.get("runtime.mcache")
        if allp is None or p_layout is None or mcache is None or not p_layout.has("mcache") or not mcache.has("tiny"):
            self.notes.append("tiny-allocator blocks: runtime.allp or a layout is missing: not counted as roots")
            return
        array_address, length = program.target.read_ptr(allp), program.target.read_ptr(allp + WORD)
        if not 0 <= length <= _MAX_PROCS:
            raise GoextError(f"allp has {length} entries: tiny-allocator blocks not read")
        raw = program.target.read(array_address, length * WORD) if length else b""
        for number in range(length):
            p = int.from_bytes(raw[number * WORD : number * WORD + WORD], "little")
            cache = program.target.read_ptr(p + p_layout.offset("mcache")) if p else 0
            tiny = program.target.read_ptr(cache + mcache.offset("tiny")) if cache else 0
            target = self.scanner.target_of(tiny)
            if target >= 0:
                slot = cache + mcache.offset("tiny")
                self.roots.append(HeapRoot("runtime", f"tiny-allocator block of P {number}", slot, None, (target,)))

    def queued_cleanups(self) -> None:
        """Go 1.25+ cleanups queued to run: markroot's fixedRootCleanups scans every
        cleanupBlock on gcCleanups.all (src/runtime/mgcmark.go, mcleanup.go)."""
        if self.scanner.minor < CLEANUP_QUEUE_SINCE:
            return
        queue = self.program.runtime_symbol("runtime.gcCleanups")
        if queue is None:
            self.notes.append(
                "queued cleanups: runtime.gcCleanups not found (no symbol table): what a cleanup queued "
                "to run holds is not counted as reachable"
            )
            return
        pad = CACHE_LINE_PAD.get(self.program.binary.arch, 64)
        block = self.program.target.read_ptr(queue + 2 * pad)  # cleanupQueue.all
        blocks = 0
        # Each queued cleanup: a *funcval (Go 1.25), cleanupFn{call, fn, arg} (1.26+), all pointers.
        entry = WORD if self.scanner.minor == CLEANUP_QUEUE_SINCE else 3 * WORD
        while block and blocks < _MAX_FINBLOCKS:
            blocks += 1
            data = self.program.target.read(block, CLEANUP_BLOCK_BYTES)
            count = int.from_bytes(data[CLEANUP_BLOCK_COUNT : CLEANUP_BLOCK_COUNT + 4], "little")
            end = min(CLEANUP_BLOCK_HEADER + count * entry, CLEANUP_BLOCK_BYTES)
            name = f"queued cleanups block {block:#x}"
            self.add_words("cleanup", block, data, range(CLEANUP_BLOCK_HEADER, end, WORD), _named(name))
            block = int.from_bytes(data[CLEANUP_BLOCK_ALLLINK : CLEANUP_BLOCK_ALLLINK + WORD], "little")


# -- questions asked of the graph ---------------------------------------------------------

_KIND_ORDER = {"global": 0, "stack": 1, "finalizer": 2, "cleanup": 3, "runtime": 4}


def distances_to(graph: HeapGraph, target: int) -> array:
    """dist[i]: the fewest references from object i to ``target`` (-1: it cannot reach it)."""
    start, sources = graph.reverse()
    dist = array("i", [-1]) * len(graph.objects)
    dist[target] = 0
    frontier = array("I", [target])
    steps = 0
    while frontier:
        following = array("I")
        for index in frontier:
            steps += 1
            if steps % 65536 == 0:
                check_interrupt("searching reference chains")
            level = dist[index] + 1
            for position in range(start[index], start[index + 1]):
                source = sources[position]
                if dist[source] < 0:
                    dist[source] = level
                    following.append(source)
        frontier = following
    return dist


def shortest_chains(graph: HeapGraph, target: int, limit: int) -> list[tuple[HeapRoot, list[int]]]:
    """Up to ``limit`` roots that reach object ``target``, nearest first, each with its
    shortest chain: the object indexes from the one the root points at to ``target``."""
    dist = distances_to(graph, target)
    ranked = []
    for number, root in enumerate(graph.roots):
        reached = [t for t in root.targets if dist[t] >= 0]
        if reached:
            first = min(reached, key=lambda t: dist[t])
            ranked.append((dist[first], _KIND_ORDER.get(root.kind, 9), number, first))
    ranked.sort()
    out = []
    for _length, _kind, number, first in ranked[:limit]:
        chain = [first]
        node = first
        while node != target and len(chain) <= len(graph.objects):
            following = next(t for t in graph.targets(node) if dist[t] == dist[node] - 1)
            chain.append(following)
            node = following
        out.append((graph.roots[number], chain))
    return out


def referrers(graph: HeapGraph, target: int) -> tuple[list[int], list[HeapRoot]]:
    """The objects (indexes, without repeats) and the roots pointing into object ``target``."""
    start, sources = graph.reverse()
    objects = sorted(set(sources[start[target] : start[target + 1]]))
    roots = [root for root in graph.roots if target in root.targets]
    return objects, roots


def pointer_offsets(program: "GoProgram", graph: HeapGraph, source: int, target: int) -> list[int]:
    """Offsets in object ``source``'s slot of its pointer words into object ``target``."""
    low = graph.objects.addresses[target]
    return ObjectScanner(program, graph.objects).offsets_into(source, low, low + graph.objects.sizes[target])


def recorded_type(program: "GoProgram", objects: HeapObjects, index: int) -> int:
    """The type descriptor the runtime recorded for object ``index`` (Go 1.22+: the
    allocation header, or the large span's largeType); 0 when it recorded none, -1
    when the header is still nil (allocation in progress)."""
    span = objects.span(index)
    if (program.go_minor or 0) < ALLOCATION_HEADERS_SINCE or span.noscan:
        return 0
    if span.sizeclass == 0:
        return span.large_type or -1
    if span.elemsize <= MIN_SIZE_FOR_MALLOC_HEADER:
        return 0
    try:
        return program.target.read_ptr(objects.addresses[index]) or -1
    except MemoryReadError:
        return 0
