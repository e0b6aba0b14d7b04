#!/usr/bin/env python3
"""Check goext_core's module structure: import cycles, function-local imports
of goext's own modules, access to another module's private names, and imports
that go up the layers (see ARCHITECTURE.md).

    python3 tools/check_layers.py [--quiet] [--with-local]

--with-local also counts function-local imports as edges of the import graph
(the cycles that lazy imports hide).

Only module-level imports make the import graph; imports under
``if TYPE_CHECKING:`` are left out (they never run).  Exits 1 when anything is
found, so a test can run it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, Optional

PACKAGE = "goext_core"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / "common" / PACKAGE

# Lowest first: a module may import from its own layer or any layer below it.
# Modules directly in the package (errors, program, __main__) are placed here
# by name; subpackages by their first component.
LAYER_ORDER: dict[str, int] = {
    "errors": 0,
    "textsafe": 0,
    "progress": 0,
    "target": 1,
    "binary": 1,
    "runtime": 2,
    "values": 3,
    "program": 4,
    "output": 5,
    "commands": 6,
    "__main__": 7,
    "__init__": 0,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        yield module_name(path), path, ast.parse(path.read_text(), str(path))


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def resolve(importer: str, importer_is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``from X import ...`` names."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not importer_is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(importer: str, importer_is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The goext_core modules an import statement loads (``from pkg import mod``
    loads ``pkg.mod`` when that is a module)."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                found.append(alias.name)
    elif isinstance(node, ast.ImportFrom):
        target = resolve(importer, importer_is_package, node)
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
            found.extend(submodules or [target])
    return found


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def module_level_imports(tree: ast.Module) -> Iterator[ast.AST]:
    """Imports that run when the module is loaded: top level, and inside
    top-level if/try blocks other than ``if TYPE_CHECKING``."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not is_type_checking_block(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)


def function_local_imports(tree: ast.Module) -> list[ast.AST]:
    """Imports anywhere inside a function body (each once, also when functions nest)."""
    found: dict[int, ast.AST] = {}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found[id(node)] = node
    return sorted(found.values(), key=lambda node: node.lineno)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; components with more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                lowlink[node] = min(lowlink[node], lowlink[successor])
            elif successor in on_stack:
                lowlink[node] = min(lowlink[node], index[successor])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def names_defined(tree: ast.Module) -> set[str]:
    """Every name a module binds anywhere: functions, classes, attributes
    assigned on anything, parameters, imports."""
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.alias):
            defined.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    return defined


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_accesses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``obj._name`` where the module does not itself define ``_name`` (so it
    belongs to another module), and ``from mod import _name``.  Reading or
    assigning an attribute another module's class declares both count."""
    own = names_defined(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if is_private(alias.name):
                    yield node.lineno, f"imports {alias.name}"
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            assigned_here = isinstance(node.ctx, ast.Store)
            receiver = node.value
            on_self = isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")
            if on_self:
                continue
            if assigned_here or node.attr not in own:
                yield node.lineno, f".{node.attr}"


def own_class_attributes(tree: ast.Module) -> set[str]:
    """Private attributes a module's own classes declare (annotations in the
    class body, or self._x assignments)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in ast.walk(node):
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.add(item.target.id)
                elif (
                    isinstance(item, ast.Attribute)
                    and isinstance(item.ctx, ast.Store)
                    and isinstance(item.value, ast.Name)
                    and item.value.id == "self"
                ):
                    found.add(item.attr)
                elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.add(item.name)
    return found


def layer_of(module: str) -> Optional[int]:
    parts = module.split(".")
    if len(parts) == 1:
        return LAYER_ORDER["__init__"]
    return LAYER_ORDER.get(parts[1])


def main(argv: list[str]) -> int:
    quiet = "--quiet" in argv
    with_local = "--with-local" in argv
    modules = list(iter_modules())
    known = {name for name, _, _ in modules}
    graph: dict[str, set[str]] = {name: set() for name in known}
    local_imports: list[str] = []
    local_own_imports: list[str] = []
    private: list[str] = []
    upward: list[str] = []

    for name, path, tree in modules:
        package = is_package(path)
        for node in module_level_imports(tree):
            for target in imported_modules(name, package, node, known):
                if target != name and target in known:
                    graph[name].add(target)
        for node in function_local_imports(tree):
            where = f"{path.relative_to(PACKAGE_DIR.parent)}:{node.lineno}"
            local_imports.append(where)
            local_targets = imported_modules(name, package, node, known)
            if local_targets:
                local_own_imports.append(where)
            if with_local:
                graph[name].update(target for target in local_targets if target != name and target in known)
        own_attributes = own_class_attributes(tree)
        for line, what in private_accesses(tree):
            attribute = what.lstrip(".")
            if what.startswith(".") and attribute in own_attributes:
                continue
            private.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{line}: {what}")
        importer_layer = layer_of(name)
        for target in sorted(graph[name]):
            target_layer = layer_of(target)
            if (
                importer_layer is not None
                and target_layer is not None
                and target_layer > importer_layer
                and name != PACKAGE
            ):
                upward.append(f"{name} -> {target}")

    cycles = strongly_connected(graph)
    if not quiet:
        for component in cycles:
            print("cycle:", " <-> ".join(component))
        for where in local_imports:
            print("function-local import:", where, "(goext)" if where in local_own_imports else "")
        for where in private:
            print("private access:", where)
        for edge in upward:
            print("upward import:", edge)
    print(
        f"modules {len(known)}; cycles {len(cycles)} "
        f"(modules in cycles {sum(len(c) for c in cycles)}); "
        f"function-local imports {len(local_imports)} (of goext modules {len(local_own_imports)}); "
        f"private accesses {len(private)}; upward imports {len(upward)}"
    )
    return 1 if cycles or local_own_imports or private or upward else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
