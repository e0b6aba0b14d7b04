"""Go types of heap objects: the ones the runtime records, and the ones reached
through the typed pointers of typed roots.

The runtime records the type of few objects (Go 1.22+: the allocation header of an
object over 512 bytes with pointers, ``mspan.largeType`` of a large one;
src/runtime/mbitmap.go).  Everything else is typed here by following pointers
whose type is known, from the roots whose type is known: every package-level
variable DWARF describes; the DWARF locals of every goroutine's frames, only
their pointer words the GC's stack maps mark live at the frame's pc (a dead slot
may point at a freed and reused object; the runtime's own frames are skipped);
the objects finalizers keep (their type from the finalizer's record, whose
layout comes from DWARF or the layout tables); then the objects the runtime
typed, after every root (they may be garbage not yet swept, whose pointers are
the least trustworthy).  A typed value is scanned word
by word with its type's pointer plan:

* ``*T`` types the object it points at as ``T`` (``[]T`` when the slot holds
  several: the same label the runtime's headers give arrays), ``[]T`` its
  backing array, a string its bytes (``string data``, or ``tiny block`` for the
  runtime's tiny allocator), an interface the object its data word points at with
  the dynamic type named by its type word or itab;
* a map its header, bucket arrays / groups, tables and directory (classic and
  swiss layouts, src/runtime/map.go, src/internal/runtime/maps/), then its live
  keys and values; a channel its ``runtime.hchan`` and buffer; a func value its
  closure (``func closure NAME``, NAME from pclntab; captured variables have no
  type anywhere, so closures are not scanned further); ``unsafe.Pointer`` and
  ``uintptr`` nothing.

Only a pointer to the start of an object's Go value types it, and only when the
type fits the object as an allocation of it would: no pointers in a noscan span
and pointers in a scan span, the slot is the size class the allocation would
have got (src/runtime/sizeclasses.go), and (Go 1.22+, objects up to 512 B) the
type's pointer words are exactly the pointer bits the runtime wrote for the
object when it allocated it (src/runtime/mbitmap.go writeHeapBitsSmall).  A
pointer at a struct's first field or an array's first element fails that check
and types nothing.  An object reached with two types keeps the first and the
conflict is counted (a pointer at the first field of the type it has agrees).  Each object is typed and
scanned once: the work is proportional to objects plus pointers.
"""

from __future__ import annotations

import bisect
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.progress import check_interrupt
from goext_core.runtime.heap import (
    ALLOCATION_HEADERS_SINCE,
    MALLOC_HEADER_SIZE,
    NOT_YET_TYPED,
    PAGE_SIZE,
    HeapObjects,
    heap_objects,
    types_region,
)
from goext_core.runtime.layouts import G_RUNNING, is_dead_status
from goext_core.runtime.stackmaps import live_pointer_slots
from goext_core.values.decode import TypeSystem, frame_variables, is_direct_iface, type_system
from goext_core.values.locations import Location
from goext_core.values.maps import BUCKET_COUNT, CTRL_EMPTY_BIT, MIN_TOP_HASH, is_swiss, slot_layout
from goext_core.values.model import Settings, alignment
from goext_core.values.rtypes import RuntimeTypes
from goext_core.values.types import GoType, Kind

if TYPE_CHECKING:
    from goext_core.program import GoProgram

SOURCE_NONE = 0  # untyped
SOURCE_RUNTIME = 1  # the runtime recorded its type (header / largeType)
SOURCE_PROPAGATED = 2  # typed through a typed pointer
SOURCE_RUNTIME_UNUSABLE = 3  # the runtime recorded something goext cannot use: left untyped, never propagated into
SOURCE_NAMES = {SOURCE_NONE: "untyped", SOURCE_RUNTIME: "runtime", SOURCE_PROPAGATED: "propagated"}

# class_to_size, src/runtime/sizeclasses.go (internal/runtime/gc/sizeclasses.go since
# Go 1.26), the same table in Go 1.19-1.27: object size of each size class.
CLASS_TO_SIZE = (
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384,
    416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072,
    3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336,
    16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
)  # fmt: skip
MAX_TINY_SIZE = 16  # maxTinySize: noscan allocations below it share 16-byte blocks, src/runtime/malloc.go
TINY_SIZE_CLASS = 2  # the 16-byte class tiny blocks come from (src/runtime/mcache.go tinySpanClass)
# hmap{count; flags, B uint8; noverflow; hash0; buckets; oldbuckets; nevacuate; extra},
# src/runtime/map.go (Go 1.19-1.23): B is the byte at 9, buckets words 2 and 3.
_HMAP_B_OFFSET = 9
# Map{used; seed; dirPtr; dirLen; ...}, src/internal/runtime/maps/map.go (Go 1.24+);
# table{used, capacity, growthLeft uint16; localDepth uint8; index int;
# groups{data; lengthMask}}, src/internal/runtime/maps/table.go.
_TABLE_GROUPS_OFFSET = 16
_MAX_GLOBAL_BYTES = 1 << 28  # a package variable larger than this is not scanned
_MAX_PLAN_FLAT = 1024  # plan entries an array may lay out flat; a longer array's elements are looped over
_INTERRUPT_EVERY = 4096
_MAX_EXAMPLES = 5
_RUNTIME_PREFIXES = ("runtime.", "internal/runtime/")
# Go 1.22+: a span of small objects with pointers (at most 512 B: heapBitsInSpan) ends with
# one pointer bit per word of the span (src/runtime/mbitmap.go heapBits, writeHeapBitsSmall:
# bit i%8 of byte i/8 for word i); with the Green Tea GC (Go 1.26's default) 128 bytes of
# inline mark bits (spanInlineMarkBits, src/runtime/mgcmark_greenteagc.go, ending with the
# span class) follow it in spans of objects of 16 B and more.
HEAP_BITS_MAX_OBJECT = 512
INLINE_MARK_BITS_SIZE = 128
INLINE_MARK_BITS_MIN_OBJECT = 16
GREEN_TEA_MARKER = "runtime.(*spanInlineMarkBits).init"  # only in the Green Tea GC's mark code
_SPANS_CACHED = 64  # small spans (at most 80 KiB each) kept read while scanning
_READ_CHUNK = 1 << 22  # bytes of a large object read at once

# Plan entry codes: what the word(s) at an offset of a value are.
PLAN_POINTER, PLAN_SLICE, PLAN_STRING, PLAN_EFACE, PLAN_IFACE, PLAN_MAP, PLAN_CHAN, PLAN_FUNC, PLAN_ARRAY = range(9)
# Shape kinds: how an object typed with a shape is scanned.
_GO, _BUCKET, _GROUP, _HMAP, _SWISS_MAP, _TABLE, _DIRECTORY, _HCHAN, _OPAQUE = range(9)
_ARRAY_KINDS = frozenset({_GO, _BUCKET, _GROUP, _DIRECTORY})  # an object may hold an array of these


