"""The ELF header, program headers and section headers, parsed without pyelftools.

Layouts and numbers are those of the System V gABI (chapter 4, "Object
Files": Elf32_Ehdr/Elf64_Ehdr, Elf32_Phdr/Elf64_Phdr, Elf32_Shdr/Elf64_Shdr)
and of Go's ``debug/elf`` (elf.go), which names the same numbers.  Every
function reads through a ``read(offset, size)`` callable, so a memory-mapped
executable and a core read with pread share the code; a read past the end of
the file returns short.  Damage raises :class:`CorruptDataError` with one line.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Union

from goext_core.errors import CorruptDataError
from goext_core.target import ByteOrder

if TYPE_CHECKING:
    import mmap

ReadAt = Callable[[int, int], bytes]


def buffer_reader(data: Union[bytes, "mmap.mmap"]) -> ReadAt:
    """A ``read`` over a file held in memory (mapped, or an image built in memory)."""

    def read(offset: int, size: int) -> bytes:
        return data[offset : offset + size] if offset >= 0 and size > 0 else b""

    return read


def file_reader(fd: int, file_size: int) -> ReadAt:
    """A ``read`` over an open file of ``file_size`` bytes, with pread (an I/O error raises OSError)."""

    def read(offset: int, size: int) -> bytes:
        return os.pread(fd, size, offset) if 0 <= offset < file_size and size > 0 else b""

    return read


ELF_MAGIC = b"\x7fELF"
_ELFCLASS32 = 1
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ELFDATA2MSB = 2

# e_type (gABI; debug/elf ET_*).
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4
_TYPE_NAMES = {0: "ET_NONE", 1: "ET_REL", ET_EXEC: "ET_EXEC", ET_DYN: "ET_DYN", ET_CORE: "ET_CORE"}

# p_type (gABI; debug/elf PT_*).
PT_LOAD = 1
PT_NOTE = 4

SHT_NOBITS = 8

# sh_type (gABI and the GNU extensions; debug/elf SHT_*): the names the rest
# of goext compares Section.type with.
_SECTION_TYPE_NAMES = {
    0: "SHT_NULL",
    1: "SHT_PROGBITS",
    2: "SHT_SYMTAB",
    3: "SHT_STRTAB",
    4: "SHT_RELA",
    5: "SHT_HASH",
    6: "SHT_DYNAMIC",
    7: "SHT_NOTE",
    8: "SHT_NOBITS",
    9: "SHT_REL",
    10: "SHT_SHLIB",
    11: "SHT_DYNSYM",
    14: "SHT_INIT_ARRAY",
    15: "SHT_FINI_ARRAY",
    16: "SHT_PREINIT_ARRAY",
    17: "SHT_GROUP",
    18: "SHT_SYMTAB_SHNDX",
    0x6FFFFFF5: "SHT_GNU_ATTRIBUTES",
    0x6FFFFFF6: "SHT_GNU_HASH",
    0x6FFFFFF7: "SHT_GNU_LIBLIST",
    0x6FFFFFFD: "SHT_GNU_verdef",
    0x6FFFFFFE: "SHT_GNU_verneed",
    0x6FFFFFFF: "SHT_GNU_versym",
}

# e_machine -> GOARCH (gABI machine numbers; debug/elf EM_*).  MIPS and
# PowerPC 64 take the class and byte order into account (see goarch).
_EM_386 = 3
_EM_MIPS = 8
_EM_PPC64 = 21
_EM_S390 = 22
_EM_ARM = 40
_EM_X86_64 = 62
_EM_AARCH64 = 183
_EM_RISCV = 243
_EM_LOONGARCH = 258
_GOARCH_BY_MACHINE = {
    _EM_386: "386",
    _EM_MIPS: "mips",
    _EM_PPC64: "ppc64",
    _EM_S390: "s390x",
    _EM_ARM: "arm",
    _EM_X86_64: "amd64",
    _EM_AARCH64: "arm64",
    _EM_RISCV: "riscv64",
    _EM_LOONGARCH: "loong64",
}

# Extended numbering (gABI "Special Sections"): a count that does not fit the
# header lives in section header 0.
_PN_XNUM = 0xFFFF
_SHN_XINDEX = 0xFFFF
_SHN_LORESERVE = 0xFF00

SHF_COMPRESSED = 0x800
_ELFCOMPRESS_ZLIB = 1

# Upper bounds that keep a malformed file from making us loop or allocate a lot.
MAX_PROGRAM_HEADERS = 1 << 20
MAX_SECTION_NAME = 4096
MAX_DECOMPRESSED_SECTION = 1 << 31
MAX_SECTIONS = 1 << 16


@dataclass(frozen=True)
class FileHeader:
    """The fields of Elf32_Ehdr/Elf64_Ehdr goext uses."""

    is_64: bool
    byte_order: ByteOrder
    file_type: int
    machine: int
    entry: int
    phoff: int
    shoff: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int

    @property
    def ptr_size(self) -> int:
        return 8 if self.is_64 else 4

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.file_type, f"ET_{self.file_type:#x}")

    @property
    def goarch(self) -> str:
        return goarch(self.machine, self.is_64, self.byte_order)

    @property
    def section_table_end(self) -> int:
        return self.shoff + self.shnum * self.shentsize


@dataclass(frozen=True)
class ProgramHeader:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class SectionHeader:
    """One Elf32_Shdr/Elf64_Shdr, its fields in the file's order."""

    name_offset: int
    type: int
    flags: int
    address: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    entry_size: int

    @property
    def type_name(self) -> str:
        return section_type_name(self.type)


