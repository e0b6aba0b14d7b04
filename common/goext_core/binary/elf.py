"""Static facts about an ELF executable: sections, segments, symbols, notes.

:class:`GoBinary` reads the file only: no debugger, no process.  The file is
memory-mapped once and its headers, symbols and notes are decoded from the raw
bytes (:mod:`goext_core.binary.elftables`).  pyelftools, slow to import and
with an object per symbol, is used for DWARF only: :attr:`GoBinary.elf` is
created on first use (:mod:`goext_core.binary.pyelf`).

Addresses are link-time virtual addresses.  For a position-independent
executable the caller adds the load bias (see ``Target.load_bias``).
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING, Any, Iterator, Optional

from goext_core.binary.buildinfo import BuildInfo, read_buildinfo
from goext_core.binary.elftables import (
    ET_DYN,
    MAX_SECTIONS,
    PT_LOAD,
    PT_NOTE,
    SHF_COMPRESSED,
    FileHeader,
    ProgramHeader,
    SectionNames,
    buffer_reader,
    decompress_section,
    parse_file_header,
    program_headers,
    section_headers,
)
from goext_core.binary.pyelf import describe_parse_error, dwarf_info, open_elffile
from goext_core.errors import CorruptDataError, MemoryReadError, TruncatedError, UnsupportedError
from goext_core.target import ByteOrder
from goext_core.target.regularfile import open_regular_file

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

# What the header decoding below could still raise on a file it did not
# foresee (a struct or slice error): reported as a malformed ELF, never a traceback.
_DECODE_ERRORS = (struct.error, ValueError, OverflowError, IndexError)

_SHF_ALLOC = 0x2
_PF_X = 0x1
_PF_W = 0x2

_NT_GNU_BUILD_ID = 3
# cmd/link/internal/ld/elf.go: ELF_NOTE_GOBUILDID_TAG = 4, owner "Go\x00\x00".
_NT_GO_BUILD_ID = 4
# cmd/internal/buildid (readRaw): outside the ELF note, the build ID is stored
# near the start of the file as `\xff Go build ID: "…"\n \xff`.
_RAW_BUILD_ID_PREFIX = b'\xff Go build ID: "'
_RAW_BUILD_ID_SCAN = 32 * 1024

# Upper bounds that keep malformed files from making us loop or allocate a lot.
_MAX_NOTE_BYTES = 1 << 16
_MAX_SYMBOLS = 1 << 22
_MAX_CACHED_SECTION = 1 << 20  # bigger sections (DWARF) are handed out, not kept


@dataclass(frozen=True)
class Segment:
    """One PT_LOAD program header."""

    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int  # PF_R=4, PF_W=2, PF_X=1

    @property
    def end(self) -> int:
        return self.vaddr + self.memsz

    @property
    def writable(self) -> bool:
        return bool(self.flags & _PF_W)

    @property
    def executable(self) -> bool:
        return bool(self.flags & _PF_X)

    def contains(self, address: int) -> bool:
        return self.vaddr <= address < self.vaddr + self.memsz


@dataclass(frozen=True)
class Section:
    """One section header, with lazy access to its (decompressed) contents."""

    name: str
    address: int
    size: int  # size in the file (compressed size for SHF_COMPRESSED)
    offset: int
    flags: int
    type: str
    index: int
    link: int = -1  # sh_link: the section it refers to (a symbol table's strings)

    @property
    def allocated(self) -> bool:
        return bool(self.flags & _SHF_ALLOC)


class DynamicSymbols:
    """A ``.dynsym`` table read in place (a Go program that exports everything
    has 140,000 entries): a lookup by name searches the string table and then
    the name fields for its offset, and the columns for a pass over every
    symbol are decoded a field at a time, on first use."""

    def __init__(
        self,
        data: Any,
        at: int,
        count: int,
        strings_at: int,
        strings_end: int,
        is64: bool,
        byte_order: ByteOrder,
        gnu_hash: Optional[tuple[int, int]] = None,
    ) -> None:
        self._gnu_hash = gnu_hash  # (start, end) in data of the .gnu.hash section for this table
        self._data = data
        self._at = at
        self.count = count
        self._strings_at = strings_at
        self._strings_end = strings_end
        self._is64 = is64
        self._byte_order = byte_order
        bo = "<" if byte_order == "little" else ">"
        # Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64;
        # Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16 (System V gABI).
        self._record = struct.Struct(bo + ("IBBHQQ" if is64 else "IIIBBH"))
        self._names: Optional[array] = None

    def __len__(self) -> int:
        return self.count

    def entry(self, index: int) -> tuple[int, int, int, int, int]:
        """(name offset, value, size, info, section index) of symbol ``index``."""
        fields = self._record.unpack_from(self._data, self._at + index * self._record.size)
        if self._is64:
            name, info, _other, shndx, value, size = fields
        else:
            name, value, size, info, _other, shndx = fields
        return name, value, size, info, shndx

    def name_bytes(self, name_offset: int) -> bytes:
        start = self._strings_at + name_offset
        stop = self._data.find(b"\0", start, self._strings_end)
        return bytes(self._data[start : stop if stop >= 0 else self._strings_end])

    def functions_named_alike(self, names: list[str], addresses: list[int]) -> set[tuple[str, int]]:
        """The (name, address) pairs, of the parallel ``names`` and
        ``addresses``, that a defined STT_FUNC symbol names alike (the first
        symbol at an address).  One comprehension: it runs for every function
        of a large binary."""
        by_address = self.defined_functions()
        if not by_address:
            return set()
        strings = bytes(self._data[self._strings_at : self._strings_end])  # one copy: startswith needs bytes
        offsets = [by_address.get(address) for address in addresses]
        return {
            (name, address)
            for name, address, offset in zip(names, addresses, offsets)
            if offset is not None and strings.startswith(name.encode("utf-8", "replace") + b"\0", offset)
        }

    def index_of(self, name: str) -> Optional[int]:
        """Index of the first defined symbol called ``name``: through the GNU
        hash table when there is one (a few reads, as the dynamic loader
        does), else by searching the strings and the name fields."""
        if self._gnu_hash is not None:
            return self._hashed_index_of(name.encode("utf-8", "surrogateescape"), *self._gnu_hash)
        needle = name.encode("utf-8", "surrogateescape") + b"\0"
        data = self._data
        names = self._name_column()
        at = data.find(needle, self._strings_at, self._strings_end)
        while at >= 0:  # the string may also end a longer one (linkers share suffixes)
            offset, index = at - self._strings_at, -1
            while True:  # every symbol naming this string (array.index scans in C)
                try:
                    index = names.index(offset, index + 1)
                except ValueError:
                    break
                if self.entry(index)[4] != 0:  # SHN_UNDEF: imported, no address here
                    return index
            at = data.find(needle, at + 1, self._strings_end)
        return None

    def _hashed_index_of(self, name: bytes, at: int, end: int) -> Optional[int]:
        """The GNU hash table lookup (the ``DT_GNU_HASH`` format of binutils and
        glibc's dl-lookup.c): header nbuckets, symoffset, bloom words, bloom
        shift; the bloom filter (ELF-class words), the buckets, then one chain
        word per hashed symbol: its hash with bit 0 set on the last of a bucket."""
        order: Any = self._byte_order
        word = 8 if self._is64 else 4
        if at + 16 > end:
            return None
        buckets, first_hashed, bloom_words, _shift = struct.unpack_from(
            ("<" if order == "little" else ">") + "4I", self._data, at
        )
        buckets_at = at + 16 + bloom_words * word
        chain_at = buckets_at + 4 * buckets
        if not buckets or chain_at > end:
            return None
        wanted = 5381
        for byte in name:
            wanted = (wanted * 33 + byte) & 0xFFFFFFFF
        bucket = buckets_at + 4 * (wanted % buckets)
        index = int.from_bytes(self._data[bucket : bucket + 4], order)
        if index < first_hashed:
            return None
        # Bounded: a chain holds at most every hashed symbol once.
        for _ in range(self.count - first_hashed):
            link = chain_at + 4 * (index - first_hashed)
            if index >= self.count or link + 4 > end:
                return None
            value = int.from_bytes(self._data[link : link + 4], order)
            if value | 1 == wanted | 1:
                name_offset, _, _, _, section = self.entry(index)
                if section != 0 and self.name_bytes(name_offset) == name:
                    return index
            if value & 1:
                return None
            index += 1
        return None

    def defined_functions(self) -> dict[int, int]:
        """Address -> name offset of every defined STT_FUNC symbol (the first at an address)."""
        size, count, order = self._record.size, self.count, self._byte_order
        records = self._data[self._at : self._at + count * size]
        info_at, shndx_at, value_at = (4, 6, 8) if self._is64 else (12, 14, 4)
        values = _column(records, size, value_at, 8 if self._is64 else 4, count, order)
        sections = _column(records, size, shndx_at, 2, count, order)
        is_function = records[info_at::size].translate(_IS_FUNCTION)
        rows = compress(zip(values, self._name_column(), sections), is_function)
        # Reversed: the first symbol at an address wins.
        return {value: name for value, name, section in reversed(list(rows)) if value and section}

    def _name_column(self) -> array:
        if self._names is None:
            size = self._record.size
            records = self._data[self._at : self._at + self.count * size]
            self._names = _column(records, size, 0, 4, self.count, self._byte_order)
        return self._names


# info byte -> 1 for STT_FUNC (the low four bits), else 0.
_IS_FUNCTION = bytes(1 if info & 0xF == 2 else 0 for info in range(256))


def _column(records: bytes, record: int, at: int, width: int, count: int, byte_order: ByteOrder) -> array:
    """One unsigned field of ``count`` fixed-size records, as an array."""
    raw = bytearray(width * count)
    for lane in range(width):
        raw[lane::width] = records[at + lane : at + lane + record * (count - 1) + 1 : record]
    column = array(_ARRAY_CODE_BY_WIDTH[width])
    column.frombytes(raw)
    if (byte_order == "little") != (sys.byteorder == "little"):
        column.byteswap()
    return column


_ARRAY_CODE_BY_WIDTH = {
    width: next(code for code in codes if array(code).itemsize == width)
    for width, codes in ((2, "H"), (4, "IL"), (8, "QL"))
}


class GoBinary:
    """An ELF executable opened read-only.

    Construction maps the file and parses the ELF, program and section headers;
    a file that is not ELF, or whose headers are truncated, raises
    :class:`CorruptDataError`.  Everything else is computed on first use.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open_regular_file(path, "executable")
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size < 16:
                raise CorruptDataError(f"{path}: not an ELF file ({size} bytes)")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            if self._map[:4] != b"\x7fELF":
                raise CorruptDataError(f"{path}: not an ELF file (bad magic)")
            try:
                self._parse_headers()
            except CorruptDataError as exc:
                raise CorruptDataError(f"{path}: {exc}") from None
            except _DECODE_ERRORS as exc:
                raise CorruptDataError(f"{path}: malformed ELF: {describe_parse_error(exc)}") from None
        except CorruptDataError:
            self.close()
            raise
        self._symbols: Optional[dict[str, int]] = None
        self._symbol_sizes: Optional[dict[str, int]] = None
        self._dynamic_symbols: Optional[DynamicSymbols] = None
        self._dynamic_symbols_loaded = False
        self._buildinfo_done = False
        self._buildinfo: Optional["BuildInfo"] = None
        self._section_data: dict[str, bytes] = {}

    # -- lifetime ------------------------------------------------------
    def close(self) -> None:
        mapped = getattr(self, "_map", None)
        if mapped is not None:
            try:
                mapped.close()
            except BufferError:
                pass  # a memoryview still points into the map; the GC frees it later
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()

    def __enter__(self) -> "GoBinary":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GoBinary({self.path!r}, arch={self.arch})"

    # -- headers -------------------------------------------------------
    def _parse_headers(self) -> None:
        self.notes: list[str] = []  # damage found in the file, and what it costs
        self._elf: Optional["ELFFile"] = None
        self._read_at = buffer_reader(self._map)
        file_size = len(self._map)
        header = parse_file_header(self._read_at, file_size)
        self._header: FileHeader = header
        self.ptr_size = header.ptr_size
        self.byte_order: ByteOrder = header.byte_order
        self.is_pie = header.file_type == ET_DYN
        self.entry = header.entry
        self.arch = header.goarch

        self._program_headers: list[ProgramHeader] = program_headers(self._read_at, header, file_size)
        self.segments: list[Segment] = [
            Segment(vaddr=phdr.vaddr, memsz=phdr.memsz, offset=phdr.offset, filesz=phdr.filesz, flags=phdr.flags)
            for phdr in self._program_headers
            if phdr.type == PT_LOAD
        ]
        self.segments.sort(key=lambda s: s.vaddr)
        for seg in self.segments:
            if seg.offset + seg.filesz > file_size:
                raise TruncatedError(
                    f"truncated: segment at {seg.vaddr:#x} needs {seg.offset + seg.filesz} bytes, file has {file_size}"
                )

        table_end = header.section_table_end
        if header.shoff and table_end > file_size:
            # The section header table is written last: a file cut short loses it first.
            raise TruncatedError(f"truncated: its section headers end at byte {table_end}, the file has {file_size}")

        self._sections: dict[str, Section] = {}
        self._section_list: list[Section] = []
        # Section headers only describe the file (the loader never reads them):
        # a damaged one costs that section, with a note, not the binary.
        try:
            names = SectionNames(self._read_at, header, file_size)
            for index, sec in section_headers(self._read_at, header, MAX_SECTIONS):
                try:
                    name = names.name(sec.name_offset)
                except CorruptDataError as exc:
                    self.notes.append(
                        f"{self.path}: section header {index} is damaged ({exc}): that section is ignored"
                    )
                    continue
                entry = Section(
                    name=name,
                    address=sec.address,
                    size=sec.size,
                    offset=sec.offset,
                    flags=sec.flags,
                    type=sec.type_name,
                    index=index,
                    link=sec.link,
                )
                if (
                    entry.type not in ("SHT_NOBITS", "SHT_NULL")
                    and entry.offset < file_size < entry.offset + entry.size
                ):
                    # A section cut by the end of the file: the file was cut short.
                    raise TruncatedError(
                        f"truncated: section {entry.name or index} needs "
                        f"{entry.offset + entry.size} bytes, the file has {file_size}"
                    )
                if entry.type not in ("SHT_NOBITS", "SHT_NULL") and entry.offset + entry.size > file_size:
                    self.notes.append(
                        f"{self.path}: section {entry.name or index} runs past the end of the file: "
                        "ignored (a truncated or damaged executable)"
                    )
                    continue
                self._section_list.append(entry)
                self._sections.setdefault(entry.name, entry)
            if header.shnum > MAX_SECTIONS:
                self.notes.append(f"{self.path}: more than {MAX_SECTIONS} section headers: the rest are ignored")
        except TruncatedError:
            raise  # the file, not a section header: the binary cannot be trusted
        except CorruptDataError as exc:
            self.notes.append(
                f"{self.path}: section headers are unreadable ({exc}): "
                f"kept the {len(self._section_list)} before the damage"
            )

    @property
    def file_header(self) -> FileHeader:
        """The ELF header's fields (class, byte order, section table, ...)."""
        return self._header

    @property
    def elf(self) -> "ELFFile":
        """pyelftools' view of the file, for DWARF: made on first use (importing
        pyelftools takes tens of milliseconds).  MissingDependencyError when
        pyelftools is not installed, CorruptDataError when it rejects the file."""
        if self._elf is None:
            self._file.seek(0)
            try:
                self._elf = open_elffile(self._file)
            except CorruptDataError as exc:
                raise CorruptDataError(f"{self.path}: {exc}") from None
        return self._elf

    # -- sections ------------------------------------------------------
    def sections(self) -> list[Section]:
        return list(self._section_list)

    def section(self, name: str) -> Optional[Section]:
        return self._sections.get(name)

    def section_data(self, name: str) -> Optional[bytes]:
        """Contents of section ``name`` (decompressed when SHF_COMPRESSED), or None.

        NOBITS sections give zeros.  Raises CorruptDataError when the data lies
        beyond the end of the file or does not decompress.
        """
        if name in self._section_data:
            return self._section_data[name]
        entry = self._sections.get(name)
        if entry is None:
            return None
        if entry.type == "SHT_NOBITS":
            data = bytes(entry.size)
        else:
            if entry.offset + entry.size > len(self._map):
                raise CorruptDataError(f"{self.path}: section {name} is truncated")
            data = self._map[entry.offset : entry.offset + entry.size]
            if entry.flags & SHF_COMPRESSED:
                try:
                    data = decompress_section(data, self.ptr_size == 8, self.byte_order)
                except CorruptDataError as exc:
                    raise CorruptDataError(f"{self.path}: section {name}: {exc}") from None
        if len(data) <= _MAX_CACHED_SECTION:
            self._section_data[name] = data
        return data

    def section_view(self, name: str) -> Optional[memoryview]:
        """A zero-copy view of an uncompressed PROGBITS section's file bytes, or None."""
        entry = self._sections.get(name)
        if entry is None or entry.type == "SHT_NOBITS":
            return None
        if entry.offset + entry.size > len(self._map):
            raise CorruptDataError(f"{self.path}: section {name} is truncated")
        return memoryview(self._map)[entry.offset : entry.offset + entry.size]

    @property
    def mapped(self) -> mmap.mmap:
        """The whole file, memory-mapped read-only (for fast scanning)."""
        return self._map

    # -- segments ------------------------------------------------------
    def segment_for(self, address: int) -> Optional[Segment]:
        for seg in self.segments:
            if seg.contains(address):
                return seg
        return None

    def file_offset(self, address: int) -> Optional[int]:
        """File offset holding the byte at link-time ``address``, if it is file-backed."""
        seg = self.segment_for(address)
        if seg is None or address - seg.vaddr >= seg.filesz:
            return None
        return seg.offset + (address - seg.vaddr)

    def read_static(self, address: int, size: int) -> bytes:
        """Read ``size`` bytes of the initial image at link-time ``address``.

        Bytes come from the PT_LOAD segments; the zero-fill tail of a segment
        (.bss) reads as zeros.  A range not covered by segments raises
        MemoryReadError; a segment cut short by a truncated file raises
        CorruptDataError.
        """
        if size < 0 or address < 0:
            raise MemoryReadError(address, size, "negative address or size")
        out = bytearray()
        cursor = address
        end = address + size
        while cursor < end:
            seg = self.segment_for(cursor)
            if seg is None:
                raise MemoryReadError(address, size, "not in any loadable segment")
            chunk_end = min(end, seg.end)
            rel = cursor - seg.vaddr
            file_part = max(0, min(chunk_end - seg.vaddr, seg.filesz) - rel)
            if file_part:
                start = seg.offset + rel
                if start + file_part > len(self._map):
                    raise CorruptDataError(f"{self.path}: segment at {seg.vaddr:#x} is truncated")
                out += self._map[start : start + file_part]
            out += bytes(chunk_end - cursor - file_part)
            cursor = chunk_end
        return bytes(out)

    def read_ptr(self, address: int) -> int:
        return int.from_bytes(self.read_static(address, self.ptr_size), self.byte_order)

    def read_go_string(self, address: int, limit: int = 1 << 16) -> str:
        """A Go string header {ptr, len} at ``address`` and its bytes (capped at ``limit``)."""
        header = self.read_static(address, 2 * self.ptr_size)
        ptr = int.from_bytes(header[: self.ptr_size], self.byte_order)
        length = int.from_bytes(header[self.ptr_size :], self.byte_order)
        if length == 0:
            return ""
        if length > limit:
            raise CorruptDataError(f"string at {address:#x} claims {length} bytes")
        return self.read_static(ptr, length).decode("utf-8", "replace")

    def data_ranges(self, writable: Optional[bool] = None) -> Iterator[tuple[int, int]]:
        """(address, file-backed size) of each PT_LOAD segment, filtered by writability."""
        for seg in self.segments:
            if writable is not None and seg.writable != writable:
                continue
            if seg.filesz:
                yield seg.vaddr, min(seg.filesz, seg.memsz)

    def text_range(self) -> Optional[tuple[int, int]]:
        """[start, end) of the .text section, else of the first executable segment."""
        text = self._sections.get(".text")
        if text is not None and text.size:
            return text.address, text.address + text.size
        for seg in self.segments:
            if seg.executable:
                return seg.vaddr, seg.end
        return None

    def is_executable_address(self, address: int) -> bool:
        seg = self.segment_for(address)
        return seg is not None and seg.executable

    # -- symbols -------------------------------------------------------
    @property
    def symbols(self) -> dict[str, int]:
        """name -> value of every named .symtab symbol (empty when stripped)."""
        if self._symbols is None:
            self._load_symbols()
        assert self._symbols is not None
        return self._symbols

    def symbol(self, name: str) -> Optional[int]:
        return self.symbols.get(name)

    def symbol_size(self, name: str) -> Optional[int]:
        if self._symbol_sizes is None:
            self._load_symbols()
        assert self._symbol_sizes is not None
        return self._symbol_sizes.get(name)

    def _load_symbols(self) -> None:
        """One pass over .symtab, decoding Elf32_Sym/Elf64_Sym records directly."""
        symbols: dict[str, int] = {}
        sizes: dict[str, int] = {}
        self._symbols, self._symbol_sizes = symbols, sizes
        symtab = self._sections.get(".symtab")
        if symtab is None or symtab.type != "SHT_SYMTAB":
            return
        strtab = next((s for s in self._section_list if s.index == self._link_of(symtab)), None)
        if strtab is None:
            return
        end = symtab.offset + symtab.size
        str_end = strtab.offset + strtab.size
        if end > len(self._map) or str_end > len(self._map):
            raise CorruptDataError(f"{self.path}: symbol table is truncated")
        bo = "<" if self.byte_order == "little" else ">"
        if self.ptr_size == 8:
            record = struct.Struct(bo + "IBBHQQ")  # name, info, other, shndx, value, size
        else:
            record = struct.Struct(bo + "IIIBBH")  # name, value, size, info, other, shndx
        count = min(symtab.size // record.size, _MAX_SYMBOLS)
        data = self._map
        for index in range(count):
            fields = record.unpack_from(data, symtab.offset + index * record.size)
            if self.ptr_size == 8:
                name_off, _info, _other, _shndx, value, size = fields
            else:
                name_off, value, size, _info, _other, _shndx = fields
            if name_off == 0:
                continue
            start = strtab.offset + name_off
            if start >= str_end:
                continue
            stop = data.find(b"\0", start, str_end)
            if stop < 0:
                stop = str_end
            name = data[start:stop].decode("utf-8", "replace")
            if name not in symbols:
                symbols[name] = value
                sizes[name] = size

    def dynamic_symbols(self) -> Optional["DynamicSymbols"]:
        """The ``.dynsym`` table (None when there is none).  A stripped Go
        program that imports ``plugin`` (or is linked with ``-linkshared``)
        exports every function and global there."""
        if not self._dynamic_symbols_loaded:
            self._dynamic_symbols = self._load_dynamic_symbols()
            self._dynamic_symbols_loaded = True
        return self._dynamic_symbols

    def dynamic_symbol(self, name: str) -> Optional[int]:
        """Link-time address of the defined ``.dynsym`` symbol ``name``, if any."""
        table = self.dynamic_symbols()
        index = None if table is None else table.index_of(name)
        return None if table is None or index is None else table.entry(index)[1]

    def dynamic_symbol_size(self, name: str) -> Optional[int]:
        table = self.dynamic_symbols()
        index = None if table is None else table.index_of(name)
        return None if table is None or index is None else table.entry(index)[2]

    def _load_dynamic_symbols(self) -> Optional["DynamicSymbols"]:
        dynsym = self._sections.get(".dynsym")
        if dynsym is None or dynsym.type != "SHT_DYNSYM":
            return None
        strtab = next((s for s in self._section_list if s.index == self._link_of(dynsym)), None)
        if strtab is None or strtab.type != "SHT_STRTAB":
            return None
        record = 24 if self.ptr_size == 8 else 16
        count = min(dynsym.size // record, _MAX_SYMBOLS)
        if dynsym.offset + count * record > len(self._map) or strtab.offset + strtab.size > len(self._map):
            return None  # damaged: the section list check drops such sections already
        gnu_hash = next(
            (
                (s.offset, s.offset + s.size)
                for s in self._section_list
                if s.type == "SHT_GNU_HASH" and self._link_of(s) == dynsym.index
            ),
            None,
        )
        return DynamicSymbols(
            self._map,
            dynsym.offset,
            count,
            strtab.offset,
            strtab.offset + strtab.size,
            self.ptr_size == 8,
            self.byte_order,
            gnu_hash,
        )

    def _link_of(self, section: Section) -> int:
        return section.link

    # -- notes and ids -------------------------------------------------
    def _notes(self) -> Iterator[tuple[bytes, int, bytes]]:
        """(owner, type, desc) of every note in SHT_NOTE sections, else PT_NOTE segments."""
        regions: list[tuple[int, int]] = [(s.offset, s.size) for s in self._section_list if s.type == "SHT_NOTE"]
        if not regions:
            regions = [(phdr.offset, phdr.filesz) for phdr in self._program_headers if phdr.type == PT_NOTE]
        bo = "<" if self.byte_order == "little" else ">"
        for offset, size in regions:
            size = min(size, _MAX_NOTE_BYTES, max(0, len(self._map) - offset))
            data = self._map[offset : offset + size]
            cursor = 0
            while cursor + 12 <= len(data):
                namesz, descsz, note_type = struct.unpack_from(bo + "III", data, cursor)
                name_start = cursor + 12
                desc_start = name_start + _align4(namesz)
                desc_end = desc_start + descsz
                if desc_end > len(data):
                    break
                yield data[name_start : name_start + namesz], note_type, data[desc_start:desc_end]
                cursor = desc_start + _align4(descsz)

    def gnu_build_id(self) -> Optional[str]:
        """The GNU build ID as lowercase hex (``-B gobuildid`` or external linking), or None."""
        for owner, note_type, desc in self._notes():
            if owner.rstrip(b"\0") == b"GNU" and note_type == _NT_GNU_BUILD_ID:
                return desc.hex()
        return None

    def go_build_id(self) -> Optional[str]:
        """The Go build ID from ``.note.go.buildid`` (owner "Go", type 4), else from
        the raw marker near the start of the file."""
        for owner, note_type, desc in self._notes():
            if owner.rstrip(b"\0") == b"Go" and note_type == _NT_GO_BUILD_ID:
                return desc.decode("utf-8", "replace")
        head = self._map[:_RAW_BUILD_ID_SCAN]
        start = head.find(_RAW_BUILD_ID_PREFIX)
        if start < 0:
            return None
        start += len(_RAW_BUILD_ID_PREFIX)
        stop = head.find(b'"', start)
        if stop < 0:
            return None
        return head[start:stop].decode("utf-8", "replace")

    def has_dwarf(self) -> bool:
        """Whether DWARF is present (Go compresses it with SHF_COMPRESSED since 1.11,
        older toolchains used .zdebug_* sections)."""
        for name in (".debug_info", ".zdebug_info"):
            sec = self._sections.get(name)
            if sec is not None and sec.size > 0:
                return True
        return False

    # -- Go facts --------------------------------------------------------
    @property
    def buildinfo(self) -> Optional["BuildInfo"]:
        """Parsed ``.go.buildinfo`` (Go 1.13+), or None when the binary has none."""
        if not self._buildinfo_done:
            self._buildinfo = read_buildinfo(self)
            self._buildinfo_done = True
        return self._buildinfo

    def go_version(self) -> Optional[str]:
        """ "go1.22.10" from the build info, else from ``runtime.buildVersion``."""
        info = self.buildinfo
        if info is not None and info.go_version:
            return info.go_version
        address = self.symbol("runtime.buildVersion")
        if address is None:
            return None
        try:
            text = self.read_go_string(address, limit=256)
        except (MemoryReadError, CorruptDataError):
            return None
        return text or None

    def require_go(self) -> None:
        """Raise UnsupportedError unless this looks like a Go executable."""
        if self.buildinfo is None and self.go_build_id() is None and self.section(".gopclntab") is None:
            raise UnsupportedError(f"{self.path}: not a Go executable")


def _align4(value: int) -> int:
    return (value + 3) & ~3


__all__ = ["ByteOrder", "GoBinary", "Section", "Segment", "describe_parse_error", "dwarf_info"]
