"""The runtime's timers: what will fire, and what each firing wakes.

Every P keeps a heap of the timers started on it (src/runtime/time.go):

- Go 1.14-1.22: ``p.timers`` is a ``[]*timer``; a timer is live while its
  ``status`` is waiting, running, modifying, modified or moving (timerWaiting ..
  timerMoving); deleted and removed timers stay in the heap until cleaned up.
- Go 1.23+: ``p.timers`` is a ``timers`` struct whose ``heap`` is a
  ``[]timerWhen{timer *timer; when int64}``; a timer is live while ``when > 0``
  and its ``state`` lacks timerZombie.  A channel timer (time.NewTimer/NewTicker)
  is in a heap only while a goroutine is blocked on its channel, and the channel
  points back at it (``hchan.timer``), so it can be judged without the heaps.

What a timer does when it fires is its function ``f`` with argument ``arg``:
``time.sendTime`` sends on the channel ``arg`` (time.NewTimer, NewTicker,
After, Tick); ``runtime.goroutineReady`` wakes the goroutine ``arg``
(time.Sleep); ``time.goFunc`` starts a goroutine running the function ``arg``
(time.AfterFunc); the netpoll deadline functions wake I/O waiters.

Without ``runtime.allp`` (a stripped binary whose Ps were not found) the
timers are unknown, and so is every wait a timer could end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from goext_core.errors import GoextError, MemoryReadError

if TYPE_CHECKING:
    from goext_core.program import GoProgram

MAX_PROCS = 4096  # bound on allp (sched.py uses the same)
MAX_TIMERS_PER_P = 1 << 20  # bound on one P's heap

# ≤ Go 1.22 timer.status values that still fire (src/runtime/time.go: timerWaiting=1,
# timerRunning=2, timerModifying=6, timerModifiedEarlier=7, timerModifiedLater=8, timerMoving=9).
_LIVE_STATUS_122 = {1, 2, 6, 7, 8, 9}
# Go 1.23+ timer.state flag (src/runtime/time.go): a zombie was stopped while in a heap.
_TIMER_ZOMBIE = 4

KIND_CHANNEL = "channel"  # sends the time on a channel
KIND_SLEEP = "sleep"  # wakes one goroutine (time.Sleep)
KIND_FUNC = "func"  # starts a goroutine running a function (time.AfterFunc)
KIND_NETPOLL = "netpoll deadline"  # wakes I/O waiters of a pollDesc
KIND_OTHER = "other"

_KINDS = {
    "time.sendTime": KIND_CHANNEL,
    "runtime.goroutineReady": KIND_SLEEP,
    "time.goFunc": KIND_FUNC,
    "runtime.netpollDeadline": KIND_NETPOLL,
    "runtime.netpollReadDeadline": KIND_NETPOLL,
    "runtime.netpollWriteDeadline": KIND_NETPOLL,
}


@dataclass
class TimerInfo:
    address: int
    when: int  # nanotime it fires at (0: stopped)
    period: int  # > 0: a ticker
    live: bool  # will still fire
    kind: str
    function: Optional[str]  # the timer's f
    arg: int  # the data word of its argument: a channel, a g, a func value
    target: Optional[str] = None  # for KIND_FUNC: the function the new goroutine runs
    p: Optional[int] = None  # index in allp of the heap it sits in

    def describe(self) -> str:
        what = "ticker" if self.period > 0 else "timer"
        text = f"{what} {self.address:#x} ({self.function or '?'}"
        if self.target:
            text += f" -> {self.target}"
        return text + (f", on P {self.p})" if self.p is not None else ")")


@dataclass
class TimerTable:
    known: bool  # every P's heap was read
    reason: str = ""  # why not
    timers: list[TimerInfo] = field(default_factory=list)  # live timers only
    notes: list[str] = field(default_factory=list)

    def by_channel(self) -> dict[int, TimerInfo]:
        return {t.arg: t for t in self.timers if t.kind == KIND_CHANNEL and t.arg}

    def funcs(self) -> list[TimerInfo]:
        return [t for t in self.timers if t.kind in (KIND_FUNC, KIND_OTHER)]


def _word(buf: bytes, layout_fields: dict[str, tuple[int, int]], name: str) -> Optional[int]:
    entry = layout_fields.get(name)
    if entry is None:
        return None
    offset, size = entry
    return int.from_bytes(buf[offset : offset + (size or 8)], "little", signed=name == "when")


def read_timer(program: "GoProgram", address: int, p: Optional[int] = None) -> TimerInfo:
    """One runtime.timer; raises GoextError when it cannot be read."""
    layout = program.layouts.structs.get("runtime.timer")
    if layout is None or not layout.has("when") or not layout.has("f"):
        raise GoextError("no layout for runtime.timer")
    try:
        buf = program.target.read(address, layout.size)
    except MemoryReadError as exc:
        raise GoextError(f"timer {address:#x} unreadable: {exc}") from None
    fields = layout.fields
    when = _word(buf, fields, "when") or 0
    period = _word(buf, fields, "period") or 0
    status = _word(buf, fields, "status")
    state = _word(buf, fields, "state")
    if status is not None:
        live = status in _LIVE_STATUS_122
    else:
        live = when > 0 and not (state or 0) & _TIMER_ZOMBIE
    function = target = None
    f = _word(buf, fields, "f") or 0
    arg = _word(buf, fields, "arg.data") or 0
    try:
        # A func value points at its funcval {fn uintptr; captured...} (src/runtime/runtime2.go).
        function = program.func_name(program.target.read_ptr(f)) if f else None
        if function == "time.goFunc" and arg:
            target = program.func_name(program.target.read_ptr(arg))
    except MemoryReadError:
        pass
    kind = _KINDS.get(function or "", KIND_OTHER)
    return TimerInfo(address, when, period, live, kind, function, arg, target, p)


def _heap_entries(program: "GoProgram", p_buf: bytes, p_fields: dict[str, tuple[int, int]]) -> list[int]:
    """Timer addresses in one P's heap (either layout)."""
    ptr = program.target.ptr_size
    if "timers.heap.array" in p_fields:
        array, length, stride = (
            _word(p_buf, p_fields, "timers.heap.array"),
            _word(p_buf, p_fields, "timers.heap.len"),
            2,
        )
    else:
        array, length, stride = _word(p_buf, p_fields, "timers.array"), _word(p_buf, p_fields, "timers.len"), 1
    if array is None or length is None:
        raise GoextError("no layout for p.timers")
    if not 0 <= length <= MAX_TIMERS_PER_P:
        raise GoextError(f"a timer heap of absurd length {length}")
    if not length:
        return []
    try:
        data = program.target.read(array, length * stride * ptr)
    except MemoryReadError as exc:
        raise GoextError(f"timer heap unreadable: {exc}") from None
    return [int.from_bytes(data[i * stride * ptr : i * stride * ptr + ptr], "little") for i in range(length)]


