"""CoreTarget on synthesized ELF cores: memory, registers and bad input."""

from __future__ import annotations

import os

import pytest

from goext_core.errors import CorruptDataError, GoextError, MemoryReadError
from goext_core.target.core import CoreTarget
from unit.fakes import write_core


def _core(tmp_path, segments=None, threads=None) -> str:
    path = str(tmp_path / "core")
    write_core(
        path,
        segments if segments is not None else [(0x10000, bytes(range(256)) * 32, 6)],
        threads if threads is not None else [{"tid": 42, "rip": 0x401000, "rsp": 0x10800, "fs_base": 0x77}],
    )
    return path


def test_reads_memory_and_registers(tmp_path) -> None:
    target = CoreTarget(None, _core(tmp_path))
    assert target.read(0x10000, 4) == bytes([0, 1, 2, 3])
    assert target.read(0x10000 + 4090, 10) == bytes([250, 251, 252, 253, 254, 255, 0, 1, 2, 3])
    (thread,) = target.threads()
    assert thread.tid == 42 and thread.pc == 0x401000 and thread.sp == 0x10800
    assert thread.registers["fs_base"] == 0x77


def test_unmapped_address_is_a_typed_error_with_the_address(tmp_path) -> None:
    target = CoreTarget(None, _core(tmp_path))
    with pytest.raises(MemoryReadError) as info:
        target.read(0x20000, 8)
    assert info.value.address == 0x20000
    with pytest.raises(MemoryReadError):
        target.read(0x10000 + 8192 - 2, 8)  # runs off the end of the segment


def test_protnone_segment_is_unreadable(tmp_path) -> None:
    target = CoreTarget(None, _core(tmp_path, segments=[(0x10000, bytes(64), 0)]))
    with pytest.raises(MemoryReadError):
        target.read(0x10000, 8)


def test_truncated_core_reads_fail_cleanly(tmp_path) -> None:
    path = _core(tmp_path)
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size - 2048)
    target = CoreTarget(None, path)
    assert target.read(0x10000, 16) == bytes(range(16))
    with pytest.raises(MemoryReadError):
        target.read(0x10000 + 8000, 16)


def test_not_a_core(tmp_path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"hello, this is not ELF at all" * 10)
    with pytest.raises(CorruptDataError):
        CoreTarget(None, str(garbage))
    with pytest.raises(GoextError):
        CoreTarget(None, str(tmp_path / "missing"))


def test_headers_cut_short(tmp_path) -> None:
    path = _core(tmp_path)
    with open(path, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(CorruptDataError):
        CoreTarget(None, path)
