"""pyelftools is imported only to read DWARF: importing the commands and listing
goroutines whose layouts the on-disk index holds never import it, DWARF
commands still work, and without pyelftools they say so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.cores import CoreArtifact, kernel_core
from support.debuggers import REPO_ROOT

# Runs the offline CLI in this process, then reports whether pyelftools was
# imported.  "--without" first makes pyelftools unimportable, as if not installed.
_RUN = """
import runpy, sys
if sys.argv[1] == "--without":
    sys.modules["elftools"] = None
    del sys.argv[1]
sys.argv[0] = "goext_core"
code = 0
try:
    runpy.run_module("goext_core", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else 1
loaded = sorted(name for name, module in sys.modules.items() if name.split(".")[0] == "elftools" and module)
print("elftools modules:", len(loaded))
sys.exit(code)
"""


def _run(cache: Path, *args: str, without: bool = False) -> tuple[str, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "common"), GOEXT_CACHE_DIR=str(cache))
    command = [sys.executable, "-c", _RUN] + (["--without"] if without else []) + list(args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return output, result.returncode


@pytest.fixture(scope="module")
def simple() -> CoreArtifact:
    return kernel_core("simple", "1.27", "default", "panic")


def test_importing_the_commands_does_not_import_pyelftools() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "common"))
    code = (
        "import sys, goext_core.commands, goext_core.__main__; "
        "print(sorted(m for m in sys.modules if m.startswith('elftools')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_goroutines_from_the_index_do_not_import_pyelftools(simple: CoreArtifact, tmp_path: Path) -> None:
    first, code = _run(tmp_path, str(simple.exe), str(simple.core), "goroutines")
    assert code == 0 and "goroutines" in first, first
    assert "elftools modules: 0" not in first, "the first run reads the layouts from DWARF"
    again, code = _run(tmp_path, str(simple.exe), str(simple.core), "goroutines")
    assert code == 0 and "elftools modules: 0" in again, again
    assert again.split("elftools modules:")[0] == first.split("elftools modules:")[0]
    without, code = _run(tmp_path, str(simple.exe), str(simple.core), "goroutines", without=True)
    assert code == 0 and without == again


def test_dwarf_commands_read_dwarf_and_say_when_pyelftools_is_missing(simple: CoreArtifact, tmp_path: Path) -> None:
    output, code = _run(tmp_path, str(simple.exe), str(simple.core), "print", "main.message")
    assert code == 0 and '"goext-simple"' in output, output
    assert "elftools modules: 0" not in output
    output, code = _run(tmp_path, str(simple.exe), str(simple.core), "print", "main.message", without=True)
    errors = [line for line in output.splitlines() if line.startswith("goext: error:")]
    assert code == 1 and errors == [
        f"goext: error: pyelftools is missing for {sys.executable}: DWARF cannot be read "
        "(run install.sh, or apt-get install python3-pyelftools)"
    ], output


def test_without_pyelftools_a_first_list_uses_the_layout_tables(simple: CoreArtifact, tmp_path: Path) -> None:
    """No index yet and no pyelftools: the goroutines are listed with the
    layouts of goext's tables for this Go release, the same as from DWARF."""
    with_dwarf, code = _run(tmp_path / "with", str(simple.exe), str(simple.core), "goroutines")
    assert code == 0
    without, code = _run(tmp_path / "without", str(simple.exe), str(simple.core), "goroutines", without=True)
    assert code == 0 and "elftools modules: 0" in without, without
    assert without.split("elftools modules:")[0] == with_dwarf.split("elftools modules:")[0]
