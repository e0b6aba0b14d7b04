#!/usr/bin/env python3
"""Benchmark go heap on kernel cores of tests/programs/heapy scaled to 10^5, 10^6
and 10^7 objects (its SCALE argument multiplies the small objects).

    bench/bench_heap.py                    # Go 1.27, 10^5..10^7 objects
    bench/bench_heap.py --version 1.22 --scales 20,200

For each core: goext offline ``go heap --json`` in a fresh process, its wall
time, objects per second and peak resident memory, and whether the totals
reconciled with the runtime's own figures.  Not a test: the cores of the
largest scale take a few hundred MB in the test cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "common"))

from support.cores import kernel_core  # noqa: E402

# heapy keeps 5,000 small objects per unit of SCALE (3,000 + 2,000), plus ~800 others.
DEFAULT_SCALES = (20, 200, 2000)


def measure(exe: Path, core: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, go heap's JSON) of one offline run."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "common"), GOEXT_QUIET="1")
    argv = [sys.executable, "-m", "goext_core", str(exe), str(core), "heap", "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"go heap failed on {core}: {err.read().decode(errors='replace')[-500:]}")
        return elapsed, usage.ru_maxrss / 1024, json.loads(out.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="1.27", help="Go release of the fixture (default 1.27)")
    parser.add_argument(
        "--scales", default=",".join(map(str, DEFAULT_SCALES)), help="heapy SCALEs (default 20,200,2000)"
    )
    args = parser.parse_args()
    print(f"{'objects':>12} {'seconds':>8} {'objects/s':>11} {'peak MB':>8}  reconciled")
    for scale in (int(text) for text in args.scales.split(",") if text.strip()):
        artifact = kernel_core("heapy", args.version, "default", "panic", [str(scale)])
        elapsed, peak, data = measure(artifact.exe, artifact.core)
        reconciled = all(line["goext"] == line["expected"] for line in data["reconciliation"])
        rate = data["objects"] / elapsed if elapsed else float("nan")
        print(f"{data['objects']:>12,} {elapsed:>8.2f} {rate:>11,.0f} {peak:>8.0f}  {'yes' if reconciled else 'NO'}")


if __name__ == "__main__":
    main()