@dataclass(eq=False)
class _Shape:
    """What an object is typed as: its element label and size, and how to scan it."""

    label: str
    size: int  # bytes of one element
    kind: int
    has_pointers: bool
    plan: tuple[tuple[int, int, Any], ...] = ()
    go_type: Optional[GoType] = None  # _GO, _HCHAN: the element type; maps: the map type
    exact_size: bool = True  # whether the slot must be the size class of the allocation
    check_scan: bool = True  # whether noscan-ness must match has_pointers


@dataclass
class HeapTypes:
    """The Go type of each heap object where goext knows it."""

    objects: HeapObjects
    type_ids: array  # array("I") per object: 0 untyped, else an index into names
    sources: bytearray  # per object: SOURCE_*
    names: list[str]  # names[0] == ""
    header_spans: bytearray  # per span of objects.spans: 1 when its objects start with an allocation header
    notes: list[str] = field(default_factory=list)
    conflicts: int = 0
    globals_scanned: int = 0
    bits_checked: int = 0  # propagated types confirmed by the runtime's per-word pointer bits

    def type_of(self, index: int) -> Optional[str]:
        type_id = self.type_ids[index]
        return self.names[type_id] if type_id else None

    def source_of(self, index: int) -> str:
        return SOURCE_NAMES.get(self.sources[index], "untyped")

    def value_address(self, index: int) -> int:
        """Where the Go value of object ``index`` starts (after any allocation header)."""
        header = MALLOC_HEADER_SIZE if self.header_spans[self.objects.span_of[index]] else 0
        return self.objects.addresses[index] + header

    def counts(self) -> dict[str, tuple[int, int]]:
        """{type name: (objects, bytes)} of every typed object."""
        tally = Counter(zip(self.type_ids, self.objects.sizes))
        out: dict[str, list[int]] = {}
        for (type_id, size), count in tally.items():
            if type_id:
                row = out.setdefault(self.names[type_id], [0, 0])
                row[0] += count
                row[1] += count * size
        return {name: (row[0], row[1]) for name, row in out.items()}

    def counts_by_source(self) -> dict[str, tuple[int, int]]:
        """{"runtime" | "propagated" | "untyped": (objects, bytes)}."""
        tally = Counter(zip(self.sources, self.objects.sizes))
        out = {name: [0, 0] for name in ("runtime", "propagated", "untyped")}
        for (source, size), count in tally.items():
            row = out[SOURCE_NAMES.get(source, "untyped")]
            row[0] += count
            row[1] += count * size
        return {name: (row[0], row[1]) for name, row in out.items()}

    def propagated_by_slot(self) -> dict[tuple[str, int, int], int]:
        """{(type name, span class, slot size): objects} of the objects typed by propagation."""
        out: Counter[tuple[str, int, int]] = Counter()
        spans = self.objects.spans
        for index, source in enumerate(self.sources):
            if source == SOURCE_PROPAGATED:
                span = spans[self.objects.span_of[index]]
                out[(self.names[self.type_ids[index]], span.spanclass, self.objects.sizes[index])] += 1
        return dict(out)

    def indexes_of(self, name: str, source: Optional[int] = None) -> Iterator[int]:
        """Indexes of the objects typed ``name`` (by ``source`` only, if given), in address order."""
        try:
            wanted = self.names.index(name, 1)
        except ValueError:
            return
        for index, type_id in enumerate(self.type_ids):
            if type_id == wanted and (source is None or self.sources[index] == source):
                yield index


class RecordedTypeLabels:
    """Labels for the type descriptors allocation headers and large spans name."""

    def __init__(self, program: "GoProgram") -> None:
        self.types = RuntimeTypes(program)
        self.region = types_region(program)
        self._labels: dict[tuple[int, int], str] = {}

    def label(self, address: int, payload: int) -> str:
        """The Go type of an object whose recorded type is at ``address`` and whose slot
        holds ``payload`` bytes after any header: ``T``, or ``[]T`` for an array of T
        (a slice's backing array: the header names the element type); labels of
        records goext cannot use start with "untyped"."""
        key = (address, payload)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = self._compute(address, payload)
        return label

    def _compute(self, address: int, payload: int) -> str:
        if address == NOT_YET_TYPED:
            return "untyped: allocation in progress (type not yet recorded)"
        if self.region is not None and not self.region[0] <= address < self.region[1]:
            return f"untyped: a type built at run time, by reflect or the runtime (at {address:#x})"
        try:
            go_type = self.types.type_at(address)
            name = go_type.name
        except GoextError:
            return f"untyped: unreadable type descriptor at {address:#x}"
        if not name or not 0 < go_type.size <= payload:
            return f"untyped: type descriptor at {address:#x} does not fit the object"
        return array_label(name, go_type.size, payload)


def array_label(name: str, element_size: int, payload: int) -> str:
    """``name``, or ``[]name`` when the object's ``payload`` bytes hold several elements."""
    return f"[]{name}" if payload >= 2 * element_size else name


def propagate_types(program: "GoProgram") -> HeapTypes:
    """The types of the heap's objects (memoized until the target runs)."""
    return program.stop_memo("heap_types", lambda: _Propagation(program).run())


def not_in_heap(go_type: GoType, depth: int = 0) -> bool:
    """Whether values of ``go_type`` are never in the Go heap: it embeds sys.NotInHeap
    (src/internal/runtime/sys/nih.go, Go 1.20+), itself or in a field or element."""
    if go_type.name.endswith("sys.NotInHeap"):
        return True
    if depth > 8:
        return False
    if go_type.kind == Kind.STRUCT:
        return any(not_in_heap(member.type, depth + 1) for member in go_type.fields[:64])
    if go_type.kind == Kind.ARRAY and go_type.elem is not None:
        return not_in_heap(go_type.elem, depth + 1)
    return False


def _has_pointers(go_type: GoType, memo: dict[GoType, bool], depth: int = 0) -> bool:
    known = memo.get(go_type)
    if known is not None:
        return known
    kind = go_type.kind
    if kind == Kind.POINTER:
        # A pointer to a not-in-heap type is no pointer to the GC (cmd/compile typebits.Set).
        result = go_type.elem is None or not not_in_heap(go_type.elem)
    elif kind in (Kind.SLICE, Kind.STRING, Kind.INTERFACE, Kind.MAP, Kind.CHAN, Kind.FUNC, Kind.UNSAFE_POINTER):
        result = True
    elif depth > 32:
        result = True  # unknowable here: assume pointers (only relaxes the checks)
    elif kind == Kind.ARRAY:
        result = go_type.length > 0 and go_type.elem is not None and _has_pointers(go_type.elem, memo, depth + 1)
    elif kind == Kind.STRUCT:
        result = any(_has_pointers(member.type, memo, depth + 1) for member in go_type.fields)
    else:
        result = False
    memo[go_type] = result
    return result


