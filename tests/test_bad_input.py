"""Bad input gives one clear line or records marked unreadable: never a Python
traceback, a hang or a wrong answer presented as right."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from support.build import build
from support.cores import kernel_core
from support.debuggers import REPO_ROOT

CLI = [sys.executable, "-m", "goext_core"]


def _cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "common"))
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, env=env)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("goext: error:")]
    assert len(errors) == 1, output
    assert result.returncode == 1
    return errors[0]


@pytest.fixture(scope="module")
def zoo():
    return kernel_core("zoo", "1.22", "default", "panic")


@pytest.mark.parametrize("size", [0, 100, 5000, 200_000, 3_000_000])
def test_truncated_core(zoo, tmp_path, size):
    core = tmp_path / "core"
    with open(zoo.core, "rb") as source, open(core, "wb") as target:
        target.write(source.read(size))
    for command in (["goroutines"], ["bt", "all"], ["info"], ["snapshot", "-o", str(tmp_path / "s.json")]):
        result = _cli(str(zoo.exe), str(core), *command)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output
        if result.returncode:
            _one_error_line(result)


def test_executable_that_does_not_match_the_core(zoo):
    other = build("simple", "1.22", "default")
    line = _one_error_line(_cli(str(other), str(zoo.core), "goroutines"))
    assert "does not match" in line


@pytest.mark.parametrize("swap", ["core-as-exe", "exe-as-core", "text-file", "missing"])
def test_wrong_files(zoo, tmp_path, swap):
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file\n" * 100)
    exe, core = {
        "core-as-exe": (zoo.core, zoo.core),
        "exe-as-core": (zoo.exe, zoo.exe),
        "text-file": (text, zoo.core),
        "missing": (tmp_path / "nope", zoo.core),
    }[swap]
    _one_error_line(_cli(str(exe), str(core), "goroutines"))


def test_garbage_in_the_goroutine_list(zoo, tmp_path):
    """Corrupt g structs: the goroutines still list, each bad one marked."""
    from goext_core.program import GoProgram
    from goext_core.runtime.goroutines import read_allgs
    from goext_core.target.core import CoreTarget

    core = tmp_path / "core"
    shutil.copyfile(zoo.core, core)
    program = GoProgram(CoreTarget(str(zoo.exe), str(core)))
    addresses = read_allgs(program)[5:15]
    sched_sp = program.layouts.g.offset("sched.sp")
    target = program.target
    with open(core, "r+b") as handle:  # scribble over ten goroutines' saved stack pointers
        for address in addresses:
            offset = target._segments[[s.start <= address < s.end for s in target._segments].index(True)]
            handle.seek(offset.file_offset + address + sched_sp - offset.start)
            handle.write(b"\xef\xbe\xad\xde\xef\xbe\xad\xde")
    result = _cli(str(zoo.exe), str(core), "bt", "all")
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
    assert result.stdout.count("unwinding stopped") >= 10


@pytest.mark.parametrize(
    "arguments",
    [
        ["bt", "-n", "-3"],
        ["bt", "abc"],
        ["bt", "99999999"],
        ["goroutines", "--with", "("],
        ["goroutines", "-t", "x"],
        ["nosuchcommand"],
        ["snapshot"],
        ["snapshot", "-o", "/nonexistent/dir/x.json"],
    ],
)
def test_wrong_arguments(zoo, arguments):
    _one_error_line(_cli(str(zoo.exe), str(zoo.core), *arguments))
