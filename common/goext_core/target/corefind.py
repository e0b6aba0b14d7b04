"""Find the executable that produced a core, and say clearly when one does not match.

The kernel dumps the first page of every mapped ELF file, so a core carries
the executable's ELF and program headers and, for Go binaries, the notes in
that page: the Go build-id (``.note.go.buildid``) and, when the linker wrote
one, the GNU build-id.  The NT_FILE note names the file that was mapped.

:func:`find_executable` tries, in order: the NT_FILE path (when its build-ids
match), files of the same name in a few directories (the core's, the current
one, ``$GOEXT_EXE_PATH``), and debuginfod's ``/buildid/ID/executable``.
:func:`check_executable` explains a mismatch in one line (build-ids, Go
versions) instead of letting the analysis print garbage.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Iterable, Optional

from goext_core.binary import debuginfod
from goext_core.binary.elf import GoBinary
from goext_core.binary.elftables import ET_CORE, PT_LOAD, PT_NOTE, file_reader, parse_file_header, program_headers
from goext_core.errors import CorruptDataError, GoextError
from goext_core.target import ByteOrder
from goext_core.target.core import MAX_NOTE_SEGMENT_BYTES, NT_FILE, CoreTarget, iter_core_notes, parse_nt_file
from goext_core.target.regularfile import open_regular_file, require_regular_file

_PAGE = 4096
_NT_GNU_BUILD_ID = 3
_NT_GO_BUILD_ID = 4  # cmd/link/internal/ld/elf.go ELF_NOTE_GOBUILDID_TAG
_MAX_CANDIDATES = 200  # files looked at per directory
_MAX_NOTES = 64


@dataclass(frozen=True)
class CoreIdentity:
    """What a core says about its main executable."""

    path: Optional[str]  # as mapped (NT_FILE), may not exist any more
    go_build_id: Optional[str]
    gnu_build_id: Optional[str]

    def describe(self) -> str:
        ids = [
            f"Go build-id {self.go_build_id}" if self.go_build_id else "",
            f"GNU build-id {self.gnu_build_id}" if self.gnu_build_id else "",
        ]
        text = ", ".join(part for part in ids if part) or "no build-id"
        return f"{self.path or 'an unknown executable'} ({text})"


def core_identity(core: str) -> CoreIdentity:
    """Executable path and build-ids recorded in ``core``.  A damaged NT_FILE
    note only loses the path and build-ids (an unknown identity), since the
    core's memory may still be fine."""
    try:
        with open_regular_file(core, "core") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            read = file_reader(handle.fileno(), file_size)
            try:
                header = parse_file_header(read, file_size)
                segments = program_headers(read, header, file_size) if header.file_type == ET_CORE else []
            except CorruptDataError as exc:
                raise CorruptDataError(f"core {core}: {exc}") from None
            if header.file_type != ET_CORE:
                raise CorruptDataError(f"{core} is not a core file")
            byte_order: ByteOrder = header.byte_order
            ptr_size = header.ptr_size
            loads: list[tuple[int, int, int]] = []  # vaddr, file offset, file size
            notes: list[tuple[int, int]] = []  # file offset, size
            for segment in segments:
                if segment.type == PT_LOAD:
                    loads.append((segment.vaddr, segment.offset, segment.filesz))
                elif segment.type == PT_NOTE:
                    notes.append((segment.offset, segment.filesz))
            mappings: list[tuple[int, int, str]] = []  # start, file offset, path
            for offset, size in notes:
                handle.seek(offset)
                data = handle.read(min(size, MAX_NOTE_SEGMENT_BYTES))
                try:
                    for owner, kind, desc in iter_core_notes(data, byte_order, ptr_size):
                        if owner == b"CORE" and kind == NT_FILE:
                            mappings += [
                                (m.start, m.file_offset, m.path) for m in parse_nt_file(desc, ptr_size, byte_order)
                            ]
                except CorruptDataError:
                    pass  # CoreTarget reports the damage; here it only hides the identity
            main = next(((start, path) for start, offset, path in mappings if offset == 0), None)
            if main is None:
                return CoreIdentity(None, None, None)
            head = b""
            for vaddr, offset, size in loads:
                if vaddr == main[0] and size >= 64:
                    handle.seek(offset)
                    head = handle.read(min(size, _PAGE))
                    break
            go_id, gnu_id = _ids_from_first_page(head)
            return CoreIdentity(main[1], go_id, gnu_id)
    except OSError as exc:
        raise GoextError(f"cannot read core {core}: {exc.strerror or exc}") from None


