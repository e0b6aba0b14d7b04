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

Who holds a mutex is not recorded anywhere.  goext names a holder only from
the runtime's own liveness data: a goroutine (other than the waiters) one of
whose frames holds the mutex's address (or its struct's) in a slot the garbage
collector's stack maps say is a live pointer (runtime/stackmaps.py).  Without
one, the holder is "unknown".  The same live slots name the goroutines that
could still send on, receive from, or call Done on an object.

:func:`analyze_deadlock` then gives every user goroutine one verdict, with the
evidence and, for "stuck", a confidence:

- running, runnable, syscall: it runs (or runs C code, or sits in the kernel);
- waiting: it waits for something outside the goroutines that will happen
  (its sleep timer, a live timer or ticker filling its channel, the netpoller);
- blocked: a goroutine that may still proceed could release it;
- unknown: what would wake it cannot be seen (a reference held only in the
  heap, a sync.Cond, a timer heap goext cannot read, a runtime-internal wait,
  a mutex whose holder is unknown) - never "stuck" for lack of evidence;
- parked: it waits in ``select {}`` with no cases, for good and on purpose;
- stuck: it can never proceed.  "certain" when the proof uses the runtime's
  data only (a nil channel; the object sits on the waiter's
  own stack, which no other goroutine can reach; every user goroutine blocked
  with every timer read); "high" when every possible releaser goext can see is
  stuck too (the runtime does not record references held in the heap).

Wait cycles are printed only through real wait-for edges: the one goroutine
that could release the object another waits on.
"""

from __future__ import annotations

import bisect
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_uleb128
from goext_core.errors import GoextError, MemoryReadError
from goext_core.progress import steps
from goext_core.runtime.defers import deferred_record_unlocks, pending_mutex_unlocks
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.layouts import (
    G_COPYSTACK,
    G_IDLE,
    G_LEAKED,
    G_PREEMPTED,
    G_RUNNABLE,
    G_RUNNING,
    G_SYSCALL,
    G_WAITING,
)
from goext_core.runtime.stackmaps import live_pointer_slots
from goext_core.runtime.stacks import is_runtime_function, printed_name, short_path, user_frame
from goext_core.runtime.timers import KIND_FUNC, KIND_OTHER, TimerInfo, TimerTable, read_timer, read_timers
from goext_core.runtime.unwind import STACK_GOROUTINE, Frame, Stack

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
    live: bool = True  # the GC's stack map says the slot is live (False: a frame without a map, scanned whole)


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
    holders: list[Reference] = field(default_factory=list)  # live references outside the waiters
    # sync.Mutex: frames outside the waiters with the mutex's deferred Unlock pending (runtime/defers.py)
    unlocking: list[Reference] = field(default_factory=list)
    in_globals: bool = False  # a global variable points at it: any goroutine may reach it
    timer: bool = False  # a time.Timer/Ticker channel: the runtime's timers send to it
    timer_live: Optional[bool] = None  # a live timer fills it (None: cannot be known)
    timer_evidence: str = ""
    locked: Optional[bool] = None  # mutexes: the state's locked bit
    counter: Optional[int] = None  # waitgroups: the count Wait waits to see reach 0
    on_stack_of: Optional[int] = None  # the object lives on this goroutine's stack
    timer_address: int = 0  # Go 1.23+: hchan.timer

    def label(self) -> str:
        where = f"{self.address:#x}" if self.address is not None else "(address unknown)"
        text = f"{self.kind} {where}"
        if self.elem_type:
            kind = "unbuffered" if not self.capacity else f"buffered {self.length}/{self.capacity}"
            text = f"chan {self.elem_type} {where} ({kind}{', closed' if self.closed else ''})"
        if self.symbol:
            text += f" [{self.symbol}]"
        return text

    def pattern(self) -> str:
        """The label without the address: what groups goroutines blocked the same way."""
        text = self.kind
        if self.elem_type:
            text = f"chan {self.elem_type}"
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
    # (sudog address, what the sudog points at: sudog.c of a channel wait, sudog.elem - the
    # semaphore or notifyList address - of a sync wait).  The GC's goroutine leak detection
    # hides exactly these pointers while it marks (src/runtime/mgc.go setSyncObjectsUntraceable).
    sudogs: list[tuple[int, int]] = field(default_factory=list)
    sudogs_complete: bool = True  # False: the g.waiting list was cut short (unreadable, a loop, no channel)


@dataclass
class WaitGraph:
    objects: list[WaitObject] = field(default_factory=list)
    waits: dict[int, GoroutineWait] = field(default_factory=dict)  # goroutine id -> what it waits on
    notes: list[str] = field(default_factory=list)
    timers: TimerTable = field(default_factory=lambda: TimerTable(False, "not read"))

    def to_json(self) -> dict[str, Any]:
        return {
            "objects": [asdict(o) for o in self.objects],
            "waits": [
                {k: v for k, v in asdict(w).items() if k not in ("sudogs", "sudogs_complete")}
                for w in self.waits.values()
            ],
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


def _semaphore_waiters(program: "GoProgram", graph: WaitGraph) -> dict[int, list[tuple[int, int]]]:
    """g address -> (semaphore address, sudog address) of its waits, from runtime.semtable."""
    out: dict[int, list[tuple[int, int]]] = {}
    sudogs = _Sudogs(program)
    root_layout = program.layouts.structs.get("runtime.semaRoot")
    table = program.runtime_symbol("runtime.semtable")
    if table is None or sudogs.layout is None or root_layout is None or not root_layout.has("treap"):
        graph.notes.append(
            "runtime.semtable or the sudog layout is missing: mutex and semaphore waits are not resolved"
        )
        return out
    # Symbol table's size, or (stripped) the one the recovered global's release and
    # GOARCH give: entries are padded to cpu.CacheLinePadSize (src/internal/cpu/cpu_*.go).
    size = program.runtime_symbol_size("runtime.semtable")
    if not size or size % SEMTAB_SIZE:
        graph.notes.append("runtime.semtable's size is unknown: mutex and semaphore waits are not resolved")
        return out
    stride = size // SEMTAB_SIZE
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
                    out.setdefault(chain["g"], []).append((chain.get("elem", 0), waiter))
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


def _words(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset, value) of each little-endian 64-bit word (the targets goext reads are little-endian)."""
    words = memoryview(data)[: len(data) & ~7].cast("B").cast("Q")
    if sys.byteorder == "little":
        return ((index * 8, value) for index, value in enumerate(words))
    return ((offset, int.from_bytes(data[offset : offset + 8], "little")) for offset in range(0, len(data) - 7, 8))


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
            for offset, value in _words(data):
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


