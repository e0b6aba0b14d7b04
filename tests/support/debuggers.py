"""Drive real gdb and lldb in batch mode and split their output per command.

``run_gdb(["go help", "info threads"], exe=..., core=...)`` starts gdb with
every init file ignored, loads goext by path (as an installed gdbinit would:
before the program), runs each command and returns a :class:`DebuggerRun`
whose ``outputs[i]`` is exactly what command ``i`` printed (its stdout part,
then its stderr part).  ``run_lldb`` is the same for lldb.

How the split works:
- gdb: every command is its own ``-ex`` (gdb goes on after a failing ``-ex``),
  and between commands a Python one-liner prints a unique marker to both
  gdb's stdout and stderr.
- lldb: ``-b`` stops at the first failing command, so one ``script`` command
  runs a small runner that passes each command to the command interpreter
  (``HandleCommand``, as if typed) and prints its output and error between
  markers on lldb's stdout and stderr.

A missing debugger, or one without Python, raises :class:`support.Unavailable`
(a pytest skip with the reason), never a silent pass.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from . import Unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
GDB_ENTRY = REPO_ROOT / "gdb" / "goext.py"
LLDB_ENTRY = REPO_ROOT / "lldb" / "goext.py"

DEFAULT_TIMEOUT_S = 120.0
_PROBE_TIMEOUT_S = 60.0

# Go programs get SIGURG for preemption; lldb would stop at each one.
LLDB_GO_SIGNAL_SETUP = "process handle -p true -s false -n false SIGURG"

# lldb prints this once per Go target, asynchronously, so it lands in
# whichever command's stderr happens to run then; it is dropped from the
# per-command split (``stderr`` keeps it).
LLDB_ASYNC_NOISE = re.compile(
    r"^warning: This version of LLDB has no plugin for the language \"go\"\..*\n?", re.MULTILINE
)

# The debugger's own diagnostics (never goext's, which prefixes "goext:"):
# kept in ``DebuggerRun.chatter`` and out of the per-command outputs, so a test
# judges goext and not, say, gdb's complaint about the size of a kernel core's
# XSAVE note (``.reg-xstate``), which differs from CPU to CPU.
DEBUGGER_CHATTER = re.compile(
    r"^\n?(?:warning: (?!goext)|BFD: warning: ).*\n?",
    re.MULTILINE,
)

PathLike = Union[str, "os.PathLike[str]"]
EnvLike = Mapping[str, Optional[str]]


class DebuggerTimeout(AssertionError):
    """The debugger did not finish in time; carries what it printed so far."""


@dataclass
class DebuggerRun:
    """One batch run of a debugger.

    ``stdouts[i]``/``stderrs[i]`` are command ``i``'s share of each stream and
    ``outputs[i]`` their concatenation.  ``completed`` counts the commands
    whose end marker appeared (less than ``len(commands)`` if the debugger
    died or stopped early).  ``preamble`` is the stdout before the first
    command (goext's banner, gdb's load messages).
    """

    debugger: str
    argv: list[str]
    commands: list[str]
    returncode: int
    stdout: str
    stderr: str
    stdouts: list[str] = field(default_factory=list)
    stderrs: list[str] = field(default_factory=list)
    preamble: str = ""
    preamble_stderr: str = ""
    completed: int = 0
    succeeded: list[Optional[bool]] = field(default_factory=list)  # lldb only; None under gdb
    chatter: list[str] = field(default_factory=list)  # the debugger's own warnings, dropped from stderrs

    @property
    def outputs(self) -> list[str]:
        return [out + err for out, err in zip(self.stdouts, self.stderrs)]

    def stdout_of(self, command: str, occurrence: int = 0) -> str:
        """The stdout of the ``occurrence``-th run of ``command`` (a plan may repeat a command)."""
        indices = [index for index, planned in enumerate(self.commands) if planned == command]
        return self.stdouts[indices[occurrence]]

    def transcript(self) -> str:
        """Everything, for assertion messages."""
        return (
            f"$ {' '.join(self.argv)}\n(exit {self.returncode})\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


# -- locating debuggers -----------------------------------------------------
def gdb_binary() -> Optional[str]:
    """``$GOEXT_GDB`` or ``gdb`` on PATH."""
    return os.environ.get("GOEXT_GDB") or shutil.which("gdb")


def lldb_binary() -> Optional[str]:
    """``$GOEXT_LLDB``, ``lldb`` on PATH, else the newest ``lldb-N`` on PATH."""
    explicit = os.environ.get("GOEXT_LLDB")
    if explicit:
        return explicit
    plain = shutil.which("lldb")
    if plain:
        return plain
    versions: list[tuple[int, str]] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(directory or ".")
        except OSError:
            continue
        for name in names:
            match = re.fullmatch(r"lldb-(\d+)", name)
            path = os.path.join(directory, name)
            if match and os.access(path, os.X_OK):
                versions.append((int(match.group(1)), path))
    return max(versions)[1] if versions else None


@functools.lru_cache(maxsize=None)
def _python_probe(debugger: str) -> Optional[str]:
    """None when the debugger runs Python, else the reason it does not."""
    binary = gdb_binary() if debugger == "gdb" else lldb_binary()
    if not binary:
        return f"{debugger} is not installed"
    token = "GOEXT_PYTHON_PROBE_OK"
    if debugger == "gdb":
        argv = [binary, "-nx", "-batch", "-ex", f"python print('{token}')"]
    else:
        argv = [binary, "-b", "--no-lldbinit", "-o", f"script print('{token}')"]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{debugger} cannot be run: {exc}"
    if token not in done.stdout:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{debugger} has no working Python: {detail[0]}"
    return None


def gdb_python_available() -> bool:
    return _python_probe("gdb") is None


def lldb_python_available() -> bool:
    return _python_probe("lldb") is None


def require_gdb() -> str:
    """The gdb binary, or raise Unavailable (a skip) naming why not."""
    reason = _python_probe("gdb")
    if reason:
        raise Unavailable(reason)
    return gdb_binary() or "gdb"


def require_lldb() -> str:
    reason = _python_probe("lldb")
    if reason:
        raise Unavailable(reason)
    return lldb_binary() or "lldb"


# -- running -----------------------------------------------------------------
def run_gdb(
    commands: Sequence[str],
    exe: Optional[PathLike] = None,
    core: Optional[PathLike] = None,
    pid: Optional[int] = None,
    load_goext: bool = True,
    env: Optional[EnvLike] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    init_commands: Sequence[str] = (),
    cwd: Optional[PathLike] = None,
) -> DebuggerRun:
    """Run ``commands`` in ``gdb -nx -batch``.

    ``init_commands`` run as ``-iex`` before goext is loaded and before the
    program is read (e.g. ``set auto-load safe-path /`` to let a Go binary
    load its runtime-gdb.py).  ``env`` adds to (or, with None values, removes
    from) this process's environment.
    """
    binary = require_gdb()
    token = uuid.uuid4().hex
    argv = [binary, "-nx", "-batch", "-iex", "set width 0", "-iex", "set height 0"]
    for command in init_commands:
        argv += ["-iex", command]
    if load_goext:
        argv += ["-iex", f"source {GDB_ENTRY}"]
    if pid is not None:
        argv += ["-p", str(pid)]
    if exe is not None:
        argv.append(os.fspath(exe))
    if core is not None:
        argv += ["--core", os.fspath(core)]
    for index, command in enumerate(commands):
        argv += ["-ex", _gdb_marker(token, index, "begin"), "-ex", command, "-ex", _gdb_marker(token, index, "end")]
    stdout, stderr, returncode = _execute(argv, env, timeout, cwd)
    return _split(DebuggerRun("gdb", argv, list(commands), returncode, stdout, stderr), token)


def run_lldb(
    commands: Sequence[str],
    exe: Optional[PathLike] = None,
    core: Optional[PathLike] = None,
    pid: Optional[int] = None,
    load_goext: bool = True,
    env: Optional[EnvLike] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    init_commands: Sequence[str] = (),
    cwd: Optional[PathLike] = None,
) -> DebuggerRun:
    """Run ``commands`` in ``lldb -b --no-lldbinit``; see :func:`run_gdb`.

    ``init_commands`` run (as ``-O``) before goext is loaded and before the
    target is created.  For a live program (``exe`` without ``core``) the
    commands are preceded by :data:`LLDB_GO_SIGNAL_SETUP` (not part of the
    outputs) so Go's preemption signals do not stop it.
    """
    binary = require_lldb()
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="goext-lldb-") as scratch:
        plan = Path(scratch) / "plan.json"
        setup = [LLDB_GO_SIGNAL_SETUP] if exe is not None and core is None and pid is None else []
        plan.write_text(json.dumps({"token": token, "setup": setup, "commands": list(commands)}))
        runner = Path(scratch) / "runner.py"
        runner.write_text(_LLDB_RUNNER)
        argv = [binary, "-b", "--no-lldbinit", "--no-use-colors", "-O", "settings set auto-confirm true"]
        for command in init_commands:
            argv += ["-O", command]
        if load_goext:
            argv += ["-O", f"command script import {LLDB_ENTRY}"]
        if exe is not None:
            argv.append(os.fspath(exe))
        if core is not None:
            argv += ["--core", os.fspath(core)]
        if pid is not None:
            argv += ["--attach-pid", str(pid)]
        argv += ["-o", f"script exec(open({str(runner)!r}).read(), {{'PLAN': {str(plan)!r}, 'lldb': lldb}})"]
        stdout, stderr, returncode = _execute(argv, env, timeout, cwd)
    return _split(DebuggerRun("lldb", argv, list(commands), returncode, stdout, stderr), token)


# Runs inside lldb's Python.  Each command goes through the command
# interpreter exactly as if typed; its output and error are framed.
_LLDB_RUNNER = r"""
import json, os, sys
with open(PLAN) as handle:
    plan = json.load(handle)
