"""The one module that touches pyelftools.

goext reads ELF headers, symbols, notes and the pclntab itself
(:mod:`goext_core.binary.elftables`); pyelftools is needed for DWARF only.
It is imported on first use, inside the functions below, so that a command
that needs no DWARF neither waits for the import nor fails without it.
"""

from __future__ import annotations

import struct
import sys
import weakref
import zlib
from typing import TYPE_CHECKING, Any, BinaryIO

from goext_core.errors import CorruptDataError, MissingDependencyError

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

# What Python itself raises on malformed input under pyelftools (the
# construct/struct/zlib code): the odd TypeError or AttributeError from a field
# of the wrong shape or a section that is not there, failed asserts on header
# fields.
_GENERIC_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    struct.error,
    ValueError,
    EOFError,
    OSError,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
)


def missing_pyelftools_message() -> str:
    return (
        f"pyelftools is missing for {sys.executable or 'this Python'}: DWARF cannot be read "
        "(run install.sh, or apt-get install python3-pyelftools)"
    )


def elf_parse_errors() -> tuple[type[BaseException], ...]:
    """Everything pyelftools raises for a malformed or truncated file.  A
    function, evaluated in an ``except`` clause, so that naming the errors
    does not import pyelftools."""
    try:
        from elftools.common.exceptions import DWARFError, ELFError, ELFParseError
        from elftools.construct.core import ConstructError
    except ImportError:
        return _GENERIC_PARSE_ERRORS
    return (ELFError, ELFParseError, DWARFError, ConstructError) + _GENERIC_PARSE_ERRORS


def open_elffile(stream: BinaryIO) -> "ELFFile":
    """pyelftools' ELFFile over ``stream``.  MissingDependencyError when
    pyelftools is not installed, CorruptDataError when it rejects the file."""
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise MissingDependencyError(missing_pyelftools_message()) from None
    try:
        return ELFFile(stream)
    except elf_parse_errors() as exc:
        raise CorruptDataError(f"malformed ELF: {describe_parse_error(exc)}") from None


_DWARF_INFOS: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def dwarf_info(elf: "ELFFile") -> Any:
    """``elf.get_dwarf_info()``, made once per file: it decompresses every
    debug section.  A section that does not decompress or parse raises
    CorruptDataError, so callers can go on without DWARF."""
    if elf not in _DWARF_INFOS:
        try:
            info = elf.get_dwarf_info()
        except elf_parse_errors() as exc:
            raise CorruptDataError(f"DWARF is unreadable: {describe_parse_error(exc)}") from None
        if info.debug_info_sec is None or info.debug_abbrev_sec is None:  # a section header renamed or lost
            raise CorruptDataError("DWARF is unreadable: .debug_info or .debug_abbrev is missing")
        _DWARF_INFOS[elf] = info
    return _DWARF_INFOS[elf]


def describe_parse_error(exc: BaseException) -> str:
    """One line for an error raised under pyelftools."""
    if isinstance(exc, AssertionError):  # pyelftools asserts on header fields; its text is just the value
        return f"a header field has an impossible value ({str(exc)[:40] or 'assertion'})"
    if isinstance(exc, zlib.error):
        return f"a compressed section does not decompress ({exc})"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