def section_type_name(number: int) -> str:
    """The "SHT_..." name of ``number``; an unknown one reads "SHT_0x…" (stable, never a known name)."""
    return _SECTION_TYPE_NAMES.get(number, f"SHT_{number:#x}")


def goarch(machine: int, is_64: bool, byte_order: ByteOrder) -> str:
    """Go's GOARCH for an ELF machine number; "elf-machine-N" for one Go has no port to."""
    name = _GOARCH_BY_MACHINE.get(machine)
    if name is None:
        return f"elf-machine-{machine}"
    little = byte_order == "little"
    if name == "ppc64" and little:
        return "ppc64le"
    if name == "mips":
        return ("mips64" if is_64 else "mips") + ("le" if little else "")
    return name


# Field formats after e_ident (16 bytes): type, machine, version, entry,
# phoff, shoff, flags, ehsize, phentsize, phnum, shentsize, shnum, shstrndx.
_HEADER_FIELDS = {False: "HHIIIIIHHHHHH", True: "HHIQQQIHHHHHH"}
# Elf32_Phdr: type, offset, vaddr, paddr, filesz, memsz, flags, align;
# Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align.
_PROGRAM_FIELDS = {False: "IIIIIIII", True: "IIQQQQQQ"}
# Elf32_Shdr/Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize.
_SECTION_FIELDS = {False: "IIIIIIIIII", True: "IIQQQQIIQQ"}


def section_header_layout(header: FileHeader) -> struct.Struct:
    """One section header's layout in this file (SectionHeader's fields, in order)."""
    return struct.Struct(("<" if header.byte_order == "little" else ">") + _SECTION_FIELDS[header.is_64])


