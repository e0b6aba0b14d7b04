"""Commands: go print, go locals, go args."""

from __future__ import annotations

import argparse
import re
from typing import Optional

from goext_core.commands.base import MAX_ELEMENTS, MAX_FRAMES, MAX_GOROUTINE_ID, Context, Write, bounded_int, command
from goext_core.errors import GoextError, MemoryReadError, UsageError
from goext_core.runtime.stacks import printed_name, short_path, user_frame
from goext_core.textsafe import json_for_terminal, safe_field
from goext_core.values.decode import Decoder, frame_variables, type_system
from goext_core.values.formatters import format_value, value_to_json
from goext_core.values.model import Settings, Value
from goext_core.values.types import GoType, Kind

_TOKEN = re.compile(r"\s*(?:(\.)\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(-?\d+)\s*\])")


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
        help="a package variable (main.gMap, or gMap for package main), "
        "with .field, [index] and * dereference; or an address with --type",
    )


@command("print", "Print a Go value: a global, a local (-g ID), or memory as a type (--type).", _configure_print)
def _run_print(context: Context, args: argparse.Namespace, write: Write) -> None:
    program = context.program
    settings = _settings(args)
    expression = " ".join(args.expr).strip()
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
    """Evaluate a small Go expression: [*]name{.field|[index]}."""
    if not expression:
        raise UsageError("go print: nothing to print")
    stars = len(expression) - len(expression.lstrip("*"))
    body = expression.lstrip("*").strip()
    name_match = re.match(r"[A-Za-z_][A-Za-z0-9_./]*", body)
    if name_match is None:
        raise UsageError(f"cannot parse {expression!r}: expected a name")
    dotted = name_match.group(0)
    rest = body[name_match.end() :]
    # The longest dotted prefix that names a variable wins; the remainder are selectors.
    parts = dotted.split(".")
    start: Optional[tuple[GoType, Optional[int], Optional[Value]]] = None
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        start = _lookup(program, decoder, head, goroutine, frame)
        if start is not None:
            rest = "".join("." + p for p in parts[cut:]) + rest
            break
    if start is None:
        raise GoextError(
            f"no variable named {dotted!r}" + ("" if goroutine is not None else " (for locals give -g ID)")
        )
    go_type, address, value = start
    position = 0
    while position < len(rest.rstrip()):
        token = _TOKEN.match(rest, position)
        if token is None:
            raise UsageError(f"cannot parse {rest[position:]!r} in {expression!r}")
        position = token.end()
        if address is None:
            raise GoextError("cannot select into a value that lives in registers")
        if token.group(1):
            go_type, address = _select_field(decoder, go_type, address, token.group(2))
        else:
            go_type, address = _select_index(decoder, go_type, address, int(token.group(3)))
        value = None
    for _ in range(stars):
        if address is None:
            raise GoextError("cannot dereference a value that lives in registers")
        go_type, address = _deref(decoder, go_type, address)
        value = None
    if value is not None:
        return value
    assert address is not None
    return decoder.decode(go_type, address)


def _lookup(
    program, decoder: Decoder, name: str, goroutine: Optional[int], frame: Optional[int]
) -> Optional[tuple[GoType, Optional[int], Optional[Value]]]:
    if goroutine is not None and "." not in name:
        record = program.goroutine(goroutine)
        index = frame if frame is not None else default_frame(program, record)
        for variable_name, value, _ in frame_variables(program, record, index, decoder.settings):
            if variable_name == name and value.go_type is not None:
                return value.go_type, value.address, value
    types = type_system(program)
    for candidate in (f"main.{name}",) if "." not in name else (name,):
        found = types.global_variable(candidate)
        if found is not None:
            address, go_type = found
            return go_type, address, None
    return None


def _select_field(decoder: Decoder, go_type: GoType, address: int, name: str) -> tuple[GoType, int]:
    for _ in range(4):
        if go_type.kind == Kind.POINTER and go_type.elem is not None:
            go_type, address = _deref(decoder, go_type, address)
            continue
        break
    if go_type.kind != Kind.STRUCT:
        raise GoextError(f"{go_type.name} has no field {name} (it is not a struct)")
    member = go_type.field(name)
    if member is not None:
        return member.type, address + member.offset
    for embedded in go_type.fields:  # promoted fields of embedded structs
        if embedded.embedded:
            inner_type, inner_address = embedded.type, address + embedded.offset
            try:
                return _select_field(decoder, inner_type, inner_address, name)
            except GoextError:
                continue
    raise GoextError(f"{go_type.name} has no field {name}")


def _select_index(decoder: Decoder, go_type: GoType, address: int, index: int) -> tuple[GoType, int]:
    elem = go_type.elem
    if elem is None:
        raise GoextError(f"cannot index {go_type.name}")
    if go_type.kind == Kind.ARRAY:
        if not 0 <= index < go_type.length:
            raise GoextError(f"index {index} out of range for {go_type.name}")
        return elem, address + index * elem.size
    if go_type.kind == Kind.SLICE:
        header = decoder.memory.read(address, 3 * decoder.ptr_size)
        pointer, length = decoder.word(header, 0), decoder.word(header, decoder.ptr_size)
        if not 0 <= index < length:
            raise GoextError(f"index {index} out of range for a slice of length {length}")
        return elem, pointer + index * elem.size
    raise GoextError(f"cannot index {go_type.name} (only arrays and slices)")


def _deref(decoder: Decoder, go_type: GoType, address: int) -> tuple[GoType, int]:
    if go_type.kind != Kind.POINTER or go_type.elem is None:
        raise GoextError(f"cannot dereference {go_type.name}")
    try:
        pointer = decoder.memory.ptr(address)
    except MemoryReadError as exc:
        raise GoextError(str(exc)) from None
    if pointer == 0:
        raise GoextError(f"nil pointer dereference ({go_type.name})")
    return go_type.elem, pointer


# -- go locals / go args ---------------------------------------------------------------------
def default_frame(program, record) -> int:
    """The innermost frame of the program's own code, as `go goroutines` shows
    it (not runtime.gopark, internal/poll.runtime_pollWait or sync.(*Mutex).Lock):
    what a user means by "where it is"."""
    stack = program.stack(record)
    wanted = user_frame(stack, program.goroot_src)
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
