"""go deadlock: real deadlocks are found with the right goroutines, objects and
holders; healthy programs (tests/programs/healthy, cgo) have no stuck goroutine
in any build; every user goroutine gets exactly one verdict.

Fixtures: tests/programs/stuck (allasleep: the runtime-reported lock cycle;
partial: a lock cycle and a channel ring while workers run), zoo (deadlock and
panic), deadlocks (crowd: an AB/BA pair among 50,000 workers; wgnever: a
WaitGroup nobody calls Done on), healthy and cgo.
"""

from __future__ import annotations

import json

import pytest

from goext_core.commands import Context, dispatch
from goext_core.output.schemacheck import validate
from goext_core.output.snapshot import schema
from goext_core.program import GoProgram
from goext_core.runtime.timers import KIND_CHANNEL, KIND_FUNC, KIND_SLEEP, read_timers
from goext_core.runtime.waitgraph import VERDICTS, DeadlockReport, analyze_deadlock
from goext_core.target.core import CoreTarget
from support.cores import gcore_live, kernel_core
from support.debuggers import run_gdb, run_lldb
from support.foreign import qemu_core

VERSIONS = ("1.19", "1.22", "1.24", "1.27")


def _program(program: str, go_version: str, flavour: str, mode: str, *args: str) -> GoProgram:
    artifact = kernel_core(program, go_version, flavour, mode, args)
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _running(program: GoProgram, function: str) -> set[int]:
    return {r.id for r in program.goroutines() if any(f.function == function for f in program.stack(r).frames)}


def _output(program: GoProgram, arguments: str = "") -> str:
    out: list[str] = []
    assert dispatch(Context(lambda: program), "deadlock", arguments, out.append), out
    return "".join(out)


def _counts_add_up(program: GoProgram, report: DeadlockReport) -> None:
    users = [r for r in program.goroutines() if not r.system]
    assert report.user_goroutines == len(users)
    assert sorted(report.counts) == sorted(VERDICTS)
    assert sum(report.counts.values()) == len(users), report.counts
    assert sum(group.count for group in report.groups) == len(users)
    assert report.counts["stuck"] == len(report.stuck) and report.counts["unknown"] == len(report.unknown)
    assert all(s.confidence in ("certain", "high") for s in report.stuck)


