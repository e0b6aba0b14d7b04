"""Whole-process commands: go sched, go threads, go deadlock, go report."""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import asdict
from typing import Any, Optional

from goext_core.commands.base import MAX_FRAMES, Context, Write, bounded_int, command
from goext_core.commands.heap import heap_section
from goext_core.errors import GoextError, UsageError
from goext_core.output.report import load_snapshot, write_report
from goext_core.output.snapshot import build_snapshot, write_snapshot
from goext_core.runtime.heap import runtime_figures
from goext_core.runtime.sched import SchedView, read_sched, read_threads
from goext_core.runtime.waitgraph import CERTAIN, STUCK, VERDICTS, DeadlockReport, GoroutineVerdict, analyze_deadlock
from goext_core.textsafe import json_for_terminal, safe_field


def _flag(value: Optional[bool]) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _num(value: Optional[int]) -> str:
    return "?" if value is None else str(value)


def _bytes(value: Optional[int]) -> str:
    if value is None:
        return "?"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit} ({value} bytes)"
    return f"{value} bytes"


def _ids(ids: list[int], limit: int = 20) -> str:
    if not ids:
        return "-"
    text = " ".join(str(i) for i in ids[:limit])
    return text + (f" ... (+{len(ids) - limit})" if len(ids) > limit else "")


# -- go sched -------------------------------------------------------------------
def _configure_sched(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the scheduler view as JSON")


# src/runtime/proc.go: freezetheworld sets sched.stopwait to freezeStopWait
# when the runtime crashes, and each P that stops then counts it down.
_FREEZE_STOP_WAIT = 0x7FFFFFFF


def _stopwait_text(stopwait: Optional[int]) -> str:
    if stopwait is not None and _FREEZE_STOP_WAIT - (1 << 20) < stopwait <= _FREEZE_STOP_WAIT:
        return f"{stopwait} (the world frozen for the crash)"
    return _num(stopwait)


def write_sched(view: SchedView, write: Write) -> None:
    write(f"GOMAXPROCS: {_num(view.gomaxprocs)}   ncpu: {_num(view.ncpu)}\n")
    write(
        f"gcwaiting: {_flag(view.gcwaiting)}   stopwait: {_stopwait_text(view.stopwait)}   "
        f"sysmonwait: {_flag(view.sysmonwait)}   sysmon: {'m' + str(view.sysmon) if view.sysmon is not None else '?'}\n"
    )
    write(
        f"idle Ps: {_num(view.npidle)} [{_ids(view.idle_processors)}]   idle Ms: {_num(view.nmidle)} "
        f"(locked {_num(view.nmidlelocked)})   spinning Ms: {_num(view.nmspinning)}   system Ms: {_num(view.nmsys)}\n"
    )
    write(f"global run queue: {_num(view.global_runq_size)} [{_ids(view.global_runq)}]\n")
    gc = view.gc
    write(
        f"GC: phase {gc.phase}, {_num(gc.cycles)} cycles completed ({_num(gc.forced_cycles)} forced), "
        f"GOGC {_num(gc.gc_percent)}, enabled {_flag(gc.enabled)}\n"
    )
    if gc.cycles == 0:
        write(f"heap: live {_bytes(gc.heap_live)}; no GC cycle has completed yet\n")
    else:
        write(
            f"heap: live {_bytes(gc.heap_live)}; the last GC marked {_bytes(gc.heap_marked)}, "
            f"its goal {_bytes(gc.heap_goal)}\n"
        )
    write("\nPs:\n")
    write(
        f"  {'P':>4} {'status':<10} {'M':>5} {'schedtick':>10} {'syscalltick':>11} {'runq':>5} {'runnext':>8}  queued\n"
    )
    for processor in view.processors:
        m_text = f"m{processor.m}" if processor.m is not None else "-"
        runnext = str(processor.runnext) if processor.runnext is not None else "-"
        line = (
            f"  {processor.id:>4} {processor.status:<10} {m_text:>5} {processor.schedtick:>10} "
            f"{processor.syscalltick:>11} {len(processor.runq):>5} {runnext:>8}  {_ids(processor.runq)}"
        )
        if processor.error:
            line += f"  <{processor.error}>"
        write(line + "\n")
    write("\nMs:\n")
    write(f"  {'M':>5} {'tid':>8} {'P':>4} {'curg':>7} {'locked g':>8}  state\n")
    for m in view.machines:
        if m.error:
            write(f"  {m.id:>5} <unreadable m at {m.address:#x}: {m.error}>\n")
            continue
        state = []
        if m.role:
            state.append(m.role)
        for flag, word in (
            (not m.tid, "no thread"),
            (m.in_syscall, "syscall"),
            (m.in_cgo, "cgo"),
            (m.spinning, "spinning"),
            (m.blocked, "blocked"),
            (m.idle, "idle"),
        ):
            if flag:
                state.append(word)
        if m.throwing:
            state.append(f"throwing {m.throwing}")
        p_text = str(m.p) if m.p is not None else "-"
        curg = str(m.curg) if m.curg is not None else "-"
        locked = str(m.lockedg) if m.lockedg is not None else "-"
        write(f"  {m.id:>5} {m.tid or '-':>8} {p_text:>4} {curg:>7} {locked:>8}  {', '.join(state) or 'running'}\n")
    for note in view.notes:
        write(f"note: {note}\n")


@command(
    "sched", "Scheduler state: GOMAXPROCS, Ps and run queues, Ms, idle/spinning, GC phase, heap.", _configure_sched
)
def run_sched(context: Context, args: argparse.Namespace, write: Write) -> None:
    view = read_sched(context.program)
    if args.json:
        write(json_for_terminal(view.to_json()) + "\n")
        return
    write_sched(view, write)


# -- go threads -------------------------------------------------------------------
def _configure_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--frames",
        type=bounded_int(0, MAX_FRAMES),
        default=3,
        metavar="N",
        help="top frames per thread (default 3)",
    )
    parser.add_argument("--json", action="store_true", help="print as JSON")


