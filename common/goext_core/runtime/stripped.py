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

The scheduler's other globals (``allp``, ``sched``, ``gomaxprocs``, ``ncpu``,
``gcphase``, ``memstats``, ``gcController``, ``semtable``, ``mheap_``) are found through
the code of small runtime functions that pclntab still names: the data
addresses their instructions refer to (binary/codescan.py) are the
candidates, and a candidate is believed only when exactly one passes the
checks of that global's shape (allp: a slice of Ps numbered 0..n-1 whose Ms
are in allm; sched: idle lists as long as their counters, mnext above every
M id...).  No candidate, or more than one: the global stays unknown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional

from goext_core.binary.codescan import ADDRESS, COMPARE, LOAD, STORE, UPDATE, DataRef, data_refs
from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.goroutines import read_allgs, read_goroutines
from goext_core.runtime.heap import plausible_mheap

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
    for record in read_goroutines(program, read_allgs(program)[:4096]):
        if record.m:
            known.add(record.m)
    # In a process where every goroutine is parked (an idle server), no goroutine has an M:
    # the threads' own gs name them.
    from_threads = _thread_ms(program)
    if not known and from_threads is None:
        raise NotYetKnown("runtime.allm: no goroutine has an M and the debugger lists no thread now")
    known |= from_threads or set()
    if not known:
        return None
    ptr = program.target.ptr_size
    order = program.target.byte_order
    alllink = layout_m.offset("alllink")
    best: tuple[int, Optional[int]] = (0, None)
    budget = 2_000_000  # chain steps over all candidates
    # Half the pointer-like words of a data section repeat a value seen
    # before; in a debugger most of them point at unreadable memory, and a
    # failed read costs a debugger call: walk each value's chain once.
    walked: dict[int, tuple[int, int]] = {}  # head -> (known Ms reached, chain length)
    for base, data in words:
        for offset in range(0, len(data) - ptr + 1, ptr):
            head = int.from_bytes(data[offset : offset + ptr], order)
            if not head or head % ptr or budget <= 0:
                continue
            outcome = walked.get(head)
            if outcome is None:
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
                outcome = walked[head] = (len(seen & known), len(seen))
            hits, length = outcome
            if hinted and hits < len(known):
                continue
            if hits and hits * _MAX_CHAIN + length > best[0]:
                best = (hits * _MAX_CHAIN + length, base + offset)
    return best[1]


_MAX_THREADS = 4096


class NotYetKnown(GoextError):
    """A global cannot be looked for at this moment (the debugger cannot list the threads
    now): not a miss to remember."""


def _thread_ms(program: "GoProgram") -> Optional[set[int]]:
    """The Ms of the threads that run Go code (its scheduler, or a goroutine), from the g
    each thread keeps at hand: amd64 in R14 (the register ABI, Go 1.17+) and at -8 from
    its TLS base (src/runtime/go_tls.h, runtime.settls), arm64 in R28 (src/runtime/
    asm_arm64.s); a g counts only when its m points back at it (m.g0, m.curg, m.gsignal).
    None when the target lists no thread at this moment."""
    layout_g, layout_m = program.layouts.g, program.layouts.m
    back = [layout_m.offset(name) for name in ("g0", "curg", "gsignal") if layout_m.has(name)]
    if not layout_g.has("m") or not back:
        return set()
    ptr = program.target.ptr_size
    found: set[int] = set()
    threads = program.target.threads()
    if not threads:
        return None
    for thread in threads[:_MAX_THREADS]:
        registers = thread.registers
        candidates: list[Optional[int]] = []
        if program.binary.arch == "amd64":
            candidates.append(registers.get("r14"))
            tls = registers.get("fs_base")
            if tls:
                try:
                    candidates.append(program.target.read_ptr(tls - ptr))
                except MemoryReadError:
                    pass
        elif program.binary.arch == "arm64":
            candidates.append(registers.get("x28"))
        for g in candidates:
            if not g or g % ptr:
                continue
            try:
                m = program.target.read_ptr(g + layout_g.offset("m"))
                if m and m % ptr == 0 and any(program.target.read_ptr(m + offset) == g for offset in back):
                    found.add(m)
                    break
            except MemoryReadError:
                continue
    return found


