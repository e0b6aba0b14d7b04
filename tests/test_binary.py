"""GoBinary and the build-info reader, checked against the Go toolchain's own tools
(``go version -m``, ``go tool nm``, ``go tool buildid``) and ``readelf``."""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from goext_core.binary.buildinfo import MAGIC, BuildInfo, Module, go_version_tuple, read_buildinfo
from goext_core.binary.elf import GoBinary
from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from unit_data.pclnprog_fixture import Built, build_pclnprog


def _binary(built: Built) -> GoBinary:
    return GoBinary(str(built.path))


# -- ELF facts ------------------------------------------------------------------------


def test_elf_facts(go_version: str, flavour: str) -> None:
    built = build_pclnprog(go_version, flavour)
    with _binary(built) as binary:
        assert (binary.arch, binary.ptr_size, binary.byte_order) == ("amd64", 8, "little")
        assert not binary.is_pie
        text = binary.text_range()
        assert text is not None and text[0] <= binary.entry < text[1]
        assert binary.has_dwarf() == (flavour != "stripped")
        if flavour == "stripped":
            assert binary.symbols == {}
            assert binary.symbol("main.main") is None
        else:
            assert binary.symbol("_rt0_amd64_linux") == binary.entry
            nm = built.go("tool", "nm", str(built.path))
            main = re.search(r"^\s*([0-9a-f]+) T main\.main$", nm, re.M)
            assert main and binary.symbol("main.main") == int(main.group(1), 16)
            assert binary.symbol_size("main.main")


def test_pie(go_version: str) -> None:
    built = build_pclnprog(go_version, "pie-stripped")
    with _binary(built) as binary:
        assert binary.is_pie
        assert binary.buildinfo is not None
        if go_version != "1.19":  # -buildmode is recorded since Go 1.20
            assert binary.buildinfo.setting("-buildmode") == "pie"


@pytest.mark.flavours("default", "stripped")
def test_build_ids(go_version: str, flavour: str) -> None:
    built = build_pclnprog(go_version, flavour)
    with _binary(built) as binary:
        assert binary.go_build_id() == built.go("tool", "buildid", str(built.path)).strip()
        gnu = binary.gnu_build_id()
        readelf = shutil.which("readelf")
        if readelf:
            notes = subprocess.run([readelf, "-n", str(built.path)], capture_output=True, text=True).stdout
            match = re.search(r"Build ID: ([0-9a-f]+)", notes)
            assert gnu == (match.group(1) if match else None)
        else:
            assert gnu is None or re.fullmatch(r"[0-9a-f]{40}", gnu)


def test_go_build_id_without_note(tmp_path: Path, matrix) -> None:
    """Without the note (e.g. removed by objcopy) the raw marker near the file start is used."""
    built = build_pclnprog(matrix.newest(), "stripped")
    with _binary(built) as binary:
        expected = binary.go_build_id()
        note = binary.section(".note.go.buildid")
        assert note is not None and expected
    data = bytearray(built.path.read_bytes())
    data[note.offset : note.offset + note.size] = bytes(note.size)
    path = tmp_path / "nonote"
    path.write_bytes(data)
    with GoBinary(str(path)) as binary:
        assert binary.go_build_id() is None  # ELF builds keep the id in the note only
    marker = b'\xff Go build ID: "' + expected.encode() + b'"\n \xff'
    data[note.offset : note.offset + len(marker)] = marker
    path.write_bytes(data)
    with GoBinary(str(path)) as binary:
        assert binary.go_build_id() == expected


