"""What blocked goroutines wait on, who could release them, and deadlocks.

Where the runtime records a wait:

- channel operations and select: ``g.waiting`` is the goroutine's sudog list
  (linked by ``waitlink``), each ``sudog.c`` the channel (src/runtime/chan.go
  chansend/chanrecv, select.go selectgo); the channel's own ``recvq``/``sendq``
  list every goroutine waiting on it;
- sync.Mutex, RWMutex, WaitGroup and semaphores: the sudog sits in the
  semaphore treap ``runtime.semtable`` keyed by the semaphore's address
  (``sudog.elem``), with same-address waiters on ``waitlink``
  (src/runtime/sema.go semaRoot.queue).

Who holds a mutex is not recorded anywhere.  goext looks for it the way a
person would: a goroutine (other than the waiters) whose live stack holds the
mutex's address, which it does when it locked the mutex through a pointer and
deferred the unlock, or keeps the pointer for later.  That is evidence, not
proof, and is reported as such, with the frame that holds the reference.
The same stack evidence names the goroutines that could still send on or
receive from a channel.

:func:`analyze_deadlock` then computes which goroutines can never run again:
starting from the goroutines that can make progress (running, runnable, in a
syscall, sleeping, waiting for I/O), a blocked goroutine may proceed if one of
the goroutines that could release it may proceed.  What remains is stuck;
strongly connected parts of it are wait cycles.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_uleb128
from goext_core.errors import GoextError, MemoryReadError
from goext_core.progress import steps
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.layouts import G_RUNNABLE, G_RUNNING, G_SYSCALL, G_WAITING
from goext_core.runtime.stacks import is_runtime_function, printed_name, short_path, user_frame

if TYPE_CHECKING:
    from goext_core.program import GoProgram

SEMTAB_SIZE = 251  # semTabSize, src/runtime/sema.go
MAX_SUDOGS = 1_000_000  # bound on every sudog walk
MAX_SELECT_CASES = 65536  # select has at most 65536 cases (src/runtime/select.go)
MAX_STACK_SCAN = 256 * 1024  # bytes of each goroutine stack searched for references
MAX_GLOBALS_SCAN = 64 << 20

# Wait reasons (src/runtime/runtime2.go waitReasonStrings) of goroutines that
# only another goroutine can wake; any other wait (sleep, I/O, timers, GC) ends by itself.
_CHANNEL_REASONS = {
    "chan receive",
    "chan send",
    "select",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "select (no cases)",
    "chan receive (synctest)",
    "chan send (synctest)",
    "select (synctest)",
}
_FOREVER_REASONS = {"chan receive (nil chan)", "chan send (nil chan)", "select (no cases)"}
_SYNC_REASONS = {
    "semacquire",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "sync.Cond.Wait",
    "sync.WaitGroup.Wait (synctest)",
}

# Offset of the semaphore inside each sync type (src/sync/mutex.go Mutex{state int32; sema uint32},
# since Go 1.24 internal/sync/mutex.go with the same fields; src/sync/rwmutex.go
# RWMutex{w Mutex; writerSem, readerSem uint32; ...}; src/sync/waitgroup.go
# WaitGroup{noCopy; state atomic.Uint64; sema uint32} since Go 1.20).
_SEMA_OFFSET = {"mutex": 4, "rwmutex (read)": 12, "rwmutex (write)": 8, "waitgroup": 8}


@dataclass
class Reference:
    goroutine: int
    function: str  # the frame whose stack slot holds the address
    slot: int  # address of that stack slot
    exact: bool  # the slot holds the object's address itself (else a pointer into the struct just before it)


@dataclass
class WaitObject:
    kind: str  # "chan", "mutex", "rwmutex (read)", "rwmutex (write)", "waitgroup", "semaphore", "cond"
    address: Optional[int]
    symbol: Optional[str] = None  # a global that is or points to the object
    elem_type: Optional[str] = None  # channels
    capacity: Optional[int] = None
    length: Optional[int] = None
    closed: Optional[bool] = None
    receivers: list[int] = field(default_factory=list)  # goroutines waiting to receive
    senders: list[int] = field(default_factory=list)
    waiters: list[int] = field(default_factory=list)  # everything else (semaphores)
    holders: list[Reference] = field(default_factory=list)  # who may hold (mutex) or release it
    in_globals: bool = False  # a global variable points at it: any goroutine may reach it
    timer: bool = False  # a time.Timer/Ticker channel: the runtime's timers send to it

    def label(self) -> str:
        where = f"{self.address:#x}" if self.address is not None else "(address unknown)"
        text = f"{self.kind} {where}"
        if self.elem_type:
            kind = "unbuffered" if not self.capacity else f"buffered {self.length}/{self.capacity}"
            text = f"chan {self.elem_type} {where} ({kind}{', closed' if self.closed else ''})"
        if self.symbol:
            text += f" [{self.symbol}]"
        return text

    def all_waiters(self) -> list[int]:
        return self.receivers + self.senders + self.waiters


@dataclass
class GoroutineWait:
    goroutine: int
    state: str
    objects: list[int] = field(default_factory=list)  # indexes into WaitGraph.objects
    how: str = ""  # "receive", "send", "select", "lock", "rlock", "wait", ...
    location: str = ""  # user frame: function file:line


@dataclass
class WaitGraph:
    objects: list[WaitObject] = field(default_factory=list)
    waits: dict[int, GoroutineWait] = field(default_factory=dict)  # goroutine id -> what it waits on
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "objects": [asdict(o) for o in self.objects],
            "waits": [asdict(w) for w in self.waits.values()],
            "notes": list(self.notes),
        }


# -- low-level readers ----------------------------------------------------------
class _Sudogs:
    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.layout = program.layouts.structs.get("runtime.sudog")

    def read(self, address: int) -> dict[str, int]:
        layout = self.layout
        if layout is None:
            raise GoextError("no sudog layout")
        buf = self.program.target.read(address, layout.size)
        out = {}
        for name in _SUDOG_FIELDS:
            entry = layout.fields.get(name)
            if entry is None:
                continue
            offset, size = entry
            if size == 16:
                # Go 1.26+: elem and c are maybeTraceablePtr{vp unsafe.Pointer; vu uintptr},
                # vu being the source of truth (src/runtime/runtime2.go).
                offset, size = offset + 8, 8
            out[name] = int.from_bytes(buf[offset : offset + (size or 8)], "little")
        return out


_SUDOG_FIELDS = ("g", "next", "prev", "elem", "c", "waitlink", "isSelect", "ticket")


def _semaphore_waiters(program: "GoProgram", graph: WaitGraph) -> dict[int, list[int]]:
    """g address -> semaphore addresses it waits on, from runtime.semtable."""
    out: dict[int, list[int]] = {}
    sudogs = _Sudogs(program)
    root_layout = program.layouts.structs.get("runtime.semaRoot")
    table = program.runtime_symbol("runtime.semtable")
    if table is None or sudogs.layout is None or root_layout is None or not root_layout.has("treap"):
        graph.notes.append(
            "runtime.semtable or the sudog layout is missing: mutex and semaphore waits are not resolved"
        )
        return out
    size = program.binary.symbol_size("runtime.semtable")
    stride = size // SEMTAB_SIZE if size and size % SEMTAB_SIZE == 0 else 64  # cpu.CacheLinePadSize on amd64
    try:
        data = program.target.read(table, stride * SEMTAB_SIZE)
    except MemoryReadError as exc:
        graph.notes.append(f"runtime.semtable unreadable: {exc}")
        return out
    treap_offset = root_layout.offset("treap")
    visited = 0
    for index in range(SEMTAB_SIZE):
        base = index * stride + treap_offset
        root = int.from_bytes(data[base : base + 8], "little")
        pending = [root] if root else []
        seen: set[int] = set()
        while pending and visited < MAX_SUDOGS:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            visited += 1
            try:
                sudog = sudogs.read(node)
            except (MemoryReadError, GoextError) as exc:
                graph.notes.append(f"semaphore treap {index} cut short: {exc}")
                break
            # Children of the treap are prev/next; same-address waiters hang off waitlink.
            for child in (sudog.get("prev", 0), sudog.get("next", 0)):
                if child:
                    pending.append(child)
            waiter, chain = node, sudog
            for _ in range(MAX_SUDOGS):
                if chain.get("g"):
                    out.setdefault(chain["g"], []).append(chain.get("elem", 0))
                waiter = chain.get("waitlink", 0)
                if not waiter or waiter in seen:
                    break
                seen.add(waiter)
                visited += 1
                try:
                    chain = sudogs.read(waiter)
                except (MemoryReadError, GoextError):
                    break
    return out


class _TypeNames:
    """Names of runtime type descriptors (*_type / *abi.Type), enough for a chan's element.

    _type{size, ptrdata uintptr; hash uint32; tflag, align, fieldAlign, kind uint8;
    equal func; gcdata *byte; str nameOff; ptrToThis typeOff}: str is at 40 on 64-bit
    (src/runtime/type.go before 1.21, src/internal/abi/type.go since).  The name
    is a nameOff from moduledata.types: a flag byte, a varint length, the bytes
    (src/runtime/type.go name, Go 1.17+); tflagExtraStar (1<<1) means the stored
    name has a leading '*' to drop.
    """

    STR_OFFSET = 40
    TFLAG_OFFSET = 20
    TFLAG_EXTRA_STAR = 1 << 1

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.cache: dict[int, Optional[str]] = {}
        self._types_base: Optional[int] = None
        module = program.runtime_symbol("runtime.firstmoduledata")
        layout = program.layouts.structs.get("runtime.moduledata")
        if module is not None and layout is not None and layout.has("types"):
            try:
                self._types_base = program.target.read_ptr(module + layout.offset("types"))
            except MemoryReadError:
                pass

    def name(self, type_address: int) -> Optional[str]:
        if not type_address or self._types_base is None or (self.program.go_minor or 0) < 17:
            return None
        if type_address not in self.cache:
            self.cache[type_address] = self._read(type_address)
        return self.cache[type_address]

    def _read(self, type_address: int) -> Optional[str]:
        target = self.program.target
        base = self._types_base
        if base is None:
            return None
        try:
            header = target.read(type_address, 48)
            tflag = header[self.TFLAG_OFFSET]
            name_off = int.from_bytes(header[self.STR_OFFSET : self.STR_OFFSET + 4], "little", signed=True)
            data = target.read(base + name_off, 12)
            length, position = read_uleb128(data, 1)
            if length > 4096:
                return None
            text = target.read(base + name_off + position, length).decode("utf-8", "replace")
        except (MemoryReadError, TruncatedLeb128Error):
            return None
        return text[1:] if tflag & self.TFLAG_EXTRA_STAR and text.startswith("*") else text


class _Globals:
    """Which global variable is, or points at, an address (scanning the writable data sections once)."""

    _SECTIONS = (".data", ".noptrdata", ".bss", ".noptrbss")

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self._pointers: Optional[dict[int, int]] = None  # value -> slot address
        symbols = [
            (address, name)
            for name, address in program.binary.symbols.items()
            if not name.startswith(("go:", "type:", "type.", "runtime.")) and address
        ]
        symbols.sort()
        self._addresses = [a for a, _ in symbols]
        self._names = [n for _, n in symbols]

    def symbol_at(self, address: int) -> Optional[str]:
        bias = self.program.target.load_bias()
        index = bisect.bisect_right(self._addresses, address - bias) - 1
        if index < 0:
            return None
        name = self._names[index]
        size = self.program.binary.symbol_size(name) or 0
        offset = address - bias - self._addresses[index]
        if offset >= max(size, 1):
            return None
        return name if offset == 0 else f"{name}+{offset:#x}"

    def pointers(self, wanted: set[int]) -> dict[int, int]:
        """For each wanted value: the address of a global word holding it."""
        found: dict[int, int] = {}
        bias = self.program.target.load_bias()
        budget = MAX_GLOBALS_SCAN
        for name in self._SECTIONS:
            section = self.program.binary.section(name)
            if section is None or not section.size or section.size > budget:
                continue
            budget -= section.size
            try:
                data = self.program.target.read(section.address + bias, section.size)
            except MemoryReadError:
                continue
            view = memoryview(data)
            for offset in range(0, len(data) - 7, 8):
                value = int.from_bytes(view[offset : offset + 8], "little")
                if value in wanted and value not in found:
                    found[value] = section.address + bias + offset
        return found

    def describe(self, address: int, pointer_slots: dict[int, int]) -> Optional[str]:
        direct = self.symbol_at(address)
        if direct:
            return direct
        slot = pointer_slots.get(address)
        if slot is not None:
            holder = self.symbol_at(slot)
            if holder:
                return f"*{holder}"
        return None


def _sync_kind(program: "GoProgram", record: GoroutineRecord) -> str:
    """Which sync type a semaphore wait belongs to, from the parked frames
    (the wait reason alone says "semacquire" before Go 1.20)."""
    reason = record.wait_reason
    for frame in program.stack(record).frames:
        name = frame.function
        if "RWMutex).RLock" in name:
            return "rwmutex (read)"
        if "RWMutex).Lock" in name:
            return "rwmutex (write)"
        if "Mutex).Lock" in name or "Mutex).lockSlow" in name:
            return "mutex"
        if "WaitGroup).Wait" in name:
            return "waitgroup"
    return {
        "sync.Mutex.Lock": "mutex",
        "sync.RWMutex.RLock": "rwmutex (read)",
        "sync.RWMutex.Lock": "rwmutex (write)",
        "sync.WaitGroup.Wait": "waitgroup",
    }.get(reason, "semaphore")


def _location(program: "GoProgram", record: GoroutineRecord) -> str:
    frame = user_frame(program.stack(record), program.goroot_src)
    if frame is None:
        return "?"
    return f"{printed_name(frame.function)} at {short_path(frame.file)}:{frame.line}"


def _read_channel(
    program: "GoProgram", address: int, types: _TypeNames, obj: WaitObject, ids: dict[int, int], sudogs: _Sudogs
) -> None:
    layout = program.layouts.structs.get("runtime.hchan")
    if layout is None:
        return
    try:
        buf = program.target.read(address, layout.size)
    except MemoryReadError:
        return

    def u(name: str) -> int:
        offset, size = layout.fields.get(name, (0, 0))
        return int.from_bytes(buf[offset : offset + (size or 8)], "little") if name in layout.fields else 0

    obj.capacity, obj.length, obj.closed = u("dataqsiz"), u("qcount"), bool(u("closed"))
    obj.elem_type = types.name(u("elemtype"))
    # Timer channels are filled by the runtime, not by a goroutine: since Go 1.23 hchan.timer
    # says so (src/runtime/chan.go); before, time.NewTimer/NewTicker make a chan Time of
    # capacity 1 that the runtime's sendTime fills (src/time/sleep.go).
    obj.timer = bool(u("timer")) or (obj.elem_type == "time.Time" and obj.capacity == 1)
    for queue, out in (("recvq.first", obj.receivers), ("sendq.first", obj.senders)):
        node, count, seen, present = u(queue), 0, set(), set(out)
        while node and node not in seen and count < MAX_SUDOGS:
            seen.add(node)
            count += 1
            try:
                sudog = sudogs.read(node)
            except (MemoryReadError, GoextError):
                break
            goid = ids.get(sudog.get("g", 0))
            if goid is not None and goid not in present:
                present.add(goid)
                out.append(goid)
            node = sudog.get("next", 0)


def build_wait_graph(program: "GoProgram") -> WaitGraph:
    """Every wait of every user goroutine on a channel or a sync object."""
    graph = WaitGraph()
    records = [r for r in program.goroutines() if not r.error]
    ids = {r.address: r.id for r in records}
    sudogs = _Sudogs(program)
    types = _TypeNames(program)
    by_address: dict[tuple[str, int], int] = {}
    semaphores: Optional[dict[int, list[int]]] = None
    g_layout = program.layouts.g

    def object_index(kind: str, address: Optional[int]) -> int:
        key = (kind if kind != "chan" else "chan", address if address is not None else -len(graph.objects) - 1)
        if key not in by_address:
            by_address[key] = len(graph.objects)
            graph.objects.append(WaitObject(kind, address))
        return by_address[key]

    for record in steps(records, "wait graph"):
        if record.system or record.plain_status != G_WAITING:
            continue
        reason = record.wait_reason
        if reason in _CHANNEL_REASONS:
            wait = GoroutineWait(record.id, record.state, how=_channel_how(reason), location=_location(program, record))
            if reason in _FOREVER_REASONS:
                graph.waits[record.id] = wait
                continue
            waiting = 0
            if g_layout.has("waiting"):
                try:
                    waiting = program.target.read_ptr(record.address + g_layout.offset("waiting"))
                except MemoryReadError:
                    waiting = 0
            seen: set[int] = set()
            while waiting and waiting not in seen and len(seen) < MAX_SELECT_CASES:
                seen.add(waiting)
                try:
                    sudog = sudogs.read(waiting)
                except (MemoryReadError, GoextError):
                    break
                channel = sudog.get("c", 0)
                if channel:
                    index = object_index("chan", channel)
                    if index not in wait.objects:
                        wait.objects.append(index)
                waiting = sudog.get("waitlink", 0)
            graph.waits[record.id] = wait
        elif reason in _SYNC_REASONS:
            kind = "cond" if reason == "sync.Cond.Wait" else _sync_kind(program, record)
            wait = GoroutineWait(record.id, record.state, how=_sync_how(kind), location=_location(program, record))
            if kind != "cond":
                if semaphores is None:
                    semaphores = _semaphore_waiters(program, graph)
                for sema in semaphores.get(record.address, []):
                    address = sema - _SEMA_OFFSET.get(kind, 0)
                    index = object_index(kind, address)
                    graph.objects[index].waiters.append(record.id)
                    wait.objects.append(index)
            else:
                # notifyList waiters are reachable only from the Cond itself (src/runtime/sema.go).
                index = object_index("cond", None)
                graph.objects[index].waiters.append(record.id)
                wait.objects.append(index)
            graph.waits[record.id] = wait

    for obj in graph.objects:
        if obj.kind == "chan" and obj.address is not None:
            _read_channel(program, obj.address, types, obj, ids, sudogs)
    _find_references(program, graph, records)
    return graph


def _channel_how(reason: str) -> str:
    if reason.startswith("chan receive"):
        return "receive"
    if reason.startswith("chan send"):
        return "send"
    return "select"


def _sync_how(kind: str) -> str:
    return {
        "mutex": "lock",
        "rwmutex (read)": "rlock",
        "rwmutex (write)": "lock",
        "waitgroup": "wait",
        "cond": "wait",
    }.get(kind, "acquire")


def _scan_range(program: "GoProgram", record: GoroutineRecord) -> Optional[tuple[int, int]]:
    if not record.stack_hi:
        return None
    if record.plain_status == G_SYSCALL and record.syscall_sp:
        low = record.syscall_sp
    elif record.plain_status == G_RUNNING:
        frames = program.stack(record).frames
        low = min((f.sp for f in frames if f.stack == "goroutine"), default=record.stack_lo)
    else:
        low = record.sched_sp or record.stack_lo
    if not record.stack_lo <= low < record.stack_hi:
        low = record.stack_lo
    low = max(low, record.stack_hi - MAX_STACK_SCAN)
    return low & ~7, record.stack_hi


def _frame_at(program: "GoProgram", record: GoroutineRecord, slot: int) -> str:
    for frame in program.stack(record).frames:
        if frame.inlined or frame.stack != "goroutine":
            continue
        if frame.sp <= slot < frame.fp:
            return frame.function
    return "?"


def _rank(reference: Reference) -> int:
    """Prefer a reference in the program's own frames, then an exact one: a slot in a
    runtime frame may be a stale value the frame never initialized."""
    own = not is_runtime_function(reference.function) and not reference.function.startswith(("sync.", "internal/"))
    return (0 if own else 2) + (0 if reference.exact else 1)


_ENCLOSING = 64  # a pointer this far below the object is taken as a pointer to the struct holding it


def _find_references(program: "GoProgram", graph: WaitGraph, records: list[GoroutineRecord]) -> None:
    """Which goroutines' live stacks hold each object's address (holders and possible partners),
    and which objects a global variable reaches."""
    targets = sorted({o.address for o in graph.objects if o.address is not None})
    if not targets:
        return
    by_address = {o.address: o for o in graph.objects if o.address is not None}
    low_bound, high_bound = targets[0] - _ENCLOSING, targets[-1]
    waiter_sets = {address: set(obj.all_waiters()) for address, obj in by_address.items()}
    for record in steps(records, "stack references"):
        if record.system:
            continue
        bounds = _scan_range(program, record)
        if bounds is None:
            continue
        low, high = bounds
        try:
            data = program.target.read(low, high - low)
        except MemoryReadError:
            continue
        view = memoryview(data)
        best: dict[int, Reference] = {}
        for offset in range(0, len(data) - 7, 8):
            value = int.from_bytes(view[offset : offset + 8], "little")
            if value < low_bound or value > high_bound:
                continue
            position = bisect.bisect_left(targets, value)
            exact = position < len(targets) and targets[position] == value
            if exact:
                address = value
            elif position < len(targets) and targets[position] - value <= _ENCLOSING:
                address = targets[position]
            else:
                continue
            previous = best.get(address)
            if previous is not None and _rank(previous) == 0:
                continue
            obj = by_address[address]
            if obj.kind != "chan" and record.id in waiter_sets[address]:
                continue
            reference = Reference(record.id, _frame_at(program, record, low + offset), low + offset, exact)
            if _rank(reference) >= 2:
                continue  # a slot in a runtime frame: too often a stale value the frame never set
            if previous is None or _rank(reference) < _rank(previous):
                best[address] = reference
        for address, reference in best.items():
            by_address[address].holders.append(reference)
    globals_ = _Globals(program)
    slots = globals_.pointers(set(targets))
    for obj in graph.objects:
        if obj.address is None:
            continue
        obj.symbol = globals_.describe(obj.address, slots)
        obj.in_globals = obj.address in slots or globals_.symbol_at(obj.address) is not None


# -- deadlock analysis --------------------------------------------------------------------
@dataclass
class StuckGoroutine:
    goroutine: int
    state: str
    location: str
    waits_on: list[str]  # object labels
    released_by: list[int]  # goroutines that could release it (all stuck too)
    evidence: list[str]


@dataclass
class DeadlockReport:
    all_asleep: bool
    user_goroutines: int
    progressing: list[int]  # user goroutines that can still run
    stuck: list[StuckGoroutine]
    cycles: list[list[int]]  # goroutine ids, each a wait cycle
    graph: WaitGraph
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "all_asleep": self.all_asleep,
            "user_goroutines": self.user_goroutines,
            "progressing": self.progressing,
            "stuck": [asdict(s) for s in self.stuck],
            "cycles": self.cycles,
            "wait_graph": self.graph.to_json(),
            "notes": self.notes,
        }


def _can_progress(record: GoroutineRecord) -> bool:
    """Running, runnable, in a syscall, or waiting for something that ends by itself."""
    status = record.plain_status
    if status in (G_RUNNING, G_RUNNABLE, G_SYSCALL):
        return True
    if status != G_WAITING:
        return True  # preempted, copying its stack, ...: only a wait can last for ever
    return record.wait_reason not in _CHANNEL_REASONS and record.wait_reason not in _SYNC_REASONS


MAX_RELEASERS_SHOWN = 16


@dataclass
class _Release:
    """Who could release the waiters of one object (the same for all of them)."""

    who: set[int]
    anyone: bool  # reachable from a global, or unknowable: any running goroutine might
    evidence: list[str]


def _object_release(obj: WaitObject) -> _Release:
    evidence: list[str] = []
    if obj.kind == "cond" or obj.address is None:
        return _Release(set(), True, [f"{obj.label()}: whoever would signal it cannot be known"])
    waiting = set(obj.all_waiters())
    if obj.kind == "chan" and obj.timer:
        return _Release(set(), False, [f"{obj.label()} is a timer channel: the runtime sends on it"])
    if obj.kind == "chan":
        # A receiver is released by a sender and the other way round: the goroutines
        # waiting on the same side cannot help (src/runtime/chan.go).
        refs = [r for r in obj.holders if r.goroutine not in waiting]
        anyone = obj.in_globals
        if anyone:
            evidence.append(f"{obj.label()} is reachable from a global variable")
        for ref in refs[:4]:
            evidence.append(f"goroutine {ref.goroutine} holds {obj.label()} in {ref.function}")
        if not refs and not anyone:
            evidence.append(f"{obj.label()}: no goroutine other than its waiters refers to it")
        return _Release({r.goroutine for r in refs}, anyone, evidence)
    if obj.kind in ("mutex", "rwmutex (read)", "rwmutex (write)"):
        refs = [r for r in obj.holders if r.goroutine not in waiting]
        chosen = [r for r in refs if r.exact] or refs
        if not chosen:
            return _Release(set(), True, [f"{obj.label()}: no goroutine's stack refers to it, its holder is unknown"])
        for ref in chosen[:4]:
            evidence.append(
                f"{obj.label()} is probably held by goroutine {ref.goroutine} "
                f"(its frame {ref.function} holds the address at {ref.slot:#x})"
            )
        return _Release({r.goroutine for r in chosen}, False, evidence)
    # waitgroup, semaphore: anyone holding a pointer may release it.
    refs = [r for r in obj.holders if r.goroutine not in waiting]
    if obj.in_globals:
        evidence.append(f"{obj.label()} is reachable from a global variable")
    for ref in refs[:4]:
        evidence.append(f"goroutine {ref.goroutine} holds {obj.label()} in {ref.function}")
    if not refs and not obj.in_globals:
        evidence.append(f"{obj.label()}: no other goroutine refers to it")
    return _Release({r.goroutine for r in refs}, obj.in_globals, evidence)


def analyze_deadlock(program: "GoProgram") -> DeadlockReport:
    graph = build_wait_graph(program)
    records = {r.id: r for r in program.goroutines() if not r.error and not r.system}
    live = {gid for gid, r in records.items() if _can_progress(r)}
    for gid, wait in graph.waits.items():
        # Waiting on a timer channel ends by itself, like a sleep (the runtime does not
        # report a deadlock while timers are pending, src/runtime/proc.go checkdead).
        if gid in records and any(graph.objects[i].timer for i in wait.objects):
            live.add(gid)
    all_asleep = not live and bool(records)
    releases = [_object_release(obj) for obj in graph.objects]
    # Propagate "may proceed" over goroutine -> object -> waiting goroutine, linear in the
    # graph: an object may be released when one who could release it may proceed (or
    # anyone may, and something still runs); a blocked goroutine may proceed when one
    # of the objects it waits on (any case of a select) may be released.
    blocked = [gid for gid in records if gid not in live]
    waiters_of: dict[int, list[int]] = {}
    releases_by: dict[int, list[int]] = {}
    unknown_wait: list[int] = []
    for gid in blocked:
        found = graph.waits.get(gid)
        if found is None or (not found.objects and records[gid].wait_reason not in _FOREVER_REASONS):
            unknown_wait.append(gid)  # a wait goext could not resolve may end
            continue
        for index in found.objects:
            waiters_of.setdefault(index, []).append(gid)
    for index, release in enumerate(releases):
        for gid in release.who:
            releases_by.setdefault(gid, []).append(index)
    may_proceed = set(live)
    released: set[int] = set()
    queue = list(live)
    if live:
        queue += unknown_wait
        may_proceed.update(unknown_wait)
        for index, release in enumerate(releases):
            if release.anyone and index not in released:
                released.add(index)
                for gid in waiters_of.get(index, []):
                    if gid not in may_proceed:
                        may_proceed.add(gid)
                        queue.append(gid)
    while queue:
        gid = queue.pop()
        for index in releases_by.get(gid, []):
            if index in released:
                continue
            released.add(index)
            for waiter in waiters_of.get(index, []):
                if waiter not in may_proceed:
                    may_proceed.add(waiter)
                    queue.append(waiter)
    stuck_ids = [gid for gid in records if gid not in may_proceed]
    stuck_set = set(stuck_ids)
    stuck: list[StuckGoroutine] = []
    edges: dict[int, list[int]] = {}
    for gid in stuck_ids:
        found = graph.waits.get(gid)
        objects = found.objects if found else []
        who: set[int] = set()
        evidence: list[str] = []
        for index in objects:
            who.update(g for g in list(releases[index].who)[: MAX_RELEASERS_SHOWN * 4] if g != gid)
            evidence.extend(releases[index].evidence)
        if found is None:
            evidence.append("wait not understood")
        edges[gid] = sorted(who & stuck_set)[: MAX_RELEASERS_SHOWN * 4]
        stuck.append(
            StuckGoroutine(
                gid,
                records[gid].state,
                found.location if found else "?",
                [graph.objects[i].label() for i in objects],
                sorted(who)[:MAX_RELEASERS_SHOWN],
                evidence[:8],
            )
        )
    cycles = _cycles(edges)
    report = DeadlockReport(all_asleep, len(records), sorted(live), stuck, cycles, graph, list(graph.notes))
    if all_asleep:
        report.notes.append(
            "no user goroutine can run: the runtime would report 'all goroutines are asleep - deadlock!'"
        )
    return report


def _cycles(edges: dict[int, list[int]]) -> list[list[int]]:
    """Strongly connected components with a cycle (Tarjan, iterative), each
    rotated to start at its lowest id and ordered along the wait edges."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in sorted(edges):
        if root in index_of:
            continue
        work = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges.get(node, [])
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index_of:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index_of[child])
                continue
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    components.append(_order_cycle(sorted(component), edges))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components)


def _order_cycle(members: list[int], edges: dict[int, list[int]]) -> list[int]:
    """Walk the wait edges from the lowest id so the cycle reads in order."""
    inside = set(members)
    order = [members[0]]
    for _ in range(len(members)):
        nexts = [n for n in edges.get(order[-1], []) if n in inside and n not in order]
        if not nexts:
            break
        order.append(nexts[0])
    return order + [m for m in members if m not in order]
