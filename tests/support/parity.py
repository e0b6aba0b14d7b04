"""Compare a goext snapshot with the Go runtime's own crash traceback.

The runtime prints, for each goroutine, the frames on that goroutine's own
stack (with GOTRACEBACK=crash: runtime frames and inlined frames included).
goext's snapshot frames carry a ``stack`` tag; only ``goroutine`` frames are
compared.  The goroutine that was running the crash is compared on its caller
frames (the runtime printed it from the panic, goext from the thread, which is
deeper inside the crash path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from .oracle import FrameTrace, GoroutineTrace, Traceback


def printed_name(name: str) -> str:
    """How runtime/traceback.go printFuncName shows a function name."""
    if name == "runtime.gopanic":
        return "panic"
    return re.sub(r"\[.*\]", "[...]", name, count=1) if "[" in name else name


@dataclass
class Mismatch:
    goroutine: int
    what: str

    def __str__(self) -> str:
        return f"goroutine {self.goroutine}: {self.what}"


@dataclass
class ParityReport:
    compared: int = 0
    frames_compared: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.mismatches

    def summary(self, limit: int = 25) -> str:
        lines = [str(m) for m in self.mismatches[:limit]]
        if len(self.mismatches) > limit:
            lines.append(f"... and {len(self.mismatches) - limit} more")
        return "\n".join(lines)


def _frame_key(frame: FrameTrace) -> tuple[str, Optional[str], Optional[int], bool]:
    return (frame.function, frame.file, frame.line, frame.inlined)


def _our_frames(entry: dict[str, Any]) -> list[tuple[str, Optional[str], Optional[int], bool]]:
    return [
        (printed_name(f["function"]), f["file"], f["line"], f["inlined"])
        for f in entry["frames"]
        if f.get("stack", "goroutine") == "goroutine"
    ]


def _compare_frames(expected: GoroutineTrace, ours: list[tuple], suffix_only: bool) -> Optional[str]:
    theirs = [_frame_key(f) for f in expected.frames]
    if expected.elided_at is not None and (expected.elided or expected.elided_unknown):
        head, tail = theirs[: expected.elided_at], theirs[expected.elided_at :]
        if ours[: len(head)] != head:
            return f"first {len(head)} frames differ:\n  runtime {head[:8]}\n  goext   {ours[:8]}"
        if tail and ours[-len(tail) :] != tail:
            return f"last {len(tail)} frames differ:\n  runtime {tail[-8:]}\n  goext   {ours[-8:]}"
        return None
    if suffix_only:
        if len(ours) < len(theirs) or ours[len(ours) - len(theirs) :] != theirs:
            return f"caller frames differ:\n  runtime {theirs}\n  goext   {ours}"
        return None
    if ours != theirs:
        for index, (a, b) in enumerate(zip(theirs, ours)):
            if a != b:
                return f"frame {index} differs: runtime {a} goext {b} (runtime has {len(theirs)}, goext {len(ours)})"
        return (
            f"frame count differs: runtime {len(theirs)} goext {len(ours)}: "
            f"runtime {theirs[len(ours) :][:3]} goext {ours[len(theirs) :][:3]}"
        )
    return None


# States of goroutines that may have moved between a live snapshot and the
# runtime's later report of the same process.
MOVING_STATES = ("running", "runnable", "syscall", "preempted")


def compare(
    snapshot: dict[str, Any], traceback: Traceback, crashing_goroutine: Optional[int] = None, parked_only: bool = False
) -> ParityReport:
    """``parked_only``: compare only goroutines parked in both (live processes,
    where the report comes after the snapshot)."""
    report = ParityReport()
    ours = {g["id"]: g for g in snapshot["goroutines"]}
    expected_all = traceback.by_id()
    for goid, expected in expected_all.items():
        if goid == 0:
            continue
        if parked_only and (expected.state in MOVING_STATES or ours.get(goid, {}).get("state") in MOVING_STATES):
            continue
        entry = ours.get(goid)
        if entry is None:
            report.mismatches.append(Mismatch(goid, "missing from the snapshot"))
            continue
        report.compared += 1
        problems = []
        if expected.gp is not None and entry["address"] != expected.gp:
            problems.append(f"address {entry['address']:#x} != gp {expected.gp:#x}")
        if entry["state"] != expected.state:
            problems.append(f"state {entry['state']!r} != {expected.state!r}")
        if expected.wait_minutes and entry["wait_minutes"] != expected.wait_minutes:
            problems.append(f"wait minutes {entry['wait_minutes']} != {expected.wait_minutes}")
        if expected.labels and entry.get("labels") != expected.labels:
            problems.append(f"labels {entry.get('labels')} != {expected.labels}")
        if entry["locked_to_thread"] != expected.locked_to_thread:
            problems.append(f"locked_to_thread {entry['locked_to_thread']} != {expected.locked_to_thread}")
        if expected.frames:
            suffix = goid == crashing_goroutine
            problem = _compare_frames(expected, _our_frames(entry), suffix)
            report.frames_compared += len(expected.frames)
            if problem:
                problems.append(problem)
        if expected.created_by is not None:
            created = entry.get("created_by")
            want = (
                expected.created_by.function,
                expected.created_by.file,
                expected.created_by.line,
                expected.created_by.goroutine,
            )
            got = (
                None
                if created is None
                else (printed_name(created["function"]), created["file"], created["line"], created["goroutine"])
            )
            if got != want:
                problems.append(f"created by {got} != {want}")
        report.mismatches.extend(Mismatch(goid, p) for p in problems)
    extra = set() if parked_only else set(ours) - set(expected_all)
    for goid in sorted(extra):
        report.mismatches.append(Mismatch(goid, "in the snapshot but not printed by the runtime"))
    return report