# -- globals found through the code that uses them ------------------------------------
_MAX_PROCS = 4096  # far above any real GOMAXPROCS (sched.MAX_PROCS)
_MAX_NCPU = 1 << 20
_MAX_FUNCTION_BYTES = 1 << 16  # the functions read are a few KiB; a bigger one is not the runtime's
_SEMTAB_SIZE = 251  # semTabSize, src/runtime/sema.go
# Each semtable entry is padded to cpu.CacheLinePadSize (src/internal/cpu/cpu_*.go):
# 64 on amd64; on arm64 64 up to Go 1.19 and 128 from Go 1.21 (1.20 unverified: unknown).
_SEMTAB_STRIDES = {"amd64": {}, "arm64": {19: 64, 20: None}}
_SEMTAB_DEFAULT_STRIDES = {"amd64": 64, "arm64": 128}
# defaultHeapMinimum, src/runtime/mgcpacer.go: 4 MiB, 512 KiB with GOEXPERIMENT=heapminimum512kib.
_HEAP_MINIMUMS = (4 << 20, 512 << 10)
_U64 = (1 << 64) - 1
# last_gc_unix between 2000-01-01 and 2200-01-01, in nanoseconds.
_UNIX_NS_RANGE = (946_684_800 * 10**9, 7_258_118_400 * 10**9)
_ANY_KIND = (LOAD, STORE, ADDRESS, COMPARE, UPDATE)


def _code_refs(program: "GoProgram", function: str) -> list[DataRef]:
    """References of runtime function ``function`` into the writable data sections,
    with run-time targets; [] when pclntab has no such function (memoized)."""
    cache: dict[str, list[DataRef]] = program.binary_memo("stripped_code_refs", dict)
    if function in cache:
        return cache[function]
    refs: list[DataRef] = []
    func = program.pclntab.func_by_name(function)
    if func is not None and 0 < func.end - func.entry <= _MAX_FUNCTION_BYTES:
        try:
            code = program.binary.read_static(func.entry, func.end - func.entry)
        except GoextError:
            code = b""
        ranges = []
        for name in _DATA_SECTIONS:
            section = program.binary.section(name)
            if section is not None and section.size:
                ranges.append((section.address, section.address + section.size))
        bias = program.target.load_bias()
        for ref in data_refs(program.binary.arch, code, func.entry):
            if any(low <= ref.target < high for low, high in ranges):
                refs.append(replace(ref, pc=ref.pc + bias, target=ref.target + bias))
    cache[function] = refs
    return refs


def _targets(program: "GoProgram", function: str, kinds: tuple[str, ...], widths: tuple[int, ...]) -> list[int]:
    """Distinct targets of ``function``'s references of those kinds and widths, in code order."""
    out: list[int] = []
    for ref in _code_refs(program, function):
        if ref.kind in kinds and ref.width in widths and ref.target not in out:
            out.append(ref.target)
    return out


def _common_targets(
    program: "GoProgram", functions: tuple[str, ...], kinds: tuple[str, ...], widths: tuple[int, ...]
) -> list[int]:
    """Targets every one of ``functions`` that exists refers to (at least two must exist)."""
    sets = [_targets(program, name, kinds, widths) for name in functions]
    present = [targets for targets in sets if targets]
    if len(present) < 2:
        return []
    return [target for target in present[0] if all(target in other for other in present[1:])]


def _read_int(program: "GoProgram", address: int, size: int, signed: bool = False) -> int:
    return int.from_bytes(program.target.read(address, size), "little", signed=signed)


def _field(buf: bytes, layout: StructLayout, name: str, signed: bool = False) -> int:
    offset, size = layout.fields[name]
    return int.from_bytes(buf[offset : offset + (size or 8)], "little", signed=signed)


def _allp_candidates(program: "GoProgram") -> list[int]:
    # procresize grows, shrinks and rewrites allp (src/runtime/proc.go): its
    # references are to allp's pointer, len and cap words.
    out: list[int] = []
    for target in _targets(program, "runtime.procresize", _ANY_KIND, (0, 8)):
        for word in (0, 1, 2):
            base = target - word * program.target.ptr_size
            if base not in out:
                out.append(base)
    return out


