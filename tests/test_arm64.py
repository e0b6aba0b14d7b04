"""arm64 cores (link-register unwinding, arm64 signal frames, register notes):
the offline snapshot equals the runtime's traceback."""

from __future__ import annotations

import pytest

from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.foreign import qemu_core
from support.oracle import parse_traceback
from support.parity import compare


@pytest.mark.slow
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default")
@pytest.mark.parametrize("mode", ["panic", "segv"])
def test_arm64_core_matches_runtime_traceback(go_version, flavour, mode):
    artifact = qemu_core("zoo", go_version, "arm64", mode)
    traceback = parse_traceback(artifact.traceback.read_text(errors="replace"))
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    assert program.target.arch == "arm64"
    snapshot = build_snapshot(program)
    crashing = (
        1 if mode == "panic" else next((g.id for g in traceback.goroutines if g.state == "running" and g.frames), None)
    )
    report = compare(snapshot, traceback, crashing)
    assert report.compared >= 20
    assert report.ok(), report.summary()
