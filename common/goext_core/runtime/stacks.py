"""Goroutine-level views shared by commands and the snapshot: the user location,
created-by, grouping of identical stacks, and how the runtime prints names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.unwind import STACK_GOROUTINE, Frame, Stack

if TYPE_CHECKING:
    from goext_core.program import GoProgram

_RUNTIME_PREFIXES = ("runtime.", "runtime/internal/", "internal/runtime/")


def is_runtime_function(name: str) -> bool:
    return name.startswith(_RUNTIME_PREFIXES)


def printed_name(name: str) -> str:
    """A function name as the runtime's traceback prints it (printFuncName in
    src/runtime/traceback.go): generic type arguments become "[...]" and
    runtime.gopanic is shown as "panic"."""
    if name == "runtime.gopanic":
        return "panic"
    start = name.find("[")
    if start < 0:
        return name
    depth = 0
    for index in range(start, len(name)):
        if name[index] == "[":
            depth += 1
        elif name[index] == "]":
            depth -= 1
            if depth == 0:
                return name[:start] + "[...]" + name[index + 1 :]
    return name


@dataclass
class CreatedBy:
    function: str
    file: str
    line: int
    goroutine: Optional[int]
    pc: int


def created_by(program: "GoProgram", record: GoroutineRecord) -> Optional[CreatedBy]:
    """src/runtime/traceback.go printcreatedby: the function containing gopc,
    at gopc-1 (the go statement), except for goroutine 1."""
    if not record.gopc or record.id == 1:
        return None
    site = program.creation_site(record.gopc)
    if site is None:
        return None
    function, file, line = site
    parent = record.parent_id if record.parent_id else None
    return CreatedBy(function, file, line, parent, record.gopc)


def creation_site(program: "GoProgram", gopc: int) -> Optional[tuple[str, str, int]]:
    """Function, file and line of a go statement's pc (uncached: see
    GoProgram.creation_site, which memoizes it; goroutines share a few)."""
    bias = program.target.load_bias()
    func = program.func_for_pc(gopc)
    if func is None:
        return None
    pc = gopc - bias
    lookup = pc - 1 if pc > func.entry else pc
    file, line = func.file_line(lookup)
    return func.name, file, line


def function_package_path(function: str) -> str:
    """The import path of a function's package ("internal/poll.runtime_pollWait"
    -> "internal/poll"; type arguments, which may hold slashes, aside)."""
    bracket = function.find("[")
    name = function if bracket < 0 else function[:bracket]
    slash = name.rfind("/")
    dot = name.find(".", slash + 1)
    return name[:dot] if dot > 0 else ""


@dataclass(frozen=True)
class LibraryCode:
    """Which frames are the Go distribution's code (the runtime, the standard
    library) rather than the program's own: what a user asking where a
    goroutine is does not mean.

    With GOROOT in the binary's file names, the files under it.  Built with
    -trimpath, file names are import paths for GOROOT's packages too; then the
    standard packages are the ones whose path's first element has no dot (a
    module's path from the network has one), except the program's own
    (``own_paths``: the main module's, the main package's and the required
    modules' paths, whose first element may have no dot either)."""

    goroot_src: Optional[str] = None  # GOROOT/src/ as the binary's file names record it
    own_paths: tuple[str, ...] = ()

    def holds(self, frame: Frame) -> bool:
        return self.holds_code(frame.function, frame.file)

    def holds_code(self, function: str, file: str) -> bool:
        if is_runtime_function(function):
            return True
        if self.goroot_src:
            return file.startswith(self.goroot_src)
        return self.is_standard_package(function_package_path(function))

    def is_standard_package(self, package: str) -> bool:
        if not package or package == "main":
            return False
        first = package.split("/", 1)[0]
        if "." in first:
            return False
        return not any(own and first == own.split("/", 1)[0] for own in self.own_paths)


def is_user_code(frame: Frame, library: LibraryCode) -> bool:
    """The program's own code on the goroutine's own stack (user_frame's first choice)."""
    return frame.stack == STACK_GOROUTINE and not library.holds(frame)


def user_frame(stack: Stack, library: Optional[LibraryCode] = None) -> Optional[Frame]:
    """The innermost frame of the program's own code (see LibraryCode), else
    outside package runtime; failing both, the innermost frame."""
    frames = [frame for frame in stack.frames if frame.stack == STACK_GOROUTINE]
    if library is not None:
        for frame in frames:
            if not library.holds(frame):
                return frame
    for frame in frames:
        if not is_runtime_function(frame.function):
            return frame
    # A runtime goroutine: its start function says more than the parking call.
    for frame in reversed(frames):
        if frame.function != "runtime.goexit" and not frame.inlined:
            return frame
    return stack.frames[0] if stack.frames else None


def goroutine_frames(stack: Stack) -> list[Frame]:
    """Only the frames on the goroutine's own stack (what the runtime prints for it)."""
    return [frame for frame in stack.frames if frame.stack == STACK_GOROUTINE]


def stack_signature(stack: Stack) -> tuple:
    return tuple((f.function, f.file, f.line) for f in goroutine_frames(stack))


def short_path(path: str) -> str:
    """Last two path elements: enough to recognize a file in a one-line view."""
    parts = path.rsplit("/", 2)
    return "/".join(parts[-2:]) if len(parts) > 2 else path


def match_state(record: GoroutineRecord, wanted: str) -> bool:
    wanted = wanted.lower()
    state = record.state.lower()
    return state == wanted or state.startswith(wanted) or bool(re.search(re.escape(wanted), state))
