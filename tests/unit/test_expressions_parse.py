"""The Go expression language without a target: the parser, Go's selector rule on
synthesized types, and constant arithmetic as Go computes it."""

from __future__ import annotations

import struct
from typing import Any, Optional

import pytest

from goext_core.values.decode import format_float
from goext_core.values.expr import AmbiguousSelector, Evaluator, Scope, evaluate, find_field
from goext_core.values.exprparse import (
    Binary,
    Call,
    Composite,
    ExpressionError,
    Index,
    Literal,
    Name,
    PackagePath,
    Paren,
    Selector,
    SliceExpr,
    TypeAssert,
    TypeName,
    Unary,
    describe,
    parse,
    type_spelling,
)
from goext_core.values.model import Value
from goext_core.values.types import Field, GoType, Kind

pytestmark = pytest.mark.unit


# -- parser ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "gInts[42]",
        'cfg.Limits["rps"]',
        "m[main.Point{X: 1, Y: 2}]",
        "m[[2]int{1, 2}]",
        "s[1:3]",
        "s[:3]",
        "s[1:]",
        "s[1:2:3]",
        "*p",
        "&x",
        "**pp",
        "x.(*main.Rect).W",
        "x.(type)",
        "len(s) - 1",
        "(*main.T)(unsafe.Pointer(0xc000010000))",
        '"net/http".DefaultClient',
        "[]byte(s)",
        "a.b.c[i + 1]",
        "x == -1 && !y",
        "main.Box[int]{V: 1}",
        "map[string]int(m)",
    ],
)
def test_describe_spells_what_was_parsed(text: str) -> None:
    assert describe(parse(text)) == text


def test_trees() -> None:
    assert parse("a.b[1]") == Index(Selector(Name("a"), "b"), Literal("int", 1, "1"))
    assert parse("s[1:2:3]") == SliceExpr(
        Name("s"), Literal("int", 1, "1"), Literal("int", 2, "2"), Literal("int", 3, "3")
    )
    assert parse("s[:]") == SliceExpr(Name("s"), None, None, None)
    assert parse("x.(type)") == TypeAssert(Name("x"), None)
    assert parse("x.([]map[string]*main.T)") == TypeAssert(Name("x"), TypeName("[]map[string]*main.T"))
    assert parse("*p.f") == Unary("*", Selector(Name("p"), "f"))
    assert parse('"a/b".V') == Selector(PackagePath("a/b"), "V")
    assert parse("T{1, 2}") == Composite(Name("T"), ((None, Literal("int", 1, "1")), (None, Literal("int", 2, "2"))))
    call = parse("(*T)(p)")
    assert isinstance(call, Call) and call.func == Paren(Unary("*", Name("T")))
    assert type_spelling(call.func) == "*T"


def test_precedence_is_go_s() -> None:
    tree = parse("a || b && c == d + e * f")
    assert isinstance(tree, Binary) and tree.op == "||"
    right = tree.right
    assert isinstance(right, Binary) and right.op == "&&"
    assert describe(parse("1 + 2 * 3 << 1")) == "1 + 2 * 3 << 1"
    multiplied = parse("1 + 2 * 3 << 1")
    assert isinstance(multiplied, Binary) and multiplied.op == "+"


@pytest.mark.parametrize(
    "token, value",
    [
        ("42", 42),
        ("0x2a", 42),
        ("0b101010", 42),
        ("0o52", 42),
        ("052", 42),
        ("1_000", 1000),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2i", 2j),
        ("'a'", 97),
        ("'é'", 233),
        ("'\\n'", 10),
        ('"a\\x41\\u00e9"', "aAé".encode()),
        ("`raw\\n`", b"raw\\n"),
    ],
)
def test_literals(token: str, value: Any) -> None:
    tree = parse(token)
    assert isinstance(tree, Literal) and tree.value == value


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "nothing to evaluate"),
        ("x +", "expected an operand"),
        ("m[", "expected an operand"),
        ("a b", "unexpected text after the expression"),
        ("s[1:2:]", "middle and final index required"),
        ("s[::3]", "middle and final index required"),
        ('"unterminated', "unterminated literal"),
        ("x @ y", "unexpected character '@'"),
        ("'\\x4'", "bad literal"),
        ('"\\u12"', "bad literal"),
        ('"\\400"', "bad literal"),
        ("f(xs...)", "calling functions is not supported"),
        ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
        ("x" * 5000, "expression too long"),
        ("x" + ".a" * 300, "nested too deeply"),
        ("1" + " + 1" * 300, "nested too deeply"),
        ("s" + "[0]" * 300, "nested too deeply"),
    ],
)
def test_parse_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


# -- Go's selector rule ----------------------------------------------------------------
def _int() -> GoType:
    return GoType("int", Kind.INT, 8)


def _struct(name: str, fields: list[Field]) -> GoType:
    made = GoType(name, Kind.STRUCT, 64)
    made.set_fields(fields)
    return made


def _pointer(elem: GoType) -> GoType:
    made = GoType("*" + elem.name, Kind.POINTER, 8)
    made.set_elem(elem)
    return made


def test_the_shallowest_field_wins() -> None:
    inner = _struct("main.Inner", [Field("Name", 0, _int()), Field("Deep", 8, _int())])
    middle = _struct("main.Middle", [Field("Inner", 0, inner, True), Field("Name", 16, _int())])
    outer = _struct("main.Outer", [Field("Middle", 0, _pointer(middle), True), Field("Top", 8, _int())])
    path = find_field(outer, "Name")
    assert path is not None and [f.name for f in path] == ["Middle", "Name"]  # depth 1 beats Inner.Name (2)
    deep = find_field(outer, "Deep")
    assert deep is not None and [f.name for f in deep] == ["Middle", "Inner", "Deep"]  # through *Middle
    assert find_field(outer, "Nope") is None


