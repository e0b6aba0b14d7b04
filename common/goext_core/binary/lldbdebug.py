"""A copy of a Go executable whose DWARF lldb can read: lldb's "debug file".

lldb builds types and variables only for languages it has a type system for;
lldb has had no Go type system since its Go plug-in was removed, so for a
compile unit marked ``DW_LANG_Go`` ``frame variable`` and ``target variable``
show nothing ("TypeSystem for language go doesn't exist").  Go's DWARF
describes its types with C-like DIEs (structs, pointers, base types,
typedefs with Go names), so the same units marked ``DW_LANG_C99`` are read by
lldb's clang type system: every Go variable appears, with its Go type name,
as a raw struct, and goext's summaries and synthetic children (in the lldb
front end) render it as Go.

``target symbols add -s EXE FILE`` *replaces* the module's sections by the
file's, so the file must be a full copy of the executable (code and data
included, or addresses and names break).  The copy is the executable's bytes
unchanged, followed by every ``.debug_*`` section decompressed (Go
compresses them, with ``SHF_COMPRESSED`` or, before Go 1.21, as
``.zdebug_*``), the language of each Go unit rewritten, a new section name
table and a new section header table pointing at them.  Program headers,
notes (so the build-id) and all allocated sections stay where they were.

The Go linker's ``.debug_frame`` does not say where the frame pointer is
saved, and lldb 16's ``bt`` of a parked goroutine stops after two frames with
it.  On amd64 the copy carries instead the call frame information goext
derives from pclntab for the symbol file of stripped binaries
(``symfile.py``), which lldb walks to the goroutine's first function.

Files are written once per executable into ``<goext cache>/lldb``, named by
GNU build-id, else by path, size and modification time.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import astuple, replace
from typing import TYPE_CHECKING, Any, Literal, Optional

from goext_core.binary.diskindex import cached_file_name, goext_cache_dir, write_cached_file
from goext_core.binary.elftables import (
    SHF_COMPRESSED,
    SectionHeader,
    buffer_reader,
    decompress_section,
    section_header_layout,
    section_headers,
    section_in_image,
)
from goext_core.binary.leb128 import read_sleb128, read_uleb128
from goext_core.binary.packagevars import package_globals, package_unit
from goext_core.binary.pclntab import Pclntab
from goext_core.binary.pyelf import dwarf_info, elf_parse_errors
from goext_core.binary.symfile import symbol_file_image
from goext_core.errors import CorruptDataError, GoextError, UnsupportedError
from goext_core.target import ByteOrder

if TYPE_CHECKING:
    from goext_core.binary.elf import GoBinary

# DWARF 5 section 7.12 (language codes); DW_LANG_Go is 0x16.
DW_LANG_GO = 0x16
DW_LANG_C99 = 0x0C
# DWARF 5 section 7.5: the tags and the one form with a value in the abbreviation table.
_DW_TAG_SUBROUTINE_TYPE = 0x15
_DW_TAG_POINTER_TYPE = 0x0F
_DW_FORM_IMPLICIT_CONST = 0x21
# More entries (or attributes in one) than any abbreviation table has: corrupt.
_MAX_ABBREVIATIONS = 100_000
# Bump when the file layout changes, so cached files are rewritten.
_FORMAT_VERSION = 6
# A debug section that claims to inflate beyond this is corrupt.
_MAX_SECTION_SIZE = 1 << 31
# DW_FORM_data1/2/4/8 (DWARF 5 section 7.5.6): widths of the language attribute.
_DATA_FORM_WIDTHS = {"DW_FORM_data1": 1, "DW_FORM_data2": 2, "DW_FORM_data4": 4, "DW_FORM_data8": 8}


def lldb_debug_dir() -> str:
    """``<goext cache>/lldb``: where the debug files are kept."""
    return os.path.join(goext_cache_dir(), "lldb")


def cached_lldb_debug_file(binary: "GoBinary", directory: Optional[str] = None) -> Optional[str]:
    """The debug file of ``binary`` if it was written already, else None."""
    path = os.path.join(directory or lldb_debug_dir(), cached_file_name(binary, _FORMAT_VERSION, "debug"))
    return path if os.path.isfile(path) else None


def lldb_debug_file_for(binary: "GoBinary", directory: Optional[str] = None) -> str:
    """Path of the debug file for ``binary`` (written on first use, then reused).

    Raises UnsupportedError when the executable has no DWARF (stripped), and
    GoextError when the file cannot be written or the DWARF is unreadable."""
    name = cached_file_name(binary, _FORMAT_VERSION, "debug")
    return write_cached_file(directory or lldb_debug_dir(), name, lambda: lldb_debug_image(binary), "lldb debug file")


def lldb_debug_image(binary: "GoBinary") -> bytes:
    """The bytes of the debug file (see the module docstring)."""
    if not binary.has_dwarf():
        raise UnsupportedError(f"{binary.path}: no DWARF (stripped): lldb cannot show its variables")
    try:
        with open(binary.path, "rb") as source:
            original = source.read()
    except OSError as exc:
        raise GoextError(f"cannot read {binary.path}: {exc.strerror or exc}") from None
    elf_header = binary.file_header
    wide = elf_header.is_64
    little_endian = elf_header.byte_order == "little"
    endian = "<" if little_endian else ">"
    header_layout = section_header_layout(elf_header)
    section_count = elf_header.shnum
    table_offset = elf_header.shoff
    entry_size = elf_header.shentsize
    names_index = elf_header.shstrndx
    if (
        entry_size != header_layout.size
        or table_offset + section_count * entry_size > len(original)
        or names_index >= section_count
    ):
        raise CorruptDataError(f"{binary.path}: malformed section header table")
    headers = [header for _, header in section_headers(buffer_reader(original), elf_header, section_count)]
    old_names = headers[names_index]
    name_table = original[old_names.offset : old_names.offset + old_names.size]
    language_offsets = _go_language_offsets(binary)
    frame_table = _pclntab_frame_table(binary)
    names = [_section_name(name_table, header.name_offset) for header in headers]
    debug_sections: dict[str, bytes] = {}
    for header, name in zip(headers, names):
        if name.startswith((".debug_", ".zdebug_")) and header.type != 8:  # not SHT_NOBITS
            plain = "." + name[2:] if name.startswith(".zdebug_") else name
            raw = original[header.offset : header.offset + header.size]
            debug_sections[plain] = _decompressed(raw, name, header, wide, elf_header.byte_order)
    package_info = package_abbrevs = b""
    if ".debug_info" in debug_sections and ".debug_abbrev" in debug_sections:
        packages = package_globals(debug_sections[".debug_info"], debug_sections[".debug_abbrev"], little_endian)
        package_info, package_abbrevs = package_unit(
            packages, len(debug_sections[".debug_abbrev"]), 8 if wide else 4, little_endian
        )

    out = bytearray(original)
    new_names = bytearray(b"\0")
    new_headers: list[SectionHeader] = []
    for index, header in enumerate(headers):
        name = _section_name(name_table, header.name_offset)
        contents: Optional[bytes] = None
        if name.startswith((".debug_", ".zdebug_")) and header.type != 8:  # not SHT_NOBITS
            if name.startswith(".zdebug_"):
                name = "." + name[2:]
            contents = debug_sections[name]
            if name == ".debug_info":
                contents = _rewrite_languages(contents, language_offsets, endian) + package_info
            elif name == ".debug_abbrev":
                contents = _func_types_as_pointers(contents) + package_abbrevs
            elif name == ".debug_frame" and frame_table is not None:
                contents = frame_table
        name_offset = len(new_names)
        new_names += name.encode() + b"\0"
        if index == names_index:
            contents = b""  # written last, when every name is known
        if contents is None:
            new_headers.append(replace(header, name_offset=name_offset))
            continue
        out += bytes(-len(out) % 8)
        new_headers.append(
            replace(
                header,
                name_offset=name_offset,
                offset=len(out),
                size=len(contents),
                flags=header.flags & ~SHF_COMPRESSED,
                align=1 if index != names_index else header.align,
            )
        )
        out += contents
    # The section name table, then the section header table.
    names_header = new_headers[names_index]
    new_headers[names_index] = replace(names_header, offset=len(out), size=len(new_names))
    out += new_names
    out += bytes(-len(out) % 8)
    new_table_offset = len(out)
    for header in new_headers:
        out += header_layout.pack(*astuple(header))
    # e_shoff: ELF64 at 0x28 (8 bytes), ELF32 at 0x20 (4 bytes) (System V gABI, Elf_Ehdr).
    if wide:
        struct.pack_into(endian + "Q", out, 0x28, new_table_offset)
    else:
        struct.pack_into(endian + "I", out, 0x20, new_table_offset)
    return bytes(out)


def _go_language_offsets(binary: "GoBinary") -> list[tuple[int, int]]:
    """(offset in the decompressed .debug_info, width) of every Go unit's
    DW_AT_language value."""
    try:
        info = dwarf_info(binary.elf)
        offsets: list[tuple[int, int]] = []
        for unit in info.iter_CUs():
            attribute: Any = unit.get_top_DIE().attributes.get("DW_AT_language")
            if attribute is None or attribute.value != DW_LANG_GO:
                continue
            width = _DATA_FORM_WIDTHS.get(attribute.form)
            if width is None:
                continue
            # AttributeValue.offset is where the attribute's value starts.
            offsets.append((attribute.offset, width))
        return offsets
    except elf_parse_errors() as exc:
        raise CorruptDataError(f"{binary.path}: DWARF is unreadable: {exc}") from None


def _pclntab_frame_table(binary: "GoBinary") -> Optional[bytes]:
    """goext's ``.debug_frame`` for the executable (amd64 only), or None."""
    if binary.arch != "amd64":
        return None
    try:
        image = symbol_file_image(binary, Pclntab.from_binary(binary))
        section = section_in_image(image, ".debug_frame")
        return section or None
    except GoextError:
        return None


