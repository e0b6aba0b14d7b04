"""Cores of another architecture: Go cross-compiles for linux/arm64 and QEMU's
user-mode emulator runs the program and, when it crashes, writes the guest's
own ELF core (qemu_PROGRAM_DATE_PID.core), exactly as an arm64 kernel would
lay it out.  Cached like the native cores."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import Unavailable, cache_dir, file_lock
from .build import program_dir, source_hash
from .toolchains import toolchain

QEMU = {"arm64": "qemu-aarch64"}
_TIMEOUT_S = 300


@dataclass(frozen=True)
class ForeignCore:
    exe: Path
    core: Path
    traceback: Path


def _unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def qemu_core(program: str, version: str, goarch: str = "arm64", mode: str = "panic") -> ForeignCore:
    qemu = shutil.which(QEMU[goarch])
    if qemu is None:
        raise Unavailable(f"{QEMU[goarch]} is not installed (Debian package qemu-user)")
    tc = toolchain(version)
    key = f"{program}-go{tc.full_version}-{goarch}-{source_hash(program)[:16]}-{mode}"
    final = cache_dir() / "foreign" / key
    result = ForeignCore(final / "exe", final / "core", final / "traceback.txt")
    if (final / "done.json").exists():
        return result
    with file_lock(f"foreign-{key}"):
        if (final / "done.json").exists():
            return result
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{key}-", dir=final.parent) as scratch:
            staged = Path(scratch) / "entry"
            run = Path(scratch) / "run"
            staged.mkdir()
            run.mkdir()
            env = dict(tc.env(), GOARCH=goarch)
            subprocess.run(
                [str(tc.go), "build", "-o", str(staged / "exe"), "main.go"],
                cwd=program_dir(program),
                env=env,
                check=True,
                capture_output=True,
                timeout=900,
            )
            with open(staged / "traceback.txt", "wb") as err:
                subprocess.run(
                    [qemu, str(staged / "exe"), mode],
                    cwd=run,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    preexec_fn=_unlimited_core,
                    env=dict(os.environ, GOTRACEBACK="crash"),
                    timeout=_TIMEOUT_S,
                )
            cores = sorted(run.glob("qemu_*.core"))
            if not cores:
                raise Unavailable(f"{QEMU[goarch]} wrote no guest core (RLIMIT_CORE or an old QEMU)")
            os.rename(cores[0], staged / "core")
            (staged / "done.json").write_text(json.dumps({"program": program, "go": tc.full_version}))
            os.rename(staged, final)  # qemu's own host core stays in run/ and goes with scratch
    return result
