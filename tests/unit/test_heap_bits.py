"""Heap walking on synthetic memory: allocation-bit and pageInUse decoding on byte
strings, span sanity checks, and a heap whose corrupt spans are reported and skipped."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from goext_core.errors import CorruptDataError
from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.heap import (
    ARENA_BASE_OFFSET,
    ARENA_BYTES,
    PAGE_SIZE,
    PAGES_PER_ARENA,
    Span,
    allocated_slots,
    census,
    count_allocated,
    note_problem,
    page_starts,
    span_problem,
)
from goext_core.runtime.layout_tables import LAYOUTS
from goext_core.runtime.layouts import RuntimeLayouts

from .fakes import FakeTarget

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "bits, freeindex, nelems, slots",
    [
        (b"\x00", 0, 8, []),
        (b"\xff", 0, 8, list(range(8))),
        (b"\x05", 0, 8, [0, 2]),
        (b"\x00", 3, 8, [0, 1, 2]),  # below freeindex: allocated since the last sweep
        (b"\x90", 3, 8, [0, 1, 2, 4, 7]),
        (b"\xff\x01", 0, 9, list(range(9))),
        (b"\x00\xfe", 0, 9, []),  # bits past nelems are not slots
        (b"\x00\x03", 0, 9, [8]),
        (b"\x01\x00\x00\x80", 0, 32, [0, 31]),
        (b"\x02", 8, 8, list(range(8))),
        (b"", 0, 0, []),
    ],
)
def test_allocated_slots_and_count(bits, freeindex, nelems, slots):
    assert list(allocated_slots(bits, freeindex, nelems)) == slots
    assert count_allocated(bits, freeindex, nelems) == len(slots)


@pytest.mark.parametrize("bits, freeindex, nelems", [(b"\x00", 9, 8), (b"\x00", 0, 9), (b"\x00", -1, 8)])
def test_inconsistent_bits_are_corrupt(bits, freeindex, nelems):
    with pytest.raises(CorruptDataError):
        count_allocated(bits, freeindex, nelems)
    with pytest.raises(CorruptDataError):
        list(allocated_slots(bits, freeindex, nelems))


def test_page_starts():
    bits = bytearray(PAGES_PER_ARENA // 8)
    for page in (0, 1, 9, 100, PAGES_PER_ARENA - 1):
        bits[page // 8] |= 1 << (page % 8)
    assert list(page_starts(bytes(bits))) == [0, 1, 9, 100, PAGES_PER_ARENA - 1]
    assert list(page_starts(b"\xff", limit=3)) == [0, 1, 2]
    assert list(page_starts(bytes(8))) == []


def _span(**changes: int) -> Span:
    fields = dict(
        address=0x1000,
        base=0xC000000000,
        npages=1,
        spanclass=3 << 1 | 1,
        elemsize=24,
        nelems=341,
        freeindex=0,
        alloc_count=0,
        alloc_count_before_cache=0,
        sweepgen=2,
        large_type=0,
        alloc_bits=0x2000,
    )
    fields.update(changes)
    return Span(**fields)


@pytest.mark.parametrize(
    "changes, bad",
    [
        ({}, False),
        ({"base": 0xC000000001}, True),
        ({"npages": 0}, True),
        ({"spanclass": 136}, True),
        ({"nelems": 342}, True),  # 342 * 24 > 8192
        ({"elemsize": 0}, True),
        ({"freeindex": 342}, True),
        ({"alloc_count": 400}, True),
        ({"alloc_bits": 0}, True),
        ({"npages": 65, "nelems": 341}, True),  # no size class spans more than 10 pages
        ({"spanclass": 0, "nelems": 1, "elemsize": PAGE_SIZE}, False),  # a large span
        ({"spanclass": 0, "nelems": 2, "elemsize": PAGE_SIZE}, True),
        ({"spanclass": 0, "nelems": 1, "elemsize": 100}, True),
    ],
)
def test_span_problem(changes, bad):
    assert bool(span_problem(_span(**changes))) == bad


# -- a synthetic heap: one arena, three spans, two of them corrupt ----------------------

MHEAP, L2, ARENA_META, SPANS, BITS = 0x10000, 0x100000, 0x200000, 0x300000, 0x400000
HEAP = 0xC000000000


def _synthetic_program() -> SimpleNamespace:
    tables = LAYOUTS[22]
    structs = {
        name: StructLayout(name, size, dict(fields))
        for name, (size, fields) in tables.items()
        if name in ("runtime.mheap", "runtime.heapArena", "runtime.mspan")
    }
    mheap, arena, mspan = structs["runtime.mheap"], structs["runtime.heapArena"], structs["runtime.mspan"]
    arena_index = ((HEAP - ARENA_BASE_OFFSET["amd64"]) % (1 << 64)) // ARENA_BYTES
    memory = {
        MHEAP: bytearray(mheap.size),
        L2 + arena_index * 8: bytearray(8),
        ARENA_META: bytearray(arena.size),
        SPANS: bytearray(3 * mspan.size),
        BITS: bytearray(64),
        0x500000: bytearray(8),  # allArenas' array
    }

    def put(segment: int, layout: StructLayout, base: int, path: str, value: int) -> None:
        offset, size = layout.fields[path]
        memory[segment][base + offset : base + offset + size] = value.to_bytes(size, "little")

    put(MHEAP, mheap, 0, "arenas", L2)
    put(MHEAP, mheap, 0, "allArenas.array", 0x500000)
    put(MHEAP, mheap, 0, "allArenas.len", 1)
    put(MHEAP, mheap, 0, "sweepgen", 4)
    memory[0x500000][:8] = arena_index.to_bytes(8, "little")
    memory[L2 + arena_index * 8][:8] = ARENA_META.to_bytes(8, "little")
    pages = (0, 1, 5)
    for number, page in enumerate(pages):
        offset = arena.fields["pageInUse"][0] + page // 8
        memory[ARENA_META][offset] |= 1 << (page % 8)
        slot = arena.fields["spans"][0] + page * 8
        memory[ARENA_META][slot : slot + 8] = (SPANS + number * mspan.size).to_bytes(8, "little")
    good = dict(startAddr=HEAP, npages=1, spanclass=3 << 1 | 1, elemsize=24, nelems=341, state=1)
    good.update(freeindex=2, allocCount=4, allocBits=BITS)
    corrupt_state = dict(good, startAddr=HEAP + PAGE_SIZE, state=7)
    corrupt_class = dict(good, startAddr=HEAP + 5 * PAGE_SIZE, spanclass=200)
    for number, values in enumerate((good, corrupt_state, corrupt_class)):
        for path, value in values.items():
            put(SPANS, mspan, number * mspan.size, path, value)
    memory[BITS][0] = 0b1100  # slots 0, 1 below freeindex; 2 and 3 by their bits
    target = FakeTarget({address: bytes(data) for address, data in memory.items()})
    target.ptr_size = 8  # type: ignore[misc]
    target.byte_order = "little"  # type: ignore[misc]
    return SimpleNamespace(
        target=target,
        binary=SimpleNamespace(arch="amd64"),
        go_minor=22,
        layouts=RuntimeLayouts(structs, "test"),
        runtime_symbol=lambda name: MHEAP if name == "runtime.mheap_" else None,
    )


def test_corrupt_spans_are_reported_and_skipped():
    heap = census(_synthetic_program(), types=False)  # type: ignore[arg-type]
    assert (heap.spans, heap.objects.objects, heap.objects.bytes) == (1, 4, 96)
    assert heap.alloc_count_mismatches == 0
    assert len(heap.problems) == 2, heap.problems
    assert "state 7" in heap.problems[0] and "span class 200" in heap.problems[1]


def test_problems_are_capped():
    problems: list[str] = []
    for number in range(5000):
        note_problem(problems, f"span {number}")
    assert len(problems) == 1001 and problems[-1] == "... further problems not listed"
