"""The traceback oracle: unit tests on hand-written text, then real crashes."""

from __future__ import annotations

import re
import textwrap

import pytest

from support.cores import is_elf_core, kernel_core
from support.oracle import (
    GoroutineTrace,
    merge_goroutine,
    parse_header,
    parse_labels,
    parse_traceback,
)


def _text(block: str) -> str:
    return textwrap.dedent(block).lstrip("\n")


# ---------------------------------------------------------------------------
# Headers


@pytest.mark.unit
def test_old_header() -> None:
    header = parse_header("goroutine 18 [chan send]:")
    assert header is not None
    assert (header.id, header.state, header.gp, header.m, header.mp) == (18, "chan send", None, None, None)
    assert header.wait_minutes == 0 and not header.locked_to_thread


@pytest.mark.unit
def test_new_header_with_m() -> None:
    header = parse_header("goroutine 1 gp=0x1f280729a1e0 m=6 mp=0x1f2807380808 [running]:")
    assert header is not None
    assert header.id == 1 and header.state == "running"
    assert header.gp == 0x1F280729A1E0 and header.m == 6 and header.mp == 0x1F2807380808


@pytest.mark.unit
def test_new_header_m_nil_minutes_locked() -> None:
    header = parse_header("goroutine 32 gp=0xc000102000 m=nil [chan receive, 5 minutes, locked to thread]:")
    assert header is not None
    assert header.m is None and header.mp is None
    assert header.state == "chan receive"
    assert header.wait_minutes == 5 and header.locked_to_thread


@pytest.mark.unit
def test_header_keeps_other_state_text() -> None:
    header = parse_header("goroutine 9 [chan receive (nil chan), 12 minutes]:")
    assert header is not None
    assert header.state == "chan receive (nil chan)" and header.wait_minutes == 12
    bubble = parse_header("goroutine 4 [sleep (durable), synctest bubble 2]:")
    assert bubble is not None and bubble.state == "sleep (durable)" and bubble.synctest_bubble == 2


@pytest.mark.unit
def test_header_labels() -> None:
    header = parse_header('goroutine 41 gp=0x1 m=nil [chan receive] {kind: pprof, "odd key": "a, b: \\"c\\""}:')
    assert header is not None
    assert header.state == "chan receive"
    assert header.labels == {"kind": "pprof", "odd key": 'a, b: "c"'}
    assert parse_labels("zoo: labelled") == {"zoo": "labelled"}


@pytest.mark.unit
def test_not_a_header() -> None:
    assert parse_header("goroutine running on other thread; stack unavailable") is None
    assert parse_header("\tgoroutine 3 [x]:") is None


# ---------------------------------------------------------------------------
# Whole texts

OLD_PANIC = _text(
    """
    panic: boom
    \tpanic: second [recovered]

    goroutine 1 [running]:
    main.f(0x1, {0x4b1c2a?, 0xc000012345?})
    \t/src/main.go:10 +0x1d fp=0xc000107f40 sp=0xc000107f10 pc=0x48f1bd
    main.inlinedHelper(...)
    \t/src/main.go:5
    main.main()
    \t/src/main.go:20 +0x25 fp=0xc000107f80 sp=0xc000107f40 pc=0x48f225
    runtime.main()
    \t/usr/lib/go/src/runtime/proc.go:250 +0x212 fp=0xc000107fe0 sp=0xc000107f80 pc=0x4361d2

    goroutine 6 [chan receive, 3 minutes]:
    runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
    \t/usr/lib/go/src/runtime/proc.go:363 +0xd6 fp=0xc00003a6e8 sp=0xc00003a6c8 pc=0x436596
    main.recurse(0x0)
    \t/src/main.go:30 +0x45
    ...additional frames elided...
    created by main.start
    \t/src/main.go:40 +0x76

    goroutine 7 [running]:
    \tgoroutine running on other thread; stack unavailable
    created by main.start
    \t/src/main.go:41 +0x99
    exit status 2
    """
)


