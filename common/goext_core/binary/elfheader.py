"""The few ELF header fields the front ends need, read without pyelftools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from goext_core.target import ByteOrder

ELF_MAGIC = b"\x7fELF"
ET_CORE = 4
_HEADER_BYTES = 64  # an Elf64_Ehdr; an Elf32_Ehdr is shorter
_TYPE_END = 18  # e_ident (16 bytes), then e_type (2)


@dataclass(frozen=True)
class ElfHeader:
    is_64: bool
    byte_order: ByteOrder
    file_type: int  # e_type: 2 executable, 3 shared object (PIE), 4 core
    entry: Optional[int]  # e_entry, None when the header is cut short

    @property
    def is_core(self) -> bool:
        return self.file_type == ET_CORE


def read_elf_header(path: str) -> Optional[ElfHeader]:
    """The ELF header of the file at ``path``, or None if it is not readable ELF."""
    try:
        with open(path, "rb") as elf:
            header = elf.read(_HEADER_BYTES)
    except OSError:
        return None
    return parse_elf_header(header)


def parse_elf_header(header: bytes) -> Optional[ElfHeader]:
    if len(header) < _TYPE_END or header[:4] != ELF_MAGIC:
        return None
    is_64 = header[4] == 2  # EI_CLASS: 1 = ELFCLASS32, 2 = ELFCLASS64
    byte_order: ByteOrder = "big" if header[5] == 2 else "little"  # EI_DATA: 2 = ELFDATA2MSB
    file_type = int.from_bytes(header[16:_TYPE_END], byte_order)
    word = 8 if is_64 else 4
    entry_at = 24  # e_entry follows e_machine (2 bytes) and e_version (4)
    entry = int.from_bytes(header[entry_at : entry_at + word], byte_order) if len(header) >= entry_at + word else None
    return ElfHeader(is_64, byte_order, file_type, entry)
