"""Goroutine leaks, by the rule of Go 1.26's goroutine leak profile, over the heap graph.

The rule (src/runtime/mgc.go findGoroutineLeaks, isMaybeRunnable,
setSyncObjectsUntraceable; src/runtime/mgcmark.go internalBlocked,
allGsSnapshotSortedForGC; src/runtime/mbitmap.go isMarkedOrNotInHeap):

1. The *candidates* are the goroutines waiting (``_Gwaiting``) for one of the wait
   reasons ``chan receive (nil chan)`` .. ``sync.WaitGroup.Wait`` of
   src/runtime/runtime2.go: nil-channel operations, ``select {}``, ``select``,
   channel send and receive, ``sync.Cond.Wait``, ``sync.Mutex.Lock``,
   ``sync.RWMutex.RLock``/``Lock`` and ``sync.WaitGroup.Wait``.  Every other
   goroutine (running, runnable, in a system call, asleep, in I/O wait,
   ``semacquire``, runtime-internal waits) is assumed able to run: its stack is a root.
2. Marking starts from every root except the candidates' stacks.  The pointers a
   candidate's sudogs hold to what it waits on (``sudog.c``, ``sudog.elem``) do not
   count: the runtime hides them while it looks for leaks.
3. A candidate becomes *maybe runnable*, and its stack a root, when what it waits
   on is marked or is not a heap object (a global or a stack object counts as
   reachable): any channel of its select, send or receive; for sync waits the object
   holding the semaphore or notifyList address of its (first) sudog.  Nil-channel
   waits and ``select {}`` never wake.
4. Repeat until nothing changes: the candidates left are *leaked*.  Goroutine 1 in
   ``select {}`` is not reported, by the runtime nor by goext, though neither takes
   its stack as a root.

What goext adds, because it must never call a goroutine leaked by mistake:

- A candidate whose wait cannot be resolved (its sudogs unreadable, the semaphore
  table unreadable, a ``sync.Cond`` before Go 1.26, a runtime goroutine) is
  ``unknown``.  The fixpoint runs twice: once with every unknown candidate's stack
  taken as a root (what is leaked then is leaked whatever the unknown goroutines do:
  ``leaked``), once with none (what is leaked only then is ``possibly leaked``:
  leaked unless an unknown goroutine can run).
- Reachability only grows with more roots and more pointers, so a graph that
  over-approximates the real one (``precise`` False: memory scanned conservatively,
  every word that looks like a pointer taken as one) can hide leaks but cannot make a
  false one: ``leaked`` stays a proof; the report then says that more goroutines may
  leak than it lists.  What the graph could not read at all (its notes) is printed
  with the verdicts: a pointer missed there could make a goroutine look leaked.
- Objects of heap spans that could not be read are missing from the graph, and a
  path through them is missing too: then no goroutine waiting on an object is called
  more than ``possibly leaked`` (nil-channel waits and ``select {}`` still leak).
- A goroutine the runtime itself marked leaked (``_Gleaked``, Go 1.26+) is leaked.
"""

from __future__ import annotations

from array import array
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from goext_core.progress import check_interrupt
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.heapdominators import check_graph
from goext_core.runtime.heapgraphshape import GraphShape, RootShape
from goext_core.runtime.layouts import G_LEAKED, G_WAITING
from goext_core.runtime.stacks import goroutine_frames, short_path
from goext_core.runtime.waitgraph import WaitGraph, build_wait_graph

if TYPE_CHECKING:
    from goext_core.program import GoProgram

# src/runtime/runtime2.go: the wait reasons from waitReasonChanReceiveNilChan to
# waitReasonSyncWaitGroupWait, the ones src/runtime/mgcmark.go internalBlocked does not exclude.
FOREVER_REASONS = ("chan receive (nil chan)", "chan send (nil chan)", "select (no cases)")
CHANNEL_REASONS = ("select", "chan receive", "chan send")  # waitReason.isChanWait
SYNC_REASONS = (  # waitReason.isSyncWait
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
)
CANDIDATE_REASONS = frozenset(FOREVER_REASONS + CHANNEL_REASONS + SYNC_REASONS)
LEAKS_SINCE = 26  # _Gleaked and the goroutine leak profile appeared in Go 1.26

