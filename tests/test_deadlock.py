"""go deadlock on real deadlocks: the runtime-reported one ("all goroutines are
asleep", tests/programs/stuck allasleep and zoo deadlock) and a partial one
(stuck partial: a lock cycle and a channel ring while workers keep running)."""

from __future__ import annotations

import json

import pytest

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.runtime.waitgraph import analyze_deadlock
from goext_core.target.core import CoreTarget
from support.cores import kernel_core

VERSIONS = ("1.19", "1.22", "1.24", "1.27")


def _program(program: str, go_version: str, flavour: str, mode: str) -> GoProgram:
    artifact = kernel_core(program, go_version, flavour, mode)
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _running(program: GoProgram, function: str) -> set[int]:
    return {r.id for r in program.goroutines() if any(f.function == function for f in program.stack(r).frames)}


def _lock_cycle(program: GoProgram, report) -> list[int]:
    transfers = _running(program, "main.transfer")
    assert len(transfers) == 2
    cycles = [c for c in report.cycles if set(c) == transfers]
    assert len(cycles) == 1, report.cycles
    stuck = {s.goroutine: s for s in report.stuck}
    objects = {label for g in transfers for label in stuck[g].waits_on}
    # Each waits on the other account's mutex, named through the global that points at it.
    assert any("main.accountA" in label for label in objects) and any("main.accountB" in label for label in objects)
    assert all(label.startswith("mutex ") for label in objects)
    for goroutine in transfers:
        other = (transfers - {goroutine}).pop()
        assert stuck[goroutine].released_by == [other]
        assert any("probably held by goroutine" in e and "main.transfer" in e for e in stuck[goroutine].evidence)
    return cycles[0]


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_runtime_reported_deadlock(go_version, flavour):
    artifact = kernel_core("stuck", go_version, flavour, "allasleep")
    assert "all goroutines are asleep - deadlock!" in artifact.traceback_text()
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    report = analyze_deadlock(program)
    assert report.all_asleep
    assert not report.progressing
    _lock_cycle(program, report)
    main = next(s for s in report.stuck if s.goroutine == 1)
    assert main.waits_on and main.waits_on[0].startswith("waitgroup ")

    out: list[str] = []
    assert dispatch(Context(lambda: program), "deadlock", "", out.append)
    text = "".join(out)
    assert text.startswith("all goroutines are asleep")
    assert "wait cycle 1: goroutine" in text and "main.accountA" in text


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_partial_deadlock_while_others_run(go_version, flavour):
    program = _program("stuck", go_version, flavour, "partial")
    report = analyze_deadlock(program)
    assert not report.all_asleep
    workers = _running(program, "main.worker") | _running(program, "main.ticker")
    assert len(workers) == 3 and workers <= set(report.progressing)
    lock_cycle = _lock_cycle(program, report)
    ring = _running(program, "main.ringMember")
    assert len(ring) == 3
    ring_cycles = [c for c in report.cycles if set(c) == ring]
    assert len(ring_cycles) == 1 and len(report.cycles) == 2, report.cycles
    stuck = {s.goroutine: s for s in report.stuck}
    assert set(stuck) == ring | set(lock_cycle)
    for goroutine in ring:
        assert [label.split(" 0x")[0] for label in stuck[goroutine].waits_on] == ["chan int"]

    out: list[str] = []
    assert dispatch(Context(lambda: program), "deadlock", "--json", out.append)
    data = json.loads("".join(out))
    assert sorted(map(sorted, data["cycles"])) == sorted([sorted(lock_cycle), sorted(ring)])
    out.clear()
    assert dispatch(Context(lambda: program), "deadlock", "--waits", out.append)
    assert "partial deadlock: 5 of" in "".join(out)


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_zoo_waits_are_resolved_without_false_cycles(go_version, flavour):
    """zoo's deadlock mode is reported by the runtime too; its panic mode has timers
    and running goroutines, and only select{} with no cases is stuck for ever."""
    asleep = analyze_deadlock(_program("zoo", go_version, flavour, "deadlock"))
    assert asleep.all_asleep and asleep.stuck
    kinds = {obj.kind for obj in asleep.graph.objects}
    assert {"chan", "mutex", "rwmutex (read)", "rwmutex (write)", "waitgroup", "cond"} <= kinds
    channels = [obj for obj in asleep.graph.objects if obj.kind == "chan"]
    assert any(obj.elem_type == "int" and obj.symbol == "*main.gSendWaitChan" and obj.senders for obj in channels)
    full = [obj for obj in channels if obj.symbol == "*main.gFullChan"]
    assert full and full[0].capacity == full[0].length == 2 and full[0].senders

    program = _program("zoo", go_version, flavour, "panic")
    report = analyze_deadlock(program)
    assert not report.all_asleep and not report.cycles
    (stuck,) = report.stuck
    assert stuck.state == "select (no cases)"
