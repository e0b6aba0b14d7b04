"""package_of: the Go package of a heap row, from its type label alone."""

from __future__ import annotations

import pytest

from goext_core.values.typepackage import (
    ANONYMOUS_INTERFACE,
    ANONYMOUS_STRUCT,
    BUILTIN,
    FUNC,
    RUNTIME_INTERNAL,
    UNKNOWN,
    package_of,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("label", "package"),
    [
        # named types, by package name (runtime type descriptors) or import path (DWARF)
        ("main.Item", "main"),
        ("runtime.p", "runtime"),
        ("cpu.option", "cpu"),
        ("internal/cpu.option", "internal/cpu"),
        ("github.com/x/y.T", "github.com/x/y"),
        ("gopkg.in/yaml.v3.Node", "gopkg.in/yaml.v3"),
        ("gopkg.in/yaml%2ev3.Node", "gopkg.in/yaml.v3"),  # the linker's escaped spelling
        ("vendor/golang.org/x/net/http2/hpack.Decoder", "vendor/golang.org/x/net/http2/hpack"),
        ("example.com/app/vendor/github.com/x/y.T", "example.com/app/vendor/github.com/x/y"),
        # generics: the generic type's package, whatever the type arguments are
        ("main.Box[github.com/x/y.T]", "main"),
        ("github.com/x/y.Pair[main.A,map[string]*main.B]", "github.com/x/y"),
        ("main.Box[go.shape.int]", "main"),
        ("[]main.Box[github.com/x/y.T]", "main"),
        ("*github.com/x/y.List[[]main.T]", "github.com/x/y"),
        # composites: the element's package
        ("[]main.T", "main"),
        ("*main.T", "main"),
        ("[]*main.T", "main"),
        ("[][]*[4]main.T", "main"),
        ("[16]int64", BUILTIN),
        ("[]*[]github.com/x/y.T", "github.com/x/y"),
        ("chan main.T", "main"),
        ("<-chan *main.T", "main"),
        ("chan<- []main.T", "main"),
        ("chan (<-chan main.T)", "main"),
        # maps and their runtime storage: the value's package, else the key's
        ("map[string]*main.Item", "main"),
        ("map[main.K]int", "main"),
        ("map[main.K]github.com/x/y.V", "github.com/x/y"),
        ("map[string]map[int][]main.T", "main"),
        ("map[[2]main.K][]uint8", "main"),
        ("[]map.group[string]*main.Item", "main"),
        ("map.bucket[main.K]int", "main"),
        ("noalg.map.group[string]*main.Item", "main"),
        ("map.group[string]int", RUNTIME_INTERNAL),
        ("map[string]int", BUILTIN),
        ("map[string]struct {}", BUILTIN),
        # predeclared types and literals of them
        ("string", BUILTIN),
        ("[]uint8", BUILTIN),
        ("[]*int", BUILTIN),
        ("unsafe.Pointer", BUILTIN),
        ("[]unsafe.Pointer", BUILTIN),
        ("error", BUILTIN),
        ("[]interface {}", BUILTIN),
        ("go.shape.int", BUILTIN),
        # no package of their own
        ("func(int) string", FUNC),
        ("[]func(*main.T) error", FUNC),
        ("struct { F uintptr; X0 *main.T }", ANONYMOUS_STRUCT),
        ("[]struct {}", BUILTIN),
        ("map[string]struct { a int }", ANONYMOUS_STRUCT),
        ("map[string]func()", FUNC),
        ("noalg.struct { F uintptr; R *main.T }", ANONYMOUS_STRUCT),
        ("interface { M() }", ANONYMOUS_INTERFACE),
        ("Item", UNKNOWN),
        ("main.", UNKNOWN),
        ("", UNKNOWN),
        ("map[string", UNKNOWN),
        ("]]][[[", UNKNOWN),
    ],
)
def test_package_of_type_labels(label: str, package: str) -> None:
    assert package_of(label) == package


@pytest.mark.parametrize(
    ("label", "package"),
    [
        ("untyped, size class 6 (64 B), with pointers", "(untyped, size class 6 (64 B), with pointers)"),
        ("untyped, large objects, noscan", "(untyped, large objects, noscan)"),
        (
            "untyped: a type built at run time, by reflect or the runtime (at 0xc000123400)",
            "(untyped: a type built at run time, by reflect or the runtime)",
        ),
        ("untyped: unreadable type descriptor at 0x4a0b00", "(untyped: unreadable type descriptor)"),
        (
            "untyped: type descriptor at 0x4a0b00 does not fit the object",
            "(untyped: type descriptor does not fit the object)",
        ),
        (
            "untyped: allocation in progress (type not yet recorded)",
            "(untyped: allocation in progress (type not yet recorded))",
        ),
    ],
)
def test_untyped_rows_keep_what_they_are_without_addresses(label: str, package: str) -> None:
    assert package_of(label) == package


def test_hostile_labels_are_bounded() -> None:
    assert package_of("map[" * 2000 + "int]" * 2000) == UNKNOWN  # nesting bound, no RecursionError
    assert package_of("[]" * 2000 + "main.T") == "main"
    assert package_of("x" * 10_000 + ".T") == UNKNOWN  # too long to be a type name
    assert package_of("*" * 4000) == UNKNOWN
