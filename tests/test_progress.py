"""Progress of long commands and Ctrl-C: shown only through an installed reporter
(the front ends install one for a person at a terminal), and an interrupt stops the
command cleanly, leaving the program usable."""

from __future__ import annotations

import pytest

from goext_core import progress
from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core


@pytest.mark.unit
def test_no_reporter_or_short_loops_report_nothing():
    calls: list[tuple] = []
    assert list(progress.steps(range(10), "x")) == list(range(10))
    previous = progress.set_reporter(lambda *a: calls.append(a))
    try:
        assert list(progress.steps(range(progress.THRESHOLD - 1), "short")) == list(range(progress.THRESHOLD - 1))
        assert calls == []
        assert sum(progress.steps(range(progress.THRESHOLD), "long")) == sum(range(progress.THRESHOLD))
    finally:
        progress.set_reporter(previous)
    assert calls[0] == ("long", 0, progress.THRESHOLD)
    assert calls[-1] == ("long", progress.THRESHOLD, 0)  # the end clears the status line


@pytest.mark.unit
def test_terminal_reporter_rewrites_one_line_and_clears_it():
    written: list[str] = []
    report = progress.terminal_reporter(written.append)
    report("snapshot", 5000, 10000)
    report("snapshot", 10000, 0)
    assert written[0].startswith("\rgoext: snapshot: 5,000/10,000 (50%)")
    assert written[-1].strip() == "" and written[-1].startswith("\r")
    flag = [True]
    interrupted = progress.terminal_reporter(written.append, lambda: flag[0])
    with pytest.raises(KeyboardInterrupt):
        interrupted("snapshot", 1, 10000)


@pytest.mark.slow
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_interrupt_stops_a_command_over_10000_goroutines_cleanly(go_version, flavour, tmp_path):
    artifact = kernel_core("many", go_version, flavour, "panic", ("10000",))
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    seen: list[tuple] = []

    def impatient(what: str, done: int, total: int) -> None:
        seen.append((what, done, total))
        if total > 0 and len(seen) >= 2:
            raise KeyboardInterrupt  # what gdb raises, and lldb's flag turns into, on Ctrl-C

    output = tmp_path / "s.json"
    out: list[str] = []
    previous = progress.set_reporter(impatient)
    try:
        assert not dispatch(Context(lambda: program), "snapshot", f"-o {output}", out.append)
    finally:
        progress.set_reporter(previous)
    assert out[-1] == "goext: interrupted\n" and not output.exists()
    assert seen[0][0] in ("goroutines", "snapshot") and seen[0][2] >= 10000  # the walk reports first
    # Still usable: the same program answers the next command completely.
    out.clear()
    assert dispatch(Context(lambda: program), "snapshot", f"-o {output}", out.append), out
    assert output.stat().st_size > 1_000_000
