"""Show any goroutine's frames to gdb's own ``bt``, ``frame``, ``info locals``.

gdb cannot set registers on a core, so Go's runtime-gdb.py cannot backtrace a
parked goroutine there (golang/go#17575), and on a live process writing a
thread's registers would leave it redirected.  Instead a Python unwinder gives
gdb the goroutine's frames exactly as goext's unwinder found them (``go bt``):
each physical frame's caller pc and sp, across system-stack and signal-stack
switches, so gdb's own symbols, inlined frames, arguments and locals work in
every frame.  Only the unwinder's view changes: no register or memory of the
process is written, and the view is dropped when the program resumes.

A goroutine that runs on a thread is shown on that thread, whose frame 0 is
then the goroutine's frame 0.  Any other goroutine is shown on the selected
thread: its frame 0 stays the thread's own (gdb reads frame 0 from the
registers), a frame filter hides it from backtraces, and the goroutine's frames
are gdb frames 1, 2, ….  ``goroutine ID frame N CMD`` counts N like ``go bt``.

Commands: ``goroutine ID`` (stay on that goroutine until ``goroutine off`` or
the program runs), ``goroutine ID CMD`` / ``goroutine all CMD`` (run CMD
there, then come back), ``goroutine ID frame N CMD`` (CMD in the goroutine's
frame N, counted from 0 like ``go bt``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import gdb  # type: ignore[import-not-found]
from gdb.FrameDecorator import FrameDecorator  # type: ignore[import-not-found]
from gdb.unwinder import Unwinder, register_unwinder  # type: ignore[import-not-found]

from goext_core.errors import GoextError, UsageError
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.stacks import printed_name
from goext_core.runtime.unwind import Frame

from .commands import current_program
from .corefile import load_executable_for_core
from .target import GdbTarget, quiet_core_registers

# Frame ids of frames gdb must see as younger than an older frame on a lower
# stack (a system or signal stack above the goroutine's): below the lowest page
# Linux maps (vm.mmap_min_addr is at least 4096), so a DWARF location computed
# from such a frame base reads unmapped memory and says so, never a wrong value.
_FAKE_ID_BASE = 0x100
_FAKE_ID_STEP = 0x8
_FAKE_ID_LIMIT = 0x1000
# The id of the hidden thread frame 0 when a goroutine is shown on a thread:
# a stack address below every real frame keeps gdb's "inner frame" check happy.
_HIDDEN_FRAME_ID = 1
# Physical frames gdb may show before the goroutine's (the thread's frame 0 and
# its inlined callees) and after it, walked when mapping a 'go bt' frame number.
_MAX_EXTRA_GDB_FRAMES = 64

COMMAND_NAME = "goroutine"
_REGISTER_NAMES = {"amd64": ("rip", "rsp"), "arm64": ("pc", "sp")}

# Commands that resume a thread or write its registers from the selected
# frame.  Inside 'goroutine ID CMD' they would act on the goroutine's frames
# as if they were the thread's, so they are refused there; after 'goroutine
# ID' a pre-hook drops the goroutine first (gdb takes the frame a step starts
# from before the program resumes, too early for the 'cont' event).
_RESUMING_COMMANDS = (
    "next",
    "step",
    "nexti",
    "stepi",
    "until",
    "advance",
    "finish",
    "continue",
    "jump",
    "signal",
    "queue-signal",
    "return",
    "run",
    "start",
    "starti",
    "kill",
    "detach",
)
_HOOK_BODY = "python __import__('goext_gdb.goroutine_frames').goroutine_frames.before_resume()"


@dataclass
class _Physical:
    pc: int
    sp: int
    frame_id: int  # stack address of gdb's frame id: the CFA, or a fake one (see _frame_ids)
    entry: int
    logical: list[Frame] = field(default_factory=list)  # go bt frames here, innermost (inlined) first
    first_index: int = 0  # go bt number of logical[0]


@dataclass
class _Selection:
    goroutine: int
    physical: list[_Physical]
    by_pc_sp: dict[tuple[int, int], int]
    thread_ptid: tuple[int, int, int]  # the thread whose frames show the goroutine
    hidden: Optional[tuple[int, int]]  # (pc, sp) of that thread's own innermost physical frame, hidden
    pc_name: str
    sp_name: str


_selection: Optional[_Selection] = None
_saved_past_main: Optional[bool] = None  # the user's 'backtrace past-main', while we hold it on


class _FrameId:
    """gdb wants an object with gdb.Value ``sp`` and ``pc`` attributes."""

    def __init__(self, sp: int, pc: int) -> None:
        self.sp = gdb.Value(sp)
        self.pc = gdb.Value(pc)


def _on_selected_thread(selection: _Selection) -> bool:
    thread = gdb.selected_thread()  # while unwinding: the thread being unwound
    return thread is not None and thread.ptid == selection.thread_ptid


class GoroutineUnwinder(Unwinder):
    def __init__(self) -> None:
        super().__init__("goext-goroutine")

    def __call__(self, pending: Any) -> Any:
        selection = _selection
        if selection is None or not _on_selected_thread(selection):
            return None
        pc_value = pending.read_register(selection.pc_name)
        sp_value = pending.read_register(selection.sp_name)
        pc, sp = int(pc_value), int(sp_value)
        index = selection.by_pc_sp.get((pc, sp))
        if index is not None:
            if index + 1 >= len(selection.physical):
                return None  # the goroutine's outermost frame: the frame filter ends there
            this = selection.physical[index]
            caller = selection.physical[index + 1]
            info = pending.create_unwind_info(_FrameId(this.frame_id, this.entry))
        elif selection.hidden is not None and ((pc, sp) == selection.hidden or _level(pending) == 0):
            caller = selection.physical[0]
            info = pending.create_unwind_info(_FrameId(_HIDDEN_FRAME_ID, pc))
        else:
            return None
        info.add_saved_register(selection.pc_name, gdb.Value(caller.pc).cast(pc_value.type))
        info.add_saved_register(selection.sp_name, gdb.Value(caller.sp).cast(sp_value.type))
        return info


def _level(pending: Any) -> Optional[int]:
    try:
        return int(pending.level())
    except AttributeError:  # gdb < 12
        return None


def _frame_key(frame: Any, selection: _Selection) -> Optional[tuple[int, int]]:
    try:
        return int(frame.pc()), int(frame.read_register(selection.sp_name))
    except (gdb.error, ValueError):
        return None


class GoroutineFrameFilter:
    """Backtraces of the selected goroutine's thread show the goroutine's
    frames only: not the hidden thread frames before them, nor what gdb finds
    past the goroutine's outermost frame."""

    name = "goext-goroutine"
    priority = 100
    enabled = True

    def filter(self, frames: Iterator[Any]) -> Iterator[Any]:
        selection = _selection
        if selection is None or not _on_selected_thread(selection):
            return frames
        return self._goroutine_only(frames, selection)

    @staticmethod
    def _goroutine_only(frames: Iterator[Any], selection: _Selection) -> Iterator[Any]:
        first = (selection.physical[0].pc, selection.physical[0].sp)
        last = (selection.physical[-1].pc, selection.physical[-1].sp)
        started = False
        group: list[Any] = []  # gdb's frames of one physical frame: inlined ones, then the real one
        for decorator in frames:
            frame = decorator.inferior_frame()
            key = _frame_key(frame, selection)
            if not started:
                if key != first:
                    continue
                started = True
            group.append(decorator)
            if frame.type() == gdb.INLINE_FRAME:
                continue
            yield from _with_trap_locations(group, selection.by_pc_sp.get(key) if key else None, selection)
            group = []
            if key == last:
                return
        yield from group


