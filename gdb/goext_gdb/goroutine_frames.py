"""Show any goroutine's frames to gdb's own ``bt``, ``frame``, ``info locals``.

gdb cannot set registers on a core, so Go's runtime-gdb.py cannot backtrace a
parked goroutine there (golang/go#17575).  Instead a Python unwinder says that
the caller of frame 0 is the goroutine's innermost frame (its saved pc/sp/bp,
as goext's unwinder found them); gdb's own DWARF unwinder takes over from
there, so arguments and locals work as in any frame.  Without DWARF, the
unwinder supplies every frame from goext's own unwinding.  Frame 0 stays the
thread's frame: a frame filter hides it from backtraces, and the goroutine's
frames are gdb frames 1, 2, ….

Commands: ``goroutine ID`` (stay on that goroutine until ``goroutine off`` or
the program runs), ``goroutine ID CMD`` / ``goroutine all CMD`` (run CMD
there, then come back), ``goroutine ID frame N CMD`` (CMD in the goroutine's
frame N, counted from 0 like ``go bt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional

import gdb  # type: ignore[import-not-found]
from gdb.unwinder import Unwinder, register_unwinder  # type: ignore[import-not-found]

from goext_core.errors import GoextError, UsageError
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.unwind import STACK_GOROUTINE

from .commands import current_program


@dataclass
class _Selection:
    goroutine: int
    frames: list[tuple[int, int, int]]  # physical frames: (pc, sp, fp), innermost first
    every_level: bool  # no DWARF: supply every frame ourselves


_selection: Optional[_Selection] = None


class _FrameId:
    """gdb wants an object with gdb.Value ``sp`` and ``pc`` attributes."""

    def __init__(self, sp: int, pc: int) -> None:
        self.sp = gdb.Value(sp)
        self.pc = gdb.Value(pc)


class GoroutineUnwinder(Unwinder):
    def __init__(self) -> None:
        super().__init__("goext-goroutine")

    def __call__(self, pending: Any) -> Any:
        selection = _selection
        if selection is None or not selection.frames:
            return None
        try:
            level = pending.level()
        except AttributeError:  # gdb < 12 has no level(): only the first unwind is known
            level = 0
        pc_type = pending.read_register("rip").type
        sp_type = pending.read_register("rsp").type
        if level == 0:
            caller = selection.frames[0]
            # A stack address below any real frame keeps gdb's "inner frame" check happy.
            frame_id = _FrameId(1, int(pending.read_register("rip")))
        elif selection.every_level:
            pc, sp = int(pending.read_register("rip")), int(pending.read_register("rsp"))
            index = next((i for i, f in enumerate(selection.frames) if f[0] == pc and f[1] == sp), None)
            if index is None or index + 1 >= len(selection.frames):
                return None
            caller = selection.frames[index + 1]
            frame_id = _FrameId(selection.frames[index][2], pc)
        else:
            return None
        info = pending.create_unwind_info(frame_id)
        info.add_saved_register("rip", gdb.Value(caller[0]).cast(pc_type))
        info.add_saved_register("rsp", gdb.Value(caller[1]).cast(sp_type))
        return info


class GoroutineFrameFilter:
    """Hide frame 0 (the thread's) and whatever gdb finds past runtime.goexit."""

    name = "goext-goroutine"
    priority = 100
    enabled = True

    def filter(self, frames: Iterator[Any]) -> Iterator[Any]:
        if _selection is None:
            return frames
        return self._goroutine_only(frames)

    @staticmethod
    def _goroutine_only(frames: Iterator[Any]) -> Iterator[Any]:
        for decorator in frames:
            frame = decorator.inferior_frame()
            if frame.level() == 0:
                continue
            yield decorator
            if decorator.function() == "runtime.goexit":
                return


def _physical_frames(record: GoroutineRecord) -> list[tuple[int, int, int]]:
    stack = current_program().stack(record)
    out: list[tuple[int, int, int]] = []
    for frame in stack.frames:
        if frame.inlined or frame.stack != STACK_GOROUTINE:
            continue
        if not out or out[-1][:2] != (frame.pc, frame.sp):
            out.append((frame.pc, frame.sp, frame.fp))
    return out


def _thread_of(record: GoroutineRecord) -> Optional[Any]:
    """The gdb thread running this goroutine, if it runs on one."""
    program = current_program()
    machine = program.machine_of(record)
    if machine is None or not machine.procid or record.plain_status != 2:
        return None
    for thread in gdb.selected_inferior().threads():
        if thread.ptid[1] == machine.procid or thread.ptid[2] == machine.procid:
            return thread
    return None


def _select(record: Optional[GoroutineRecord]) -> None:
    global _selection
    if record is None:
        _selection = None
    else:
        frames = _physical_frames(record)
        if not frames:
            raise GoextError(f"goroutine {record.id} has no frames to show")
        has_dwarf = current_program().binary.has_dwarf()
        _selection = _Selection(record.id, frames, every_level=not has_dwarf)
    gdb.invalidate_cached_frames()


def _on_resume(_event: Any) -> None:
    if _selection is not None:
        _select(None)


def _run_in(record: GoroutineRecord, command: str, frame_number: Optional[int]) -> None:
    thread = _thread_of(record)
    previous_thread = gdb.selected_thread()
    previous = _selection
    try:
        if thread is not None:
            _select(None)
            thread.switch()
            if frame_number is not None:
                gdb.execute(f"frame {frame_number}", to_string=True)
        else:
            _select(record)
            if command.split()[0] not in ("bt", "backtrace", "where") or frame_number is not None:
                gdb.execute(f"frame {1 + (frame_number or 0)}", to_string=True)
        gdb.execute(command, from_tty=False)
    finally:
        if previous_thread is not None and previous_thread.is_valid():
            previous_thread.switch()
        if previous is None:
            _select(None)
        else:
            _selection_restore(previous)


def _selection_restore(previous: _Selection) -> None:
    global _selection
    _selection = previous
    gdb.invalidate_cached_frames()


class GoroutineCommand(gdb.Command):
    """Look at a goroutine with gdb's own commands.

    Usage: goroutine ID            stay on goroutine ID (bt, frame, info locals… see its frames)
           goroutine off           back to the thread's own frames
           goroutine ID CMD        run CMD on goroutine ID, then come back
           goroutine ID frame N CMD  run CMD in the goroutine's frame N (as numbered by 'go bt')
           goroutine all CMD       run CMD on every goroutine

    While a goroutine is selected, frame 0 is still the thread's own frame; the
    goroutine's frames are frames 1, 2, …, and backtraces hide frame 0."""

    def __init__(self) -> None:
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg: str, from_tty: bool) -> None:
        try:
            self._invoke(arg.strip())
        except GoextError as exc:
            raise gdb.GdbError(f"goext: error: {exc}") from None

    def _invoke(self, arg: str) -> None:
        words = arg.split(None, 1)
        if not words:
            raise UsageError("usage: goroutine ID [CMD] | goroutine all CMD | goroutine off (see 'help goroutine')")
        program = current_program()
        if words[0] == "off":
            _select(None)
            return
        rest = words[1] if len(words) > 1 else ""
        frame_number: Optional[int] = None
        parts = rest.split(None, 2)
        if len(parts) >= 2 and parts[0] == "frame" and parts[1].isdigit():
            frame_number = int(parts[1])
            rest = parts[2] if len(parts) > 2 else "frame"
        if words[0] == "all":
            if not rest:
                raise UsageError("usage: goroutine all CMD")
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
        if not rest:
            thread = _thread_of(record)
            if thread is not None:
                _select(None)
                thread.switch()
                gdb.write(f"goroutine {goid} runs on thread {thread.num}: switched to it\n")
            else:
                _select(record)
                gdb.execute("frame 1")
            return
        _run_in(record, rest, frame_number)


_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    register_unwinder(None, GoroutineUnwinder(), replace=True)
    gdb.frame_filters[GoroutineFrameFilter.name] = GoroutineFrameFilter()
    gdb.events.cont.connect(_on_resume)
    GoroutineCommand()


def selected_goroutine() -> Optional[int]:
    """The goroutine whose frames gdb shows ('goroutine N'), or None (the thread's own)."""
    return _selection.goroutine if _selection is not None else None
