"""Pointer layouts of heap objects on synthetic memory, one test per heap-bitmap era:
Go 1.22+ span heap bits (with and without Green Tea's inline mark bits), allocation
headers (tiled arrays, on-demand masks), Go 1.20-1.21's 1-bit arena bitmap with
noMorePtrs, Go 1.19's 2-bit bitmap; and the graph questions on a hand-made graph."""

from __future__ import annotations

from array import array
from types import SimpleNamespace
from typing import Optional

import pytest

from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.heap import ARENA_BASE_OFFSET, ARENA_BYTES, PAGE_SIZE, HeapGeometry, HeapObjects, Span
from goext_core.runtime.heapgraph import (
    SPAN_INLINE_MARK_BITS_BYTES,
    TFLAG_GC_MASK_ON_DEMAND,
    HeapGraph,
    HeapRoot,
    ObjectScanner,
    RootFinder,
    bit_positions,
    compact_nibbles,
    reachable,
    referrers,
    reverse_edges,
    shortest_chains,
    tile_type_mask,
    tiled_words,
    two_bit_pointer_mask,
)
from goext_core.runtime.layouts import RuntimeLayouts

from .fakes import FakeTarget

pytestmark = pytest.mark.unit

BASE = 0xC000000000  # the first arena of an amd64 heap
TYPE = 0x500000  # where the synthetic type descriptors live
MASK = 0x510000


def _span(spanclass: int, elemsize: int, npages: int = 1, large_type: int = 0) -> Span:
    nelems = 1 if spanclass >> 1 == 0 else (npages * PAGE_SIZE) // elemsize
    return Span(0x1000, BASE, npages, spanclass, elemsize, nelems, nelems, nelems, 0, 0, large_type, 0x2000)


def _objects(span: Span, slots: list[int]) -> HeapObjects:
    objects = HeapObjects()
    objects.spans.append(span)
    size = span.npages * PAGE_SIZE if span.sizeclass == 0 else span.elemsize
    for slot in slots:
        objects.addresses.append(span.base + slot * span.elemsize)
        objects.sizes.append(size)
        objects.span_of.append(0)
    return objects


def _program(minor: int, memory: dict[int, bytes], arena_layout: Optional[StructLayout] = None) -> SimpleNamespace:
    structs = {"runtime.heapArena": arena_layout} if arena_layout else {}
    return SimpleNamespace(
        target=FakeTarget(memory),
        go_minor=minor,
        layouts=RuntimeLayouts(structs, "test"),  # type: ignore[arg-type]
        runtime_symbol=lambda name: None,
    )


def _words(values: dict[int, int], size: int) -> bytearray:
    data = bytearray(size)
    for offset, value in values.items():
        data[offset : offset + 8] = value.to_bytes(8, "little")
    return data


def _edges(program: SimpleNamespace, objects: HeapObjects, geometry: Optional[HeapGeometry] = None) -> list[list[int]]:
    scanner = ObjectScanner(program, objects, geometry)  # type: ignore[arg-type]
    edge_start, edges = scanner.scan_all()
    return [list(edges[edge_start[i] : edge_start[i + 1]]) for i in range(len(objects))]


def test_bit_helpers():
    assert bit_positions(0b1010_0001) == (0, 5, 7)
    assert bit_positions(1 << 5000 | 1 << 700 | 2) == (1, 700, 5000)
    # Go 1.19: byte i's low nibble holds words 4i..4i+3.
    assert compact_nibbles(bytes([0x31, 0xF8, 0x02])) == 0x281
    # Pointer words stop at the first word whose scan bit is 0.
    assert two_bit_pointer_mask(0b1011, 0b0111, 4) == 0b011
    assert two_bit_pointer_mask(0b1011, 0b1111, 4) == 0b1011
    # A [2]T of 24-byte T (pointer in word 1) after an 8-byte header, in a 64-byte slot.
    assert tile_type_mask(0b10, 2, 24, 8, 64) == (16, 40)
    # Large arrays are not listed word by word: []*T is a range, others generated.
    assert tiled_words(1, 1, 8, 8, 8 * 100_001) == range(1, 100_001)
    assert list(tiled_words(0b10, 2, 16, 8, 8 + 16 * 5000)) == list(range(2, 10_001, 2))


def test_reverse_edges():
    edge_start = array("Q", [0, 2, 2, 5, 6])
    edges = array("I", [3, 1, 0, 1, 3, 1])
    for lean in (False, True):  # by a sort in C; by counting (big graphs)
        start, sources = reverse_edges(edge_start, edges, 4, lean)
        assert list(start) == [0, 1, 4, 4, 6]
        assert [list(sources[start[i] : start[i + 1]]) for i in range(4)] == [[2], [0, 2, 3], [], [0, 2]]


