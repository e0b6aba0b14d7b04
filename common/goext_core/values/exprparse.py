"""The Go expression language of ``go print`` (and of gdb's ``print`` fallback):
a lexer and a recursive-descent parser into a small syntax tree.

The grammar is the part of Go's expression grammar (the Go spec, "Expressions")
a debugger needs: operands (identifiers, qualified identifiers, basic literals,
composite literals, parenthesised expressions, type literals), selectors,
index and slice expressions, type assertions, calls (conversions and the
builtins), unary and binary operators with Go's precedence.  Types are kept as
their Go spelling (:class:`TypeName`); the evaluator
(:mod:`goext_core.values.expr`) resolves them.  Parsing never touches the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union

from goext_core.errors import GoextError

MAX_EXPRESSION = 4096  # characters
MAX_NESTING = 64  # parentheses, brackets, braces and operators nested in one expression


class ExpressionError(GoextError):
    """A user-facing error in an expression: one line, no traceback."""


# -- syntax tree -------------------------------------------------------------------------
@dataclass(frozen=True)
class Name:
    ident: str


@dataclass(frozen=True)
class Literal:
    """A basic literal: kind is "int", "float", "imag", "string", "char"."""

    kind: str
    value: Union[int, float, complex, bytes]
    text: str


@dataclass(frozen=True)
class PackagePath:
    """A quoted import path in a qualified name, as delve accepts: "net/http".DefaultClient."""

    path: str


@dataclass(frozen=True)
class TypeName:
    """A type literal spelled as Go spells it ("[]int", "map[string]main.Point")."""

    text: str


@dataclass(frozen=True)
class Selector:
    base: "Node"
    name: str


@dataclass(frozen=True)
class Index:
    base: "Node"
    index: "Node"


@dataclass(frozen=True)
class SliceExpr:
    base: "Node"
    low: Optional["Node"]
    high: Optional["Node"]
    max: Optional["Node"]


@dataclass(frozen=True)
class TypeAssert:
    base: "Node"
    type: Optional[TypeName]  # None: x.(type)


@dataclass(frozen=True)
class Call:
    func: "Node"
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Paren:
    inner: "Node"


@dataclass(frozen=True)
class Composite:
    """T{...}; ``type`` is None for an element whose type is elided ({1, 2} inside [][2]int{...})."""

    type: Optional["Node"]
    elements: tuple[tuple[Optional["Node"], "Node"], ...] = field(default=())


Node = Union[
    Name, Literal, PackagePath, TypeName, Selector, Index, SliceExpr, TypeAssert, Call, Unary, Binary, Paren, Composite
]


# -- lexer -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "int", "float", "imag", "string", "char", "op", "eof"
    text: str
    position: int


_OPERATORS = (
    "&^",
    "<<",
    ">>",
    "&&",
    "||",
    "==",
    "!=",
    "<=",
    ">=",
    "<-",
    "...",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<",
    ">",
    "!",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
)
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?i?"
    r"|0[bB][01_]+i?|0[oO][0-7_]+i?"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?i?"
)
_IDENT = re.compile(r"[^\W\d]\w*", re.UNICODE)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_RAW_STRING = re.compile(r"`[^`]*`")
_CHAR = re.compile(r"'(?:[^'\\\n]|\\.[^']*)'")
KEYWORDS = frozenset({"map", "chan", "func", "interface", "struct"})


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression too long ({len(text)} characters, at most {MAX_EXPRESSION})")
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        match = _NUMBER.match(text, position)
        if match and (char.isdigit() or (char == "." and match.end() > position + 1)):
            spelled = match.group(0)
            kind = "imag" if spelled.endswith("i") else "float" if _is_float(spelled) else "int"
            tokens.append(Token(kind, spelled, position))
            position = match.end()
            continue
        match = _IDENT.match(text, position)
        if match:
            tokens.append(Token("ident", match.group(0), position))
            position = match.end()
            continue
        for pattern, kind in ((_STRING, "string"), (_RAW_STRING, "string"), (_CHAR, "char")):
            match = pattern.match(text, position)
            if match:
                tokens.append(Token(kind, match.group(0), position))
                position = match.end()
                break
        else:
            for operator in _OPERATORS:
                if text.startswith(operator, position):
                    tokens.append(Token("op", operator, position))
                    position += len(operator)
                    break
            else:
                if char in "\"'`":
                    raise ExpressionError(f"unterminated literal at column {position + 1}")
                raise ExpressionError(f"unexpected character {char!r} at column {position + 1}")
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _is_float(spelled: str) -> bool:
    lowered = spelled.lower()
    if lowered.startswith("0x"):
        return "." in lowered or "p" in lowered
    if lowered.startswith(("0b", "0o")):
        return False
    return "." in lowered or "e" in lowered


def literal_value(token: Token) -> Union[int, float, complex, bytes]:
    """The value of a basic literal token, as Go reads it (strconv rules)."""
    spelled = token.text.replace("_", "") if token.kind in ("int", "float", "imag") else token.text
    try:
        if token.kind == "int":
            if len(spelled) > 1 and spelled[0] == "0" and spelled[1].isdigit():
                return int(spelled, 8)  # legacy octal 0755
            return int(spelled, 0)
        if token.kind == "float":
            return float.fromhex(spelled) if spelled.lower().startswith("0x") else float(spelled)
        if token.kind == "imag":
            body = spelled[:-1]
            magnitude = float(int(body, 0)) if body.lower().startswith(("0x", "0b", "0o")) else float(body)
            return complex(0, magnitude)
        if token.kind == "string":
            if spelled.startswith("`"):
                return spelled[1:-1].replace("\r", "").encode("utf-8")
            return _unquote(spelled[1:-1])
        if token.kind == "char":
            decoded = _unquote(spelled[1:-1]).decode("utf-8", "surrogateescape")
            if len(decoded) != 1:
                raise ValueError("more than one character")
            return ord(decoded)
    except (ValueError, SyntaxError, UnicodeError) as exc:
        raise ExpressionError(f"bad literal {token.text}: {exc}") from None
    raise ExpressionError(f"bad literal {token.text}")


def _unquote(body: str) -> bytes:
    """The bytes of an interpreted Go string body (\\xNN are bytes, \\u runes are UTF-8)."""
    out = bytearray()
    position = 0
    while position < len(body):
        char = body[position]
        if char != "\\":
            out += char.encode("utf-8")
            position += 1
            continue
        escape = body[position + 1 : position + 2]
        simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34}
        if escape in simple:
            out.append(simple[escape])
            position += 2
        elif escape == "x":
            out.append(int(_digits(body, position + 2, 2, "0123456789abcdefABCDEF"), 16))
            position += 4
        elif escape in ("u", "U"):
            width = 4 if escape == "u" else 8
            out += chr(int(_digits(body, position + 2, width, "0123456789abcdefABCDEF"), 16)).encode("utf-8")
            position += 2 + width
        elif escape and escape in "01234567":
            number = int(_digits(body, position + 1, 3, "01234567"), 8)
            if number > 0xFF:
                raise ValueError(f"octal escape value {number} > 255")
            out.append(number)
            position += 4
        else:
            raise ValueError(f"unknown escape \\{escape}")
    return bytes(out)


def _digits(body: str, start: int, count: int, allowed: str) -> str:
    """Exactly ``count`` digits of an escape (Go requires all of them)."""
    digits = body[start : start + count]
    if len(digits) != count or any(char not in allowed for char in digits):
        raise ValueError(f"escape needs {count} digits")
    return digits


# -- parser ------------------------------------------------------------------------------
_BINARY_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "|": 4,
    "^": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "<<": 5,
    ">>": 5,
    "&": 5,
    "&^": 5,
}
_UNARY = frozenset({"+", "-", "!", "^", "*", "&", "<-"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0
        self.nesting = 0

    # -- token helpers ---------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.position]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind != "eof":
            self.position += 1
        return token

    def at(self, text: str) -> bool:
        return self.token.kind == "op" and self.token.text == text

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected {text!r}")
        return self.advance()

    def error(self, message: str) -> ExpressionError:
        token = self.token
        found = "end of expression" if token.kind == "eof" else repr(token.text)
        return ExpressionError(f"cannot parse {self.text!r}: {message}, found {found} at column {token.position + 1}")

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(f"expression nested too deeply (at most {MAX_NESTING} levels)")

    # -- expressions -------------------------------------------------------------------
    def parse(self) -> Node:
        if self.token.kind == "eof":
            raise ExpressionError("nothing to evaluate")
        node = self.expression()
        if self.token.kind != "eof":
            raise self.error("unexpected text after the expression")
        return node

    def expression(self, min_precedence: int = 1) -> Node:
        self.enter()
        try:
            left = self.unary()
            while self.token.kind == "op" and _BINARY_PRECEDENCE.get(self.token.text, 0) >= min_precedence:
                operator = self.advance().text
                right = self.expression(_BINARY_PRECEDENCE[operator] + 1)
                left = Binary(operator, left, right)
            return left
        finally:
            self.nesting -= 1

    def unary(self) -> Node:
        if self.token.kind == "op" and self.token.text in _UNARY:
            operator = self.advance().text
            self.enter()
            try:
                return Unary(operator, self.unary())
            finally:
                self.nesting -= 1
        return self.primary()

    def primary(self) -> Node:
        node = self.operand()
        for _ in range(MAX_EXPRESSION):
            if self.at("."):
                self.advance()
                if self.at("("):
                    node = self.type_assertion(node)
                elif self.token.kind == "ident":
                    node = Selector(node, self.advance().text)
                else:
                    raise self.error("expected a field name or '(' after '.'")
            elif self.at("["):
                node = self.index_or_slice(node)
            elif self.at("("):
                node = Call(node, self.call_arguments())
            elif self.at("{") and _is_type_like(node):
                node = Composite(node, self.composite_elements())
            else:
                return node
        raise self.error("expression too long")

    def operand(self) -> Node:
        token = self.token
        if token.kind in ("int", "float", "imag", "char"):
            self.advance()
            return Literal(token.kind, literal_value(token), token.text)
        if token.kind == "string":
            self.advance()
            if self.at(".") and self.peek().kind == "ident":
                path = literal_value(token)
                assert isinstance(path, bytes)
                return PackagePath(path.decode("utf-8", "replace"))
            return Literal("string", literal_value(token), token.text)
        if token.kind == "ident":
            if token.text in KEYWORDS:
                return TypeName(self.type_text())
            self.advance()
            return Name(token.text)
        if self.at("("):
            self.advance()
            self.enter()
            try:
                inner = self.expression()
            finally:
                self.nesting -= 1
            self.expect(")")
            return Paren(inner)
        if self.at("["):
            return TypeName(self.type_text())
        if self.at("{"):
            return Composite(None, self.composite_elements())
        raise self.error("expected an operand")

    def index_or_slice(self, base: Node) -> Node:
        self.expect("[")
        self.enter()
        try:
            parts: list[Optional[Node]] = []
            colons = 0
            current: Optional[Node] = None
            while True:
                if self.at("]"):
                    break
                if self.at(":"):
                    self.advance()
                    parts.append(current)
                    current = None
                    colons += 1
                    if colons > 2:
                        raise self.error("too many ':' in a slice expression")
                    continue
                if current is not None:
                    raise self.error("expected ':' or ']'")
                current = self.expression()
            self.expect("]")
        finally:
            self.nesting -= 1
        parts.append(current)
        if colons == 0:
            if current is None:
                raise self.error("expected an index")
            return Index(base, current)
        low, high = parts[0], parts[1]
        maximum = parts[2] if colons == 2 else None
        if colons == 2 and (high is None or maximum is None):
            raise ExpressionError("middle and final index required in a 3-index slice")
        return SliceExpr(base, low, high, maximum)

    def call_arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        self.enter()
        try:
            args: list[Node] = []
            while not self.at(")"):
                args.append(self.expression())
                if self.at("..."):
                    raise ExpressionError("calling functions is not supported")
                if not self.at(")"):
                    self.expect(",")
            self.expect(")")
            return tuple(args)
        finally:
            self.nesting -= 1

    def type_assertion(self, base: Node) -> Node:
        self.expect("(")
        if self.token.kind == "ident" and self.token.text == "type":
            self.advance()
            self.expect(")")
            return TypeAssert(base, None)
        spelled = self.type_text()
        self.expect(")")
        return TypeAssert(base, TypeName(spelled))

    def composite_elements(self) -> tuple[tuple[Optional[Node], Node], ...]:
        self.expect("{")
        self.enter()
        try:
            elements: list[tuple[Optional[Node], Node]] = []
            while not self.at("}"):
                first = self.element()
                if self.at(":"):
                    self.advance()
                    elements.append((first, self.element()))
                else:
                    elements.append((None, first))
                if not self.at("}"):
                    self.expect(",")
                if len(elements) > 4096:
                    raise ExpressionError("composite literal too long")
            self.expect("}")
            return tuple(elements)
        finally:
            self.nesting -= 1

    def element(self) -> Node:
        if self.at("{"):
            return Composite(None, self.composite_elements())
        return self.expression()

    # -- types -------------------------------------------------------------------------
    def type_text(self) -> str:
        """One type, as its canonical Go spelling."""
        self.enter()
        try:
            return self._type_text()
        finally:
            self.nesting -= 1

    def _type_text(self) -> str:
        token = self.token
        if self.at("*"):
            self.advance()
            return "*" + self.type_text()
        if self.at("("):
            self.advance()
            inner = self.type_text()
            self.expect(")")
            return inner
        if self.at("["):
            self.advance()
            if self.at("]"):
                self.advance()
                return "[]" + self.type_text()
            if self.token.kind != "int":
                raise self.error("expected an array length")
            length = literal_value(self.advance())
            if not isinstance(length, int):
                raise self.error("expected an integer array length")
            self.expect("]")
            return f"[{length}]" + self.type_text()
        if self.at("<-"):
            self.advance()
            if not (self.token.kind == "ident" and self.token.text == "chan"):
                raise self.error("expected 'chan'")
            self.advance()
            return "<-chan " + self.type_text()
        if token.kind == "string" and self.peek().text == ".":
            path = literal_value(self.advance())
            assert isinstance(path, bytes)
            self.expect(".")
            return path.decode("utf-8", "replace") + "." + self.advance().text
        if token.kind != "ident":
            raise self.error("expected a type")
        self.advance()
        if token.text == "map":
            self.expect("[")
            key = self.type_text()
            self.expect("]")
            return f"map[{key}]" + self.type_text()
        if token.text == "chan":
            if self.at("<-"):
                self.advance()
                return "chan<- " + self.type_text()
            return "chan " + self.type_text()
        if token.text in ("interface", "struct", "func"):
            return token.text + self.balanced_text()
        spelled = token.text
        if self.at(".") and self.peek().kind == "ident":
            self.advance()
            spelled += "." + self.advance().text
        if self.at("[") and not self.peek().text == "]":
            spelled += "[" + self.type_text()  # generic instantiation: T[A, B]
            while self.at(","):
                self.advance()
                spelled += "," + self.type_text()
            self.expect("]")
            spelled += "]"
        return spelled

    def balanced_text(self) -> str:
        """The source text of a (...) or {...} group (func and struct type literals), spaced as Go prints it."""
        if not (self.at("{") or self.at("(")):
            return ""
        start = self.token.position
        depth = 0
        while self.token.kind != "eof":
            token = self.advance()
            if token.text in ("{", "("):
                depth += 1
            elif token.text in ("}", ")"):
                depth -= 1
                if depth == 0:
                    body = self.text[start : token.position + 1]
                    if body.startswith("{") and body[1:-1].strip() == "":
                        return " {}"
                    return " " + body if body.startswith("{") else body
        raise self.error("unbalanced brackets in a type")


def _is_type_like(node: Node) -> bool:
    """Whether ``node`` can be the type of a composite literal (T{...})."""
    if isinstance(node, (Name, TypeName)):
        return True
    if isinstance(node, Selector):
        return isinstance(node.base, (Name, PackagePath))
    if isinstance(node, Index):  # a generic type: main.Pair[int]{...}
        return _is_type_like(node.base)
    return False


MAX_TREE_DEPTH = 96  # chained selectors and operators (a.b.c..., 1+1+1...) nest without parentheses


def parse(text: str) -> Node:
    """The syntax tree of one Go expression; ExpressionError when it is not one."""
    tree = _Parser(text).parse()
    if tree_depth(tree) > MAX_TREE_DEPTH:
        raise ExpressionError(f"expression nested too deeply (at most {MAX_TREE_DEPTH} levels)")
    return tree


def tree_depth(tree: Node) -> int:
    """Depth of a syntax tree, measured without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_TREE_DEPTH:
            break
        for value in vars(node).values() if hasattr(node, "__dataclass_fields__") else ():
            children = value if isinstance(value, tuple) else (value,)
            for child in children:
                if isinstance(child, tuple):
                    pending.extend((item, depth + 1) for item in child if item is not None)
                elif hasattr(child, "__dataclass_fields__"):
                    pending.append((child, depth + 1))
    return deepest


