"""go sched and go threads on a fixture with known scheduler state (tests/programs/sched):
GOMAXPROCS 3, two goroutines locked to their threads, one in read(2), six spinning;
with DWARF and built -s -w (the runtime's globals then come from runtime/stripped.py)."""

from __future__ import annotations

import json

import pytest

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.runtime.sched import EXTRA_M_ROLE, read_sched, read_threads
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb

VERSIONS = ("1.19", "1.22", "1.25", "1.26", "1.27")


def _program(go_version: str, flavour: str) -> GoProgram:
    artifact = kernel_core("sched", go_version, flavour, "panic")
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _by_start(program: GoProgram, function: str) -> list:
    """Goroutines running ``function`` (the start pc may be a go-statement wrapper)."""
    return [r for r in program.goroutines() if any(frame.function == function for frame in program.stack(r).frames)]


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "stripped")
def test_sched_shows_what_the_fixture_set_up(go_version, flavour):
    program = _program(go_version, flavour)
    view = read_sched(program)
    assert view.gomaxprocs == 3
    assert len(view.processors) == 3 and sorted(p.id for p in view.processors) == [0, 1, 2]
    assert not view.notes, view.notes
    assert None not in (view.ncpu, view.npidle, view.nmidle, view.nmspinning, view.nmsys, view.stopwait)
    assert view.gc.gc_percent == 100 and view.gc.enabled and view.gc.cycles is not None
    assert program.runtime_symbol("runtime.semtable") is not None

    # Goroutines locked to threads: each is its M's lockedg.
    locked = {r.id for r in _by_start(program, "main.lockedWaiter")}
    assert len(locked) == 2 and all(r.locked_to_thread for r in _by_start(program, "main.lockedWaiter"))
    assert locked <= {m.lockedg for m in view.machines if m.lockedg is not None}

    # The goroutine in read(2) has an M that is in a syscall and runs it.
    (reader,) = _by_start(program, "main.syscallReader")
    assert reader.state == "syscall"
    assert any(m.curg == reader.id and m.in_syscall for m in view.machines)

    # Every runnable goroutine waits in exactly one run queue (global, a P's queue or runnext).
    queued = list(view.global_runq) + [g for p in view.processors for g in p.runq]
    queued += [p.runnext for p in view.processors if p.runnext is not None]
    assert len(queued) == len(set(queued))
    runnable = {r.id for r in program.goroutines() if r.state == "runnable"}
    spinners = {r.id for r in _by_start(program, "main.spin")}
    assert runnable and runnable <= spinners
    assert runnable == set(queued), (runnable, view.global_runq, [(p.runq, p.runnext) for p in view.processors])
    assert view.global_runq_size == len(view.global_runq)

    # One M is sysmon and the crashing goroutine runs on a P.
    assert view.sysmon is not None
    (main,) = [r for r in program.goroutines() if r.id == 1]
    assert any(m.curg == 1 and m.p is not None for m in view.machines), main.state
    assert view.gc.phase in ("off", "mark", "mark termination") and view.gc.heap_live

    # Before the first GC has ended nothing was marked and no goal was met:
    # unknown, not "0 bytes" (gcController reads 0 then).
    out: list[str] = []
    assert dispatch(Context(lambda: program), "sched", "", out.append)
    heap_line = next(line for line in "".join(out).splitlines() if line.startswith("heap: "))
    # The fixture panics: freezetheworld set sched.stopwait (src/runtime/proc.go freezeStopWait).
    assert view.stopwait is not None and view.stopwait > 0x7FFFFFFF - 64, view.stopwait
    assert "(the world frozen for the crash)" in "".join(out)
    if view.gc.cycles == 0:
        assert view.gc.heap_marked is None and view.gc.heap_goal is None
        assert heap_line.endswith("no GC cycle has completed yet"), heap_line
    else:
        assert "the last GC marked " in heap_line and " 0 bytes" not in heap_line, heap_line


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_threads_show_m_goroutine_and_p(go_version, flavour):
    program = _program(go_version, flavour)
    threads = read_threads(program, frames=3)
    assert len(threads) == len(program.target.threads()) >= 4
    (reader,) = _by_start(program, "main.syscallReader")
    in_syscall = [t for t in threads if t.goroutine == reader.id]
    assert len(in_syscall) == 1 and in_syscall[0].in_syscall and in_syscall[0].frames
    locked = {r.id for r in _by_start(program, "main.lockedWaiter")}
    assert locked == {t.lockedg for t in threads if t.lockedg is not None}
    crashing = [t for t in threads if t.goroutine == 1]
    assert crashing and crashing[0].p is not None
    assert any(
        frame["function"] == "main.crash"
        for frame in read_threads(program, frames=40)[threads.index(crashing[0])].frames
    )

    out: list[str] = []
    assert dispatch(Context(lambda: program), "threads", "", out.append)
    text = "".join(out)
    assert f"goroutine {reader.id} [syscall]" in text and "in syscall" in text
    for goroutine in locked:
        assert f"locked to goroutine {goroutine}" in text
    out.clear()
    assert dispatch(Context(lambda: program), "sched", "--json", out.append)
    assert json.loads("".join(out))["gomaxprocs"] == 3


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
@pytest.mark.parametrize("debugger", ["gdb", "lldb"])
def test_threads_in_debugger_show_native_frames(debugger, go_version, flavour):
    require, run = {"gdb": (require_gdb, run_gdb), "lldb": (require_lldb, run_lldb)}[debugger]
    require()
    artifact = kernel_core("sched", go_version, flavour, "panic")
    result = run(["go threads -n 4", "go sched"], exe=artifact.exe, core=artifact.core)
    threads, sched = result.outputs
    assert "runtime.futex" in threads and "#3" in threads, result.transcript()
    assert "GOMAXPROCS: 3" in sched, result.transcript()
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    expected: list[str] = []
    assert dispatch(Context(lambda: program), "sched", "", expected.append)
    assert sched.strip() == "".join(expected).strip()


@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default")
def test_sched_names_the_cgo_extra_m(go_version, flavour):
    """The M cgo keeps for C threads calling into Go has no thread and a dead g locked
    to it (Go 1.19 has no m.isextra: the shape names it); it runs nothing."""
    artifact = kernel_core("cgo", go_version, flavour, "panic")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    view = read_sched(program)
    extra = [m for m in view.machines if m.role == EXTRA_M_ROLE]
    assert len(extra) == 1, [(m.id, m.role, m.tid, m.curg) for m in view.machines]
    (m,) = extra
    assert m.tid == 0 and m.curg is None and m.idle and m.p is None and m.lockedg is not None
    assert m.lockedg not in {r.id for r in program.goroutines()}  # its g is dead: not listed
    out: list[str] = []
    assert dispatch(Context(lambda: program), "sched", "", out.append)
    (line,) = [line for line in "".join(out).splitlines() if "cgo extra M" in line]
    assert line.split()[:5] == [str(m.id), "-", "-", "-", str(m.lockedg)] and "no thread, idle" in line