def _lock_cycle(program: GoProgram, report: DeadlockReport, function: str = "main.transfer") -> list[int]:
    lockers = _running(program, function)
    assert len(lockers) == 2
    cycles = [c for c in report.cycles if set(c) == lockers]
    assert len(cycles) == 1, report.cycles
    stuck = {s.goroutine: s for s in report.stuck}
    for goroutine in lockers:
        other = (lockers - {goroutine}).pop()
        (label,) = stuck[goroutine].waits_on
        assert label.startswith("mutex ")
        # The holder comes from the other goroutine's live pointer slot, in its own frame.
        assert stuck[goroutine].released_by == [other]
        assert any(
            e.startswith(f"goroutine {other}'s frame main.") and "live pointer slot (GC stack map)" in e
            for e in stuck[goroutine].evidence
        ), stuck[goroutine].evidence
        assert any(e.endswith(" is locked") for e in stuck[goroutine].evidence)
    return cycles[0]


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_runtime_reported_deadlock(go_version, flavour):
    artifact = kernel_core("stuck", go_version, flavour, "allasleep")
    assert "all goroutines are asleep - deadlock!" in artifact.traceback_text()
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    report = analyze_deadlock(program)
    assert report.all_asleep and not report.progressing and not report.unknown
    assert all(s.confidence == "certain" for s in report.stuck)
    _counts_add_up(program, report)
    _lock_cycle(program, report)
    labels = {label for s in report.stuck for label in s.waits_on}
    assert any("main.accountA" in label for label in labels) and any("main.accountB" in label for label in labels)
    main = next(s for s in report.stuck if s.goroutine == 1)
    assert main.waits_on and main.waits_on[0].startswith("waitgroup ")
    assert any("counter (1)" in e for e in main.evidence)

    text = _output(program)
    assert text.startswith("all goroutines are asleep")
    assert "wait cycle 1: goroutine" in text and "main.accountA" in text
    assert "probably held" not in text


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default")
def test_partial_deadlock_while_others_run(go_version, flavour):
    program = _program("stuck", go_version, flavour, "partial")
    report = analyze_deadlock(program)
    assert not report.all_asleep
    _counts_add_up(program, report)
    workers = _running(program, "main.worker") | _running(program, "main.ticker")
    assert len(workers) == 3 and workers <= set(report.progressing)
    lock_cycle = _lock_cycle(program, report)
    ring = _running(program, "main.ringMember")
    assert len(ring) == 3
    ring_cycles = [c for c in report.cycles if set(c) == ring]
    assert len(ring_cycles) == 1 and len(report.cycles) == 2, report.cycles
    stuck = {s.goroutine: s for s in report.stuck}
    assert set(stuck) == ring | set(lock_cycle)
    assert {s.confidence for s in report.stuck} == {"high"}
    for goroutine in ring:
        assert [label.split(" 0x")[0] for label in stuck[goroutine].waits_on] == ["chan int"]
        assert len(stuck[goroutine].released_by) == 1 and stuck[goroutine].released_by[0] in ring

    data = json.loads(_output(program, "--json"))
    # What go report --from reads as a snapshot's deadlock section.
    root = schema()
    validate(data, {**root["properties"]["deadlock"], "$defs": root["$defs"]})
    assert sorted(map(sorted, data["cycles"])) == sorted([sorted(lock_cycle), sorted(ring)])
    assert sum(data["counts"].values()) == data["user_goroutines"]
    text = _output(program, "--waits")
    assert "partial deadlock: 5 of" in text
    # The first patterns printed are the stuck ones, cycles first.
    patterns = text.split("by blocking pattern:\n", 1)[1].splitlines()
    assert all("stuck (high, in a wait cycle)" in line for line in patterns[:3]), patterns


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_zoo_waits_are_resolved_without_false_cycles(go_version, flavour):
    """zoo's deadlock mode is reported by the runtime too; its panic mode has timers,
    I/O and running goroutines, and only select{} with no cases is stuck for ever."""
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
    _counts_add_up(program, report)
    assert not report.all_asleep and not report.cycles and not report.stuck
    (parked,) = [g for g in report.groups if g.verdict == "parked"]
    assert parked.state == "select (no cases)" and parked.count == 1
    verdicts = {v.location.split(" at ")[0]: v for v in report.unknown}
    assert "main.blockCond" in verdicts  # a sync.Cond's signaller cannot be seen
    assert "unknown holder" in verdicts["main.blockMutex"].reason
    waiting = _running(program, "main.blockTicker") | _running(program, "main.blockTimer")
    assert len(waiting) == 2
    for group in report.groups:
        if set(group.goroutines) & waiting:
            assert group.verdict == "waiting", group


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_healthy_program_has_no_stuck_goroutine(go_version, flavour):
    program = _program("healthy", go_version, flavour, "panic")
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    assert not report.stuck, _output(program)
    assert report.counts["waiting"] + report.counts["blocked"] + report.counts["unknown"] >= 15
    text = _output(program)
    assert text.startswith("no deadlock found"), text
    if flavour == "default":
        # Every P's timer heap, in the layout of each release (Go 1.19-1.22 []*timer, 1.23+ timerWhen).
        table = read_timers(program)
        assert table.known, table.reason
        kinds = {(t.kind, t.target) for t in table.timers}
        assert (KIND_FUNC, "main.afterFuncWait.func1") in kinds, kinds
        assert any(t.kind == KIND_SLEEP for t in table.timers)
        # tickerLoop blocks on its ticker's channel (since Go 1.23 that is what puts it in a heap).
        assert any(t.kind == KIND_CHANNEL and t.period == 3600 * 10**9 for t in table.timers)
    if report.timers["known"]:
        # The minimal case: a select on a ticker and ctx.Done() wakes by the ticker.
        ticker = _running(program, "main.tickerLoop")
        assert [v for v in report.groups if set(v.goroutines) & ticker][0].verdict == "waiting"
    else:
        assert "timers: unknown" in text


@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("default", "stripped")
@pytest.mark.parametrize("variant", [(), ("quiet",)], ids=["wait", "quiet"])
def test_healthy_process_snapshot_has_no_stuck_goroutine(go_version, flavour, variant):
    """gcore of the running program, every goroutine in its natural state (main parked in
    select {}, nothing panicking). 'quiet': only a ticker goroutine that will send and a
    consumer that reaches the channel through the heap; the ticker wakes a goroutine,
    so this is no closed world and the consumer is not stuck."""
    artifact = gcore_live("healthy", go_version, flavour, variant)
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    assert not report.stuck and not report.all_asleep, _output(program)
    assert report.counts["parked"] == 1
    if variant:
        consumer = _running(program, "main.(*service).consume")
        assert len(consumer) == 1 and [v.goroutine for v in report.unknown] == list(consumer)


@pytest.mark.go_versions("1.19", "1.24", "1.27")
@pytest.mark.flavours("default", "stripped")
@pytest.mark.parametrize("snapshot", ["panic", "gcore"])
def test_cgo_program_has_no_stuck_goroutine(go_version, flavour, snapshot):
    """Goroutines in C code and in Go called back from C; 'gcore': the running
    program (main sleeping), 'panic': its crash."""
    if snapshot == "gcore":
        artifact = gcore_live("cgo", go_version, flavour)
        program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    else:
        program = _program("cgo", go_version, flavour, "panic")
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    assert not report.stuck, _output(program)


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_waitgroup_never_done(go_version, flavour):
    artifact = kernel_core("deadlocks", go_version, flavour, "wgnever")
    assert "all goroutines are asleep - deadlock!" in artifact.traceback_text()
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    report = analyze_deadlock(program)
    assert report.all_asleep
    (main,) = report.stuck
    assert main.goroutine == 1 and main.confidence == "certain"
    assert main.waits_on[0].startswith("waitgroup ") and any("counter (2)" in e for e in main.evidence)