def _func_types_as_pointers(abbrevs: bytes) -> bytes:
    """The abbreviation table with every ``DW_TAG_subroutine_type`` made a
    ``DW_TAG_pointer_type`` (to void).

    Go describes a func value (one word: a pointer to its closure, see
    ``src/runtime/runtime2.go`` funcval) as a typedef of a subroutine type
    of byte size 8, so lldb's C view has struct fields and variables of
    *function* type; clang then lays out any record holding one wrongly, and
    lldb 16 crashes in code generation on an ``expression`` that touches
    it (measured: a struct with a func and a string field).  As a pointer the
    value has its Go size and the typedef keeps its Go name
    (``func(string) string``), which is what goext's summaries read."""
    patched = bytearray(abbrevs)
    position = 0
    for _ in range(_MAX_ABBREVIATIONS):
        code, position = read_uleb128(patched, position)
        if code == 0:
            break
        tag_position = position
        tag, position = read_uleb128(patched, position)
        if tag == _DW_TAG_SUBROUTINE_TYPE and position == tag_position + 1:
            patched[tag_position] = _DW_TAG_POINTER_TYPE
        position += 1  # DW_CHILDREN_yes / no
        for _ in range(_MAX_ABBREVIATIONS):
            attribute, position = read_uleb128(patched, position)
            form, position = read_uleb128(patched, position)
            if form == _DW_FORM_IMPLICIT_CONST:
                _, position = read_sleb128(patched, position)
            if attribute == 0 and form == 0:
                break
    return bytes(patched)