def parse_file_header(read: ReadAt, file_size: int) -> FileHeader:
    """The ELF header; CorruptDataError when it is not ELF or is cut short."""
    ident = read(0, 16)
    if len(ident) < 16:
        raise CorruptDataError(f"not an ELF file ({file_size} bytes)")
    if ident[:4] != ELF_MAGIC:
        raise CorruptDataError("not an ELF file (bad magic)")
    if ident[4] not in (_ELFCLASS32, _ELFCLASS64):
        raise CorruptDataError(f"malformed ELF: invalid EI_CLASS {ident[4]}")
    if ident[5] not in (_ELFDATA2LSB, _ELFDATA2MSB):
        raise CorruptDataError(f"malformed ELF: invalid EI_DATA {ident[5]}")
    is_64 = ident[4] == _ELFCLASS64
    byte_order: ByteOrder = "little" if ident[5] == _ELFDATA2LSB else "big"
    layout = struct.Struct(("<" if byte_order == "little" else ">") + _HEADER_FIELDS[is_64])
    raw = read(16, layout.size)
    if len(raw) < layout.size:
        raise CorruptDataError(f"truncated: the ELF header needs {16 + layout.size} bytes, the file has {file_size}")
    (
        file_type,
        machine,
        _version,
        entry,
        phoff,
        shoff,
        _flags,
        _ehsize,
        phentsize,
        phnum,
        shentsize,
        shnum,
        shstrndx,
    ) = layout.unpack(raw)
    header = FileHeader(
        is_64, byte_order, file_type, machine, entry, phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx
    )
    if shoff and (shnum == 0 or phnum == _PN_XNUM or shstrndx == _SHN_XINDEX):
        header = _with_extended_numbers(read, header)
    return header


def _with_extended_numbers(read: ReadAt, header: FileHeader) -> FileHeader:
    """Counts too big for the header come from section header 0 (sh_size: the
    section count, sh_link: the names' index, sh_info: the program header count)."""
    first = _unpack_section_header(read, header, 0)
    if first is None:
        return header  # the section table check reports it
    return FileHeader(
        header.is_64,
        header.byte_order,
        header.file_type,
        header.machine,
        header.entry,
        header.phoff,
        header.shoff,
        header.phentsize,
        first.info if header.phnum == _PN_XNUM else header.phnum,
        header.shentsize,
        first.size if header.shnum == 0 else header.shnum,
        first.link if header.shstrndx == _SHN_XINDEX else header.shstrndx,
    )


def program_headers(read: ReadAt, header: FileHeader, file_size: int) -> list[ProgramHeader]:
    """Every program header; CorruptDataError when the table is cut short or malformed."""
    if header.phnum == 0 or header.phoff == 0:
        return []
    layout = struct.Struct(("<" if header.byte_order == "little" else ">") + _PROGRAM_FIELDS[header.is_64])
    if header.phentsize < layout.size:
        raise CorruptDataError(f"malformed ELF: program header entries of {header.phentsize} bytes")
    if header.phnum > MAX_PROGRAM_HEADERS:
        raise CorruptDataError(f"malformed ELF: an absurd number of program headers ({header.phnum})")
    table_end = header.phoff + header.phnum * header.phentsize
    table = read(header.phoff, table_end - header.phoff)
    if len(table) < table_end - header.phoff:
        raise CorruptDataError(f"truncated: its program headers end at byte {table_end}, the file has {file_size}")
    out = []
    for index in range(header.phnum):
        fields = layout.unpack_from(table, index * header.phentsize)
        if header.is_64:
            kind, flags, offset, vaddr, _paddr, filesz, memsz, _align = fields
        else:
            kind, offset, vaddr, _paddr, filesz, memsz, flags, _align = fields
        out.append(ProgramHeader(kind, flags, offset, vaddr, filesz, memsz))
    return out


def _unpack_section_header(read: ReadAt, header: FileHeader, index: int) -> Optional[SectionHeader]:
    layout = section_header_layout(header)
    if header.shentsize < layout.size:
        return None
    raw = read(header.shoff + index * header.shentsize, layout.size)
    if len(raw) < layout.size:
        return None
    return SectionHeader(*layout.unpack(raw))