LEAKED, POSSIBLY_LEAKED, UNKNOWN, NOT_LEAKED = "leaked", "possibly leaked", "unknown", "not leaked"
VERDICTS = (LEAKED, POSSIBLY_LEAKED, UNKNOWN, NOT_LEAKED)
MAX_GROUP_MEMBERS = 20
MAX_LISTED = 2000  # goroutines listed one by one in JSON; the counts and groups cover the rest
MAX_FRAMES_SHOWN = 12
_CHECK_EVERY = 1 << 16


@dataclass
class BlockedGoroutine:
    """A leak candidate: what the fixpoint needs to know of one blocked goroutine."""

    goroutine: int
    reason: str  # its wait reason
    state: str = ""
    location: str = ""
    blocking: list[int] = field(default_factory=list)  # addresses whose objects decide (see module doc)
    known: bool = True  # False: what it waits on could not be resolved
    unknown_reason: str = ""
    hidden: list[tuple[int, int]] = field(default_factory=list)  # (sudog address, pointer it holds)
    waits_on: list[str] = field(default_factory=list)  # labels of what it waits on
    runtime_leaked: bool = False  # status _Gleaked: the runtime's GC found it leaked
    reported: bool = True  # False for goroutine 1 in select {} (the runtime does not report it)


@dataclass
class LeakVerdict:
    goroutine: int
    verdict: str  # one of VERDICTS
    reason: str
    state: str
    location: str
    waits_on: list[str]
    stack: list[str] = field(default_factory=list)


@dataclass
class LeakGroup:
    """Goroutines with the same verdict, state and stack."""

    verdict: str
    state: str
    reason: str
    location: str
    waits_on: list[str]
    stack: list[str]
    count: int
    goroutines: list[int]  # the first MAX_GROUP_MEMBERS


@dataclass
class LeakReport:
    candidates: int  # goroutines blocked on concurrency primitives (examined)
    counts: dict[str, int]  # verdict -> candidates (the unreported main goroutine excluded)
    verdicts: list[LeakVerdict]  # leaked, possibly leaked and unknown ones
    groups: list[LeakGroup]
    precise: bool
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        listed = self.verdicts[:MAX_LISTED]
        return {
            "candidates": self.candidates,
            "counts": dict(self.counts),
            "goroutines": [asdict(v) for v in listed],
            "goroutines_omitted": len(self.verdicts) - len(listed),
            "groups": [asdict(g) for g in self.groups],
            "precise": self.precise,
            "notes": list(self.notes),
        }


# -- the fixpoint (pure) ----------------------------------------------------------------


class _Marker:
    """Marks objects reachable from roots, skipping the hidden sudog pointers, and wakes
    the candidates watching each newly marked object."""

    def __init__(self, graph: GraphShape, hidden: dict[int, set[int]], watch: dict[int, list[int]]) -> None:
        count = len(graph.objects.sizes)
        self.edge_start, self.edges = graph.edge_start, graph.edges
        self.marked = bytearray(count)
        self.hidden = hidden
        self.hidden_flag = bytearray(count)
        for source in hidden:
            self.hidden_flag[source] = 1
        self.watch = watch
        self.watch_flag = bytearray(count)
        for index in watch:
            self.watch_flag[index] = 1

    def mark(self, targets: Sequence[int], woken: list[int]) -> None:
        marked, edge_start, edges = self.marked, self.edge_start, self.edges
        stack = array("I", (t for t in targets if not marked[t]))
        steps = 0
        while stack:
            index = stack.pop()
            if marked[index]:
                continue
            marked[index] = 1
            if self.watch_flag[index]:
                woken.extend(self.watch[index])
            hidden = self.hidden.get(index) if self.hidden_flag[index] else None
            for target in edges[edge_start[index] : edge_start[index + 1]]:
                if not marked[target] and (hidden is None or target not in hidden):
                    stack.append(target)
            steps += 1
            if steps % _CHECK_EVERY == 0:
                check_interrupt("goroutine leaks")


