"""ruff and mypy, pinned, in a virtual environment of the test cache.

Debian 12 packages neither a current ruff nor the mypy the project is checked
with, and its Python refuses ``pip install`` outside a virtual environment, so
the lint tests make one (once per pinned set) and run the tools from it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import Unavailable, cache_dir, file_lock

# Pinned so that a new release of a checker cannot turn CI red on its own.
TOOLS = ("ruff==0.17.6", "mypy==2.4.1")
_INSTALL_TIMEOUT_S = 600


def tools_dir() -> Path:
    """A virtual environment holding TOOLS (made on first use), or raise Unavailable."""
    key = hashlib.sha256(" ".join(TOOLS).encode()).hexdigest()[:12]
    final = cache_dir() / "lint" / key
    if (final / "bin" / "ruff").exists() and (final / "bin" / "mypy").exists():
        return final
    with file_lock(f"lint-{key}"):
        if (final / "bin" / "ruff").exists() and (final / "bin" / "mypy").exists():
            return final
        # A venv records its own path, so it is made where it will live; a
        # failed attempt is removed whole (the lock keeps others out meanwhile).
        shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            _make_venv(final)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
    return final


def _make_venv(where: Path) -> None:
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    steps = [
        [python, "-m", "venv", str(where)],
        [str(where / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *TOOLS],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"cannot install the lint tools ({' '.join(step[:3])}): {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise Unavailable(f"cannot install the lint tools ({' '.join(step[:3])}): {tail[0]}")
