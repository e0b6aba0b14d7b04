"""The code base stays lint-clean and type-checked (configuration: pyproject.toml)."""

from __future__ import annotations

import subprocess

import pytest

from support.debuggers import REPO_ROOT
from support.lint import tools_dir

_TIMEOUT_S = 600


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    binary = tools_dir() / "bin" / tool
    return subprocess.run([str(binary), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=_TIMEOUT_S)


@pytest.mark.e2e
def test_ruff_lint() -> None:
    done = _run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
def test_ruff_format() -> None:
    done = _run("ruff", "format", "--no-cache", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
def test_mypy_core() -> None:
    done = _run("mypy", "--no-incremental")
    assert done.returncode == 0, done.stdout + done.stderr
