"""install.sh, run against a scratch root and home.

``GOEXT_INSTALL_ROOT`` moves /etc, /usr/local and /var/lib under a temporary
directory and HOME points at another, so nothing here touches the real
system or the real init files.  ``--no-packages`` keeps apt out of it
(package installation itself is exercised by CI, which runs install.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from support.debuggers import REPO_ROOT, lldb_binary, require_gdb, require_lldb

INSTALL = REPO_ROOT / "install.sh"
_INSTALL_TIMEOUT_S = 600

Snapshot = dict[str, tuple]


@dataclass
class Sandbox:
    root: Path
    home: Path
    mode: str  # "system" or "user"

    def env(self) -> dict[str, str]:
        keep = {name: os.environ[name] for name in ("LANG", "LC_ALL", "TMPDIR") if name in os.environ}
        # The link directory is on PATH, as /usr/local/bin and ~/.local/bin are
        # for real users; the real /usr/local/bin is not.
        link_dir = self.root / "usr/local/bin" if self.mode == "system" else self.home / ".local/bin"
        return {
            **keep,
            "HOME": str(self.home),
            "PATH": f"{link_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "GOEXT_INSTALL_ROOT": str(self.root),
            "CI": "true",
        }

    def install(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["bash", str(INSTALL), f"--{self.mode}", *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT_S,
        )
        if check:
            assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def snapshot(self, mtimes: bool = True) -> Snapshot:
        """Every path under root and home: type, mode, content (and mtime) of
        files and link targets (directory mtimes move with any entry)."""
        entries: Snapshot = {}
        for base in (self.root, self.home):
            for path in sorted(base.rglob("*")):
                stat = path.lstat()
                key = str(path)
                if path.is_symlink():
                    entries[key] = ("link", os.readlink(path))
                elif path.is_dir():
                    entries[key] = ("dir", stat.st_mode)
                else:
                    entries[key] = ("file", stat.st_mode, stat.st_mtime_ns if mtimes else 0, path.read_bytes())
        return entries


def _sandbox(tmp_path: Path, mode: str) -> Sandbox:
    require_gdb()
    require_lldb()
    root, home = tmp_path / "root", tmp_path / "home"
    # What a Debian system already has.
    for directory in ("etc/gdb/gdbinit.d", "usr/local/bin", "var/lib"):
        (root / directory).mkdir(parents=True)
    home.mkdir()
    (home / ".gdbinit").write_text("set history save on\n")
    (home / ".lldbinit").write_text("settings set target.x86-disassembly-flavor intel\n")
    return Sandbox(root, home, mode)


@pytest.fixture(params=["system", "user"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    return _sandbox(tmp_path, request.param)


def _lldb_versioned() -> Optional[str]:
    return shutil.which("lldb-16")


def test_install_twice_then_uninstall_leaves_no_trace(sandbox: Sandbox) -> None:
    before = sandbox.snapshot(mtimes=False)
    first = sandbox.install("--no-packages")
    assert first.stderr == "", first.stderr
    installed = sandbox.snapshot()
    assert sandbox.snapshot(mtimes=False) != before

    second = sandbox.install("--no-packages")
    assert second.stderr == "", second.stderr
    assert sandbox.snapshot() == installed  # not even an mtime moved

    sandbox.install("--uninstall")
    assert sandbox.snapshot(mtimes=False) == before  # edited init files are back byte for byte


def test_install_registers_goext_where_each_debugger_reads_it(sandbox: Sandbox) -> None:
    sandbox.install("--no-packages")
    gdb_line = f"source {REPO_ROOT}/gdb/goext.py"
    lldb_line = f"command script import {REPO_ROOT}/lldb/goext.py"
    gdbinit = (sandbox.home / ".gdbinit").read_text()
    if sandbox.mode == "system":
        system_file = sandbox.root / "etc/gdb/gdbinit.d/goext.gdb"
        assert gdb_line in system_file.read_text().splitlines()
        assert gdbinit == "set history save on\n"
        state = sandbox.root / "var/lib/goext/installed"
    else:
        assert gdbinit.startswith("set history save on\n")
        assert gdbinit.count(gdb_line) == 1
        state = sandbox.home / ".local/state/goext/installed"
    lldbinit = (sandbox.home / ".lldbinit").read_text()
    assert lldbinit.startswith("settings set target.x86-disassembly-flavor intel\n")
    assert lldbinit.count(lldb_line) == 1
    assert state.is_file()
    # Bytecode written by the debuggers' own Python, for users who cannot write to the checkout.
    tag = sys.implementation.cache_tag  # the debuggers embed this Python here (both print it in --check)
    for module in ("common/goext_core/program.py", "gdb/goext_gdb/symbols.py", "lldb/goext_lldb/commands.py"):
        source = REPO_ROOT / module
        assert (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file(), module


def test_user_install_is_loaded_by_plain_gdb_and_lldb(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path, "user")
    sandbox.install("--no-packages")
    env = {**sandbox.env(), "GOEXT_QUIET": "1"}
    gdb = subprocess.run(
        [require_gdb(), "-batch", "-ex", "go help"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "goext commands:" in gdb.stdout, gdb.stdout + gdb.stderr
    lldb = subprocess.run(
        ["lldb", "-b", "-o", "go help"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "goext commands:" in lldb.stdout, lldb.stdout + lldb.stderr


def test_lldb_link_is_made_only_when_missing(sandbox: Sandbox) -> None:
    if _lldb_versioned() is None:
        pytest.skip("lldb-16 is not installed")
    if shutil.which("lldb", path="/usr/bin:/bin"):
        pytest.skip("this system already has a plain lldb")
    link_dir = sandbox.root / "usr/local/bin" if sandbox.mode == "system" else sandbox.home / ".local/bin"
    sandbox.install("--no-packages")
    link = link_dir / "lldb"
    assert link.is_symlink() and os.readlink(link) == _lldb_versioned()
    sandbox.install("--uninstall")
    assert not link.exists() and not link.is_symlink()


def test_existing_lldb_is_not_clobbered(sandbox: Sandbox) -> None:
    link_dir = sandbox.root / "usr/local/bin" if sandbox.mode == "system" else sandbox.home / ".local/bin"
    link_dir.mkdir(parents=True, exist_ok=True)
    mine = link_dir / "lldb"
    lldb = lldb_binary()
    assert lldb is not None
    mine.write_text(f'#!/bin/sh\nexec {lldb} "$@"\n')
    mine.chmod(0o755)
    before = mine.read_bytes()
    sandbox.install("--no-packages")
    sandbox.install("--uninstall")
    assert mine.read_bytes() == before and not mine.is_symlink()


def test_check_reports_and_passes(sandbox: Sandbox) -> None:
    sandbox.install("--no-packages")
    done = sandbox.install("--check")
    assert "check passed" in done.stdout
    assert "gdb: 'go help' works" in done.stdout
    assert "lldb: 'go help' works" in done.stdout


def test_check_covers_lldb_dap(tmp_path: Path) -> None:
    """--check finds lldb's Debug Adapter Protocol server, reports its lldb
    version, loads goext in it over the protocol (as a launch configuration's
    initCommands does) and prints that initCommands line; a goext that does
    not load there fails the check."""
    dap = next((path for path in map(shutil.which, ("lldb-dap", "lldb-dap-16", "lldb-vscode-16")) if path), None)
    assert dap is not None, "lldb-16 ships lldb-vscode-16"
    sandbox = _sandbox(tmp_path, "user")
    sandbox.install("--no-packages")
    done = sandbox.install("--check")
    assert f"lldb-dap: {dap}, lldb version 16." in done.stdout, done.stdout
    assert "lldb-dap: 'command script import" in done.stdout and "works; 'go help' works" in done.stdout
    assert "lldb-dap: loads goext from ~/.lldbinit too" in done.stdout, done.stdout
    assert f'"initCommands": ["command script import {REPO_ROOT}/lldb/goext.py"]' in done.stdout
    # A broken goext in the adapter: the check says so and fails.
    broken = tmp_path / "broken"
    shutil.copytree(REPO_ROOT, broken, ignore=shutil.ignore_patterns(".git", "tests", "__pycache__"))
    (broken / "lldb" / "goext.py").write_text("raise ImportError('broken on purpose')\n")
    failed = subprocess.run(
        ["bash", str(broken / "install.sh"), "--user", "--check"],
        env=sandbox.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
    )
    assert failed.returncode != 0
    assert "lldb-dap: goext does not load:" in failed.stderr and "broken on purpose" in failed.stderr, failed.stderr


def test_check_fails_when_nothing_is_registered(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path, "user")
    done = sandbox.install("--check", check=False)
    assert done.returncode != 0
    assert "not loaded from its init files" in done.stderr


def test_bad_option_is_one_line(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path, "user")
    done = sandbox.install("--bogus", check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["goext-install: error: unknown option '--bogus' (see --help)"]


def test_help() -> None:
    done = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--uninstall" in done.stdout and "--test-deps" in done.stdout


# -- the apt step, against stand-ins for dpkg-query, apt-get, id and sudo --------
_STUBS = {
    "dpkg-query": """#!/bin/sh
