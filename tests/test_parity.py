"""The offline snapshot of a kernel core equals what the Go runtime printed.

For every fixture program x Go version x flavour (default, -N -l, -s -w) the
runtime's own GOTRACEBACK=crash traceback is the oracle: goroutine ids, g
addresses, states, wait minutes, locked-to-thread, every frame with inlined
frames, and created-by.
"""

from __future__ import annotations

import pytest

from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.runtime.stacks import user_frame
from goext_core.runtime.unwind import ParkedWalk
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.oracle import parse_traceback
from support.parity import compare

# (program, mode, arguments, goroutine that crashed: compared on its caller frames)
SCENARIOS = [
    ("zoo", "panic", (), 1),
    ("zoo", "segv", (), None),
    ("simple", "panic", (), 1),
    ("many", "panic", ("500",), 1),
    ("cgo", "panic", (), 1),
]


def _crashing_goroutine(traceback, default):
    """The goroutine whose frames the runtime printed from inside the crash."""
    if default is not None:
        return default
    for block in traceback.goroutines:
        if block.state == "running" and block.frames:
            return block.id
    return None


@pytest.mark.parametrize(
    "program,mode,arguments,crashing",
    SCENARIOS,
    ids=[f"{p}-{m}{'-' + '-'.join(a) if a else ''}" for p, m, a, _ in SCENARIOS],
)
def test_snapshot_matches_runtime_traceback(program, mode, arguments, crashing, go_version, flavour):
    artifact = kernel_core(program, go_version, flavour, mode, arguments)
    traceback = parse_traceback(artifact.traceback.read_text(errors="replace"))
    assert traceback.goroutines, "the runtime printed no goroutines"
    snapshot = build_snapshot(GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
    report = compare(snapshot, traceback, _crashing_goroutine(traceback, crashing))
    assert report.compared >= len(traceback.by_id()) - 1
    assert report.ok(), f"{len(report.mismatches)} mismatches:\n{report.summary()}"


@pytest.mark.parametrize(
    "program,mode,arguments,crashing",
    SCENARIOS,
    ids=[f"{p}-{m}{'-' + '-'.join(a) if a else ''}" for p, m, a, _ in SCENARIOS],
)
@pytest.mark.go_versions("1.19", "1.22", "1.27")
def test_list_walk_finds_the_unwinders_user_frame(program, mode, arguments, crashing, go_version, flavour):
    """The goroutine list's short walk (ParkedWalk) answers with exactly the
    frame the full unwinder's stack gives, or leaves the goroutine to it."""
    artifact = kernel_core(program, go_version, flavour, mode, arguments)
    go = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    walk = ParkedWalk(go, go.library_code.holds_code)
    answered = 0
    for record in go.goroutines():
        quick = walk.user_frame(record)
        if quick is not None:
            answered += 1
            assert quick == user_frame(go.stack(record), go.library_code), record.id
            assert quick == go.user_frame(record)
    assert answered > 0  # every fixture parks goroutines in its own code


@pytest.mark.slow
@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default")
def test_wait_minutes_match_runtime(go_version, flavour):
    """Goroutines parked for over a minute: the runtime prints "N minutes";
    goext estimates "now" from the core (this core takes a minute to make)."""
    artifact = kernel_core("longwait", go_version, flavour, "panic")
    traceback = parse_traceback(artifact.traceback.read_text(errors="replace"))
    waiting = [g for g in traceback.by_id().values() if g.wait_minutes]
    assert len(waiting) >= 3, artifact.traceback.read_text()[:2000]
    snapshot = build_snapshot(GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
    report = compare(snapshot, traceback, 1)
    assert report.ok(), report.summary()
