"""Goroutine stack unwinder: the Go runtime's own algorithm, run from outside.

It follows src/runtime/traceback.go (``unwinder.resolveInternal`` / ``next``):
frame sizes come from the pcsp table, the return address sits just below the
caller's SP, ``runtime.goexit``/``mstart``/``rt0_go`` (FuncFlagTopFrame) end a
stack, and on a system stack ``systemstack``/``morestack`` jump back to the
user goroutine (m.curg).  In addition to what the runtime does for itself, it
climbs out of signal handlers: at ``runtime.sigtramp`` the interrupted context
is read from the ucontext the kernel pushed, so a goroutine interrupted on its
thread (the other threads of a GOTRACEBACK=crash core) unwinds like the runtime
printed it.  Stack barriers of Go 1.5-1.8 are undone from g.stkbar.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.goroutines import GoroutineRecord, MachineRecord
from goext_core.runtime.layouts import G_RUNNING

if TYPE_CHECKING:
    from goext_core.program import GoProgram
    from goext_core.target import Thread

MAX_FRAMES = 10_000
# A goroutine stack larger than this is read word by word (Go's max stack is 1 GB).
MAX_BUFFERED_STACK = 1 << 20
FUNC_FLAG_TOPFRAME = 1  # src/internal/abi/symtab.go FuncFlagTopFrame (1.21+; runtime/symtab.go before)
FUNC_FLAG_SPWRITE = 2  # FuncFlagSPWrite

# Functions that end a stack even where the func flags are unavailable (pre-1.21 tables).
_TOP_FRAMES = {
    "runtime.goexit",
    "runtime.mstart",
    "runtime.rt0_go",
    "runtime.sigtramp",
    "runtime.cgoSigtramp",
    "runtime.mcall",
    "runtime.morestack",
}
# Calls injected by the runtime: the frame below them was interrupted, not calling,
# so its pc is symbolized as is (src/runtime/traceback.go next(): sigpanic,
# asyncPreempt, debugCallV2).  Before Go 1.21 gentraceback did that only below
# sigpanic ("waspanic").
_INJECTED = {"runtime.sigpanic", "runtime.asyncPreempt", "runtime.debugCallV2"}
_INJECTED_BEFORE_1_21 = {"runtime.sigpanic"}
_SIGNAL_TRAMPOLINES = {"runtime.sigtramp", "runtime.cgoSigtramp"}
# x86-64 ucontext_t: uc_flags, uc_link, uc_stack (24 bytes), then uc_mcontext whose
# gregs are r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip
# (arch/x86/include/uapi/asm/sigcontext.h struct sigcontext_64).
_AMD64_UC_MCONTEXT = 40
_AMD64_SIGCTX = {"rbp": 10, "rsp": 15, "rip": 16}
# arm64: the handler's SP points at rt_sigframe {siginfo (128 bytes), ucontext};
# ucontext's uc_mcontext is at +176 (after uc_flags, uc_link, uc_stack and the
# 1024-bit sigset area) and is {fault_address, regs[31], sp, pc, pstate}
# (arch/arm64/kernel/signal.c, arch/arm64/include/uapi/asm/sigcontext.h).
_ARM64_SIGCTX_BASE = 128 + 176
_ARM64_SIGCTX = {"x29": 8 + 29 * 8, "x30": 8 + 30 * 8, "sp": 8 + 31 * 8, "pc": 8 + 32 * 8}
STACK_GOROUTINE, STACK_SYSTEM, STACK_SIGNAL = "goroutine", "system", "signal"


@dataclass
class Frame:
    function: str
    file: str
    line: int
    pc: int  # the frame's pc: a return address, or the interrupted pc (trap)
    sp: int
    fp: int
    entry: int
    inlined: bool = False
    stack: str = STACK_GOROUTINE  # which stack the frame lives on
    trap: bool = False  # this frame was interrupted (signal, preemption), not calling

    @property
    def offset(self) -> int:
        return self.pc - self.entry

    @property
    def symbolized_at_pc(self) -> bool:
        """Whether the frame's source position is the one at its pc, not at pc-1:
        an interrupted frame, or a pc at its function's entry (no return
        address is ever there), as the runtime's unwinder.symPC decides."""
        return self.trap or self.pc <= self.entry