def read_timers(program: "GoProgram") -> TimerTable:
    """Every live timer of every P; ``known`` is False when some heap could not be read."""
    allp = program.runtime_symbol("runtime.allp")
    layout = program.layouts.structs.get("runtime.p")
    if allp is None:
        return TimerTable(False, "runtime.allp was not found: the timers (and what they would wake) are unknown")
    if layout is None or not (layout.has("timers.heap.array") or layout.has("timers.array")):
        return TimerTable(False, "no layout for the Ps' timer heaps: the timers are unknown")
    target = program.target
    ptr = target.ptr_size
    try:
        header = target.read(allp, 2 * ptr)
        items, length = int.from_bytes(header[:ptr], "little"), int.from_bytes(header[ptr:], "little")
        if not 0 < length <= MAX_PROCS:
            return TimerTable(False, f"runtime.allp has an implausible length {length}: the timers are unknown")
        pointers = target.read(items, length * ptr)
    except MemoryReadError as exc:
        return TimerTable(False, f"runtime.allp unreadable ({exc}): the timers are unknown")
    table = TimerTable(True)
    for index in range(length):
        p = int.from_bytes(pointers[index * ptr : (index + 1) * ptr], "little")
        if not p:
            continue
        try:
            entries = _heap_entries(program, target.read(p, layout.size), layout.fields)
        except (GoextError, MemoryReadError) as exc:
            return TimerTable(False, f"P {index}'s timers: {exc}: the timers are unknown")
        for address in entries:
            if not address:
                continue
            try:
                timer = read_timer(program, address, index)
            except GoextError as exc:
                return TimerTable(False, f"P {index}'s timers: {exc}: the timers are unknown")
            if timer.live:
                table.timers.append(timer)
    return table