def _deciding_objects(graph: GraphShape, blocked: BlockedGoroutine) -> Optional[list[int]]:
    """Object indexes whose marking wakes the goroutine; -1 for an address outside the
    heap (reachable by the runtime's rule); None when nothing can wake it."""
    if blocked.runtime_leaked or blocked.reason in FOREVER_REASONS:
        return None
    addresses = blocked.blocking[:1] if blocked.reason in SYNC_REASONS else blocked.blocking
    return [graph.objects.find(address) for address in addresses]


def _fixpoint(graph: GraphShape, blocked: Sequence[BlockedGoroutine], wake_unknown: bool) -> bytearray:
    """1 for each candidate that becomes maybe runnable."""
    objects = graph.objects
    candidate_ids = {b.goroutine for b in blocked}
    stacks: dict[int, list[RootShape]] = {}
    initial: list[RootShape] = []
    for root in graph.roots:
        if root.goroutine is not None and root.goroutine in candidate_ids:
            stacks.setdefault(root.goroutine, []).append(root)
        else:
            initial.append(root)
    hidden: dict[int, set[int]] = {}
    for candidate in blocked:
        for sudog, pointer in candidate.hidden:
            source, target = objects.find(sudog), objects.find(pointer)
            if source >= 0 and target >= 0:
                hidden.setdefault(source, set()).add(target)
    awake = bytearray(len(blocked))
    woken: list[int] = []
    watch: dict[int, list[int]] = {}
    for position, candidate in enumerate(blocked):
        if not candidate.known and not candidate.runtime_leaked:
            if wake_unknown:
                woken.append(position)
            continue
        deciding = _deciding_objects(graph, candidate)
        if deciding is None:
            continue
        for index in deciding:
            if index < 0:
                woken.append(position)  # not a heap object: reachable (isMarkedOrNotInHeap)
            else:
                watch.setdefault(index, []).append(position)
    marker = _Marker(graph, hidden, watch)
    for root in initial:
        marker.mark(root.targets, woken)
    while woken:
        position = woken.pop()
        if awake[position]:
            continue
        awake[position] = 1
        for root in stacks.get(blocked[position].goroutine, []):
            marker.mark(root.targets, woken)
    return awake


def leak_verdicts(graph: GraphShape, blocked: Sequence[BlockedGoroutine]) -> list[LeakVerdict]:
    """One verdict per candidate (same order), by the rule in the module doc."""
    check_graph(graph)
    sure = _fixpoint(graph, blocked, wake_unknown=True)
    worst = _fixpoint(graph, blocked, wake_unknown=False) if any(not b.known for b in blocked) else sure
    # Objects of unreadable spans are missing from the graph: a path through one of them
    # could reach what a goroutine waits on, so no absence of a path is a proof.
    incomplete = bool(graph.objects.problems)
    out = []
    for position, candidate in enumerate(blocked):
        if candidate.runtime_leaked:
            verdict, reason = LEAKED, "the runtime's garbage collector marked it leaked (_Gleaked)"
        elif not candidate.known:
            verdict, reason = UNKNOWN, candidate.unknown_reason or "what it waits on could not be resolved"
        elif not sure[position] and incomplete and _deciding_objects(graph, candidate) is not None:
            verdict = POSSIBLY_LEAKED
            reason = f"{_leak_reason(candidate)}; but some heap spans could not be read, and a path may go through them"
        elif not sure[position]:
            verdict, reason = LEAKED, _leak_reason(candidate)
        elif not worst[position]:
            verdict = POSSIBLY_LEAKED
            reason = (
                "what it waits on is reachable only through goroutines whose own wait is unknown: "
                "leaked unless one of them can run"
            )
        else:
            verdict, reason = NOT_LEAKED, "what it waits on is reachable from a goroutine that may run"
        out.append(
            LeakVerdict(
                candidate.goroutine, verdict, reason, candidate.state, candidate.location, list(candidate.waits_on)
            )
        )
    return out


