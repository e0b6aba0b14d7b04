#!/usr/bin/env python3
"""Benchmark goext against runtime-gdb.py and delve on the same cores, in one run.

    bench/bench_goroutines.py                 # the full set (Go 1.22 and 1.27; ~20 minutes)
    bench/bench_goroutines.py --quick         # Go 1.27 only, one repetition
    bench/bench_goroutines.py --only list-1.27-100k,stripped

Scenarios (each on a kernel core of tests/programs/many, made and cached by
the test support code):
- ``list-V-N``: list every goroutine of a core with N parked goroutines
  (``-deep50``: each 50 frames deep): goext offline, goext in gdb, goext in
  lldb, runtime-gdb.py ``info goroutines`` (Go's own, from the toolchain),
  delve ``goroutines``;
- ``stacks-V-N``: every goroutine's stack: goext offline ``bt all`` against
  delve ``goroutines -t``;
- ``snapshot-V-N``: goext offline ``snapshot`` (peak memory against delve's list);
- ``stripped``: the first command on a large stripped Debian Go program
  (rclone, installed from Debian when root), cold and warm (goext's on-disk
  index), against gdb's own load of the same core.

Times are medians of ``--repeat`` runs and include each tool's start-up;
``rss`` is the peak resident memory of the tool's process.  The list
scenarios run every tool once per round, so that a machine's load drifting
over minutes weighs on all of them alike; goext's own cost in a debugger is
the median over rounds of the session minus the debugger's load of that
round.  Ratios are computed between tools measured in this same run.  delve
comes from PATH (``dlv``); a missing tool is reported, not fatal.
"""

from __future__ import annotations

import argparse
import atexit
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "common"))

from support import Unavailable  # noqa: E402
from support.cores import kernel_core  # noqa: E402
from support.debuggers import lldb_binary  # noqa: E402
from support.toolchains import toolchain  # noqa: E402

GDB_ENTRY = REPO / "gdb" / "goext.py"
LLDB_ENTRY = REPO / "lldb" / "goext.py"
TIMEOUT_S = 1800


@dataclass
class Measure:
    seconds: float = float("nan")
    rss_mb: float = float("nan")
    note: str = ""
    cpu_seconds: float = float("nan")  # user + system time of the tool's process (steadier than wall time under load)


@dataclass
class Scenario:
    name: str
    rows: dict[str, Measure] = field(default_factory=dict)
    ratios: list[tuple[str, str, str, float]] = field(default_factory=list)  # (label, a, b, target ratio)
    skipped: str = ""


# Runs a command and writes its peak RSS (KB) and CPU time (s) to a file.  The
# tool is started from this small process, not from the benchmark: a child's
# ru_maxrss counts what it inherited before exec, and the benchmark itself grows large.
_RSS_PROBE = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _run(argv: list[str], env: Optional[dict[str, str]] = None, stdin: str = "") -> tuple[float, float, str, float]:
    """(seconds, peak RSS in MB, output, CPU seconds) of one process."""
    merged = dict(os.environ, GOEXT_QUIET="1", **(env or {}))
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        probe = [sys.executable, "-c", _RSS_PROBE, rss.name, *argv]
        process = subprocess.Popen(probe, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=merged)
        assert process.stdin is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
        deadline = start + TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
        probe_out = rss.read().split()
    peak_kb = probe_out[0] if probe_out else ""
    cpu = float(probe_out[1]) if len(probe_out) > 1 else float("nan")
    return elapsed, (int(peak_kb) / 1024 if peak_kb.isdigit() else float("nan")), output, cpu


def _measure(
    argv: list[str], repeat: int, env: Optional[dict[str, str]] = None, stdin: str = "", expect: Optional[str] = None
) -> Measure:
    times, peaks, cpus, output = [], [], [], ""
    for _ in range(repeat):
        elapsed, peak, output, cpu = _run(argv, env, stdin)
        times.append(elapsed)
        peaks.append(peak)
        cpus.append(cpu)
    measure = Measure(statistics.median(times), max(peaks), cpu_seconds=statistics.median(cpus))
    if expect is not None and not re.search(expect, output, re.M):
        tail = output.strip().splitlines()[-1:] or ["no output"]
        measure.note = f"unexpected output: {tail[0][:100]}"
    return measure


# One command to measure: argv, extra environment, stdin, a pattern its output must match.
Plan = tuple[list[str], Optional[dict[str, str]], str, Optional[str]]