def section_headers(read: ReadAt, header: FileHeader, limit: int) -> Iterator[tuple[int, SectionHeader]]:
    """(index, header) of the first ``limit`` section headers.  A table that
    cannot be read at all raises CorruptDataError before the first one."""
    if header.shoff == 0 or header.shnum == 0:
        return
    if header.shentsize < section_header_layout(header).size:
        raise CorruptDataError(f"section header entries of {header.shentsize} bytes")
    for index in range(min(header.shnum, limit)):
        entry = _unpack_section_header(read, header, index)
        if entry is None:
            raise CorruptDataError(f"section header {index} lies beyond the end of the file")
        yield index, entry


class SectionNames:
    """Names from the section name string table (e_shstrndx)."""

    def __init__(self, read: ReadAt, header: FileHeader, file_size: int) -> None:
        self._read = read
        self._start = self._end = 0
        if header.shoff == 0 or header.shnum == 0:
            return  # no section headers at all
        if header.shentsize < section_header_layout(header).size:
            raise CorruptDataError(f"section header entries of {header.shentsize} bytes")
        if header.shstrndx == 0 or header.shstrndx >= _SHN_LORESERVE and header.shstrndx != _SHN_XINDEX:
            return  # SHN_UNDEF: the file has no section names
        if header.shstrndx >= header.shnum:
            raise CorruptDataError(
                f"the section name table index {header.shstrndx} is past the {header.shnum} sections"
            )
        table = _unpack_section_header(read, header, header.shstrndx)
        if table is None:
            raise CorruptDataError("the section name table's header lies beyond the end of the file")
        self._start = table.offset
        self._end = min(table.offset + table.size, file_size)

    def name(self, offset: int) -> str:
        """The name at ``offset``; CorruptDataError when it lies outside the table."""
        if self._end <= self._start:
            return ""
        start = self._start + offset
        if start >= self._end:
            raise CorruptDataError(f"its name offset {offset} lies outside the section name table")
        raw = self._read(start, min(MAX_SECTION_NAME, self._end - start))
        stop = raw.find(b"\0")
        return (raw if stop < 0 else raw[:stop]).decode("utf-8", "replace")


def decompress_section(data: bytes, is_64: bool, byte_order: ByteOrder) -> bytes:
    """The contents of an SHF_COMPRESSED section: an Elf32_Chdr/Elf64_Chdr
    (type, [reserved,] size, alignment), then the compressed stream.  Only
    ELFCOMPRESS_ZLIB is read (what Go's linker writes, cmd/link/internal/ld/dwarf.go)."""
    layout = struct.Struct(("<" if byte_order == "little" else ">") + ("IIQQ" if is_64 else "III"))
    if len(data) < layout.size:
        raise CorruptDataError("its compression header is truncated")
    fields = layout.unpack_from(data)
    kind, size = (fields[0], fields[2]) if is_64 else (fields[0], fields[1])
    if kind != _ELFCOMPRESS_ZLIB:
        raise CorruptDataError(f"compression type {kind} is not supported")
    if size > MAX_DECOMPRESSED_SECTION:
        raise CorruptDataError(f"it claims {size} bytes decompressed")
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data[layout.size :], size)
    except zlib.error as exc:
        raise CorruptDataError(f"a compressed section does not decompress ({exc})") from None
    if len(out) != size:
        raise CorruptDataError(f"it decompresses to {len(out)} bytes, its header says {size}")
    return out


def section_in_image(image: bytes, name: str) -> Optional[bytes]:
    """The contents of the first section called ``name`` in an ELF file held
    in memory (decompressed when SHF_COMPRESSED), or None; CorruptDataError
    when the file is malformed."""

    read = buffer_reader(image)
    header = parse_file_header(read, len(image))
    names = SectionNames(read, header, len(image))
    for _, section in section_headers(read, header, MAX_SECTIONS):
        if names.name(section.name_offset) != name:
            continue
        if section.type == SHT_NOBITS:
            return bytes(section.size)
        if section.offset + section.size > len(image):
            raise CorruptDataError(f"section {name} runs past the end of the file")
        data = image[section.offset : section.offset + section.size]
        return decompress_section(data, header.is_64, header.byte_order) if section.flags & SHF_COMPRESSED else data
    return None