@pytest.mark.parametrize("minor, green_tea", [(22, False), (25, False), (27, True)])
def test_span_heap_bits(minor, green_tea):
    """32-byte objects: object 0's words 1 and 3 point at objects 1 and 2; object 2's
    word 0 holds a scalar equal to object 0's address (its bit is clear)."""
    span = _span(spanclass=4 << 1, elemsize=32)
    data = _words({8: BASE + 32, 24: BASE + 64 + 8, 64: BASE}, PAGE_SIZE)
    bitmap_end = PAGE_SIZE - (SPAN_INLINE_MARK_BITS_BYTES if green_tea else 0)
    bitmap_start = bitmap_end - PAGE_SIZE // 64
    bits = (1 << 1) | (1 << 3)  # words 1 and 3 of the span
    data[bitmap_start : bitmap_start + 8] = bits.to_bytes(8, "little")
    if green_tea:
        data[PAGE_SIZE - 1] = span.spanclass  # spanInlineMarkBits.class
    objects = _objects(span, [0, 1, 2])
    assert _edges(_program(minor, {BASE: bytes(data)}), objects) == [[1, 2], [], []]


def _type(size: int, ptr_bytes: int, gcdata: int, tflag: int = 0) -> bytes:
    raw = bytearray(48)
    raw[0:8] = size.to_bytes(8, "little")
    raw[8:16] = ptr_bytes.to_bytes(8, "little")
    raw[20] = tflag
    raw[32:40] = gcdata.to_bytes(8, "little")
    return bytes(raw)


def test_allocation_header_tiles_the_type_over_the_slot():
    """A 1024-byte slot holding [N]T, T = {p *X; n int} (16 bytes): every other word
    after the 8-byte header is a pointer; the scalars hold heap-looking values."""
    span = _span(spanclass=40 << 1, elemsize=1024, npages=1)
    values = {0: TYPE, 8: BASE + 1024, 16: BASE + 1024, 8 + 16 * 63: BASE + 1024 + 8, 1024: TYPE}
    data = _words(values, PAGE_SIZE)
    memory = {BASE: bytes(data), TYPE: _type(16, 8, MASK), MASK: b"\x01"}
    objects = _objects(span, [0, 1])
    scanner = ObjectScanner(_program(22, memory), objects)  # type: ignore[arg-type]
    assert [offset for offset, _ in scanner.object_pointers(0)] == [8, 8 + 16 * 63]
    assert _edges(_program(22, memory), objects) == [[1, 1], []]


def test_on_demand_mask_built_or_not():
    span = _span(spanclass=0, elemsize=PAGE_SIZE, large_type=TYPE)
    data = _words({0: BASE + 16, 8: BASE + 24}, PAGE_SIZE)
    slot_of_mask = 0x520000
    built = {BASE: bytes(data), TYPE: _type(16, 16, slot_of_mask, TFLAG_GC_MASK_ON_DEMAND), MASK: b"\x02"}
    built[slot_of_mask] = MASK.to_bytes(8, "little")
    objects = _objects(span, [0])
    scanner = ObjectScanner(_program(24, built), objects)  # type: ignore[arg-type]
    assert [offset for offset, _ in scanner.object_pointers(0)] == [8]
    assert not scanner.imprecise
    built[slot_of_mask] = bytes(8)  # not built yet: conservative, and said so
    scanner = ObjectScanner(_program(24, built), objects)  # type: ignore[arg-type]
    scanner.scan_all()
    assert scanner.imprecise and "builds on demand" in scanner.notes()[0]


