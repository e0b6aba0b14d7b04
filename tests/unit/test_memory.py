"""The front ends' page cache and cached target, on fake memory."""

from __future__ import annotations

from functools import cached_property
from typing import Optional

import pytest

from goext_core.errors import MemoryReadError
from goext_core.target import Thread
from goext_core.target.memory import MAX_READAHEAD_PAGES, CachedTarget, PageCache

pytestmark = pytest.mark.unit

PAGE = 4096


class FakeMemory:
    """Readable byte ranges; records every read asked of it, like a debugger would see them."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.ranges = ranges
        self.calls: list[tuple[int, int]] = []
        self.version = 0  # added to every byte: a "write" changes all memory

    def byte_at(self, address: int) -> int:
        return (address * 7 + self.version) & 0xFF

    def read(self, address: int, size: int) -> bytes:
        self.calls.append((address, size))
        if not any(start <= address and address + size <= end for start, end in self.ranges):
            raise MemoryReadError(address, size, "not mapped")
        return self.expected(address, size)

    def expected(self, address: int, size: int) -> bytes:
        # The pattern repeats every 256 bytes: slice it rather than build byte by byte.
        period = bytes(self.byte_at(a) for a in range(256))
        start = address % 256
        return (period * (size // 256 + 2))[start : start + size]


def test_small_reads_in_one_page_cost_one_debugger_read() -> None:
    memory = FakeMemory([(0x10000, 0x20000)])
    cache = PageCache(memory.read)
    for offset in range(0, 4000, 8):
        assert cache.read(0x10000 + offset, 8) == memory.expected(0x10000 + offset, 8)
    assert memory.calls == [(0x10000, PAGE)]
    assert cache.raw_reads == 1 and cache.reads == 500


def test_a_read_spanning_missing_pages_is_one_debugger_read() -> None:
    memory = FakeMemory([(0x10000, 0x20000)])
    cache = PageCache(memory.read)
    assert cache.read(0x10FF0, 3 * PAGE) == memory.expected(0x10FF0, 3 * PAGE)
    assert memory.calls == [(0x10000, 4 * PAGE)]
    assert cache.read(0x12000, 100) == memory.expected(0x12000, 100)
    assert len(memory.calls) == 1


def test_only_the_missing_runs_are_read() -> None:
    memory = FakeMemory([(0x10000, 0x20000)])
    cache = PageCache(memory.read)
    cache.read(0x11000, 8)
    cache.read(0x13000, 8)
    memory.calls.clear()
    assert cache.read(0x10000, 5 * PAGE) == memory.expected(0x10000, 5 * PAGE)
    assert memory.calls == [(0x10000, PAGE), (0x12000, PAGE), (0x14000, PAGE)]


def test_large_reads_go_to_the_debugger_in_one_call_uncached() -> None:
    memory = FakeMemory([(0x10000, 0x100000)])
    cache = PageCache(memory.read, direct_limit=4 * PAGE)
    assert cache.read(0x10010, 8 * PAGE) == memory.expected(0x10010, 8 * PAGE)
    assert memory.calls == [(0x10010, 8 * PAGE)]
    assert len(cache) == 0


def test_a_partly_readable_page_serves_exactly_what_was_asked() -> None:
    memory = FakeMemory([(0x10000, 0x10800)])  # half a page
    cache = PageCache(memory.read)
    assert cache.read(0x10100, 16) == memory.expected(0x10100, 16)
    assert memory.calls == [(0x10000, PAGE), (0x10100, 16)]
    # The page is known to be unreadable whole: no second try of the page.
    assert cache.read(0x10200, 16) == memory.expected(0x10200, 16)
    assert memory.calls[2:] == [(0x10200, 16)]


def test_unreadable_memory_raises_with_the_asked_address() -> None:
    memory = FakeMemory([(0x10000, 0x11000)])
    cache = PageCache(memory.read)
    with pytest.raises(MemoryReadError) as raised:
        cache.read(0x10FF8, 16)  # runs into an unmapped page
    assert (raised.value.address, raised.value.size) == (0x10FF8, 16)
    with pytest.raises(MemoryReadError) as raised:
        cache.read(0x50000, 8)
    assert raised.value.address == 0x50000
    # The readable page of the failed run is cached all the same.
    memory.calls.clear()
    assert cache.read(0x10000, 8) == memory.expected(0x10000, 8)
    assert memory.calls == []


def test_a_failed_run_is_split_so_readable_pages_are_cached() -> None:
    memory = FakeMemory([(0x10000, 0x12000), (0x13000, 0x14000)])
    cache = PageCache(memory.read)
    with pytest.raises(MemoryReadError):
        cache.read(0x10000, 4 * PAGE)
    memory.calls.clear()
    for page in (0x10000, 0x11000, 0x13000):
        assert cache.read(page, 8) == memory.expected(page, 8)
    assert memory.calls == []


def test_invalidate_forgets_pages_and_unreadable_pages() -> None:
    memory = FakeMemory([(0x10000, 0x11000)])
    cache = PageCache(memory.read)
    before = cache.read(0x10000, 8)
    memory.version = 1
    assert cache.read(0x10000, 8) == before  # cached: the target did not "run"
    cache.invalidate()
    assert cache.read(0x10000, 8) == memory.expected(0x10000, 8) != before
    with pytest.raises(MemoryReadError):
        cache.read(0x11000, 8)
    memory.ranges.append((0x11000, 0x12000))
    cache.invalidate()
    assert cache.read(0x11000, 8) == memory.expected(0x11000, 8)


def test_the_cache_stays_bounded_and_keeps_the_newest_pages() -> None:
    memory = FakeMemory([(0, 0x1000000)])
    cache = PageCache(memory.read, max_pages=64)
    for page in range(1000):
        cache.read(page * PAGE, 8)
        assert len(cache) <= 64
    memory.calls.clear()
    cache.read(999 * PAGE, 8)
    assert memory.calls == []
    assert cache.read(0x3FF8, 16) == memory.expected(0x3FF8, 16)


class FakeDebuggerTarget(CachedTarget):
    """A CachedTarget the test invalidates, like gdb's events would."""

    readahead_pages = 0  # the tests count debugger reads of single pages

    def __init__(self, memory: FakeMemory) -> None:
        super().__init__()
        self.memory = memory
        self.thread_reads = 0

    def _read_uncached(self, address: int, size: int) -> bytes:
        return self.memory.read(address, size)

    @cached_property
    def word_size_reads(self) -> int:  # like arch/ptr_size in the debugger targets
        self.thread_reads += 100
        return self.thread_reads

    def threads(self) -> list[Thread]:
        def read_threads() -> list[Thread]:
            self.thread_reads += 1
            return [Thread(tid=1)]

        return self.cached("threads", read_threads)

    def executable(self) -> Optional[str]:
        return None


