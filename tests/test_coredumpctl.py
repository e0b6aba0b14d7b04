"""The core-alone workflow: systemd-coredump + ``coredumpctl debug``, and
finding (or refusing) the executable of a core.

The coredumpctl test crashes a stripped fixture while systemd-coredump owns
kernel.core_pattern (support/coredump.py restores it and stops the daemons),
then opens the stored core with ``coredumpctl debug --debugger=gdb``: goext
is loaded by the system gdbinit that install.sh writes, with no extra flags.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from goext_core.errors import GoextError
from goext_core.program import GoProgram
from goext_core.target.corefind import check_executable, core_identity, find_executable, open_core
from support.build import build
from support.coredump import systemd_coredump, wait_for_coredump
from support.cores import CORE_PATTERN, kernel_core
from support.distro import crash

REPO = Path(__file__).resolve().parent.parent
SYSTEM_GDBINIT = Path("/etc/gdb/gdbinit.d/goext.gdb")


# -- finding the executable -------------------------------------------------------------
@pytest.mark.go_versions("1.22", "1.24")
@pytest.mark.flavours("default")
def test_core_alone_finds_its_executable(go_version, flavour, tmp_path):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    identity = core_identity(str(artifact.core))
    assert identity.go_build_id and identity.path and identity.path.endswith("/zoo")
    # Moved away from where it ran: found next to the core by its build-id.
    moved = tmp_path / "incident"
    moved.mkdir()
    shutil.copy2(artifact.core, moved / "core")
    shutil.copy2(build("simple", go_version, flavour), moved / "zoo-old")  # a decoy
    shutil.copy2(artifact.exe, moved / "zoo-1.0")
    found = find_executable(str(moved / "core"), search=[str(moved)])
    assert found in (identity.path, str(moved / "zoo-1.0"))
    program = GoProgram(open_core(str(moved / "core")))
    assert program.goroutine(1).id == 1


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_mismatched_executable_is_named(go_version, flavour):
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    newer = build("zoo", "1.24", "default")
    with pytest.raises(GoextError) as error:
        check_executable(str(newer), str(artifact.core))
    message = str(error.value)
    assert "\n" not in message and "does not match the core" in message
    assert "go1.24" in message and "go1.22" in message, message


def test_missing_executable_says_what_was_tried(tmp_path, monkeypatch):
    # Crash a copy that is deleted afterwards: the core names a missing file.
    copy = tmp_path / "bin" / "zoo-moved"
    copy.parent.mkdir()
    shutil.copy2(build("zoo", "1.22", "default"), copy)
    artifact = crash(copy, "panic", label="zoo-go1.22-moved")
    shutil.rmtree(copy.parent)
    identity = core_identity(str(artifact.core))
    assert identity.path and not os.path.exists(identity.path)
    lonely = tmp_path / "incident" / "core"
    lonely.parent.mkdir()
    shutil.copy2(artifact.core, lonely)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOEXT_EXE_PATH", raising=False)
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    with pytest.raises(GoextError, match="cannot find the executable .* is missing") as error:
        find_executable(str(lonely))
    assert "\n" not in str(error.value)
    # The cache entry keeps the executable next to its core: found by build-id.
    monkeypatch.setenv("GOEXT_EXE_PATH", str(artifact.exe.parent))
    assert find_executable(str(lonely)) == str(artifact.exe)


# -- coredumpctl ----------------------------------------------------------------------------
def _gdbinit_loads_goext() -> bool:
    """Whether install.sh registered this very checkout system-wide (another
    checkout's registration would test other code)."""
    try:
        text = SYSTEM_GDBINIT.read_text()
    except OSError:
        return False
    ours = os.path.realpath(REPO / "gdb" / "goext.py")
    for line in text.splitlines():
        if line.startswith("source ") and os.path.realpath(line.split(None, 1)[1].strip()) == ours:
            return True
    return False


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_coredumpctl_debug_runs_goext(go_version, flavour, tmp_path):
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    exe = build("zoo", go_version, flavour)
    before = CORE_PATTERN.read_text()
    gdb_args = "-batch -ex 'go goroutines' -ex 'bt'"
    if not _gdbinit_loads_goext():
        # install.sh has not registered goext system-wide here: load it by path.
        gdb_args = f"-iex {shlex.quote('source ' + str(REPO / 'gdb' / 'goext.py'))} {gdb_args}"
    workdir = tmp_path / "run"
    workdir.mkdir()
    with systemd_coredump():
        process = subprocess.Popen(
            [str(exe), "panic"],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("GO")}, "GOTRACEBACK": "crash"},
            preexec_fn=lambda: resource.setrlimit(
                resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            ),
        )
        process.wait(timeout=120)
        assert process.returncode < 0, f"the fixture exited with {process.returncode}, not a signal"
        info = wait_for_coredump(process.pid)
        done = subprocess.run(
            ["coredumpctl", "--no-pager", "debug", "--debugger=gdb", "-A", gdb_args, str(process.pid)],
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GOEXT_CACHE_DIR": str(tmp_path / "goext-cache")},
        )
        assert not list(workdir.iterdir()), "the kernel wrote a core file instead of systemd-coredump"
    assert CORE_PATTERN.read_text() == before
    output = done.stdout + done.stderr
    assert str(exe) in info
    assert "goroutine" in output and "main.panicNested" in output, output[-4000:]
    assert "goext: error" not in output, output[-4000:]
    # gdb's own bt on the stripped binary, through the symbols goext added
    assert "<signal handler called>" in output and "main.main" in output, output[-4000:]
