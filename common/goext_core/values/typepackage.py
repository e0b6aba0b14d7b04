"""The Go package a heap row's type belongs to, from the row's label alone.

``go heap --by package`` groups the rows of ``go heap --by type`` with
:func:`package_of`, so it works from whatever label a row has: a type name
from the runtime's type descriptors (qualified by package *name*:
``cpu.option`` is ``internal/cpu``'s), one from DWARF (qualified by import
path: ``gopkg.in/yaml.v3.Node``), or an ``untyped…`` row.

Composite types belong to their element's package: ``[]T``, ``*T``, ``[N]T``,
``chan T``, and a map (and the runtime's storage of one, ``map.group[K]V``,
``map.bucket[K]V``) to its value's package, else its key's.  An instantiated
generic type belongs to the package of its generic type
(``main.Box[github.com/x/y.T]`` is ``main``'s).  What has no package says so:
:data:`BUILTIN` for predeclared types and literals made only of them,
:data:`ANONYMOUS_STRUCT`, :data:`ANONYMOUS_INTERFACE`, :data:`FUNC`, and the
untyped rows keep their own label in parentheses.
"""

from __future__ import annotations

import re
from typing import Optional

BUILTIN = "(builtin)"
RUNTIME_INTERNAL = "(runtime)"
ANONYMOUS_STRUCT = "(anonymous struct)"
ANONYMOUS_INTERFACE = "(anonymous interface)"
FUNC = "(func)"
UNKNOWN = "(unknown package)"

MAX_LABEL = 4096  # longer labels are not parsed (a type name that long is garbage)
MAX_NESTING = 32  # maps within maps: deeper is garbage, and the recursion stays bounded

_PREDECLARED = frozenset(
    "bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string "
    "uint uint8 uint16 uint32 uint64 uintptr any comparable unsafe.Pointer".split()
)
# How the compiler names a map's internal storage types (src/cmd/compile/internal/reflectdata/map*.go):
# the bracket holds the key, what follows the value.
_MAP_STORAGE = ("map.group[", "map.bucket[", "map.hdr[", "map.iter[", "map.table[", "map[")
_COMPILER_PREFIXES = ("noalg.",)  # types the compiler makes without equality functions
_ARRAY_PREFIX = re.compile(r"\[[0-9]+\]")
_ESCAPE = re.compile(r"%([0-9a-fA-F]{2})")
_ADDRESS = re.compile(r"\s*\(?\bat 0x[0-9a-fA-F]+\)?")


def package_of(label: str) -> str:
    """The package path (or name) of the type a heap row is labelled with, or one of
    the parenthesised labels above when the type has none."""
    text = label.strip()
    if text.startswith("untyped"):
        return _untyped(text)
    if not text or len(text) > MAX_LABEL:
        return UNKNOWN
    return _package(text, 0)


def _untyped(text: str) -> str:
    """Untyped rows stay apart by what they are (size class, reason), without addresses."""
    return "(" + _ADDRESS.sub("", text) + ")"


def _package(text: str, depth: int) -> str:
    if depth > MAX_NESTING:
        return UNKNOWN
    # Each round removes at least one character, so the loop ends within len(text) rounds.
    for _ in range(len(text) + 1):
        text = text.strip()
        stripped = _strip_composite(text)
        if stripped is not None:
            text = stripped
            continue
        for prefix in _COMPILER_PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        else:
            return _map_or_named(text, depth)
    return UNKNOWN


def _strip_composite(text: str) -> Optional[str]:
    """``text`` without its outermost slice, pointer, array or channel constructor, or None."""
    for prefix in ("[]", "*", "<-chan ", "chan<- ", "chan "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    match = _ARRAY_PREFIX.match(text)
    if match:
        return text[match.end() :]
    if text.startswith("(") and text.endswith(")") and _closing(text, 0, "(", ")") == len(text) - 1:
        return text[1:-1]  # chan (<-chan int)
    return None


def _map_or_named(text: str, depth: int) -> str:
    for prefix in _MAP_STORAGE:
        if text.startswith(prefix):
            return _map(text, len(prefix) - 1, depth)
    if text.startswith("func(") or text == "func()":
        return FUNC
    if text.startswith(("struct {", "struct{")):
        return BUILTIN if text.replace(" ", "") == "struct{}" else ANONYMOUS_STRUCT
    if text.startswith(("interface {", "interface{")):
        return BUILTIN if text.replace(" ", "") == "interface{}" else ANONYMOUS_INTERFACE
    return _named(text)


def _map(text: str, open_at: int, depth: int) -> str:
    close_at = _closing(text, open_at, "[", "]")
    if close_at < 0:
        return UNKNOWN
    value = _package(text[close_at + 1 :], depth + 1)
    if not value.startswith("("):
        return value
    key = _package(text[open_at + 1 : close_at], depth + 1)
    if not key.startswith("("):
        return key
    if value == BUILTIN and key == BUILTIN:
        return BUILTIN if text.startswith("map[") else RUNTIME_INTERNAL
    return value if value != BUILTIN else key


def _named(text: str) -> str:
    if text in _PREDECLARED:
        return BUILTIN
    bracket = text.find("[")
    base = text[:bracket] if bracket > 0 else text  # type arguments are not the type's package
    slash = base.rfind("/")
    dot = base.rfind(".")
    if dot <= slash or dot == len(base) - 1:  # no package qualifier after the last path element
        return UNKNOWN
    if base.startswith("go.shape."):
        return BUILTIN  # a generic shape stands for predeclared or literal types
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), base[:dot])


def _closing(text: str, open_at: int, opening: str, closing: str) -> int:
    """Index of the bracket closing the one at ``open_at``, or -1."""
    depth = 0
    for index in range(open_at, len(text)):
        char = text[index]
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return index
    return -1


__all__ = [
    "ANONYMOUS_INTERFACE",
    "ANONYMOUS_STRUCT",
    "BUILTIN",
    "FUNC",
    "MAX_LABEL",
    "RUNTIME_INTERNAL",
    "UNKNOWN",
    "package_of",
]
