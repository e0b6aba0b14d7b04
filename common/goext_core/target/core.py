"""Offline target: an ELF core file plus its executable.

Memory is the core's PT_LOAD segments layered over the executable's: the kernel
leaves unmodified file-backed pages (text, rodata) out of the core (p_filesz 0
or short), so those bytes are served from the executable instead (as delve's
``core.buildMemory`` does).  Threads and registers come from NT_PRSTATUS notes.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

from goext_core.binary.elftables import (
    ET_CORE,
    ET_DYN,
    PT_LOAD,
    PT_NOTE,
    FileHeader,
    ProgramHeader,
    parse_file_header,
    program_headers,
)
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.target import ByteOrder, Target, Thread
from goext_core.target.regularfile import open_regular_file

# Linux elf_prstatus: pr_reg starts after signal info, pids and four timevals
# (include/uapi/linux/elfcore.h; identical on amd64 and arm64).
_PRSTATUS_PID_OFFSET = 32
_PRSTATUS_REG_OFFSET = 112

# struct user_regs_struct, arch/x86/include/asm/user_64.h
_AMD64_REGS = (
    "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
    "rip cs eflags rsp ss fs_base gs_base ds es fs gs"
).split()
# struct user_pt_regs, arch/arm64/include/uapi/asm/ptrace.h
_ARM64_REGS = [f"x{i}" for i in range(31)] + ["sp", "pc", "pstate"]

_MAX_THREADS = 1 << 16


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int  # exclusive, start + p_memsz
    file_offset: int
    file_size: int
    readable: bool


@dataclass(frozen=True)
class FileMapping:
    """One NT_FILE entry: a file mapped into the crashed process."""

    start: int
    end: int
    file_offset: int  # in bytes
    path: str


def _open_elf(path: str, what: str) -> tuple[BinaryIO, "_MappedFile", FileHeader]:
    handle = open_regular_file(path, what)
    try:
        file = _MappedFile(handle)
        return handle, file, parse_file_header(file.read, file.size)
    except CorruptDataError as exc:
        handle.close()
        raise CorruptDataError(f"{path} is not a valid ELF file: {exc}") from None


def _program_headers(file: "_MappedFile", header: FileHeader, what: str) -> list[ProgramHeader]:
    """The file's program headers (elftables bounds their number); a damaged
    table raises CorruptDataError naming the file ("malformed ELF: ...",
    "truncated: ...")."""
    try:
        return program_headers(file.read, header, file.size)
    except CorruptDataError as exc:
        raise CorruptDataError(f"{what}: {exc}") from None


class _MappedFile:
    """Positional reads of a file; reads past its end are short, never errors.

    pread rather than mmap: the pages an mmap touches count as the process's
    resident memory, and listing 100,000 goroutines touches most of a core
    (354 MB peak against 101 MB with pread, at the same speed)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.fd = handle.fileno()
        self.size = os.fstat(self.fd).st_size

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        try:
            return os.pread(self.fd, min(size, self.size - offset), offset)
        except OSError:  # an I/O error on a damaged disk: the bytes are not there
            return b""


# Reads up to this size that one core segment holds whole take read()'s fast path.
_FAST_READ_LIMIT = 1 << 20

# Note types (include/uapi/linux/elf.h), owner "CORE".
NT_PRSTATUS = 1
NT_FILE = 0x46494C45
MAX_NOTE_SEGMENT_BYTES = 64 << 20
_MAX_NOTES = 1 << 18
_MAX_FILE_MAPPINGS = 1 << 20


def iter_core_notes(data: bytes, byte_order: ByteOrder, ptr_size: int) -> Iterator[tuple[bytes, int, bytes]]:
    """(owner, type, descriptor) of each note in a PT_NOTE segment's bytes.

    Parsed here rather than by pyelftools so that a damaged descriptor costs
    that note only; a header whose sizes run past the segment raises
    CorruptDataError (the notes after it cannot be found)."""
    cursor = 0
    for _ in range(_MAX_NOTES):
        if cursor + 12 > len(data):
            return
        namesz = int.from_bytes(data[cursor : cursor + 4], byte_order)
        descsz = int.from_bytes(data[cursor + 4 : cursor + 8], byte_order)
        kind = int.from_bytes(data[cursor + 8 : cursor + 12], byte_order)
        name_at = cursor + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        if desc_at + descsz > len(data):
            raise CorruptDataError(
                f"core note at segment offset {cursor:#x} (type {kind:#x}) claims "
                f"{namesz + descsz} bytes, past the end of its segment"
            )
        yield data[name_at : name_at + namesz].rstrip(b"\0"), kind, data[desc_at : desc_at + descsz]
        cursor = desc_at + (descsz + 3) // 4 * 4


