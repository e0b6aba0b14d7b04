"""The unwinder on synthesized stacks: stack barriers (Go 1.5-1.8, whose toolchains
are not available), loops, garbage and depth caps."""

from __future__ import annotations

from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.unwind import FUNC_FLAG_TOPFRAME, MAX_FRAMES, Frame, ParkedWalk, unwind_goroutine
from unit.fakes import FakeFunc, FakePclntab, FakeProgram, FakeTarget

STACK_LO, STACK_HI = 0x7000, 0x8000
FUNCS = [
    FakeFunc("main.leaf", 0x1000, 0x1100, 0x18),
    FakeFunc("main.mid", 0x1100, 0x1200, 0x28),
    FakeFunc("runtime.goexit", 0x1200, 0x1210, 0, FUNC_FLAG_TOPFRAME),
    FakeFunc("runtime.stackBarrier", 0x1300, 0x1310, 0),
]


def _program(go_minor: int = 8) -> tuple[FakeProgram, FakeTarget]:
    target = FakeTarget({STACK_LO: bytes(STACK_HI - STACK_LO)})
    return FakeProgram(target, FakePclntab(list(FUNCS)), go_minor), target


def _record(**changes: object) -> GoroutineRecord:
    record = GoroutineRecord(
        address=0x9000, id=7, status=4, stack_lo=STACK_LO, stack_hi=STACK_HI, sched_pc=0x1010, sched_sp=0x7800
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def _functions(stack) -> list[str]:
    return [frame.function for frame in stack.frames]


def test_plain_stack_reaches_goexit() -> None:
    program, target = _program()
    target.write_u64(0x7818, 0x1150)  # leaf returns into mid
    target.write_u64(0x7848, 0x1201)  # mid returns into goexit
    stack = unwind_goroutine(program, _record())
    assert _functions(stack) == ["main.leaf", "main.mid", "runtime.goexit"]
    assert stack.error is None
    assert [f.sp for f in stack.frames] == [0x7800, 0x7820, 0x7850]


def test_stack_barrier_is_replaced_by_saved_return_address() -> None:
    program, target = _program()
    target.write_u64(0x7818, 0x1300)  # the GC planted runtime.stackBarrier here
    target.write_u64(0x7848, 0x1201)
    stack = unwind_goroutine(program, _record(stack_barriers=[(0x7818, 0x1150)]))
    assert _functions(stack) == ["main.leaf", "main.mid", "runtime.goexit"]
    assert stack.error is None


def test_missed_stack_barrier_is_reported_not_raised() -> None:
    program, target = _program()
    target.write_u64(0x7818, 0x1300)
    stack = unwind_goroutine(program, _record(stack_barriers=[(0x7000, 0x1150)]))
    assert _functions(stack) == ["main.leaf"]
    assert "missed stack barrier" in (stack.error or "")


def test_garbage_pc_becomes_an_error() -> None:
    program, target = _program()
    target.write_u64(0x7818, 0xDEADBEEF)
    stack = unwind_goroutine(program, _record())
    assert _functions(stack) == ["main.leaf"]
    assert "not in Go code" in (stack.error or "")


def test_unreadable_stack_becomes_an_error() -> None:
    program, _ = _program()
    stack = unwind_goroutine(program, _record(sched_sp=0x100000))
    assert "unreadable" in (stack.error or "")


def test_corrupt_frame_size_stops_with_an_error() -> None:
    program, target = _program()
    program.pclntab = FakePclntab([FakeFunc("main.loop", 0x1000, 0x1100, -8)])
    stack = unwind_goroutine(program, _record())
    assert stack.error and "corrupt frame size" in stack.error
    assert len(stack.frames) == 0


def test_depth_is_capped() -> None:
    program, target = _program()
    # Each frame returns into main.mid one frame higher: an endless, non-repeating chain.
    program.pclntab = FakePclntab([FakeFunc("main.mid", 0x1100, 0x1200, 0)])
    big = FakeTarget({0x100000: bytes(8 * (MAX_FRAMES + 10))})
    for index in range(MAX_FRAMES + 5):
        big.write_u64(0x100000 + 8 * index, 0x1101 + (index % 7))
    program.target = big
    stack = unwind_goroutine(
        program,
        _record(stack_lo=0x100000, stack_hi=0x100000 + 8 * (MAX_FRAMES + 10), sched_sp=0x100000, sched_pc=0x1101),
    )
    assert len(stack.frames) == MAX_FRAMES
    assert "deeper" in (stack.error or "")


def test_a_frame_is_symbolized_at_its_pc_when_interrupted_or_at_its_entry():
    """The rule the unwinder symbolizes by, which gdb's frame decorations and
    the locals' DWARF lookup follow: before Go 1.21 the frame below
    asyncPreempt is not 'interrupted', yet it may stop at its first byte, where
    pc-1 lies in the function before."""
    assert Frame("main.f", "f.go", 3, 0x1000, 0, 0, 0x1000).symbolized_at_pc
    assert not Frame("main.f", "f.go", 4, 0x1005, 0, 0, 0x1000).symbolized_at_pc
    assert Frame("main.f", "f.go", 4, 0x1005, 0, 0, 0x1000, trap=True).symbolized_at_pc


# -- the goroutine list's short walk (ParkedWalk) ------------------------------------------
PARKED_FUNCS = [
    FakeFunc("runtime.gopark", 0x1400, 0x1500, 0x18),
    FakeFunc("runtime.bigframe", 0x1600, 0x1700, 0x900),  # its caller's return address lies past 2 KB
    FakeFunc("main.worker", 0x1100, 0x1200, 0x28),
    FakeFunc("runtime.goexit", 0x1200, 0x1210, 0, FUNC_FLAG_TOPFRAME),
]


def _library(function: str, file: str) -> bool:
    return function.startswith("runtime.")


def _parked(sched_pc: int = 0x1410) -> tuple[FakeProgram, FakeTarget, ParkedWalk]:
    target = FakeTarget({STACK_LO: bytes(STACK_HI - STACK_LO)})
    program = FakeProgram(target, FakePclntab(list(PARKED_FUNCS)), 22)
    return program, target, ParkedWalk(program, _library)  # type: ignore[arg-type]


def _unwinders_user_frame(program: FakeProgram, record: GoroutineRecord) -> Frame:
    def is_user(frame: Frame) -> bool:
        return not _library(frame.function, frame.file)

    stack = unwind_goroutine(program, record, stop=is_user)  # type: ignore[arg-type]
    return next(frame for frame in stack.frames if is_user(frame))


def test_parked_walk_finds_the_unwinders_user_frame() -> None:
    program, target, walk = _parked()
    target.write_u64(0x7818, 0x1150)  # gopark returns into main.worker
    target.write_u64(0x7848, 0x1201)
    record = _record(sched_pc=0x1410)
    found = walk.user_frame(record)
    assert found is not None and found.function == "main.worker" and found.sp == 0x7820
    assert found == _unwinders_user_frame(program, record)


def test_parked_walk_reads_past_its_first_window_when_a_frame_is_big() -> None:
    program, target, walk = _parked()
    target.write_u64(0x7000 + 0x900, 0x1150)  # bigframe's return address, 2.3 KB above sched.sp
    record = _record(sched_pc=0x1610, sched_sp=0x7000)
    found = walk.user_frame(record)
    assert found is not None and found == _unwinders_user_frame(program, record)


def test_parked_walk_leaves_what_it_cannot_answer_to_the_unwinder() -> None:
    program, target, walk = _parked()
    target.write_u64(0x7818, 0x1201)  # straight into goexit: no frame of the program's own code
    assert walk.user_frame(_record(sched_pc=0x1410)) is None
    target.write_u64(0x7818, 0xDEADBEEF)  # garbage return address
    assert walk.user_frame(_record(sched_pc=0x1410)) is None
    target.write_u64(0x7818, 0)
    assert walk.user_frame(_record(sched_pc=0x1410)) is None
    target.write_u64(0x7818, 0x1150)
    assert walk.user_frame(_record(sched_pc=0x1410, sched_sp=STACK_HI + 0x100)) is None  # sp off its stack
    assert walk.user_frame(_record(sched_pc=0x1410, m=0x5000)) is None  # on a thread: the unwinder's case
    assert walk.user_frame(_record(sched_pc=0x1410, syscall_sp=0x7800)) is None
    assert walk.user_frame(_record(sched_pc=0x1410, error="unreadable")) is None
    assert walk.user_frame(_record(sched_pc=0x1410)) is not None