def _valid_allp(program: "GoProgram", address: int) -> bool:
    """A []*p of 1.._MAX_PROCS Ps, each with p.id == its index, a known status and an M of allm (or none)."""
    layout = program.layouts.structs.get("runtime.p")
    if layout is None or not all(layout.has(name) for name in ("id", "status")):
        return False
    ptr = program.target.ptr_size
    if address % ptr:
        return False
    header = program.target.read(address, 3 * ptr)
    items, length, capacity = (int.from_bytes(header[i * ptr : (i + 1) * ptr], "little") for i in range(3))
    if not 0 < length <= capacity <= _MAX_PROCS or not items or items % ptr:
        return False
    pointers = program.target.read(items, length * ptr)
    machines = {machine.address for machine in program.machines()}
    for index in range(length):
        p = int.from_bytes(pointers[index * ptr : (index + 1) * ptr], "little")
        if not p or p % ptr:
            return False
        buf = program.target.read(p, layout.size)
        if _field(buf, layout, "id", signed=True) != index or _field(buf, layout, "status") > 4:
            return False
        if layout.has("m"):
            m = _field(buf, layout, "m")
            if m and machines and m not in machines:
                return False
    return True


def _allp_length(program: "GoProgram") -> Optional[int]:
    allp = program.runtime_symbol("runtime.allp")
    if allp is None:
        return None
    return _read_int(program, allp + program.target.ptr_size, program.target.ptr_size)


def _gomaxprocs_candidates(program: "GoProgram") -> list[int]:
    # runtime.GOMAXPROCS reads it (src/runtime/debug.go), procresize reads it first (proc.go).
    return _common_targets(program, ("runtime.GOMAXPROCS", "runtime.procresize"), (LOAD,), (4,))


def _valid_gomaxprocs(program: "GoProgram", address: int) -> bool:
    """An int32 in 1.._MAX_PROCS, equal to len(allp) when allp is known (procresize keeps them equal)."""
    value = _read_int(program, address, 4, signed=True)
    if not 0 < value <= _MAX_PROCS:
        return False
    length = _allp_length(program)
    return length is None or length == value


def _ncpu_candidates(program: "GoProgram") -> list[int]:
    # osinit stores getproccount() (src/runtime/os_linux.go), schedinit reads it (proc.go).
    return _common_targets(program, ("runtime.osinit", "runtime.schedinit"), (STORE, LOAD), (4,))


def _valid_ncpu(program: "GoProgram", address: int) -> bool:
    return 0 < _read_int(program, address, 4, signed=True) <= _MAX_NCPU


def _sched_candidates(program: "GoProgram") -> list[int]:
    # runtime.GOMAXPROCS takes &sched.lock (src/runtime/debug.go), which lies just
    # before sched.midle in every release; lock's own offset is not in the layouts,
    # so each 8-aligned base that puts the reference before midle is a candidate.
    layout = program.layouts.structs.get("runtime.schedt")
    if layout is None or not layout.has("midle"):
        return []
    out: list[int] = []
    for target in _targets(program, "runtime.GOMAXPROCS", (ADDRESS,), (0,)):
        for shift in range(0, layout.offset("midle"), 8):
            if target - shift not in out:
                out.append(target - shift)
    return out


def _chain_length(program: "GoProgram", head: int, link_offset: int, members: set[int], bound: int) -> Optional[int]:
    """Length of a linked list of ``members`` from ``head``; None when it leaves them or loops."""
    seen: set[int] = set()
    while head:
        if head in seen or head not in members or len(seen) > bound:
            return None
        seen.add(head)
        head = program.target.read_ptr(head + link_offset)
    return len(seen)


def _idle_m_count(program: "GoProgram", buf: bytes, layout: StructLayout, machines: set[int]) -> Optional[int]:
    """Length of sched.midle: Ms linked through m.schedlink (a muintptr head), or,
    since Go 1.26, a listHeadManual{obj, initialized, nodeOffset} whose nodes
    are listNodeManual{prev, next} inside each M (src/runtime/list_manual.go)."""
    offset, size = layout.fields["midle"]
    m_layout = program.layouts.m
    head = int.from_bytes(buf[offset : offset + 8], "little")
    if size == 8:
        if not m_layout.has("schedlink"):
            return None
        return _chain_length(program, head, m_layout.offset("schedlink"), machines, len(machines))
    if size != 24:
        return None
    initialized = buf[offset + 8]
    node_offset = int.from_bytes(buf[offset + 16 : offset + 24], "little")
    if initialized != 1 or not 0 < node_offset < m_layout.size or node_offset % 8:
        return None
    return _chain_length(program, head, node_offset + 8, machines, len(machines))