@dataclass
class Stack:
    frames: list[Frame] = field(default_factory=list)
    error: Optional[str] = None
    origin: str = ""  # where unwinding started: "sched", "syscall", "thread N"
    complete: bool = True  # False: unwinding stopped early on request (see unwind_goroutine's stop)


_POINTER_FORMATS = {
    (order, size): struct.Struct(("<" if order == "little" else ">") + ("Q" if size == 8 else "I"))
    for order in ("little", "big")
    for size in (4, 8)
}

# Asked of each frame as it is found; True ends unwinding there (a partial stack).
StopAt = Callable[[Frame], bool]


@dataclass
class _Cursor:
    pc: int
    sp: int
    bp: int = 0
    lr: int = 0
    trap: bool = False
    stack: str = STACK_GOROUTINE


class _Unwinder:
    def __init__(
        self,
        program: "GoProgram",
        record: GoroutineRecord,
        machine: Optional[MachineRecord],
        stop: Optional[StopAt] = None,
    ) -> None:
        self.program = program
        self.stop = stop
        # m.vdsoPC/SP start the unwinding of a thread caught in the VDSO once; kept
        # here, not in the shared MachineRecord, which other unwinds read too.
        self.vdso_pending = machine is not None and bool(machine.vdsopc and machine.vdsosp)
        self.target = program.target
        self.ptr = program.target.ptr_size
        self.bias = program.target.load_bias()
        self.record = record
        self.machine = machine
        self.stack = Stack()
        self.order = program.target.byte_order
        # One precompiled unpacker for the words of the buffered stack (no slice per word).
        self._unpack_ptr = _POINTER_FORMATS[(self.order, self.ptr)].unpack_from
        self._buffer = b""
        self._buffer_start = 0
        minor = program.go_minor
        self.injected = _INJECTED_BEFORE_1_21 if minor is not None and minor < 21 else _INJECTED
        self.uses_lr = program.target.arch not in ("amd64", "386")
        self.barriers = list(record.stack_barriers)
        self.barrier_pc = self._stack_barrier_pc() if self.barriers else None
        self._stack_bounds: dict[str, tuple[int, int]] = {STACK_GOROUTINE: (record.stack_lo, record.stack_hi)}
        if machine is not None:
            for name, g in ((STACK_SYSTEM, machine.g0), (STACK_SIGNAL, machine.gsignal)):
                bounds = self._g_stack(g)
                if bounds:
                    self._stack_bounds[name] = bounds

    def read_ptr(self, address: int) -> int:
        """A pointer from the stack being unwound: the goroutine's stack is read
        once, whole (from the first sp to stack.hi), and served from that buffer;
        anything else is an ordinary target read."""
        offset = address - self._buffer_start
        if 0 <= offset <= len(self._buffer) - self.ptr:
            return self._unpack_ptr(self._buffer, offset)[0]
        return self.target.read_ptr(address)

    def buffer_stack(self, sp: int) -> None:
        """Read [sp, stack.hi) of the goroutine's stack in one request, when it is sane."""
        lo, hi = self.record.stack_lo, self.record.stack_hi
        if not lo <= sp < hi or hi - sp > MAX_BUFFERED_STACK:
            return
        try:
            self._buffer = self.target.read(sp, hi - sp)
            self._buffer_start = sp
        except (MemoryReadError, GoextError):
            pass  # a partly unreadable stack: read word by word, and say where it fails

    def _stack_barrier_pc(self) -> Optional[int]:
        func = self.program.pclntab.func_by_name("runtime.stackBarrier")
        return func.entry + self.bias if func is not None else None

    def _undo_stack_barrier(self, slot: int, return_pc: int) -> int:
        """Go 1.5-1.8 overwrote return addresses with runtime.stackBarrier during GC;
        the original is in g.stkbar, in stack order (src/runtime/traceback.go of 1.8)."""
        if self.barrier_pc is None or return_pc != self.barrier_pc:
            return return_pc
        if self.barriers and self.barriers[0][0] == slot:
            return self.barriers.pop(0)[1]
        for index, (saved_ptr, saved_pc) in enumerate(self.barriers):
            if saved_ptr == slot:
                del self.barriers[: index + 1]
                return saved_pc
        self.stack.error = f"missed stack barrier at {slot:#x}"
        return 0

    def _g_stack(self, g: int) -> Optional[tuple[int, int]]:
        if not g:
            return None
        layout = self.program.layouts.g
        try:
            lo = self.target.read_ptr(g + layout.offset("stack.lo"))
            hi = self.target.read_ptr(g + layout.offset("stack.hi"))
        except (MemoryReadError, GoextError):
            return None
        return (lo, hi) if lo < hi else None

    def which_stack(self, sp: int) -> str:
        for name, (lo, hi) in self._stack_bounds.items():
            if lo <= sp < hi:
                return name
        return STACK_GOROUTINE

    # -- the loop ---------------------------------------------------------------
    def run(self, cursor: _Cursor) -> Stack:
        self._seen: set[tuple[int, int]] = set()
        innermost = True
        if self._fast_path_applies(cursor):
            resumed = self._run_plain_frames(cursor)
            if resumed is None:
                return self.stack
            cursor, innermost = resumed, not self.stack.frames
        seen = self._seen
        while len(self.stack.frames) < MAX_FRAMES:
            if (cursor.pc, cursor.sp) in seen:
                self.stack.error = f"unwinding loops at pc={cursor.pc:#x} sp={cursor.sp:#x}"
                break
            seen.add((cursor.pc, cursor.sp))
            func = self.program.func_for_pc(cursor.pc)
            if func is None:
                if not self._leave_foreign_code(cursor, innermost):
                    self.stack.error = f"pc {cursor.pc:#x} is not in Go code"
                    break
                innermost = False
                continue
            name = func.name
            try:
                delta = self.program.sp_delta(cursor.pc)
            except GoextError as exc:
                self.stack.error = f"bad frame size table for {name}: {exc}"
                break
            flags = getattr(func, "flags", 0) or 0
            if name == "runtime.cgocallback":
                # It writes SP to switch from g0 to the goroutine's stack, but keeps a frame
                # valid for unwinding on both (src/runtime/traceback.go resolveInternal).
                flags &= ~FUNC_FLAG_SPWRITE
            # Jump over system stack transitions (resolveInternal with unwindJumpStack).
            curg = self.machine.curg if self.machine else 0
            if cursor.stack == STACK_SYSTEM and curg == self.record.address:
                if name == "runtime.morestack":
                    # newstack gogo's to curg.sched: continue from there.
                    cursor = _Cursor(
                        self.record.sched_pc,
                        self.record.sched_sp,
                        self.record.sched_bp,
                        self.record.sched_lr,
                        False,
                        STACK_GOROUTINE,
                    )
                    continue
                if name == "runtime.systemstack":
                    if self.uses_lr and delta == 0:
                        # In its prologue or epilogue: no switch has happened.
                        flags &= ~FUNC_FLAG_SPWRITE
                    else:
                        cursor.sp = self.record.sched_sp
                        cursor.stack = STACK_GOROUTINE
            # On x86 the CALL pushed the return address: the frame ends one word higher.
            fp = cursor.sp + delta + (0 if self.uses_lr else self.ptr)
            if delta < 0 or (fp <= cursor.sp and not self.uses_lr):
                self.stack.error = f"corrupt frame size {delta} for {name} at pc {cursor.pc:#x}"
                break
            if self._emit(cursor, fp):
                self.stack.complete = False
                break
            if name in _SIGNAL_TRAMPOLINES:
                if not self._enter_signal_context(cursor, fp):
                    break
                innermost = False
                continue
            if flags & FUNC_FLAG_TOPFRAME or name in _TOP_FRAMES:
                break
            if flags & FUNC_FLAG_SPWRITE and not innermost:
                self.stack.error = f"cannot unwind past {name}: it writes SP"
                break
            try:
                return_pc, slot = self._return_address(cursor, fp, innermost)
                saved_bp = cursor.bp
                if not self.uses_lr and fp - 2 * self.ptr >= cursor.sp:
                    saved_bp = self.read_ptr(fp - 2 * self.ptr)
            except MemoryReadError as exc:
                self.stack.error = f"stack unreadable: {exc}"
                break
            if slot is not None:
                return_pc = self._undo_stack_barrier(slot, return_pc)
            if return_pc == 0:
                break
            cursor = _Cursor(return_pc, fp, saved_bp, 0, name in self.injected, self.which_stack(fp))
            if self.uses_lr and cursor.trap:
                self._skip_saved_lr(cursor)
            innermost = False
        else:
            self.stack.error = f"stack deeper than {MAX_FRAMES} frames: cut"
        return self.stack

    def _fast_path_applies(self, cursor: _Cursor) -> bool:
        """Most goroutines are parked on their own stack, with no M, no stack
        barriers and on x86: their frames are plain pushes of return addresses."""
        return not self.uses_lr and self.machine is None and not self.barriers and cursor.stack == STACK_GOROUTINE

    def _run_plain_frames(self, cursor: _Cursor) -> Optional[_Cursor]:
        """The general loop below, specialised for frames that need none of its
        special cases (per-pc facts memoized in GoProgram.frame_step).  Returns
        the cursor at the first frame that does need them (the general loop goes
        on from there), or None when the stack is done."""
        program, frames, ptr, seen = self.program, self.stack.frames, self.ptr, self._seen
        pc, sp, bp, trap = cursor.pc, cursor.sp, cursor.bp, cursor.trap
        while len(frames) < MAX_FRAMES:
            step = program.frame_step(pc)
            if step is None or not step.plain or (pc, sp) in seen:
                break
            seen.add((pc, sp))
            fp = sp + step.delta + ptr
            hit = self._append_frames(step, pc, sp, fp, trap, STACK_GOROUTINE)
            if hit:
                self.stack.complete = False
                return None
            try:
                return_pc = self.read_ptr(fp - ptr)
                if fp - 2 * ptr >= sp:
                    bp = self.read_ptr(fp - 2 * ptr)
            except MemoryReadError as exc:
                self.stack.error = f"stack unreadable: {exc}"
                return None
            if return_pc == 0:
                return None
            pc, sp, trap = return_pc, fp, step.name in self.injected
        return _Cursor(pc, sp, bp, 0, trap, self.which_stack(sp))

    def _return_address(self, cursor: _Cursor, fp: int, innermost: bool) -> tuple[int, Optional[int]]:
        """The caller's pc and the stack slot it was read from (None: a register)."""
        if not self.uses_lr:
            return self.read_ptr(fp - self.ptr), fp - self.ptr
        # Link-register machines save LR at the bottom of a frame that has one;
        # a leaf (or a frame still in its prologue) has it in LR.
        if (innermost and cursor.sp < fp) or cursor.lr == 0:
            return self.read_ptr(cursor.sp), cursor.sp
        return cursor.lr, None

    def _skip_saved_lr(self, cursor: _Cursor) -> None:
        """sigpanic/asyncPreempt on LR machines: the signal handler pushed the
        interrupted LR before faking the call (src/runtime/traceback.go next)."""
        try:
            saved = self.target.read_ptr(cursor.sp)
        except MemoryReadError:
            return
        cursor.sp += 16  # alignUp(sys.MinFrameSize, sys.StackAlign) on arm64
        func = self.program.func_for_pc(cursor.pc)
        if func is None:
            cursor.pc = saved
        elif func.sp_delta(cursor.pc - self.bias) == 0:
            cursor.lr = saved

    def _emit(self, cursor: _Cursor, fp: int) -> bool:
        """Append the frames at the cursor; True when the stop predicate wants no more."""
        step = self.program.frame_step(cursor.pc)
        assert step is not None  # the caller found a function at this pc
        return self._append_frames(step, cursor.pc, cursor.sp, fp, cursor.trap, cursor.stack)

    def _append_frames(self, step: "FrameStep", pc: int, sp: int, fp: int, trap: bool, stack: str) -> bool:
        """Append the logical frames of one physical frame (inlined first); True
        when the stop predicate accepts one of them.  All of them come out
        together: a stack never ends between an inlined frame and its caller.
        The runtime symbolizes a return address at pc-1 (the call instruction),
        an interrupted pc as itself (unwinder.symPC)."""
        sources = step.at_trap if trap or pc <= step.entry else step.at_call
        if sources:
            new = [
                Frame(source.function, source.file, source.line, pc, sp, fp, step.entry, source.inlined, stack, trap)
                for source in sources
            ]
        else:
            new = [Frame(step.name, "?", 0, pc, sp, fp, step.entry, False, stack, trap)]
        self.stack.frames.extend(new)
        stop = self.stop
        if stop is not None:
            for frame in new:
                if stop(frame):
                    return True
        return False

    # -- special transitions ------------------------------------------------------------
    def _enter_signal_context(self, cursor: _Cursor, fp: int) -> bool:
        """At sigtramp: continue with the context the kernel saved.  On x86-64
        the rt_sigframe starts at the return-address slot (its restorer pointer)
        and the ucontext follows it; on arm64 it starts at the handler's SP."""
        arch = self.program.target.arch
        try:
            if arch == "amd64":
                mcontext = fp + _AMD64_UC_MCONTEXT
                regs = {name: self.target.read_u64(mcontext + index * 8) for name, index in _AMD64_SIGCTX.items()}
                pc, sp, bp, lr = regs["rip"], regs["rsp"], regs["rbp"], 0
            elif arch == "arm64":
                mcontext = fp + _ARM64_SIGCTX_BASE
                regs = {name: self.target.read_u64(mcontext + offset) for name, offset in _ARM64_SIGCTX.items()}
                pc, sp, bp, lr = regs["pc"], regs["sp"], regs["x29"], regs["x30"]
            else:
                return False
        except MemoryReadError:
            self.stack.error = "signal context unreadable"
            return False
        if not pc or not sp:
            return False
        cursor.pc, cursor.sp, cursor.bp, cursor.lr, cursor.trap = pc, sp, bp, lr, True
        cursor.stack = self.which_stack(sp)
        return True

    def _leave_foreign_code(self, cursor: _Cursor, innermost: bool) -> bool:
        """A pc outside Go (VDSO, libc): resume from m.vdsoPC/SP or m.libcall, else
        follow the frame-pointer chain once."""
        machine = self.machine
        if innermost and machine is not None and self.vdso_pending:
            cursor.pc, cursor.sp, cursor.trap = machine.vdsopc, machine.vdsosp, False
            cursor.stack = self.which_stack(cursor.sp)
            self.vdso_pending = False  # use once
            return True
        bp = cursor.bp
        lo, hi = self._stack_bounds.get(cursor.stack, (0, 0))
        if bp and lo <= bp < hi and bp >= cursor.sp:
            try:
                return_pc = self.target.read_ptr(bp + self.ptr)
                saved_bp = self.target.read_ptr(bp)
            except MemoryReadError:
                return False
            if return_pc:
                cursor.pc, cursor.sp, cursor.bp, cursor.trap = return_pc, bp + 2 * self.ptr, saved_bp, False
                return True
        return False