def _with_trap_locations(group: list[Any], index: Optional[int], selection: _Selection) -> list[Any]:
    """Decorate the gdb frames of one physical frame where gdb alone would be
    wrong: gdb symbolizes a caller's pc at pc-1 (a return address), but a frame
    that was interrupted (signal, preemption, fault), or whose pc is its
    function's entry (before Go 1.21 the frame below asyncPreempt is not
    counted as interrupted, yet may stop there), is at its pc, as 'go bt' and
    the runtime show it; and a frame with a stand-in id (see _frame_ids)
    has no frame base, so its arguments cannot be read."""
    if index is None:
        return group
    physical = selection.physical[index]
    at_pc = physical.logical[0].symbolized_at_pc and len(group) == len(physical.logical)
    no_base = physical.frame_id < _FAKE_ID_LIMIT + _FAKE_ID_STEP
    if not at_pc and not no_base:
        return group
    return [
        _GoFrame(decorator, frame if at_pc else None, no_base)
        for decorator, frame in zip(group, physical.logical if at_pc else [None] * len(group))
    ]


class _GoFrame(FrameDecorator):  # type: ignore[misc]
    """A gdb frame shown with goext's function, file and line, and without
    arguments when gdb cannot know where they are ('go locals' reads them)."""

    def __init__(self, base: Any, frame: Optional[Frame], no_base: bool) -> None:
        super().__init__(base)
        self._frame = frame
        self._no_base = no_base

    def function(self) -> Any:
        if self._frame is not None and self._frame.function and self._frame.file != "?":
            return self._frame.function
        return super().function()

    def filename(self) -> Any:
        if self._frame is not None and self._frame.file != "?":
            return self._frame.file
        return super().filename()

    def line(self) -> Any:
        if self._frame is not None and self._frame.line:
            return self._frame.line
        return super().line()

    def frame_args(self) -> Any:
        # Read through a stand-in frame base, they would be garbage or errors.
        return None if self._no_base else super().frame_args()

    def frame_locals(self) -> Any:
        return None if self._no_base else super().frame_locals()