def _valid_sched(program: "GoProgram", address: int) -> bool:
    """runtime.schedt (src/runtime/runtime2.go): mnext above every M id, maxmcount
    positive, the idle M and P lists made of allm's Ms and allp's Ps with their
    counters (one off allowed: a crash can stop an update between the two writes),
    a global run queue of allgs' goroutines (read last: the walk of the goroutines
    itself reads sched, so it cannot be used here)."""
    layout = program.layouts.structs.get("runtime.schedt")
    needed = ("mnext", "maxmcount", "midle", "nmidle", "pidle", "npidle", "nmspinning", "runq.head")
    if layout is None or address % 8 or not all(layout.has(name) for name in needed):
        return False
    machines = program.machines()
    if not machines:
        return False
    buf = program.target.read(address, layout.size)
    mnext = _field(buf, layout, "mnext", signed=True)
    if not max(machine.id for machine in machines) < mnext <= 1 << 31:
        return False
    if _field(buf, layout, "maxmcount", signed=True) <= 0:
        return False
    if not 0 <= _field(buf, layout, "nmspinning", signed=True) <= len(machines):
        return False
    # mcount() == mnext - nmfreed counts the Ms in allm (src/runtime/proc.go).
    if layout.has("nmfreed") and abs(mnext - _field(buf, layout, "nmfreed", signed=True) - len(machines)) > 1:
        return False
    m_addresses = {machine.address for machine in machines}
    idle_ms = _idle_m_count(program, buf, layout, m_addresses)
    if idle_ms is None or abs(idle_ms - _field(buf, layout, "nmidle", signed=True)) > 1:
        return False
    p_layout = program.layouts.structs.get("runtime.p")
    allp = program.runtime_symbol("runtime.allp")
    if p_layout is not None and p_layout.has("link") and allp is not None:
        ptr = program.target.ptr_size
        items, length = program.target.read_ptr(allp), _read_int(program, allp + ptr, ptr)
        data = program.target.read(items, min(length, _MAX_PROCS) * ptr)
        ps = {int.from_bytes(data[i : i + ptr], "little") for i in range(0, len(data), ptr)}
        idle_ps = _chain_length(program, _field(buf, layout, "pidle"), p_layout.offset("link"), ps, len(ps))
        if idle_ps is None or abs(idle_ps - _field(buf, layout, "npidle", signed=True)) > 1:
            return False
    size_field = "runq.size" if layout.has("runq.size") else "runqsize"
    if not layout.has(size_field):
        return False
    queued, head = _field(buf, layout, size_field, signed=True), _field(buf, layout, "runq.head")
    allgs = read_allgs(program)
    if not 0 <= queued <= len(allgs) or (head == 0) != (queued == 0):
        return False
    return head == 0 or head in set(allgs)


def _memstats_candidates(program: "GoProgram") -> list[int]:
    # gcenable ends with memstats.enablegc = true (src/runtime/mgc.go): a one-byte store of 1.
    layout = program.layouts.structs.get("runtime.mstats")
    if layout is None or not layout.has("enablegc"):
        return []
    offset = layout.offset("enablegc")
    return [
        ref.target - offset
        for ref in _code_refs(program, "runtime.gcenable")
        if ref.kind == STORE and ref.width == 1 and ref.immediate in (1, None)
    ]


def _valid_memstats(program: "GoProgram", address: int) -> bool:
    """runtime.mstats (src/runtime/mstats.go): enablegc a bool, numforcedgc <= numgc,
    and a last GC time and pause total exactly when a cycle completed."""
    layout = program.layouts.structs.get("runtime.mstats")
    needed = ("enablegc", "numgc", "numforcedgc", "last_gc_unix", "pause_total_ns")
    if layout is None or address % 8 or not all(layout.has(name) for name in needed):
        return False
    buf = program.target.read(address, layout.size)
    cycles = _field(buf, layout, "numgc")
    if _field(buf, layout, "enablegc") > 1 or not _field(buf, layout, "numforcedgc") <= cycles < 1 << 31:
        return False
    last, paused = _field(buf, layout, "last_gc_unix"), _field(buf, layout, "pause_total_ns")
    if cycles == 0:
        return last == 0 and paused == 0
    return _UNIX_NS_RANGE[0] < last < _UNIX_NS_RANGE[1] and 0 < paused < 1 << 60