def _leak_reason(candidate: BlockedGoroutine) -> str:
    if candidate.reason == "select (no cases)":
        return "it waits in select {} with no cases: nothing can wake it"
    if candidate.reason in FOREVER_REASONS:
        return "it waits on a nil channel: nothing can wake it"
    if candidate.reason in CHANNEL_REASONS:
        return "no goroutine that may run can reach any channel it waits on"
    return "no goroutine that may run can reach the object it waits on"


def leak_report(
    graph: GraphShape,
    blocked: Sequence[BlockedGoroutine],
    stack_of: Optional[Callable[[int], list[str]]] = None,
    notes: Sequence[str] = (),
) -> LeakReport:
    """Verdicts, groups by stack and counts; ``stack_of(goroutine)``: its frame lines
    (the grouping key), asked only for the goroutines the report lists."""
    verdicts = leak_verdicts(graph, blocked)
    reported = [v for v, b in zip(verdicts, blocked) if b.reported]
    counts = {name: 0 for name in VERDICTS}
    for verdict in reported:
        counts[verdict.verdict] += 1
    shown = [v for v in reported if v.verdict != NOT_LEAKED]
    for verdict in shown:
        verdict.stack = stack_of(verdict.goroutine) if stack_of is not None else []
    groups: dict[tuple, LeakGroup] = {}
    for verdict in sorted(shown, key=lambda v: v.goroutine):
        key = (verdict.verdict, verdict.state, verdict.reason, tuple(verdict.stack) or verdict.location)
        group = groups.get(key)
        if group is None:
            group = groups[key] = LeakGroup(
                verdict.verdict,
                verdict.state,
                verdict.reason,
                verdict.location,
                list(verdict.waits_on),
                list(verdict.stack),
                0,
                [],
            )
        group.count += 1
        if len(group.goroutines) < MAX_GROUP_MEMBERS:
            group.goroutines.append(verdict.goroutine)
    order = {name: position for position, name in enumerate(VERDICTS)}
    all_notes = list(notes)
    if not graph.precise:
        all_notes.append(
            "parts of the heap were scanned conservatively: that can only keep more objects alive, so every "
            "goroutine listed as leaked is leaked, and some not listed may be leaked too"
        )
    all_notes.extend(f"heap graph: {note}" for note in graph.notes)
    if any(not b.reported for b in blocked):
        all_notes.append("goroutine 1 waits in select {}: the runtime does not report it, and neither does goext")
    return LeakReport(
        candidates=len(reported),
        counts=counts,
        verdicts=shown,
        groups=sorted(groups.values(), key=lambda g: (order[g.verdict], -g.count, g.goroutines[0])),
        precise=graph.precise,
        notes=all_notes,
    )


def format_leaks(report: LeakReport) -> list[str]:
    """Text lines: the counts, then each group with its stack."""
    counts = report.counts
    lines = [
        f"{report.candidates} goroutine{'s' if report.candidates != 1 else ''} blocked on channels or sync objects: "
        f"{counts[LEAKED]} leaked, {counts[POSSIBLY_LEAKED]} possibly leaked, {counts[UNKNOWN]} unknown, "
        f"{counts[NOT_LEAKED]} not leaked"
    ]
    for group in report.groups:
        members = ", ".join(str(g) for g in group.goroutines)
        if group.count > len(group.goroutines):
            members += ", ..."
        lines.append("")
        plural = "s" if group.count != 1 else ""
        lines.append(f"{group.count} goroutine{plural} {group.verdict} [{group.state}]: {members}")
        lines.append(f"  why: {group.reason}")
        if group.waits_on:
            lines.append(f"  waits on: {', '.join(group.waits_on)}")
        if group.stack:
            lines.extend(f"    {frame}" for frame in group.stack[:MAX_FRAMES_SHOWN])
            if len(group.stack) > MAX_FRAMES_SHOWN:
                lines.append(f"    ...({len(group.stack) - MAX_FRAMES_SHOWN} more frames)")
        elif group.location:
            lines.append(f"    {group.location}")
    if report.notes:
        lines.append("")
        lines.extend(f"note: {note}" for note in report.notes)
    return lines


