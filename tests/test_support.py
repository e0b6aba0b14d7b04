"""The test support itself: toolchains, cached builds, cores."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from support.build import FLAVOURS, PROGRAMS, build, build_key, build_metadata
from support.cores import _pattern_is_relative_file, core_metadata, gcore_live, is_elf_core, kernel_core
from support.toolchains import GO_VERSIONS, toolchain


def test_toolchain_version(go_version: str) -> None:
    tc = toolchain(go_version)
    assert tc.key == go_version
    assert tc.full_version.startswith(go_version + ".")
    if GO_VERSIONS[go_version] is not None:
        assert tc.full_version == GO_VERSIONS[go_version]
    assert os.access(tc.go, os.X_OK)
    done = subprocess.run([str(tc.go), "version"], env=tc.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"go{tc.full_version} " in done.stdout


def test_toolchain_env_does_not_leak(matrix, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOFLAGS", "-race")
    monkeypatch.setenv("GOOS", "windows")
    monkeypatch.setenv("CGO_CFLAGS", "-O3")
    env = toolchain(matrix.oldest()).env()
    assert env["GOFLAGS"] == "" and env["GOOS"] == "linux" and "CGO_CFLAGS" not in env
    assert env["GOTOOLCHAIN"] == "local" and env["CGO_ENABLED"] == "0" and env["GOPROXY"] == "off"
    assert env["GOCACHE"].startswith(env["GOPATH"].rsplit("/", 1)[0])  # both under the cache


def test_build_cache_hit_is_fast(go_version: str) -> None:
    first = build("simple", go_version)
    started = time.monotonic()
    second = build("simple", go_version)
    assert time.monotonic() - started < 1.0
    assert first == second and first.is_file()
    assert build_metadata(first)["go"] == toolchain(go_version).full_version


def test_build_keys_differ(matrix) -> None:
    version = matrix.newest()
    keys = {flavour: build_key("zoo", version, flavour) for flavour in FLAVOURS}
    assert len(set(keys.values())) == len(FLAVOURS)
    assert build_key("zoo", version) == build_key("zoo", version, "default")
    assert build_key("zoo", version) != build_key("simple", version)
    if len(matrix.versions) > 1:
        assert build_key("zoo", matrix.oldest()) != build_key("zoo", version)
    with pytest.raises(ValueError):
        build_key("zoo", version, "nonsense")


def test_every_program_builds(prebuilt, matrix) -> None:
    """Every fixture builds with every selected toolchain and flavour."""
    for version in matrix.versions:
        toolchain(version)  # skips here, with the reason, if one is missing
    for program in PROGRAMS:
        for version in matrix.versions:
            for flavour in matrix.flavours:
                assert (program, version, flavour) in prebuilt


def _section_names(binary: Path) -> set[str]:
    from elftools.elf.elffile import ELFFile

    with open(binary, "rb") as handle:
        return {section.name for section in ELFFile(handle).iter_sections()}


def test_flavours_are_what_they_say(go_version: str, flavour: str) -> None:
    names = _section_names(build("zoo", go_version, flavour))
    has_dwarf = bool({".debug_info", ".zdebug_info"} & names)
    if flavour == "stripped":
        assert ".symtab" not in names and not has_dwarf
    else:
        assert ".symtab" in names and has_dwarf
    assert ".gopclntab" in names or ".data.rel.ro" in names  # pclntab survives stripping


@pytest.mark.unit
def test_core_pattern_shapes() -> None:
    assert _pattern_is_relative_file("core")
    assert _pattern_is_relative_file("core.%e.%p")
    assert not _pattern_is_relative_file("|/lib/systemd/systemd-coredump %P %u %g %s %t %c %h")
    assert not _pattern_is_relative_file("/var/crash/core.%p")
    assert not _pattern_is_relative_file("")


def test_simple_kernel_core(go_version: str) -> None:
    artifact = kernel_core("simple", go_version)
    assert is_elf_core(artifact.core) and artifact.exit_signal == 6
    assert artifact.exe.is_file() and artifact.go_version == toolchain(go_version).full_version
    tb = artifact.parsed()
    assert tb.message.startswith("panic: goext-simple: deliberate panic")
    assert tb.goroutine(1).functions[:2] == ["panic", "main.crash"]
    started = time.monotonic()
    again = kernel_core("simple", go_version)
    assert time.monotonic() - started < 1.0 and again.core == artifact.core


@pytest.mark.slow
def test_gcore_live(matrix) -> None:
    artifact = gcore_live("zoo", matrix.newest())
    assert is_elf_core(artifact.core)
    assert artifact.stdout.strip() == f"READY {artifact.pid}"
    assert float(str(core_metadata(artifact)["gcore_seconds"])) > 0
    tb = artifact.parsed()
    assert tb.message == "SIGQUIT: quit"
    assert len(tb.threads) >= 2
    assert any(g.id == 0 for t in tb.threads for g in t.goroutines)
    assert all(t.registers for t in tb.threads)
    assert "main.blockSyscallRead" in {f for g in tb.goroutines for f in g.functions}
    assert tb.goroutine(1).state == "chan receive"


@pytest.mark.slow
def test_many_goroutines(matrix) -> None:
    count = 2000
    artifact = kernel_core("many", matrix.newest(), args=(str(count),))
    tb = artifact.parsed()
    assert tb.message == f"panic: goext-many: deliberate panic with {count} parked goroutines"
    parked = [g for g in tb.goroutines if g.created_by and g.created_by.function == "main.start"]
    assert len(parked) == count
    kinds = Counter(next(f for f in g.functions if f.startswith("main.")) for g in parked)
    assert len(kinds) == 5 and set(kinds.values()) == {count // 5}
