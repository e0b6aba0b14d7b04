"""Goroutines as lldb threads (lldb's OperatingSystem plug-in): lldb's own
thread list, thread select, register read and bt see goroutines, the
commands still see the OS threads, and programs that are not Go are untouched."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.build import build
from support.cores import kernel_core, running_fixture
from support.debuggers import LLDB_GO_SIGNAL_SETUP, require_lldb, run_lldb

THREAD_LINE = re.compile(r"thread #\d+: tid = (\d+),.*?name = 'goroutine (\d+) \[([^\]]*)\]'")
OS_THREAD_LINE = re.compile(r"thread #\d+: tid = (\d+), (?!.*name = 'goroutine)")
G_DEAD = 6


def _offline(artifact):
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _goroutine_threads(output: str) -> dict[int, tuple[int, str]]:
    """goroutine id -> (lldb thread id, state) from ``thread list``."""
    return {int(goid): (int(tid), state) for tid, goid, state in THREAD_LINE.findall(output)}


@pytest.mark.e2e
@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_goroutines_are_lldb_threads(go_version, flavour):
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    records = [r for r in program.goroutines() if not r.error and r.plain_status != G_DEAD]
    user = {r.id: r for r in records if not r.system}
    commands = ["thread list", "go lldb-threads system", "thread list", "go lldb-threads user"]
    commands += ["go lldb-threads off", "thread list", "go lldb-threads on", "go lldb-threads bogus", "go threads"]
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core)
    listing, _, system_listing, _, off, off_listing, on, bogus, threads = result.outputs
    shown = _goroutine_threads(listing)
    # Every user goroutine is a thread named with its state as the runtime prints it.
    assert set(user) <= set(shown), result.transcript()
    for goid, record in user.items():
        assert shown[goid][1] == record.state, (goid, shown[goid], record.state)
    # System goroutines only on request (unless they run on a thread).
    with_system = _goroutine_threads(system_listing)
    assert {r.id for r in records} <= set(with_system)
    assert len(with_system) > len(shown)
    # The crashing goroutine is backed by its OS thread: the stop reason is the signal's.
    crashing = r"name = 'goroutine 1 \[running\]', queue = 'M\d+, thread \d+', stop reason = signal SIGABRT"
    assert re.search(crashing, listing), listing
    # Off: lldb shows only OS threads; the setting answers in one line.
    assert "off: lldb shows OS threads only" in off
    assert not _goroutine_threads(off_listing) and OS_THREAD_LINE.search(off_listing)
    assert "on:" in on
    assert "usage: go lldb-threads" in bogus
    # goext's own commands still see the OS threads with their kernel tids.
    offline_tids = {thread.tid for thread in program.target.threads()}
    listed_tids = {int(tid) for tid in re.findall(r"^thread \d+ tid (\d+)", threads, re.M)}
    assert listed_tids and listed_tids <= offline_tids, threads


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_selected_goroutine_thread(go_version, flavour):
    """thread select N: register read shows what g.sched saved, go bt shows that
    goroutine, and (stripped, after go symbols) lldb's own bt walks it whole."""
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    parked = next(r for r in program.goroutines() if r.state == "chan receive" and not r.m and not r.system)
    stack = program.stack(parked)
    # lldb's index of the goroutine's thread comes from the thread list.
    listing = run_lldb(["thread list"], exe=artifact.exe, core=artifact.core).outputs[0]
    index = re.search(rf"thread #(\d+): tid = \d+,.*name = 'goroutine {parked.id} \[", listing)
    assert index, listing
    commands = [f"thread select {index.group(1)}", "register read", "go bt", "register read -a"]
    if flavour == "stripped":
        commands += ["go symbols", "bt"]
    result = run_lldb(commands, exe=artifact.exe, core=artifact.core)
    registers, go_bt, all_registers = result.outputs[1:4]
    assert re.search(rf"rip = 0x0*{parked.sched_pc:x}\b", registers), registers
    assert re.search(rf"rsp = 0x0*{parked.sched_sp:x}\b", registers), registers
    # rax is not saved by the runtime: not shown as if known.  (Only register
    # lines count: thread select's late status may carry disassembly naming it.)
    assert not re.search(r"^\s*rax = ", registers, re.M), registers
    assert "unknown" in all_registers
    # (lldb may print the selected thread's status late, into the next command's output)
    assert re.search(rf"^goroutine {parked.id} \[chan receive.*\]:\n#0 ", go_bt, re.M), go_bt
    if flavour == "stripped":
        lldb_functions = re.findall(r"frame #\d+: 0x[0-9a-f]+ \S+`([^ +(]+)", result.outputs[-1])
        expected = [frame.function for frame in stack.frames if not frame.inlined]
        assert lldb_functions[: len(expected) - 1] == expected[:-1], (lldb_functions, expected)


@pytest.mark.e2e
def test_programs_that_are_not_go_keep_their_threads(tmp_path):
    """A C program: the plug-in presents nothing, lldb's threads are the process's."""
    require_lldb()
    process = subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        result = run_lldb(["thread list", "go lldb-threads"], pid=process.pid)
        listing, setting = result.outputs
        assert f"tid = {process.pid}" in listing, result.transcript()
        assert "goroutine" not in listing
        assert "Traceback" not in result.stdout + result.stderr
        assert "on:" in setting
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


