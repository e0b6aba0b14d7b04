"""Build the Go fixture programs in tests/programs/, cached per toolchain and flavour.

A build is cached under ``<cache>/builds/<key>/<program>``; the key covers the
program's source (path and content), the toolchain's full version, the
flavour's flags and the GOARCH, so editing a fixture or bumping a pin rebuilds
it.  Builds are for linux/amd64 unless a test asks for another GOARCH (Go
cross-compiles; such a binary is only read, or run under QEMU by support.foreign).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import cache_dir, file_lock
from .toolchains import Toolchain, toolchain

PROGRAMS_DIR = Path(__file__).resolve().parent.parent / "programs"

# Flavour -> extra "go build" flags.
FLAVOUR_FLAGS: dict[str, tuple[str, ...]] = {
    "default": (),
    "noopt": ("-gcflags=all=-N -l",),  # no optimisation, no inlining: every local has a home
    "stripped": ("-ldflags=-s -w",),  # no symbol table, no DWARF
}
FLAVOURS: tuple[str, ...] = tuple(FLAVOUR_FLAGS)
# Flavours outside the test matrix, built only by the tests that name them.
EXTRA_FLAVOUR_FLAGS: dict[str, tuple[str, ...]] = {
    "gobuildid": ("-ldflags=-B=gobuildid",),  # a GNU build-id before Go 1.24 made it the default (1.22+)
    "release": ("-trimpath", "-ldflags=-s -w"),  # how distributions build Go programs (Debian): no GOROOT in file names
    "trimpath": ("-trimpath",),  # file names are import paths, GOROOT's too: no GOROOT prefix to tell library code by
}


def flavour_flags(flavour: str) -> tuple[str, ...]:
    if flavour in FLAVOUR_FLAGS:
        return FLAVOUR_FLAGS[flavour]
    if flavour in EXTRA_FLAVOUR_FLAGS:
        return EXTRA_FLAVOUR_FLAGS[flavour]
    known = ", ".join((*FLAVOURS, *EXTRA_FLAVOUR_FLAGS))
    raise ValueError(f"unknown flavour {flavour!r}; known: {known}")


# Built for the whole matrix up front (conftest's prebuilt); every other
# directory of tests/programs is built on demand, for the versions its tests name.
PROGRAMS: tuple[str, ...] = ("zoo", "many", "simple", "longwait", "sched", "stuck", "cgo", "hostile")

# A cold GOCACHE compiles the standard library first (~40 s per toolchain).
_BUILD_TIMEOUT_S = 900


class BuildError(RuntimeError):
    """``go build`` failed; the message carries its output."""


def program_dir(program: str) -> Path:
    directory = PROGRAMS_DIR / program
    if not (directory / "main.go").is_file():
        raise ValueError(f"unknown fixture program {program!r} (no {directory / 'main.go'})")
    return directory


def _sources(program: str) -> list[Path]:
    directory = program_dir(program)
    return sorted(p for p in directory.glob("*.go") if not p.name.endswith("_test.go"))


def source_hash(program: str) -> str:
    """Hash of the program's sources, including their absolute paths.

    The paths are compiled into the binary (DWARF, pclntab), so a checkout in
    another directory must not reuse a binary that names the old one.
    """
    digest = hashlib.sha256()
    for path in _sources(program):
        digest.update(str(path).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_key(
    program: str, version: str, flavour: str = "default", tc: Toolchain | None = None, goarch: str = "amd64"
) -> str:
    """The cache key of one build: readable prefix plus a hash of everything that matters."""
    flags = flavour_flags(flavour)
    tc = tc or toolchain(version)
    digest = hashlib.sha256()
    for part in (source_hash(program), tc.full_version, str(tc.go), *flags, f"linux/{goarch}", "cgo=0"):
        digest.update(part.encode() + b"\0")
    arch_part = "" if goarch == "amd64" else f"-{goarch}"  # amd64 keys stay as they were
    return f"{program}-go{tc.full_version}-{flavour}{arch_part}-{digest.hexdigest()[:16]}"


def build(program: str, version: str, flavour: str = "default", goarch: str = "amd64") -> Path:
    """Path of ``program`` built with Go ``version`` ("1.22") in ``flavour`` for linux/``goarch``.

    Builds on first use; later calls (from any process) return the cached
    binary.  Raises :class:`support.Unavailable` if the toolchain cannot be
    installed and :class:`BuildError` if the build fails.
    """
    tc = toolchain(version)
    key = build_key(program, version, flavour, tc, goarch)
    final = cache_dir() / "builds" / key
    binary = final / program
    if binary.is_file():
        return binary
    with file_lock(f"build-{key}"):
        if binary.is_file():
            return binary
        _build_into(program, flavour, tc, final, goarch)
    return binary


def _build_into(program: str, flavour: str, tc: Toolchain, final: Path, goarch: str = "amd64") -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    sources = _sources(program)
    with tempfile.TemporaryDirectory(prefix=f".{final.name}-", dir=final.parent) as scratch:
        staged = Path(scratch) / "entry"
        staged.mkdir()
        command = [str(tc.go), "build", "-o", str(staged / program), *flavour_flags(flavour)]
        command += [p.name for p in sources if _release_wanted(p, tc)]
        env = dict(tc.env(), GOARCH=goarch)
        if any(b'import "C"' in path.read_bytes() for path in sources):
            env["CGO_ENABLED"] = "1"  # the program calls C (gcc builds its C parts)
        started = time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=program_dir(program),
                env=env,
                capture_output=True,
                text=True,
                timeout=_BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"go{tc.full_version} build of {program} timed out after {exc.timeout}s") from exc
        if done.returncode != 0:
            raise BuildError(f"go{tc.full_version} build of {program} ({flavour}) failed:\n{done.stderr.strip()}")
        metadata = {
            "program": program,
            "go": tc.full_version,
            "flavour": flavour,
            "goarch": goarch,
            "command": command,
            "seconds": round(time.monotonic() - started, 2),
        }
        (staged / "build.json").write_text(json.dumps(metadata, indent=1))
        if final.exists():  # leftovers of an interrupted build (we hold the lock)
            shutil.rmtree(final)
        os.rename(staged, final)


def _release_wanted(path: Path, tc: Toolchain) -> bool:
    """go build ignores the build constraints of files named on its command
    line: honour a file's leading ``//go:build go1.N`` or ``!go1.N`` here."""
    first = path.read_text(errors="replace").split("\n", 1)[0].strip()
    match = re.fullmatch(r"//go:build (!?)go1\.(\d+)", first)
    if match is None:
        return True
    have = int(tc.full_version.split(".")[1])
    return (have >= int(match.group(2))) != bool(match.group(1))


def build_metadata(binary: Path) -> dict[str, object]:
    """The build.json written next to a cached binary."""
    return json.loads((binary.parent / "build.json").read_text())


__all__ = [
    "BuildError",
    "EXTRA_FLAVOUR_FLAGS",
    "FLAVOURS",
    "FLAVOUR_FLAGS",
    "PROGRAMS",
    "flavour_flags",
    "build",
    "build_key",
    "build_metadata",
    "source_hash",
]
