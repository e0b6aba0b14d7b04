"""Fake memory, a fake pc table and a tiny ELF core writer for unit tests."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional

from goext_core.errors import GoextError, MemoryReadError
from goext_core.runtime.dwarflayout import StructLayout
from goext_core.runtime.goroutines import FieldReader
from goext_core.runtime.layouts import RuntimeLayouts
from goext_core.runtime.unwind import FrameStep, frame_step
from goext_core.target import Target, Thread


class FakeTarget(Target):
    """Memory from a dict of {address: bytes} segments."""

    def __init__(self, segments: dict[int, bytes], threads: Optional[list[Thread]] = None) -> None:
        self.segments = {a: bytearray(b) for a, b in segments.items()}
        self._threads = threads or []

    def read(self, address: int, size: int) -> bytes:
        for start, data in self.segments.items():
            if start <= address and address + size <= start + len(data):
                return bytes(data[address - start : address - start + size])
        raise MemoryReadError(address, size)

    def write_u64(self, address: int, value: int) -> None:
        for start, data in self.segments.items():
            if start <= address < start + len(data):
                data[address - start : address - start + 8] = value.to_bytes(8, "little")
                return
        raise KeyError(address)

    def threads(self) -> list[Thread]:
        return self._threads

    def executable(self) -> Optional[str]:
        return None


@dataclass
class FakeSource:
    function: str
    file: str
    line: int
    inlined: bool
    entry: int


@dataclass
class FakeFunc:
    name: str
    entry: int
    end: int
    frame: int  # constant sp delta after the prologue
    flags: int = 0
    func_id: int = 0

    def sp_delta(self, pc: int) -> int:
        return 0 if pc == self.entry else self.frame

    def file_line(self, pc: int) -> tuple[str, int]:
        return "/src/fake.go", (pc - self.entry) + 1


@dataclass
class FakePclntab:
    funcs: list[FakeFunc] = field(default_factory=list)
    version: str = "fake"

    def find_func(self, pc: int) -> Optional[FakeFunc]:
        for func in self.funcs:
            if func.entry <= pc < func.end:
                return func
        return None

    def func_by_name(self, name: str) -> Optional[FakeFunc]:
        return next((f for f in self.funcs if f.name == name), None)

    def source_frames(self, pc: int) -> list[FakeSource]:
        func = self.find_func(pc)
        if func is None:
            return []
        file, line = func.file_line(pc)
        return [FakeSource(func.name, file, line, False, func.entry)]


G_FIELDS = {
    "stack.lo": (0, 8),
    "stack.hi": (8, 8),
    "m": (16, 8),
    "sched.sp": (24, 8),
    "sched.pc": (32, 8),
    "sched.bp": (40, 8),
    "sched.lr": (48, 8),
    "atomicstatus": (56, 4),
    "goid": (64, 8),
    "waitsince": (72, 8),
    "waitreason": (80, 1),
    "gopc": (88, 8),
    "startpc": (96, 8),
    "syscallsp": (104, 8),
    "syscallpc": (112, 8),
    "stkbar": (120, 24),
    "stkbarPos": (144, 8),
}


class FakeProgram:
    """Just enough of GoProgram for the goroutine walker and the unwinder."""

    def __init__(self, target: FakeTarget, pclntab: FakePclntab, go_minor: int = 22) -> None:
        self.target = target
        self.pclntab = pclntab
        self.go_minor = go_minor
        self.layouts = RuntimeLayouts({"runtime.g": StructLayout("runtime.g", 160, dict(G_FIELDS))}, "fake")
        self.notes: list[str] = []

    def func_for_pc(self, pc: int) -> Optional[FakeFunc]:
        return self.pclntab.find_func(pc)

    def source_frames(self, pc: int) -> list[FakeSource]:
        return self.pclntab.source_frames(pc)

    def sp_delta(self, pc: int) -> int:
        func = self.pclntab.find_func(pc)
        if func is None:
            raise GoextError(f"pc {pc:#x} is not in Go code")
        return func.sp_delta(pc)

    def frame_step(self, pc: int) -> Optional[FrameStep]:
        return frame_step(self, pc)  # type: ignore[arg-type]  # the real per-pc facts, over the fakes

    def field_reader(self, struct_key: str, names: tuple[str, ...], signed: tuple[str, ...] = ()) -> FieldReader:
        return FieldReader(getattr(self.layouts, struct_key), names, signed, self.target.byte_order)

    def wait_reason(self, index: int) -> str:
        return ["", "chan receive"][index] if index < 2 else f"waitreason {index}"

    def is_system_goroutine(self, record: object) -> bool:
        return False

    def machine_of(self, record: object) -> None:
        return None

    def thread_for(self, machine: object) -> None:
        return None


def write_core(path: str, segments: list[tuple[int, bytes, int]], threads: list[dict[str, int]]) -> None:
    """A minimal x86-64 ELF core: NT_PRSTATUS per thread, PT_LOAD per (vaddr, data, flags)."""
    regs_order = (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
        "rip cs eflags rsp ss fs_base gs_base ds es fs gs"
    ).split()
    notes = b""
    for thread in threads:
        desc = bytearray(336)
        struct.pack_into("<I", desc, 32, thread.get("tid", 1))
        for index, name in enumerate(regs_order):
            struct.pack_into("<Q", desc, 112 + 8 * index, thread.get(name, 0))
        notes += struct.pack("<III", 5, len(desc), 1) + b"CORE\0\0\0\0" + bytes(desc)
    phnum = 1 + len(segments)
    offset = 64 + 56 * phnum
    headers = [struct.pack("<IIQQQQQQ", 4, 0, offset, 0, 0, len(notes), 0, 4)]
    body = notes
    offset += len(notes)
    for vaddr, data, flags in segments:
        headers.append(struct.pack("<IIQQQQQQ", 1, flags, offset, vaddr, 0, len(data), len(data), 4096))
        body += data
        offset += len(data)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    with open(path, "wb") as handle:
        handle.write(header + b"".join(headers) + body)
