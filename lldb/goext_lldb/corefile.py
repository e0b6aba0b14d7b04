"""Find the core file lldb has open, by looking at this process's own mappings."""

from __future__ import annotations

from typing import Iterator, Optional

from goext_core.binary.elfheader import read_elf_header

_MAX_MAP_LINES = 200_000  # a debugger with more mappings than this is not plausible
_MAX_NOTES = 10_000


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
    try:
        from elftools.elf.elffile import ELFFile  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        with open(path, "rb") as stream:
            for segment in ELFFile(stream).iter_segments():
                if segment["p_type"] != "PT_NOTE":
                    continue
                for count, note in enumerate(segment.iter_notes()):
                    if count >= _MAX_NOTES:
                        break
                    if note["n_type"] == "NT_PRPSINFO":
                        return int(note["n_desc"]["pr_pid"])
    except Exception:
        return None
    return None