# Runs inside lldb: let the attached process run for a moment, then stop it.
RESUME_AND_INTERRUPT = """
import time
process = lldb.debugger.GetSelectedTarget().GetProcess()
lldb.debugger.SetAsync(True)
process.Continue()
time.sleep(1.0)
ran = process.GetState() == lldb.eStateRunning
process.Stop()
for _ in range(200):
    if process.GetState() == lldb.eStateStopped:
        break
    time.sleep(0.05)
lldb.debugger.SetAsync(False)
print("stopped after running" if ran and process.GetState() == lldb.eStateStopped else "did not run and stop")
"""


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_live_process_goroutine_threads(go_version, flavour, tmp_path):
    """Attached: parked goroutines are threads with their saved registers, the
    OS threads stay (they run the rest), and the process runs on afterwards."""
    require_lldb()
    exe = build("zoo", go_version, flavour)
    resume = tmp_path / "resume.py"
    resume.write_text(RESUME_AND_INTERRUPT)
    with running_fixture(exe, tmp_path) as process:
        # lldb asks for threads during an attach before it knows the executable:
        # the goroutines become threads with the first goext command (or the next stop).
        result = run_lldb(
            [
                LLDB_GO_SIGNAL_SETUP,
                "go goroutines -s 'chan receive'",
                "thread list",
                f"script exec(open({str(resume)!r}).read())",
                "thread list",
            ],
            pid=process.pid,
        )
        receivers, listing, resumed, again = result.outputs[1:]
        shown = _goroutine_threads(listing)
        waiting = [int(line.split()[0]) for line in receivers.splitlines() if "[chan receive" in line]
        assert waiting and set(waiting) <= set(shown), result.transcript()
        assert OS_THREAD_LINE.search(listing), listing
        # Continue, interrupt, list again: the same parked goroutines, no stale threads, no crash.
        assert "stopped after running" in resumed, result.transcript()
        assert set(waiting) <= set(_goroutine_threads(again)), again
        assert len(_goroutine_threads(again)) == len(shown), (again, listing)
        assert "Traceback" not in result.stdout + result.stderr
        assert process.poll() is None, "lldb left the process dead"


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default", "stripped")
def test_goroutine_command_and_automatic_symbols(go_version, flavour):
    """'goroutine ID CMD' runs an lldb command on a goroutine's thread and puts
    the selection back; a stripped binary gets pclntab symbols by itself."""
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    program = _offline(artifact)
    parked = next(r for r in program.goroutines() if r.state == "chan receive" and not r.m and not r.system)
    expected = [frame.function for frame in program.stack(parked).frames if not frame.inlined]
    result = run_lldb(
        [
            f"goroutine {parked.id} bt",
            "bt 1",
            f"goroutine {parked.id}",
            "go bt -n 1",
            "goroutine 999999 bt",
            "goroutine x",
        ],
        exe=artifact.exe,
        core=artifact.core,
    )
    lldb_bt, selected_bt, select, go_bt, missing, bad = result.outputs
    functions = re.findall(r"frame #\d+: 0x[0-9a-f]+ \S+`([^ +(]+)", lldb_bt)
    names = [name.removesuffix(".abi0") for name in functions]
    if flavour == "stripped":  # goext's unwind tables: the whole stack
        assert names == expected, (names, expected)
    else:  # the Go linker's tables do not say where the frame pointer is saved
        assert names == expected[: len(names)] and names, (names, expected)
    assert f"goroutine {parked.id} [" in lldb_bt
    assert "goroutine 1 [running]" in selected_bt  # the selection went back to the crashing thread
    assert f"goroutine {parked.id}: thread #" in select
    assert re.search(rf"^goroutine {parked.id} \[chan receive", go_bt, re.M), go_bt
    assert "is not an lldb thread" in missing
    assert "goroutine id expected" in bad


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "stripped")
def test_lldb_bt_through_the_signal_frame(go_version, flavour, tmp_path):
    """The crashing goroutine of a nil dereference: lldb's own bt goes through
    runtime.sigtramp and the signal restorer (goext's CFI reads the signal
    frame) into the goroutine's frames, with the pcs and functions of go bt:
    main.segvDeref faulted at its first instruction, so its frame is named by
    its pc (the restorer and runtime.sigpanic are lldb trap handlers)."""
    require_lldb()
    artifact = kernel_core("zoo", go_version, flavour, "segv")
    program = _offline(artifact)
    crashed = next(r for r in program.goroutines() if r.state == "running" and not r.system)
    goroutine_frames = [f for f in program.stack(crashed).frames if f.stack == "goroutine" and not f.inlined]
    result = run_lldb(
        [f"goroutine {crashed.id} bt"], exe=artifact.exe, core=artifact.core, env={"GOEXT_CACHE_DIR": str(tmp_path)}
    )
    # Concrete frames only (lldb lists an inlined call as a frame of its own).
    concrete = "\n".join(line for line in result.outputs[0].splitlines() if "[inlined]" not in line)
    frames = re.findall(r"frame #\d+: 0x([0-9a-f]+) \S+`([^ +(\n]+)", concrete)
    names = [name for _, name in frames]
    assert "runtime.sigtramp" in names and "runtime.sigreturn__sigaction" in names, result.transcript()
    after = frames[names.index("runtime.sigreturn__sigaction") + 1 :]
    assert len(after) == len(goroutine_frames), (after, goroutine_frames)
    assert [name for _, name in after][-3:] == ["main.segvDeref", "main.segvWorker", "runtime.goexit"], after
    if flavour == "stripped":  # no line tables: lldb shows each frame's own pc
        assert [int(pc, 16) for pc, _ in after] == [f.pc for f in goroutine_frames], (after, goroutine_frames)