def type_spelling(node: Node) -> Optional[str]:
    """The Go spelling of ``node`` read as a type (Name, pkg.Name, *T, (T), []T...), or None."""
    if isinstance(node, Name):
        return node.ident
    if isinstance(node, TypeName):
        return node.text
    if isinstance(node, Paren):
        return type_spelling(node.inner)
    if isinstance(node, Unary) and node.op == "*":
        inner = type_spelling(node.operand)
        return None if inner is None else "*" + inner
    if isinstance(node, Selector):
        if isinstance(node.base, PackagePath):
            return f"{node.base.path}.{node.name}"
        if isinstance(node.base, Name):
            return f"{node.base.ident}.{node.name}"
        return None
    if isinstance(node, Index):
        base, argument = type_spelling(node.base), type_spelling(node.index)
        return None if base is None or argument is None else f"{base}[{argument}]"
    return None


def describe(node: Node) -> str:
    """Go-like source text of a node, for messages."""
    if isinstance(node, Name):
        return node.ident
    if isinstance(node, Literal):
        return node.text
    if isinstance(node, PackagePath):
        return f'"{node.path}"'
    if isinstance(node, TypeName):
        return node.text
    if isinstance(node, Selector):
        return f"{describe(node.base)}.{node.name}"
    if isinstance(node, Index):
        return f"{describe(node.base)}[{describe(node.index)}]"
    if isinstance(node, SliceExpr):
        parts = [describe(part) if part is not None else "" for part in (node.low, node.high)]
        if node.max is not None:
            parts.append(describe(node.max))
        return f"{describe(node.base)}[{':'.join(parts)}]"
    if isinstance(node, TypeAssert):
        return f"{describe(node.base)}.({node.type.text if node.type else 'type'})"
    if isinstance(node, Call):
        return f"{describe(node.func)}({', '.join(describe(arg) for arg in node.args)})"
    if isinstance(node, Unary):
        return f"{node.op}{describe(node.operand)}"
    if isinstance(node, Binary):
        return f"{describe(node.left)} {node.op} {describe(node.right)}"
    if isinstance(node, Paren):
        return f"({describe(node.inner)})"
    if isinstance(node, Composite):
        items = ", ".join(
            (f"{describe(key)}: " if key is not None else "") + describe(value) for key, value in node.elements
        )
        return f"{describe(node.type) if node.type is not None else ''}{{{items}}}"
    return "?"


__all__ = ["ExpressionError", "Node", "describe", "parse", "tokenize", "type_spelling"]