for last; do :; done
case " $STUB_MISSING " in *" $last "*) echo "dpkg-query: no packages found matching $last" >&2; exit 1 ;; esac
case "$*" in *Status*) echo "install ok installed" ;; *) echo "1.0-stub" ;; esac
""",
    "apt-get": """#!/bin/sh
echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "$STUB_LOG"
""",
    "id": """#!/bin/sh
echo "$STUB_UID"
""",
    "sudo": """#!/bin/sh
exit 1
""",
}


def _run_with_stubs(
    tmp_path: Path, uid: int, missing: str, *args: str
) -> tuple[subprocess.CompletedProcess, list[str]]:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in _STUBS.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    log = tmp_path / "apt.log"
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{stubs}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "CI": "true",
        "GOEXT_INSTALL_ROOT": str(tmp_path / "root"),
        "STUB_LOG": str(log),
        "STUB_UID": str(uid),
        "STUB_MISSING": missing,
    }
    done = subprocess.run(
        ["bash", str(INSTALL), "--packages-only", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
    )
    return done, log.read_text().splitlines() if log.exists() else []


def test_apt_is_not_called_when_everything_is_installed(tmp_path: Path) -> None:
    done, apt_calls = _run_with_stubs(tmp_path, 0, "")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert apt_calls == []


def test_missing_packages_are_installed_as_root(tmp_path: Path) -> None:
    done, apt_calls = _run_with_stubs(tmp_path, 0, "lldb-16 golang-1.19-go", "--test-deps")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert len(apt_calls) == 2, apt_calls
    assert apt_calls[0].startswith("DEBIAN_FRONTEND=noninteractive ") and apt_calls[0].endswith(" update")
    assert apt_calls[1].endswith("install lldb-16 golang-1.19-go"), apt_calls[1]
    assert " -y " in apt_calls[1] and "--no-install-recommends" in apt_calls[1]


def test_missing_packages_without_root_or_sudo_fail_in_one_line(tmp_path: Path) -> None:
    done, apt_calls = _run_with_stubs(tmp_path, 1000, "gdb")
    assert done.returncode != 0
    assert apt_calls == []
    assert done.stderr.strip().splitlines() == [
        "goext-install: error: missing packages: gdb; run as root, or: sudo apt-get install gdb"
    ]