def parse_nt_file(desc: bytes, ptr_size: int, byte_order: ByteOrder) -> list[FileMapping]:
    """The NT_FILE note: count, page size, count x (start, end, page offset), then
    count NUL-terminated names (fs/binfmt_elf.c fill_files_note)."""

    def word(index: int) -> int:
        return int.from_bytes(desc[index * ptr_size : (index + 1) * ptr_size], byte_order)

    if len(desc) < 2 * ptr_size:
        raise CorruptDataError("the NT_FILE note is truncated")
    count, page_size = word(0), word(1)
    names_at = (2 + 3 * count) * ptr_size
    if count > _MAX_FILE_MAPPINGS or names_at > len(desc):
        raise CorruptDataError(f"the NT_FILE note claims {count} mappings in {len(desc)} bytes")
    if page_size == 0 or page_size & (page_size - 1) or page_size > 1 << 30:
        raise CorruptDataError(f"the NT_FILE note has page size {page_size}")
    names = desc[names_at:].split(b"\0")
    if len(names) < count:
        raise CorruptDataError(f"the NT_FILE note has {len(names)} names for {count} mappings")
    mappings = []
    for index in range(count):
        start, end, page_offset = word(2 + 3 * index), word(3 + 3 * index), word(4 + 3 * index)
        path = names[index].decode("utf-8", "replace")
        mappings.append(FileMapping(start, end, page_offset * page_size, path))
    return mappings


