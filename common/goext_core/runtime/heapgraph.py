"""The heap's object graph and its roots: what keeps each object alive.

Edges: for every allocated object (runtime/heap.py HeapObjects), the objects its
pointer words point into.  Which words hold pointers is the garbage collector's own
metadata, read per span from one bulk read of the span's memory:

* noscan spans (spanclass & 1) hold no pointers (src/runtime/mheap.go spanClass);
* Go 1.22+ (src/runtime/mbitmap.go; mbitmap_allocheaders.go in 1.22-1.23): objects of
  at most 512 bytes have one bit per word at the end of their span (heapBits);
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
src/runtime/symtab.go); every goroutine's stack, through the compiler's stack maps
(runtime/stackmaps.py; conservative for a frame without one); the registers of
running goroutines (conservative); finalizers and cleanups (mspan.specials,
src/runtime/mheap.go; markrootSpans); the queued finalizers (runtime.allfin).
"""

from __future__ import annotations

import bisect
import os
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.progress import check_interrupt
from goext_core.runtime.heap import (
    ALLOCATION_HEADERS_SINCE,
    ARENA_BYTES,
    MIN_SIZE_FOR_MALLOC_HEADER,
    HeapObjects,
    Span,
    heap_objects,
)
from goext_core.runtime.layouts import is_dead_status
from goext_core.runtime.stackmaps import live_pointer_slots

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.runtime.dwarflayout import StructLayout
    from goext_core.runtime.goroutines import GoroutineRecord

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


_MAX_MODULES = 64
_MAX_GLOBAL_BYTES = 1 << 30
_MAX_SPECIALS_PER_SPAN = 1 << 16
_MAX_STACK_BYTES = 1 << 30  # maxstacksize on 64-bit, src/runtime/proc.go
_MAX_FINBLOCKS = 1 << 16
_MAX_TYPE_PTR_BYTES = 1 << 34
_INTERRUPT_EVERY = 256


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


def reverse_edges(edge_start: array, edges: array, count: int) -> tuple[array, array]:
    counts = array("Q", bytes(8 * (count + 1)))
    for target in edges:
        counts[target + 1] += 1
    for index in range(count):
        counts[index + 1] += counts[index]
    start = array("Q", counts)
    fill = array("Q", counts)
    sources = array("I", bytes(4 * len(edges)))
    for source in range(count):
        for position in range(edge_start[source], edge_start[source + 1]):
            target = edges[position]
            sources[fill[target]] = source
            fill[target] += 1
    return start, sources


def reachable(graph: HeapGraph, roots: Iterable[HeapRoot]) -> bytearray:
    """1 for every object reached from ``roots`` through the graph's edges."""
    seen = bytearray(len(graph.objects))
    pending: list[int] = []
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
    """Indexes of the set bits of ``mask``, lowest first."""
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


def high_nibbles(data: bytes) -> int:
    return compact_nibbles(bytes(b >> 4 for b in data))


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
    words = bit_positions(mask & ((1 << ptr_words) - 1))
    if not words or type_size <= 0:
        return ()
    out: list[int] = []
    element = first
    while element < limit:
        for word in words:
            offset = element + word * WORD
            if offset >= limit:
                break
            out.append(offset)
        element += type_size
    return tuple(out)


# (object's start in the span's memory, slot size, the memory as words) -> byte offsets of
# its pointer words, or None when only a conservative scan is possible.
ObjectLayout = Callable[[int, int, memoryview], Optional[tuple[int, ...]]]


