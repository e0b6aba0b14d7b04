"""Test support: Go toolchains, fixture builds, core dumps and the traceback oracle.

Everything expensive (toolchains, builds, cores) lives in one cache directory
shared by every test run and every pytest worker, see :func:`cache_dir`.
Writers publish entries atomically (build in a temporary directory, then
rename) while holding a file lock, so parallel workers never see half an entry.

Modules:
- :mod:`support.toolchains` -- ``toolchain("1.22") -> Toolchain``
- :mod:`support.build` -- ``build("zoo", "1.22", "noopt") -> Path``
- :mod:`support.cores` -- ``kernel_core(...)`` / ``gcore_live(...)`` -> ``CoreArtifact``
- :mod:`support.oracle` -- ``parse_traceback(text) -> Traceback``
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

try:  # pytest turns this into a skip; outside pytest it is a plain error.
    import pytest

    _SkipBase: type[BaseException] = pytest.skip.Exception
except ImportError:  # pragma: no cover - only when used without pytest
    _SkipBase = RuntimeError


class Unavailable(_SkipBase):  # type: ignore[misc, valid-type]
    """A prerequisite (toolchain, debugger, core support) is missing here.

    Derives from pytest's skip outcome, so a test or fixture that hits it is
    reported as skipped with the reason instead of failing.
    """

    def __init__(self, reason: str) -> None:
        if _SkipBase is RuntimeError:
            super().__init__(reason)
        else:
            super().__init__(msg=reason, pytrace=False, allow_module_level=True)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def cache_dir() -> Path:
    """Root of the shared test cache (created on first use).

    ``$GOEXT_TEST_CACHE`` wins, then ``$XDG_CACHE_HOME/goext-tests``, then
    ``~/.cache/goext-tests``.
    """
    explicit = os.environ.get("GOEXT_TEST_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        root = base / "goext-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """Hold an exclusive advisory lock named ``name`` under the cache.

    flock locks are released by the kernel when the holder dies, so a killed
    pytest worker never leaves a stale lock behind.
    """
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    with open(lock_dir / f"{safe_name}.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


__all__ = ["Unavailable", "cache_dir", "file_lock"]
