"""goext's commands run offline on kernel cores of the fixtures, for tests."""

from __future__ import annotations

from typing import Callable

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget

from .cores import CoreArtifact, kernel_core


def run(program: GoProgram, command: str, args: str) -> str:
    """``go COMMAND ARGS`` on ``program``; its output (the command must succeed)."""
    out: list[str] = []
    ok = dispatch(Context(lambda: program), command, args, out.append)
    text = "".join(out)
    assert ok, text
    return text


def one_line_error(program: GoProgram, command: str, args: str) -> str:
    """``go COMMAND ARGS`` on ``program``, which must fail with one ``goext: error:`` line; that line."""
    out: list[str] = []
    assert not dispatch(Context(lambda: program), command, args, out.append), args
    text = "".join(out)
    assert text.startswith("goext: error:") and text.count("\n") == 1 and "Traceback" not in text, (args, text)
    return text


def truth_values(stdout: str) -> dict[str, int]:
    """The ``TRUTH name<TAB>integer`` lines a heap fixture prints."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("TRUTH "):
            name, _, text = line[len("TRUTH ") :].partition("\t")
            out[name] = int(text)
    return out


def core_programs(fixture: str, mode: str = "panic") -> Callable[[str, str], tuple[CoreArtifact, GoProgram]]:
    """(Go version, flavour) -> the fixture's kernel core and a GoProgram over it,
    each made once (for a module-scoped pytest fixture)."""
    cache: dict[tuple[str, str], tuple[CoreArtifact, GoProgram]] = {}

    def get(version: str, flavour: str) -> tuple[CoreArtifact, GoProgram]:
        if (version, flavour) not in cache:
            artifact = kernel_core(fixture, version, flavour, mode)
            cache[(version, flavour)] = (artifact, GoProgram(CoreTarget(str(artifact.exe), str(artifact.core))))
        return cache[(version, flavour)]

    return get


__all__ = ["core_programs", "one_line_error", "run", "truth_values"]