def test_cached_target_invalidate_drops_memory_and_facts_and_moves_the_generation() -> None:
    memory = FakeMemory([(0x10000, 0x11000)])
    target = FakeDebuggerTarget(memory)
    generation = target.generation()
    first = target.read_u64(0x10000)
    target.threads()
    target.threads()
    memory.version = 3
    assert target.read_u64(0x10000) == first and target.thread_reads == 1
    assert target.word_size_reads == target.word_size_reads == 101
    target.invalidate()
    assert target.word_size_reads == 201
    assert target.generation() != generation
    assert target.read_u64(0x10000) != first
    target.threads()
    assert target.thread_reads == 202
    assert target.memory_stats()["debugger_reads"] == 2


def test_cached_target_invalidate_memory_keeps_facts_and_generation() -> None:
    memory = FakeMemory([(0x10000, 0x11000)])
    target = FakeDebuggerTarget(memory)
    generation = target.generation()
    first = target.read_u64(0x10000)
    target.threads()
    memory.version = 5
    target.invalidate_memory()
    assert target.read_u64(0x10000) != first
    target.threads()
    assert target.thread_reads == 1 and target.generation() == generation


def test_cached_target_checks_bounds_before_asking_the_debugger() -> None:
    memory = FakeMemory([(0, 1 << 20)])
    target = FakeDebuggerTarget(memory)
    for address, size in ((-8, 8), ((1 << 64) - 4, 8), (0x1000, 1 << 31)):
        with pytest.raises(MemoryReadError) as raised:
            target.read(address, size)
        assert raised.value.address == address
    assert target.read(0x100, 0) == b""
    assert memory.calls == []


def test_readahead_reads_the_next_page_in_the_same_call() -> None:
    memory = FakeMemory([(0x10000, 0x20000)])
    cache = PageCache(memory.read, readahead=1)
    assert cache.read(0x10010, 8) == memory.expected(0x10010, 8)
    assert memory.calls == [(0x10000, 2 * PAGE)]
    assert cache.read(0x11FF0, 16) == memory.expected(0x11FF0, 16)
    assert len(memory.calls) == 1
    # It stops at a page already cached: page 0x12000 alone.
    cache.read(0x13000, 8)
    memory.calls.clear()
    assert cache.read(0x12000, 8) == memory.expected(0x12000, 8)
    assert memory.calls == [(0x12000, PAGE)]


def test_readahead_past_the_mapping_costs_one_call_and_concludes_nothing() -> None:
    memory = FakeMemory([(0x10000, 0x11000), (0x12000, 0x13000)])
    cache = PageCache(memory.read, readahead=1)
    assert cache.read(0x10FF8, 8) == memory.expected(0x10FF8, 8)
    assert memory.calls == [(0x10000, 2 * PAGE), (0x10000, PAGE)]  # the guess failed: the asked page alone
    with pytest.raises(MemoryReadError) as info:
        cache.read(0x11000, 8)  # not marked unreadable by the failed guess: asked for itself
    assert info.value.address == 0x11000
    with pytest.raises(MemoryReadError):
        cache.read(0x13000, 8)
    memory.calls.clear()
    assert cache.read(0x12000, 8) == memory.expected(0x12000, 8)
    assert memory.calls == [(0x12000, PAGE)]  # the page after it is known unreadable: no guess


def test_readahead_grows_along_a_forward_walk_and_stays_bounded() -> None:
    # A walk in address order that skips a page each time (stacks read from
    # their tops): the window doubles per continued fetch up to the maximum,
    # so 200 pages cost a handful of calls, not 100.
    memory = FakeMemory([(0x100000, 0x100000 + 400 * PAGE)])
    cache = PageCache(memory.read, readahead=1)
    for page in range(0, 200, 2):
        address = 0x100000 + page * PAGE + 0x10
        assert cache.read(address, 8) == memory.expected(address, 8)
    assert len(memory.calls) <= 8
    assert max(size for _, size in memory.calls) <= (MAX_READAHEAD_PAGES + 1) * PAGE
    # A read far away starts a new stream at the initial window.
    memory.calls.clear()
    cache.read(0x100000 + 390 * PAGE, 8)
    assert memory.calls == [(0x100000 + 390 * PAGE, 2 * PAGE)]


def test_readahead_without_a_window_reads_only_the_page() -> None:
    memory = FakeMemory([(0x10000, 0x20000)])
    cache = PageCache(memory.read, readahead=0)
    for page in range(4):
        cache.read(0x10000 + page * PAGE, 8)
    assert memory.calls == [(0x10000 + page * PAGE, PAGE) for page in range(4)]