@pytest.mark.unit
def test_old_style_panic() -> None:
    tb = parse_traceback(OLD_PANIC)
    assert tb.message == "panic: boom\n\tpanic: second [recovered]"
    assert [g.id for g in tb.goroutines] == [1, 6, 7]
    main = tb.goroutine(1)
    assert main.functions == ["main.f", "main.inlinedHelper", "main.main", "runtime.main"]
    first = main.frames[0]
    assert first.args_text == "0x1, {0x4b1c2a?, 0xc000012345?}"
    assert (first.file, first.line, first.offset) == ("/src/main.go", 10, 0x1D)
    assert (first.fp, first.sp, first.pc) == (0xC000107F40, 0xC000107F10, 0x48F1BD)
    assert not first.inlined
    inlined = main.frames[1]
    assert inlined.inlined and inlined.args_text == "..." and inlined.pc is None and inlined.line == 5
    assert main.created_by is None

    waiter = tb.goroutine(6)
    assert waiter.wait_minutes == 3 and waiter.elided_unknown and waiter.elided == 0 and waiter.elided_at == 2
    assert waiter.frames[1].offset == 0x45 and waiter.frames[1].pc is None  # GOTRACEBACK<2 shape
    assert waiter.created_by is not None
    assert (waiter.created_by.function, waiter.created_by.goroutine) == ("main.start", None)
    assert (waiter.created_by.file, waiter.created_by.line, waiter.created_by.offset) == ("/src/main.go", 40, 0x76)

    other = tb.goroutine(7)
    assert other.stack_unavailable and other.frames == []
    assert other.created_by is not None and other.created_by.line == 41
    assert tb.unparsed == [(len(OLD_PANIC.splitlines()), "exit status 2")]


NEW_SEGV = _text(
    """
    panic: runtime error: invalid memory address or nil pointer dereference
    [signal SIGSEGV: segmentation violation code=0x1 addr=0x10 pc=0x4f4b00]

    goroutine 51 gp=0x27e74ae1a780 m=6 mp=0x27e74ad7a008 [running]:
    panic({0x616ef0?, 0x639200?})
    \t/go/src/runtime/panic.go:878 +0x159 fp=0x27e74ad75d78 sp=0x27e74ad75cd0 pc=0x480719
    runtime.panicmem(...)
    \t/go/src/runtime/panic.go:262
    runtime.sigpanic()
    \t/go/src/runtime/signal_unix.go:925 +0x359 fp=0x27e74ad75dd0 sp=0x27e74ad75d78 pc=0x4821f9
    main.segvDeref(0x0)
    \t/src/zoo/main.go:676 fp=0x27e74ad75de0 sp=0x27e74ad75dd0 pc=0x4f4b00
    runtime.goexit({})
    \t/go/src/runtime/asm_amd64.s:1264 +0x1 fp=0x27e74ad75fe8 sp=0x27e74ad75fe0 pc=0x486c81
    created by main.main in goroutine 1
    \t/src/zoo/main.go:806 +0x1ac

    goroutine 22 gp=0x27e74ae0c5a0 m=nil [chan receive]:
    runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
    \t/go/src/runtime/proc.go:474 +0xca fp=0x1 sp=0x2 pc=0x3
    main.recurse(0x0, 0x0)
    \t/src/zoo/main.go:574 +0x45 fp=0x4 sp=0x5 pc=0x6
    ...36 frames elided...
    main.recurse(0x7f, 0x0)
    \t/src/zoo/main.go:576 +0x25 fp=0x7 sp=0x8 pc=0x9
    created by main.startWaiters in goroutine 1
    \t/src/zoo/main.go:730 +0x3bf
    """
)


