"""gdb's own commands on any goroutine, on cores and live processes:
'goroutine ID bt', 'goroutine ID frame N CMD', 'goroutine ID' then bt/up/frame,
'goroutine all bt', 'goroutine off' (golang/go#17575 fails exactly here), and
the threads that run no goroutine, which the runtime prints as goroutine 0."""

from __future__ import annotations

import os
import re

import pytest

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.build import PROGRAMS_DIR, build
from support.cores import _fixture_env, kernel_core, running_fixture, signal_core
from support.debuggers import require_gdb, require_lldb, run_gdb, run_lldb
from support.oracle import parse_traceback

# 'go bt': "#3   0x00000000004d5885 in main.f" or "#4   (inlined)          in main.g"
_GO_BT_FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+|\(inlined\))\s+in (\S+)$", re.M)
# gdb: "#3  0x00000000004d5885 in main.f (args) at file:line" or "#4  main.g (args) at ..."
_GDB_FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(", re.M)
# Names gdb reads from DWARF where the runtime prints another one.
_RUNTIME_NAMES = {"runtime.gopanic": "panic"}

# Sets gdb convenience variables to the ids of goroutines found by their frames (-1: none).
_FIND_GOROUTINES = (
    "python from goext_gdb.commands import current_program as P; gs = P().goroutines(); "
    "f = lambda name, running=False: next((r.id for r in gs if (r.is_running or not running) "
    "and any(x.function == name for x in P().stack(r).frames)), -1); "
    "[gdb.set_convenience_variable(var, f(*how)) for var, how in ("
    "('gpark', ('main.blockChanSend',)), ('gsys', ('main.blockSyscallRead',)), "
    "('ginl', ('main.inlinedRoot',)), ('grun', ('main.busyLoop', True)))]"
)
_INLINED_FRAMES = 8  # frames of the inlinedRoot goroutine checked one by one


def _go_frames(text: str) -> list[tuple[int, str]]:
    return [(int(n), name) for n, name in _GO_BT_FRAME.findall(text)]


def _gdb_frames(text: str) -> list[tuple[int, str]]:
    return [(int(n), _RUNTIME_NAMES.get(name, name)) for n, name in _GDB_FRAME.findall(text)]


def _assert_same_frames(go_bt: str, gdb_bt: str, offset: int) -> None:
    """gdb's frames are go bt's, numbered go bt's number + offset (the hidden thread frame)."""
    expected = [(number + offset, name) for number, name in _go_frames(go_bt)]
    assert expected, go_bt
    assert _gdb_frames(gdb_bt) == expected, f"go bt:\n{go_bt}\ngdb:\n{gdb_bt}"


def _ready_line() -> int:
    source = (PROGRAMS_DIR / "zoo" / "main.go").read_text().splitlines()
    return next(i for i, text in enumerate(source, 1) if '"READY %d\\n"' in text and "Fprintf" in text)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_goroutine_commands_at_a_breakpoint_in_main(go_version, flavour, tmp_path):
    """Stopped at a breakpoint in main.main (where gdb stops unwinding by
    default): parked, syscall and inlined goroutines, every frame number as
    'go bt' counts it, the stay form, and the process steps on normally."""
    require_gdb()
    exe = build("zoo", go_version, flavour)
    line = _ready_line()
    frame_commands = [f'eval "goroutine %d frame {k} frame", $ginl' for k in range(_INLINED_FRAMES)]
    commands = [
        f"break zoo/main.go:{line}",
        "run wait",
        _FIND_GOROUTINES,
        'eval "go bt %d", $gpark',
        'eval "goroutine %d bt", $gpark',
        'eval "go bt %d", $gsys',
        'eval "goroutine %d bt", $gsys',
        'eval "go bt %d", $ginl',
        *frame_commands,
        "go goroutines",
        "goroutine all bt 1",
        'eval "goroutine %d", $gpark',  # stay
        "bt",
        "up",
        "goroutine off",
        "bt 1",
        'eval "goroutine %d", $gpark',  # stay, then run
        # While gdb steps over the Fprintf call, the scheduler may move main's goroutine
        # to another thread, and gdb would wait on the old one for ever: the other
        # threads stay stopped while stepping.
        "set scheduler-locking step",
        "next",
        "bt 1",
        "kill",
    ]
    result = run_gdb(commands, exe=exe, env=_fixture_env(), cwd=tmp_path)
    assert "Traceback" not in result.stdout + result.stderr, result.transcript()

    out = result.stdout_of

    assert "Breakpoint 1, main.main" in out("run wait"), result.transcript()
    _assert_same_frames(out('eval "go bt %d", $gpark'), out('eval "goroutine %d bt", $gpark'), 1)
    assert "[syscall]" in out('eval "go bt %d", $gsys')
    _assert_same_frames(out('eval "go bt %d", $gsys'), out('eval "goroutine %d bt", $gsys'), 1)
    inlined = _go_frames(out('eval "go bt %d", $ginl'))
    assert "(inlined)" in out('eval "go bt %d", $ginl')
    for number, command in enumerate(frame_commands[: len(inlined)]):
        shown = _gdb_frames(out(command))
        assert shown and shown[0][1] == inlined[number][1], f"go bt frame {number}: {inlined[number]}\n{out(command)}"
    # every goroutine, each with its innermost frame
    listed = re.search(r"^(\d+) goroutines$", out("go goroutines"), re.M)
    assert listed, out("go goroutines")
    every = out("goroutine all bt 1")
    assert len(re.findall(r"^goroutine \d+ \[", every, re.M)) == int(listed.group(1)), every
    assert len(_gdb_frames(every)) == int(listed.group(1)), every
    # the stay form: frame 0 is the thread's (main.main), hidden; the goroutine's frames follow
    stay = out('eval "goroutine %d", $gpark')
    assert re.match(r"#1\s+0x[0-9a-f]+ in runtime\.gopark", stay), stay
    _assert_same_frames(out('eval "go bt %d", $gpark'), out("bt"), 1)
    assert re.match(r"#2\s+0x[0-9a-f]+ in runtime\.chansend", out("up")), out("up")
    assert re.match(rf"#0\s+main\.main \(\) at .*main\.go:{line}\n", out("bt 1")), out("bt 1")
    # resuming drops the goroutine: 'next' steps main.main by one line
    assert re.search(rf"^{line + 1}\s", out("next"), re.M), out("next")
    assert re.match(rf"#0\s+main\.main \(\) at .*main\.go:{line + 1}\n", out("bt 1", 1)), out("bt 1", 1)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("noopt")
def test_goroutine_stay_and_frame_forms_live_on_syscall_parked_running_runnable(go_version, flavour, tmp_path):
    """The forms the breakpoint test above leaves out, live: 'goroutine ID' then
    bt/frame/up/frame N/info locals on a goroutine in a system call, one parked,
    one running and one runnable; 'goroutine ID frame K CMD' on the syscall and
    parked ones."""
    require_gdb()
    exe = build("zoo", go_version, flavour)
    find_locals = (
        "python from goext_gdb.commands import current_program as P; gs = P().goroutines(); "
        "gdb.set_convenience_variable('gloc', next((r.id for r in gs if any(x.function == 'main.holdLocals' "
        "for x in P().stack(r).frames)), -1))"
    )
    commands = [
        f"break zoo/main.go:{_ready_line()}",
        "run wait",
        _FIND_GOROUTINES,
        find_locals,
        'eval "go bt %d", $gsys',
        'eval "goroutine %d", $gsys',
        "bt",
        "frame",
        "up",
        "frame 4",
        "info locals",
        "goroutine off",
        'eval "goroutine %d frame 3 info args", $gsys',
        'eval "go bt %d", $gloc',
        'eval "goroutine %d frame 3 info locals", $gloc',
        'eval "goroutine %d", $gloc',
        "frame 4",
        "info locals",
        "goroutine off",
        'eval "go bt %d", $grun',
        'eval "goroutine %d", $grun',
        "bt",
        "up",
        "goroutine off",
        "bt 1",
        "kill",
    ]
    result = run_gdb(commands, exe=exe, env=_fixture_env(), cwd=tmp_path)
    assert "Traceback" not in result.stdout + result.stderr, result.transcript()
    out = result.stdout_of

    # In a system call: the stay form shows go bt's frames (gdb numbers them from 1).
    syscall_bt = out('eval "go bt %d", $gsys')
    assert "[syscall]" in syscall_bt, result.transcript()
    frames = _go_frames(syscall_bt)
    _assert_same_frames(syscall_bt, out("bt"), 1)
    assert _gdb_frames(out("frame")) == [(1, frames[0][1])], out("frame")
    assert _gdb_frames(out("up")) == [(2, frames[1][1])], out("up")
    assert _gdb_frames(out("frame 4")) == [(4, frames[3][1])] == [(4, "main.blockSyscallRead")], out("frame 4")
    assert re.search(r"^buf = \[\]uint8 len 16", out("info locals"), re.M), out("info locals")
    assert re.search(r"^fd = \d+$", out('eval "goroutine %d frame 3 info args", $gsys'), re.M), result.transcript()
    # Parked: 'goroutine ID frame K CMD' counts K as go bt does, and the stay form reads the same frame.
    parked = _go_frames(out('eval "go bt %d", $gloc'))
    holder = next(number for number, name in parked if name == "main.holdLocals")
    assert holder == 3, parked
    for text in (out('eval "goroutine %d frame 3 info locals", $gloc'), out("info locals", 1)):
        assert re.search(r"^localInt = 1234$", text, re.M) and 'localString = "local string"' in text, text
    assert _gdb_frames(out("frame 4", 1)) == [(4, "main.holdLocals")], out("frame 4", 1)
    # Running on another thread: shown on that thread, with go bt's own numbers.
    running = out('eval "go bt %d", $grun')
    assert "[running]" in running, running
    _assert_same_frames(running, out("bt", 1), 0)
    assert _gdb_frames(out("up", 1)) == [(1, _go_frames(running)[1][1])], out("up", 1)
    # 'goroutine off' leaves gdb on the thread it switched to, with that thread's own frames.
    assert _gdb_frames(out("bt 1")) == _go_frames(running)[:1], out("bt 1")

    # Runnable: with one P, main holds it at the breakpoint and the spinning busyLoop
    # goroutines wait for it (preempted asynchronously, their pc inside busyLoop/busyWork).
    find_runnable = (
        "python from goext_gdb.commands import current_program as P; gs = P().goroutines(); "
        "gdb.set_convenience_variable('grunnable', next((r.id for r in gs if not r.is_running and "
        "any(x.function == 'main.busyLoop' for x in P().stack(r).frames)), -1))"
    )
    commands = [
        f"break zoo/main.go:{_ready_line()}",
        "run wait",
        find_runnable,
        'eval "go bt %d", $grunnable',
        'eval "goroutine %d bt", $grunnable',
        'eval "goroutine %d", $grunnable',
        "bt",
        "goroutine off",
        "kill",
    ]
    result = run_gdb(commands, exe=exe, env={**_fixture_env(), "GOMAXPROCS": "1"}, cwd=tmp_path)
    assert "Traceback" not in result.stdout + result.stderr, result.transcript()
    runnable = result.stdouts[3]
    assert re.match(r"goroutine \d+ \[runnable\]", runnable), result.transcript()
    _assert_same_frames(runnable, result.stdouts[4], 1)
    _assert_same_frames(runnable, result.stdouts[6], 1)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_goroutine_commands_on_an_attached_process(go_version, flavour, tmp_path):
    """Attached: a goroutine running on another thread is shown on that thread
    with go bt's own numbers; the process runs on after gdb detaches."""
    require_gdb()
    exe = build("zoo", go_version, flavour)
    with running_fixture(exe, tmp_path) as process:
        commands = [
            _FIND_GOROUTINES,
            'eval "go bt %d", $grun',
            'eval "goroutine %d bt", $grun',
            'eval "goroutine %d frame 1 info frame", $grun',
            'eval "go bt %d", $gpark',
            'eval "goroutine %d frame 3 frame", $gpark',
            "goroutine all bt",
            "goroutine off",
            "thread",
        ]
        result = run_gdb(commands, pid=process.pid)
        assert process.poll() is None, "gdb left the process dead"
    out = dict(zip(commands, result.stdouts))
    assert "Traceback" not in result.stdout + result.stderr, result.transcript()
    running = out['eval "go bt %d", $grun']
    assert "[running]" in running, running
    _assert_same_frames(running, out['eval "goroutine %d bt", $grun'], 0)
    assert "Stack level 1" in out['eval "goroutine %d frame 1 info frame", $grun']
    parked = _go_frames(out['eval "go bt %d", $gpark'])
    shown = _gdb_frames(out['eval "goroutine %d frame 3 frame", $gpark'])
    assert shown == [(4, parked[3][1])], out['eval "goroutine %d frame 3 frame", $gpark']
    assert "goext:" not in out["goroutine all bt"], out["goroutine all bt"]
    assert out["goroutine all bt"].count("runtime.goexit") >= 30


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default", "noopt")  # gdb names no function of a stripped binary by itself yet
def test_goroutine_bt_on_a_core_shows_that_goroutines_frames(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    parked = artifact.parsed().by_id()
    goid = next(g.id for g in parked.values() if any(f.function == "main.blockChanSend" for f in g.frames))
    result = run_gdb(
        [f"goroutine {goid} bt", "bt 1", "goroutine 99999 bt", "info goroutines", "go bt 1", "goroutine 1 bt"],
        exe=artifact.exe,
        core=artifact.core,
    )
    goroutine_bt, thread_bt, unknown, info, _, _ = result.outputs
    go_bt_1, gdb_bt_1 = result.stdouts[4:]  # frame lines (a printer's complaint goes to stderr)
    functions = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) ", goroutine_bt, re.M)
    expected = [f.function for f in parked[goid].frames if not f.inlined]
    assert functions[: len(expected)] == expected, goroutine_bt
    assert "runtime.raise" not in goroutine_bt  # the thread's own frame 0 is hidden
    assert "blockChanSend" not in thread_bt  # and everything is back afterwards
    assert "no goroutine with id 99999" in unknown and "Traceback" not in unknown
    assert re.search(rf"^\s*{goid}\s+\[chan send\]", info, re.M), info
    # The crashing goroutine runs on the thread, through the signal handler (Go
    # 1.19's runtime.sigreturn stopped gdb there): go bt's frames and numbers.
    _assert_same_frames(go_bt_1, gdb_bt_1, 0)
    assert _go_frames(go_bt_1)[-1][1] == "runtime.goexit"


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_goroutine_frame_numbers_are_go_bts_across_signal_and_inlined_frames(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    offline = _offline(artifact.exe, artifact.core, "bt 1")
    frames = _go_frames(offline)
    crash = next(number for number, name in frames if name == "runtime.crash")  # inlined, after the signal frames
    wanted = [crash, crash + 1, crash + 3, len(frames) - 1]
    # Go's runtime-gdb.py, allowed to load, registers its own 'goroutine': goext's stays.
    result = run_gdb(
        [f"goroutine 1 frame {k} frame" for k in wanted],
        exe=artifact.exe,
        core=artifact.core,
        init_commands=["set auto-load safe-path /"],
    )
    assert "Loading Go Runtime support" in result.stdout + result.stderr, result.transcript()
    for number, text in zip(wanted, result.stdouts):
        assert _gdb_frames(text)[:1] == [(number, frames[number][1])], f"frame {number}:\n{text}\n{offline}"


@pytest.mark.e2e
@pytest.mark.go_versions("1.22", "1.27")  # Go 1.19 prints another thread's g0 than the one the kernel dumps
@pytest.mark.flavours("default", "stripped")
def test_bt_of_a_thread_without_goroutine_on_a_sigquit_core(go_version, flavour, tmp_path):
    """SIGQUIT with GOTRACEBACK=crash on an idle program: the signal thread runs
    no goroutine; 'go bt' shows its stack like the runtime's goroutine 0, the
    same offline, in gdb and in lldb.  gdb finds the executable from the core alone.
    Stripped, no goroutine has an M (all are parked): allm is found from the
    threads' own gs."""
    require_gdb()
    require_lldb()
    artifact = signal_core("simple", go_version, flavour)
    traceback = parse_traceback(artifact.traceback_text())
    zero = next(g for thread in traceback.threads for g in thread.goroutines if g.id == 0)
    offline = _offline(artifact.exe, artifact.core, "bt")
    assert offline.startswith("goroutine 0 ["), offline
    assert re.search(r"^\s+0\s+\d+\s.*\bm0\b", _offline(artifact.exe, artifact.core, "sched"), re.M)
    assert "runs no goroutine" in offline
    system = offline.split("---- system stack ----", 1)[1]
    assert [name for _, name in _go_frames(system)] == [f.function for f in zero.frames], (
        offline + "\n" + artifact.traceback_text()[:3000]
    )
    lldb = run_lldb(["go bt"], exe=artifact.exe, core=artifact.core)
    assert lldb.outputs[0].strip() == offline.strip(), lldb.transcript()
    gdb = run_gdb(["go bt", "bt 1"], core=artifact.core, cwd=tmp_path)  # no executable given
    loaded = re.search(r"^goext: loaded the core's executable (\S+) \(matched by build-id\)$", gdb.preamble, re.M)
    assert loaded and os.path.samefile(loaded.group(1), artifact.exe), gdb.transcript()
    assert gdb.outputs[0].strip() == offline.strip(), gdb.transcript()
    # gdb's own frame 0 (stripped: gdb prints the symbol-file name of runtime.raise as runtime[raise]).
    assert ("runtime.raise" if flavour == "default" else "runtime[raise]") in gdb.outputs[1], gdb.transcript()


def _offline(exe: os.PathLike, core: os.PathLike, arguments: str) -> str:
    program = GoProgram(CoreTarget(str(exe), str(core)))
    chunks: list[str] = []
    name, _, rest = arguments.partition(" ")
    assert dispatch(Context(lambda: program), name, rest, chunks.append), "".join(chunks)
    return "".join(chunks)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("noopt")
def test_goroutine_frame_locals_on_a_core(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    parked = artifact.parsed().by_id()
    goid, block = next((g.id, g) for g in parked.values() if any(f.function == "main.holdLocals" for f in g.frames))
    frame = [f.function for f in block.frames].index("main.holdLocals")
    result = run_gdb([f"goroutine {goid} frame {frame} info locals"], exe=artifact.exe, core=artifact.core)
    (locals_text,) = result.outputs
    assert re.search(r"^localInt = 1234$", locals_text, re.M), locals_text