class ObjectScanner:
    """Pointer words of every object, span by span, and the edges they make."""

    def __init__(self, program: "GoProgram", objects: HeapObjects) -> None:
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
        self._type_masks: dict[tuple[int, int, int], Optional[tuple[int, ...]]] = {}
        self._bit_masks: dict[tuple[int, int], tuple[int, ...]] = {}
        self._span_first: Optional[array] = None
        self._arena_cache: dict[int, int] = {}
        self._geometry = None
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
        edge_start = array("Q", [0])
        edges = array("I")
        first = self.span_ranges()
        for span_index, span in enumerate(objects.spans):
            if span_index % _INTERRUPT_EVERY == 0:
                check_interrupt("scanning heap objects for references")
            begin, end = first[span_index], first[span_index + 1]
            if begin == end:
                continue
            for _index, pointers in self.span_pointers(span, begin, end):
                for _offset, value in pointers:
                    target = self.target_of(value)
                    if target >= 0:
                        edges.append(target)
                edge_start.append(len(edges))
        return edge_start, edges

    def object_pointers(self, index: int) -> list[tuple[int, int]]:
        """(offset in the slot, value) of the pointer words of object ``index``."""
        span_index = self.objects.span_of[index]
        for found, pointers in self.span_pointers(self.objects.spans[span_index], index, index + 1):
            if found == index:
                return pointers
        return []

    def span_pointers(self, span: Span, begin: int, end: int) -> Iterable[tuple[int, list[tuple[int, int]]]]:
        """For objects begin..end-1 of ``span``: (index, [(offset, value) of each word
        that the GC would read as a pointer and that is not 0])."""
        if span.noscan:
            for index in range(begin, end):
                yield index, []
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
            for index in range(begin, end):
                yield index, []
            return
        words = memoryview(memory)[: len(memory) & ~7].cast("Q")
        layout = self.span_layout(span, memory, first_address)
        for index in range(begin, end):
            start = self.addresses[index] - first_address
            offsets: Iterable[int]
            found = layout(start, slot, words)
            if found is None:
                self.conservative(self.last_reason, 1, slot)
                offsets = range(0, slot, WORD)
            else:
                offsets = found
            base_word = start // WORD
            pointers = []
            for offset in offsets:
                value = words[base_word + offset // WORD]
                if value:
                    pointers.append((offset, value))
            yield index, pointers

    last_reason = ""

    def span_layout(self, span: Span, memory: bytes, first_address: int) -> ObjectLayout:
        """A function (start in memory, slot size, words) -> pointer offsets of the object,
        or None when only a conservative scan is possible (reason in last_reason)."""

        def unknown(start: int, slot: int, words: memoryview) -> Optional[tuple[int, ...]]:
            self.last_reason = f"Go 1.{self.minor} heap layout not read"
            return None

        return unknown


# -- roots -------------------------------------------------------------------------------------


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
        for step in (self.globals, self.stacks, self.specials, self.queued_finalizers):
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
        binary = self.program.binary

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
        conservative_frames = 0
        unwound_badly = 0
        registers = 0
        for number, record in enumerate(program.goroutines()):
            if number % 64 == 0:
                check_interrupt("reading goroutine stacks for heap roots")
            if is_dead_status(record.status) or record.error or not record.stack_hi:
                continue
            stack = program.stack(record)
            frames = [f for f in stack.frames if not f.inlined and f.stack == "goroutine"]
            low = min((f.sp for f in frames), default=record.sched_sp or record.stack_lo)
            if not record.stack_lo <= low < record.stack_hi:
                low = record.stack_lo
            low = max(low, record.stack_hi - _MAX_STACK_BYTES) & ~7
            try:
                data = program.target.read(low, record.stack_hi - low)
            except MemoryReadError as exc:
                self.notes.append(f"goroutine {record.id}: stack unreadable ({exc})")
                self.scanner.imprecise = True
                continue
            covered_high = low
            for position, frame in enumerate(frames):
                name = f"goroutine {record.id} {frame.function} ({os.path.basename(frame.file)}:{frame.line})"
                running_here = record.is_running and position == 0
                slots = None if running_here else live_pointer_slots(program, frame)
                if slots is None:
                    conservative_frames += 1
                    begin, finish = max(frame.sp, low), min(frame.fp + WORD, record.stack_hi)
                    offsets: Iterable[int] = range(begin - low, finish - low, WORD) if finish > begin else ()
                else:
                    offsets = [slot - low for slot in slots if low <= slot < record.stack_hi - WORD + 1]
                self.add_words("stack", low, data, offsets, _named(name), record.id)
                covered_high = max(covered_high, frame.fp + WORD)
            if stack.error or not frames or not stack.complete:
                # The frames goext could not unwind: every word above them may be live.
                unwound_badly += 1
                begin = max(covered_high, low)
                rest = f"goroutine {record.id} (stack not unwound: scanned conservatively)"
                self.add_words(
                    "stack",
                    low,
                    data,
                    range(begin - low, record.stack_hi - low, WORD),
                    _named(rest),
                    record.id,
                )
            if record.is_running:
                registers += self.register_roots(record)
        if conservative_frames or unwound_badly or registers:
            self.scanner.imprecise = True
            self.notes.append(
                f"stacks: {conservative_frames} frames without a stack map (running or interrupted) and "
                f"{unwound_badly} goroutines not fully unwound scanned conservatively; registers of running "
                f"goroutines scanned conservatively ({registers} point into the heap)"
            )

    def register_roots(self, record: GoroutineRecord) -> int:
        machine = self.program.machine_of(record)
        thread = self.program.thread_for(machine) if machine is not None else None
        if thread is None:
            return 0
        found = 0
        for register, value in sorted(thread.registers.items()):
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
        ignored: dict[str, int] = {}
        first = self.scanner.span_ranges()
        for span_index, span in enumerate(self.objects.spans):
            if span_index % _INTERRUPT_EVERY == 0:
                check_interrupt("reading finalizers")
            if first[span_index] == first[span_index + 1]:
                continue
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
                if kind == "finalizer" and finalizer is not None and target >= 0:
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
        if ignored:
            listed = ", ".join(f"{count} {label}" for label, count in sorted(ignored.items()))
            self.notes.append(f"specials that are not roots ignored: {listed}")

    def queued_finalizers(self) -> None:
        """Finalizers queued to run (runtime.allfin's finblocks, scanned by markroot's
        fixedRootFinalizers, src/runtime/mgcmark.go): conservative, they are not heap memory."""
        allfin = self.program.runtime_symbol("runtime.allfin")
        if allfin is None:
            return
        block = self.program.target.read_ptr(allfin)
        count = 0
        size = 4096  # _FinBlockSize? finblock is persistentalloc'd in 4 KiB chunks, src/runtime/mfinal.go
        while block and count < _MAX_FINBLOCKS:
            count += 1
            data = self.program.target.read(block, size)
            name = f"queued finalizer block {block:#x}"
            self.add_words("runtime", block, data, range(2 * WORD, size, WORD), _named(name))
            block = int.from_bytes(data[0:WORD], "little")  # finblock.alllink
        if count:
            self.scanner.imprecise = True
            self.notes.append(f"{count} blocks of queued finalizers scanned conservatively")


__all__ = ["HeapGraph", "HeapRoot", "build_heap_graph", "reachable"]


# -- questions asked of the graph ---------------------------------------------------------

_KIND_ORDER = {"global": 0, "stack": 1, "finalizer": 2, "cleanup": 3, "runtime": 4}


def distances_to(graph: HeapGraph, target: int) -> array:
    """dist[i]: the fewest references from object i to ``target`` (-1: it cannot reach it)."""
    start, sources = graph.reverse()
    dist = array("i", [-1]) * len(graph.objects)
    dist[target] = 0
    frontier = [target]
    steps = 0
    while frontier:
        following: list[int] = []
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
    scanner = ObjectScanner(program, graph.objects)
    low = graph.objects.addresses[target]
    high = low + graph.objects.sizes[target]
    return [offset for offset, value in scanner.object_pointers(source) if low <= value < high]


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