@pytest.mark.unit
def test_new_style_segv() -> None:
    tb = parse_traceback(NEW_SEGV)
    assert tb.message == "panic: runtime error: invalid memory address or nil pointer dereference"
    assert tb.signal is not None
    assert tb.signal.name == "SIGSEGV: segmentation violation"
    assert (tb.signal.code, tb.signal.addr, tb.signal.pc) == (1, 0x10, 0x4F4B00)
    crashing = tb.goroutine(51)
    assert crashing.m == 6 and crashing.gp == 0x27E74AE1A780
    assert crashing.functions[0] == "panic"
    assert crashing.frames[1].inlined  # runtime.panicmem(...)
    entry = crashing.frames[3]  # a real frame stopped at the function entry: no +0x
    assert entry.function == "main.segvDeref" and entry.offset is None and entry.pc == 0x4F4B00
    assert not entry.inlined
    assert crashing.frames[4].args_text == "{}"
    assert crashing.created_by is not None
    assert (crashing.created_by.function, crashing.created_by.goroutine) == ("main.main", 1)
    deep = tb.goroutine(22)
    assert deep.elided == 36 and deep.elided_at == 2 and not deep.elided_unknown
    assert deep.functions == ["runtime.gopark", "main.recurse", "main.recurse"]
    assert tb.unparsed == []


FATAL = _text(
    """
    fatal error: all goroutines are asleep - deadlock!

    runtime stack:
    runtime.fatal({0x4feefd, 0x25})
    \t/go/src/runtime/panic.go:1267 +0x74 fp=0x7ffddbde4558 sp=0x7ffddbde4518 pc=0x448054
    runtime.checkdead.func1()
    \t/go/src/runtime/proc.go:6328 +0x2b fp=0x7ffddbde4580 sp=0x7ffddbde4558 pc=0x45750b

    goroutine 1 [chan receive]:
    main.main()
    \t/src/main.go:3 +0x1
    """
)


@pytest.mark.unit
def test_fatal_error_runtime_stack() -> None:
    tb = parse_traceback(FATAL)
    assert tb.message == "fatal error: all goroutines are asleep - deadlock!"
    assert [f.function for f in tb.runtime_stack] == ["runtime.fatal", "runtime.checkdead.func1"]
    assert tb.runtime_stack[0].pc == 0x448054
    assert [g.id for g in tb.goroutines] == [1]
    assert tb.goroutines[0].functions == ["main.main"]


SIGQUIT = _text(
    """
    SIGQUIT: quit
    PC=0x4f44df m=0 sigcode=0

    goroutine 37 gp=0xc0001 m=0 mp=0x6414e0 [running]:
    main.busyWork(0x6605f0?)
    \t/src/main.go:552 +0x1f fp=0x1 sp=0x2 pc=0x4f44df
    created by main.start in goroutine 1
    \t/src/main.go:792 +0x407

    goroutine 1 gp=0xc0002 m=nil [chan receive]:
    main.main()
    \t/src/main.go:800 +0x10 fp=0x3 sp=0x4 pc=0x5

    goroutine 35 gp=0xc0003 m=2 mp=0xc0009 [syscall]:
    syscall.Syscall(0x0, 0x5, 0xc000, 0x10)
    \t/go/src/syscall/syscall_linux.go:74 +0x25 fp=0x6 sp=0x7 pc=0x8
    created by main.start in goroutine 1
    \t/src/main.go:778 +0x13f

    rax    0x660600
    rip    0x4f44df
    rflags 0x206

    -----

    SIGQUIT: quit
    PC=0x4887c3 m=1 sigcode=0

    goroutine 0 gp=0xc0004 m=1 mp=0xc0005 [idle]:
    runtime.futex(0x641d40, 0x80, 0x0, 0x2288bf5c9ea0, 0x0, 0x0)
    \t/go/src/runtime/sys_linux_amd64.s:576 +0x23 fp=0x9 sp=0xa pc=0x4887c3
    runtime.mstart()
    \t/go/src/runtime/asm_amd64.s:393 +0xa fp=0xb sp=0xc pc=0xd

    rax    0xfffffffffffffffc
    rip    0x4887c3

    -----

    SIGQUIT: quit
    PC=0x40e2ec m=2 sigcode=-6 addr=0x0

    goroutine 35 gp=0xc0003 m=2 mp=0xc0009 [syscall]:
    syscall.Syscall(0x0, 0x5, 0xc000, 0x10)
    \t/go/src/syscall/syscall_linux.go:74 +0x25 fp=0x6 sp=0x7 pc=0x8
    main.blockSyscallRead(0x5)
    \t/src/main.go:529 +0x47 fp=0x16 sp=0x17 pc=0x18
    created by main.start in goroutine 1
    \t/src/main.go:778 +0x13f

    rax    0x0
    """
)


