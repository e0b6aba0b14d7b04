"""Build and run tests/unit_data/pclnprog, the oracle program for the binary readers.

pclnprog is a module with two packages (so the table spans compile units), which
tests/support/build.py (single-directory programs) does not build; this module
follows the same cache discipline: one directory per (sources, toolchain,
flags), built under a file lock and published with an atomic rename.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support import cache_dir, file_lock
from support.toolchains import Toolchain, toolchain

PROGRAM_DIR = Path(__file__).resolve().parent / "pclnprog"

FLAVOUR_FLAGS: dict[str, tuple[str, ...]] = {
    "default": (),
    "noopt": ("-gcflags=all=-N -l",),
    "stripped": ("-ldflags=-s -w",),
    "pie-stripped": ("-buildmode=pie", "-ldflags=-s -w"),
}

_BUILD_TIMEOUT_S = 900
_RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Built:
    path: Path
    toolchain: Toolchain
    flavour: str

    def run(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [str(self.path), *args], input=stdin, capture_output=True, text=True, timeout=_RUN_TIMEOUT_S
        )
        if done.returncode != 0:
            raise AssertionError(f"{self.path.name} {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def go(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.toolchain.go), *args],
            env=self.toolchain.env(),
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise AssertionError(f"go {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PROGRAM_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".go", ".mod"):
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_pclnprog(version: str, flavour: str = "default") -> Built:
    tc = toolchain(version)
    flags = FLAVOUR_FLAGS[flavour]
    digest = hashlib.sha256()
    for part in (_source_digest(), tc.full_version, str(tc.go), *flags):
        digest.update(part.encode() + b"\0")
    final = cache_dir() / "builds" / f"pclnprog-go{tc.full_version}-{flavour}-{digest.hexdigest()[:16]}"
    binary = final / "pclnprog"
    if not binary.is_file():
        with file_lock(f"build-{final.name}"):
            if not binary.is_file():
                _build_into(tc, flags, final)
    return Built(binary, tc, flavour)


def _build_into(tc: Toolchain, flags: tuple[str, ...], final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{final.name}-", dir=final.parent) as scratch:
        staged = Path(scratch) / "entry"
        staged.mkdir()
        command = [str(tc.go), "build", "-buildvcs=false", "-o", str(staged / "pclnprog"), *flags, "."]
        done = subprocess.run(
            command, cwd=PROGRAM_DIR, env=tc.env(), capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S
        )
        if done.returncode != 0:
            raise AssertionError(f"go{tc.full_version} build failed:\n{done.stderr.strip()}")
        if final.exists():
            shutil.rmtree(final)
        os.rename(staged, final)