def _measure_rounds(plans: dict[str, Plan], repeat: int) -> tuple[dict[str, Measure], dict[str, list[tuple]]]:
    """Every plan once per round, ``repeat`` rounds: a load that drifts over
    minutes on a shared machine weighs on every tool alike, and a debugger
    session and its load are paired within a round.  Returns the medians and
    each plan's runs."""
    runs: dict[str, list[tuple]] = {name: [] for name in plans}
    for _ in range(repeat):
        for name, (argv, env, stdin, _) in plans.items():
            runs[name].append(_run(argv, env, stdin))
    measures: dict[str, Measure] = {}
    for name, (_, _, _, expect) in plans.items():
        done = runs[name]
        measure = Measure(
            statistics.median(run[0] for run in done),
            max(run[1] for run in done),
            cpu_seconds=statistics.median(run[3] for run in done),
        )
        output = done[-1][2]
        if expect is not None and not re.search(expect, output, re.M):
            tail = output.strip().splitlines()[-1:] or ["no output"]
            measure.note = f"unexpected output: {tail[0][:100]}"
        measures[name] = measure
    return measures, runs


def _paired_difference(session: list[tuple], load: list[tuple]) -> Measure:
    """A debugger session's time beyond the debugger's own load, each round's
    session minus the same round's load (medians)."""
    return Measure(
        statistics.median(run[0] - base[0] for run, base in zip(session, load)),
        cpu_seconds=statistics.median(run[3] - base[3] for run, base in zip(session, load)),
    )


def _gdb(exe: str, core: str, *commands: str) -> list[str]:
    argv = ["gdb", "-nx", "-batch", "-iex", "set auto-load python-scripts off"]
    for command in commands:
        argv += ["-ex", command]
    return argv + [exe, core]


def _delve(exe: str, core: str, command: str) -> tuple[list[str], str]:
    script = tempfile.NamedTemporaryFile("w", suffix=".dlv", delete=False)
    script.write(f"{command}\nexit\n")
    script.close()
    atexit.register(os.unlink, script.name)  # the benchmark leaves nothing behind
    return (
        [
            shutil.which("dlv") or "dlv",
            "core",
            exe,
            core,
            "--check-go-version=false",
            "--allow-non-terminal-interactive=true",
            "--init",
            script.name,
        ],
        "",
    )


def _offline(exe: str, core: str, *command: str) -> list[str]:
    return [sys.executable, "-m", "goext_core", exe, core, *command]


def _many_core(version: str, count: int, depth: int) -> tuple[str, str]:
    args = (str(count),) if not depth else (str(count), str(depth))
    artifact = kernel_core("many", version, "default", "panic", args)
    exe, core = str(artifact.exe), str(artifact.core)
    # Warm goext's on-disk index first (the struct layouts from DWARF): the
    # list scenarios measure warm runs, and the index is size-capped, so an
    # entry may have been pruned since the last run.
    _run(_offline(exe, core, "sched"))
    return exe, core


def list_scenario(version: str, count: int, depth: int, repeat: int) -> Scenario:
    scenario = Scenario(f"list-{version}-{count // 1000}k" + (f"-deep{depth}" if depth else ""))
    exe, core = _many_core(version, count, depth)
    total = r"^\d+ goroutines"
    plans: dict[str, Plan] = {
        "goext offline": (_offline(exe, core, "goroutines"), None, "", total),
        "goext in gdb": (_gdb(exe, core, f"source {GDB_ENTRY}", "go goroutines"), None, "", total),
        # What goext itself adds inside a debugger: the session minus the
        # debugger's own start and load of the same core (at 10,000 goroutines
        # that load is as long as goext's whole offline run).
        "gdb load (no command)": (_gdb(exe, core), None, "", None),
    }
    lldb = lldb_binary()
    if lldb:
        session = [lldb, "-b", "--no-lldbinit", "-o", f"command script import {LLDB_ENTRY}", "-o", "go goroutines"]
        plans["goext in lldb"] = ([*session, exe, "-c", core], None, "", total)
        plans["lldb load (no command)"] = ([lldb, "-b", "--no-lldbinit", exe, "-c", core], None, "", None)
    runtime_gdb = Path(toolchain(version).goroot) / "src" / "runtime" / "runtime-gdb.py"
    if runtime_gdb.exists():
        plans["runtime-gdb.py info goroutines"] = (
            _gdb(exe, core, f"source {runtime_gdb}", "info goroutines"),
            None,
            "",
            r"^\*?\s*\d+ ",
        )
    if shutil.which("dlv"):
        argv, stdin = _delve(exe, core, "goroutines")
        plans["delve goroutines"] = (argv, None, stdin, r"Goroutine \d+")
    measures, runs = _measure_rounds(plans, repeat)
    rows = scenario.rows
    for name in plans:
        rows[name] = measures[name]
        debugger = name.split()[-1] if name.startswith("goext in ") else None
        if debugger:
            rows[f"goext's own cost in {debugger}"] = _paired_difference(
                runs[name], runs[f"{debugger} load (no command)"]
            )
    scenario.ratios = [
        ("offline / delve", "goext offline", "delve goroutines", 0.5),
        ("offline / runtime-gdb.py", "goext offline", "runtime-gdb.py info goroutines", 0.5),
        ("gdb / offline", "goext in gdb", "goext offline", 1.3),
        ("lldb / offline", "goext in lldb", "goext offline", 1.3),
        ("gdb own cost / offline", "goext's own cost in gdb", "goext offline", 1.3),
        ("lldb own cost / offline", "goext's own cost in lldb", "goext offline", 1.3),
    ]
    return scenario