def _frame_ids(physical: list[_Physical], cfas: list[int]) -> None:
    """gdb ends a backtrace at a frame whose id lies below its callee's (an
    older frame must not be "inner"), which a stack switch can look like: keep
    each frame's CFA as its id (DWARF frame bases and locals depend on it)
    where the order allows, else give it a fake id from a never-mapped page."""
    for index in range(len(physical) - 1, -1, -1):
        older = physical[index + 1].frame_id if index + 1 < len(physical) else None
        if older is None or cfas[index] <= older:
            physical[index].frame_id = cfas[index]
        else:
            physical[index].frame_id = min(_FAKE_ID_BASE + _FAKE_ID_STEP * index, _FAKE_ID_LIMIT)


def _physical_frames(record: GoroutineRecord) -> list[_Physical]:
    stack = current_program().stack(record)
    out: list[_Physical] = []
    cfas: list[int] = []
    for number, frame in enumerate(stack.frames):
        if out and (out[-1].pc, out[-1].sp) == (frame.pc, frame.sp):
            out[-1].logical.append(frame)
            continue
        out.append(_Physical(frame.pc, frame.sp, 0, frame.entry, [frame], number))
        cfas.append(frame.fp)
    _frame_ids(out, cfas)
    return out


def _register_names() -> tuple[str, str]:
    arch = current_program().target.arch
    names = _REGISTER_NAMES.get(arch)
    if names is None:
        raise GoextError(f"goroutine frames in gdb are not supported on {arch}")
    return names


def _thread_of(record: GoroutineRecord) -> Optional[Any]:
    """The gdb thread running this goroutine, if it runs on one."""
    program = current_program()
    machine = program.machine_of(record)
    if machine is None or not machine.procid or not record.is_running:
        return None
    for thread in gdb.selected_inferior().threads():
        if thread.is_valid() and machine.procid in thread.ptid[1:]:
            return thread
    return None


def _innermost_physical(sp_name: str) -> Optional[tuple[int, int]]:
    """(pc, sp) of the selected thread's innermost frame that is not an inlined one."""
    try:
        frame = gdb.newest_frame()
        while frame is not None and frame.type() == gdb.INLINE_FRAME:
            frame = frame.older()
        if frame is None:
            return None
        return int(frame.pc()), int(frame.read_register(sp_name))
    except gdb.error:
        return None


def _select(record: Optional[GoroutineRecord]) -> None:
    """Show ``record`` on the selected thread (None: show threads as they are)."""
    global _selection
    _selection = None
    gdb.invalidate_cached_frames()
    if record is None:
        _hold_past_main(False)
        return
    physical = _physical_frames(record)
    if not physical:
        raise GoextError(f"goroutine {record.id} has no frames to show")
    thread = gdb.selected_thread()
    if thread is None:
        raise GoextError("no thread to show the goroutine on")
    pc_name, sp_name = _register_names()
    innermost = _innermost_physical(sp_name)
    first = (physical[0].pc, physical[0].sp)
    hidden = None if innermost == first else (innermost or (0, 0))
    by_pc_sp: dict[tuple[int, int], int] = {}
    for index, frame in enumerate(physical):
        by_pc_sp.setdefault((frame.pc, frame.sp), index)
    # gdb does not unwind past main (main.main for Go) by default: the hidden
    # thread frame or a goroutine's frames may be there.
    _hold_past_main(True)
    _selection = _Selection(record.id, physical, by_pc_sp, thread.ptid, hidden, pc_name, sp_name)
    gdb.invalidate_cached_frames()


def _hold_past_main(hold: bool) -> None:
    global _saved_past_main
    if hold and _saved_past_main is None:
        _saved_past_main = bool(gdb.parameter("backtrace past-main"))
        if not _saved_past_main:
            gdb.execute("set backtrace past-main on", to_string=True)
    elif not hold and _saved_past_main is not None:
        if not _saved_past_main:
            gdb.execute("set backtrace past-main off", to_string=True)
        _saved_past_main = None


