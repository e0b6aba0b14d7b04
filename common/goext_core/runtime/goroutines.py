"""Walk runtime.allgs and runtime.allm: one record per goroutine and per M.

Each g and m is read with one bulk read of its whole struct and decoded from
that buffer.  A goroutine that cannot be read becomes a record with ``error``
set (like delve's Unreadable G), never an exception.
"""

from __future__ import annotations

import operator
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from goext_core.collector import collector_paused
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.progress import steps
from goext_core.runtime.layouts import G_LEAKED, G_RUNNING, G_SCAN, G_SYSCALL, G_WAITING, is_dead_status, status_strings
from goext_core.target import ByteOrder

if TYPE_CHECKING:
    from goext_core.program import GoProgram

MAX_GOROUTINES = 5_000_000  # allglen above this is taken as corrupt
MAX_MS = 100_000  # the runtime's own default limit is 10,000 (debug.SetMaxThreads)
MAX_LABELS = 64
_GS_PER_READ = 4096  # pointers of allgs fetched per bulk read
_G_WINDOW = 8192  # bytes read at once when decoding g structs (about 17 of them)


@dataclass
class MachineRecord:
    """One runtime M (OS thread)."""

    address: int
    id: int = -1
    procid: int = 0  # the OS thread id
    g0: int = 0
    gsignal: int = 0
    curg: int = 0
    p: int = 0
    lockedg: int = 0
    spinning: bool = False
    blocked: bool = False
    incgo: bool = False
    throwing: int = 0
    caughtsig: int = 0
    libcallsp: int = 0
    libcallpc: int = 0
    vdsosp: int = 0
    vdsopc: int = 0
    error: Optional[str] = None


@dataclass
class GoroutineRecord:
    """One goroutine as the runtime knows it (not yet unwound)."""

    address: int
    id: int = 0
    status: int = -1  # raw atomicstatus, _Gscan bit included
    state: str = ""  # as printed between the brackets of the traceback header
    wait_reason: str = ""
    waitsince: int = 0
    last_wake: int = 0  # nanotime when its last sleep ended (0: unknown or sleeping)
    wait_minutes: Optional[int] = None
    locked_to_thread: bool = False
    m: int = 0  # address of the M running it (or in syscall), else 0
    stack_lo: int = 0
    stack_hi: int = 0
    sched_pc: int = 0
    sched_sp: int = 0
    sched_bp: int = 0
    sched_lr: int = 0
    syscall_pc: int = 0
    syscall_sp: int = 0
    syscall_bp: int = 0
    gopc: int = 0
    startpc: int = 0
    parent_id: Optional[int] = None
    sigcode0: int = 0
    sigcode1: int = 0
    sigpc: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    stack_barriers: list[tuple[int, int]] = field(default_factory=list)  # (savedLRPtr, savedLRVal), Go 1.5-1.8
    system: bool = False
    error: Optional[str] = None

    @property
    def plain_status(self) -> int:
        return self.status & ~G_SCAN if self.status >= 0 else -1

    @property
    def is_running(self) -> bool:
        return self.plain_status == G_RUNNING


def _u(buf: bytes, offset: int, size: int) -> int:
    return int.from_bytes(buf[offset : offset + size], "little")


def _s(buf: bytes, offset: int, size: int) -> int:
    return int.from_bytes(buf[offset : offset + size], "little", signed=True)


_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class FieldReader:
    """Decodes a fixed set of integer fields of one struct layout with a single
    struct.unpack_from call: the goroutine walk decodes ~20 fields of 100,000 g
    structs, where one call per field is the dominant cost.  Missing fields read
    as 0; ``signed`` names are two's complement."""

    def __init__(self, layout: object, names: tuple[str, ...], signed: tuple[str, ...], byte_order: ByteOrder) -> None:
        fields: dict[str, tuple[int, int]] = layout.fields  # type: ignore[attr-defined]
        wanted = sorted((fields[name][0], fields[name][1] or 8, name) for name in names if name in fields)
        codes, position, order = [], 0, []
        self._fallback: Optional[list[tuple[str, int, int]]] = None
        for offset, size, name in wanted:
            code = _INT_CODES.get(size)
            if code is None or offset < position:  # odd size or overlapping fields: decode one by one
                self._fallback = [(n, o, s) for o, s, n in wanted]
                break
            codes.append(f"{offset - position}x" if offset > position else "")
            codes.append(code.lower() if name in signed else code)
            order.append(name)
            position = offset + size
        self._struct = struct.Struct(("<" if byte_order == "little" else ">") + "".join(codes))
        self._names = order
        self._signed = set(signed)
        self._order = byte_order
        self.size = position

    def values_getter(self, names: tuple[str, ...]) -> Callable[[bytes], tuple[int, ...]]:
        """A function from a struct's bytes to the values of ``names`` in that
        order (0 for a field this layout lacks), with no dict in between."""
        if self._fallback is not None:
            read = self.read
            return lambda buf: tuple(read(buf).get(name, 0) for name in names)
        absent = len(self._names)  # the index of the 0 appended to the unpacked values
        position = {name: index for index, name in enumerate(self._names)}
        pick = operator.itemgetter(*(position.get(name, absent) for name in names))
        unpack = self._struct.unpack_from
        return lambda buf: pick(unpack(buf) + (0,))

    def read(self, buf: bytes) -> dict[str, int]:
        if self._fallback is not None:
            return {
                name: int.from_bytes(buf[offset : offset + size], self._order, signed=name in self._signed)
                for name, offset, size in self._fallback
            }
        return dict(zip(self._names, self._struct.unpack_from(buf)))