def _sync_kind(program: "GoProgram", record: GoroutineRecord, shapes: "_Shapes") -> str:
    """Which sync type a semaphore wait belongs to, from the parked frames
    (the wait reason alone says "semacquire" before Go 1.20)."""
    reason = record.wait_reason
    for frame in shapes.frames(record)[0]:
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


class _Shapes:
    """Frames of parked goroutines, unwinding once per shape: goroutines parked at the
    same pc with the same depth of stack usually have the same frames (50,000 workers
    started by one go statement).  A cached unwinding is reused for another goroutine
    only when every return address it followed sits at the same offset of the other's
    stack (checked word by word); otherwise that goroutine is unwound itself."""

    MAX_SHAPES = 4096

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.ptr = program.target.ptr_size
        self.arm64 = program.binary.arch == "arm64"
        self.cache: dict[tuple[int, int], tuple[int, list[Frame], list[tuple[int, int]]]] = {}
        self.cached_ids: set[int] = set()  # id() of the frame lists the cache holds
        # id(frames of a cached shape) -> its live slots, at that shape's own sp
        self.liveness: dict[int, tuple[dict[int, str], list[tuple[int, int, str]], tuple[int, int]]] = {}

    def frames(self, record: GoroutineRecord) -> tuple[list[Frame], int]:
        """The goroutine's frames, and what to add to their sp and fp (frames shared
        with another goroutine of the same shape are that goroutine's)."""
        program = self.program
        sp = record.sched_sp
        if record.plain_status != G_WAITING or not sp or not record.stack_lo <= sp < record.stack_hi:
            return program.stack(record).frames, 0
        key = (record.sched_pc, record.stack_hi - sp)
        cached = self.cache.get(key)
        if cached is not None:
            base, frames, checks = cached
            if self._matches(sp, checks):
                return frames, sp - base
        stack = program.stack(record)
        frames = stack.frames
        physical = [f for f in frames if not f.inlined]
        if stack.error or not physical or any(f.stack != STACK_GOROUTINE or f.trap for f in physical):
            return frames, 0
        checks = []
        for inner, outer in zip(physical, physical[1:]):
            # Where the return address into ``outer`` was read (src/runtime/traceback.go):
            # just below the frame's fp on amd64, at the callee's sp on link-register machines.
            slot = inner.sp if self.arm64 else inner.fp - self.ptr
            checks.append((slot - sp, outer.pc))
        if len(self.cache) < self.MAX_SHAPES:
            self.cache[key] = (sp, frames, checks)
            self.cached_ids.add(id(frames))
        return frames, 0

    def _matches(self, sp: int, checks: list[tuple[int, int]]) -> bool:
        if not checks:
            return True
        span = max(offset for offset, _ in checks) + self.ptr
        try:
            data = self.program.target.read(sp, span)
        except MemoryReadError:
            return False
        return all(int.from_bytes(data[o : o + self.ptr], "little") == pc for o, pc in checks)


