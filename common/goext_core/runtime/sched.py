"""The scheduler's state: Ps, Ms, run queues, GC phase (``go sched``), and
every OS thread with what it runs (``go threads``).

Everything is read from the runtime's own globals (src/runtime/runtime2.go:
``sched``, ``allp``, ``allm``, ``gomaxprocs``, ``ncpu``; src/runtime/mgc.go:
``gcphase``; src/runtime/mstats.go: ``memstats``; src/runtime/mgcpacer.go:
``gcController``).  A part that cannot be read becomes a note, never an
exception: a half-written scheduler is exactly what a crash leaves behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.goroutines import MachineRecord
from goext_core.runtime.layouts import G_SYSCALL, is_dead_status

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.target import Thread

MAX_PROCS = 4096  # far above any real GOMAXPROCS; allp longer than this is corrupt
RUNQ_CAPACITY = 256  # len(p.runq), src/runtime/runtime2.go
MAX_GLOBAL_RUNQ = 5_000_000  # bound on the sched.runq walk (it is as long as the goroutine count at most)

# P status values, src/runtime/runtime2.go.  Go 1.26 retired _Psyscall
# (it became _Psyscall_unused: a P in a syscall is known by its goroutine's state).
_P_STATUS = {0: "idle", 1: "running", 2: "syscall", 3: "gcstop", 4: "dead"}
_P_STATUS_126 = {0: "idle", 1: "running", 2: "syscall (unused)", 3: "gcstop", 4: "dead"}

# gcphase values, src/runtime/mgc.go (_GCoff, _GCmark, _GCmarktermination).
_GC_PHASES = {0: "off", 1: "mark", 2: "mark termination"}

# Functions an M may have been started with (src/runtime/proc.go newm callers).
_M_ROLES = {"runtime.sysmon": "sysmon", "runtime.templateThread": "template thread"}
# The M cgo keeps for C threads that call into Go (src/runtime/proc.go needm, oneNewExtraM).
EXTRA_M_ROLE = "cgo extra M"


@dataclass
class ProcessorView:
    id: int
    address: int
    status: str
    m: Optional[int] = None  # M id
    schedtick: int = 0
    syscalltick: int = 0
    runq: list[int] = field(default_factory=list)  # goroutine ids, in run order
    runnext: Optional[int] = None
    error: Optional[str] = None


@dataclass
class MachineView:
    id: int
    address: int
    tid: int
    curg: Optional[int] = None  # goroutine id
    p: Optional[int] = None  # P id
    spinning: bool = False
    blocked: bool = False
    lockedg: Optional[int] = None
    in_syscall: bool = False
    in_cgo: bool = False
    idle: bool = False
    role: str = ""
    throwing: int = 0
    error: Optional[str] = None


@dataclass
class GcView:
    phase: str = "unknown"
    cycles: Optional[int] = None  # completed cycles (memstats.numgc)
    forced_cycles: Optional[int] = None
    enabled: Optional[bool] = None
    gc_percent: Optional[int] = None
    heap_live: Optional[int] = None  # bytes the GC considers live now
    heap_marked: Optional[int] = None  # bytes marked by the last cycle (None before the first)
    heap_goal: Optional[int] = None  # the last cycle's goal, gcController.lastHeapGoal (None before the first)
    heap_in_use: Optional[int] = None  # in-use heap at the last mark termination
    last_gc_unix_ns: Optional[int] = None
    pause_total_ns: Optional[int] = None


@dataclass
class SchedView:
    gomaxprocs: Optional[int] = None
    ncpu: Optional[int] = None
    processors: list[ProcessorView] = field(default_factory=list)
    global_runq: list[int] = field(default_factory=list)
    global_runq_size: Optional[int] = None
    idle_processors: list[int] = field(default_factory=list)
    npidle: Optional[int] = None
    nmidle: Optional[int] = None
    nmidlelocked: Optional[int] = None
    nmspinning: Optional[int] = None
    nmsys: Optional[int] = None
    gcwaiting: Optional[bool] = None
    stopwait: Optional[int] = None
    sysmonwait: Optional[bool] = None
    sysmon: Optional[int] = None  # M id of sysmon
    machines: list[MachineView] = field(default_factory=list)
    gc: GcView = field(default_factory=GcView)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Struct:
    """Named-field reads from one bulk read of a runtime struct."""

    def __init__(self, layout: StructLayout, buf: bytes) -> None:
        self.layout = layout
        self.buf = buf

    def has(self, name: str) -> bool:
        return name in self.layout.fields

    def u(self, name: str, default: Optional[int] = None) -> Optional[int]:
        entry = self.layout.fields.get(name)
        if entry is None:
            return default
        offset, size = entry
        return int.from_bytes(self.buf[offset : offset + (size or 8)], "little")

    def i(self, name: str, default: Optional[int] = None) -> Optional[int]:
        entry = self.layout.fields.get(name)
        if entry is None:
            return default
        offset, size = entry
        return int.from_bytes(self.buf[offset : offset + (size or 8)], "little", signed=True)

    def first(self, *names: str) -> Optional[int]:
        for name in names:
            value = self.u(name)
            if value is not None:
                return value
        return None


def _read_struct(program: "GoProgram", symbol: str, struct: str) -> Optional[_Struct]:
    layout = program.layouts.structs.get(struct)
    address = program.runtime_symbol(symbol)
    if layout is None or address is None or not layout.size:
        return None
    return _Struct(layout, program.target.read(address, layout.size))


def _read_i32(program: "GoProgram", symbol: str) -> Optional[int]:
    address = program.runtime_symbol(symbol)
    if address is None:
        return None
    return int.from_bytes(program.target.read(address, 4), "little", signed=True)


class GoroutineIndex:
    """g address -> goroutine id, from the walked goroutines, reading a g's
    goid directly for the odd one not in allgs order (bounded by the caller)."""

    def __init__(self, program: "GoProgram") -> None:
        self.program = program
        self.ids = {record.address: record.id for record in program.goroutines()}

    def goid(self, g: int) -> Optional[int]:
        if not g:
            return None
        if g in self.ids:
            return self.ids[g]
        layout = self.program.layouts.g
        if not layout.has("goid"):
            return None
        try:
            value = int.from_bytes(self.program.target.read(g + layout.offset("goid"), 8), "little")
        except MemoryReadError:
            return None
        self.ids[g] = value
        return value


def _machine_role(program: "GoProgram", machine: MachineRecord, mstartfn: Optional[int]) -> str:
    if machine.id == 0:
        role = "m0"
    else:
        role = ""
    if mstartfn:
        try:
            pc = program.target.read_ptr(mstartfn)  # a func value points at its funcval {fn uintptr}
        except MemoryReadError:
            return role
        name = program.func_name(pc)
        if name in _M_ROLES:
            return _M_ROLES[name]
    return role


def _is_dead_g(program: "GoProgram", g: int) -> bool:
    layout = program.layouts.g
    try:
        return is_dead_status(program.target.read_u32(g + layout.offset("atomicstatus")))
    except GoextError:
        return False


def _is_extra_m(program: "GoProgram", machine: MachineRecord, curg_dead: bool) -> bool:
    """m.isextra (Go 1.20+); before, the shape oneNewExtraM gives it: a dead curg
    locked to the M (src/runtime/proc.go)."""
    layout = program.layouts.m
    if layout.has("isextra"):
        try:
            return bool(program.target.read(machine.address + layout.offset("isextra"), 1)[0])
        except MemoryReadError:
            return False
    return curg_dead and machine.curg == machine.lockedg


def _machine_views(program: "GoProgram", index: GoroutineIndex, p_ids: dict[int, int]) -> list[MachineView]:
    target = program.target
    layout = program.layouts.m
    statuses = {record.address: record.plain_status for record in program.goroutines()}
    views: list[MachineView] = []
    for machine in program.machines():
        view = MachineView(machine.id, machine.address, machine.procid)
        if machine.error:
            view.error = machine.error
            views.append(view)
            continue
        mstartfn = None
        if layout.has("mstartfn"):
            try:
                mstartfn = target.read_ptr(machine.address + layout.offset("mstartfn"))
            except MemoryReadError:
                pass
        view.role = _machine_role(program, machine, mstartfn)
        curg_dead = bool(machine.curg) and _is_dead_g(program, machine.curg)
        if _is_extra_m(program, machine, curg_dead):
            view.role = EXTRA_M_ROLE
        # An M never runs a dead g: the cgo extra M keeps one for the C thread that
        # will call into Go (src/runtime/proc.go oneNewExtraM), locked to it.
        view.curg = None if curg_dead else index.goid(machine.curg)
        view.p = p_ids.get(machine.p) if machine.p else None
        view.spinning, view.blocked, view.in_cgo = machine.spinning, machine.blocked, machine.incgo
        view.lockedg = index.goid(machine.lockedg)
        view.in_syscall = bool(machine.curg) and statuses.get(machine.curg) == G_SYSCALL
        view.throwing = machine.throwing
        view.idle = view.curg is None and not machine.p and not machine.spinning and view.role != "sysmon"
        views.append(view)
    return views


def _processor_views(
    program: "GoProgram", index: GoroutineIndex, notes: list[str]
) -> tuple[list[ProcessorView], dict[int, int]]:
    target = program.target
    allp = program.runtime_symbol("runtime.allp")
    layout = program.layouts.structs.get("runtime.p")
    if allp is None or layout is None:
        notes.append("runtime.allp or the p layout is missing: no per-P view")
        return [], {}
    ptr = target.ptr_size
    header = target.read(allp, 2 * ptr)
    items, length = int.from_bytes(header[:ptr], "little"), int.from_bytes(header[ptr:], "little")
    if length > MAX_PROCS:
        notes.append(f"runtime.allp has an absurd length {length}")
        return [], {}
    pointers = target.read(items, length * ptr) if length else b""
    m_ids = {m.address: m.id for m in program.machines()}
    names = _P_STATUS_126 if (program.go_minor or 0) >= 26 else _P_STATUS
    views: list[ProcessorView] = []
    p_ids: dict[int, int] = {}
    for index_in_allp in range(length):
        address = int.from_bytes(pointers[index_in_allp * ptr : (index_in_allp + 1) * ptr], "little")
        view = ProcessorView(index_in_allp, address, "unknown")
        if not address:
            view.error = "nil P"
            views.append(view)
            continue
        try:
            p = _Struct(layout, target.read(address, layout.size))
        except MemoryReadError as exc:
            view.error = str(exc)
            views.append(view)
            continue
        view.id = p.i("id", index_in_allp) or 0
        status = p.u("status", -1)
        view.status = names.get(status if status is not None else -1, f"status {status}")
        m_address = p.u("m", 0) or 0
        view.m = m_ids.get(m_address) if m_address else None
        view.schedtick, view.syscalltick = p.u("schedtick", 0) or 0, p.u("syscalltick", 0) or 0
        view.runnext = index.goid(p.u("runnext", 0) or 0)
        head, tail = p.u("runqhead", 0) or 0, p.u("runqtail", 0) or 0
        queued = (tail - head) & 0xFFFFFFFF
        if queued > RUNQ_CAPACITY:
            view.error = f"run queue head {head} and tail {tail} are inconsistent"
        elif queued and p.has("runq"):
            base = layout.offset("runq")
            for slot in range(head, head + queued):
                offset = base + (slot % RUNQ_CAPACITY) * ptr
                g = int.from_bytes(p.buf[offset : offset + ptr], "little")
                goid = index.goid(g)
                if goid is not None:
                    view.runq.append(goid)
        p_ids[address] = view.id
        views.append(view)
    return views, p_ids


def _global_runq(program: "GoProgram", sched: _Struct, index: GoroutineIndex, view: SchedView) -> None:
    size = sched.i("runq.size")
    if size is None:
        size = sched.i("runqsize")  # before the size moved into gQueue (src/runtime/proc.go gQueue)
    view.global_runq_size = size
    head = sched.u("runq.head", 0) or 0
    g_layout = program.layouts.g
    if not head or not g_layout.has("schedlink"):
        return
    bound = min(max(size or 0, 0), MAX_GLOBAL_RUNQ) if size is not None else MAX_GLOBAL_RUNQ
    seen: set[int] = set()
    g = head
    while g and g not in seen and len(view.global_runq) < bound:
        seen.add(g)
        goid = index.goid(g)
        if goid is not None:
            view.global_runq.append(goid)
        try:
            g = program.target.read_ptr(g + g_layout.offset("schedlink"))
        except MemoryReadError as exc:
            view.notes.append(f"global run queue cut short: {exc}")
            return


def _idle_processors(program: "GoProgram", sched: _Struct, view: SchedView, by_address: dict[int, int]) -> None:
    """Follow sched.pidle through p.link (src/runtime/proc.go pidleput)."""
    layout = program.layouts.structs.get("runtime.p")
    address = sched.u("pidle", 0) or 0
    if layout is None or not layout.has("link"):
        return
    seen: set[int] = set()
    while address and address not in seen and len(seen) < MAX_PROCS:
        seen.add(address)
        if address in by_address:
            view.idle_processors.append(by_address[address])
        try:
            address = program.target.read_ptr(address + layout.offset("link"))
        except MemoryReadError:
            return


def _gc_view(program: "GoProgram", notes: list[str]) -> GcView:
    gc = GcView()
    target = program.target
    phase_address = program.runtime_symbol("runtime.gcphase")
    if phase_address is not None:
        try:
            phase = target.read_u32(phase_address)
            gc.phase = _GC_PHASES.get(phase, f"phase {phase}")
        except MemoryReadError as exc:
            notes.append(f"gcphase: {exc}")
    try:
        stats = _read_struct(program, "runtime.memstats", "runtime.mstats")
        if stats is not None:
            gc.cycles, gc.forced_cycles = stats.u("numgc"), stats.u("numforcedgc")
            enabled = stats.u("enablegc")
            gc.enabled = None if enabled is None else bool(enabled)
            gc.heap_in_use = stats.u("lastHeapInUse")
            gc.last_gc_unix_ns, gc.pause_total_ns = stats.u("last_gc_unix"), stats.u("pause_total_ns")
    except MemoryReadError as exc:
        notes.append(f"memstats: {exc}")
    try:
        pacer = _read_struct(program, "runtime.gcController", "runtime.gcControllerState")
        if pacer is not None:
            gc.gc_percent = pacer.i("gcPercent")
            gc.heap_live, gc.heap_marked = pacer.u("heapLive"), pacer.u("heapMarked")
            gc.heap_goal = pacer.u("lastHeapGoal")
            if gc.cycles == 0:
                # No cycle has ended: both read 0, which is no amount (src/runtime/mgcpacer.go).
                gc.heap_marked = gc.heap_goal = None
    except MemoryReadError as exc:
        notes.append(f"gcController: {exc}")
    return gc


def read_sched(program: "GoProgram") -> SchedView:
    """The whole scheduler view; parts that cannot be read become notes."""
    view = SchedView()
    notes = view.notes
    index = GoroutineIndex(program)
    try:
        view.gomaxprocs = _read_i32(program, "runtime.gomaxprocs")
        # ncpu became numCPUStartup in Go 1.25 (src/runtime/runtime2.go).
        view.ncpu = _read_i32(program, "runtime.ncpu")
        if view.ncpu is None:
            view.ncpu = _read_i32(program, "runtime.numCPUStartup")
    except MemoryReadError as exc:
        notes.append(f"gomaxprocs: {exc}")
    try:
        view.processors, p_ids = _processor_views(program, index, notes)
    except GoextError as exc:
        notes.append(f"allp: {exc}")
        p_ids = {}
    try:
        view.machines = _machine_views(program, index, p_ids)
        view.sysmon = next((m.id for m in view.machines if m.role == "sysmon"), None)
    except GoextError as exc:
        notes.append(f"allm: {exc}")
    try:
        sched = _read_struct(program, "runtime.sched", "runtime.schedt")
    except MemoryReadError as exc:
        notes.append(f"runtime.sched: {exc}")
        sched = None
    if sched is None:
        notes.append("runtime.sched is unavailable: no global queue or idle lists")
    else:
        view.npidle, view.nmidle = sched.i("npidle"), sched.i("nmidle")
        view.nmidlelocked, view.nmspinning, view.nmsys = (
            sched.i("nmidlelocked"),
            sched.i("nmspinning"),
            sched.i("nmsys"),
        )
        gcwaiting, sysmonwait = sched.u("gcwaiting"), sched.u("sysmonwait")
        view.gcwaiting = None if gcwaiting is None else bool(gcwaiting & 0xFF)
        view.sysmonwait = None if sysmonwait is None else bool(sysmonwait & 0xFF)
        view.stopwait = sched.i("stopwait")
        _global_runq(program, sched, index, view)
        _idle_processors(program, sched, view, p_ids)
    view.gc = _gc_view(program, notes)
    return view


# -- threads -----------------------------------------------------------------------------
@dataclass
class ThreadView:
    index: int
    tid: int
    pc: int
    sp: int
    m: Optional[int] = None
    role: str = ""
    goroutine: Optional[int] = None
    goroutine_state: Optional[str] = None
    p: Optional[int] = None
    lockedg: Optional[int] = None
    in_syscall: bool = False
    in_cgo: bool = False
    frames: list[dict[str, Any]] = field(default_factory=list)  # {pc, function, location, source}
    frames_source: str = ""  # "debugger" or "goext"


def read_threads(
    program: "GoProgram", sched: Optional[SchedView] = None, frames: int = 0, native: bool = True
) -> list[ThreadView]:
    """Every OS thread with its M, goroutine and P; ``frames`` top frames each:
    the debugger's own (C frames included) when the target offers them, else
    goext's symbolization of the thread's pc and, for a goroutine, its stack."""
    sched = sched or read_sched(program)
    machines = {m.tid: m for m in sched.machines if m.tid}
    records = {record.id: record for record in program.goroutines()}
    out: list[ThreadView] = []
    for thread in program.target.threads():
        view = ThreadView(thread.index, thread.tid, thread.pc, thread.sp)
        machine = machines.get(thread.tid)
        if machine is not None:
            view.m, view.role, view.p = machine.id, machine.role, machine.p
            view.goroutine, view.lockedg = machine.curg, machine.lockedg
            view.in_syscall, view.in_cgo = machine.in_syscall, machine.in_cgo
            record = records.get(machine.curg) if machine.curg is not None else None
            view.goroutine_state = record.state if record is not None else None
        if frames > 0:
            record = records.get(view.goroutine) if view.goroutine is not None else None
            view.frames, view.frames_source = _thread_frames(program, thread, frames, native, record)
        out.append(view)
    return out


def _thread_frames(
    program: "GoProgram", thread: "Thread", limit: int, native: bool, record: Any = None
) -> tuple[list[dict[str, Any]], str]:
    if native:
        hook = getattr(program.target, "native_frames", None)
        if hook is not None:
            try:
                frames = hook(thread, limit)
            except GoextError:
                frames = None
            if frames:
                return [
                    {"pc": f.pc, "function": f.function, "location": f.location} for f in frames[:limit]
                ], "debugger"
    if record is not None and record.is_running:
        # goext's unwinder starts a running goroutine from its thread's registers.
        stack = program.stack(record)
        if stack.frames and stack.origin == f"thread {thread.tid}":
            return [
                {"pc": f.pc, "function": f.function, "location": f"{f.file}:{f.line}"} for f in stack.frames[:limit]
            ], "goext"
    func = program.func_for_pc(thread.pc) if thread.pc else None
    if func is None:
        return [{"pc": thread.pc, "function": None, "location": "not Go code (no debugger frames offline)"}], "goext"
    out = []
    for frame in program.source_frames(thread.pc)[:limit]:
        function = getattr(frame, "function", None) or getattr(frame, "name", None) or func.name
        file, line = getattr(frame, "file", ""), getattr(frame, "line", 0)
        out.append({"pc": thread.pc, "function": function, "location": f"{file}:{line}" if file else ""})
    if not out:
        file, line = func.file_line(thread.pc - program.target.load_bias())
        out.append({"pc": thread.pc, "function": func.name, "location": f"{file}:{line}"})
    return out, "goext"