def _gc_controller_candidates(program: "GoProgram") -> list[int]:
    # gcinit calls gcController.init (src/runtime/mgc.go): its receiver's address.
    return _targets(program, "runtime.gcinit", (ADDRESS,), (0,))


def _valid_gc_controller(program: "GoProgram", address: int) -> bool:
    """runtime.gcControllerState (src/runtime/mgcpacer.go): setGCPercent keeps
    heapMinimum == defaultHeapMinimum * uint64(gcPercent) / 100."""
    layout = program.layouts.structs.get("runtime.gcControllerState")
    if layout is None or address % 8 or not all(layout.has(name) for name in ("gcPercent", "heapMinimum")):
        return False
    buf = program.target.read(address, layout.size)
    percent = _field(buf, layout, "gcPercent", signed=True)
    if percent < -1:
        return False
    minimum = _field(buf, layout, "heapMinimum")
    return any(((base * (percent & _U64)) & _U64) // 100 == minimum for base in _HEAP_MINIMUMS)


# Functions that test gcphase (src/runtime/mgc.go gcTrigger.test, mgcwork.go
# freeSomeWbufs, stack.go stackpoolfree, mgc.go gcSweep, mgcpacer.go gcControllerCommit).
_GCPHASE_READERS = (
    "runtime.gcTrigger.test",
    "runtime.freeSomeWbufs",
    "runtime.stackpoolfree",
    "runtime.gcSweep",
    "runtime.gcControllerCommit",
)


def _gcphase_candidates(program: "GoProgram") -> list[int]:
    return _common_targets(program, _GCPHASE_READERS, (COMPARE, LOAD), (4,))


def _valid_gcphase(program: "GoProgram", address: int) -> bool:
    return _read_int(program, address, 4) in (0, 1, 2)  # _GCoff, _GCmark, _GCmarktermination


def _semtable_candidates(program: "GoProgram") -> list[int]:
    # Both index semtable through semroot (src/runtime/sema.go), inlined.
    return _common_targets(program, ("runtime.semacquire1", "runtime.semrelease1"), (ADDRESS,), (0,))


def semtable_stride(program: "GoProgram") -> Optional[int]:
    """Bytes per runtime.semtable entry for this binary's GOARCH and release, or None when unknown."""
    arch, minor = program.binary.arch, program.go_minor
    if arch not in _SEMTAB_DEFAULT_STRIDES or minor is None:
        return None
    covering = [release for release in _SEMTAB_STRIDES[arch] if release >= minor]
    return _SEMTAB_STRIDES[arch][min(covering)] if covering else _SEMTAB_DEFAULT_STRIDES[arch]


def _valid_semtable(program: "GoProgram", address: int) -> bool:
    """251 padded semaRoots: each treap empty or rooted at a sudog waiting on an
    address that hashes to that entry (semroot: (addr>>3) % 251)."""
    root = program.layouts.structs.get("runtime.semaRoot")
    sudog = program.layouts.structs.get("runtime.sudog")
    stride = semtable_stride(program)
    if root is None or sudog is None or not root.has("treap") or not sudog.has("elem") or address % 8:
        return False
    if stride is None:
        return False
    data = program.target.read(address, _SEMTAB_SIZE * stride)
    elem_offset, elem_size = sudog.fields["elem"]
    if elem_size == 16:  # Go 1.26+ maybeTraceablePtr{vp, vu}: vu is the value (src/runtime/runtime2.go)
        elem_offset += 8
    for index in range(_SEMTAB_SIZE):
        at = index * stride + root.offset("treap")
        treap = int.from_bytes(data[at : at + 8], "little")
        if not treap:
            continue
        if treap % 8:
            return False
        elem = program.target.read_ptr(treap + elem_offset)
        if (elem >> 3) % _SEMTAB_SIZE != index:
            return False
    return True


def _moduledata_candidates(program: "GoProgram") -> list[int]:
    # pclntab.py found the moduledata whose first word points at the pc/line table.
    address = program.pclntab.moduledata
    return [] if address is None else [address + program.target.load_bias()]


def _valid_moduledata(program: "GoProgram", address: int) -> bool:
    """moduledata.pcHeader (its first word, src/runtime/symtab.go) is the table's address."""
    return program.target.read_ptr(address) == program.pclntab.address + program.target.load_bias()


# Functions that take &mheap_ (src/runtime/malloc.go mallocinit: mheap_.init();
# mcentral.go grow and mcache.go allocLarge: mheap_.alloc) or load mheap_.arenas
# (mbitmap.go findObject, mheap.go spanOfHeap, both inline spanOf).
_MHEAP_TAKERS = ("runtime.mallocinit", "runtime.(*mcentral).grow", "runtime.(*mcache).allocLarge")
_MHEAP_ARENA_READERS = ("runtime.findObject", "runtime.spanOfHeap")


def _mheap_candidates(program: "GoProgram") -> list[int]:
    out: list[int] = []
    for function in _MHEAP_TAKERS:
        for target in _targets(program, function, (ADDRESS,), (0,)):
            if target not in out:
                out.append(target)
    layout = program.layouts.structs.get("runtime.mheap")
    if layout is not None and layout.has("arenas"):
        for function in _MHEAP_ARENA_READERS:
            for target in _targets(program, function, (LOAD,), (8,)):
                base = target - layout.offset("arenas")
                if base not in out:
                    out.append(base)
    return out


def _valid_mheap(program: "GoProgram", address: int) -> bool:
    """runtime.mheap (src/runtime/mheap.go): an arena index listing sane arenas whose
    first in-use page maps to an in-use span that starts there."""
    return plausible_mheap(program, address)


# finBlock, src/runtime/mfinal.go: {alllink, next *finBlock; cnt uint32; _ int32;
# fin [(finBlockSize - 2*ptr - 2*4) / 40]finalizer}, finBlockSize = 4 KiB (5-word finalizers).
_FINBLOCK_CNT_OFFSET = 16
_FINBLOCK_CAPACITY = (4096 - 2 * 8 - 2 * 4) // 40
_MAX_FINBLOCKS_CHECKED = 64


def _allfin_candidates(program: "GoProgram") -> list[int]:
    """runtime.allfin: a word markroot loads (fixedRootFinalizers walks the blocks,
    src/runtime/mgcmark.go) and queuefinalizer stores (it links a new block in,
    src/runtime/mfinal.go)."""
    loaded = _targets(program, "runtime.markroot", (LOAD,), (8,))
    stored = _targets(program, "runtime.queuefinalizer", (STORE,), (8,))
    return [target for target in loaded if target in stored]


def _valid_allfin(program: "GoProgram", address: int) -> bool:
    """nil (no finalizer ever queued), or a short chain of finBlocks with sane counts."""
    block = program.target.read_ptr(address)
    for _ in range(_MAX_FINBLOCKS_CHECKED):
        if not block:
            return True
        if block % 8 or _read_int(program, block + _FINBLOCK_CNT_OFFSET, 4) > _FINBLOCK_CAPACITY:
            return False
        block = program.target.read_ptr(block)
    return True


Candidates = Callable[["GoProgram"], list[int]]
Validator = Callable[["GoProgram", int], bool]

# name -> (candidates from code, validator); ncpu became numCPUStartup in Go 1.25.
_CODE_FINDERS: dict[str, tuple[Candidates, Validator]] = {
    "runtime.allp": (_allp_candidates, _valid_allp),
    "runtime.gomaxprocs": (_gomaxprocs_candidates, _valid_gomaxprocs),
    "runtime.ncpu": (_ncpu_candidates, _valid_ncpu),
    "runtime.numCPUStartup": (_ncpu_candidates, _valid_ncpu),
    "runtime.sched": (_sched_candidates, _valid_sched),
    "runtime.memstats": (_memstats_candidates, _valid_memstats),
    "runtime.gcController": (_gc_controller_candidates, _valid_gc_controller),
    "runtime.gcphase": (_gcphase_candidates, _valid_gcphase),
    "runtime.semtable": (_semtable_candidates, _valid_semtable),
    "runtime.firstmoduledata": (_moduledata_candidates, _valid_moduledata),
    "runtime.mheap_": (_mheap_candidates, _valid_mheap),
    "runtime.allfin": (_allfin_candidates, _valid_allfin),
}


def _passes(program: "GoProgram", valid: Validator, address: int) -> bool:
    try:
        return valid(program, address)
    except (GoextError, KeyError):
        return False


def _find_by_code(program: "GoProgram", name: str, hint: Optional[int]) -> Optional[int]:
    minor = program.go_minor
    if minor is not None and (name, minor >= 25) in (("runtime.ncpu", True), ("runtime.numCPUStartup", False)):
        return None  # the other name is this release's
    candidates, valid = _CODE_FINDERS[name]
    if hint is not None and _passes(program, valid, hint):
        return hint
    fitting = [address for address in candidates(program) if _passes(program, valid, address)]
    if len(fitting) == 1:
        return fitting[0]
    if len(fitting) > 1:
        note = f"{name}: {len(fitting)} places fit its shape; left unknown"
        if note not in program.notes:
            program.notes.append(note)
    return None


# name -> (finder, words a candidate spans: allgs is a slice header, allm a pointer)
_FINDERS = {"runtime.allgs": (_find_allgs, 3), "runtime.allm": (_find_allm, 1)}

# Functions that read or take the address of allm (src/runtime/proc.go
# mcommoninit links a new M in, schedtrace and mexit walk the list).
_ALLM_USERS = ("runtime.mcommoninit", "runtime.schedtrace", "runtime.mexit")


def _allm_candidates(program: "GoProgram") -> list[int]:
    """Pointer-sized data words all of allm's users refer to (a few), checked
    before the scan of every data word: in a debugger that scan costs tens of
    thousands of reads, most of them of unmapped memory."""
    return _common_targets(program, _ALLM_USERS, (LOAD, STORE, ADDRESS, UPDATE), (0, program.target.ptr_size))


FOUND_FROM_CODE = frozenset(_CODE_FINDERS)
RECOVERABLE = frozenset(_FINDERS) | FOUND_FROM_CODE


# Recovered globals whose size is their struct's (src/runtime/runtime2.go, mstats.go, mgcpacer.go).
_STRUCT_OF = {
    "runtime.sched": "runtime.schedt",
    "runtime.memstats": "runtime.mstats",
    "runtime.gcController": "runtime.gcControllerState",
    "runtime.firstmoduledata": "runtime.moduledata",
    "runtime.mheap_": "runtime.mheap",
}
_INT32_GLOBALS = ("runtime.gomaxprocs", "runtime.ncpu", "runtime.numCPUStartup", "runtime.gcphase")


def recovered_symbol_size(program: "GoProgram", name: str) -> Optional[int]:
    """What the symbol table would give as the size of recovered global ``name``, from its shape."""
    if name == "runtime.semtable":
        stride = semtable_stride(program)
        return None if stride is None else _SEMTAB_SIZE * stride
    if name in _STRUCT_OF:
        layout = program.layouts.structs.get(_STRUCT_OF[name])
        return layout.size if layout is not None and layout.size else None
    if name in _INT32_GLOBALS:
        return 4
    if name in ("runtime.allp", "runtime.allgs"):
        return 3 * program.target.ptr_size
    if name in ("runtime.allm", "runtime.allfin"):
        return program.target.ptr_size
    return None


def recover_runtime_symbol(program: "GoProgram", name: str, hint: Optional[int] = None) -> Optional[int]:
    """Run-time address of runtime global ``name``, found by shape; ``hint``, a
    run-time address where it probably is, is checked before any scan."""
    if name in _CODE_FINDERS:
        try:
            return _find_by_code(program, name, hint)
        except GoextError:
            return None
    if name not in _FINDERS:
        return None
    finder, words = _FINDERS[name]
    try:
        if hint is not None:
            found = finder(program, _hinted_words(program, hint, words), True)
            if found is not None:
                return found
        if name == "runtime.allm":
            # Held to the hint's standard: the chain must reach the M of every goroutine.
            candidates = (word for address in _allm_candidates(program) for word in _hinted_words(program, address, 1))
            found = finder(program, candidates, True)
            if found is not None:
                return found
        return finder(program, _words(program), False)
    except NotYetKnown:
        raise
    except GoextError:
        return None
