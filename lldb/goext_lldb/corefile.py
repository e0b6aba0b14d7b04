"""Find the core file lldb has open, by looking at this process's own mappings."""

from __future__ import annotations

import os
from typing import Iterator, Optional

from goext_core.binary.elfheader import read_elf_header
from goext_core.binary.elftables import PT_NOTE, file_reader, parse_file_header, program_headers
from goext_core.errors import CorruptDataError
from goext_core.target.core import MAX_NOTE_SEGMENT_BYTES, iter_core_notes

_MAX_MAP_LINES = 200_000  # a debugger with more mappings than this is not plausible
_MAX_NOTES = 10_000
_NT_PRPSINFO = 3  # include/uapi/linux/elf.h
_UID16_MACHINES = (3, 40)  # EM_386, EM_ARM (ELF gABI machine numbers)


def find_mapped_core(pid: int) -> Optional[str]:
    """Path of the ELF core mapped into this process for process ``pid``.

    With one mapped core that is the answer; with several (several targets),
    the one whose NT_PRPSINFO names ``pid``.
    """
    cores = [path for path in _mapped_files() if _is_elf_core(path)]
    if len(cores) <= 1:
        return cores[0] if cores else None
    for path in cores:
        if _core_pid(path) == pid:
            return path
    return None


def _mapped_files() -> Iterator[str]:
    seen: set[str] = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for count, line in enumerate(maps):
                if count >= _MAX_MAP_LINES:
                    break
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/"):
                    path = fields[5].rstrip("\n")
                    if path not in seen:
                        seen.add(path)
                        yield path
    except OSError:
        return


def _is_elf_core(path: str) -> bool:
    header = read_elf_header(path)
    return header is not None and header.is_core


def _core_pid(path: str) -> Optional[int]:
    """pr_pid of the core's NT_PRPSINFO note, None when the core has none or is damaged."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            read = file_reader(stream.fileno(), size)
            header = parse_file_header(read, size)
            for segment in program_headers(read, header, size):
                if segment.type != PT_NOTE:
                    continue
                data = read(segment.offset, min(segment.filesz, MAX_NOTE_SEGMENT_BYTES))
                for count, (owner, kind, desc) in enumerate(iter_core_notes(data, header.byte_order, header.ptr_size)):
                    if count >= _MAX_NOTES:
                        break
                    if owner == b"CORE" and kind == _NT_PRPSINFO:
                        at = _prpsinfo_pid_offset(header.is_64, header.machine)
                        return int.from_bytes(desc[at : at + 4], header.byte_order) if len(desc) >= at + 4 else None
    except (OSError, CorruptDataError):
        return None
    return None


def _prpsinfo_pid_offset(is_64: bool, machine: int) -> int:
    """Where pr_pid lies in struct elf_prpsinfo (include/uapi/linux/elfcore.h):
    four chars, pr_flag (an unsigned long, 8-aligned on 64-bit), pr_uid and
    pr_gid (16-bit __kernel_uid_t on i386 and arm, arch/*/include/uapi/asm/posix_types*.h)."""
    if is_64:
        return 24
    return 12 if machine in _UID16_MACHINES else 16