def stacks_scenario(version: str, count: int, depth: int, repeat: int) -> Scenario:
    scenario = Scenario(f"stacks-{version}-{count // 1000}k" + (f"-deep{depth}" if depth else ""))
    exe, core = _many_core(version, count, depth)
    scenario.rows["goext offline bt all"] = _measure(_offline(exe, core, "bt", "all"), repeat, expect=r"^goroutine ")
    if shutil.which("dlv"):
        argv, stdin = _delve(exe, core, "goroutines -t")
        scenario.rows["delve goroutines -t"] = _measure(argv, repeat, stdin=stdin, expect=r"Goroutine \d+")
    scenario.ratios = [("bt all / delve -t", "goext offline bt all", "delve goroutines -t", 0.3)]
    return scenario


def snapshot_scenario(version: str, count: int, repeat: int) -> Scenario:
    scenario = Scenario(f"snapshot-{version}-{count // 1000}k")
    exe, core = _many_core(version, count, 0)
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "snapshot.json")
        scenario.rows["goext offline snapshot"] = _measure(_offline(exe, core, "snapshot", "-o", out), repeat)
    scenario.rows["goext offline list"] = _measure(_offline(exe, core, "goroutines"), repeat)
    if shutil.which("dlv"):
        argv, stdin = _delve(exe, core, "goroutines")
        scenario.rows["delve goroutines"] = _measure(argv, repeat, stdin=stdin, expect=r"Goroutine \d+")
    scenario.ratios = [
        ("snapshot RSS / delve list RSS", "goext offline snapshot", "delve goroutines", 1.0),
        ("list RSS / delve list RSS", "goext offline list", "delve goroutines", 1.0),
    ]
    return scenario