interpreter = lldb.debugger.GetCommandInterpreter()
def _current_context():
    # The script command that runs this file froze the interpreter's context
    # (there may have been no process yet): give each command the current one.
    target = lldb.debugger.GetSelectedTarget()
    process = target.GetProcess()
    if process.IsValid() and process.GetSelectedThread().IsValid():
        return lldb.SBExecutionContext(process.GetSelectedThread().GetSelectedFrame())
    if process.IsValid():
        return lldb.SBExecutionContext(process)
    return lldb.SBExecutionContext(target)
def _run(command):
    result = lldb.SBCommandReturnObject()
    interpreter.HandleCommand(command, _current_context(), result, True)
    return result
for command in plan["setup"]:
    _run(command)
def _err(text):
    # lldb points sys.stderr at the command's output: write to its fd 2.
    data = text.encode("utf-8", "replace")
    while data:
        data = data[os.write(2, data):]
for index, command in enumerate(plan["commands"]):
    mark = "@@goext-{}:{}:".format(plan["token"], index)
    sys.stdout.write(mark + "begin@@\n"); sys.stdout.flush()
    _err(mark + "begin@@\n")
    result = _run(command)
    sys.stdout.write(result.GetOutput() or ""); sys.stdout.flush()
    _err(result.GetError() or "")
    status = "ok" if result.Succeeded() else "failed"
    sys.stdout.write(mark + "end:" + status + "@@\n"); sys.stdout.flush()
    _err(mark + "end:" + status + "@@\n")