def _location(program: "GoProgram", record: GoroutineRecord, shapes: Optional[_Shapes] = None) -> str:
    if shapes is not None:
        frame = user_frame(Stack(shapes.frames(record)[0]), program.library_code)
    else:
        frame = program.user_frame(record)
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
    obj.timer_address = u("timer")
    # Without type names (no moduledata), a chan of 24-byte elements (time.Time: wall, ext, loc)
    # with capacity 1 may be one too.
    looks_like_time = obj.elem_type == "time.Time" or (obj.elem_type is None and u("elemsize") == 24)
    obj.timer = bool(obj.timer_address) or (looks_like_time and obj.capacity == 1)
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
    semaphores: Optional[dict[int, list[tuple[int, int]]]] = None
    g_layout = program.layouts.g
    shapes = _Shapes(program)

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
            wait = GoroutineWait(
                record.id, record.state, how=_channel_how(reason), location=_location(program, record, shapes)
            )
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
                    wait.sudogs.append((waiting, channel))
                else:
                    wait.sudogs_complete = False
                waiting = sudog.get("waitlink", 0)
            if waiting:
                wait.sudogs_complete = False  # stopped before the end of the list
            graph.waits[record.id] = wait
        elif reason in _SYNC_REASONS:
            kind = "cond" if reason == "sync.Cond.Wait" else _sync_kind(program, record, shapes)
            wait = GoroutineWait(
                record.id, record.state, how=_sync_how(kind), location=_location(program, record, shapes)
            )
            if kind != "cond":
                if semaphores is None:
                    semaphores = _semaphore_waiters(program, graph)
                for sema, sudog_address in semaphores.get(record.address, []):
                    address = sema - _SEMA_OFFSET.get(kind, 0)
                    index = object_index(kind, address)
                    graph.objects[index].waiters.append(record.id)
                    wait.objects.append(index)
                    wait.sudogs.append((sudog_address, sema))
            else:
                # notifyList waiters are reachable only from the Cond itself (src/runtime/sema.go).
                index = object_index("cond", None)
                graph.objects[index].waiters.append(record.id)
                wait.objects.append(index)
                # Since Go 1.26 g.waiting is the waiter's sudog, its elem the Cond's notifyList
                # (src/runtime/sema.go notifyListWait); before, nothing records which Cond.
                cond_sudog = _waiting_sudog(program, record, sudogs)
                if cond_sudog is not None:
                    wait.sudogs.append(cond_sudog)
            graph.waits[record.id] = wait

    graph.timers = read_timers(program)
    if not graph.timers.known:
        graph.notes.append(graph.timers.reason)
    by_channel = graph.timers.by_channel()
    stacks = sorted((r.stack_lo, r.stack_hi, r.id) for r in records if r.stack_lo < r.stack_hi)
    for obj in graph.objects:
        if obj.address is None:
            continue
        if obj.kind == "chan":
            _read_channel(program, obj.address, types, obj, ids, sudogs)
            _channel_timer(program, obj, graph.timers, by_channel)
        else:
            _read_sync_state(program, obj)
        position = bisect.bisect_right(stacks, (obj.address, 1 << 64, 0)) - 1
        if position >= 0 and stacks[position][0] <= obj.address < stacks[position][1]:
            obj.on_stack_of = stacks[position][2]
    _find_references(program, graph, records, shapes)
    return graph


def _waiting_sudog(program: "GoProgram", record: GoroutineRecord, sudogs: _Sudogs) -> Optional[tuple[int, int]]:
    """(g.waiting, its elem) when the goroutine has a sudog with an elem, else None."""
    layout = program.layouts.g
    if not layout.has("waiting") or (program.go_minor or 0) < 26:
        return None
    try:
        waiting = program.target.read_ptr(record.address + layout.offset("waiting"))
        elem = sudogs.read(waiting).get("elem", 0) if waiting else 0
    except (MemoryReadError, GoextError):
        return None
    return (waiting, elem) if elem else None


def _channel_timer(program: "GoProgram", obj: WaitObject, timers: TimerTable, by_channel: dict[int, TimerInfo]) -> None:
    """Whether a live timer or ticker will send on the channel ``obj``."""
    address = obj.address or 0
    timer = by_channel.get(address)
    if timer is None and obj.timer_address:
        # Go 1.23+: hchan.timer names the channel's timer (src/runtime/chan.go).
        try:
            timer = read_timer(program, obj.timer_address)
        except GoextError as exc:
            obj.timer_live, obj.timer_evidence = None, f"{obj.label()}: its timer is unreadable ({exc})"
            return
    if timer is not None:
        obj.timer = True
        obj.timer_live = timer.live
        if timer.live:
            obj.timer_evidence = f"{obj.label()} is filled by live {timer.describe()}"
        else:
            obj.timer_evidence = f"{obj.label()}: its timer {timer.address:#x} is stopped"
        return
    if timers.known:
        obj.timer_live = False
        if obj.timer:
            obj.timer_evidence = f"{obj.label()}: no live timer in any P's heap sends on it"
    elif obj.timer:
        obj.timer_live = None
        obj.timer_evidence = f"{obj.label()} may be a timer's channel and the timers cannot be read"


def _read_sync_state(program: "GoProgram", obj: WaitObject) -> None:
    """The locked bit of a Mutex (state int32, mutexLocked = 1: src/sync/mutex.go, since Go 1.24
    src/internal/sync/mutex.go) and a WaitGroup's counter (state uint64, counter in the high
    32 bits: src/sync/waitgroup.go)."""
    address = obj.address or 0
    try:
        if obj.kind == "mutex":
            obj.locked = bool(program.target.read_u32(address) & 1)
        elif obj.kind == "waitgroup":
            obj.counter = int.from_bytes(program.target.read(address, 8), "little") >> 32
            if obj.counter >= 1 << 31:
                obj.counter -= 1 << 32
    except MemoryReadError:
        pass


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