_G_FIELDS = (
    "goid",
    "atomicstatus",
    "waitsince",
    "m",
    "stack.lo",
    "stack.hi",
    "sched.pc",
    "sched.sp",
    "sched.bp",
    "sched.lr",
    "syscallpc",
    "syscallsp",
    "syscallbp",
    "gopc",
    "startpc",
    "lockedm",
    "sigcode0",
    "sigcode1",
    "sigpc",
    "parentGoid",
    "waitreason",
    "labels",
    "sleepWhen",
    "timer",
)
_G_SIGNED_FIELDS = ("waitsince", "sleepWhen")
_M_FIELDS = (
    "id",
    "procid",
    "g0",
    "gsignal",
    "curg",
    "p",
    "lockedg",
    "spinning",
    "blocked",
    "incgo",
    "throwing",
    "caughtsig",
    "libcallsp",
    "libcallpc",
    "vdsoSP",
    "vdsoPC",
    "alllink",
)
_M_SIGNED_FIELDS = ("id", "throwing")


def read_allgs(program: "GoProgram") -> list[int]:
    """Addresses of every g in runtime.allgs (bounded)."""
    target = program.target
    allgs = program.runtime_symbol("runtime.allgs")
    if allgs is None:
        raise GoextError("cannot find runtime.allgs in this binary")
    header = target.read(allgs, 3 * target.ptr_size)
    pointer = _u(header, 0, target.ptr_size)
    length = _u(header, target.ptr_size, target.ptr_size)
    if length > MAX_GOROUTINES:
        raise CorruptDataError(f"runtime.allgs has an absurd length {length}")
    out: list[int] = []
    size = target.ptr_size
    for start in range(0, length, _GS_PER_READ):
        count = min(_GS_PER_READ, length - start)
        data = target.read(pointer + start * size, count * size)
        out.extend(int.from_bytes(data[i : i + size], target.byte_order) for i in range(0, len(data), size))
    return out


def read_allm(program: "GoProgram") -> list[MachineRecord]:
    target = program.target
    layout = program.layouts.m
    head = program.runtime_symbol("runtime.allm")
    if head is None:
        return []
    records: list[MachineRecord] = []
    seen: set[int] = set()
    address = target.read_ptr(head)
    while address and address not in seen and len(records) < MAX_MS:
        seen.add(address)
        record = MachineRecord(address)
        try:
            buf = target.read(address, layout.size)
        except MemoryReadError as exc:
            record.error = str(exc)
            records.append(record)
            break
        v = program.field_reader("m", _M_FIELDS, _M_SIGNED_FIELDS).read(buf).get
        record.id = v("id", 0)
        record.procid = v("procid", 0)
        record.g0, record.gsignal, record.curg = v("g0", 0), v("gsignal", 0), v("curg", 0)
        record.p, record.lockedg = v("p", 0), v("lockedg", 0)
        record.spinning, record.blocked = bool(v("spinning", 0)), bool(v("blocked", 0))
        record.incgo, record.throwing = bool(v("incgo", 0)), v("throwing", 0)
        record.caughtsig = v("caughtsig", 0)
        record.libcallsp, record.libcallpc = v("libcallsp", 0), v("libcallpc", 0)
        record.vdsosp, record.vdsopc = v("vdsoSP", 0), v("vdsoPC", 0)
        records.append(record)
        address = v("alllink", 0)
    return records


