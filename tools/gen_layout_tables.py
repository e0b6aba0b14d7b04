#!/usr/bin/env python3
"""Regenerate common/goext_core/runtime/layout_tables.py from real Go toolchains.

Usage: gen_layout_tables.py [--goarch amd64,arm64] GOROOT [GOROOT ...]

For each toolchain and each GOARCH it builds (cross-compiles, for a foreign
GOARCH) a tiny program, reads the runtime struct layouts named in
goext_core.runtime.layouts.RUNTIME_FIELDS from the binary's DWARF, and the runtime's
own wait-reason strings (runtime.waitReasonStrings, defined in
src/runtime/runtime2.go) from its data.  The result is what goext uses for
binaries without DWARF.

The amd64 layouts are stored whole; another GOARCH stores only what differs
from amd64's for the same release (a struct's size, the fields whose place
differs), and LAYOUT_GOARCHES records which GOARCHes each release was generated
for, so a GOARCH listed there without differences is known to share amd64's
layouts.
Wait reasons are one array in src/runtime/runtime2.go with no per-arch build
tags: the generator checks that every GOARCH agrees and stores them once.

GOCACHE, when set in the environment, is reused (the Go build cache is keyed by
content and toolchain, so one directory serves every release); otherwise each
build compiles the standard library in a throwaway cache.
"""

from __future__ import annotations

import argparse
import os
import pprint
import re
import subprocess
import sys
import tempfile
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))

from elftools.elf.elffile import ELFFile  # noqa: E402

from goext_core.runtime.dwarflayout import read_struct_layouts  # noqa: E402
from goext_core.runtime.layouts import RUNTIME_FIELDS  # noqa: E402

PROGRAM = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("layout") }\n'
OUTPUT = os.path.join(HERE, "..", "common", "goext_core", "runtime", "layout_tables.py")
BASE_GOARCH = "amd64"
DEFAULT_GOARCHES = ("amd64", "arm64")

# {struct: (size, {field: (offset, size)})}.
StructTable = dict[str, tuple[int, dict[str, tuple[int, int]]]]
# {struct: (size, {field: (offset, size), or None for a field this GOARCH lacks})},
# or None for a struct this GOARCH lacks.
StructDifferences = dict[str, Optional[tuple[int, dict[str, Optional[tuple[int, int]]]]]]


def build(goroot: str, goarch: str, workdir: str) -> tuple[str, str]:
    go = os.path.join(goroot, "bin", "go")
    source = os.path.join(workdir, "main.go")
    with open(source, "w") as handle:
        handle.write(PROGRAM)
    exe = os.path.join(workdir, f"layout-{goarch}")
    gocache = os.environ.get("GOCACHE") or os.path.join(workdir, "cache")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GO", "CGO_"))}
    env.update(
        GOROOT=goroot,
        GOTOOLCHAIN="local",
        GOFLAGS="",
        CGO_ENABLED="0",
        GOCACHE=gocache,
        GO111MODULE="off",
        GOOS="linux",
        GOARCH=goarch,
        GOENV="off",
        GOTELEMETRY="off",
    )
    subprocess.run([go, "build", "-o", exe, source], check=True, env=env, cwd=workdir)
    version = subprocess.run([go, "env", "GOVERSION"], check=True, env=env, capture_output=True, text=True).stdout
    return exe, version.strip()


def read_static(elf: ELFFile, address: int, size: int) -> bytes:
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_LOAD" and segment["p_vaddr"] <= address < segment["p_vaddr"] + segment["p_filesz"]:
            offset = segment["p_offset"] + address - segment["p_vaddr"]
            elf.stream.seek(offset)
            return elf.stream.read(size)
    raise ValueError(f"{address:#x} not in file")


def wait_reasons(elf: ELFFile) -> list[str]:
    """runtime.waitReasonStrings: an array of Go strings (pointer, length), 64-bit little-endian."""
    if elf.elfclass != 64 or not elf.little_endian:
        raise SystemExit("only 64-bit little-endian GOARCHes are supported")
    symtab = elf.get_section_by_name(".symtab")
    symbol = symtab.get_symbol_by_name("runtime.waitReasonStrings")[0]
    data = read_static(elf, symbol["st_value"], symbol["st_size"])
    out = []
    for i in range(0, len(data), 16):
        pointer = int.from_bytes(data[i : i + 8], "little")
        length = int.from_bytes(data[i + 8 : i + 16], "little")
        out.append(read_static(elf, pointer, length).decode() if length else "")
    return out


def struct_table(elf: ELFFile) -> StructTable:
    structs = read_struct_layouts(elf, RUNTIME_FIELDS)
    return {
        name: (layout.size, {f: layout.fields[f] for f in RUNTIME_FIELDS[name] if f in layout.fields})
        for name, layout in sorted(structs.items())
    }


