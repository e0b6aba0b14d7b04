"""Core dumps of the fixture programs, paired with the runtime's own traceback.

Two sources:

- :func:`kernel_core` runs a fixture with ``GOTRACEBACK=crash`` until it
  aborts; the kernel writes the core and stderr holds the runtime's traceback.
- :func:`gcore_live` starts a fixture in ``wait`` mode, snapshots it with
  gdb's ``gcore``, then sends SIGQUIT so the runtime prints its traceback of
  the (unchanged) parked goroutines.

Both are cached under ``<cache>/cores/<key>/`` with ``exe``, ``core``,
``traceback.txt``, ``stdout.txt`` and ``core.json``.  Cores are kept raw:
pyelftools and the debuggers read them directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from . import Unavailable, cache_dir, file_lock
from .build import build, build_key

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
CORE_USES_PID = Path("/proc/sys/kernel/core_uses_pid")

_CRASH_TIMEOUT_S = 120  # the "many" fixture with 10k goroutines prints for a while
_READY_TIMEOUT_S = 60
_GCORE_TIMEOUT_S = 300
_QUIT_TIMEOUT_S = 60
_ELF_MAGIC = b"\x7fELF"
_ET_CORE = 4


class CoreError(RuntimeError):
    """A fixture did not crash or produced no usable core."""


@dataclass(frozen=True)
class CoreArtifact:
    exe: Path  # the executable the core belongs to
    core: Path  # ELF core file
    traceback: Path  # the runtime's stderr: its GOTRACEBACK=crash output
    stdout: str
    exit_signal: int | None  # signal that ended the fixture (SIGABRT for crashes)
    program: str
    version: str  # matrix key, e.g. "1.22"
    go_version: str  # full release, e.g. "1.22.10"
    flavour: str
    mode: str  # "panic", "segv", "deadlock", ... or "gcore" for gcore_live
    args: tuple[str, ...]
    pid: int | None

    def traceback_text(self) -> str:
        return self.traceback.read_text(errors="replace")

    def parsed(self):  # -> support.oracle.Traceback (imported lazily: no cycle)
        from .oracle import parse_traceback

        return parse_traceback(self.traceback_text())


# ---------------------------------------------------------------------------
# Cache entries


def _entry_key(program: str, version: str, flavour: str, mode: str, args: Sequence[str]) -> str:
    base = build_key(program, version, flavour)
    arg_text = "_".join(re.sub(r"[^A-Za-z0-9.=-]", "-", a) for a in args)
    suffix = f"-{arg_text}" if arg_text else ""
    return f"{base}-{mode}{suffix}"[:200]


def _load_entry(entry: Path) -> CoreArtifact | None:
    metadata_path = entry / "core.json"
    if not metadata_path.is_file():
        return None
    meta = json.loads(metadata_path.read_text())
    artifact = CoreArtifact(
        exe=entry / "exe",
        core=entry / "core",
        traceback=entry / "traceback.txt",
        stdout=(entry / "stdout.txt").read_text(errors="replace"),
        exit_signal=meta.get("exit_signal"),
        program=meta["program"],
        version=meta["version"],
        go_version=meta["go_version"],
        flavour=meta["flavour"],
        mode=meta["mode"],
        args=tuple(meta["args"]),
        pid=meta.get("pid"),
    )
    if not (artifact.exe.is_file() and artifact.core.is_file() and artifact.traceback.is_file()):
        return None
    return artifact


def _publish(staged: Path, final: Path, meta: dict[str, object]) -> CoreArtifact:
    (staged / "core.json").write_text(json.dumps(meta, indent=1))
    if final.exists():  # an interrupted earlier attempt (we hold the lock)
        shutil.rmtree(final)
    os.rename(staged, final)
    artifact = _load_entry(final)
    if artifact is None:
        raise CoreError(f"core cache entry {final} is incomplete")
    return artifact


def cached_entry(final: Path, stage: Callable[[Path], dict[str, object]]) -> CoreArtifact:
    """The artifact cached at ``final``, made on first use: ``stage(directory)``
    fills a fresh directory and returns its metadata, then the directory is
    published atomically (under a lock, so parallel test runs make it once)."""
    cached = _load_entry(final)
    if cached is not None:
        return cached
    with file_lock(f"core-{final.name}"):
        cached = _load_entry(final)
        if cached is not None:
            return cached
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{final.name[:60]}-", dir=final.parent) as scratch:
            staged = Path(scratch) / "entry"
            staged.mkdir()
            return _publish(staged, final, stage(staged))


def _place_exe(exe: Path, staged: Path) -> None:
    """Hard-link (or copy) the executable into the entry, so it is self-contained."""
    try:
        os.link(exe, staged / "exe")
    except OSError:
        shutil.copy2(exe, staged / "exe")


def is_elf_core(path: Path) -> bool:
    with open(path, "rb") as handle:
        header = handle.read(18)
    if len(header) < 18 or header[:4] != _ELF_MAGIC:
        return False
    e_type = int.from_bytes(header[16:18], "little" if header[5] == 1 else "big")
    return e_type == _ET_CORE


def _go_version(exe: Path) -> str:
    meta_path = exe.parent / "build.json"
    return str(json.loads(meta_path.read_text())["go"]) if meta_path.is_file() else "unknown"


def _fixture_env() -> dict[str, str]:
    """The environment a fixture runs in: no inherited GO* knobs except ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env["GOTRACEBACK"] = "crash"
    return env