# -- from a program ------------------------------------------------------------------------


def blocked_goroutines(program: "GoProgram", waits: WaitGraph) -> list[BlockedGoroutine]:
    """The leak candidates of ``program`` with what each waits on (from the wait graph)."""
    minor = program.go_minor or 0
    out = []
    for record in program.goroutines():
        if record.error:
            continue  # not known to be blocked: treated as able to run (its stack, if read, a root)
        status = record.plain_status
        runtime_leaked = status == G_LEAKED and minor >= LEAKS_SINCE
        if not runtime_leaked and (status != G_WAITING or record.wait_reason not in CANDIDATE_REASONS):
            continue
        reason = record.wait_reason
        wait = waits.waits.get(record.id)
        candidate = BlockedGoroutine(
            record.id,
            reason,
            record.state,
            wait.location if wait else "",
            runtime_leaked=runtime_leaked,
            reported=not (record.id == 1 and reason == "select (no cases)"),
        )
        out.append(candidate)
        if runtime_leaked or reason in FOREVER_REASONS:
            continue
        if wait is None:
            candidate.known = False
            candidate.unknown_reason = (
                "a runtime goroutine: its wait is not resolved"
                if record.system
                else "what it waits on could not be read"
            )
            continue
        labels = [waits.objects[i].label() for i in wait.objects if 0 <= i < len(waits.objects)]
        candidate.waits_on = labels
        candidate.hidden = list(wait.sudogs)
        if reason in CHANNEL_REASONS and not wait.sudogs_complete:
            # A channel not read might be the reachable one.
            candidate.known = False
            candidate.unknown_reason = "its list of waits (sudogs) could not be read whole"
        elif reason in SYNC_REASONS and len({pointer for _, pointer in wait.sudogs}) > 1:
            # The runtime checks its one sudog (g.waiting); several would be stale or torn data.
            candidate.known = False
            candidate.unknown_reason = "it appears to wait on several semaphores: which one counts is unknown"
        elif wait.sudogs:
            # The sudogs' own pointers, exactly what the runtime checks (c, or elem).
            candidate.blocking = [pointer for _, pointer in wait.sudogs]
        else:
            addresses = [waits.objects[i].address for i in wait.objects if 0 <= i < len(waits.objects)]
            candidate.blocking = [a for a in addresses if a is not None]
            if not addresses or None in addresses:
                candidate.known = False
                candidate.unknown_reason = (
                    "which sync.Cond it waits on is not recorded (Go 1.26+ records it)"
                    if reason == "sync.Cond.Wait"
                    else "what it waits on could not be read"
                )
                candidate.blocking = []
    return out


def _frame_lines(program: "GoProgram", record: GoroutineRecord) -> list[str]:
    stack = program.stack(record)
    return [f"{frame.function} at {short_path(frame.file)}:{frame.line}" for frame in goroutine_frames(stack)]


def find_leaks(program: "GoProgram", graph: GraphShape, waits: Optional[WaitGraph] = None) -> LeakReport:
    """The goroutine leak report of ``program`` over its heap graph ``graph``."""
    waits = waits if waits is not None else build_wait_graph(program)
    blocked = blocked_goroutines(program, waits)
    records = {r.id: r for r in program.goroutines()}

    def stack_of(goroutine: int) -> list[str]:
        record = records.get(goroutine)
        return _frame_lines(program, record) if record is not None else []

    notes = list(waits.notes)
    minor = program.go_minor or 0
    if minor < 24:
        # src/runtime/sema.go: sync.WaitGroup.Wait has its own wait reason since Go 1.24,
        # sync.Mutex and RWMutex since Go 1.20; before, "semacquire", which the rule skips.
        which = "sync.Mutex, RWMutex and WaitGroup" if minor < 20 else "sync.WaitGroup"
        notes.append(
            f"before Go 1.{20 if minor < 20 else 24}, {which} waits show as 'semacquire', which the leak rule "
            "does not examine (such goroutines count as able to run): they are never reported leaked"
        )
    return leak_report(graph, blocked, stack_of, notes)
