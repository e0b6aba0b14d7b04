"""The Go build information blob (``.go.buildinfo``), as ``go version -m`` shows it.

Layout, from debug/buildinfo/buildinfo.go (Go 1.18–1.27) and
cmd/link/internal/ld/data.go (``buildinfo``):

* a 32-byte header, 16-byte aligned: the 14-byte magic ``"\\xff Go buildinf:"``,
  a pointer size byte (offset 14) and a flags byte (offset 15);
* flags & 2 ("inline", Go 1.18+): the Go version string and then the module
  info string follow the header, each prefixed by its length as a uvarint;
* otherwise (Go 1.13–1.17): two pointers at offset 16 and 16+ptrsize to Go
  string headers {data, len} holding the version and the module info; flags & 1
  says the pointers are big-endian.

The module info is runtime/debug.BuildInfo's text form wrapped in two 16-byte
sentinels; its lines are parsed like runtime/debug/mod.go ``ParseBuildInfo``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, Optional

from goext_core.binary.leb128 import TruncatedLeb128Error, read_uleb128
from goext_core.errors import CorruptDataError, MemoryReadError

if TYPE_CHECKING:
    from goext_core.binary.elf import GoBinary

MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_ALIGN = 16
_PTR_SIZE_OFFSET = 14
_FLAGS_OFFSET = 15
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2

# Bounds: the module info of a large program is tens of KB; 16 MB is absurd.
_MAX_STRING = 16 << 20
_MAX_SCAN = 64 << 20  # bytes of data segments scanned for the magic when the section is gone
_SCAN_CHUNK = 1 << 20
_SENTINEL_SIZE = 16


class Module(NamedTuple):
    """A module line of the build info: ``path version sum``."""

    path: str
    version: str
    sum: str = ""


@dataclass
class BuildInfo:
    """What ``go version -m`` prints for a binary."""

    go_version: str  # "go1.22.10"
    path: str = ""  # main package path ("example.com/cmd/tool")
    main: Optional[Module] = None  # main module, when built in module mode
    deps: list[Module] = field(default_factory=list)
    replacements: dict[str, Module] = field(default_factory=dict)  # module path -> replacement
    settings: list[tuple[str, str]] = field(default_factory=list)  # ("-ldflags", "-s -w"), ("GOARCH", "amd64")…
    modinfo: str = ""  # the raw module info text (without sentinels)

    @property
    def module_path(self) -> str:
        return self.main.path if self.main else ""

    @property
    def main_version(self) -> str:
        return self.main.version if self.main else ""

    def setting(self, key: str) -> Optional[str]:
        for name, value in self.settings:
            if name == key:
                return value
        return None

    @property
    def version_tuple(self) -> Optional[tuple[int, int, int]]:
        return go_version_tuple(self.go_version)


_VERSION_RE = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?")


def go_version_tuple(version: str) -> Optional[tuple[int, int, int]]:
    """(1, 22, 10) for "go1.22.10"; (1, 27, 0) for "go1.27rc1" or "go1.21";
    "devel go1.23-abc123 …" gives (1, 23, 0); None when no version number is present."""
    if not version:
        return None
    match = _VERSION_RE.search(version)
    if match is None:
        return None
    major, minor, patch = match.group(1), match.group(2), match.group(3)
    return int(major), int(minor), int(patch) if patch else 0


def read_buildinfo(binary: "GoBinary") -> Optional[BuildInfo]:
    """Parse the build info of ``binary``; None when it has none (pre-1.13 or not Go).

    Uses the ``.go.buildinfo`` section, else scans the writable data segments for
    the magic (bounded), as debug/buildinfo did before Go 1.22.
    """
    address = _find_header(binary)
    if address is None:
        return None
    try:
        header = binary.read_static(address, _HEADER_SIZE)
    except MemoryReadError:
        return None
    flags = header[_FLAGS_OFFSET]
    if flags & _FLAG_INLINE:
        version, cursor = _read_varint_string(binary, address + _HEADER_SIZE)
        modinfo, _ = _read_varint_string(binary, cursor)
    else:
        ptr_size = header[_PTR_SIZE_OFFSET]
        if ptr_size not in (4, 8):
            raise CorruptDataError(f"build info at {address:#x}: bad pointer size {ptr_size}")
        order: Literal["little", "big"] = "big" if flags & _FLAG_BIG_ENDIAN else "little"
        version_ptr = int.from_bytes(header[16 : 16 + ptr_size], order)
        modinfo_ptr = int.from_bytes(header[16 + ptr_size : 16 + 2 * ptr_size], order)
        version = _read_string_header(binary, version_ptr, ptr_size, order)
        modinfo = _read_string_header(binary, modinfo_ptr, ptr_size, order)
    if not version:
        return None
    info = BuildInfo(go_version=version)
    # Strip the 16-byte sentinels the linker wraps the module info in
    # (debug/buildinfo: `mod[16 : len(mod)-16]` when mod[len(mod)-17] == '\n').
    if len(modinfo) >= 2 * _SENTINEL_SIZE + 1 and modinfo[-_SENTINEL_SIZE - 1] == "\n":
        info.modinfo = modinfo[_SENTINEL_SIZE:-_SENTINEL_SIZE]
        _parse_modinfo(info.modinfo, info)
    return info


def _find_header(binary: "GoBinary") -> Optional[int]:
    section = binary.section(".go.buildinfo")
    if section is not None and section.size >= _HEADER_SIZE:
        try:
            if binary.read_static(section.address, len(MAGIC)) == MAGIC:
                return section.address
        except MemoryReadError:
            pass
    scanned = 0
    for start, size in binary.data_ranges(writable=True):
        found = _scan(binary, start, size, _MAX_SCAN - scanned)
        if found is not None:
            return found
        scanned += size
        if scanned >= _MAX_SCAN:
            break
    return None


def _scan(binary: "GoBinary", start: int, size: int, budget: int) -> Optional[int]:
    """First 16-byte aligned MAGIC in [start, start+size), reading at most ``budget`` bytes."""
    offset = binary.file_offset(start)
    if offset is None:
        return None
    size = min(size, budget, max(0, len(binary.mapped) - offset))
    data = binary.mapped
    cursor = offset
    end = offset + size
    while cursor < end:
        hit = data.find(MAGIC, cursor, end)
        if hit < 0:
            return None
        address = start + (hit - offset)
        if address % _ALIGN == 0:
            return address
        cursor = hit + 1
    return None


def _read_uvarint(data: bytes) -> tuple[int, int]:
    """(value, bytes used) of the uvarint at the start of ``data`` (at most 10 bytes)."""
    try:
        return read_uleb128(data, 0, 10)
    except TruncatedLeb128Error:
        raise CorruptDataError("build info: bad varint length") from None


def _read_varint_string(binary: "GoBinary", address: int) -> tuple[str, int]:
    segment = binary.segment_for(address)
    if segment is None:
        raise CorruptDataError(f"build info string at {address:#x} is outside the image")
    head = binary.read_static(address, min(10, segment.end - address))
    length, used = _read_uvarint(head)
    if length > _MAX_STRING:
        raise CorruptDataError(f"build info string at {address:#x} claims {length} bytes")
    if length == 0:
        return "", address + used
    try:
        data = binary.read_static(address + used, length)
    except MemoryReadError:
        raise CorruptDataError(f"build info string at {address:#x} runs past the data") from None
    return data.decode("utf-8", "replace"), address + used + length


def _read_string_header(binary: "GoBinary", address: int, ptr_size: int, order: Literal["little", "big"]) -> str:
    try:
        header = binary.read_static(address, 2 * ptr_size)
        data_ptr = int.from_bytes(header[:ptr_size], order)
        length = int.from_bytes(header[ptr_size:], order)
        if length > _MAX_STRING:
            raise CorruptDataError(f"build info string at {address:#x} claims {length} bytes")
        return binary.read_static(data_ptr, length).decode("utf-8", "replace") if length else ""
    except MemoryReadError:
        return ""


def _parse_modinfo(text: str, info: BuildInfo) -> None:
    """runtime/debug/mod.go ParseBuildInfo, lenient: malformed lines are skipped."""
    last: Optional[Module] = None
    for line in text.split("\n")[:100_000]:
        kind, _, rest = line.partition("\t")
        if kind == "path":
            info.path = rest
        elif kind in ("mod", "dep"):
            fields = rest.split("\t")
            if len(fields) not in (2, 3):
                last = None
                continue
            module = Module(fields[0], fields[1], fields[2] if len(fields) == 3 else "")
            if kind == "mod":
                info.main = module
            else:
                info.deps.append(module)
            last = module
        elif kind == "=>":
            fields = rest.split("\t")
            if last is not None and len(fields) == 3:
                info.replacements[last.path] = Module(fields[0], fields[1], fields[2])
            last = None
        elif kind == "build":
            setting = _parse_setting(rest)
            if setting is not None:
                info.settings.append(setting)


def _parse_setting(text: str) -> Optional[tuple[str, str]]:
    if not text or text[0] == "=":
        return None
    if text[0] in '"`':
        key, rest = _unquote_prefix(text)
        if key is None or not rest.startswith("="):
            return None
        raw_value = rest[1:]
    else:
        key, sep, raw_value = text.partition("=")
        if not sep:
            return None
    if raw_value[:1] in ('"', "`"):
        value, rest = _unquote_prefix(raw_value)
        if value is None:
            return None
        return key, value
    return key, raw_value


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def _unquote_prefix(text: str) -> tuple[Optional[str], str]:
    """Go strconv.QuotedPrefix + Unquote for a "…" or `…` literal at the start of ``text``."""
    if text.startswith("`"):
        end = text.find("`", 1)
        if end < 0:
            return None, text
        return text[1:end], text[end + 1 :]
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out), text[index + 1 :]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        code = text[index + 1 : index + 2]
        if code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
            index += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = text[index + 2 : index + 2 + width]
            try:
                out.append(chr(int(digits, 16)) if code != "x" else bytes([int(digits, 16)]).decode("latin-1"))
            except ValueError:
                return None, text
            index += 2 + width
        elif code[:1].isdigit():
            digits = text[index + 1 : index + 4]
            try:
                out.append(chr(int(digits, 8)))
            except ValueError:
                return None, text
            index += 4
        else:
            return None, text
    return None, text


__all__ = ["BuildInfo", "MAGIC", "Module", "go_version_tuple", "read_buildinfo"]