class CoreTarget(Target):
    """A core dump and the executable that produced it."""

    def __init__(self, executable: Optional[str], core: str) -> None:
        self._core_path = core
        self._core_handle, self._core_file, core_header = _open_elf(core, "core")
        if core_header.file_type != ET_CORE:
            self._core_handle.close()
            raise CorruptDataError(f"{core} is not a core file (ELF type {core_header.type_name})")
        self.arch = core_header.goarch
        self.ptr_size = core_header.ptr_size
        self.byte_order = core_header.byte_order
        self._segments: list[_Segment] = []
        self._threads: list[Thread] = []
        self.mappings: list[FileMapping] = []
        self.notes: list[str] = []  # what was damaged, and what that costs
        self._read_core(core_header)
        self._starts = [s.start for s in self._segments]
        # Per segment: where its bytes in the file end (as an address) and
        # start, for reads the file holds whole (the fast path of read()).
        self._in_file = [
            (s.start + max(0, min(s.file_size, s.end - s.start, self._core_file.size - s.file_offset)), s.file_offset)
            if s.readable
            else (s.start, 0)
            for s in self._segments
        ]
        self._core_fd = self._core_file.fd

        self._exe_path = executable or self._guess_executable()
        self._exe_segments: list[tuple[int, int, int, int]] = []  # vaddr, memsz, offset, filesz
        self._exe_file: Optional[_MappedFile] = None
        self._bias = 0
        if self._exe_path:
            self._load_executable(self._exe_path)
            self._check_executable_matches()

    # -- core parsing -----------------------------------------------------
    def _read_core(self, header: FileHeader) -> None:
        note_ranges: list[tuple[int, int]] = []
        for segment in _program_headers(self._core_file, header, f"core {self._core_path}"):
            if segment.type == PT_LOAD and segment.memsz:
                self._segments.append(
                    _Segment(
                        start=segment.vaddr,
                        end=segment.vaddr + segment.memsz,
                        file_offset=segment.offset,
                        file_size=segment.filesz,
                        readable=bool(segment.flags & 4),  # PF_R
                    )
                )
            elif segment.type == PT_NOTE:
                note_ranges.append((segment.offset, segment.filesz))
        self._segments.sort(key=lambda s: s.start)
        for offset, size in note_ranges:
            self._read_notes(self._core_file.read(offset, min(size, MAX_NOTE_SEGMENT_BYTES)))

    def _read_notes(self, data: bytes) -> None:
        """Threads and file mappings.  A damaged note costs what it describes
        (a thread, the file mappings), with a note saying so, not the core."""
        try:
            for owner, kind, desc in iter_core_notes(data, self.byte_order, self.ptr_size):
                if len(self._threads) > _MAX_THREADS:
                    break
                if owner != b"CORE":
                    continue
                if kind == NT_PRSTATUS:
                    if len(desc) < _PRSTATUS_REG_OFFSET:
                        self.notes.append(
                            f"a thread's NT_PRSTATUS note is truncated ({len(desc)} bytes): that thread is left out"
                        )
                        continue
                    self._threads.append(self._parse_prstatus(desc, len(self._threads) + 1))
                elif kind == NT_FILE:
                    try:
                        self.mappings.extend(parse_nt_file(desc, self.ptr_size, self.byte_order))
                    except CorruptDataError as exc:
                        self.notes.append(f"{exc}: the core's file mappings are unknown")
        except CorruptDataError as exc:
            self.notes.append(f"{exc}: notes after it (threads, file mappings) are lost")

    def _parse_prstatus(self, desc: bytes, index: int) -> Thread:
        order = self.byte_order
        tid = int.from_bytes(desc[_PRSTATUS_PID_OFFSET : _PRSTATUS_PID_OFFSET + 4], order)
        names = _AMD64_REGS if self.arch == "amd64" else _ARM64_REGS if self.arch == "arm64" else []
        regs: dict[str, int] = {}
        for i, name in enumerate(names):
            start = _PRSTATUS_REG_OFFSET + i * 8
            if start + 8 > len(desc):
                break
            regs[name] = int.from_bytes(desc[start : start + 8], order)
        if self.arch == "amd64":
            regs["pc"], regs["sp"] = regs.get("rip", 0), regs.get("rsp", 0)
        return Thread(tid=tid, registers=regs, index=index)

    def _guess_executable(self) -> Optional[str]:
        """The first file mapped at offset 0 is the main executable (NT_FILE order)."""
        for mapping in self.mappings:
            if mapping.file_offset == 0 and os.path.isfile(mapping.path):
                return mapping.path
        return None

    # -- executable --------------------------------------------------------
    def _load_executable(self, path: str) -> None:
        handle, file, header = _open_elf(path, "executable")
        self._exe_handle = handle
        self._exe_file = file
        segments = _program_headers(file, header, f"executable {path}")
        self._exe_segments.extend(
            (segment.vaddr, segment.memsz, segment.offset, segment.filesz)
            for segment in segments
            if segment.type == PT_LOAD
        )
        if header.file_type == ET_DYN:
            self._bias = self._pie_bias(path)

    def _pie_bias(self, path: str) -> int:
        """Run-time minus link-time address, from the NT_FILE mapping of offset 0."""
        real = os.path.realpath(path)
        base_name = os.path.basename(path)
        lowest = min((vaddr for vaddr, _, _, _ in self._exe_segments), default=0)
        for mapping in self.mappings:
            if mapping.file_offset == 0 and (
                os.path.realpath(mapping.path) == real or os.path.basename(mapping.path) == base_name
            ):
                return mapping.start - (lowest & ~0xFFF)
        return 0

    def _read_core_only(self, address: int, size: int) -> Optional[bytes]:
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        segment = self._segments[index]
        delta = address - segment.start
        if address + size > segment.end or delta + size > segment.file_size:
            return None
        data = self._core_file.read(segment.file_offset + delta, size)
        return data if len(data) == size else None

    def _check_executable_matches(self) -> None:
        """The kernel dumps the first page of every mapped ELF file (its headers
        and, for Go, the build-id note): it must equal the executable's."""
        assert self._exe_file is not None
        lowest = min((vaddr for vaddr, _, offset, _ in self._exe_segments if offset == 0), default=None)
        if lowest is None:
            return
        size = min(4096, self._exe_file.size)
        in_core = self._read_core_only(lowest + self._bias, size)
        if in_core is not None and in_core != self._exe_file.read(0, size):
            made_by = self._guess_executable()
            hint = f"; the core was made by {made_by}" if made_by and made_by != self._exe_path else ""
            raise GoextError(
                f"{self._exe_path} does not match the core {self._core_path} "
                f"(its ELF headers differ from the ones in the core{hint})"
            )

    # -- Target API ---------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        # The usual read, inlined: a goroutine list makes one per goroutine.
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and 0 < size <= _FAST_READ_LIMIT:
            file_end, file_offset = self._in_file[index]
            if address + size <= file_end:
                try:
                    data = os.pread(self._core_fd, size, file_offset + address - self._starts[index])
                except OSError:
                    data = b""
                if len(data) == size:
                    return data
        if size < 0 or size > 1 << 30 or address < 0:
            raise MemoryReadError(address, size, "invalid request")
        first = self._read_some(address, size)
        if len(first) == size:  # the usual case: one segment holds it all, no copy
            return first
        if not first:
            raise MemoryReadError(address, size, f"address {address:#x} is not in the core")
        out = bytearray(first)
        cursor = address + len(first)
        end = address + size
        while cursor < end:
            chunk = self._read_some(cursor, end - cursor)
            if not chunk:
                raise MemoryReadError(address, size, f"address {cursor:#x} is not in the core")
            out += chunk
            cursor += len(chunk)
        return bytes(out)

    def _read_some(self, address: int, size: int) -> bytes:
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0:
            segment = self._segments[index]
            if address < segment.end:
                if not segment.readable:
                    return b""
                size = min(size, segment.end - address)
                delta = address - segment.start
                if delta < segment.file_size:
                    size = min(size, segment.file_size - delta)
                    data = self._core_file.read(segment.file_offset + delta, size)
                    return data
                # Omitted by the kernel: file-backed pages come from the executable,
                # anonymous ones were never touched and read as zeros.
                from_exe = self._read_executable(address, size)
                return from_exe if from_exe else bytes(size)
        return self._read_executable(address, size)

    def _read_executable(self, address: int, size: int) -> bytes:
        if self._exe_file is None:
            return b""
        link_address = address - self._bias
        for vaddr, memsz, offset, filesz in self._exe_segments:
            if vaddr <= link_address < vaddr + memsz:
                delta = link_address - vaddr
                size = min(size, vaddr + memsz - link_address)
                if delta < filesz:
                    return self._exe_file.read(offset + delta, min(size, filesz - delta))
                return bytes(size)
        return b""

    def threads(self) -> list[Thread]:
        return list(self._threads)

    def executable(self) -> Optional[str]:
        return self._exe_path

    def core_path(self) -> Optional[str]:
        return self._core_path

    def load_bias(self) -> int:
        return self._bias

    def describe(self) -> str:
        return f"core {self._core_path} of {self._exe_path or '(unknown executable)'}"