@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_real_pair_first_among_50000_workers(go_version, flavour):
    program = _program("deadlocks", go_version, flavour, "crowd", "50000")
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    # (Found through the report: unwinding 50,000 stacks again would double the test's time.)
    stuck = {s.goroutine: s for s in report.stuck}
    assert sorted(s.location.split(" at ")[0] for s in stuck.values()) == ["main.lockAB", "main.lockBA"]
    pair = set(stuck)
    assert len(report.cycles) == 1 and set(report.cycles[0]) == pair
    for goroutine in pair:
        (other,) = pair - {goroutine}
        assert stuck[goroutine].released_by == [other]
    # The workers wait on a channel a sleeping producer holds: they may be released.
    workers = [g for g in report.groups if g.location.startswith("main.crowdWorker")]
    assert len(workers) == 1 and workers[0].count == 50000 and workers[0].verdict == "blocked"
    forgotten = [v for v in report.unknown if v.location.startswith("main.forgottenWait")]
    assert len(forgotten) == 1 and any("counter (3)" in e for e in forgotten[0].evidence)
    text = _output(program)
    first = text.split("by blocking pattern:\n", 1)[1].splitlines()[:2]
    assert all("stuck (high, in a wait cycle) [sync.Mutex.Lock] main.lock" in line for line in first), first
    assert text.count("\n  50000 x blocked [chan receive] main.crowdWorker") == 1


@pytest.mark.go_versions("1.19", "1.22", "1.24", "1.27")
@pytest.mark.flavours("default", "stripped", "noopt")
def test_lock_holder_is_the_frame_that_deferred_unlock_not_the_owner(go_version, flavour):
    """AB/BA inside one struct's methods while main keeps using the struct (so main's
    live slots point at both mutexes): each mutex is held by the frame whose deferred
    Unlock is pending (open-coded; without optimizations a _defer record, and Unlock
    called, not inlined), so the pair is stuck in a cycle and main is no holder."""
    program = _program("deadlocks", go_version, flavour, "bank")
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    stuck = {s.goroutine: s for s in report.stuck}
    assert sorted(s.location.split(" at ")[0] for s in stuck.values()) == [
        "main.(*bank).audit",
        "main.(*bank).record",
    ], _output(program)
    (cycle,) = report.cycles
    assert set(cycle) == set(stuck) and 1 not in stuck
    holders = {"main.(*bank).record": "main.(*bank).audit", "main.(*bank).audit": "main.(*bank).deposit"}
    for goroutine, verdict in stuck.items():
        (other,) = set(stuck) - {goroutine}
        assert verdict.released_by == [other], verdict
        holder = holders[verdict.location.split(" at ")[0]]
        assert any(f"frame {holder} has mutex " in e and "deferred Unlock pending" in e for e in verdict.evidence), (
            verdict.evidence
        )


@pytest.mark.go_versions("1.19", "1.27")
def test_release_build_groups_by_the_programs_own_frames(go_version):
    """Built as distributions build Go (-trimpath -ldflags=-s -w): the file names carry
    no GOROOT, and each goroutine is still placed at its own code (main.lockAB), not at
    the standard-library call it parks in (sync.runtime_SemacquireMutex)."""
    program = _program("deadlocks", go_version, "release", "crowd", "200")
    assert program.goroot_src is None and program.binary.symbol("runtime.main") is None
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    assert sorted(s.location.split(" at ")[0] for s in report.stuck) == ["main.lockAB", "main.lockBA"]
    text = _output(program)
    first = text.split("by blocking pattern:\n", 1)[1].splitlines()[:2]
    assert all("stuck (high, in a wait cycle)" in line and "] main.lock" in line for line in first), first
    assert text.count("\n  200 x blocked [chan receive] main.crowdWorker") == 1, text


@pytest.mark.gdb
@pytest.mark.lldb
@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_debuggers_print_the_same_analysis(go_version, flavour):
    artifact = kernel_core("stuck", go_version, flavour, "partial")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    offline = _output(program).strip()
    assert offline.startswith("partial deadlock: 5 of")
    for run in (
        run_gdb(["go deadlock"], exe=artifact.exe, core=artifact.core),
        run_lldb(["go deadlock"], exe=artifact.exe, core=artifact.core),
    ):
        assert run.outputs[0].strip() == offline, run.transcript()


@pytest.mark.slow
@pytest.mark.go_versions("1.24")
@pytest.mark.flavours("default")
def test_arm64_stack_maps_find_the_same_deadlocks(go_version, flavour):
    """arm64 frames keep the return address at sp and the locals below fp differently:
    the live slots (and so the holders and the cycles) must come out the same."""
    artifact = qemu_core("stuck", go_version, "arm64", "partial")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    assert program.target.arch == "arm64"
    report = analyze_deadlock(program)
    _counts_add_up(program, report)
    _lock_cycle(program, report)
    assert len(report.cycles) == 2 and len(report.stuck) == 5