def _rewrite_languages(contents: bytes, offsets: list[tuple[int, int]], endian: str) -> bytes:
    patched = bytearray(contents)
    order: Literal["little", "big"] = "little" if endian == "<" else "big"
    for offset, width in offsets:
        if offset + width > len(patched) or int.from_bytes(patched[offset : offset + width], order) != DW_LANG_GO:
            raise CorruptDataError("DWARF changed under us: a unit's language is not where it was read")
        patched[offset : offset + width] = DW_LANG_C99.to_bytes(width, order)
    return bytes(patched)


def _decompressed(raw: bytes, name: str, header: SectionHeader, wide: bool, byte_order: ByteOrder) -> bytes:
    """A debug section's contents: SHF_COMPRESSED (Elf_Chdr + zlib), ``.zdebug_``
    ("ZLIB", 8-byte big-endian size, zlib), or as is."""
    if header.flags & SHF_COMPRESSED:
        try:
            return decompress_section(raw, wide, byte_order)
        except CorruptDataError as exc:
            raise CorruptDataError(f"{name}: {exc}") from None
    if name.startswith(".zdebug_") and raw[:4] == b"ZLIB" and len(raw) >= 12:
        return _inflate(raw[12:], int.from_bytes(raw[4:12], "big"), name)
    return raw


def _inflate(data: bytes, size: int, name: str) -> bytes:
    if size > _MAX_SECTION_SIZE:
        raise CorruptDataError(f"{name}: claims {size} bytes uncompressed")
    try:
        inflater = zlib.decompressobj()
        result = inflater.decompress(data, size + 1)
    except zlib.error as exc:
        raise CorruptDataError(f"{name}: does not decompress: {exc}") from None
    if len(result) != size:
        raise CorruptDataError(f"{name}: decompresses to {len(result)} bytes, not {size}")
    return result


def _section_name(table: bytes, offset: int) -> str:
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)].decode("utf-8", "replace")


__all__ = [
    "DW_LANG_C99",
    "DW_LANG_GO",
    "cached_lldb_debug_file",
    "lldb_debug_dir",
    "lldb_debug_file_for",
    "lldb_debug_image",
]