@command("threads", "Every OS thread with its M, goroutine, P and top native frames.", _configure_threads)
def run_threads(context: Context, args: argparse.Namespace, write: Write) -> None:
    if args.frames < 0:
        raise UsageError("--frames must not be negative")
    program = context.program
    views = read_threads(program, frames=args.frames)
    if args.json:
        write(json_for_terminal([asdict(v) for v in views]) + "\n")
        return
    for view in views:
        parts = [f"thread {view.index} tid {view.tid}"]
        parts.append(f"m{view.m}" if view.m is not None else "no M")
        if view.role:
            parts.append(view.role)
        if view.goroutine is not None:
            parts.append(f"goroutine {view.goroutine} [{view.goroutine_state or '?'}]")
        if view.p is not None:
            parts.append(f"p{view.p}")
        if view.lockedg is not None:
            parts.append(f"locked to goroutine {view.lockedg}")
        if view.in_syscall:
            parts.append("in syscall")
        if view.in_cgo:
            parts.append("in cgo")
        write("  ".join(parts) + "\n")
        for number, frame in enumerate(view.frames):
            name = safe_field(frame["function"] or "??")  # symbol names and files come from the target
            location = f" at {safe_field(frame['location'])}" if frame.get("location") else ""
            write(f"    #{number:<2} {frame['pc']:#018x} in {name}{location}\n")
    write(f"{len(views)} threads\n")


# -- go deadlock -------------------------------------------------------------------------
def _configure_deadlock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the analysis and the wait graph as JSON")
    parser.add_argument("--waits", action="store_true", help="also list every channel and sync object waited on")


MAX_GROUPS_SHOWN = 40
MAX_STUCK_SHOWN = 50


