"""binary/elftables.py and GoBinary's headers: hand-made ELF files of both
classes and byte orders, cut short, with absurd counts and damaged headers."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from goext_core.binary.elf import GoBinary
from goext_core.binary.elftables import (
    FileHeader,
    SectionNames,
    decompress_section,
    goarch,
    parse_file_header,
    program_headers,
    section_headers,
    section_in_image,
    section_type_name,
)
from goext_core.errors import CorruptDataError, GoextError

pytestmark = pytest.mark.unit

_SHF_ALLOC, _SHF_COMPRESSED = 0x2, 0x800
_PT_LOAD, _PT_NOTE = 1, 4


@dataclass
class _Section:
    name: str
    type: int
    data: bytes = b""
    flags: int = 0
    address: int = 0
    size: Optional[int] = None  # sh_size when it must differ from len(data)
    name_offset: Optional[int] = None  # sh_name when it must be wrong


@dataclass
class _Image:
    """An ELF file: header, program headers, section contents, .shstrtab, section headers."""

    is64: bool = True
    order: str = "little"
    machine: int = 62
    file_type: int = 2
    entry: int = 0x401000
    sections: list[_Section] = field(default_factory=list)
    segments: list[tuple[int, int, int, int, int, int]] = field(
        default_factory=list
    )  # type, flags, off, vaddr, filesz, memsz
    shnum: Optional[int] = None
    shentsize: Optional[int] = None
    shstrndx: Optional[int] = None
    phnum: Optional[int] = None

    def build(self) -> bytes:
        bo = "<" if self.order == "little" else ">"
        header_size, ph_size, sh_size = (64, 56, 64) if self.is64 else (52, 32, 40)
        body = bytearray(header_size + ph_size * len(self.segments))
        names = bytearray(b"\0")
        name_offsets = []
        for section in self.sections:
            name_offsets.append(len(names))
            names += section.name.encode() + b"\0"
        shstrtab_name = len(names)
        names += b".shstrtab\0"
        offsets = []
        for section in self.sections:
            body += bytes(-len(body) % 8)
            offsets.append(len(body))
            body += section.data
        names_at = len(body)
        body += names
        body += bytes(-len(body) % 8)
        shoff = len(body)
        entries = [(0, 0, 0, 0, 0, 0, 0)]  # the null section
        for section, offset, name_offset in zip(self.sections, offsets, name_offsets):
            size = len(section.data) if section.size is None else section.size
            name = name_offset if section.name_offset is None else section.name_offset
            entries.append((name, section.type, section.flags, section.address, offset, size, 0))
        entries.append((shstrtab_name, 3, 0, 0, names_at, len(names), 0))
        count, names_index = len(entries), len(entries) - 1
        if count >= 0xFF00:  # extended numbering: section 0 holds the count and the names' index
            entries[0] = (0, 0, 0, 0, 0, count, names_index)
            count, names_index = 0, 0xFFFF
        for name, kind, flags, address, offset, size, link in entries:
            fields = (name, kind, flags, address, offset, size, link, 0, 1, 0)
            body += struct.pack(bo + ("IIQQQQIIQQ" if self.is64 else "IIIIIIIIII"), *fields)
        ident = b"\x7fELF" + bytes([2 if self.is64 else 1, 1 if self.order == "little" else 2, 1]) + bytes(9)
        header = struct.pack(
            bo + ("HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH"),
            self.file_type,
            self.machine,
            1,
            self.entry,
            header_size if self.segments else 0,
            shoff,
            0,
            header_size,
            ph_size,
            len(self.segments) if self.phnum is None else self.phnum,
            sh_size if self.shentsize is None else self.shentsize,
            count if self.shnum is None else self.shnum,
            names_index if self.shstrndx is None else self.shstrndx,
        )
        body[: len(ident) + len(header)] = ident + header
        for index, (kind, flags, offset, vaddr, filesz, memsz) in enumerate(self.segments):
            if self.is64:
                record = struct.pack(bo + "IIQQQQQQ", kind, flags, offset, vaddr, vaddr, filesz, memsz, 0x1000)
            else:
                record = struct.pack(bo + "IIIIIIII", kind, offset, vaddr, vaddr, filesz, memsz, flags, 0x1000)
            at = header_size + index * ph_size
            body[at : at + ph_size] = record
        return bytes(body)


def _compressed(payload: bytes, is64: bool, order: str, kind: int = 1, size: Optional[int] = None) -> bytes:
    bo = "<" if order == "little" else ">"
    claimed = len(payload) if size is None else size
    chdr = struct.pack(bo + "IIQQ", kind, 0, claimed, 1) if is64 else struct.pack(bo + "III", kind, claimed, 1)
    return chdr + zlib.compress(payload)


def _sample(is64: bool, order: str, machine: int = 62) -> _Image:
    text = b"\x90" * 64
    image = _Image(is64=is64, order=order, machine=machine)
    image.sections = [
        _Section(".text", 1, text, _SHF_ALLOC | 0x4, 0x401000),
        _Section(".noptrdata", 1, b"hello, world\0", _SHF_ALLOC | 0x1, 0x402000),
        _Section(".bss", 8, b"", _SHF_ALLOC | 0x1, 0x403000, size=0x100),
        _Section(".debug_line", 1, _compressed(b"line program" * 10, is64, order), _SHF_COMPRESSED),
        _Section(".odd", 0x12345678, b"x"),
    ]
    return image


def _with_text_segment(image: _Image) -> bytes:
    """The image with one PT_LOAD over .text (its offset known after a first build)."""
    image.segments = [(_PT_LOAD, 5, 0, 0x401000, 0, 0), (_PT_NOTE, 4, 0, 0, 0, 0)]  # sizes the table
    data = image.build()
    text_at = data.index(b"\x90" * 64)
    image.segments = [(_PT_LOAD, 5, text_at, 0x401000, 64, 64), (_PT_NOTE, 4, 0, 0, 0, 0)]
    return image.build()


def _reader(data: bytes):  # type: ignore[no-untyped-def]
    return lambda offset, size: data[offset : offset + size] if offset >= 0 and size > 0 else b""


def _write(tmp_path: Path, data: bytes, name: str = "exe") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("order", ["little", "big"])
def test_headers_of_both_classes_and_byte_orders(tmp_path: Path, is64: bool, order: str) -> None:
    data = _with_text_segment(_sample(is64, order, machine=22 if order == "big" else 62))
    header = parse_file_header(_reader(data), len(data))
    assert (header.is_64, header.byte_order, header.file_type, header.entry) == (is64, order, 2, 0x401000)
    segments = program_headers(_reader(data), header, len(data))
    assert [(s.type, s.vaddr, s.filesz, s.flags) for s in segments] == [(1, 0x401000, 64, 5), (4, 0, 0, 4)]
    names = SectionNames(_reader(data), header, len(data))
    listed = [(names.name(s.name_offset), s.type_name) for _, s in section_headers(_reader(data), header, 100)]
    assert listed == [
        ("", "SHT_NULL"),
        (".text", "SHT_PROGBITS"),
        (".noptrdata", "SHT_PROGBITS"),
        (".bss", "SHT_NOBITS"),
        (".debug_line", "SHT_PROGBITS"),
        (".odd", "SHT_0x12345678"),
        (".shstrtab", "SHT_STRTAB"),
    ]
    with GoBinary(_write(tmp_path, data)) as binary:
        assert binary.arch == ("s390x" if order == "big" else "amd64")
        assert (binary.ptr_size, binary.byte_order, binary.is_pie) == (8 if is64 else 4, order, False)
        assert binary.read_static(0x401000, 4) == b"\x90" * 4
        assert binary.section_data(".noptrdata") == b"hello, world\0"
        assert binary.section_data(".bss") == bytes(0x100)
        assert binary.section_data(".debug_line") == b"line program" * 10
        assert binary.section(".odd") is not None and binary.section(".odd").type == "SHT_0x12345678"  # type: ignore[union-attr]
        assert binary.notes == []
        assert section_in_image(data, ".debug_line") == b"line program" * 10
        assert section_in_image(data, ".missing") is None


@pytest.mark.parametrize(
    ("machine", "is64", "order", "expected"),
    [
        (62, True, "little", "amd64"),
        (3, False, "little", "386"),
        (183, True, "little", "arm64"),
        (40, False, "little", "arm"),
        (21, True, "big", "ppc64"),
        (21, True, "little", "ppc64le"),
        (22, True, "big", "s390x"),
        (243, True, "little", "riscv64"),
        (258, True, "little", "loong64"),
        (8, False, "big", "mips"),
        (8, False, "little", "mipsle"),
        (8, True, "big", "mips64"),
        (8, True, "little", "mips64le"),
        (2, True, "big", "elf-machine-2"),
    ],
)
def test_goarch(machine: int, is64: bool, order: str, expected: str) -> None:
    assert goarch(machine, is64, order) == expected  # type: ignore[arg-type]


def test_section_type_names_are_stable() -> None:
    assert section_type_name(0x6FFFFFF6) == "SHT_GNU_HASH"
    assert section_type_name(11) == "SHT_DYNSYM"
    assert section_type_name(0x70000001) == "SHT_0x70000001"


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("order", ["little", "big"])
def test_every_truncation_is_one_line_error(tmp_path: Path, is64: bool, order: str) -> None:
    """The section header table comes last: any cut loses part of it."""
    data = _with_text_segment(_sample(is64, order))
    for size in range(0, len(data)):
        with pytest.raises(CorruptDataError) as caught:
            GoBinary(_write(tmp_path, data[:size], f"cut{size}"))
        message = str(caught.value)
        assert "\n" not in message
        if size < 16:
            assert "not an ELF file" in message
        elif size < (64 if is64 else 52):
            assert "truncated: the ELF header needs" in message, message
        else:
            assert "truncated:" in message, message


def test_bad_identification(tmp_path: Path) -> None:
    data = bytearray(_with_text_segment(_sample(True, "little")))
    for at, value, expected in ((0, 0x7E, "bad magic"), (4, 5, "invalid EI_CLASS 5"), (5, 0, "invalid EI_DATA 0")):
        damaged = bytearray(data)
        damaged[at] = value
        with pytest.raises(CorruptDataError, match=expected):
            GoBinary(_write(tmp_path, bytes(damaged)))


def test_absurd_program_header_count(tmp_path: Path) -> None:
    image = _sample(True, "little")
    data = _with_text_segment(image)
    image.phnum = 0xFFFE
    with pytest.raises(CorruptDataError, match="truncated: its program headers end at byte"):
        GoBinary(_write(tmp_path, image.build()))
    header = parse_file_header(_reader(data), len(data))
    huge = FileHeader(**{**header.__dict__, "phnum": 1 << 30})
    with pytest.raises(CorruptDataError, match="absurd number of program headers"):
        program_headers(_reader(data), huge, len(data))


def test_absurd_section_header_count(tmp_path: Path) -> None:
    image = _sample(False, "big")
    image.shnum = 0xFFF0
    with pytest.raises(CorruptDataError, match="truncated: its section headers end at byte"):
        GoBinary(_write(tmp_path, image.build()))


def test_more_sections_than_the_limit(tmp_path: Path) -> None:
    image = _Image()
    image.sections = [_Section(".s", 1, b"") for _ in range(70_000)]
    with GoBinary(_write(tmp_path, image.build())) as binary:
        assert len(binary.sections()) == 1 << 16
        assert any("more than 65536 section headers" in note for note in binary.notes)


def test_damaged_section_headers_cost_sections_not_the_binary(tmp_path: Path) -> None:
    image = _sample(True, "little")
    image.sections[1].name_offset = 1 << 20  # .noptrdata's name lies outside .shstrtab
    image.sections[4].size = 1 << 40  # .odd runs past the end of the file, from inside it
    with pytest.raises(CorruptDataError, match="truncated: section .odd needs"):
        GoBinary(_write(tmp_path, image.build()))
    image.sections[4] = _Section(".odd", 1, b"", size=16)
    data = bytearray(image.build())
    odd = len(data) - 64 * 2  # its header is the one before .shstrtab's
    struct.pack_into("<Q", data, odd + 24, len(data) + 4096)  # sh_offset past the end of the file
    with GoBinary(_write(tmp_path, bytes(data))) as binary:
        names = [s.name for s in binary.sections()]
        assert ".noptrdata" not in names and ".odd" not in names and ".text" in names
        assert any("section header 2 is damaged" in note for note in binary.notes), binary.notes
        assert any("section .odd runs past the end of the file" in note for note in binary.notes), binary.notes


@pytest.mark.parametrize(
    ("field", "value", "expected"), [("shentsize", 10, "entries of 10 bytes"), ("shstrndx", 500, "index 500")]
)
def test_unreadable_section_table_keeps_the_binary(tmp_path: Path, field: str, value: int, expected: str) -> None:
    image = _sample(True, "little")
    data = _with_text_segment(image)
    setattr(image, field, value)
    data = image.build()
    with GoBinary(_write(tmp_path, data)) as binary:
        assert binary.sections() == []
        assert binary.read_static(0x401000, 2) == b"\x90\x90"
        assert any("section headers are unreadable" in note and expected in note for note in binary.notes), binary.notes


def test_extended_section_numbering() -> None:
    """e_shnum 0 and e_shstrndx SHN_XINDEX: section 0 holds the real values."""
    image = _sample(True, "little")
    data = bytearray(image.build())
    header = parse_file_header(_reader(bytes(data)), len(data))
    count, names_index = header.shnum, header.shstrndx
    struct.pack_into("<HH", data, 60, 0, 0xFFFF)  # e_shnum, e_shstrndx
    struct.pack_into("<Q", data, header.shoff + 32, count)  # section 0's sh_size
    struct.pack_into("<I", data, header.shoff + 40, names_index)  # section 0's sh_link
    extended = parse_file_header(_reader(bytes(data)), len(data))
    assert (extended.shnum, extended.shstrndx) == (count, names_index)
    assert section_in_image(bytes(data), ".noptrdata") == b"hello, world\0"


def test_compressed_sections() -> None:
    payload = b"abc" * 100
    assert decompress_section(_compressed(payload, False, "big"), False, "big") == payload
    with pytest.raises(CorruptDataError, match="compression type 2"):
        decompress_section(_compressed(payload, True, "little", kind=2), True, "little")
    with pytest.raises(CorruptDataError, match="decompresses to 300 bytes, its header says 400"):
        decompress_section(_compressed(payload, True, "little", size=400), True, "little")
    with pytest.raises(CorruptDataError, match="claims"):
        decompress_section(_compressed(payload, True, "little", size=1 << 40), True, "little")
    with pytest.raises(CorruptDataError, match="does not decompress"):
        decompress_section(_compressed(payload, True, "little")[:24] + b"\xff" * 8, True, "little")
    with pytest.raises(CorruptDataError, match="compression header is truncated"):
        decompress_section(b"\x01\x00", True, "little")


def test_bad_compressed_section_is_an_error_of_that_section(tmp_path: Path) -> None:
    image = _sample(True, "little")
    image.sections[3].data = image.sections[3].data[:30]
    with GoBinary(_write(tmp_path, image.build())) as binary:
        with pytest.raises(GoextError, match="section .debug_line: "):
            binary.section_data(".debug_line")
        assert binary.section_data(".noptrdata") == b"hello, world\0"


def test_no_section_headers_at_all(tmp_path: Path) -> None:
    """Section headers are optional (e_shoff 0, as after sstrip): no sections, no note."""
    data = bytearray(_with_text_segment(_sample(True, "little")))
    struct.pack_into("<QIHHHHHH", data, 40, 0, 0, 64, 56, 2, 0, 0, 0)  # e_shoff .. e_shstrndx
    with GoBinary(_write(tmp_path, bytes(data))) as binary:
        assert binary.sections() == [] and binary.notes == []
        assert binary.read_static(0x401000, 1) == b"\x90"