@pytest.mark.flavours("default")
def test_sections_and_static_reads(go_version: str, flavour: str) -> None:
    built = build_pclnprog(go_version, flavour)
    with _binary(built) as binary:
        rodata = binary.section(".rodata")
        assert rodata is not None and rodata.allocated
        assert binary.read_static(rodata.address, 4096) == binary.section_data(".rodata")[:4096]
        view = binary.section_view(".rodata")
        assert view is not None and bytes(view[:64]) == binary.read_static(rodata.address, 64)
        bss = binary.section(".noptrbss")
        assert bss is not None
        assert binary.read_static(bss.address, 256) == bytes(256)
        assert binary.section_data(".noptrbss") == bytes(bss.size)
        # a read spanning the end of .data into .bss (same segment, file part then zero fill)
        data = binary.section(".data")
        assert data is not None
        span = binary.read_static(data.address + data.size - 8, 16)
        assert len(span) == 16
        with pytest.raises(MemoryReadError):
            binary.read_static(0x10, 8)
        with pytest.raises(MemoryReadError):
            binary.read_static(binary.segments[-1].end, 1)
        assert binary.section(".no.such") is None and binary.section_data(".no.such") is None
        assert binary.section_data(".debug_info")  # decompressed when SHF_COMPRESSED
        assert binary.go_version() == "go" + built.toolchain.full_version


# -- build info ------------------------------------------------------------------------


def _go_version_m(built: Built) -> tuple[str, list[str]]:
    lines = built.go("version", "-m", str(built.path)).splitlines()
    version = lines[0].rsplit(": ", 1)[1].strip()
    return version, [line.removeprefix("\t") for line in lines[1:]]


@pytest.mark.flavours("default", "stripped")
def test_buildinfo_matches_go_version_m(go_version: str, flavour: str) -> None:
    built = build_pclnprog(go_version, flavour)
    version, lines = _go_version_m(built)
    with _binary(built) as binary:
        info = binary.buildinfo
    assert info is not None
    assert info.go_version == version == "go" + built.toolchain.full_version
    assert info.version_tuple == go_version_tuple(version)
    # `go version -m` re-prints the parsed module info: the same lines.
    assert info.modinfo.rstrip("\n").split("\n") == lines
    assert info.path == "example.com/pclnprog"
    assert info.main == Module("example.com/pclnprog", "(devel)", "")
    assert info.module_path == "example.com/pclnprog" and info.main_version == "(devel)"
    assert info.deps == []
    assert info.setting("GOARCH") == "amd64" and info.setting("GOOS") == "linux"
    assert info.setting("CGO_ENABLED") == "0"
    assert info.setting("-ldflags") == ("-s -w" if flavour == "stripped" else None)
    for key, value in info.settings:
        printed = next(
            line for line in lines if line.startswith(f"build\t{key}=") or line.startswith(f'build\t"{key}"=')
        )
        raw = printed.split("=", 1)[1]
        assert value == (raw[1:-1] if raw.startswith('"') else raw)


@pytest.mark.unit
def test_not_go(tmp_path: Path) -> None:
    path = tmp_path / "true"
    shutil.copy("/bin/true", path)
    with GoBinary(str(path)) as binary:
        assert binary.buildinfo is None
        assert binary.go_version() is None
        assert binary.go_build_id() is None
        assert binary.arch == "amd64"


@dataclass
class _FakeSegment:
    vaddr: int
    data: bytes
    writable: bool = True

    @property
    def end(self) -> int:
        return self.vaddr + len(self.data)


@dataclass
class _FakeSection:
    address: int
    size: int