@pytest.mark.unit
def test_signal_thread_sections() -> None:
    tb = parse_traceback(SIGQUIT)
    assert tb.message == "SIGQUIT: quit"
    assert [t.m for t in tb.threads] == [0, 1, 2]
    first, idle, syscall = tb.threads
    assert first.signal == "SIGQUIT: quit" and first.pc == 0x4F44DF and first.sigcode == 0
    assert [g.id for g in first.goroutines] == [37]  # not the tracebackothers blocks
    assert first.registers == {"rax": 0x660600, "rip": 0x4F44DF, "rflags": 0x206}
    assert [g.id for g in idle.goroutines] == [0] and idle.goroutines[0].state == "idle"
    assert idle.goroutines[0].functions == ["runtime.futex", "runtime.mstart"]
    assert syscall.sigcode == -6 and syscall.addr == 0 and syscall.fields["sigcode"] == "-6"
    # goroutine 0 is grouped under its thread, not listed as a goroutine
    assert [g.id for g in tb.goroutines] == [37, 1, 35, 35]
    assert len(tb.all_blocks()) == 5
    assert tb.goroutines[3].thread_m == 2
    merged = tb.by_id()[35]
    assert merged.functions == ["syscall.Syscall"]  # both had frames: first printing wins
    assert tb.unparsed == []


@pytest.mark.unit
def test_merge_prefers_the_block_with_frames() -> None:
    tb = parse_traceback(
        "goroutine 20 [running]:\n\tgoroutine running on other thread; stack unavailable\n"
        "created by main.start in goroutine 1\n\t/src/main.go:9 +0x1\n\n"
        "goroutine 20 gp=0xc000 m=3 mp=0xc100 [running]:\nmain.spin()\n\t/src/main.go:3 +0x5\n"
    )
    merged = tb.by_id()[20]
    assert merged.functions == ["main.spin"] and not merged.stack_unavailable
    assert merged.m == 3 and merged.created_by is not None and merged.created_by.line == 9
    with pytest.raises(ValueError):
        merge_goroutine(GoroutineTrace(id=1, state="x", raw_header=""), GoroutineTrace(id=2, state="x", raw_header=""))


@pytest.mark.unit
def test_garbage_is_kept_not_fatal() -> None:
    tb = parse_traceback("hello\n\ngoroutine 3 [sleep]:\n!!! what\nmain.f()\n\t/a.go:1 +0x2\n\tweird tab line\n")
    assert tb.message == "hello"
    assert tb.goroutine(3).functions == ["main.f"]
    assert [text for _, text in tb.unparsed] == ["!!! what", "\tweird tab line"]
    assert parse_traceback("").goroutines == []


# ---------------------------------------------------------------------------
# Real crashes


def _at_least(version: str, floor: str) -> bool:
    return tuple(map(int, version.split("."))) >= tuple(map(int, floor.split(".")))


HEADER_LINE = re.compile(r"(?m)^goroutine \d+")


