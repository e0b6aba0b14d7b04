#!/usr/bin/env python3
"""Benchmark: list every goroutine of a 10,000-goroutine core.

    bench/bench_goroutines.py [--go 1.22] [--count 10000] [--repeat 3]

Times, on the same kernel core: goext offline (no debugger), goext in gdb,
goext in lldb, Go's own runtime-gdb.py `info goroutines` in gdb, and delve's
`goroutines` (Debian's delve, with --check-go-version=false beyond Go 1.20).
Each tool's time includes its start-up; the start-up of the bare debugger on
the same core is printed too, so the command's own cost can be read off.
Besides time it reports how many goroutines each tool listed and how many
wait reasons it got right, against the runtime's own traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "common"))

from support.cores import kernel_core  # noqa: E402
from support.debuggers import lldb_binary  # noqa: E402
from support.oracle import parse_traceback  # noqa: E402
from support.toolchains import toolchain  # noqa: E402


def _timed(argv: list[str], stdin: Optional[str] = None, timeout: int = 900) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, GOEXT_QUIET="1"))
    return time.perf_counter() - start, result.stdout + result.stderr


def _best(repeat: int, run: Callable[[], tuple[float, str]]) -> tuple[float, str]:
    times, output = [], ""
    for _ in range(repeat):
        elapsed, output = run()
        times.append(elapsed)
    return statistics.median(times), output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--go", default="1.22", help="Go version key of the fixture (default 1.22)")
    parser.add_argument("--count", type=int, default=10000, help="goroutines in the fixture")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    artifact = kernel_core("many", args.go, "default", "panic", (str(args.count),))
    exe, core = str(artifact.exe), str(artifact.core)
    oracle = parse_traceback(artifact.traceback.read_text(errors="replace"))
    expected = {g.id: g.state for g in oracle.by_id().values() if g.id}
    goroot = toolchain(args.go).goroot
    gdb_py = REPO / "gdb" / "goext.py"
    lldb_py = REPO / "lldb" / "goext.py"
    runtime_gdb = Path(goroot) / "src" / "runtime" / "runtime-gdb.py"
    print(f"core: {core} ({os.path.getsize(core) >> 20} MiB), Go {artifact.go_version}, "
          f"{len(expected)} goroutines printed by the runtime\n")

    gdb = ["gdb", "-nx", "-batch", "-iex", "set auto-load python-scripts off"]
    rows: list[tuple[str, float, str]] = []
    runs: dict[str, Callable[[], tuple[float, str]]] = {
        "gdb start-up (no command)": lambda: _timed(gdb + [exe, core]),
        "goext offline": lambda: _timed([sys.executable, "-m", "goext_core", exe, core, "goroutines"]),
        "goext in gdb": lambda: _timed(gdb + ["-ex", f"source {gdb_py}", "-ex", "go goroutines", exe, core]),
        "runtime-gdb.py info goroutines": lambda: _timed(
            gdb + ["-ex", f"source {runtime_gdb}", "-ex", "info goroutines", exe, core]),
    }
    lldb = lldb_binary()
    if lldb:
        runs["lldb start-up (no command)"] = lambda: _timed([lldb, "-b", "--no-lldbinit", exe, "-c", core])
        runs["goext in lldb"] = lambda: _timed(
            [lldb, "-b", "--no-lldbinit", "-o", f"command script import {lldb_py}", "-o", "go goroutines",
             exe, "-c", core])
    dlv = shutil.which("dlv")
    if dlv:
        with tempfile.NamedTemporaryFile("w", suffix=".dlv", delete=False) as script:
            script.write("goroutines\nexit\n")
        runs["delve goroutines"] = lambda: _timed(
            [dlv, "core", exe, core, "--check-go-version=false", "--allow-non-terminal-interactive=true",
             "--init", script.name], stdin="")
    os.environ["PYTHONPATH"] = str(REPO / "common")
    for name, run in runs.items():
        try:
            elapsed, output = _best(args.repeat, run)
        except subprocess.TimeoutExpired:
            rows.append((name, float("nan"), "timed out"))
            continue
        rows.append((name, elapsed, _accuracy(name, output, expected)))
    base = next((t for n, t, _ in rows if n == "goext in gdb"), None)
    print(f"{'tool':<34}{'seconds':>9}{'x goext-gdb':>13}  answers")
    for name, elapsed, accuracy in rows:
        ratio = f"{elapsed / base:.2f}" if base else "-"
        print(f"{name:<34}{elapsed:>9.2f}{ratio:>13}  {accuracy}")
    return 0


def _accuracy(name: str, output: str, expected: dict[int, str]) -> str:
    """How many goroutines the tool listed, and how many states match the runtime's."""
    if "start-up" in name:
        return ""
    listed: dict[int, str] = {}
    if name.startswith("goext"):
        for match in re.finditer(r"^\*?\s+(\d+)\s+\[([^\]]*)\]", output, re.M):
            listed[int(match.group(1))] = match.group(2).split(", ")[0]
    elif name.startswith("runtime-gdb"):
        for match in re.finditer(r"^\*?\s*(\d+)\s+(\w+)\s", output, re.M):
            listed[int(match.group(1))] = match.group(2)
    elif name.startswith("delve"):
        for match in re.finditer(r"Goroutine (\d+) - .*?(?: \[([^\]]*)\])?$", output, re.M):
            listed[int(match.group(1))] = re.sub(r" -?\d+$", "", (match.group(2) or "").strip())
    right = sum(1 for goid, state in listed.items() if expected.get(goid) == state)
    errors = [line for line in output.splitlines() if "rror" in line][:1]
    note = f"; first error: {errors[0].strip()[:80]}" if errors else ""
    return f"{len(listed)} listed, {right}/{len(expected)} states as the runtime printed{note}"


if __name__ == "__main__":
    sys.exit(main())
