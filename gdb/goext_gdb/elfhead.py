"""Read the entry point from an ELF header without loading the file."""

from __future__ import annotations

from typing import Optional

_ELF_MAGIC = b"\x7fELF"
_HEADER_BYTES = 64  # an Elf64_Ehdr; an Elf32_Ehdr is shorter


def elf_entry(path: str) -> Optional[int]:
    """``e_entry`` of the ELF file at ``path``, or None if it is not readable ELF."""
    try:
        with open(path, "rb") as elf:
            header = elf.read(_HEADER_BYTES)
    except OSError:
        return None
    if len(header) < 32 or header[:4] != _ELF_MAGIC:
        return None
    is_64 = header[4] == 2  # EI_CLASS: 1 = ELFCLASS32, 2 = ELFCLASS64
    byte_order = "big" if header[5] == 2 else "little"  # EI_DATA: 2 = ELFDATA2MSB
    size = 8 if is_64 else 4
    if len(header) < 24 + size:
        return None
    return int.from_bytes(header[24:24 + size], byte_order)  # e_entry follows e_version