def estimate_now(program: "GoProgram", records: list[GoroutineRecord]) -> Optional[int]:
    """The runtime's nanotime() at the moment of the snapshot.

    A live process on this machine reads the same clock as we do.  For a core,
    "now" is at least every timestamp the process holds: sched.lastpoll
    (refreshed by sysmon about every 10ms while the poller runs, though Go
    <= 1.20 stores the time *before* a blocking poll; src/runtime/proc.go),
    every g.waitsince, and the wake-up time of every finished sleep
    (g.sleepWhen on Go 1.23+, else g.timer.when; src/runtime/time.go), which
    covers the usual "slept, woke up, crashed"."""
    live = program.target.monotonic_now()
    if live is not None:
        return live
    candidates = [r.waitsince for r in records if r.waitsince > 0]
    candidates += [r.last_wake for r in records if r.last_wake > 0]
    sched = program.runtime_symbol("runtime.sched")
    schedt = program.layouts.structs.get("runtime.schedt")
    if sched is not None and schedt is not None and schedt.has("lastpoll"):
        try:
            lastpoll = program.target.read_u64(sched + schedt.offset("lastpoll"))
            if 0 < lastpoll < 1 << 62:
                candidates.append(lastpoll)
        except MemoryReadError:
            pass
    return max(candidates) if candidates else None


def _timer_when(program: "GoProgram", timer: int) -> int:
    """g.timer.when (before Go 1.23): when the goroutine's last sleep ended."""
    if not timer:  # most goroutines never slept
        return 0
    layout = program.layouts.structs.get("runtime.timer")
    if layout is None or not layout.has("when"):
        return 0
    try:
        data = program.target.read(timer + layout.offset("when"), 8)
    except MemoryReadError:
        return 0
    when = int.from_bytes(data, program.target.byte_order, signed=True)
    return when if 0 < when < 1 << 62 else 0


def _labels(program: "GoProgram", pointer: int) -> dict[str, str]:
    """pprof labels: Go 1.24+ store a pointer to a struct whose first field is a
    []{key, value string} (runtime/pprof/label.go labelMap / internal/runtime/pprof/label.Set);
    earlier releases a pointer to a map[string]string (runtime/pprof/label.go labelMap)."""
    if not pointer:
        return {}
    target = program.target
    if program.go_minor is not None and program.go_minor >= 24:
        data = target.read(pointer, 3 * target.ptr_size)
        items, length = _u(data, 0, 8), _u(data, 8, 8)
        if length > MAX_LABELS:
            raise CorruptDataError(f"absurd number of pprof labels ({length})")
        out = {}
        for i in range(length):
            entry = items + i * 4 * target.ptr_size
            out[target.read_go_string(entry, 4096)] = target.read_go_string(entry + 2 * target.ptr_size, 4096)
        return out
    return program.read_string_map(target.read_ptr(pointer), MAX_LABELS)  # classic hmap walker, old label maps