def _on_resume(_event: Any) -> None:
    if _selection is not None:
        _select(None)


def before_resume() -> None:
    """Run by goext's pre-hooks of the resuming commands: show the threads'
    own frames again before gdb takes the frame a step starts from."""
    if _selection is not None:
        _select(None)


_hooks_installed = False


def _install_resume_hooks() -> None:
    """Pre-hooks (``define hook-next`` …) that drop the goroutine, for each
    resuming command that has no hook of the user's."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    for name in _RESUMING_COMMANDS:
        try:
            existing = gdb.execute(f"show user hook-{name}", to_string=True)
        except gdb.error:
            existing = ""  # no such user command yet
        if existing and _HOOK_BODY not in existing:
            continue  # the user's own hook stays; 'goroutine off' before that command is up to them
        try:
            gdb.execute(f"define hook-{name}\n{_HOOK_BODY}\nend", to_string=True)
        except gdb.error:
            continue


def _resumes(command: str) -> bool:
    """Whether ``command`` is (an unambiguous prefix of) a resuming command."""
    word = command.split(None, 1)[0] if command.split() else ""
    if word in ("c", "n", "s", "ni", "si", "u", "fin", "r"):
        return True
    return len(word) >= 3 and any(name.startswith(word) for name in _RESUMING_COMMANDS)


def _gdb_frame_for(selection: _Selection, number: int) -> tuple[Any, Optional[str]]:
    """gdb's frame for 'go bt' frame ``number`` of the selected goroutine, and a
    note when gdb has no frame of its own for it (an inlined frame without DWARF)."""
    place = next(
        (
            (index, number - physical.first_index)
            for index, physical in enumerate(selection.physical)
            if physical.first_index <= number < physical.first_index + len(physical.logical)
        ),
        None,
    )
    if place is None:
        total = sum(len(physical.logical) for physical in selection.physical)
        raise UsageError(f"goroutine {selection.goroutine} has frames 0 to {total - 1}; no frame {number}")
    index, position = place
    physical = selection.physical[index]
    total = sum(len(frame.logical) for frame in selection.physical)
    group = _gdb_group(selection, (physical.pc, physical.sp), total + _MAX_EXTRA_GDB_FRAMES)
    if not group:
        raise GoextError(f"gdb shows no frame for frame {number} of goroutine {selection.goroutine}")
    wanted = physical.logical[position]
    if len(group) == len(physical.logical):
        return group[position], None
    if position == len(physical.logical) - 1:
        return group[-1], None  # the physical frame's own function
    for frame in group:
        if _same_function(frame.name(), wanted.function):
            return frame, None
    outer = group[-1]
    return outer, (
        f"goext: gdb has no frame for inlined {printed_name(wanted.function)} (frame {number}); "
        f"showing the frame of {outer.name() or '??'} it is inlined in"
    )


def _gdb_group(selection: _Selection, key: tuple[int, int], limit: int) -> list[Any]:
    """gdb's frames of one physical frame: its inlined frames, then the real one."""
    group: list[Any] = []
    frame: Optional[Any] = gdb.newest_frame()
    for _ in range(limit):
        if frame is None:
            break
        if _frame_key(frame, selection) == key:
            group.append(frame)
            if frame.type() != gdb.INLINE_FRAME:
                return group
        elif group:
            break
        frame = frame.older()
    return group


def _same_function(gdb_name: Optional[str], go_name: str) -> bool:
    if not gdb_name:
        return False
    return gdb_name == go_name or printed_name(gdb_name) == printed_name(go_name)


def _select_frame(number: int) -> None:
    selection = _selection
    assert selection is not None
    frame, note = _gdb_frame_for(selection, number)
    if note:
        gdb.write(note + "\n")
    frame.select()


def _show_on_thread(record: GoroutineRecord) -> None:
    """Switch to the goroutine's thread if it runs on one, then show it there."""
    thread = _thread_of(record)
    if thread is not None:
        quiet_core_registers(gdb.selected_inferior())
        thread.switch()
    _select(record)


def _refuse_resuming(command: str) -> None:
    if _resumes(command):
        raise UsageError(
            f"'{command.split()[0]}' would run the thread from the goroutine's frames; "
            "use it without 'goroutine ID' (the goroutine is dropped when the program runs)"
        )