class _Liveness:
    """Which words of one goroutine's stack hold live pointers, and in which frame."""

    def __init__(self, program: "GoProgram", record: GoroutineRecord, shapes: "_Shapes") -> None:
        self.live: dict[int, str] = {}  # slot -> function whose stack map has it
        self.whole: list[tuple[int, int, str]] = []  # frames without a map: (sp, fp, function)
        self.covered = (0, 0)
        stack, delta = shapes.frames(record)
        known = shapes.liveness.get(id(stack))
        if known is None:
            known = self._compute(program, record, stack)
            if id(stack) in shapes.cached_ids:  # kept alive by the cache: its id stays its own
                shapes.liveness[id(stack)] = known
        live, whole, covered = known
        self.live = {slot + delta: name for slot, name in live.items()} if delta else live
        self.whole = [(low + delta, high + delta, name) for low, high, name in whole]
        self.covered = (covered[0] + delta, covered[1] + delta)

    @staticmethod
    def _compute(
        program: "GoProgram", record: GoroutineRecord, stack: list[Frame]
    ) -> tuple[dict[int, str], list[tuple[int, int, str]], tuple[int, int]]:
        live: dict[int, str] = {}
        whole: list[tuple[int, int, str]] = []
        frames = [f for f in stack if not f.inlined and f.stack == "goroutine"]
        if not frames:
            return live, whole, (0, 0)
        for frame in frames:
            # The frame a running goroutine executes has no map at its pc: scan it whole.
            running_here = record.plain_status == G_RUNNING and frame is stack[0]
            slots = None if running_here else live_pointer_slots(program, frame)
            if slots is None:
                whole.append((frame.sp, frame.fp, frame.function))
                continue
            for slot in slots:
                live.setdefault(slot, frame.function)
        return live, whole, (min(f.sp for f in frames), max(f.fp for f in frames))

    def classify(self, slot: int) -> Optional[tuple[str, bool]]:
        """(function, live) for a word that may be a live pointer; None for a dead slot."""
        function = self.live.get(slot)
        if function is not None:
            return function, True
        for low, high, name in self.whole:
            if low <= slot < high:
                return name, False
        if self.covered[0] <= slot < self.covered[1]:
            return None  # inside frames whose maps say it is dead
        return "?", False  # outside the frames goext could unwind: count it


def _rank(reference: Reference) -> int:
    """Prefer a live slot in the program's own frames, then an exact pointer."""
    own = not is_runtime_function(reference.function) and not reference.function.startswith(("sync.", "internal/"))
    return (0 if reference.live else 4) + (0 if own else 2) + (0 if reference.exact else 1)


_ENCLOSING = 64  # a pointer this far below the object is taken as a pointer to the struct holding it
_NOT_HELD_BY_WAITERS = ("mutex", "rwmutex (read)", "rwmutex (write)", "waitgroup", "semaphore")


def _find_references(program: "GoProgram", graph: WaitGraph, records: list[GoroutineRecord], shapes: "_Shapes") -> None:
    """Which goroutines hold each object's address in a live stack slot (holders and
    possible partners), and which objects a global variable reaches."""
    targets = sorted({o.address for o in graph.objects if o.address is not None})
    if not targets:
        return
    by_address = {o.address: o for o in graph.objects if o.address is not None}
    low_bound, high_bound = targets[0] - _ENCLOSING, targets[-1]
    waiter_sets = {address: set(obj.all_waiters()) for address, obj in by_address.items()}
    for record in steps(records, "stack references"):
        if record.system or record.error:
            continue
        bounds = _scan_range(program, record)
        if bounds is None:
            continue
        low, high = bounds
        try:
            data = program.target.read(low, high - low)
        except MemoryReadError:
            continue
        hits: list[tuple[int, int, bool]] = []  # (slot, object address, exact)
        for offset, value in _words(data):
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
            if by_address[address].kind in _NOT_HELD_BY_WAITERS and record.id in waiter_sets[address]:
                continue
            hits.append((low + offset, address, exact))
        if not hits:
            continue
        if any(by_address[address].kind == "mutex" for _, address, _ in hits):
            _find_deferred_unlocks(program, record, shapes, by_address, waiter_sets)
        liveness = _Liveness(program, record, shapes)
        best: dict[int, Reference] = {}
        for slot, address, exact in hits:
            found = liveness.classify(slot)
            if found is None:
                continue
            reference = Reference(record.id, found[0], slot, exact, found[1])
            previous = best.get(address)
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


def _find_deferred_unlocks(
    program: "GoProgram",
    record: GoroutineRecord,
    shapes: "_Shapes",
    by_address: dict[int, WaitObject],
    waiter_sets: dict[int, set[int]],
) -> None:
    """Record the mutexes whose deferred Unlock one of the goroutine's frames has pending."""
    frames, delta = shapes.frames(record)
    found = deferred_record_unlocks(program, record)
    for frame in frames:
        if frame.stack == STACK_GOROUTINE:
            found += [(address, frame.function) for address in pending_mutex_unlocks(program, frame, delta)]
    for address, function in found:
        obj = by_address.get(address)
        if obj is not None and obj.kind == "mutex" and record.id not in waiter_sets[address]:
            if all(r.goroutine != record.id for r in obj.unlocking):
                obj.unlocking.append(Reference(record.id, function, 0, True))


