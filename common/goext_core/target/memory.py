"""One memory layer for targets whose reads are expensive (the debugger front ends).

A debugger read costs far more than a dictionary lookup, and goext reads many
small pieces near each other (g structs, frames of one stack, map buckets).
:class:`PageCache` keeps whole pages until told the target may have changed;
:class:`CachedTarget` is the base of the gdb and lldb targets: memory and the
facts worth remembering (architecture, threads, load bias) stay valid until
the front end invalidates them, on gdb's events or after lldb's one check per
command, so a read whose page is cached costs no debugger call and no check.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Optional, TypeVar

from goext_core.errors import GoextError, MemoryReadError
from goext_core.target import Target
from goext_core.target.core import CoreTarget

T = TypeVar("T")

PAGE_SIZE = 4096
MAX_CACHED_PAGES = 16384  # 64 MiB of 4 KiB pages
DIRECT_READ_LIMIT = 16 * PAGE_SIZE  # larger reads go to the target uncached, in one call
MAX_READAHEAD_PAGES = 64  # 256 KiB: a scan in address order costs one debugger call per 64 pages
MAX_READAHEAD_STREAMS = 16
# A page this close after a stream's end continues it: walks skip a little
# (each goroutine's stack is read from its top, one stack further up).
READAHEAD_GAP = 16 * PAGE_SIZE
MAX_READ = 1 << 30  # as the offline core target: a larger read is a corrupt length, not a request


class PageCache:
    """Whole pages of target memory, kept until :meth:`invalidate`.

    ``read_raw(address, size)`` returns exactly ``size`` bytes or raises
    :class:`MemoryReadError`.  Missing pages next to each other are fetched in
    one ``read_raw`` call and split.  A page that cannot be read whole is
    remembered as such, and reads touching it ask ``read_raw`` for exactly the
    requested bytes (a partly readable page still serves what is readable).
    """

    def __init__(
        self,
        read_raw: Callable[[int, int], bytes],
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_CACHED_PAGES,
        direct_limit: int = DIRECT_READ_LIMIT,
        readahead: int = 0,
    ) -> None:
        if page_size <= 0 or page_size & (page_size - 1):
            raise ValueError(f"page size {page_size} is not a power of two")
        self._read_raw = read_raw
        self._page_size = page_size
        self._readahead = max(0, readahead)
        # Sequential readahead grows: a missing page that starts where an
        # earlier fetch ended (or a little after) continues that stream and doubles its window, up
        # to max_readahead pages; any other page starts a stream at
        # ``readahead``.  Several streams, because a walk interleaves them
        # (the goroutine array, g structs, stacks).
        self._max_readahead = max(self._readahead, min(MAX_READAHEAD_PAGES, max_pages // 8))
        self._streams: dict[int, int] = {}  # where a stream's next page is -> its window
        self._max_pages = max(2, max_pages)
        self._direct_limit = direct_limit
        self._pages: dict[int, bytes] = {}
        self._unreadable: set[int] = set()
        self.raw_reads = 0  # calls of read_raw: what the debugger was asked
        self.reads = 0  # calls of read

    def invalidate(self) -> None:
        """Forget everything: the target may have run or been written to."""
        self._pages.clear()
        self._unreadable.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def read(self, address: int, size: int) -> bytes:
        self.reads += 1
        page_size = self._page_size
        first = address & ~(page_size - 1)
        offset = address - first
        if offset + size <= page_size:  # the common case: inside one page
            data = self._pages.get(first)
            if data is None:
                if first in self._unreadable or not self._fetch_missing_page(first):
                    return self._direct(address, size)
                data = self._pages[first]
            return data[offset : offset + size]
        if size > self._direct_limit:
            return self._direct(address, size)
        end = address + size
        if not self._fill(first, end):
            return self._direct(address, size)
        chunks = [self._pages.get(page) for page in range(first, end, page_size)]
        if None in chunks:  # evicted while filling: only with a tiny cache
            return self._direct(address, size)
        return b"".join(chunks)[offset : offset + size]  # type: ignore[arg-type]

    def _direct(self, address: int, size: int) -> bytes:
        self.raw_reads += 1
        return self._read_raw(address, size)

    def _fill(self, first: int, end: int) -> bool:
        """Cache the pages from ``first`` (page aligned) up to ``end``; False if
        one of them cannot be read whole."""
        page_size = self._page_size
        run_start: Optional[int] = None
        complete = True
        for page in range(first, end, page_size):
            if page in self._pages:
                if run_start is not None:
                    complete = self._fetch_run(run_start, page) and complete
                    run_start = None
            elif page in self._unreadable:
                return False
            elif run_start is None:
                run_start = page
        if run_start is not None:
            last_page = (end - 1) & ~(page_size - 1)
            complete = self._fetch_run(run_start, last_page + page_size) and complete
        return complete

    def _fetch_missing_page(self, first: int) -> bool:
        """Cache the page at ``first``, and with readahead the missing pages
        after it in the same call: goext reads stacks and g structs mostly in
        address order, so the next page is usually the next one asked for (a
        list of 100,000 goroutines in gdb: 71% of the page reads followed the
        previous one).  Readahead is a guess: when it cannot be read, only
        the asked page is, and nothing is concluded about the others."""
        page_size = self._page_size
        window = 0
        if self._readahead:
            streams = self._streams
            previous = 0
            for stream_end in streams:
                if stream_end <= first < stream_end + READAHEAD_GAP:
                    previous = streams.pop(stream_end)
                    break
            window = min(previous * 2, self._max_readahead) if previous else self._readahead
        end = first + page_size
        limit = end + window * page_size
        while end < limit and end not in self._pages and end not in self._unreadable:
            end += page_size
        if window:
            if len(streams) >= MAX_READAHEAD_STREAMS:
                del streams[next(iter(streams))]  # the oldest
            streams[end] = window
        if end > first + page_size:
            try:
                data: Optional[bytes] = self._direct(first, end - first)
            except MemoryReadError:
                data = None
            if data is not None and len(data) == end - first:
                self._store(first, end, data)
                return True
        return self._fetch_run(first, first + page_size)

    def _store(self, start: int, end: int, data: bytes) -> None:
        page_size = self._page_size
        if len(self._pages) + (end - start) // page_size > self._max_pages:
            self._make_room((end - start) // page_size)
        for page in range(start, end, page_size):
            self._pages[page] = data[page - start : page - start + page_size]

    def _fetch_run(self, start: int, end: int) -> bool:
        """Read pages [start, end) in one call; when that fails, page by page,
        so the readable ones are still cached."""
        page_size = self._page_size
        try:
            data = self._direct(start, end - start)
        except MemoryReadError:
            data = None
        if data is not None and len(data) == end - start:
            self._store(start, end, data)
            return True
        if end - start == page_size:
            if len(self._unreadable) >= self._max_pages:
                self._unreadable.clear()
            self._unreadable.add(start)
            return False
        complete = True
        for page in range(start, end, page_size):
            complete = self._fetch_run(page, page + page_size) and complete
        return complete

    def _make_room(self, count: int) -> None:
        # Drop the older half: insertion order is age, and rebuilding keeps
        # eviction amortized O(1) per page.
        keep = list(self._pages.items())[len(self._pages) // 2 + count :]
        self._pages = dict(keep)


class CachedTarget(Target):
    """A target over a debugger: reads through one :class:`PageCache`, facts
    through :meth:`cached`.

    Nothing is checked per read: the front end calls :meth:`invalidate` when
    the target may have run or changed (gdb's events; lldb's check once per
    command, :meth:`begin_command`), which starts a new :meth:`generation`.
    Subclasses implement ``_read_uncached``: one debugger read, exactly
    ``size`` bytes or :class:`MemoryReadError`.
    """

    # Pages read after a missing one in the same debugger call (see
    # PageCache._fetch_missing_page); a debugger read costs far more than the bytes.
    readahead_pages = 1

    def __init__(self) -> None:
        self._pages = PageCache(self._read_uncached, readahead=self.readahead_pages)
        self._facts: dict[str, Any] = {}
        self._generation = 1
        self._address_end = 0  # one past the highest address; 0 until known
        self._core_file: Optional[CoreTarget] = None
        self._core_file_known = False

    def _read_uncached(self, address: int, size: int) -> bytes:
        raise NotImplementedError

    def begin_command(self) -> None:
        """The front end enters goext (a command, a printer, an unwinder):
        notice what the debugger announces with no event."""

    def invalidate(self) -> None:
        """The target may have run or changed: forget memory and facts."""
        self._pages.invalidate()
        self._facts.clear()
        self._core_file, self._core_file_known = None, False
        for name in _cached_property_names(type(self)):
            self.__dict__.pop(name, None)
        self._address_end = 0
        self._generation += 1

    def invalidate_memory(self) -> None:
        """Memory may have been written (nothing ran): forget pages only."""
        self._pages.invalidate()

    def generation(self) -> int:
        return self._generation

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, remembered until :meth:`invalidate`."""
        try:
            return self._facts[key]
        except KeyError:
            value = self._facts[key] = compute()
            return value

    def read(self, address: int, size: int) -> bytes:
        core_file = self._core_file if self._core_file_known else self._open_core_file()
        if core_file is not None and 0 < size <= MAX_READ:  # the core file, checked once (_open_core_file)
            try:
                return core_file.read(address, size)
            except MemoryReadError:
                pass  # not in the core or the executable (a shared library's file): the debugger may know
        if size <= 0:
            return b""
        end = self._address_end
        if not end:
            end = self._address_end = 1 << (8 * self.ptr_size)
        if address < 0 or address + size > end:
            raise MemoryReadError(address, size, "address out of range")
        if size > MAX_READ:
            raise MemoryReadError(address, size, "invalid request")
        return self._pages.read(address, size)

    def core_file(self) -> Optional[CoreTarget]:
        """The core file the debugger has open, read directly, once it gave the
        debugger's own bytes and load bias (see :meth:`_open_core_file`); else None."""
        return self._core_file if self._core_file_known else self._open_core_file()

    def _open_core_file(self) -> Optional[CoreTarget]:
        """When the debugger has a core open, its memory read straight from the
        core file and the executable, as the offline target reads it: a
        debugger read costs ten times a file read, and goext reads 100,000 g
        structs and stacks for a list.  Used only when the file gives the
        debugger's own bytes and load bias; else every read asks the debugger."""
        self._core_file_known = True
        core, executable = self.core_path(), self.executable()
        if not core or not executable:
            return None
        try:
            core_file = CoreTarget(executable, core)
            if (core_file.ptr_size, core_file.byte_order, core_file.load_bias()) != (
                self.ptr_size,
                self.byte_order,
                self.load_bias(),
            ):
                return None
            # The same bytes where the core holds data: the top of a thread's stack.
            sample = next((thread.registers.get("sp", 0) for thread in core_file.threads()), 0) & ~0x3F
            if not sample or core_file.read(sample, 64) != self._pages.read(sample, 64):
                return None
        except (GoextError, OSError):
            return None
        self._core_file = core_file
        return core_file

    def memory_stats(self) -> dict[str, int]:
        """Reads asked of this target, and reads it asked of the debugger."""
        return {"reads": self._pages.reads, "debugger_reads": self._pages.raw_reads, "cached_pages": len(self._pages)}


def _cached_property_names(cls: type) -> tuple[str, ...]:
    """Names of the functools.cached_property attributes of ``cls``: facts read
    on every goroutine (arch, ptr_size, byte_order) cost a plain attribute
    lookup that way, and :meth:`CachedTarget.invalidate` drops them."""
    names = _PROPERTY_NAMES.get(cls)
    if names is None:
        names = _PROPERTY_NAMES[cls] = tuple(
            name for klass in cls.__mro__ for name, member in vars(klass).items() if isinstance(member, cached_property)
        )
    return names


_PROPERTY_NAMES: dict[type, tuple[str, ...]] = {}