def _arena_layout(bitmap_bytes: int, no_more: bool) -> StructLayout:
    layout = StructLayout("runtime.heapArena", 0)
    layout.fields["bitmap"] = (0, bitmap_bytes)
    if no_more:
        layout.fields["noMorePtrs"] = (bitmap_bytes, bitmap_bytes // 8)
    return layout


HEAP_ARENA = 0x600000
ARENAS_L2 = 0x700000


def _geometry() -> tuple[HeapGeometry, int]:
    index = (BASE - ARENA_BASE_OFFSET["amd64"]) % (1 << 64) // ARENA_BYTES
    return HeapGeometry(0, ARENAS_L2, [index], ARENA_BASE_OFFSET["amd64"], 0, None), index


def test_go_1_20_one_bit_arena_bitmap_and_no_more_ptrs():
    """A 2048-byte object (256 words): bits in bitmap words 0 and 2, noMorePtrs set on
    word 0, so the pointer in word 2 (stale bits) is not read."""
    span = _span(spanclass=50 << 1, elemsize=2048, npages=1)
    geometry, index = _geometry()
    bitmap_words = ARENA_BYTES // 8 // 64
    arena = bytearray(bitmap_words * 8 + bitmap_words // 8)
    arena[0:8] = (1 << 2).to_bytes(8, "little")  # word 2 of the arena
    arena[16:24] = (1 << 5).to_bytes(8, "little")  # word 128 + 5: beyond noMorePtrs
    memory = {
        BASE: bytes(_words({16: BASE + 2048, (128 + 5) * 8: BASE + 2048}, PAGE_SIZE)),
        HEAP_ARENA: bytes(arena),
        ARENAS_L2 + index * 8: HEAP_ARENA.to_bytes(8, "little"),
    }
    objects = _objects(span, [0, 1])
    program = _program(20, memory, _arena_layout(bitmap_words * 8, True))
    assert _edges(program, objects, geometry) == [[1, 1], []]
    arena[bitmap_words * 8] = 0b1  # noMorePtrs of bitmap word 0
    memory[HEAP_ARENA] = bytes(arena)
    program = _program(20, memory, _arena_layout(bitmap_words * 8, True))
    assert _edges(program, objects, geometry) == [[1], []]


def test_go_1_19_two_bit_arena_bitmap():
    """Two 32-byte objects: object 0 has pointers in words 0 and 2 and scan bits on
    words 0-2 (word 3: dead); object 1 has a pointer bit in word 1 but a dead word 0."""
    span = _span(spanclass=4 << 1, elemsize=32, npages=1)
    geometry, index = _geometry()
    arena = bytearray(ARENA_BYTES // 8 // 4)
    arena[0] = 0b0111_0101  # words 0-3: pointer 0b0101, scan 0b0111
    arena[1] = 0b0000_0010  # words 4-7: pointer 0b0010, scan 0 (dead from word 4)
    memory = {
        BASE: bytes(_words({0: BASE + 32, 16: BASE + 40, 40: BASE}, PAGE_SIZE)),
        HEAP_ARENA: bytes(arena),
        ARENAS_L2 + index * 8: HEAP_ARENA.to_bytes(8, "little"),
    }
    program = _program(19, memory, _arena_layout(len(arena), False))
    assert _edges(program, _objects(span, [0, 1]), geometry) == [[1, 1], []]


def test_graph_questions():
    """0 -> 1 -> 2, 3 -> 2, 4 alone; roots: r0 at 0, r1 at 3."""
    span = _span(spanclass=4 << 1, elemsize=32)
    objects = _objects(span, [0, 1, 2, 3, 4])
    edge_start = array("Q", [0, 1, 2, 2, 3, 3])
    edges = array("I", [1, 2, 2])
    roots = [HeapRoot("global", "main.a", 0x10, None, (0,)), HeapRoot("stack", "goroutine 1", 0x20, 1, (3,))]
    graph = HeapGraph(objects, edge_start, edges, roots, True, [])
    assert list(reachable(graph, roots)) == [1, 1, 1, 1, 0]
    chains = shortest_chains(graph, 2, 5)
    assert [(root.name, chain) for root, chain in chains] == [("goroutine 1", [3, 2]), ("main.a", [0, 1, 2])]
    assert shortest_chains(graph, 4, 5) == []
    assert referrers(graph, 2) == ([1, 3], [])
    assert referrers(graph, 0) == ([], [roots[0]])


def test_go_1_20_large_object_bits_are_not_listed():
    """A 64 KiB large object (8,192 words, more than are listed): pointer bits on every
    third word; each holds the object's own address."""
    span = _span(spanclass=0, elemsize=8 * PAGE_SIZE, npages=8)
    geometry, index = _geometry()
    bitmap_words = ARENA_BYTES // 8 // 64
    arena = bytearray(bitmap_words * 8 + bitmap_words // 8)
    words = 8 * PAGE_SIZE // 8
    mask = sum(1 << word for word in range(0, words, 3))
    arena[0 : words // 8] = mask.to_bytes(words // 8, "little")
    memory = {
        BASE: bytes(_words({word * 8: BASE + 8 for word in range(0, words, 3)}, 8 * PAGE_SIZE)),
        HEAP_ARENA: bytes(arena),
        ARENAS_L2 + index * 8: HEAP_ARENA.to_bytes(8, "little"),
    }
    program = _program(20, memory, _arena_layout(bitmap_words * 8, True))
    scanner = ObjectScanner(program, _objects(span, [0]), geometry)  # type: ignore[arg-type]
    assert [offset for offset, _ in scanner.object_pointers(0)] == [word * 8 for word in range(0, words, 3)]


def test_stack_objects_count_only_when_a_live_slot_reaches_them():
    """Stack objects A (at 0x100) and B (at 0x200) and C (at 0x300): a live slot points
    into A, A's word points at B; nothing points at C, whose word is not a root."""
    low, high = 0x1000, 0x1400
    memory = bytearray(high - low)
    for slot, value in ((0x1000, 0x1108), (0x1100, 0x1200), (0x1300, 0xC000000000)):
        memory[slot - low : slot - low + 8] = value.to_bytes(8, "little")
    words = memoryview(bytes(memory)).cast("Q")
    objects = [(0x1100, 16, 16, None, "A"), (0x1200, 8, 8, (0,), "B"), (0x1300, 8, 8, (0,), "C")]
    found, unmasked = RootFinder.live_stack_objects(objects, [(0x1000, "live")], words, low, high)
    assert sorted(found) == [(0x1100, "A"), (0x1108, "A"), (0x1200, "B")] and unmasked == 1
    # With A's mask read (its word 0 only is a pointer), B is reached the same way.
    objects[0] = (0x1100, 16, 16, (0,), "A")
    found, unmasked = RootFinder.live_stack_objects(objects, [(0x1000, "live")], words, low, high)
    assert sorted(found) == [(0x1100, "A"), (0x1200, "B")] and unmasked == 0