@pytest.mark.go_versions("1.19", "1.22", "1.24", "1.27")
def test_zoo_panic_traceback(go_version: str) -> None:
    artifact = kernel_core("zoo", go_version, "default", mode="panic")
    assert artifact.core.is_file() and is_elf_core(artifact.core)
    assert artifact.exit_signal == 6  # SIGABRT from GOTRACEBACK=crash
    text = artifact.traceback_text()
    tb = artifact.parsed()

    assert tb.message.startswith("panic: goext-zoo: deliberate panic")
    assert len(tb.all_blocks()) == len(HEADER_LINE.findall(text))
    assert 30 <= len(tb.goroutine_ids()) <= 60
    for block in tb.all_blocks():
        assert block.frames or block.stack_unavailable, block.raw_header
        for frame in block.frames:
            assert frame.file is not None and frame.line is not None, (block.id, frame.function)

    main = tb.goroutine(1)
    assert "main.main" in main.functions
    assert main.functions[:2] == ["panic", "main.panicNested"]
    for goroutine in tb.goroutines:
        if goroutine.id != 1:
            assert goroutine.created_by is not None, goroutine.raw_header
            assert goroutine.created_by.file is not None
    assert any(frame.inlined for g in tb.goroutines for frame in g.frames)

    states = {g.state for g in tb.goroutines}
    expected = {
        "chan send",
        "chan receive",
        "select",
        "select (no cases)",
        "sync.Cond.Wait",
        "sleep",
        "syscall",
        "IO wait",
    }
    assert expected <= states
    if go_version == "1.19":
        assert "semacquire" in states
    else:
        assert {"sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock"} <= states
    assert any(g.locked_to_thread for g in tb.goroutines)

    inlined_root = next(g for g in tb.goroutines if "main.inlinedRoot" in g.functions)
    by_name = {f.function: f for f in inlined_root.frames}
    assert by_name["main.inlinedLeaf"].inlined and by_name["main.inlinedMiddle"].inlined
    assert not by_name["main.inlinedRoot"].inlined

    generic = [g for g in tb.goroutines if "main.genericWait[...]" in g.functions]
    assert len(generic) == 3
    deep = [g for g in tb.goroutines if g.functions.count("main.recurse") > 90]
    assert len(deep) == 1 and (deep[0].elided > 0 or deep[0].elided_unknown)
    chained = [g for g in tb.goroutines if g.created_by and g.created_by.function == "main.chainLevel"]
    assert len(chained) == 2
    if go_version != "1.19":  # "created by ... in goroutine N" appeared in Go 1.21
        assert all(g.created_by.goroutine for g in chained)  # type: ignore[union-attr]
        assert {g.created_by.goroutine for g in chained} & {g.id for g in chained}  # type: ignore[union-attr]
    if _at_least(go_version, "1.27"):  # labels in tracebacks: GODEBUG tracebacklabels, on by default from 1.27
        assert any(g.labels == {"kind": "pprof", "zoo": "labelled"} for g in tb.goroutines)
    assert tb.unparsed == []


@pytest.mark.go_versions("1.19", "1.27")
def test_zoo_segv_traceback(go_version: str) -> None:
    artifact = kernel_core("zoo", go_version, "default", mode="segv")
    tb = artifact.parsed()
    assert "nil pointer dereference" in tb.message
    assert tb.signal is not None and tb.signal.name.startswith("SIGSEGV") and tb.signal.addr == 0x10
    crashing = next(g for g in tb.goroutines if g.state == "running")
    assert crashing.id != 1
    assert "main.segvDeref" in crashing.functions and "runtime.sigpanic" in crashing.functions
    assert is_elf_core(artifact.core)


@pytest.mark.go_versions("1.19", "1.27")
def test_zoo_deadlock_traceback(go_version: str) -> None:
    artifact = kernel_core("zoo", go_version, "default", mode="deadlock")
    tb = artifact.parsed()
    assert tb.message == "fatal error: all goroutines are asleep - deadlock!"
    assert tb.runtime_stack and tb.runtime_stack[0].function in ("runtime.fatal", "runtime.throw")
    states = {g.state for g in tb.goroutines}
    assert "sleep" not in states and "IO wait" not in states and "syscall" not in states
    assert tb.goroutine(1).state == "chan receive"
    assert is_elf_core(artifact.core)