"""


def _gdb_marker(token: str, index: int, edge: str) -> str:
    mark = f"@@goext-{token}:{index}:{edge}@@\\n"
    return f'python gdb.write("{mark}"); gdb.flush(); gdb.write("{mark}", gdb.STDERR)'


def _environment(env: Optional[EnvLike]) -> dict[str, str]:
    merged = dict(os.environ)
    merged.setdefault("TERM", "dumb")
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _execute(argv: list[str], env: Optional[EnvLike], timeout: float, cwd: Optional[PathLike]) -> tuple[str, str, int]:
    # Own process group: a timeout kills the debugger and its inferior together.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(env),
        cwd=cwd,
        start_new_session=True,
        text=True,
        errors="replace",
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        raise DebuggerTimeout(
            f"{argv[0]} did not finish within {timeout:.0f}s\n$ {' '.join(argv)}\n"
            f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ) from None
    finally:
        if process.poll() is None:
            _kill_group(process)
    return stdout, stderr, process.returncode


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _split(run: DebuggerRun, token: str) -> DebuggerRun:
    count = len(run.commands)
    run.preamble, out_parts, out_status = _frames(run.stdout, token, count)
    run.preamble_stderr, err_parts, _ = _frames(run.stderr, token, count)
    if run.debugger == "lldb":
        err_parts = [LLDB_ASYNC_NOISE.sub("", part) for part in err_parts]
    cleaned: list[str] = []
    for part in err_parts:
        run.chatter.extend(match.group(0).rstrip("\n") for match in DEBUGGER_CHATTER.finditer(part))
        cleaned.append(DEBUGGER_CHATTER.sub("", part))
    err_parts = cleaned
    run.stdouts, run.stderrs = out_parts, err_parts
    run.completed = sum(1 for status in out_status if status is not None)
    if run.debugger == "lldb":
        run.succeeded = [None if status is None else status == "ok" for status in out_status]
    else:
        run.succeeded = [None] * count
    return run


def _frames(text: str, token: str, count: int) -> tuple[str, list[str], list[Optional[str]]]:
    """Split one stream into (text before command 0, per-command text, end status)."""
    marker = re.compile(rf"@@goext-{token}:(\d+):(begin|end(?::(\w+))?)@@\n?")
    parts = [""] * count
    statuses: list[Optional[str]] = [None] * count
    preamble_end = None
    current: Optional[int] = None
    position = 0
    for match in marker.finditer(text):
        index = int(match.group(1))
        if preamble_end is None:
            preamble_end = match.start()
        if current is not None:
            parts[current] += text[position : match.start()]
        if match.group(2) == "begin":
            current = index
        else:
            statuses[index] = match.group(3) or "done"
            current = None
        position = match.end()
    if current is not None:  # the debugger died inside a command
        parts[current] += text[position:]
    preamble = text[:preamble_end] if preamble_end is not None else text
    return preamble, parts, statuses