def write_deadlock(report: "DeadlockReport", write: Write, waits: bool = False) -> None:
    # Locations, object labels, reasons and evidence name the target's functions, files and types.
    counts = report.counts
    stuck = {s.goroutine: s for s in report.stuck}
    certain = sum(1 for s in report.stuck if s.confidence == CERTAIN)
    if report.all_asleep:
        write(
            f"all goroutines are asleep: every one of the {report.user_goroutines} user goroutines "
            f"is blocked and none can wake another (deadlock)\n"
        )
    elif report.stuck:
        write(
            f"partial deadlock: {len(report.stuck)} of {report.user_goroutines} user goroutines can never proceed "
            f"({certain} certain, {len(report.stuck) - certain} with high confidence)\n"
        )
    else:
        write(f"no deadlock found: none of the {report.user_goroutines} user goroutines is proven stuck\n")
    write(
        f"{report.user_goroutines} user goroutines: "
        + ", ".join(f"{counts.get(name, 0)} {name}" for name in VERDICTS)
        + "\n"
    )
    timers = report.timers
    if timers.get("known"):
        write(f"timers: {timers.get('live', 0)} live, {timers.get('functions', 0)} of them run functions\n")
    else:
        write(f"timers: unknown ({safe_field(str(timers.get('reason') or 'not read'))})\n")
    write("\nby blocking pattern:\n")
    for group in report.groups[:MAX_GROUPS_SHOWN]:
        verdict = group.verdict
        if group.verdict == STUCK:
            verdict += f" ({group.confidence}{', in a wait cycle' if group.in_cycle else ''})"
        line = f"  {group.count} x {verdict} [{group.state}] {group.location}"
        if group.waits_on:
            line += " on " + ", ".join(group.waits_on)
        line += f": {group.reason}"
        if group.count <= 3:
            line += f" (goroutine{'s' if group.count > 1 else ''} {' '.join(map(str, group.goroutines))})"
        write(safe_field(line) + "\n")
    if len(report.groups) > MAX_GROUPS_SHOWN:
        write(f"  ... and {len(report.groups) - MAX_GROUPS_SHOWN} more patterns (see --json)\n")
    for number, cycle in enumerate(report.cycles, 1):
        write(f"\nwait cycle {number}: " + " -> ".join(f"goroutine {g}" for g in cycle + cycle[:1]) + "\n")
        for goroutine in cycle:
            _write_verdict(stuck[goroutine], write)
    in_cycles = {g for cycle in report.cycles for g in cycle}
    rest = [s for s in report.stuck if s.goroutine not in in_cycles]
    if rest:
        write(f"\nstuck outside any cycle ({len(rest)}):\n")
        for entry in rest[:MAX_STUCK_SHOWN]:
            _write_verdict(entry, write)
        if len(rest) > MAX_STUCK_SHOWN:
            write(f"  ... and {len(rest) - MAX_STUCK_SHOWN} more (see --json)\n")
    if waits:
        if report.unknown:
            write(f"\nunknown ({len(report.unknown)}):\n")
            for entry in report.unknown[:MAX_STUCK_SHOWN]:
                _write_verdict(entry, write)
        write("\nobjects waited on:\n")
        for obj in report.graph.objects:
            line = f"  {safe_field(obj.label())}"
            for label, ids in (("receivers", obj.receivers), ("senders", obj.senders), ("waiters", obj.waiters)):
                if ids:
                    line += f"; {label}: {_ids(ids, 10)}"
            refs = sorted({r.goroutine for r in obj.holders})
            if refs:
                line += f"; referenced by: {_ids(refs, 10)}"
            write(line + "\n")
    for note in report.notes:
        write(f"note: {safe_field(note)}\n")


def _write_verdict(entry: "GoroutineVerdict", write: Write) -> None:
    confidence = f", {entry.confidence}" if entry.confidence else ""
    write(
        f"  goroutine {entry.goroutine} [{entry.state}] at {safe_field(entry.location)} ({entry.verdict}{confidence})\n"
    )
    write(f"      why: {safe_field(entry.reason)}\n")
    for label in entry.waits_on:
        write(f"      waits on {safe_field(label)}\n")
    if entry.released_by:
        write(f"      could be released by: {', '.join('goroutine ' + str(g) for g in entry.released_by)}\n")
    for line in entry.evidence[:6]:
        write(f"      evidence: {safe_field(line)}\n")


@command(
    "deadlock",
    "One verdict per goroutine (stuck, parked, unknown, blocked, waiting, ...) with evidence; wait cycles.",
    _configure_deadlock,
)
def run_deadlock(context: Context, args: argparse.Namespace, write: Write) -> None:
    report = analyze_deadlock(context.program)
    if args.json:
        write(json_for_terminal(report.to_json()) + "\n")
        return
    write_deadlock(report, write, args.waits)


# -- go snapshot (format goext.snapshot/2; replaces the /1 command of commands/stacks.py) ------------
def _configure_snapshot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the JSON ('-' for here)")
    parser.add_argument("--locals", action="store_true", help="also capture every frame's locals (slower, larger)")
    parser.add_argument("--heap", action="store_true", help="add the heap section (go heap's totals, top types)")


def _heap_or_note(context: Context, notes: list[str]) -> Optional[dict[str, Any]]:
    """The heap section, or None with the reason in ``notes`` (the rest of the snapshot
    does not depend on the heap being readable)."""
    try:
        return heap_section(context.program)
    except GoextError as exc:
        notes.append(f"heap: {exc}")
        return None


def _one_line_for_terminal(data: Any) -> str:
    return json_for_terminal(data, indent=None)