# -- deadlock analysis --------------------------------------------------------------------
STUCK, PARKED, UNKNOWN, BLOCKED, WAITING = "stuck", "parked", "unknown", "blocked", "waiting"
SYSCALL, RUNNABLE, RUNNING = "syscall", "runnable", "running"
VERDICTS = (STUCK, PARKED, UNKNOWN, BLOCKED, WAITING, SYSCALL, RUNNABLE, RUNNING)
CERTAIN, HIGH, POSSIBLE = "certain", "high", "possible"  # POSSIBLE: blocked, and a releaser may act
MAX_RELEASERS_SHOWN = 16
MAX_EVIDENCE = 8
MAX_UNKNOWN_LISTED = 2000  # in JSON; the counts and groups cover the rest
MAX_GROUP_MEMBERS = 20


@dataclass
class GoroutineVerdict:
    goroutine: int
    verdict: str  # one of VERDICTS
    state: str
    location: str
    reason: str  # why, without addresses or ids (goroutines with the same reason group together)
    confidence: str = ""  # "certain"; stuck may be "high"; blocked is "possible"; unknown has none
    waits_on: list[str] = field(default_factory=list)  # object labels
    released_by: list[int] = field(default_factory=list)  # goroutines that could release it
    evidence: list[str] = field(default_factory=list)
    pattern: list[str] = field(default_factory=list)  # object labels without addresses


@dataclass
class PatternGroup:
    """Goroutines blocked the same way: verdict, state, location, objects, reason."""

    verdict: str
    confidence: str
    state: str
    location: str
    waits_on: list[str]
    reason: str
    count: int
    goroutines: list[int]  # the first MAX_GROUP_MEMBERS
    in_cycle: bool = False


@dataclass
class DeadlockReport:
    all_asleep: bool  # every user goroutine is stuck, with certainty
    user_goroutines: int
    counts: dict[str, int]  # verdict -> goroutines; sums to user_goroutines
    progressing: list[int]  # running, runnable, syscall, waiting, blocked
    stuck: list[GoroutineVerdict]
    unknown: list[GoroutineVerdict]
    groups: list[PatternGroup]
    cycles: list[list[int]]  # goroutine ids, each a wait cycle through real wait-for edges
    graph: WaitGraph
    notes: list[str] = field(default_factory=list)
    timers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        unknown = self.unknown[:MAX_UNKNOWN_LISTED]
        return {
            "all_asleep": self.all_asleep,
            "user_goroutines": self.user_goroutines,
            "counts": dict(self.counts),
            "progressing": self.progressing,
            "stuck": [asdict(s) for s in self.stuck],
            "unknown": [asdict(u) for u in unknown],
            "unknown_omitted": len(self.unknown) - len(unknown),
            "groups": [asdict(g) for g in self.groups],
            "cycles": self.cycles,
            "timers": self.timers,
            "wait_graph": self.graph.to_json(),
            "notes": self.notes,
        }


# Wait reasons that the outside world ends: the goroutine's own sleep timer, the netpoller.
_SELF_WAKING = {
    "sleep": "its sleep timer wakes it",
    "IO wait": "the netpoller wakes it when its file descriptor is ready",
    "sleep (synctest)": "its sleep timer wakes it",
}


def _base_verdict(record: GoroutineRecord, minor: int) -> Optional[tuple[str, str, str]]:
    """(verdict, reason, confidence) from the goroutine's status alone; None for a wait on an object."""
    status = record.plain_status
    if record.error:
        return UNKNOWN, f"the goroutine could not be read ({record.error})", ""
    if status in (G_RUNNING, G_COPYSTACK):
        return RUNNING, "it runs on a thread", CERTAIN
    if status in (G_RUNNABLE, G_PREEMPTED, G_IDLE):
        return RUNNABLE, "it waits only for a thread", CERTAIN
    if status == G_SYSCALL:
        return SYSCALL, "it is in a system call or C code", CERTAIN
    if status == G_LEAKED and minor >= 26:
        return STUCK, "the runtime's garbage collector found it leaked", CERTAIN
    if status != G_WAITING:
        return UNKNOWN, f"status {record.state or status} is not understood", ""
    reason = record.wait_reason
    if reason == "select (no cases)":
        # select {} parks a goroutine for good on purpose (a main that lets others work).
        return PARKED, "it waits in select {} with no cases: it never proceeds, by design", CERTAIN
    if reason in _FOREVER_REASONS:
        return STUCK, "it waits on a nil channel: nothing can wake it", CERTAIN
    if reason in _SELF_WAKING:
        return WAITING, _SELF_WAKING[reason], CERTAIN
    if reason in _CHANNEL_REASONS or reason in _SYNC_REASONS:
        return None
    return UNKNOWN, f"a runtime-internal wait ({reason or 'no reason'}): what ends it cannot be seen", ""