def differences(base: StructTable, other: StructTable) -> StructDifferences:
    """What ``other`` changes in ``base``: per struct that differs, its size and the
    fields whose (offset, size) differ; None for what ``other`` lacks."""
    out: StructDifferences = {}
    for name in sorted(set(base) | set(other)):
        base_struct, other_struct = base.get(name), other.get(name)
        if base_struct == other_struct:
            continue
        if base_struct is None or other_struct is None:
            out[name] = other_struct
            continue
        (_, base_fields), (size, other_fields) = base_struct, other_struct
        changed = {
            path: other_fields.get(path)
            for path in list(base_fields) + list(other_fields)
            if base_fields.get(path) != other_fields.get(path)
        }
        out[name] = (size, changed)
    return out


def main(goroots: list[str], goarches: list[str]) -> None:
    if goarches[0] != BASE_GOARCH:
        raise SystemExit(f"--goarch must start with {BASE_GOARCH}, the GOARCH every other one is stored against")
    layouts: dict[int, StructTable] = {}
    goarches_by_minor: dict[int, tuple[str, ...]] = {}
    arch_differences: dict[tuple[int, str], StructDifferences] = {}
    reasons: dict[int, list[str]] = {}
    for goroot in goroots:
        for goarch in goarches:
            with tempfile.TemporaryDirectory() as workdir:
                exe, version = build(goroot, goarch, workdir)
                minor = int(re.match(r"go1\.(\d+)", version).group(1))
                with open(exe, "rb") as handle:
                    elf = ELFFile(handle)
                    table = struct_table(elf)
                    arch_reasons = wait_reasons(elf)
            if goarch == BASE_GOARCH:
                layouts[minor] = table
                reasons[minor] = arch_reasons
            else:
                if arch_reasons != reasons[minor]:
                    raise SystemExit(
                        f"{version}: wait reasons differ between {BASE_GOARCH} and {goarch}: "
                        "WAIT_REASONS must become per GOARCH"
                    )
                diff = differences(layouts[minor], table)
                if diff:
                    arch_differences[(minor, goarch)] = diff
            goarches_by_minor[minor] = goarches_by_minor.get(minor, ()) + (goarch,)
            shared = (
                ""
                if goarch == BASE_GOARCH
                else (f", {len(arch_differences.get((minor, goarch), {}))} structs differ from {BASE_GOARCH}")
            )
            print(
                f"{version} {goarch}: {len(table)} structs, {len(arch_reasons)} wait reasons{shared}", file=sys.stderr
            )
    with open(OUTPUT, "w") as handle:
        handle.write('"""Generated by tools/gen_layout_tables.py from each toolchain\'s DWARF: do not edit.\n\n')
        handle.write("LAYOUTS[minor][struct] = (size, {field: (offset, size)}), for runtime structs\n")
        handle.write("defined in src/runtime/runtime2.go of Go 1.<minor>, as built for linux/amd64.\n")
        handle.write("LAYOUT_GOARCHES[minor] lists the GOARCHes whose layouts were generated for that\n")
        handle.write("release; for a GOARCH other than amd64 the layouts are LAYOUTS[minor] changed\n")
        handle.write("by ARCH_DIFFERENCES[(minor, goarch)]: {struct: (size, {field: (offset, size)})}\n")
        handle.write("giving the struct's size there and only the fields whose place differs (None:\n")
        handle.write("the field, or the struct, is absent there).  A listed GOARCH without an\n")
        handle.write("ARCH_DIFFERENCES entry shares amd64's layouts exactly.\n\n")
        handle.write("WAIT_REASONS[minor] is that release's runtime.waitReasonStrings\n")
        handle.write("(src/runtime/runtime2.go), indexed by g.waitreason.  It is keyed by release only:\n")
        handle.write("the array has no per-arch build tags, and the generator checks that every GOARCH\n")
        handle.write('above yields the same strings.\n"""\n\n')
        handle.write("from typing import Optional\n\n")
        handle.write(f"BASE_GOARCH = {BASE_GOARCH!r}\n\n")
        handle.write("LAYOUTS: dict[int, dict[str, tuple[int, dict[str, tuple[int, int]]]]] = ")
        handle.write(pprint.pformat(dict(sorted(layouts.items())), width=110, sort_dicts=False))
        handle.write("\n\nLAYOUT_GOARCHES: dict[int, tuple[str, ...]] = ")
        handle.write(pprint.pformat(dict(sorted(goarches_by_minor.items())), width=110, sort_dicts=False))
        handle.write("\n\nARCH_DIFFERENCES: dict[tuple[int, str],\n")
        handle.write("                       dict[str, Optional[tuple[int, dict[str, Optional[tuple[int, int]]]]]]] = ")
        handle.write(pprint.pformat(dict(sorted(arch_differences.items())), width=110, sort_dicts=False))
        handle.write("\n\nWAIT_REASONS: dict[int, list[str]] = ")
        handle.write(pprint.pformat(dict(sorted(reasons.items())), width=110, sort_dicts=False))
        handle.write("\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--goarch",
        default=",".join(DEFAULT_GOARCHES),
        help=f"comma-separated GOARCHes, {BASE_GOARCH} first (default: %(default)s)",
    )
    parser.add_argument("goroots", nargs="+", metavar="GOROOT")
    arguments = parser.parse_args()
    main(arguments.goroots, [goarch.strip() for goarch in arguments.goarch.split(",") if goarch.strip()])