def _ids_from_first_page(head: bytes) -> tuple[Optional[str], Optional[str]]:
    """Build-ids from the notes inside the first page of an ELF image."""
    if len(head) < 64 or head[:4] != b"\x7fELF":
        return None, None
    is64 = head[4] == 2
    endian = "<" if head[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(endian + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
    else:
        (phoff,) = struct.unpack_from(endian + "I", head, 28)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 42)
    go_id = gnu_id = None
    for index in range(min(phnum, 64)):
        at = phoff + index * phentsize
        if at + phentsize > len(head):
            break
        if struct.unpack_from(endian + "I", head, at)[0] != PT_NOTE:
            continue
        if is64:
            (offset,) = struct.unpack_from(endian + "Q", head, at + 8)
            (size,) = struct.unpack_from(endian + "Q", head, at + 32)
        else:
            (offset,) = struct.unpack_from(endian + "I", head, at + 4)
            (size,) = struct.unpack_from(endian + "I", head, at + 16)
        for owner, kind, desc in _notes(head[offset : min(offset + size, len(head))], endian):
            if owner == b"Go" and kind == _NT_GO_BUILD_ID:
                go_id = desc.decode("utf-8", "replace")
            elif owner == b"GNU" and kind == _NT_GNU_BUILD_ID:
                gnu_id = desc.hex()
    return go_id, gnu_id


def _notes(data: bytes, endian: str) -> Iterable[tuple[bytes, int, bytes]]:
    at = 0
    for _ in range(_MAX_NOTES):
        if at + 12 > len(data):
            return
        namesz, descsz, kind = struct.unpack_from(endian + "III", data, at)
        name_at = at + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        end = desc_at + (descsz + 3) // 4 * 4
        if desc_at + descsz > len(data):
            return
        yield data[name_at : name_at + namesz].rstrip(b"\0"), kind, data[desc_at : desc_at + descsz]
        at = end


def _binary_ids(path: str) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(Go build-id, GNU build-id, Go version) of an executable, or Nones."""
    try:
        with GoBinary(path) as binary:
            return binary.go_build_id(), binary.gnu_build_id(), binary.go_version()
    except GoextError:
        return None, None, None


def _matches(identity: CoreIdentity, path: str) -> bool:
    go_id, gnu_id, _ = _binary_ids(path)
    if identity.go_build_id is None and identity.gnu_build_id is None:
        return False
    if identity.go_build_id is not None and go_id != identity.go_build_id:
        return False
    if identity.gnu_build_id is not None and gnu_id != identity.gnu_build_id:
        return False
    return True


def _search_dirs(core: str, identity: CoreIdentity, extra: Iterable[str]) -> list[str]:
    dirs = list(extra)
    dirs += [d for d in os.environ.get("GOEXT_EXE_PATH", "").split(os.pathsep) if d]
    dirs.append(os.path.dirname(os.path.abspath(core)))
    dirs.append(os.getcwd())
    if identity.path:
        dirs.append(os.path.dirname(identity.path))
    unique: list[str] = []
    for directory in dirs:
        if directory not in unique and os.path.isdir(directory):
            unique.append(directory)
    return unique


def find_executable(core: str, search: Iterable[str] = ()) -> str:
    """Path of the executable whose build-ids the core carries; GoextError
    (one line, saying what was tried) when none is found."""
    identity = core_identity(core)
    if (
        identity.path
        and os.path.isfile(identity.path)
        and (_matches(identity, identity.path) or (identity.go_build_id is None and identity.gnu_build_id is None))
    ):
        return identity.path
    base = os.path.basename(identity.path) if identity.path else None
    for directory in _search_dirs(core, identity, search):
        try:
            names = sorted(os.listdir(directory))[:_MAX_CANDIDATES]
        except OSError:
            continue
        preferred = [n for n in names if n == base or n == "exe"] + [n for n in names if n != base and n != "exe"]
        for name in preferred:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and _is_elf_executable(candidate) and _matches(identity, candidate):
                return candidate
    if identity.gnu_build_id:
        try:
            fetched = debuginfod.fetch_executable(identity.gnu_build_id)
        except GoextError:
            fetched = None
        if fetched:
            return fetched
    where = (
        "the core names no executable"
        if not identity.path
        else (
            f"{identity.path} is missing"
            if not os.path.exists(identity.path)
            else f"{identity.path} is a different build"
        )
    )
    raise GoextError(
        f"cannot find the executable of {core}: {where}; it was {identity.describe()}; give the executable explicitly"
    )


def _is_elf_executable(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(18)
    except OSError:
        return False
    return len(head) == 18 and head[:4] == b"\x7fELF" and head[16] in (2, 3)  # ET_EXEC, ET_DYN


def check_executable(executable: str, core: str) -> None:
    """Raise GoextError in one line when ``executable`` did not produce ``core``
    (different build-ids; the Go versions are named when they differ)."""
    identity = core_identity(core)
    if identity.go_build_id is None and identity.gnu_build_id is None:
        return  # nothing to compare: CoreTarget's first-page check still applies
    if _matches(identity, executable):
        return
    go_id, gnu_id, version = _binary_ids(executable)
    core_version = _binary_ids(identity.path)[2] if identity.path and os.path.isfile(identity.path) else None
    versions = ""
    if version and core_version and version != core_version:
        versions = f"; Go versions differ: {version} here, {core_version} in the core's executable"
    mine = (
        ", ".join(p for p in (f"Go build-id {go_id}" if go_id else "", f"GNU build-id {gnu_id}" if gnu_id else "") if p)
        or "no build-id"
    )
    raise GoextError(
        f"{executable} does not match the core {core}: it has {mine} "
        f"({version or 'unknown Go version'}), the core was made by {identity.describe()}{versions}"
    )


def open_core(core: str, executable: Optional[str] = None, search: Iterable[str] = ()) -> "CoreTarget":
    """CoreTarget for ``core``: the executable found when not given, checked when given."""
    # Refused before anything reads them: a FIFO or device would block or never end.
    require_regular_file(core, "core")
    if executable:
        require_regular_file(executable, "executable")
    if executable:
        check_executable(executable, core)
    else:
        executable = find_executable(core, search)
    return CoreTarget(executable, core)


__all__ = ["CoreIdentity", "check_executable", "core_identity", "find_executable", "open_core"]