@dataclass(frozen=True)
class FrameStep:
    """Facts about one pc that every unwind through it needs."""

    name: str
    entry: int  # run-time entry of the function
    delta: int  # pcsp value at pc (valid only when plain)
    plain: bool  # no special case of the unwinder applies (see frame_step)
    at_call: tuple  # source frames when pc is a return address (symbolized at pc-1)
    at_trap: tuple  # source frames when pc was interrupted (symbolized at pc)


# Functions the general loop treats specially: stack switches, cgo, signals, ends.
_SPECIAL = (
    _TOP_FRAMES
    | _SIGNAL_TRAMPOLINES
    | {"runtime.systemstack", "runtime.morestack", "runtime.cgocallback", "runtime.stackBarrier"}
)


def frame_step(program: "GoProgram", pc: int) -> Optional[FrameStep]:
    func = program.func_for_pc(pc)
    if func is None:
        return None
    bias = program.target.load_bias()
    entry = func.entry + bias
    name = func.name
    flags = getattr(func, "flags", 0) or 0
    try:
        delta = program.sp_delta(pc)
    except GoextError:
        delta = -1
    plain = delta >= 0 and name not in _SPECIAL and not flags & (FUNC_FLAG_TOPFRAME | FUNC_FLAG_SPWRITE)
    at_call = tuple(program.source_frames(pc - 1)) if pc > entry else ()
    at_trap = tuple(program.source_frames(pc))
    return FrameStep(name, entry, delta, plain, at_call, at_trap)


