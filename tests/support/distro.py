"""What a distribution does to a Go program, for tests: strip it, serve its
debug info with debuginfod, crash the stripped copy into a core.

- :func:`apt_install` -- install a Debian package (root only, idempotent) or skip.
- :func:`stripped_copy` -- ``objcopy --strip-all`` of a build (keeps the build-id note), cached.
- :func:`crash` -- kernel core of any executable with GOTRACEBACK=crash, cached.
- :func:`debuginfod_server` -- Debian's ``debuginfod -F`` over a directory, on a free port, queried on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from . import Unavailable, cache_dir, file_lock
from .cores import (
    CoreArtifact,
    _core_limit,
    _CorePatternInCwd,
    _crash_into,
    _find_core,
    _kill,
    _set_core_limit,
    cached_entry,
)

_SERVER_READY_TIMEOUT_S = 90
_SERVER_STOP_TIMEOUT_S = 20


def apt_install(package: str, probe: str) -> None:
    """Make sure ``probe`` (a path) exists, installing ``package`` if it does not."""
    if os.path.exists(probe):
        return
    from .toolchains import _apt_install

    with file_lock("apt"):
        if not os.path.exists(probe):
            _apt_install(package)
    if not os.path.exists(probe):
        raise Unavailable(f"{probe} missing after installing {package}")


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def stripped_copy(exe: Path) -> Path:
    """``objcopy --strip-all`` of ``exe``, as distributions ship it: no
    ``.symtab``, no DWARF, the GNU build-id note kept."""
    if shutil.which("objcopy") is None:
        raise Unavailable("objcopy (binutils) is not installed")
    final = cache_dir() / "distro" / f"{exe.name}-{_digest(exe)}-strip-all" / exe.name
    if final.is_file():
        return final
    with file_lock(f"strip-{final.parent.name}"):
        if final.is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.parent / f".{exe.name}.tmp"
        subprocess.run(["objcopy", "--strip-all", str(exe), str(staged)], check=True, capture_output=True, timeout=120)
        os.replace(staged, final)
    return final


def crash(exe: Path, mode: str, args: Sequence[str] = (), label: str = "") -> CoreArtifact:
    """Kernel core of ``exe MODE ARGS...`` with GOTRACEBACK=crash (cached by content)."""
    args = tuple(args)
    name = f"{label or exe.name}-{_digest(exe)}-{mode}" + ("-" + "_".join(args) if args else "")

    def stage(staged: Path) -> dict[str, object]:
        meta = _crash_into(exe, staged, mode, args)
        meta.update(program=exe.name, version="", go_version="", flavour="distro")
        shutil.copy2(exe, staged / "exe")
        return meta

    return cached_entry(cache_dir() / "cores" / name, stage)


def quit_core(
    argv: Sequence[str],
    label: str,
    ready: Callable[[], bool],
    workdir: Optional[Path] = None,
    ready_timeout: float = 30.0,
) -> CoreArtifact:
    """Core of a program stopped by SIGQUIT with GOTRACEBACK=crash once
    ``ready()`` is true; its stdin stays open (programs that read it wait).
    Cached under ``label`` and the executable's content."""
    exe = Path(argv[0])

    def stage(staged: Path) -> dict[str, object]:
        run_dir = staged / "run"
        run_dir.mkdir(parents=True)
        meta = _quit_into(list(argv), staged, run_dir, workdir or run_dir, ready, ready_timeout)
        meta.update(program=label, version="", go_version="", flavour="distro", mode="sigquit", args=list(argv[1:]))
        shutil.copy2(exe, staged / "exe")
        return meta

    return cached_entry(cache_dir() / "cores" / f"{label}-{_digest(exe)}-sigquit", stage)


def _quit_into(
    argv: list[str], staged: Path, run_dir: Path, cwd: Path, ready: Callable[[], bool], ready_timeout: float
) -> dict[str, object]:
    limit = _core_limit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env["GOTRACEBACK"] = "crash"
    with file_lock("core-dump"), _CorePatternInCwd():
        with open(staged / "stdout.txt", "wb") as out, open(staged / "traceback.txt", "wb") as err:
            # cwd is where the kernel writes the core ("core" pattern): run_dir
            # unless the program needs another; then the core is looked for there.
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                preexec_fn=lambda: _set_core_limit(limit),
            )
            try:
                deadline = time.monotonic() + ready_timeout
                while not ready():
                    if process.poll() is not None:
                        raise AssertionError(
                            f"{argv[0]} exited with {process.returncode} before it was ready:\n"
                            f"{(staged / 'traceback.txt').read_text(errors='replace')[-1500:]}"
                        )
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{argv[0]} was not ready within {ready_timeout}s")
                    time.sleep(0.1)
                time.sleep(0.5)  # let every goroutine reach its parking spot
                process.send_signal(signal.SIGQUIT)
                returncode = process.wait(timeout=60)
            finally:
                _kill(process)
                if process.stdin is not None:
                    process.stdin.close()
    core = _find_core(cwd, process.pid, exclude=())
    if core is None:
        raise AssertionError(f"{argv[0]} exited with {returncode} and left no core in {cwd}")
    os.rename(core, staged / "core")
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"pid": process.pid, "exit_signal": -returncode if returncode < 0 else None, "returncode": returncode}


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def debuginfod_server(directory: Path, wait_for_build_ids: Sequence[str] = ()) -> Iterator[str]:
    """Run ``debuginfod -F DIRECTORY`` and yield its URL on 127.0.0.1.

    Waits until every build-id in ``wait_for_build_ids`` is served (the scan
    runs in the background); the server is stopped by its PID afterwards.
    """
    apt_install("debuginfod", "/usr/bin/debuginfod")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="goext-debuginfod-") as scratch:
        log = open(Path(scratch) / "log.txt", "wb")
        server = subprocess.Popen(
            [
                "/usr/bin/debuginfod",
                "-F",
                "-p",
                str(port),
                "-d",
                str(Path(scratch) / "db.sqlite"),
                "-t",
                "0",
                "-g",
                "0",
                "-c",
                "1",
                str(directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_served(server, url, wait_for_build_ids, Path(scratch) / "log.txt")
            yield url
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=_SERVER_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(timeout=_SERVER_STOP_TIMEOUT_S)
            log.close()


def _wait_served(server: subprocess.Popen, url: str, build_ids: Sequence[str], log: Path) -> None:
    deadline = time.monotonic() + _SERVER_READY_TIMEOUT_S
    pending = list(build_ids) or [None]
    while pending and time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"debuginfod exited with {server.returncode}:\n{log.read_text(errors='replace')[-2000:]}"
            )
        build_id = pending[0]
        probe = f"{url}/buildid/{build_id}/debuginfo" if build_id else f"{url}/metrics"
        try:
            # debuginfod answers GET only; the first bytes are enough.
            with urllib.request.urlopen(probe, timeout=5) as response:
                response.read(16)
                pending.pop(0)
                continue
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    if pending:
        raise AssertionError(
            f"debuginfod did not serve {pending[0]} within {_SERVER_READY_TIMEOUT_S}s:\n"
            f"{log.read_text(errors='replace')[-2000:]}"
        )


__all__ = ["apt_install", "crash", "debuginfod_server", "free_port", "port_open", "quit_core", "stripped_copy"]