def pointer_words(plan: tuple[tuple[int, int, Any], ...], base: int, limit: int) -> Iterator[int]:
    """Offsets of the words a plan reads that the GC counts as pointers, below
    ``limit``: of an interface only its data word (its type or itab word never points
    into the heap, cmd/compile/internal/typebits)."""
    for offset, code, argument in plan:
        at = base + offset
        if at >= limit:
            return
        if code == PLAN_ARRAY:
            inner, stride, length = argument
            for element in range(length):
                if at + element * stride >= limit:
                    break
                yield from pointer_words(inner, at + element * stride, limit)
        elif code in (PLAN_EFACE, PLAN_IFACE):
            if at + 8 < limit:
                yield at + 8
        else:
            yield at


class _Propagation:
    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.target = program.target
        self.minor = program.go_minor or 0
        self.objects = heap_objects(program)
        self.addresses = self.objects.addresses
        self.sizes = self.objects.sizes
        self.span_of = self.objects.span_of
        count = len(self.objects)
        self.type_ids = array("I", bytes(4 * count))
        self.sources = bytearray(count)
        self.scanned = bytearray(count)
        self.header_spans = bytearray(span.has_headers(self.minor) for span in self.objects.spans)
        self.header_bytes = bytes(MALLOC_HEADER_SIZE if header else 0 for header in self.header_spans)
        self.fits: dict[tuple[_Shape, int, int], tuple[int, bool]] = {}
        self.label_shapes: dict[int, _Shape] = {}  # label id -> the first shape given that label
        self.span_memory: dict[int, bytes] = {}  # span index -> its bytes (the last few spans read)
        self.span_bits: dict[int, Optional[int]] = {}  # span index -> its pointer bitmap (None: not checked)
        self.gc_masks: dict[GoType, Optional[int]] = {}  # a type's pointer words, as a bitmask
        self.green_tea = self.minor >= 25 and self._has_function(GREEN_TEA_MARKER)
        self.names: list[str] = [""]
        self.name_ids: dict[str, int] = {}
        self.types: TypeSystem = type_system(program)
        self.runtime_types = RuntimeTypes(program)
        self.bias = self.types.bias
        self.swiss = is_swiss(program)
        self.work: deque[tuple[int, _Shape, int]] = deque()
        self.shapes: dict[GoType, _Shape] = {}
        self.plans: dict[GoType, tuple[tuple[int, int, Any], ...]] = {}
        self.planning: set[GoType] = set()  # plans being built (a type containing itself is corrupt)
        self.pointer_memo: dict[GoType, bool] = {}
        self.dynamic: dict[int, Optional[tuple[_Shape, bool]]] = {}  # type descriptor -> (shape, direct)
        self.itabs: dict[int, int] = {}  # itab -> type descriptor (0: not an itab)
        self.special: dict[tuple[int, str], _Shape] = {}
        self._recorded_shapes: dict[int, _Shape] = {}  # object index -> the runtime's type of it
        self.low = self.addresses[0] if count else 0
        self.high = self.addresses[-1] + self.sizes[-1] if count else 0
        self.conflicts = 0
        self.conflict_examples: list[str] = []
        self.misfits = 0
        self.misfit_examples: list[str] = []
        self.unreadable = 0
        self.steps = 0
        self.bits_checked = 0  # propagated types confirmed by the runtime's pointer bits

    # -- the result -----------------------------------------------------------------------
    def run(self) -> HeapTypes:
        notes: list[str] = []
        self._seed_recorded()
        globals_scanned = self._seed_globals(notes)
        self._drain()
        self._seed_stacks(notes)
        self._drain()
        self._seed_finalizers()
        self._drain()
        # The objects the runtime typed but no typed root reached: their own type is
        # certain, and what they point at is typed after every root's targets.
        for index, source in enumerate(self.sources):
            if source == SOURCE_RUNTIME and not self.scanned[index]:
                shape = self._recorded_shapes.get(index)
                if shape is not None:
                    self._push(index, shape, 1 << 62)
        self._drain()
        if self.conflicts:
            examples = "; ".join(self.conflict_examples)
            notes.append(
                f"{self.conflicts} pointers reached an already typed object with another type "
                f"(kept the first): {examples}"
            )
        if self.misfits:
            examples = "; ".join(self.misfit_examples)
            notes.append(
                f"{self.misfits} typed pointers point at the start of an object their type does not fit "
                f"(a first field or element, or unsafe conversions): those objects were not typed by them: {examples}"
            )
        if self.unreadable:
            notes.append(f"{self.unreadable} typed values could not be read")
        if self.bits_checked:
            notes.append(
                f"{self.bits_checked:,} propagated types matched the runtime's pointer bits of their objects "
                "(objects up to 512 B with pointers, Go 1.22+); a type that does not match is not given"
            )
        notes.append(
            "not typed: objects reached only through unsafe.Pointer or uintptr words, closures' captured "
            "variables, interior pointers, or stack words DWARF does not describe or the GC's stack maps do "
            "not mark live (and without DWARF: through package variables or stacks)"
        )
        return HeapTypes(
            self.objects,
            self.type_ids,
            self.sources,
            self.names,
            self.header_spans,
            notes,
            self.conflicts,
            globals_scanned,
            self.bits_checked,
        )

    def _name_id(self, label: str) -> int:
        found = self.name_ids.get(label)
        if found is None:
            found = self.name_ids[label] = len(self.names)
            self.names.append(label)
        return found

    # -- seeds ------------------------------------------------------------------------------
    def _seed_recorded(self) -> None:
        """Type every object whose type the runtime recorded (Go 1.22+)."""
        if self.minor < ALLOCATION_HEADERS_SINCE or not len(self.objects):
            return
        labels = RecordedTypeLabels(self.program)
        spans = self.objects.spans
        index = 0
        total = len(self.objects)
        while index < total:
            span_index = self.span_of[index]
            end = index
            while end < total and self.span_of[end] == span_index:
                end += 1
            span = spans[span_index]
            check_interrupt("typing heap objects")
            if span.noscan:
                index = end
                continue
            if span.sizeclass == 0:
                for slot in range(index, end):
                    self._seed_one(slot, span.large_type or NOT_YET_TYPED, self.sizes[slot], labels)
            elif self.header_spans[span_index]:
                try:
                    memory = self.target.read(span.base, span.nelems * span.elemsize)
                except MemoryReadError:
                    for slot in range(index, end):
                        self.sources[slot] = SOURCE_RUNTIME_UNUSABLE
                    index = end
                    continue
                for slot in range(index, end):
                    at = self.addresses[slot] - span.base
                    header = int.from_bytes(memory[at : at + 8], "little") or NOT_YET_TYPED
                    self._seed_one(slot, header, self.sizes[slot] - MALLOC_HEADER_SIZE, labels)
            index = end

    def _seed_one(self, index: int, type_address: int, payload: int, labels: RecordedTypeLabels) -> None:
        label = labels.label(type_address, payload)
        if label.startswith("untyped"):
            self.sources[index] = SOURCE_RUNTIME_UNUSABLE
            return
        self.sources[index] = SOURCE_RUNTIME
        self.type_ids[index] = self._name_id(label)
        dynamic = self._dynamic_shape(type_address)
        if dynamic is not None:
            self._recorded_shapes[index] = dynamic[0]

    def _seed_globals(self, notes: list[str]) -> int:
        """Scan every package-level variable DWARF describes."""
        dwarf = self.types.dwarf
        if dwarf is None:
            notes.append("no DWARF: package variables' types unknown; only the runtime's records seed the types")
            return 0
        scanned = 0
        try:
            variables = dwarf.all_globals()
        except GoextError as exc:
            notes.append(f"package variables: DWARF unreadable ({exc})")
            return 0
        for number, (_, address, type_offset) in enumerate(variables):
            if number % 256 == 0:
                check_interrupt("typing heap objects: package variables")
            try:
                go_type = dwarf.type_at(type_offset)
            except GoextError:
                continue
            if not 0 < go_type.size <= _MAX_GLOBAL_BYTES or not self._has_pointers(go_type):
                continue
            try:
                data = self.target.read(address + self.bias, go_type.size)
            except MemoryReadError:
                self.unreadable += 1
                continue
            scanned += 1
            self._scan_value(self._plan(go_type), data, 0, go_type.size, 1)
            self._drain()
        return scanned

    def _seed_stacks(self, notes: list[str]) -> None:
        """Scan the DWARF locals of every goroutine's frames, only their words the GC's
        stack maps mark live at the frame's pc (a dead slot may point at a freed and
        reused object)."""
        if self.types.dwarf is None:
            return
        try:
            records = self.program.goroutines()
        except GoextError as exc:
            notes.append(f"goroutine stacks not used: {exc}")
            return
        settings = Settings(max_elements=0, max_string=0, max_depth=0, follow_pointers=False, max_values=1)
        skipped = 0
        for record in records:
            if is_dead_status(record.status) or not record.stack_lo < record.stack_hi:
                continue
            check_interrupt("typing heap objects: goroutine stacks")
            try:
                frames = self.program.stack(record).frames
            except GoextError:
                skipped += 1
                continue
            for number, frame in enumerate(frames):
                physical = number
                while physical + 1 < len(frames) and frames[physical].inlined:
                    physical += 1
                if frame.stack != "goroutine" or (physical == 0 and record.plain_status == G_RUNNING):
                    continue  # the frame a running goroutine executes has no stack map at its pc
                if frame.function.startswith(_RUNTIME_PREFIXES):
                    continue  # the runtime's own frames: little user data, and slow to look up in DWARF
                live = live_pointer_slots(self.program, frames[physical])
                if live is None:
                    skipped += 1
                    continue
                locations: dict[str, Location] = {}
                try:
                    variables = frame_variables(
                        self.program, record, number, settings, locations=locations, split_slots=True
                    )
                except GoextError:
                    continue  # no DWARF for this function (assembly, the runtime's)
                self._scan_locals(variables, locations, set(live))
        if skipped:
            notes.append(f"{skipped} goroutine frames without a stack map (interrupted, or unreadable): not used")

    def _seed_finalizers(self) -> None:
        """Type each object with a finalizer as its finalizer's special record says
        (specialfinalizer.ot, the *T SetFinalizer was given: src/runtime/mheap.go), with
        the program's runtime layouts (DWARF, else the tables per Go release, so
        stripped binaries too): the finalizer keeps the object, nothing else may."""
        structs = self.program.layouts.structs
        span_layout = structs.get("runtime.mspan")
        special_layout = structs.get("runtime.special")
        finalizer_layout = structs.get("runtime.specialfinalizer")
        if span_layout is None or special_layout is None or finalizer_layout is None:
            return
        if not (
            span_layout.has("specials")
            and all(special_layout.has(name) for name in ("next", "offset", "kind"))
            and finalizer_layout.has("ot")
        ):
            return
        specials_at = span_layout.offset("specials")
        next_at, offset_at, kind_at = (special_layout.offset(name) for name in ("next", "offset", "kind"))
        offset_size = special_layout.field_size("offset")
        ot_at = finalizer_layout.offset("ot")
        # _KindSpecialFinalizer, src/runtime/mheap.go: 1 until Go 1.24, 2 since 1.25.
        finalizer_kind = 2 if self.minor >= 25 else 1
        for span in self.objects.spans:
            check_interrupt("typing heap objects: finalizers")
            try:
                special = self.target.read_ptr(span.address + specials_at)
                seen: set[int] = set()
                while special and special not in seen and len(seen) <= span.nelems + 16:
                    seen.add(special)
                    record = self.target.read(special, special_layout.size)
                    if record[kind_at] == finalizer_kind:
                        offset = int.from_bytes(record[offset_at : offset_at + offset_size], "little")
                        self._reach_finalized(span.base + offset, self.target.read_ptr(special + ot_at))
                    special = int.from_bytes(record[next_at : next_at + 8], "little")
            except MemoryReadError:
                self.unreadable += 1

    def _reach_finalized(self, address: int, pointer_type: int) -> None:
        try:
            descriptor = self.runtime_types.type_at(pointer_type)
            elem = descriptor.elem if descriptor.kind == Kind.POINTER else None
        except (GoextError, ValueError, IndexError):
            return
        if elem is not None and elem.size > 0:
            self._reach(address, self._shape(elem), 1)

    def _scan_locals(self, variables: list[Any], locations: dict[str, Location], live: set[int]) -> None:
        """Scan the locals of one frame: only their words in stack memory the GC's map marks live."""
        for name, value, _ in variables:
            location = locations.get(name)
            go_type = value.go_type
            if location is None or location.optimized_out or go_type is None:
                continue
            if value.details.get("heap"):
                # "&x": the location holds the pointer to the variable the compiler moved to the heap.
                plan: tuple[tuple[int, int, Any], ...] = ((0, PLAN_POINTER, self._shape(go_type)),)
                size = 8
            elif self._has_pointers(go_type):
                plan, size = self._plan(go_type), go_type.size
            else:
                continue
            if location.address is not None:
                if location.address % 8:
                    continue
                try:
                    data = bytearray(self.target.read(location.address, size))
                except MemoryReadError:
                    self.unreadable += 1
                    continue
                placed: tuple[tuple[int, int, int], ...] = ((0, location.address, size),)
            elif location.memory_pieces:
                data = bytearray(location.data[:size].ljust(size, b"\0"))
                placed = location.memory_pieces
            else:
                continue  # registers or constants: no stack map speaks for them
            # A pointer word the map does not mark live reads as nil (scalars are never in a map).
            for at in pointer_words(plan, 0, size):
                if not any(
                    offset <= at < offset + length and (address + at - offset) in live
                    for offset, address, length in placed
                ):
                    data[at : at + 8] = bytes(8)
            self._scan_value(plan, bytes(data), 0, size, 1)
            self._drain()

    # -- shapes and plans ---------------------------------------------------------------------
    def _has_pointers(self, go_type: GoType) -> bool:
        return _has_pointers(go_type, self.pointer_memo)

    def _shape(self, go_type: GoType) -> _Shape:
        shape = self.shapes.get(go_type)
        if shape is None:
            label = self._runtime_name(go_type)
            shape = _Shape(label, go_type.size, _GO, self._has_pointers(go_type), go_type=go_type)
            self.shapes[go_type] = shape
        return shape

    def _runtime_name(self, go_type: GoType) -> str:
        """The runtime's spelling of a type's name (the package name, not its path: as
        the runtime's records are labelled), else DWARF's."""
        if go_type.source == "dwarf" and go_type.runtime_type:
            try:
                return self.runtime_types.type_name(go_type.runtime_type + self.bias) or go_type.name
            except (GoextError, ValueError, IndexError):
                return go_type.name
        return go_type.name

    def _plan(self, go_type: GoType) -> tuple[tuple[int, int, Any], ...]:
        plan = self.plans.get(go_type)
        if plan is None:
            if go_type in self.planning:
                return ()  # a type containing itself: corrupt type data
            self.planning.add(go_type)
            entries: list[tuple[int, int, Any]] = []
            try:
                self._add_plan(go_type, 0, entries, 0)
            finally:
                self.planning.discard(go_type)
            plan = self.plans[go_type] = tuple(entries)
        return plan

    def _add_plan(self, go_type: GoType, offset: int, out: list[tuple[int, int, Any]], depth: int) -> None:
        if depth > 32 or offset % 8:
            return  # pointer words are 8-aligned; deeper nesting is not Go
        kind = go_type.kind
        if kind == Kind.POINTER:
            if go_type.elem is not None and go_type.elem.size > 0:
                out.append((offset, PLAN_POINTER, self._shape(go_type.elem)))
        elif kind == Kind.SLICE:
            if go_type.elem is not None and go_type.elem.size > 0:
                out.append((offset, PLAN_SLICE, self._shape(go_type.elem)))
        elif kind == Kind.STRING:
            out.append((offset, PLAN_STRING, None))
        elif kind == Kind.INTERFACE:
            out.append((offset, PLAN_EFACE if go_type.is_empty_interface else PLAN_IFACE, go_type))
        elif kind == Kind.MAP:
            out.append((offset, PLAN_MAP, go_type))
        elif kind == Kind.CHAN:
            out.append((offset, PLAN_CHAN, go_type))
        elif kind == Kind.FUNC:
            out.append((offset, PLAN_FUNC, None))
        elif kind == Kind.ARRAY:
            elem = go_type.elem
            if elem is None or elem.size <= 0 or go_type.length <= 0 or not self._has_pointers(elem):
                return
            inner = self._plan(elem)
            if not inner:
                return
            if go_type.length * len(inner) <= _MAX_PLAN_FLAT:
                for position in range(go_type.length):
                    base = offset + position * elem.size
                    out.extend((base + at, code, argument) for at, code, argument in inner)
            else:
                out.append((offset, PLAN_ARRAY, (inner, elem.size, go_type.length)))
        elif kind == Kind.STRUCT:
            for member in go_type.fields:
                if self._has_pointers(member.type):
                    self._add_plan(member.type, offset + member.offset, out, depth + 1)

    def _special_shape(self, kind: int, go_type: Optional[GoType]) -> Optional[_Shape]:
        """The shapes of the runtime's map and channel structures for one map or chan type."""
        key = (id(go_type), str(kind))
        shape = self.special.get(key)
        if shape is not None:
            return shape
        if kind == _HCHAN and go_type is not None and go_type.elem is not None:
            shape = _Shape("runtime.hchan", 8, _HCHAN, True, go_type=go_type.elem, exact_size=False, check_scan=False)
        elif kind in (_BUCKET, _GROUP) and go_type is not None and go_type.key is not None and go_type.elem is not None:
            key_type, elem_type = go_type.key, go_type.elem
            layout = slot_layout(
                key_type.size, alignment(key_type, 8), elem_type.size, alignment(elem_type, 8), 8, kind == _GROUP
            )
            pointers = self._has_pointers(key_type) or self._has_pointers(elem_type)
            family = "map.group" if kind == _GROUP else "map.bucket"
            label = f"{family}[{self._shape(key_type).label}]{self._shape(elem_type).label}"
            shape = _Shape(label, layout[3], kind, pointers, (), go_type, exact_size=False)
            shape.plan = ((0, 0, layout),)
        elif kind == _HMAP and go_type is not None:
            shape = _Shape("runtime.hmap", 48, _HMAP, True, go_type=go_type, exact_size=False)
        elif kind == _SWISS_MAP and go_type is not None:
            shape = _Shape("maps.Map", 32, _SWISS_MAP, True, go_type=go_type, exact_size=False)
        elif kind == _TABLE and go_type is not None:
            shape = _Shape("maps.table", 32, _TABLE, True, go_type=go_type, exact_size=False)
        elif kind == _DIRECTORY and go_type is not None:
            shape = _Shape("*maps.table", 8, _DIRECTORY, True, go_type=go_type, exact_size=False)
        if shape is not None:
            self.special[key] = shape
        return shape

    def _closure_shape(self, name: str) -> _Shape:
        key = (0, "closure " + name)
        shape = self.special.get(key)
        if shape is None:
            shape = self.special[key] = _Shape(
                f"func closure {name}", 8, _OPAQUE, True, exact_size=False, check_scan=False
            )
        return shape

    def _opaque_shape(self, label: str, has_pointers: bool) -> _Shape:
        key = (0, label)
        shape = self.special.get(key)
        if shape is None:
            shape = self.special[key] = _Shape(label, 1, _OPAQUE, has_pointers, exact_size=False)
        return shape

    def _dynamic_shape(self, type_address: int) -> Optional[tuple[_Shape, bool]]:
        """(shape, stored directly in an interface) of the type descriptor at ``type_address``."""
        if type_address in self.dynamic:
            return self.dynamic[type_address]
        result: Optional[tuple[_Shape, bool]] = None
        try:
            # The runtime's own metadata: exact, present without DWARF, and cheaper than
            # DWARF's index of every type.
            descriptor = self.runtime_types.type_at(type_address)
            result = (self._shape(descriptor), is_direct_iface(descriptor))
        except (GoextError, ValueError, IndexError):
            result = None
        self.dynamic[type_address] = result
        return result

    # -- the worklist -----------------------------------------------------------------------------
    def _push(self, index: int, shape: _Shape, count: int) -> None:
        self.scanned[index] = 1
        self.work.append((index, shape, count))

    def _drain(self) -> None:
        work = self.work
        while work:
            index, shape, count = work.popleft()
            self.steps += 1
            if self.steps % _INTERRUPT_EVERY == 0:
                check_interrupt("typing heap objects")
            self._scan_object(index, shape, count)

    def _reach(self, pointer: int, shape: _Shape, count: int) -> None:
        """A typed pointer to ``count`` elements of ``shape`` (1 << 62: as many as the slot holds)."""
        if not self.low <= pointer < self.high:
            return
        index = bisect.bisect_right(self.addresses, pointer) - 1
        span_index = self.span_of[index]
        if pointer != self.addresses[index] + self.header_bytes[span_index]:
            return  # interior (types only a part of the object), or between objects
        source = self.sources[index]
        if source == SOURCE_RUNTIME_UNUSABLE:
            return
        key = (shape, span_index, count)
        fitted = self.fits.get(key)
        if fitted is None:
            fitted = self.fits[key] = self._fit(shape, count, span_index)
        label_id, scan = fitted
        if source == SOURCE_NONE:
            if not label_id:
                self.misfits += 1
                return
            if scan and shape.kind == _GO and not self._heap_bits_agree(index, span_index, shape, count):
                self.misfits += 1
                return
            self.type_ids[index] = label_id
            self.sources[index] = SOURCE_PROPAGATED
            if scan:
                self._push(index, shape, count)
            return
        if not self.scanned[index]:
            # Typed by the runtime, reached from a root: scan it with its own type.
            recorded = self._recorded_shapes.get(index)
            if recorded is not None:
                self._push(index, recorded, 1 << 62)
        if label_id and self.type_ids[index] != label_id and not self._first_field(index, shape):
            self._conflict(index, label_id)

    def _label(self, shape: _Shape, payload: int) -> str:
        if shape.kind in _ARRAY_KINDS:
            return array_label(shape.label, shape.size, payload)
        return shape.label

    def _fit(self, shape: _Shape, count: int, span_index: int) -> tuple[int, bool]:
        """(label id, whether to scan) of an object of span ``span_index`` typed as
        ``count`` elements of ``shape``; label id 0 when they do not fit it."""
        span = self.objects.spans[span_index]
        size = span.size if span.sizeclass == 0 else span.elemsize
        header = self.header_bytes[span_index]
        payload = size - header
        scan = shape.has_pointers and not span.noscan
        if shape.kind == _OPAQUE and not shape.check_scan:
            return self._name_id(shape.label), False
        if shape.check_scan and shape.has_pointers == span.noscan:
            self._misfit(shape, size, "noscan" if span.noscan else "with pointers")
            return 0, False
        if span.noscan and span.sizeclass == TINY_SIZE_CLASS and shape.size < MAX_TINY_SIZE:
            # Noscan values under 16 B share a tiny-allocator block (src/runtime/malloc.go).
            return self._name_id("tiny block"), False
        if shape.kind == _OPAQUE:
            return self._name_id(shape.label), False
        wanted = shape.size * (1 if count >= 1 << 62 else count)
        if not 0 < shape.size <= payload or wanted > payload:
            self._misfit(shape, size, "too small")
            return 0, False
        if shape.exact_size and count < 1 << 62:
            allocated = wanted + header
            if span.sizeclass == 0:
                fits = size - PAGE_SIZE < allocated <= size
            else:
                fits = CLASS_TO_SIZE[span.sizeclass - 1] < allocated <= size
            if not fits:
                self._misfit(shape, size, f"{count} x {shape.size} B")
                return 0, False
        label_id = self._name_id(self._label(shape, payload))
        self.label_shapes.setdefault(label_id, shape)
        return label_id, scan

    def _first_field(self, index: int, shape: _Shape) -> bool:
        """Whether ``shape`` is the type of the first field (or element) of the type
        object ``index`` already has: a pointer to it agrees with that type."""
        recorded = self._recorded_shapes.get(index) or self.label_shapes.get(self.type_ids[index])
        outer = recorded.go_type if recorded is not None and recorded.kind == _GO else None
        for _ in range(8):
            if outer is None:
                return False
            if outer.kind == Kind.STRUCT:
                first = outer.fields[0] if outer.fields else None
                outer = first.type if first is not None and first.offset == 0 else None
            elif outer.kind == Kind.ARRAY:
                outer = outer.elem
            else:
                return False
            if outer is not None and self._shape(outer).label == shape.label:
                return True
        return False

    def _misfit(self, shape: _Shape, size: int, why: str) -> None:
        self.misfits += 1
        if len(self.misfit_examples) < _MAX_EXAMPLES:
            example = f"{shape.label} in a {size} B slot ({why})"
            if example not in self.misfit_examples:
                self.misfit_examples.append(example)

    def _conflict(self, index: int, label_id: int) -> None:
        self.conflicts += 1
        example = f"{self.addresses[index]:#x} {self.names[self.type_ids[index]]} reached as {self.names[label_id]}"
        if len(self.conflict_examples) < _MAX_EXAMPLES and example not in self.conflict_examples:
            self.conflict_examples.append(example)

    # -- scanning ------------------------------------------------------------------------------------
    def _scan_object(self, index: int, shape: _Shape, count: int) -> None:
        header = MALLOC_HEADER_SIZE if self.header_spans[self.span_of[index]] else 0
        start = self.addresses[index] + header
        payload = self.sizes[index] - header
        elements = min(count, payload // shape.size) if shape.size else 0
        if elements <= 0:
            return
        kind = shape.kind
        if kind == _GO and shape.go_type is not None:
            # A large array in pieces of whole elements: a bounded read at a time.
            plan = self._plan(shape.go_type)
            step = max(1, _READ_CHUNK // shape.size)
            for first in range(0, elements, step):
                chunk = min(step, elements - first)
                try:
                    data = self._read_object(index, start + first * shape.size, chunk * shape.size)
                except MemoryReadError:
                    self.unreadable += 1
                    return
                self._scan_value(plan, data, 0, shape.size, chunk)
            return
        try:
            data = self._read_object(index, start, elements * shape.size)
        except MemoryReadError:
            self.unreadable += 1
            return
        if kind in (_BUCKET, _GROUP):
            self._scan_buckets(shape, data, start, elements)
        elif kind == _HMAP:
            self._scan_hmap(shape, data)
        elif kind == _SWISS_MAP:
            self._scan_swiss_map(shape, data)
        elif kind == _TABLE:
            group = self._special_shape(_GROUP, shape.go_type)
            if group is not None and len(data) >= _TABLE_GROUPS_OFFSET + 16:
                groups = int.from_bytes(data[_TABLE_GROUPS_OFFSET : _TABLE_GROUPS_OFFSET + 8], "little")
                mask = int.from_bytes(data[_TABLE_GROUPS_OFFSET + 8 : _TABLE_GROUPS_OFFSET + 16], "little")
                if mask < 1 << 32:
                    self._reach(groups, group, mask + 1)
        elif kind == _DIRECTORY:
            table = self._special_shape(_TABLE, shape.go_type)
            if table is not None:
                for at in range(0, len(data) - 7, 8):
                    self._reach(int.from_bytes(data[at : at + 8], "little"), table, 1)
        elif kind == _HCHAN:
            self._scan_hchan(shape, start)

    def _read_object(self, index: int, start: int, size: int) -> bytes:
        """``size`` bytes at ``start`` in object ``index``: small spans are read whole
        once (objects found together are mostly neighbours), large objects directly."""
        span_index = self.span_of[index]
        span = self.objects.spans[span_index]
        if span.sizeclass == 0:
            return self.target.read(start, size)
        offset = start - span.base
        return self._span_bytes(span_index)[offset : offset + size]

    def _span_bytes(self, span_index: int) -> bytes:
        memory = self.span_memory.get(span_index)
        if memory is None:
            if len(self.span_memory) >= _SPANS_CACHED:
                del self.span_memory[next(iter(self.span_memory))]
            span = self.objects.spans[span_index]
            memory = self.span_memory[span_index] = self.target.read(span.base, span.size)
        return memory

    def _has_function(self, name: str) -> bool:
        try:
            return self.program.pclntab.func_by_name(name) is not None
        except (GoextError, ValueError, IndexError):
            return False

    # -- the runtime's pointer bits (Go 1.22+) ------------------------------------------------
    def _heap_bits_agree(self, index: int, span_index: int, shape: _Shape, count: int) -> bool:
        """Whether ``count`` elements of ``shape`` have their pointers exactly where the
        runtime's pointer bits of object ``index`` say (True when there are no bits to check)."""
        if span_index in self.span_bits:
            bitmap = self.span_bits[span_index]
        else:
            bitmap = self.span_bits[span_index] = self._read_span_bits(span_index)
        if bitmap is None or shape.go_type is None:
            return True
        span = self.objects.spans[span_index]
        words = span.elemsize // 8
        element = self._gc_mask(shape.go_type)
        elements = min(count, span.elemsize // shape.size) if shape.size else 0
        if element is None or shape.size % 8 or elements <= 0:
            return True
        stride = shape.size // 8
        expected = 0
        for number in range(elements):
            expected |= element << (number * stride)
        actual = (bitmap >> ((self.addresses[index] - span.base) // 8)) & ((1 << words) - 1)
        if actual != expected:
            self._misfit(shape, span.elemsize, "the runtime's pointer bits differ")
            return False
        self.bits_checked += 1
        return True

    def _read_span_bits(self, span_index: int) -> Optional[int]:
        span = self.objects.spans[span_index]
        if (
            self.minor < ALLOCATION_HEADERS_SINCE
            or span.noscan
            or span.sizeclass == 0
            or span.elemsize > HEAP_BITS_MAX_OBJECT
        ):
            return None
        try:
            memory = self._span_bytes(span_index)
        except MemoryReadError:
            return None
        end = len(memory)
        if self.green_tea and span.elemsize >= INLINE_MARK_BITS_MIN_OBJECT:
            if memory[end - 1] != span.spanclass:
                return None  # no inline mark bits where expected: do not read a bitmap beside them
            end -= INLINE_MARK_BITS_SIZE
        size = span.size // 64  # one bit per 8-byte word
        return int.from_bytes(memory[end - size : end], "little")

    def _gc_mask(self, go_type: GoType, depth: int = 0) -> Optional[int]:
        """Bit i set for each pointer word i of a value of ``go_type`` (as the GC sees it,
        unsafe.Pointer included); None for a type this check cannot judge."""
        if go_type in self.gc_masks:
            return self.gc_masks[go_type]
        kind = go_type.kind
        mask: Optional[int] = 0
        if kind == Kind.POINTER:
            mask = 1 if self._has_pointers(go_type) else 0
        elif kind in (Kind.UNSAFE_POINTER, Kind.MAP, Kind.CHAN, Kind.FUNC, Kind.STRING, Kind.SLICE):
            mask = 1
        elif kind == Kind.INTERFACE:
            mask = 2  # only the data word: the type or itab word is never a heap pointer (typebits.Set)
        elif depth > 16 or go_type.size > HEAP_BITS_MAX_OBJECT:
            mask = None
        elif kind == Kind.ARRAY:
            elem = go_type.elem
            inner = self._gc_mask(elem, depth + 1) if elem is not None else None
            if elem is None or inner is None or (inner and elem.size % 8):
                mask = None
            else:
                total = 0
                for number in range(go_type.length if inner else 0):
                    total |= inner << (number * elem.size // 8)
                mask = total
        elif kind == Kind.STRUCT:
            total = 0
            for member in go_type.fields:
                inner = self._gc_mask(member.type, depth + 1)
                if inner is None or (inner and member.offset % 8):
                    return self._remember_mask(go_type, None)
                total |= inner << (member.offset // 8)
            mask = total
        return self._remember_mask(go_type, mask)

    def _remember_mask(self, go_type: GoType, mask: Optional[int]) -> Optional[int]:
        self.gc_masks[go_type] = mask
        return mask

    def _scan_value(
        self, plan: tuple[tuple[int, int, Any], ...], data: bytes, base: int, stride: int, count: int
    ) -> None:
        """Follow the pointers of ``count`` values laid out every ``stride`` bytes from ``base`` in ``data``."""
        if not plan:
            return
        words = memoryview(data)[: len(data) // 8 * 8].cast("Q") if len(data) >= 8 else None
        if words is None:
            return
        limit = len(words)
        if stride == 8 and base == 0 and len(plan) == 1 and plan[0][0] == 0 and plan[0][1] == PLAN_POINTER:
            # An array of plain pointers (a []*T backing array): the common large case.
            reach, shape = self._reach, plan[0][2]
            for chunk in range(0, min(count, limit), _INTERRUPT_EVERY):
                check_interrupt("typing heap objects")
                for word in words[chunk : min(chunk + _INTERRUPT_EVERY, count, limit)]:
                    if word:
                        reach(word, shape, 1)
            return
        for element in range(count):
            if element and element % _INTERRUPT_EVERY == 0:
                check_interrupt("typing heap objects")
            at = base + element * stride
            for offset, code, argument in plan:
                word_index = (at + offset) >> 3
                if word_index >= limit:
                    break
                word = words[word_index]
                if code == PLAN_POINTER:
                    if word:
                        self._reach(word, argument, 1)
                elif code == PLAN_STRING:
                    if word and word_index + 1 < limit and words[word_index + 1]:
                        self._reach_string(word, words[word_index + 1])
                elif code == PLAN_SLICE:
                    if word and word_index + 2 < limit and words[word_index + 2]:
                        capacity = words[word_index + 2]
                        if capacity < 1 << 40:
                            self._reach(word, argument, capacity)
                elif code in (PLAN_EFACE, PLAN_IFACE):
                    if word and word_index + 1 < limit:
                        self._reach_interface(argument, code == PLAN_EFACE, word, words[word_index + 1])
                elif code == PLAN_MAP:
                    if word:
                        map_shape = self._special_shape(_SWISS_MAP if self.swiss else _HMAP, argument)
                        if map_shape is not None:
                            self._reach(word, map_shape, 1)
                elif code == PLAN_CHAN:
                    if word:
                        chan_shape = self._special_shape(_HCHAN, argument)
                        if chan_shape is not None:
                            self._reach(word, chan_shape, 1)
                elif code == PLAN_FUNC:
                    if word:
                        self._reach_closure(word)
                elif code == PLAN_ARRAY:
                    inner, inner_stride, length = argument
                    self._scan_value(inner, data, at + offset, inner_stride, length)

    def _reach_string(self, pointer: int, length: int) -> None:
        if length >= 1 << 40:
            return
        shape = self._opaque_shape("string data", False)
        index = self._object_at(pointer)
        if index < 0:
            return
        span = self.objects.spans[self.span_of[index]]
        if self.sizes[index] < length:
            return
        if span.noscan and span.sizeclass == TINY_SIZE_CLASS and length < MAX_TINY_SIZE:
            self._reach(pointer, self._opaque_shape("tiny block", False), 1)
        else:
            self._reach(pointer, shape, 1)

    def _object_at(self, pointer: int) -> int:
        if not self.low <= pointer < self.high:
            return -1
        return self.objects.find(pointer)

    def _reach_interface(self, static: GoType, empty: bool, first: int, data_word: int) -> None:
        type_address = first
        if not empty:
            type_address = self.itabs.get(first, -1)
            if type_address < 0:
                type_address = self._itab_type(static, first)
                self.itabs[first] = type_address
        if not type_address:
            return
        dynamic = self._dynamic_shape(type_address)
        if dynamic is None:
            return
        shape, direct = dynamic
        if direct:
            if shape.go_type is not None:
                self._scan_value(self._plan(shape.go_type), data_word.to_bytes(8, "little"), 0, 8, 1)
        elif data_word:
            self._reach(data_word, shape, 1)

    def _itab_type(self, static: GoType, itab: int) -> int:
        """The dynamic type of an itab (src/internal/abi/iface.go ITab{Inter, Type, ...}),
        0 when ``itab`` is no itab of ``static``."""
        try:
            words = self.target.read(itab, 16)
        except MemoryReadError:
            return 0
        inter = int.from_bytes(words[0:8], "little")
        if static.runtime_type:
            expected = static.runtime_type + (self.bias if static.source == "dwarf" else 0)
            if inter != expected:
                return 0
        return int.from_bytes(words[8:16], "little")

    def _reach_closure(self, closure: int) -> None:
        index = self._object_at(closure)
        if index < 0 or self.sources[index] != SOURCE_NONE or self.addresses[index] != closure:
            return
        try:
            name = self.program.func_name(self.target.read_ptr(closure))
        except GoextError:
            name = None
        if name:
            self._reach(closure, self._closure_shape(name), 1)

    def _scan_buckets(self, shape: _Shape, data: bytes, start: int, count: int) -> None:
        map_type = shape.go_type
        if map_type is None or map_type.key is None or map_type.elem is None:
            return
        key_type, elem_type = map_type.key, map_type.elem
        key_stride, elem_offset, elem_stride, unit, key_indirect, elem_indirect = shape.plan[0][2]
        key_plan = self._plan(key_type) if key_indirect or self._has_pointers(key_type) else ()
        elem_plan = self._plan(elem_type) if elem_indirect or self._has_pointers(elem_type) else ()
        key_shape, elem_shape = self._shape(key_type), self._shape(elem_type)
        swiss = shape.kind == _GROUP
        for bucket in range(count):
            base = bucket * unit
            block = data[base : base + unit]
            if len(block) < unit:
                return
            for slot in range(BUCKET_COUNT):
                if swiss:
                    if block[slot] & CTRL_EMPTY_BIT:
                        continue
                    key_at = 8 + slot * key_stride
                    elem_at = key_at + elem_offset
                else:
                    if block[slot] < MIN_TOP_HASH:
                        continue
                    key_at = BUCKET_COUNT + slot * key_stride
                    elem_at = elem_offset + slot * elem_stride
                self._scan_cell(block, key_at, key_indirect, key_plan, key_shape)
                self._scan_cell(block, elem_at, elem_indirect, elem_plan, elem_shape)
            if not swiss:
                overflow = int.from_bytes(block[unit - 8 : unit], "little")
                if overflow:
                    self._reach(overflow, shape, 1)

    def _scan_cell(
        self, block: bytes, at: int, indirect: bool, plan: tuple[tuple[int, int, Any], ...], shape: _Shape
    ) -> None:
        if indirect:
            pointer = int.from_bytes(block[at : at + 8], "little")
            if pointer:
                self._reach(pointer, shape, 1)
        elif plan:
            self._scan_value(plan, block[at : at + shape.size], 0, shape.size, 1)

    def _scan_hmap(self, shape: _Shape, data: bytes) -> None:
        if len(data) < 32:
            return
        log2_buckets = data[_HMAP_B_OFFSET]
        if log2_buckets > 40:
            return
        bucket = self._special_shape(_BUCKET, shape.go_type)
        if bucket is None:
            return
        self._reach(int.from_bytes(data[16:24], "little"), bucket, 1 << 62)
        self._reach(int.from_bytes(data[24:32], "little"), bucket, 1 << 62)

    def _scan_swiss_map(self, shape: _Shape, data: bytes) -> None:
        if len(data) < 32:
            return
        dir_ptr = int.from_bytes(data[16:24], "little")
        dir_len = int.from_bytes(data[24:32], "little", signed=True)
        if not dir_ptr or not 0 <= dir_len <= 1 << 20:
            return
        if dir_len == 0:
            group = self._special_shape(_GROUP, shape.go_type)
            if group is not None:
                self._reach(dir_ptr, group, 1)
            return
        directory = self._special_shape(_DIRECTORY, shape.go_type)
        if directory is not None:
            self._reach(dir_ptr, directory, dir_len)

    def _scan_hchan(self, shape: _Shape, start: int) -> None:
        elem = shape.go_type
        layout = self.program.layouts.structs.get("runtime.hchan")
        if elem is None or layout is None or not (layout.has("buf") and layout.has("dataqsiz")):
            return
        if not self._has_pointers(elem) or elem.size <= 0:
            return  # a pointer-free buffer is allocated with the hchan (src/runtime/chan.go makechan)
        try:
            capacity = self.target.read_ptr(start + layout.offset("dataqsiz"))
            buffer = self.target.read_ptr(start + layout.offset("buf"))
        except MemoryReadError:
            self.unreadable += 1
            return
        if 0 < capacity < 1 << 32 and buffer:
            self._reach(buffer, self._shape(elem), capacity)


__all__ = ["HeapTypes", "RecordedTypeLabels", "array_label", "not_in_heap", "pointer_words", "propagate_types"]