def stripped_scenario(repeat: int) -> Scenario:
    """A big stripped Go program from Debian, crashed with SIGQUIT."""
    scenario = Scenario("stripped")
    try:
        from support.distro import apt_install, free_port, port_open, quit_core

        apt_install("rclone", "/usr/bin/rclone")
        port = free_port()
        argv = ["/usr/bin/rclone", "rcd", "--rc-addr", f"127.0.0.1:{port}", "--rc-no-auth"]
        artifact = quit_core(argv, "bench-rclone", ready=lambda: port_open(port))
    except Unavailable as exc:
        scenario.skipped = str(exc)
        return scenario
    exe, core = str(artifact.exe), str(artifact.core)
    size = os.path.getsize(exe) >> 20
    scenario.name = f"stripped ({Path(exe).name}, {size} MB)"
    # Each repetition runs gdb's own load, then goext's cold and warm first
    # command, back to back, and goext's own cost is taken against the load
    # of its own repetition: on a shared machine the load drifts between
    # minutes, and differences of separately measured medians drift with it.
    with tempfile.TemporaryDirectory() as cache:
        load_runs, cold_runs, warm_runs = [], [], []
        for index in range(repeat):
            env = {"GOEXT_CACHE_DIR": os.path.join(cache, f"cold{index}")}
            load_runs.append(_run(_gdb(exe, core)))
            cold_runs.append(_run(_gdb(exe, core, f"source {GDB_ENTRY}", "go goroutines"), env))
            warm_runs.append(_run(_gdb(exe, core, f"source {GDB_ENTRY}", "go goroutines"), env))
        load = Measure(
            statistics.median(run[0] for run in load_runs),
            max(run[1] for run in load_runs),
            cpu_seconds=statistics.median(run[3] for run in load_runs),
        )
        scenario.rows["gdb load (no command)"] = load
        for name, runs in (("cold", cold_runs), ("warm", warm_runs)):
            scenario.rows[f"goext in gdb, first command, {name}"] = Measure(
                statistics.median(run[0] for run in runs), cpu_seconds=statistics.median(run[3] for run in runs)
            )
            scenario.rows[f"goext's own cost, first command, {name}"] = _paired_difference(runs, load_runs)
        env = {"GOEXT_CACHE_DIR": os.path.join(cache, "offline")}
        _run(_offline(exe, core, "goroutines"), env)
        scenario.rows["goext offline, warm"] = _measure(_offline(exe, core, "goroutines"), repeat, env)
    scenario.ratios = [
        ("own cost cold / gdb load", "goext's own cost, first command, cold", "gdb load (no command)", 1.0),
        ("own cost warm / gdb load", "goext's own cost, first command, warm", "gdb load (no command)", 0.3),
        ("own CPU cold / gdb load CPU", "goext's own cost, first command, cold", "gdb load (no command)", 1.0),
        ("own CPU warm / gdb load CPU", "goext's own cost, first command, warm", "gdb load (no command)", 0.3),
    ]
    return scenario


def report(scenario: Scenario) -> None:
    print(f"\n== {scenario.name}")
    if scenario.skipped:
        print(f"   skipped: {scenario.skipped}")
        return
    for name, measure in scenario.rows.items():
        note = f"  {measure.note}" if measure.note else ""
        cpu = f"{measure.cpu_seconds:>8.2f} s CPU" if measure.cpu_seconds == measure.cpu_seconds else ""
        print(f"   {name:<38}{measure.seconds:>8.2f} s{measure.rss_mb:>9.0f} MB{cpu}{note}")
    for label, a, b, goal in scenario.ratios:
        if a not in scenario.rows or b not in scenario.rows:
            continue
        first, second = scenario.rows[a], scenario.rows[b]
        if "RSS" in label:
            ratio = first.rss_mb / second.rss_mb
        elif "CPU" in label:
            ratio = first.cpu_seconds / second.cpu_seconds
        else:
            ratio = first.seconds / second.seconds
        verdict = "ok" if ratio <= goal else "MISSED"
        print(f"   ratio {label:<32}{ratio:>7.2f}   (goal <= {goal}: {verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median; default 3)")
    parser.add_argument("--quick", action="store_true", help="Go 1.27 only, one run each")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    args = parser.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)
    versions = ("1.27",) if args.quick else ("1.22", "1.27")
    os.environ["PYTHONPATH"] = str(REPO / "common")
    # Measure goext as users run it: with compiled bytecode (an environment that
    # forbids writing it would charge every run ~0.13 s of compiling).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # ... and with buffered output: unbuffered, every chunk of bt all is a system call.
    os.environ.pop("PYTHONUNBUFFERED", None)
    for tree in ("common", "gdb", "lldb"):
        compileall.compile_dir(str(REPO / tree), quiet=1)
    plans = []
    for version in versions:
        plans += [
            (f"list-{version}-10k", lambda v=version: list_scenario(v, 10_000, 0, repeat)),
            (f"list-{version}-100k", lambda v=version: list_scenario(v, 100_000, 0, repeat)),
            (f"list-{version}-10k-deep50", lambda v=version: list_scenario(v, 10_000, 50, repeat)),
            (f"stacks-{version}-100k", lambda v=version: stacks_scenario(v, 100_000, 0, repeat)),
            (f"snapshot-{version}-100k", lambda v=version: snapshot_scenario(v, 100_000, repeat)),
        ]
    plans.append(("stripped", lambda: stripped_scenario(repeat)))
    wanted = [item for item in args.only.split(",") if item]
    print(f"goext benchmark: {os.cpu_count()} cores, repeat {repeat}, delve: {shutil.which('dlv') or 'not found'}")
    for name, plan in plans:
        if wanted and not any(name.startswith(prefix) for prefix in wanted):
            continue
        try:
            report(plan())
        except Unavailable as exc:
            report(Scenario(name, skipped=str(exc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