@command(
    "snapshot",
    "Write goroutines, frames, scheduler, threads, GC and build info as JSON (goext.snapshot/2).",
    _configure_snapshot,
)
def run_snapshot(context: Context, args: argparse.Namespace, write: Write) -> None:
    heap_notes: list[str] = []
    heap = _heap_or_note(context, heap_notes) if args.heap else None
    if args.output == "-":
        write_snapshot(
            context.program,
            _WriteAdapter(write),
            with_locals=args.locals,
            dumps=json_for_terminal,
            heap=heap,
            extra_notes=heap_notes,
            line_dumps=_one_line_for_terminal,
        )
        return
    try:
        # Written next to the target and renamed: a failed run leaves no half file.
        directory = os.path.dirname(os.path.abspath(args.output))
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=".goext-snapshot-", delete=False
        ) as handle:
            try:
                count = write_snapshot(
                    context.program, handle, with_locals=args.locals, heap=heap, extra_notes=heap_notes
                )
            except BaseException:
                handle.close()
                os.unlink(handle.name)
                raise
        os.replace(handle.name, args.output)
    except OSError as exc:
        raise GoextError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    write(f"wrote {count} goroutines to {args.output}\n")


class _WriteAdapter:
    """A text file whose writes go to a command's write function."""

    def __init__(self, write: Write) -> None:
        self.write = write


# The heap section walks the heap's spans, types the objects through typed pointers, builds
# the object graph and its dominator tree (top retainers): 8.5 s of CPU and 180 MB offline
# for the 1,000,835 objects of heapy scaled by 200 (Go 1.27), well under a second for the
# fixtures' few thousand.  Up to this many objects (by the runtime's own count, read first)
# the report adds it by default.
REPORT_HEAP_MAX_OBJECTS = 1_000_000


# -- go report --------------------------------------------------------------------------------
def _configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--html", required=True, metavar="FILE", help="where to write the HTML page")
    parser.add_argument(
        "--from",
        dest="source",
        metavar="SNAPSHOT",
        help="build the page from this snapshot JSON instead of the current target",
    )
    parser.add_argument("--locals", action="store_true", help="capture every frame's locals for the page")
    parser.add_argument("--no-deadlock", action="store_true", help="skip the deadlock analysis")
    heap = parser.add_mutually_exclusive_group()
    heap.add_argument(
        "--heap",
        action="store_true",
        help=f"add the heap section even when the runtime counts over {REPORT_HEAP_MAX_OBJECTS:,} objects",
    )
    heap.add_argument("--no-heap", action="store_true", help="leave the heap section out")


def _report_heap(context: Context, args: argparse.Namespace, notes: list[str]) -> Optional[dict[str, Any]]:
    if args.no_heap:
        return None
    if not args.heap:
        try:
            counted = runtime_figures(context.program, {}).objects
        except GoextError as exc:
            notes.append(f"heap: left out ({exc}); go report --heap adds it")
            return None
        if counted is None:
            notes.append("heap: left out, the runtime's object count is unreadable; go report --heap adds it")
            return None
        if counted > REPORT_HEAP_MAX_OBJECTS:
            notes.append(
                f"heap: left out, the runtime counts {counted:,} objects (over {REPORT_HEAP_MAX_OBJECTS:,}); "
                "go report --heap adds it"
            )
            return None
    return _heap_or_note(context, notes)


@command(
    "report",
    "Write one self-contained HTML page: groups, states, icicle, heap, scheduler, threads, locals.",
    _configure_report,
)
def run_report(context: Context, args: argparse.Namespace, write: Write) -> None:
    deadlock = None
    if args.source:
        snapshot = load_snapshot(args.source)
        deadlock = snapshot.get("deadlock")
    else:
        program = context.program
        heap_notes: list[str] = []
        heap = _report_heap(context, args, heap_notes)
        snapshot = build_snapshot(program, with_locals=args.locals, heap=heap)
        snapshot["notes"].extend(heap_notes)
        if not args.no_deadlock:
            try:
                analysis = analyze_deadlock(program).to_json()
                analysis.pop("wait_graph", None)
                deadlock = analysis
            except GoextError as exc:
                snapshot["notes"].append(f"deadlock analysis: {exc}")
    data = write_report(args.html, snapshot, deadlock)
    counts = data["counts"]
    write(f"wrote {args.html}: {counts['goroutines']} goroutines in {counts['groups']} groups\n")