@dataclass
class _Release:
    """What could release the waiters of one object."""

    holders: set[int] = field(default_factory=set)  # goroutines with a live reference, not waiting on it
    anyone: bool = False  # reachable from a global: any goroutine that runs may
    now: str = ""  # released without any goroutine (live timer, unlocked, closed): the evidence
    now_reason: str = ""  # ... in words without addresses
    by_timer_func: bool = False  # a live time.AfterFunc function refers to it
    unknown: str = ""  # depends on something goext cannot see: the evidence
    unknown_reason: str = ""  # ... in words without addresses
    hidden: bool = True  # a reference held only in the heap would not be seen
    evidence: list[str] = field(default_factory=list)


def _holder_text(ref: Reference) -> str:
    how = "a live pointer slot (GC stack map)" if ref.live else "a stack slot of a frame without a stack map"
    what = "its address" if ref.exact else "the address of the struct holding it"
    return f"goroutine {ref.goroutine}'s frame {ref.function} holds {what} in {how} at {ref.slot:#x}"


def _object_release(obj: WaitObject, timer_refs: set[int]) -> _Release:
    release = _Release()
    label = obj.label()
    if obj.kind == "cond" or obj.address is None:
        release.unknown = f"{label}: whoever would signal it cannot be seen"
        release.unknown_reason = "whoever would signal the sync.Cond cannot be seen"
        return release
    waiting = set(obj.all_waiters())
    refs = sorted(obj.holders, key=_rank)
    if obj.on_stack_of is not None:
        release.hidden = False  # no heap object or other stack may point into a goroutine's stack
        release.evidence.append(
            f"{label} lives on goroutine {obj.on_stack_of}'s stack: no other goroutine can reach it"
        )
        if obj.on_stack_of not in waiting:
            release.holders.add(obj.on_stack_of)
    if obj.kind == "chan":
        if obj.closed:
            release.now, release.now_reason = f"{label} is closed", "its channel is closed: the runtime wakes it"
        elif obj.timer_live:
            release.now, release.now_reason = obj.timer_evidence, "a live timer or ticker fills its channel"
        elif obj.timer_live is None and obj.timer:
            release.unknown = obj.timer_evidence
            release.unknown_reason = "its channel may be a timer's, and the timers cannot be read"
        elif obj.timer_evidence:
            release.evidence.append(obj.timer_evidence)
    elif obj.kind == "mutex" and obj.locked is False:
        release.now = f"{label} is not locked: a waiter is about to be woken"
        release.now_reason = "the mutex is not locked: the runtime is waking a waiter"
    elif obj.kind == "waitgroup" and obj.counter == 0:
        release.now = f"{label}'s counter is 0: its waiters are being woken"
        release.now_reason = "the WaitGroup's counter is 0: the runtime is waking its waiters"
    if obj.address in timer_refs:
        release.by_timer_func = True
        release.evidence.append(f"a live time.AfterFunc function refers to {label}")
    # A goroutine waiting on the object cannot release it while it waits (both sides of a
    # channel never wait at once: they would have met).
    unlocking = [r for r in obj.unlocking if r.goroutine not in waiting]
    if unlocking:
        # The frame that deferred the mutex's Unlock holds it; a mutex has one holder, so
        # goroutines that merely point at it (the one that made it, say) are not holders.
        release.holders = {r.goroutine for r in unlocking}
        refs = [r for r in refs if r.goroutine in release.holders]
        for ref in unlocking[:4]:
            release.evidence.append(
                f"goroutine {ref.goroutine}'s frame {ref.function} has {label}'s deferred Unlock pending: it holds it"
            )
    release.holders.update(r.goroutine for r in refs if r.goroutine not in waiting)
    for ref in [r for r in refs if r.goroutine not in waiting][:4]:
        release.evidence.append(_holder_text(ref))
    if obj.kind == "waitgroup" and obj.counter is not None:
        release.evidence.append(f"{label} waits for its counter ({obj.counter}) to reach 0")
    if obj.kind in ("mutex", "rwmutex (read)", "rwmutex (write)"):
        # A locked mutex is unlocked by the goroutine holding it: only a holder named by the
        # runtime's liveness data counts; a global pointing at it says nothing about who holds it.
        state = {True: "locked", False: "not locked", None: "state unknown"}[obj.locked]
        if obj.kind == "mutex":
            release.evidence.insert(0, f"{label} is {state}")
        if not release.holders and not release.now and not release.by_timer_func and release.hidden:
            release.unknown = f"{label}: unknown holder (no other goroutine holds its address in a live stack slot)"
            release.unknown_reason = "unknown holder: no other goroutine holds the mutex's address in a live stack slot"
        return release
    release.anyone = obj.in_globals
    if obj.in_globals:
        release.evidence.append(f"{label} is reachable from a global variable")
    if not (release.holders or release.anyone or release.now or release.by_timer_func) and release.hidden:
        release.unknown_reason = (
            "no goroutine's live stack slot and no global refers to what it waits on; "
            "a reference held in the heap cannot be seen"
        )
        release.unknown = f"{label}: {release.unknown_reason}"
    return release


_CLOSURE_WORDS = 8  # the function and the first captured variables (a closure's size is not recorded)


