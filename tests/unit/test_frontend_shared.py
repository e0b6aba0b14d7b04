"""What both debugger front ends share: output batching, the program LRU,
argument quoting and the ELF header fields they read."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, cast

import pytest

from goext_core.binary.elfheader import parse_elf_header, read_elf_header
from goext_core.commands import Context, dispatch
from goext_core.commands.frontend import HeldBackWriter, ProgramCache, quote_argument

pytestmark = pytest.mark.unit


def test_writer_batches_and_holds_back_the_last_chunk() -> None:
    sunk: list[str] = []
    writer = HeldBackWriter(sunk.append, batch=10)
    for chunk in ("abc\n", "def\n", "ghi\n", "jkl\n"):
        writer.write(chunk)
    assert sunk == ["abc\ndef\nghi\n"]  # the batch filled; "jkl" is held back
    writer.flush()
    assert "".join(sunk) == "abc\ndef\nghi\njkl\n"


def test_writer_hands_back_the_error_line_after_writing_the_rest() -> None:
    sunk: list[str] = []
    writer = HeldBackWriter(sunk.append)
    writer.write("line 1\n")
    writer.write("goext: error: boom\n")
    assert writer.take_error() == "goext: error: boom"
    assert sunk == ["line 1\n"]
    assert HeldBackWriter(sunk.append).take_error() == "goext: error: command failed"


def test_program_cache_keeps_the_most_recently_used() -> None:
    cache = ProgramCache(limit=2)
    programs = [cast(Any, object()) for _ in range(3)]
    cache.add("a", programs[0])
    cache.add("b", programs[1])
    assert cache.get("a") is programs[0]  # "a" is now the newest
    cache.add("c", programs[2])
    assert cache.get("b") is None
    assert cache.get("a") is programs[0] and cache.get("c") is programs[2]


def test_quote_argument_escapes_quotes_and_backslashes() -> None:
    assert quote_argument('/tmp/a "b"\\c') == '"/tmp/a \\"b\\"\\\\c"'


def _elf_header(is_64: bool, big: bool, file_type: int, entry: int) -> bytes:
    order = ">" if big else "<"
    ident = b"\x7fELF" + bytes([2 if is_64 else 1, 2 if big else 1, 1]) + bytes(9)
    word = "Q" if is_64 else "I"
    return ident + struct.pack(f"{order}HHI{word}", file_type, 62, 1, entry)


def test_elf_header_fields(tmp_path: Path) -> None:
    header = parse_elf_header(_elf_header(True, False, 3, 0x401000))
    assert header is not None and (header.is_64, header.byte_order, header.entry) == (True, "little", 0x401000)
    assert not header.is_core
    core = parse_elf_header(_elf_header(False, True, 4, 0))
    assert core is not None and core.is_core and core.byte_order == "big"
    assert parse_elf_header(b"\x7fELF" + bytes(20)) is not None  # cut short: no entry
    assert parse_elf_header(b"\x7fELF" + bytes(20)).entry is None  # type: ignore[union-attr]
    assert parse_elf_header(b"MZ" + bytes(62)) is None
    path = tmp_path / "exe"
    path.write_bytes(_elf_header(True, False, 2, 0x1234) + bytes(64))
    assert read_elf_header(str(path)).entry == 0x1234  # type: ignore[union-attr]
    assert read_elf_header(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_command_help_is_written_once_through_the_writer(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse would print the help to sys.stdout itself: in a debugger that is
    a second copy, unsanitized, beside the one dispatch writes."""
    written: list[str] = []

    def no_program() -> Any:
        raise AssertionError("help needs no program")

    assert dispatch(Context(no_program), "bt", flag, written.append)
    text = "".join(written)
    assert text.count("usage: go bt") == 1, text
    assert capsys.readouterr().out == ""
