"""Commands: go print, go locals, go args."""

from __future__ import annotations

import argparse
from typing import Optional

from goext_core.commands.base import MAX_ELEMENTS, MAX_FRAMES, MAX_GOROUTINE_ID, Context, Write, bounded_int, command
from goext_core.errors import GoextError, UsageError
from goext_core.runtime.goroutines import GoroutineRecord
from goext_core.runtime.stacks import printed_name, short_path, user_frame
from goext_core.textsafe import json_for_terminal, safe_field
from goext_core.values.decode import Decoder, frame_variables, type_system
from goext_core.values.expr import Scope, frame_scope
from goext_core.values.expr import evaluate as evaluate_expression
from goext_core.values.exprparse import ExpressionError
from goext_core.values.formatters import format_value, value_to_json
from goext_core.values.model import Settings, Value


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-elements",
        type=bounded_int(0, MAX_ELEMENTS),
        default=Settings.max_elements,
        metavar="N",
        help=f"elements shown per slice/array/map/chan (default {Settings.max_elements})",
    )
    parser.add_argument(
        "--max-string",
        type=bounded_int(0, 1 << 24),
        default=Settings.max_string,
        metavar="N",
        help=f"string bytes shown (default {Settings.max_string})",
    )
    parser.add_argument(
        "--max-depth",
        type=bounded_int(0, 1000),
        default=Settings.max_depth,
        metavar="N",
        help=f"nesting levels decoded (default {Settings.max_depth})",
    )


def _settings(args: argparse.Namespace) -> Settings:
    # The options' bounded_int types have refused negative and absurd limits.
    return Settings(
        max_elements=args.max_elements,
        max_string=args.max_string,
        max_depth=args.max_depth,
        max_values=max(Settings.max_values, 4 * args.max_elements + 64),
    )