def _timer_references(program: "GoProgram", graph: WaitGraph, funcs: list[TimerInfo]) -> set[int]:
    """Objects a live AfterFunc's closure points at (its captured variables, read whole)."""
    targets = {o.address for o in graph.objects if o.address is not None}
    found: set[int] = set()
    for timer in funcs[:1024]:
        if not timer.arg:
            continue
        try:
            data = program.target.read(timer.arg, _CLOSURE_WORDS * 8)
        except MemoryReadError:
            continue
        for offset in range(8, len(data) - 7, 8):
            value = int.from_bytes(data[offset : offset + 8], "little")
            if value in targets:
                found.add(value)
    return found


def analyze_deadlock(program: "GoProgram") -> DeadlockReport:
    graph = build_wait_graph(program)
    minor = program.go_minor or 0
    records = {r.id: r for r in program.goroutines() if not r.system}
    verdicts: dict[int, GoroutineVerdict] = {}
    blocked: list[int] = []
    for gid, record in records.items():
        wait = graph.waits.get(gid)
        location = wait.location if wait else (_location(program, record) if not record.error else "?")
        base = _base_verdict(record, minor)
        if base is None:
            blocked.append(gid)
            verdicts[gid] = GoroutineVerdict(gid, BLOCKED, record.state, location, "")
        else:
            verdicts[gid] = GoroutineVerdict(gid, base[0], record.state, location, base[1], base[2])
    active = {gid for gid, v in verdicts.items() if v.verdict in (RUNNING, RUNNABLE, SYSCALL, WAITING)}
    timers = graph.timers
    actor_timers = [
        t
        for t in timers.timers
        if t.kind == KIND_FUNC or (t.kind == KIND_OTHER and not is_runtime_function(t.function or ""))
    ]
    timer_refs = _timer_references(program, graph, actor_timers)
    releases = [_object_release(obj, timer_refs) for obj in graph.objects]
    # Something other than the blocked goroutines may act: a goroutine that runs or will wake,
    # a timer function, or something goext cannot see (an unreadable timer heap, an unknown wait).
    waiters_of: dict[int, list[int]] = {}
    releases_by: dict[int, list[int]] = {}
    objects_of: dict[int, list[int]] = {}
    for gid in blocked:
        wait = graph.waits.get(gid)
        objects_of[gid] = list(wait.objects) if wait else []
        for index in objects_of[gid]:
            waiters_of.setdefault(index, []).append(gid)
    # A wait goext could not resolve may end: such a goroutine may release what it holds.
    unresolved = {gid for gid in blocked if not objects_of[gid]}
    someone_runs = bool(active) or bool(actor_timers)
    unseen_actor = not timers.known or bool(unresolved) or any(v.verdict == UNKNOWN for v in verdicts.values())
    for index, release in enumerate(releases):
        for holder in release.holders:
            releases_by.setdefault(holder, []).append(index)

    def flood(start: set[int], seeds: list[int], level: dict[int, str], name: str) -> None:
        """Everything the goroutines in ``start`` and the objects ``seeds`` could release."""
        queue = list(start)
        released: set[int] = set()

        def release(index: int) -> None:
            if index in released:
                return
            released.add(index)
            for waiter in waiters_of.get(index, []):
                if waiter not in level:
                    level[waiter] = name
                    queue.append(waiter)

        for index in seeds:
            release(index)
        while queue:
            for index in releases_by.get(queue.pop(), []):
                release(index)

    # 1. What may proceed: released by a goroutine that may proceed, by a global any running
    #    goroutine may use, or by nothing at all (a live timer, an unlocked mutex).
    level: dict[int, str] = {}
    proceed_seeds = [i for i, r in enumerate(releases) if r.now or r.by_timer_func or (r.anyone and someone_runs)]
    flood(active, proceed_seeds, level, BLOCKED)
    # 2. What depends on something unseen; in a closed world (nothing runs, every timer
    #    read, nothing step 1 wakes) nothing unseen can act, and what is left is stuck.
    #    A goroutine a timer's channel or a closed channel wakes runs again and may
    #    release what it reaches through the heap, which goext cannot see.
    closed_world = not someone_runs and not unseen_actor and not level
    unknown_roots = {gid for gid, v in verdicts.items() if v.verdict == UNKNOWN} | unresolved
    unknown_seeds = [
        i
        for i, r in enumerate(releases)
        if not closed_world
        and (r.unknown or (r.anyone and unseen_actor) or (r.hidden and not (r.holders or r.anyone or r.by_timer_func)))
    ]
    flood(unknown_roots, unknown_seeds, level, UNKNOWN)

    # Per object, once (an object may have 50,000 waiters and as many holders).
    may_run = active | {g for g, name in level.items() if name == BLOCKED}
    shown = [sorted(r.holders)[: MAX_RELEASERS_SHOWN + 1] for r in releases]
    live_holder = [bool(r.holders & may_run) for r in releases]
    labels = [obj.label() for obj in graph.objects]
    patterns = [obj.pattern() for obj in graph.objects]
    for gid in blocked:
        verdict = verdicts[gid]
        objects = objects_of[gid]
        verdict.waits_on = [labels[i] for i in objects]
        verdict.pattern = sorted({patterns[i] for i in objects})
        who: set[int] = set()
        evidence: list[str] = []
        for index in objects:
            release = releases[index]
            who.update(h for h in shown[index] if h != gid)
            for line in ([release.now] if release.now else []) + ([release.unknown] if release.unknown else []):
                evidence.append(line)
            evidence.extend(release.evidence)
        if not objects:
            evidence.append("what it waits on could not be resolved")
        verdict.released_by = sorted(who)[:MAX_RELEASERS_SHOWN]
        verdict.evidence = list(dict.fromkeys(evidence))[:MAX_EVIDENCE]
        found = level.get(gid)
        if not objects:
            verdict.verdict, verdict.reason = UNKNOWN, "what it waits on could not be resolved"
        elif found == BLOCKED:
            direct = [releases[i].now_reason for i in objects if releases[i].now]
            if direct:
                verdict.verdict, verdict.reason, verdict.confidence = WAITING, direct[0], CERTAIN
            elif not any(live_holder[i] for i in objects) and any(releases[i].by_timer_func for i in objects):
                verdict.verdict, verdict.reason = BLOCKED, "a live time.AfterFunc function could release it"
                verdict.confidence = POSSIBLE
            else:
                verdict.verdict, verdict.reason = BLOCKED, "a goroutine that may still run could release it"
                verdict.confidence = POSSIBLE
        elif found == UNKNOWN:
            verdict.verdict = UNKNOWN
            verdict.reason = _unknown_reason([releases[i] for i in objects])
        else:
            verdict.verdict = STUCK
            own_stack = all(not releases[i].hidden and not releases[i].holders for i in objects)
            if closed_world or own_stack:
                verdict.confidence = CERTAIN
                verdict.reason = (
                    "every user goroutine is blocked and no timer or outside event can wake one"
                    if closed_world
                    else "what it waits on lives on its own stack: no other goroutine can reach it"
                )
            else:
                verdict.confidence = HIGH
                verdict.reason = "every goroutine that could release it is stuck too"
                verdict.evidence.append("caveat: references held only in the heap are not visible to goext's analysis")
    # Goroutines blocked on objects an unknown goroutine may release stay unknown (done above);
    # report the counts.
    counts = {name: 0 for name in VERDICTS}
    for verdict in verdicts.values():
        counts[verdict.verdict] += 1
    stuck = sorted((v for v in verdicts.values() if v.verdict == STUCK), key=lambda v: v.goroutine)
    unknown = sorted((v for v in verdicts.values() if v.verdict == UNKNOWN), key=lambda v: v.goroutine)
    stuck_ids = {v.goroutine for v in stuck}
    edges: dict[int, list[int]] = {}
    for verdict in stuck:
        # A real wait-for edge: the object has exactly one goroutine (not this one) that could release it.
        targets: set[int] = set()
        for index in objects_of.get(verdict.goroutine, []):
            if len(releases[index].holders) > 2 or releases[index].anyone:
                continue
            holders = releases[index].holders - {verdict.goroutine}
            if len(holders) == 1:
                targets |= holders & stuck_ids
        edges[verdict.goroutine] = sorted(targets)
    cycles = _cycles(edges)
    in_cycle = {g for cycle in cycles for g in cycle}
    all_asleep = (
        bool(records) and counts[STUCK] + counts[PARKED] == len(records) and all(v.confidence == CERTAIN for v in stuck)
    )
    report = DeadlockReport(
        all_asleep,
        len(records),
        counts,
        sorted(g for g, v in verdicts.items() if v.verdict in (RUNNING, RUNNABLE, SYSCALL, WAITING, BLOCKED)),
        stuck,
        unknown,
        _groups(verdicts.values(), in_cycle),
        cycles,
        graph,
        list(graph.notes),
        {
            "known": timers.known,
            "reason": timers.reason,
            "live": len(timers.timers),
            "functions": len(actor_timers),
        },
    )
    if all_asleep:
        report.notes.append(
            "no user goroutine can run: the runtime would report 'all goroutines are asleep - deadlock!'"
        )
    return report