class _GoroutineReader:
    """What decoding one g needs, looked up once per walk rather than once per
    goroutine (a list of 100,000 goroutines decodes 100,000 of them)."""

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.target = program.target
        self.layout = program.layouts.g
        reader: FieldReader = program.field_reader("g", _G_FIELDS, _G_SIGNED_FIELDS)
        self.size = reader.size
        self.values = reader.values_getter(_G_FIELDS)
        fields = self.layout.fields
        self.has_parent = "parentGoid" in fields
        self.has_sleep_when = "sleepWhen" in fields
        self.has_barriers = self.layout.has("stkbar")
        self.minor = program.go_minor or 99
        self.statuses = status_strings(self.minor)
        self._window = b""
        self._window_start = 0
        self._reasons: dict[int, str] = {}
        self._system: dict[tuple[int, bool], bool] = {}

    def _g_bytes(self, address: int) -> bytes:
        """The g at ``address``, from a window read ahead of it: g structs come
        from the same size class, and allgs mostly lists them in address order."""
        size = self.layout.size
        offset = address - self._window_start
        if 0 <= offset and offset + size <= len(self._window):
            return self._window[offset : offset + size]
        try:
            self._window = self.target.read(address, max(size, _G_WINDOW))
            self._window_start = address
        except MemoryReadError:  # the window crosses the end of the mapping: the g alone
            self._window = b""
            return self.target.read(address, size)
        return self._window[:size]

    def read(self, address: int) -> GoroutineRecord:
        record = GoroutineRecord(address)
        program = self.program
        try:
            buf = self._g_bytes(address)
        except MemoryReadError as exc:
            record.error = str(exc)
            return record
        if len(buf) < self.size:
            record.error = f"g struct cut short ({len(buf)} of {self.size} bytes)"
            return record
        (
            record.id,
            record.status,
            record.waitsince,
            record.m,
            record.stack_lo,
            record.stack_hi,
            record.sched_pc,
            record.sched_sp,
            record.sched_bp,
            record.sched_lr,
            record.syscall_pc,
            record.syscall_sp,
            record.syscall_bp,
            record.gopc,
            record.startpc,
            lockedm,
            record.sigcode0,
            record.sigcode1,
            record.sigpc,
            parent,
            reason_index,
            labels,
            sleep_when,
            timer,
        ) = self.values(buf)
        record.locked_to_thread = lockedm != 0
        if self.has_parent:
            record.parent_id = parent
        if reason_index:
            reason = self._reasons.get(reason_index)
            if reason is None:
                reason = self._reasons[reason_index] = program.wait_reason(reason_index)
            record.wait_reason = reason
        record.state = self._state_text(record, reason_index)
        if labels:
            try:
                record.labels = _labels(program, labels)
            except GoextError:
                record.labels = {"<unreadable>": "labels could not be read"}
        if self.has_barriers:
            try:
                record.stack_barriers = _stack_barriers(program, buf)
            except GoextError as exc:
                record.error = f"stack barriers unreadable: {exc}"
        if record.state != "sleep":  # when its last sleep ended, if it is not sleeping now
            record.last_wake = max(sleep_when, 0) if self.has_sleep_when else _timer_when(program, timer)
        # Whether it is a system goroutine depends on its start function, and
        # for the finalizer goroutines on whether it runs.
        key = (record.startpc, record.plain_status == G_RUNNING)
        system = self._system.get(key)
        if system is None:
            system = self._system[key] = program.is_system_goroutine(record)
        record.system = system
        return record

    def _state_text(self, record: GoroutineRecord, reason_index: int) -> str:
        """The header state exactly as src/runtime/traceback.go goroutineheader prints it,
        without the ", N minutes" and ", locked to thread" parts."""
        plain = record.plain_status
        status = self.statuses.get(plain, "???" if not 0 <= plain < 16 else "")
        if plain == G_WAITING or (plain == G_LEAKED and self.minor >= 26):
            if reason_index:
                status = record.wait_reason
        if plain == G_LEAKED and self.minor >= 26:
            status += " (leaked)"
        if record.status & G_SCAN:
            status += " (scan)"
        return status


def read_goroutine(program: "GoProgram", address: int) -> GoroutineRecord:
    """The g at ``address``; never raises for bad target data (the record says)."""
    return _GoroutineReader(program).read(address)


def read_goroutines(program: "GoProgram", addresses: list[int]) -> list[GoroutineRecord]:
    """The gs at ``addresses``, decoded with one reader (see read_goroutine)."""
    reader = _GoroutineReader(program)
    return [reader.read(address) for address in addresses]


MAX_STACK_BARRIERS = 1024


def _stack_barriers(program: "GoProgram", g_buf: bytes) -> list[tuple[int, int]]:
    """The pending stack barriers: g.stkbar[g.stkbarPos:], each {savedLRPtr, savedLRVal}
    (src/runtime/runtime2.go and mstkbar.go of Go 1.5-1.8)."""
    ptr = program.target.ptr_size
    order = program.target.byte_order
    layout = program.layouts.g
    offset = layout.offset("stkbar")
    items = int.from_bytes(g_buf[offset : offset + ptr], order)
    length = int.from_bytes(g_buf[offset + ptr : offset + 2 * ptr], order)
    position = program.field_reader("g", ("stkbarPos",)).read(g_buf).get("stkbarPos", 0)
    if length > MAX_STACK_BARRIERS or position > length:
        raise CorruptDataError(f"absurd stack barrier list ({position} of {length})")
    if position == length:
        return []
    data = program.target.read(items + position * 2 * ptr, (length - position) * 2 * ptr)
    return [
        (int.from_bytes(data[i : i + ptr], order), int.from_bytes(data[i + ptr : i + 2 * ptr], order))
        for i in range(0, len(data), 2 * ptr)
    ]


def walk_goroutines(program: "GoProgram", include_dead: bool = False) -> list[GoroutineRecord]:
    """Every live goroutine in allgs order (the order the runtime prints them)."""
    addresses = read_allgs(program)
    # Wait minutes need "now", which is estimated from all the records.
    reader = _GoroutineReader(program)
    with collector_paused():
        records = [reader.read(address) for address in steps(addresses, "goroutines")]
    now = estimate_now(program, records)
    out: list[GoroutineRecord] = []
    for record in records:
        if record.error is None and is_dead_status(record.status) and not include_dead:
            continue
        if (
            now is not None
            and record.error is None
            and record.waitsince
            and record.plain_status in (G_WAITING, G_SYSCALL)
        ):
            minutes = (now - record.waitsince) // 60_000_000_000
            record.wait_minutes = minutes if minutes >= 1 else None
        out.append(record)
    return out