# The list's walk reads the top of a parked stack first: the program's own
# frame is usually within a few hundred bytes of sched.sp.
_PARKED_WINDOW = 2048


class ParkedWalk:
    """The goroutine list's walk: the innermost frame of the program's own
    code of a goroutine parked on its own stack whose frames up to that one
    are plain (x86, no M, no stack barriers), with no Frame built until the
    answer.  What it needs of each (pc, interrupted) is computed once.  Made
    once per program; ``holds_code(function, file)`` is the library rule."""

    def __init__(self, program: "GoProgram", holds_code: Callable[[str, str], bool]) -> None:
        self.program = program
        self.holds_code = holds_code
        target = program.target
        self.applies = target.arch in ("amd64", "386")
        self.ptr = target.ptr_size
        self.unpack = _POINTER_FORMATS[(target.byte_order, self.ptr)].unpack_from
        minor = program.go_minor
        self.injected = _INJECTED_BEFORE_1_21 if minor is not None and minor < 21 else _INJECTED
        # pc -> (delta, entry, the user source or None, the caller is interrupted), or None;
        # one table for return addresses, one for interrupted pcs (no key tuple per frame).
        self.facts: dict[int, Optional[tuple[int, int, Optional[tuple], bool]]] = {}
        self.trap_facts: dict[int, Optional[tuple[int, int, Optional[tuple], bool]]] = {}

    def _facts(self, pc: int, trap: bool) -> Optional[tuple[int, int, Optional[tuple], bool]]:
        step = self.program.frame_step(pc)
        if step is None or not step.plain:
            return None
        sources = step.at_trap if trap or pc <= step.entry else step.at_call
        user: Optional[tuple] = None
        if not sources:  # no line table: the function alone, as _append_frames makes it
            if not self.holds_code(step.name, "?"):
                user = (step.name, "?", 0, False)
        else:
            for source in sources:
                if not self.holds_code(source.function, source.file):
                    user = (source.function, source.file, source.line, source.inlined)
                    break
        if len(self.facts) + len(self.trap_facts) > 1 << 18:
            self.facts.clear()
            self.trap_facts.clear()
        return (step.delta, step.entry, user, step.name in self.injected)

    def user_frame(self, record: GoroutineRecord) -> Optional[Frame]:
        """The frame, or None when this walk cannot answer: the caller then
        unwinds with ``unwind_goroutine(stop=...)``, which finds the same frame
        the long way."""
        if not self.applies or record.error or record.m or record.syscall_sp or record.stack_barriers:
            return None
        sp, hi = record.sched_sp, record.stack_hi
        if not record.stack_lo <= sp < hi or hi - sp > MAX_BUFFERED_STACK:
            return None
        target, ptr, unpack = self.program.target, self.ptr, self.unpack
        try:
            buf = target.read(sp, min(_PARKED_WINDOW, hi - sp))
        except (MemoryReadError, GoextError):
            return None
        start, pc, trap = sp, record.sched_pc, False
        for _ in range(MAX_FRAMES):
            facts = self.trap_facts if trap else self.facts
            fact = facts.get(pc)
            if fact is None and pc not in facts:
                fact = facts[pc] = self._facts(pc, trap)  # _facts clears the tables in place when they grow
            if fact is None:
                return None
            delta, entry, user, caller_trap = fact
            fp = sp + delta + ptr
            if user is not None:
                return Frame(user[0], user[1], user[2], pc, sp, fp, entry, user[3], STACK_GOROUTINE, trap)
            slot = fp - ptr - start
            if slot + ptr > len(buf):
                if len(buf) == hi - start:
                    return None  # past the top of the stack
                try:
                    buf = target.read(start, hi - start)
                except (MemoryReadError, GoextError):
                    return None
                if slot + ptr > len(buf):
                    return None
            pc = unpack(buf, slot)[0]
            if pc == 0:
                return None
            sp, trap = fp, caller_trap
        return None