def _run_in(record: GoroutineRecord, command: str, frame_number: Optional[int]) -> None:
    _refuse_resuming(command)
    quiet_core_registers(gdb.selected_inferior())  # gdb's command reads registers
    previous_thread = gdb.selected_thread()
    previous_frame = _selected_frame_or_none()
    previous = _selection
    try:
        _show_on_thread(record)
        if command.split()[0] not in ("bt", "backtrace", "where") or frame_number is not None:
            _select_frame(frame_number or 0)
        gdb.execute(command, from_tty=False)
    finally:
        if previous is None:
            _select(None)
        if previous_thread is not None and previous_thread.is_valid():
            previous_thread.switch()
        if previous is not None:
            _restore(previous)
        elif previous_frame is not None and previous_frame.is_valid():
            try:
                previous_frame.select()
            except gdb.error:
                pass


def _restore(previous: _Selection) -> None:
    global _selection
    _selection = previous
    _hold_past_main(True)
    gdb.invalidate_cached_frames()


def _selected_frame_or_none() -> Optional[Any]:
    try:
        return gdb.selected_frame()
    except gdb.error:
        return None


class GoroutineCommand(gdb.Command):
    """Look at a goroutine with gdb's own commands.

    Usage: goroutine ID            stay on goroutine ID (bt, frame, up, info locals… see its frames)
           goroutine off           back to the threads' own frames
           goroutine ID CMD        run CMD on goroutine ID, then come back
           goroutine ID frame N CMD  run CMD in the goroutine's frame N (as numbered by 'go bt')
           goroutine all CMD       run CMD on every goroutine

    A goroutine running on a thread is shown on that thread.  Any other is
    shown on the selected thread: frame 0 is still the thread's own frame, the
    goroutine's frames are frames 1, 2, …, and backtraces hide frame 0.
    Resuming the program ('continue', 'next', …) drops the goroutine."""

    def __init__(self) -> None:
        super().__init__(COMMAND_NAME, gdb.COMMAND_STACK)

    def invoke(self, arg: str, from_tty: bool) -> None:
        try:
            self._invoke(arg.strip())
        except GoextError as exc:
            raise gdb.GdbError(f"goext: error: {exc}") from None
        except gdb.error as exc:
            raise gdb.GdbError(f"goext: error: {exc}") from None

    def _invoke(self, arg: str) -> None:
        words = arg.split(None, 1)
        if not words:
            raise UsageError("usage: goroutine ID [CMD] | goroutine all CMD | goroutine off (see 'help goroutine')")
        if words[0] == "off":
            _select(None)
            return
        load_executable_for_core()
        program = current_program()
        rest = words[1] if len(words) > 1 else ""
        frame_number: Optional[int] = None
        parts = rest.split(None, 2)
        if len(parts) >= 2 and parts[0] == "frame" and parts[1].isdigit():
            frame_number = int(parts[1])
            rest = parts[2] if len(parts) > 2 else "frame"
        elif parts and parts[0] == "frame" and len(parts) >= 2:
            raise UsageError(f"'{parts[1]}' is not a frame number (frames are numbered as 'go bt' shows them)")
        if words[0] == "all":
            if not rest:
                raise UsageError("usage: goroutine all CMD")
            _refuse_resuming(rest)
            for record in program.goroutines():
                gdb.write(f"\ngoroutine {record.id} [{record.state}]:\n")
                try:
                    _run_in(record, rest, frame_number)
                except (gdb.error, GoextError) as exc:
                    gdb.write(f"goext: goroutine {record.id}: {exc}\n")
            return
        try:
            goid = int(words[0], 0)
        except ValueError:
            raise UsageError(f"'{words[0]}' is not a goroutine id") from None
        record = program.goroutine(goid)
        if rest:
            _run_in(record, rest, frame_number)
            return
        previous_thread = gdb.selected_thread()
        try:
            _show_on_thread(record)
            _select_frame(0)
        except (GoextError, gdb.error):
            _select(None)  # nothing half-shown
            raise
        if current_program().target.is_live():
            _install_resume_hooks()
        thread = gdb.selected_thread()
        if thread is not None and previous_thread is not None and thread.ptid != previous_thread.ptid:
            gdb.write(f"goroutine {goid} runs on thread {thread.num}: switched to it\n")
        gdb.execute("frame")


_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    register_unwinder(None, GoroutineUnwinder(), replace=True)
    gdb.frame_filters[GoroutineFrameFilter.name] = GoroutineFrameFilter()
    gdb.events.cont.connect(_on_resume)
    GdbTarget.goroutine_selection = selected_goroutine
    GoroutineCommand()


def reclaim() -> None:
    """Register 'goroutine' again after another script (Go's runtime-gdb.py) took it."""
    GoroutineCommand()


def selected_goroutine() -> Optional[int]:
    """The goroutine whose frames gdb shows ('goroutine N'), or None (the thread's own)."""
    return _selection.goroutine if _selection is not None else None
