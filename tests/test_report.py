"""go report --html: the page opened in headless Chromium renders the groups and counts.

Chromium is Debian's ``chromium`` package: installed here when missing and we are
root (install.sh --test-deps installs it too), else the browser tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from goext_core.commands import Context, dispatch
from goext_core.output.report import main as report_main
from goext_core.output.report import report_data
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core

_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_BROWSER_TIMEOUT_S = 120


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it needs root (install.sh --test-deps)")
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        capture_output=True,
        text=True,
        timeout=1800,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
    )
    found = shutil.which("chromium")
    if done.returncode != 0 or not found:
        pytest.skip(f"could not install chromium: {done.stderr.strip()[-300:]}")
    return found


def _browse(page: Path, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="goext-chromium-") as profile:
        return subprocess.run(
            [_chromium(), *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=_BROWSER_TIMEOUT_S,
        )


def _rendered_dom(page: Path) -> str:
    done = _browse(page, "--dump-dom")
    assert 'data-rendered="yes"' in done.stdout, done.stderr[-2000:]
    return done.stdout


def _screenshot(page: Path, out: Path) -> None:
    done = _browse(page, "--window-size=1280,2000", f"--screenshot={out}")
    assert out.is_file() and out.stat().st_size > 10_000, done.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
@pytest.mark.go_versions("1.27")
@pytest.mark.flavours("default")
def test_report_renders_groups_counts_deadlock_and_scheduler(go_version, flavour, tmp_path):
    artifact = kernel_core("stuck", go_version, flavour, "partial")
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    page = tmp_path / "report.html"
    out: list[str] = []
    assert dispatch(Context(lambda: program), "report", f"--html {page}", out.append), out
    assert re.match(r"wrote .*: \d+ goroutines in \d+ groups", "".join(out))
    _screenshot(page, tmp_path / "report.png")
    dom = _rendered_dom(page)
    records = program.goroutines()
    assert f"{len(records)}</b><span>goroutines" in dom
    assert dom.count('class="group"') == len(report_data_for(program)["groups"])
    assert re.search(r'class="count">1 ×</span><span class="state">\[sync.Mutex.Lock\]', dom)
    assert "wait cycle 1: goroutine" in dom and "wait cycle 2: goroutine" in dom
    assert "main.transfer" in dom and "main.ringMember" in dom
    assert "<th>schedtick</th>" in dom and "sysmon" in dom
    assert "partial deadlock" in dom


def report_data_for(program: GoProgram) -> dict:
    from goext_core.output.snapshot import build_snapshot

    return report_data(build_snapshot(program))


def _synthetic_snapshot(count: int, big_groups: int, distinct: int) -> dict:
    """``count`` goroutines: most in ``big_groups`` deep stacks, ``distinct`` in stacks of their own."""
    goroutines = []
    for index in range(count):
        kind = index % big_groups if index < count - distinct else index
        frames = [
            {
                "function": f"main.work{kind}_{depth}",
                "file": f"/src/app/w{kind % 40}.go",
                "line": 10 + depth,
                "pc": 0x401000 + depth,
                "sp": 0xC000010000,
                "inlined": False,
                "stack": "goroutine",
            }
            for depth in range(4 + kind % 12)
        ]
        frames.append(
            {
                "function": "runtime.goexit",
                "file": "/go/src/runtime/asm_amd64.s",
                "line": 1700,
                "pc": 0x460000,
                "sp": 0,
                "inlined": False,
                "stack": "goroutine",
            }
        )
        goroutines.append(
            {
                "id": index + 1,
                "address": 0,
                "state": ("chan receive", "select", "runnable")[kind % 3],
                "status": 4,
                "wait_reason": None,
                "wait_minutes": None,
                "locked_to_thread": False,
                "system": False,
                "thread": None,
                "m": None,
                "parent": None,
                "labels": {},
                "frames": frames,
                "created_by": None,
                "error": None,
            }
        )
    return {
        "format": "goext.snapshot/2",
        "target": {
            "go_version": "go1.27.3",
            "goos": "linux",
            "goarch": "amd64",
            "executable": "/srv/app",
            "core": "/srv/core",
            "has_dwarf": True,
            "build": None,
        },
        "scheduler": None,
        "gc": None,
        "threads": [],
        "goroutines": goroutines,
        "notes": [],
    }


@pytest.mark.e2e
def test_report_of_100k_goroutines_stays_small_and_lazy(tmp_path):
    """100,000 goroutines, 5,000 of them with stacks of their own: the page embeds
    groups, not goroutines, and creates rows only as they scroll into view."""
    import json

    snapshot = tmp_path / "big.json"
    snapshot.write_text(json.dumps(_synthetic_snapshot(100_000, 6, 5_000)))
    page = tmp_path / "big.html"
    assert report_main([str(snapshot), str(page)]) == 0
    assert page.stat().st_size < 8 << 20
    dom = _rendered_dom(page)
    assert "100,000</b><span>goroutines" in dom
    assert "5,006 groups, 100,000 goroutines" in dom
    assert dom.count('class="group"') == 100  # one page of rows, the rest on scroll
    assert re.search(r'class="count">15,834 ×', dom)
    _screenshot(page, tmp_path / "big.png")


@pytest.mark.unit
def test_report_offline_from_snapshot_json_rejects_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert report_main([str(bad), str(tmp_path / "x.html")]) == 1
    assert report_main([str(tmp_path / "missing.json"), str(tmp_path / "x.html")]) == 1
    assert report_main([]) == 2