# -- go print --------------------------------------------------------------------------
def _configure_print(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the decoded value as JSON")
    parser.add_argument("--type", metavar="NAME", help="decode the memory at address EXPR as the Go type NAME")
    parser.add_argument(
        "-g",
        "--goroutine",
        type=bounded_int(0, MAX_GOROUTINE_ID),
        metavar="ID",
        help="look names up among the locals of this goroutine first",
    )
    parser.add_argument(
        "-f",
        "--frame",
        type=bounded_int(0, MAX_FRAMES),
        metavar="N",
        help="frame of --goroutine (default: the innermost frame of the program's own code)",
    )
    _add_limits(parser)
    parser.add_argument(
        "expr",
        nargs="+",
        help="a Go expression: variables (locals of -g ID's frame first, then package "
        "variables: gMap means main.gMap), .field, [index], [key], [a:b], *p, &x, x.(T), "
        "len/cap/real/imag, conversions such as (*T)(unsafe.Pointer(0x...)); or an address with --type",
    )


@command(
    "print",
    "Print a Go value: a Go expression over globals and locals (-g ID), or memory as a type (--type).",
    _configure_print,
    raw_tail=True,
)
def _run_print(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    settings = _settings(args)
    expression = _unquoted(" ".join(args.expr).strip())
    decoder = Decoder(program, settings)
    if args.type:
        go_type = type_system(program).by_name(args.type.strip())
        if go_type is None:
            raise GoextError(f"no type named {args.type!r} in the DWARF or the runtime type data")
        address = _parse_address(expression)
        value = decoder.decode(go_type, address)
    else:
        value = evaluate(program, decoder, expression, args.goroutine, args.frame)
    if args.json:
        write(json_for_terminal(value_to_json(value)) + "\n")
    else:
        write(format_value(value) + "\n")


def _unquoted(expression: str) -> str:
    """An expression the user quoted whole, as gdb users quote names ('main.x'),
    without the quotes; a Go rune literal ('a', '\\n') stays."""
    if len(expression) > 2 and expression[0] == expression[-1] == "'" and "'" not in expression[1:-1]:
        body = expression[1:-1]
        if len(body) > 1 and not body.startswith("\\"):
            return body
    return expression


def _parse_address(text: str) -> int:
    try:
        address = int(text, 0)
    except ValueError:
        raise UsageError(f"--type needs an address, got {text!r}") from None
    if address <= 0 or address >= 1 << 64:
        raise UsageError(f"bad address {text!r}")
    return address


def evaluate(
    program, decoder: Decoder, expression: str, goroutine: Optional[int] = None, frame: Optional[int] = None
) -> Value:
    """Evaluate a Go expression (values/expr.py): names are looked up among the
    locals of ``frame`` of ``goroutine`` (default: the goroutine of the selected
    thread, its first frame of the program's own code), then package variables."""
    if not expression:
        raise UsageError("go print: nothing to print")
    scope: Optional[Scope] = None
    record = program.goroutine(goroutine) if goroutine is not None else None
    if record is None and frame is not None:
        raise UsageError("go print: -f needs -g ID")
    if record is None:
        try:
            record = current_goroutine_of(program)
        except GoextError:
            record = None
    if record is not None:
        index = frame if frame is not None else default_frame(program, record)
        scope = frame_scope(program, decoder, record, index)
        if goroutine is None:
            scope.locals_optional = True
    try:
        return evaluate_expression(program, decoder, expression, scope)
    except ExpressionError as exc:
        raise GoextError(f"go print: {exc}") from None


def current_goroutine_of(program) -> Optional[GoroutineRecord]:
    """The selected goroutine, if any (GoProgram.selected_goroutine)."""
    return program.selected_goroutine()


# -- go locals / go args ---------------------------------------------------------------------
def default_frame(program, record) -> int:
    """The innermost frame of the program's own code, as `go goroutines` shows
    it (not runtime.gopark, internal/poll.runtime_pollWait or sync.(*Mutex).Lock):
    what a user means by "where it is"."""
    stack = program.stack(record)
    wanted = user_frame(stack, program.library_code)
    for index, frame in enumerate(stack.frames):
        if frame is wanted:
            return index
    return 0


def _configure_locals(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=bounded_int(0, MAX_GOROUTINE_ID), help="goroutine id")
    parser.add_argument(
        "frame",
        type=bounded_int(0, MAX_FRAMES),
        nargs="?",
        help="frame number as 'go bt' shows it (default: the innermost frame of the program's own code)",
    )
    parser.add_argument("--json", action="store_true", help="print the variables as JSON")
    _add_limits(parser)


def _variables(context: Context, args: argparse.Namespace, write: Write, params: bool) -> None:
    program = context.program
    record = program.goroutine(args.id)
    index = args.frame if args.frame is not None else default_frame(program, record)
    variables = frame_variables(program, record, index, _settings(args), params=params)
    frame = program.stack(record).frames[index]
    if args.json:
        payload = {
            "goroutine": record.id,
            "frame": index,
            "function": frame.function,
            "variables": [dict(name=name, arg=is_param, **value_to_json(value)) for name, value, is_param in variables],
        }
        write(json_for_terminal(payload) + "\n")
        return
    write(
        f"goroutine {record.id} frame {index}: {safe_field(printed_name(frame.function))} at "
        f"{safe_field(short_path(frame.file))}:{frame.line}\n"
    )
    if not variables:
        write(f"  (no {'arguments' if params else 'locals'})\n")
    for name, value, _ in variables:
        write(f"  {safe_field(name)} = {format_value(value)}\n")


@command("locals", "Local variables of a goroutine's frame (any goroutine, any frame).", _configure_locals)
def _run_locals(context: Context, args: argparse.Namespace, write: Write) -> None:
    _variables(context, args, write, params=False)


@command("args", "Arguments of a goroutine's frame (any goroutine, any frame).", _configure_locals)
def _run_args(context: Context, args: argparse.Namespace, write: Write) -> None:
    _variables(context, args, write, params=True)