def _start_from_thread(unwinder: _Unwinder, thread: "Thread") -> _Cursor:
    regs = thread.registers
    pc = regs.get("pc", regs.get("rip", 0))
    sp = regs.get("sp", regs.get("rsp", 0))
    bp = regs.get("rbp", regs.get("x29", 0))
    return _Cursor(pc, sp, bp, regs.get("x30", 0), True, unwinder.which_stack(sp))


def unwind_goroutine(program: "GoProgram", record: GoroutineRecord, stop: Optional[StopAt] = None) -> Stack:
    """Frames of one goroutine, innermost first.  Never raises for bad target data.

    With ``stop``, unwinding ends after the first physical frame one of whose
    frames ``stop`` accepts (``Stack.complete`` is then False): a goroutine
    list needs only the innermost frame of the program's own code, not the
    whole stack."""
    if record.error:
        return Stack(error=record.error)
    machine = program.machine_of(record) if record.m else None
    unwinder = _Unwinder(program, record, machine, stop)
    thread = program.thread_for(machine) if machine is not None and record.plain_status == G_RUNNING else None
    try:
        if thread is not None:
            unwinder.stack.origin = f"thread {thread.tid}"
            return unwinder.run(_start_from_thread(unwinder, thread))
        if record.syscall_sp:
            # src/runtime/traceback.go initAt: a goroutine in a syscall unwinds from syscallpc/sp.
            unwinder.stack.origin = "syscall"
            unwinder.buffer_stack(record.syscall_sp)
            return unwinder.run(_Cursor(record.syscall_pc, record.syscall_sp, record.syscall_bp))
        unwinder.stack.origin = "sched"
        unwinder.buffer_stack(record.sched_sp)
        return unwinder.run(_Cursor(record.sched_pc, record.sched_sp, record.sched_bp, record.sched_lr))
    except GoextError as exc:
        unwinder.stack.error = str(exc)
        return unwinder.stack


def unwind_thread(program: "GoProgram", thread: "Thread", machine: MachineRecord, g0: GoroutineRecord) -> Stack:
    """Frames of a thread that runs no goroutine (an M on its g0 stack: the
    scheduler, sysmon, an idle M, or a signal handler that interrupted one),
    from the thread's registers.  The runtime prints this stack as
    "goroutine 0" (src/runtime/signal_unix.go sighandler: goroutineheader and
    tracebacktrap of the interrupted g, which is g0).  ``g0`` is m.g0's record;
    its frames are labelled as the system stack."""
    # The g0 record's own bounds would label g0 frames "goroutine"; the M's
    # bounds label them system (g0) and signal (gsignal).
    record = replace(g0, stack_lo=0, stack_hi=0, stack_barriers=[])
    unwinder = _Unwinder(program, record, machine)
    unwinder.stack.origin = f"thread {thread.tid}"
    try:
        return unwinder.run(_start_from_thread(unwinder, thread))
    except GoextError as exc:
        unwinder.stack.error = str(exc)
        return unwinder.stack