def _core_limit() -> tuple[int, int]:
    """The RLIMIT_CORE a crashing fixture gets: unlimited, or as much as we may."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == resource.RLIM_INFINITY or os.geteuid() == 0:
        return (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    if hard < 64 * 1024 * 1024:
        raise Unavailable(f"the hard core-size limit is {hard} bytes; cores would be cut short")
    return (hard, hard)


def _set_core_limit(limit: tuple[int, int]) -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_CORE, limit)


def _no_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---------------------------------------------------------------------------
# core_pattern


def _pattern_is_relative_file(pattern: str) -> bool:
    return bool(pattern) and not pattern.startswith("|") and "/" not in pattern


class _CorePatternInCwd:
    """Make the kernel write cores into the crashing process's cwd.

    If core_pattern is already a relative file name nothing changes.  Else,
    as root, it is set to ``core`` and the exact old value restored on exit.
    The caller holds the "core-dump" lock, so parallel workers never see a
    pattern another worker set temporarily.
    """

    def __init__(self) -> None:
        self.saved: str | None = None

    def __enter__(self) -> "_CorePatternInCwd":
        try:
            pattern = CORE_PATTERN.read_text().rstrip("\n")
        except OSError as exc:
            raise Unavailable(f"cannot read {CORE_PATTERN}: {exc}") from exc
        if _pattern_is_relative_file(pattern):
            return self
        if os.geteuid() != 0:
            raise Unavailable(f"kernel.core_pattern is {pattern!r} (not a file in cwd) and changing it needs root")
        try:
            CORE_PATTERN.write_text("core\n")
        except OSError as exc:
            raise Unavailable(f"cannot set kernel.core_pattern (was {pattern!r}): {exc}") from exc
        self.saved = pattern
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.saved is not None:
            CORE_PATTERN.write_text(self.saved + "\n")
            self.saved = None


def _find_core(directory: Path, pid: int, exclude: Iterable[str]) -> Path | None:
    """The core the kernel wrote into ``directory`` (core, core.PID, or a pattern)."""
    skip = set(exclude)
    preferred = [directory / "core", directory / f"core.{pid}"]
    for path in preferred:
        if path.is_file() and is_elf_core(path):
            return path
    candidates = sorted(
        (p for p in directory.iterdir() if p.is_file() and p.name not in skip),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in candidates[:20]:
        if is_elf_core(path):
            return path
    return None


# ---------------------------------------------------------------------------
# Kernel cores


def kernel_core(
    program: str,
    version: str,
    flavour: str = "default",
    mode: str = "panic",
    args: Sequence[str] = (),
) -> CoreArtifact:
    """The kernel core of ``program MODE ARGS...`` crashing with GOTRACEBACK=crash.

    Cached per build + mode + args.  Raises :class:`support.Unavailable` when
    cores cannot be produced here and :class:`CoreError` when the fixture
    misbehaves (no crash, no core).
    """
    args = tuple(args)
    exe = build(program, version, flavour)

    def stage(staged: Path) -> dict[str, object]:
        meta = _crash_into(exe, staged, mode, args)
        meta.update(program=program, version=version, go_version=_go_version(exe), flavour=flavour)
        _place_exe(exe, staged)
        return meta

    return cached_entry(cache_dir() / "cores" / _entry_key(program, version, flavour, mode, args), stage)


def _crash_into(exe: Path, staged: Path, mode: str, args: tuple[str, ...]) -> dict[str, object]:
    run_dir = staged / "run"
    run_dir.mkdir()
    stdout_path, stderr_path = staged / "stdout.txt", staged / "traceback.txt"
    limit = _core_limit()
    started = time.monotonic()
    # Serialise crashes: core_pattern may be switched temporarily (see _CorePatternInCwd).
    with file_lock("core-dump"), _CorePatternInCwd():
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [str(exe), mode, *args],
                cwd=run_dir,
                env=_fixture_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=lambda: _set_core_limit(limit),
            )
            try:
                returncode = process.wait(timeout=_CRASH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _kill(process)
                raise CoreError(f"{exe.name} {mode} did not crash within {_CRASH_TIMEOUT_S}s") from None
    seconds = round(time.monotonic() - started, 2)
    exit_signal = -returncode if returncode < 0 else None
    core = _find_core(run_dir, process.pid, exclude=())
    if core is None:
        tail = stderr_path.read_text(errors="replace")[-600:]
        raise CoreError(
            f"{exe.name} {mode} exited with {returncode} and left no core in {run_dir} "
            f"(core_pattern {CORE_PATTERN.read_text().strip()!r}); stderr ends:\n{tail}"
        )
    os.rename(core, staged / "core")
    shutil.rmtree(run_dir)
    return {
        "mode": mode,
        "args": list(args),
        "pid": process.pid,
        "exit_signal": exit_signal,
        "returncode": returncode,
        "seconds": seconds,
        "core_bytes": (staged / "core").stat().st_size,
    }


@contextlib.contextmanager
def running_fixture(
    exe: Path,
    directory: Path,
    stderr_path: Optional[Path] = None,
    args: Sequence[str] = (),
    stdout_path: Optional[Path] = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``exe wait ARGS`` running in ``directory`` (no core if it dies), once it
    printed READY; killed on exit.  Its stdout goes to ``stdout_path`` (default
    ``directory/stdout.txt``), its stderr (the runtime's traceback) to
    ``stderr_path`` or nowhere."""
    stdout_path = stdout_path or directory / "stdout.txt"
    with open(stdout_path, "wb") as out, open(stderr_path or os.devnull, "wb") as err:
        process = subprocess.Popen(
            [str(exe), "wait", *args],
            cwd=directory,
            env=_fixture_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=_no_core,
        )
        try:
            _wait_ready(process, stdout_path)
            yield process
        finally:
            _kill(process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Stop a fixture we started, by its PID, and reap it."""
    if process.poll() is None:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


_SETTLE_S = 0.5


def signal_core(program: str, version: str, flavour: str = "default", signum: int = signal.SIGQUIT) -> CoreArtifact:
    """The kernel core of ``program wait`` killed by ``signum`` (SIGQUIT) once it
    printed READY: GOTRACEBACK=crash makes the runtime print every goroutine and
    abort on the thread that took the signal (an idle M's g0 when nothing runs).
    Cached like :func:`kernel_core`."""
    exe = build(program, version, flavour)
    # "settled": the signal is sent once the program is idle (see below); cores
    # cached under the old key could have caught main in its fsync.
    mode = f"signal{int(signum)}-settled"

    def stage(staged: Path) -> dict[str, object]:
        run_dir = staged / "run"
        run_dir.mkdir()
        limit = _core_limit()
        with file_lock("core-dump"), _CorePatternInCwd():
            with open(staged / "stdout.txt", "wb") as out, open(staged / "traceback.txt", "wb") as err:
                process = subprocess.Popen(
                    [str(exe), "wait"],
                    cwd=run_dir,
                    env=_fixture_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    preexec_fn=lambda: _set_core_limit(limit),
                )
                try:
                    _wait_ready(process, staged / "stdout.txt")
                    # READY comes before the program's os.Stdout.Sync(): let that
                    # fsync end, so no goroutine is on a thread when the signal lands.
                    time.sleep(_SETTLE_S)
                    os.kill(process.pid, signum)
                    returncode = process.wait(timeout=_QUIT_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    raise CoreError(f"{exe.name} did not die within {_QUIT_TIMEOUT_S}s of signal {signum}") from None
                finally:
                    _kill(process)
        core = _find_core(run_dir, process.pid, exclude=())
        if core is None:
            raise CoreError(f"{exe.name} wait left no core after signal {signum} (returncode {returncode})")
        os.rename(core, staged / "core")
        shutil.rmtree(run_dir)
        _place_exe(exe, staged)
        return {
            "mode": mode,
            "args": [],
            "pid": process.pid,
            "exit_signal": -returncode if returncode < 0 else None,
            "returncode": returncode,
            "program": program,
            "version": version,
            "go_version": _go_version(exe),
            "flavour": flavour,
        }

    return cached_entry(cache_dir() / "cores" / _entry_key(program, version, flavour, mode, ()), stage)


# ---------------------------------------------------------------------------
# gcore of a live process


def gcore_live(program: str, version: str, flavour: str = "default", args: Sequence[str] = ()) -> CoreArtifact:
    """A gdb ``gcore`` of ``program wait ARGS...`` plus the runtime's traceback.

    The fixture is started in wait mode; once it prints READY, gcore saves
    the core, then SIGQUIT makes the runtime print every goroutine (its
    parked goroutines are unchanged by the snapshot).  The process is always
    killed by PID at the end.  Cached like :func:`kernel_core`.
    """
    args = tuple(args)
    gcore = shutil.which("gcore")
    if gcore is None:
        raise Unavailable("gcore (from gdb) is not installed")
    exe = build(program, version, flavour)

    def stage(staged: Path) -> dict[str, object]:
        meta = _gcore_into(gcore, exe, staged, args)
        meta.update(program=program, version=version, go_version=_go_version(exe), flavour=flavour)
        _place_exe(exe, staged)
        return meta

    return cached_entry(cache_dir() / "cores" / _entry_key(program, version, flavour, "gcore", args), stage)


def _wait_ready(process: subprocess.Popen[bytes], stdout_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        text = stdout_path.read_text(errors="replace")
        if re.search(rf"^READY {process.pid}$", text, re.MULTILINE):
            return
        if process.poll() is not None:
            raise CoreError(f"fixture exited with {process.returncode} before READY; stdout: {text[-300:]!r}")
        time.sleep(0.02)
    raise CoreError(f"fixture printed no READY within {_READY_TIMEOUT_S}s")


def _gcore_into(gcore: str, exe: Path, staged: Path, args: tuple[str, ...]) -> dict[str, object]:
    run_dir = staged / "run"
    run_dir.mkdir()
    stdout_path, stderr_path = staged / "stdout.txt", staged / "traceback.txt"
    started = time.monotonic()
    # No kernel core from the SIGQUIT crash: the gcore is the artifact.
    with running_fixture(exe, run_dir, stderr_path, args, stdout_path) as process:
        prefix = run_dir / "gcore"
        gcore_started = time.monotonic()
        try:
            saved = subprocess.run(
                [gcore, "-o", str(prefix), str(process.pid)],
                cwd=run_dir,
                capture_output=True,
                text=True,
                timeout=_GCORE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise CoreError(f"gcore timed out after {exc.timeout}s") from exc
        core = run_dir / f"gcore.{process.pid}"
        if saved.returncode != 0 or not core.is_file():
            output = (saved.stdout + saved.stderr).strip()[-600:]
            if "ptrace" in output.lower() and "permitted" in output.lower():
                raise Unavailable(f"gcore cannot attach: {output.splitlines()[-1]}")
            raise CoreError(f"gcore failed ({saved.returncode}): {output}")
        if process.poll() is not None:
            early = stderr_path.read_text(errors="replace")[:300]
            raise CoreError(f"fixture exited ({process.returncode}) before gcore finished: {early!r}")
        gcore_seconds = round(time.monotonic() - gcore_started, 2)
        os.rename(core, staged / "core")
        _make_sparse(staged / "core")
        os.kill(process.pid, signal.SIGQUIT)
        try:
            returncode = process.wait(timeout=_QUIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CoreError(f"fixture did not exit within {_QUIT_TIMEOUT_S}s of SIGQUIT") from None
    first_line = stderr_path.read_text(errors="replace").split("\n", 1)[0]
    if first_line != "SIGQUIT: quit":
        raise CoreError(f"fixture traceback does not start with the SIGQUIT report: {first_line!r}")
    # Should a kernel core appear anyway (RLIMIT_CORE ignored by a pipe
    # core_pattern), it is not ours to keep.
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "mode": "gcore",
        "args": list(args),
        "pid": process.pid,
        "exit_signal": -returncode if returncode < 0 else None,
        "returncode": returncode,
        "seconds": round(time.monotonic() - started, 2),
        "gcore_seconds": gcore_seconds,
        "core_bytes": (staged / "core").stat().st_size,
    }


def _make_sparse(path: Path) -> None:
    """Turn runs of zeros into holes (best effort).

    gcore writes every mapping densely, including the gigabyte of PROT_NONE
    address space the Go runtime reserves, so a 3 MB process gives a 1.2 GB
    file; with holes it takes a few MB of disk (the apparent size stays).
    """
    fallocate = shutil.which("fallocate")
    if fallocate is None:
        return
    subprocess.run([fallocate, "--dig-holes", str(path)], capture_output=True, timeout=_GCORE_TIMEOUT_S)


def core_metadata(artifact: CoreArtifact) -> dict[str, object]:
    """The core.json of an artifact (timings, sizes, return code)."""
    return json.loads((artifact.core.parent / "core.json").read_text())


__all__ = [
    "CoreArtifact",
    "CoreError",
    "core_metadata",
    "gcore_live",
    "is_elf_core",
    "kernel_core",
    "running_fixture",
    "signal_core",
]
