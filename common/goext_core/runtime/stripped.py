"""Find runtime globals in binaries without a symbol table (-ldflags=-s, distro builds).

pclntab still names every function, but data symbols are gone.  The runtime's
globals live in the writable data sections; they are recognized by shape and
validated against the runtime's own invariants:

- ``runtime.allgs`` is a []*g whose first entries are the goroutines created
  first (goid 1 is runtime.main's), each with a sane stack;
- ``runtime.allm`` is a *m from which ``m.alllink`` reaches the M of every
  goroutine that has one.

Every scan is bounded by the section sizes; candidates are checked with
reads of the target, so a wrong guess costs time, never a wrong answer.  A
caller that knows where an earlier process found the global (the on-disk
index) passes it as a hint: that one word is checked first, the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.goroutines import read_allgs, read_goroutine

if TYPE_CHECKING:
    from goext_core.program import GoProgram

_DATA_SECTIONS = (".bss", ".noptrbss", ".data", ".noptrdata", ".go.module")
_MAX_SCAN_BYTES = 64 << 20
_MAX_CHAIN = 100_000


def _words(program: "GoProgram") -> Iterator[tuple[int, bytes]]:
    """(run-time address, contents) of each writable data section, read from the target."""
    bias = program.target.load_bias()
    total = 0
    for name in _DATA_SECTIONS:
        section = program.binary.section(name)
        if section is None or not section.size:
            continue
        total += section.size
        if total > _MAX_SCAN_BYTES:
            return
        try:
            yield section.address + bias, program.target.read(section.address + bias, section.size)
        except MemoryReadError:
            continue


def _hinted_words(program: "GoProgram", hint: int, count: int) -> Iterator[tuple[int, bytes]]:
    """The ``count`` words at run-time address ``hint``, if they lie in a data section."""
    bias = program.target.load_bias()
    link_address = hint - bias
    ptr = program.target.ptr_size
    for name in _DATA_SECTIONS:
        section = program.binary.section(name)
        if section is None or not section.address <= link_address < section.address + section.size:
            continue
        if link_address % ptr:
            return
        size = count * ptr
        if link_address + size > section.address + section.size:
            return
        try:
            yield hint, program.target.read(hint, size)
        except MemoryReadError:
            pass
        return


def _plausible_g(program: "GoProgram", g: int, expect_goid: Optional[int] = None) -> bool:
    layout = program.layouts.g
    try:
        buf = program.target.read(g, layout.size)
    except MemoryReadError:
        return False
    order = program.target.byte_order

    def field(name: str) -> int:
        offset, size = layout.fields[name]
        return int.from_bytes(buf[offset : offset + (size or 8)], order)

    lo, hi, goid, status = field("stack.lo"), field("stack.hi"), field("goid"), field("atomicstatus")
    if expect_goid is not None and goid != expect_goid:
        return False
    if status & ~0x1000 > 16 or goid > 1 << 40:
        return False
    return (lo == 0 and hi == 0) or (lo < hi and hi - lo <= 1 << 30)


def _find_allgs(program: "GoProgram", words: Iterable[tuple[int, bytes]], hinted: bool) -> Optional[int]:
    """A []*g whose first entries are plausible goroutines, goid 1 first (the same checks when hinted)."""
    ptr = program.target.ptr_size
    order = program.target.byte_order
    for base, data in words:
        for offset in range(0, len(data) - 3 * ptr + 1, ptr):
            length = int.from_bytes(data[offset + ptr : offset + 2 * ptr], order)
            capacity = int.from_bytes(data[offset + 2 * ptr : offset + 3 * ptr], order)
            if not 0 < length <= capacity <= 1 << 26:
                continue
            pointer = int.from_bytes(data[offset : offset + ptr], order)
            if not pointer or pointer % ptr:
                continue
            try:
                first = program.target.read(pointer, min(length, 2) * ptr)
            except MemoryReadError:
                continue
            g0 = int.from_bytes(first[:ptr], order)
            if not _plausible_g(program, g0, expect_goid=1):
                continue
            if length > 1 and not _plausible_g(program, int.from_bytes(first[ptr : 2 * ptr], order)):
                continue
            return base + offset
    return None


def _find_allm(program: "GoProgram", words: Iterable[tuple[int, bytes]], hinted: bool) -> Optional[int]:
    """A word from which m.alllink reaches the M of some goroutine (a hinted
    word: of every goroutine, as the real allm does)."""
    layout_m = program.layouts.m
    known = set()
    for address in read_allgs(program)[:4096]:
        record = read_goroutine(program, address)
        if record.m:
            known.add(record.m)
    if not known:
        return None
    ptr = program.target.ptr_size
    order = program.target.byte_order
    alllink = layout_m.offset("alllink")
    best: tuple[int, Optional[int]] = (0, None)
    budget = 2_000_000  # chain steps over all candidates
    for base, data in words:
        for offset in range(0, len(data) - ptr + 1, ptr):
            head = int.from_bytes(data[offset : offset + ptr], order)
            if not head or head % ptr or budget <= 0:
                continue
            # The real allm head is a pointer whose alllink chain reaches every known M.
            seen: set[int] = set()
            cursor = head
            while cursor and cursor not in seen and len(seen) < _MAX_CHAIN and budget > 0:
                seen.add(cursor)
                budget -= 1
                try:
                    cursor = program.target.read_ptr(cursor + alllink)
                except MemoryReadError:
                    seen = set()
                    break
            hits = len(seen & known)
            if hinted and hits < len(known):
                continue
            if hits and hits * _MAX_CHAIN + len(seen) > best[0]:
                best = (hits * _MAX_CHAIN + len(seen), base + offset)
    return best[1]


# name -> (finder, words a candidate spans: allgs is a slice header, allm a pointer)
_FINDERS = {"runtime.allgs": (_find_allgs, 3), "runtime.allm": (_find_allm, 1)}


def recover_runtime_symbol(program: "GoProgram", name: str, hint: Optional[int] = None) -> Optional[int]:
    """Run-time address of runtime global ``name``, found by shape; ``hint``, a
    run-time address where it probably is, is checked before any scan."""
    if name not in _FINDERS:
        return None
    finder, words = _FINDERS[name]
    try:
        if hint is not None:
            found = finder(program, _hinted_words(program, hint, words), True)
            if found is not None:
                return found
        return finder(program, _words(program), False)
    except GoextError:
        return None