@dataclass
class _FakeImage:
    """Just enough of GoBinary for read_buildinfo: segments laid out in one file."""

    segments: list[_FakeSegment]
    sections: dict[str, _FakeSection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mapped = b"".join(seg.data for seg in self.segments)

    def section(self, name: str) -> Optional[_FakeSection]:
        return self.sections.get(name)

    def segment_for(self, address: int) -> Optional[_FakeSegment]:
        return next((s for s in self.segments if s.vaddr <= address < s.end), None)

    def read_static(self, address: int, size: int) -> bytes:
        seg = self.segment_for(address)
        if seg is None or address + size > seg.end:
            raise MemoryReadError(address, size)
        return seg.data[address - seg.vaddr : address - seg.vaddr + size]

    def file_offset(self, address: int) -> Optional[int]:
        offset = 0
        for seg in self.segments:
            if seg.vaddr <= address < seg.end:
                return offset + address - seg.vaddr
            offset += len(seg.data)
        return None

    def data_ranges(self, writable: Optional[bool] = None):
        for seg in self.segments:
            if writable is None or seg.writable == writable:
                yield seg.vaddr, len(seg.data)


_SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")
_MODINFO = (
    "path\texample.com/cmd/tool\n"
    "mod\texample.com\tv1.2.3\th1:abc=\n"
    "dep\tgolang.org/x/text\tv0.3.0\th1:def=\n"
    "=>\t../text\t(devel)\t\n"
    "dep\tgithub.com/a/b\tv1.0.0\n"
    'build\t-ldflags="-X main.v=1 -s"\n'
    'build\t"key with space"=`raw value`\n'
    "build\tvcs.revision=0123abc\n"
    "build\tbad line without equals\n"
)


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _check_parsed(info: Optional[BuildInfo], version: str) -> None:
    assert info is not None
    assert info.go_version == version
    assert info.path == "example.com/cmd/tool"
    assert info.main == Module("example.com", "v1.2.3", "h1:abc=")
    assert info.deps == [Module("golang.org/x/text", "v0.3.0", "h1:def="), Module("github.com/a/b", "v1.0.0", "")]
    assert info.replacements == {"golang.org/x/text": Module("../text", "(devel)", "")}
    assert info.settings == [
        ("-ldflags", "-X main.v=1 -s"),
        ("key with space", "raw value"),
        ("vcs.revision", "0123abc"),
    ]


@pytest.mark.unit
@pytest.mark.parametrize("with_section", (True, False))
def test_buildinfo_inline_format(with_section: bool) -> None:
    """Go 1.18+: flags&2, varint-prefixed strings after the 32-byte header."""
    modinfo = _SENTINEL_START + _MODINFO.encode() + _SENTINEL_END
    header = MAGIC + bytes([8, 2]) + bytes(16)
    blob = bytes(48) + header + _uvarint(9) + b"go1.22.10" + _uvarint(len(modinfo)) + modinfo
    image = _FakeImage([_FakeSegment(0x400000, b"\x90" * 64, writable=False), _FakeSegment(0x500000, blob)])
    if with_section:
        image.sections[".go.buildinfo"] = _FakeSection(0x500000 + 48, len(blob) - 48)
    _check_parsed(read_buildinfo(image), "go1.22.10")  # type: ignore[arg-type]


@pytest.mark.unit
def test_buildinfo_pointer_format() -> None:
    """Go 1.13–1.17: two pointers to Go string headers."""
    modinfo = _SENTINEL_START + _MODINFO.encode() + _SENTINEL_END
    strings = bytearray()
    version_at = 0x600000
    modinfo_at = version_at + 16
    strings += b"go1.16.15".ljust(16, b"\0") + modinfo
    headers_at = 0x500100
    headers = struct.pack("<QQQQ", version_at, 9, modinfo_at, len(modinfo))
    header = MAGIC + bytes([8, 0]) + struct.pack("<QQ", headers_at, headers_at + 16)
    data = bytearray(0x200)
    data[0:32] = header
    data[0x100:0x120] = headers
    image = _FakeImage([_FakeSegment(0x500000, bytes(data)), _FakeSegment(0x600000, bytes(strings), writable=False)])
    image.sections[".go.buildinfo"] = _FakeSection(0x500000, 32)
    _check_parsed(read_buildinfo(image), "go1.16.15")  # type: ignore[arg-type]


@pytest.mark.unit
def test_buildinfo_garbage() -> None:
    header = MAGIC + bytes([8, 2]) + bytes(16)
    blob = header + b"\xff" * 12  # a varint that never ends
    image = _FakeImage([_FakeSegment(0x500000, blob)])
    with pytest.raises(CorruptDataError):
        read_buildinfo(image)  # type: ignore[arg-type]
    huge = header + _uvarint(1 << 40)
    with pytest.raises(CorruptDataError):
        read_buildinfo(_FakeImage([_FakeSegment(0x500000, huge)]))  # type: ignore[arg-type]
    misaligned = bytes(8) + MAGIC + bytes([8, 2]) + bytes(16)
    assert read_buildinfo(_FakeImage([_FakeSegment(0x500000, misaligned)])) is None  # type: ignore[arg-type]
    nomod = header + _uvarint(9) + b"go1.22.10" + _uvarint(0)
    info = read_buildinfo(_FakeImage([_FakeSegment(0x500000, nomod)]))  # type: ignore[arg-type]
    assert info is not None and info.go_version == "go1.22.10" and info.main is None


@pytest.mark.unit
def test_go_version_tuple() -> None:
    assert go_version_tuple("go1.22.10") == (1, 22, 10)
    assert go_version_tuple("go1.21") == (1, 21, 0)
    assert go_version_tuple("go1.27rc1") == (1, 27, 0)
    assert go_version_tuple("go1.24.0 X:boringcrypto") == (1, 24, 0)
    assert go_version_tuple("devel go1.23-8bba868 Tue Jan 2 15:04:05 2024 +0000") == (1, 23, 0)
    assert go_version_tuple("devel +abcdef") is None
    assert go_version_tuple("") is None


# -- bad files -------------------------------------------------------------------------


def _assert_corrupt(path: Path) -> None:
    with pytest.raises(GoextError) as caught:
        GoBinary(str(path))
    message = str(caught.value)
    assert message and "\n" not in message


def test_bad_files(tmp_path: Path, matrix) -> None:
    (tmp_path / "empty").write_bytes(b"")
    _assert_corrupt(tmp_path / "empty")
    (tmp_path / "text").write_text("#!/bin/sh\necho hello\n")
    _assert_corrupt(tmp_path / "text")
    rng = random.Random(3)
    (tmp_path / "random").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    _assert_corrupt(tmp_path / "random")
    (tmp_path / "fake-elf").write_bytes(b"\x7fELF" + bytes(rng.randrange(256) for _ in range(4096)))
    _assert_corrupt(tmp_path / "fake-elf")
    _assert_corrupt(tmp_path / "missing")
    with pytest.raises(CorruptDataError):
        GoBinary(str(tmp_path / "empty"))
    built = build_pclnprog(matrix.newest(), "stripped")
    data = built.path.read_bytes()
    for size in (16, 63, 64, 200, 4096, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{size}"
        path.write_bytes(data[:size])
        with pytest.raises(CorruptDataError) as caught:
            GoBinary(str(path))
        assert "\n" not in str(caught.value)


def test_random_header_damage(tmp_path: Path, matrix) -> None:
    """Flipping bytes in the ELF/program/section headers gives GoextError or a usable object."""
    built = build_pclnprog(matrix.newest(), "stripped")
    data = built.path.read_bytes()
    rng = random.Random(11)
    for trial in range(40):
        damaged = bytearray(data)
        for _ in range(4):
            damaged[rng.randrange(0, 64 + 56 * 8)] = rng.randrange(256)
        path = tmp_path / f"hdr{trial}"
        path.write_bytes(damaged)
        try:
            with GoBinary(str(path)) as binary:
                _ = binary.buildinfo  # properties parse on first use
                binary.go_build_id()
                _ = binary.symbols
        except GoextError as exc:
            assert "\n" not in str(exc)


def test_file_stays_usable_after_unlink(tmp_path: Path, matrix) -> None:
    """The file is mapped: deleting it after opening does not break reads."""
    built = build_pclnprog(matrix.newest(), "default")
    path = tmp_path / "copy"
    shutil.copy(built.path, path)
    binary = GoBinary(str(path))
    os.unlink(path)
    assert binary.buildinfo is not None
    assert binary.symbol("main.main")
    binary.close()
