"""A debugger target with a core open reads memory from the core file, as the
offline target does, only when the file gives the debugger's own bytes."""

from __future__ import annotations

from typing import Optional

import pytest

from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from goext_core.target.memory import CachedTarget
from support.cores import kernel_core


class CoreBackedDebugger(CachedTarget):
    """A debugger target whose "debugger" is the core itself, with what it
    says about its core, executable and load bias given by the test."""

    def __init__(self, exe: str, core: str, core_path: Optional[str], bias_shift: int = 0) -> None:
        super().__init__()
        self.debugger = CoreTarget(exe, core)
        self.exe, self.core, self.bias_shift = exe, core_path, bias_shift
        self.arch, self.ptr_size, self.byte_order = self.debugger.arch, self.debugger.ptr_size, self.debugger.byte_order

    def _read_uncached(self, address: int, size: int) -> bytes:
        return self.debugger.read(address, size)

    def threads(self):  # type: ignore[no-untyped-def]
        return self.debugger.threads()

    def executable(self) -> Optional[str]:
        return self.exe

    def core_path(self) -> Optional[str]:
        return self.core

    def load_bias(self) -> int:
        return self.debugger.load_bias() + self.bias_shift


def _goroutine_listing(target: CachedTarget) -> list[tuple]:
    program = GoProgram(target)
    return [(r.id, r.state, r.sched_pc, r.sched_sp) for r in program.goroutines()]


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
def test_a_debugger_on_a_core_reads_the_core_file(go_version, flavour):
    artifact = kernel_core("simple", go_version, flavour)
    exe, core = str(artifact.exe), str(artifact.core)
    direct = CoreBackedDebugger(exe, core, core)
    listing = _goroutine_listing(direct)
    assert listing and direct.memory_stats()["debugger_reads"] == 1  # the one sample compared

    # A core file that does not give the debugger's bytes (another load bias:
    # the debugger relocated the executable elsewhere) is not used.
    relocated = CoreBackedDebugger(exe, core, core, bias_shift=0x1000)
    allgs = GoProgram(direct).runtime_symbol("runtime.allgs")
    stack = direct.threads()[0].registers["sp"] & ~0x3F
    assert allgs is not None and abs(allgs - stack) > 1 << 20
    for address in (stack, allgs):
        assert relocated.read(address, 64) == direct.read(address, 64)
    assert relocated.memory_stats()["debugger_reads"] == 2  # the file would have needed one (the sample)

    # No core path known (a live process): every read is the debugger's.
    live = CoreBackedDebugger(exe, core, None)
    assert _goroutine_listing(live) == listing
    assert live.memory_stats()["debugger_reads"] > 1
