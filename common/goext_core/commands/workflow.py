"""Commands for the distribution workflow: go symbols, go list.

``go symbols`` hands the debugger the function symbols recovered from pclntab
(see :mod:`goext_core.binary.symfile`), so the debugger's own ``bt``, ``info symbol``
and ``break FUNC`` work on a stripped Go binary.  ``go list`` shows the source
around a goroutine's frame, from local disk or from debuginfod.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional

from goext_core.binary import debuginfod
from goext_core.binary.symfile import function_symbols, symbol_file_for, symbol_file_image
from goext_core.commands.base import MAX_FRAMES, Context, Write, bounded_int, command
from goext_core.commands.stacks import goroutine_or_current
from goext_core.errors import GoextError, UsageError
from goext_core.runtime.stacks import printed_name, user_frame
from goext_core.target.regularfile import open_regular_file
from goext_core.textsafe import safe_field, safe_output

_LIST_CONTEXT = 5  # lines shown before and after, as delve's "list"
_MAX_SOURCE_BYTES = 16 << 20


# -- go symbols --------------------------------------------------------------------
def _configure_symbols(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the symbol file here instead of the cache directory, and do not load it",
    )
    parser.add_argument("--force", action="store_true", help="even when the executable has a symbol table")


@command(
    "symbols", "Give the debugger function symbols recovered from pclntab (for stripped binaries).", _configure_symbols
)
def run_symbols(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    program.require_go()
    binary = program.binary
    if binary.symbol("runtime.main") is not None and not args.force and not args.output:
        write(f"{binary.path} has a symbol table already; nothing to add (--force to add anyway)\n")
        return
    if args.output:
        symbols = function_symbols(program.pclntab)
        image = symbol_file_image(binary, program.pclntab)
        try:
            with open(args.output, "wb") as out:
                out.write(image)
        except OSError as exc:
            raise GoextError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        write(f"{len(symbols)} function symbols written to {args.output}\n")
        return
    path = symbol_file_for(binary, program.pclntab)
    bias = program.target.load_bias()
    count = len(program.pclntab)
    if program.target.load_symbol_file(path, bias):
        write(f"{count} function symbols from pclntab loaded ({path})\n")
    else:
        write(
            f"{count} function symbols from pclntab written to {path}\n"
            f"load them with: add-symbol-file {path} -o {bias:#x}  (gdb)"
            f" or: target symbols add {path}  (lldb)\n"
        )


# -- go list -------------------------------------------------------------------------
def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "goroutine", nargs="?", default=None, help="goroutine id (default: the goroutine of the selected thread)"
    )
    parser.add_argument(
        "frame",
        nargs="?",
        type=bounded_int(0, MAX_FRAMES),
        default=None,
        help="frame number as in 'go bt' (default: the innermost frame of the program's own code)",
    )
    parser.add_argument(
        "-C",
        "--context",
        type=bounded_int(0, 10_000),
        default=_LIST_CONTEXT,
        metavar="N",
        help=f"lines before and after (default {_LIST_CONTEXT})",
    )


@command("list", "Source around a goroutine's frame, from disk or debuginfod.", _configure_list)
def run_list(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    if args.context < 0 or args.context > 1000:
        raise UsageError("--context must be between 0 and 1000")
    record = goroutine_or_current(context, args.goroutine)
    stack = program.stack(record)
    if not stack.frames:
        raise GoextError(f"goroutine {record.id} has no frames{': ' + stack.error if stack.error else ''}")
    if args.frame is None:
        frame = user_frame(stack, program.library_code) or stack.frames[0]
        index = stack.frames.index(frame)
    else:
        index = args.frame
        if not 0 <= index < len(stack.frames):
            raise UsageError(f"goroutine {record.id} has frames 0-{len(stack.frames) - 1}, not {index}")
        frame = stack.frames[index]
    if not frame.file or frame.line <= 0:
        raise GoextError(f"frame {index} ({safe_field(printed_name(frame.function))}) has no source position")
    text, origin = read_source(program, frame.file)
    write(f"goroutine {record.id} frame {index}: {safe_field(printed_name(frame.function))}\n")
    write(f"{safe_field(frame.file)}:{frame.line}{origin}\n")
    # Lines end at "\n" only, as the compiler counts them (splitlines would also
    # split at \x0b, \x1c, \x85, U+2028... and shift every later line number).
    lines = [line[:-1] if line.endswith("\r") else line for line in text.removesuffix("\n").split("\n")]
    first = max(1, frame.line - args.context)
    last = min(len(lines), frame.line + args.context)
    if frame.line > len(lines):
        raise GoextError(
            f"{safe_field(frame.file)} has {len(lines)} lines, not {frame.line}: "
            "is it the source the binary was built from?"
        )
    for number in range(first, last + 1):
        marker = "=>" if number == frame.line else "  "
        # A source line keeps its indentation tabs; any control or bidi character is escaped.
        write(f"{marker}{number:6d}:\t{safe_output(lines[number - 1])}\n")


def read_source(program: object, path: str) -> tuple[str, str]:
    """Text of source file ``path``, and where it came from (" (debuginfod)" or "")."""
    local = _local_source(path)
    if local is not None:
        return _read_text(local), ""
    binary = program.binary  # type: ignore[attr-defined]
    build_id = binary.gnu_build_id()
    why = "not on this machine"
    if debuginfod.enabled() and build_id:
        try:
            fetched = debuginfod.fetch_source(build_id, path)
        except GoextError as exc:
            fetched = None
            why += f"; {exc}"
        if fetched is not None:
            return _read_text(fetched), " (from debuginfod)"
    elif not debuginfod.enabled():
        why += " and DEBUGINFOD_URLS is not set"
    else:
        why += " and the executable has no GNU build-id for debuginfod"
    raise GoextError(f"source {safe_field(path)}: {why}")


def _local_source(path: str) -> Optional[str]:
    if os.path.isfile(path):
        return path
    return None


def _read_text(path: str) -> str:
    try:
        with open_regular_file(path, "source file") as handle:
            data = handle.read(_MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise GoextError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > _MAX_SOURCE_BYTES:
        raise GoextError(f"{path} is over {_MAX_SOURCE_BYTES >> 20} MiB: not a source file")
    return data.decode("utf-8", "replace")