def test_two_fields_at_one_depth_are_ambiguous_and_both_are_named() -> None:
    left = _struct("main.Left", [Field("Dup", 0, _int())])
    right = _struct("main.Right", [Field("Dup", 0, _int())])
    outer = _struct("main.Outer", [Field("Left", 0, left, True), Field("Right", 8, right, True)])
    with pytest.raises(AmbiguousSelector) as caught:
        find_field(outer, "Dup", "x.Dup")
    assert "x.Dup" in str(caught.value) and "Outer.Left.Dup" in str(caught.value)
    assert "Outer.Right.Dup" in str(caught.value)


def test_one_type_reached_twice_at_one_depth_is_ambiguous() -> None:
    shared = _struct("main.D", [Field("X", 0, _int())])
    left = _struct("main.B", [Field("D", 0, shared, True)])
    right = _struct("main.C", [Field("D", 0, shared, True)])
    top = _struct("main.A", [Field("B", 0, left, True), Field("C", 8, right, True), Field("Y", 16, _int())])
    with pytest.raises(AmbiguousSelector):
        find_field(top, "X")
    only = find_field(top, "Y")
    assert only is not None and [f.name for f in only] == ["Y"]


def test_self_embedding_ends() -> None:
    self_type = GoType("main.Self", Kind.STRUCT, 16)
    self_type.set_fields([Field("Self", 0, _pointer(self_type), True), Field("Val", 8, _int())])
    assert find_field(self_type, "Missing") is None
    found = find_field(self_type, "Val")
    assert found is not None and [f.name for f in found] == ["Val"]
    # Mutually embedding types end too.
    a, b = GoType("main.A", Kind.STRUCT, 8), GoType("main.B", Kind.STRUCT, 8)
    a.set_fields([Field("B", 0, _pointer(b), True)])
    b.set_fields([Field("A", 0, _pointer(a), True), Field("OnlyB", 8, _int())])
    assert find_field(a, "Missing") is None
    only_b = find_field(a, "OnlyB")
    assert only_b is not None and [f.name for f in only_b] == ["B", "OnlyB"]


# -- constants, without a target -----------------------------------------------------------
class _NoTypes:
    dwarf = None

    def global_variable(self, name: str) -> Optional[tuple[int, GoType]]:
        return None

    def by_name(self, name: str) -> Optional[GoType]:
        return None


class _NoMemoryDecoder:
    ptr_size = 8
    types = _NoTypes()

    def decode_bytes(self, go_type: GoType, data: bytes, address: Optional[int], depth: int = 0) -> Value:
        if go_type.kind in (Kind.FLOAT32, Kind.FLOAT64):
            number = struct.unpack("<f" if go_type.size == 4 else "<d", data)[0]
            return Value(go_type.name, go_type.name, text=format_float(number, go_type.size == 4))
        signed = go_type.kind in (Kind.INT, Kind.INT8, Kind.INT16, Kind.INT32, Kind.INT64)
        return Value(go_type.name, go_type.name, text=str(int.from_bytes(data, "little", signed=signed)))


def _evaluate(text: str) -> str:
    program: Any = object()
    evaluator = Evaluator(program, _NoMemoryDecoder(), Scope(program))  # type: ignore[arg-type]
    value = evaluator.to_value(evaluator.operand(parse(text)))
    return value.text or ""


@pytest.mark.parametrize(
    "text, result",
    [
        ("1 + 2 * 3", "7"),
        ("-7 / 2", "-3"),  # Go truncates toward zero
        ("-7 % 2", "-1"),  # the remainder has the dividend's sign
        ("1 << 10", "1024"),
        ("0xff &^ 0x0f", "240"),
        ("7 / 2.0", "3.5"),
        ("1 < 2 && 2 <= 2", "true"),
        ('"ab" == "ab"', "true"),
        ('"ab" < "b"', "true"),
        ("!(1 == 1)", "false"),
        ("^0", "-1"),
        ('len("héllo")', "6"),
        ("real(2i)", "0"),
        ("imag(2i)", "2"),
        ("int8(-56)", "-56"),
        ("uint8(255) + 1", "0"),  # typed arithmetic wraps, as it does at run time
        ("float32(0.1)", "0.1"),
        ("nil == nil", "true"),
        ("string(233)", '"é"'),
    ],
)
def test_constant_expressions(text: str, result: str) -> None:
    assert _evaluate(text) == result


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1.5 % 2", "not integers"),
        ("1 << -1", "negative shift count"),
        ("true + 1", "not defined"),
        ('"a" < 1', "mismatched types"),
        ("f(1)", "calling functions is not supported"),
        ("append(x, 1)", "calling append is not supported"),
        ("nosuch", "no variable named 'nosuch'"),
        ("pkg.Name", "no variable named 'pkg'"),
        ("int(1.5)", "truncated"),
        ("int8(200)", "overflows"),
        ("len(1)", "for built-in len"),
        ("<-ch", "receiving from a channel is not supported"),
        ("main.Point{X: 1}", "no type named 'main.Point'"),
    ],
)
def test_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        _evaluate(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_evaluate_entry_point_parses_first() -> None:
    program: Any = object()
    with pytest.raises(ExpressionError, match="cannot parse"):
        evaluate(program, _NoMemoryDecoder(), "a +", Scope(program))  # type: ignore[arg-type]
