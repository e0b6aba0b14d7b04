"""gdb's own commands on any goroutine of a core: 'goroutine ID bt', 'goroutine ID
frame N info locals', 'info goroutines' (golang/go#17575 fails exactly here)."""

from __future__ import annotations

import re

import pytest

from support.cores import kernel_core
from support.debuggers import require_gdb, run_gdb


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.19", "1.22", "1.27")
@pytest.mark.flavours("default", "noopt")  # gdb names no function of a stripped binary by itself yet
def test_goroutine_bt_on_a_core_shows_that_goroutines_frames(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    parked = artifact.parsed().by_id()
    goid = next(g.id for g in parked.values() if any(f.function == "main.blockChanSend" for f in g.frames))
    result = run_gdb(
        [f"goroutine {goid} bt", "bt 1", "goroutine 99999 bt", "info goroutines"], exe=artifact.exe, core=artifact.core
    )
    goroutine_bt, thread_bt, unknown, info = result.outputs
    functions = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) ", goroutine_bt, re.M)
    expected = [f.function for f in parked[goid].frames if not f.inlined]
    assert functions[: len(expected)] == expected, goroutine_bt
    assert "runtime.raise" not in goroutine_bt  # the thread's own frame 0 is hidden
    assert "blockChanSend" not in thread_bt  # and everything is back afterwards
    assert "no goroutine with id 99999" in unknown and "Traceback" not in unknown
    assert re.search(rf"^\s*{goid}\s+\[chan send\]", info, re.M), info


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("noopt")
def test_goroutine_frame_locals_on_a_core(go_version, flavour):
    require_gdb()
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    parked = artifact.parsed().by_id()
    goid, block = next((g.id, g) for g in parked.values() if any(f.function == "main.holdLocals" for f in g.frames))
    frame = [f.function for f in block.frames].index("main.holdLocals")
    result = run_gdb([f"goroutine {goid} frame {frame} info locals"], exe=artifact.exe, core=artifact.core)
    (locals_text,) = result.outputs
    assert re.search(r"^localInt = 1234$", locals_text, re.M), locals_text