def _unknown_reason(releases: list[_Release]) -> str:
    for release in releases:
        if release.unknown_reason:
            return release.unknown_reason
    return "a goroutine or timer whose own progress cannot be known could release it"


_VERDICT_ORDER = {name: position for position, name in enumerate(VERDICTS)}


def _groups(verdicts: Any, in_cycle: set[int]) -> list[PatternGroup]:
    groups: dict[tuple, PatternGroup] = {}
    for verdict in sorted(verdicts, key=lambda v: v.goroutine):
        cycle = verdict.goroutine in in_cycle
        key = (
            verdict.verdict,
            verdict.confidence,
            verdict.state,
            verdict.location,
            tuple(verdict.pattern),
            verdict.reason,
            cycle,
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = PatternGroup(
                verdict.verdict,
                verdict.confidence,
                verdict.state,
                verdict.location,
                list(verdict.pattern),
                verdict.reason,
                0,
                [],
                cycle,
            )
        group.count += 1
        if len(group.goroutines) < MAX_GROUP_MEMBERS:
            group.goroutines.append(verdict.goroutine)

    def order(group: PatternGroup) -> tuple:
        if group.verdict == STUCK:
            # Proven cycles first, then the smallest groups: a real pair before a crowd.
            return (0, group.confidence != CERTAIN, not group.in_cycle, group.count)
        return (_VERDICT_ORDER[group.verdict], 0, 0, -group.count)

    return sorted(groups.values(), key=order)


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
