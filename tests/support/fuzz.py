"""A seeded, deterministic mutator over fixture cores and executables, and a
runner that classifies what the offline CLI does with each mutant.

Run ``n`` of campaign ``master`` is fully determined by ``(master, n)`` and
the seed fixtures: the fixture, the mutation, its parameters and the command
all come from ``random.Random(f"{master}:{n}")``.  So a failure reproduces
with ``python3 -m support.fuzz --master M --run N --keep DIR`` (from tests/),
which writes the mutant files and prints the command line.

Each run is ``python3 -m goext_core EXE CORE COMMAND`` in its own process
group with an address-space limit, a wall-clock timeout and a peak-RSS check
(``os.wait4``), and ends in exactly one class:

- ``clean error``: exit 1 with exactly one ``goext: error:`` line;
- ``ok``: exit 0 (values and goroutines may be marked unreadable);
- ``internal error``: ``goext: internal error`` (an untyped exception);
- ``traceback``: a Python traceback reached the user;
- ``hang``: killed after the timeout;
- ``crash``: killed by a signal, or an exit status the CLI never uses;
- ``memory``: peak RSS over the limit or a MemoryError.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMON_DIR = REPO_ROOT / "common"

CLEAN_ERROR, OK, INTERNAL_ERROR, TRACEBACK, HANG, CRASH, MEMORY = (
    "clean error",
    "ok",
    "internal error",
    "traceback",
    "hang",
    "crash",
    "memory",
)
CLASSES = (CLEAN_ERROR, OK, INTERNAL_ERROR, TRACEBACK, HANG, CRASH, MEMORY)
FAILURE_CLASSES = (INTERNAL_ERROR, TRACEBACK, HANG, CRASH, MEMORY)

PEAK_RSS_LIMIT = 2 << 30  # bytes
ADDRESS_SPACE_LIMIT = 6 << 30  # bytes; virtual, so well above the RSS limit (mmaps, arenas)
DEFAULT_TIMEOUT_S = 60.0

# The cheap commands (about a second each on the `simple` cores) and the rest.
QUICK_COMMANDS: tuple[str, ...] = (
    "goroutines",
    "bt all",
    "info",
    "print table",
    "sched",
    "print message",
    "goroutines --group -t 3",
)
LONG_COMMANDS: tuple[str, ...] = QUICK_COMMANDS + (
    "threads",
    "deadlock",
    "locals 1",
    "snapshot -o {out}",
    "report --html {out}",
    "print numbers",
    "list 1",
)

_PAGE = 4096
_SPARSE_CHUNK = 1 << 16

# Launches the CLI under an address-space limit (no preexec_fn: the runner is
# threaded) and records its own peak RSS: wait4's ru_maxrss would include the
# forking parent's, which Linux carries across exec.
_LAUNCHER = (
    "import resource, runpy, sys\n"
    "limit, peak_file = int(sys.argv.pop(1)), sys.argv.pop(1)\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "sys.argv[0] = 'goext_core'\n"
    "try:\n"
    "    runpy.run_module('goext_core', run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    with open('/proc/self/status') as status, open(peak_file, 'w') as out:\n"
    "        out.write(next((l.split()[1] for l in status if l.startswith('VmHWM:')), '0'))\n"
)


# ---------------------------------------------------------------------------
# Where things are in a seed


@dataclass(frozen=True)
class LoadSegment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    writable: bool


@dataclass(frozen=True)
class Region:
    """A run of bytes in a file, with what it holds."""

    offset: int
    size: int
    label: str


@dataclass
class Landmarks:
    """File offsets of the structures worth corrupting in one seed."""

    core_phdrs: Region
    core_notes: list[Region]  # one per note: header + name + desc, label = note type
    core_loads: list[LoadSegment]
    exe_shdrs: Optional[Region]
    exe_phdrs: Region
    exe_sections: list[Region]  # label = section name
    g_structs: list[tuple[int, dict[str, int]]]  # (core file offset of a g, field name -> offset in g)
    stacks: list[Region]  # used parts of goroutine stacks, in the core
    allgs_header: Optional[Region]  # the allgs slice header in the core
    allgs_array: Optional[Region]
    machines: list[Region]  # m structs in the core
    words: list[int]  # core offsets of pointer-looking words in writable memory
    exe_head_in_core: Optional[int] = None  # core offset of the kernel's copy of the executable's first page

    def core_offset(self, address: int, size: int = 8) -> Optional[int]:
        for load in self.core_loads:
            if load.vaddr <= address and address + size <= load.vaddr + min(load.filesz, load.memsz):
                return load.offset + address - load.vaddr
        return None


@dataclass
class FuzzSeed:
    name: str  # e.g. "simple-1.22-stripped"
    exe: Path
    core: Path
    landmarks: Landmarks
    core_bytes: bytes = field(repr=False, default=b"")
    exe_bytes: bytes = field(repr=False, default=b"")


def _elf_tables(data: bytes) -> tuple[str, int, int, int, int, int, int]:
    """(endian, phoff, phentsize, phnum, shoff, shentsize, shnum) of a 64-bit ELF."""
    endian = "<" if data[5] == 1 else ">"
    phoff, shoff = struct.unpack_from(endian + "QQ", data, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", data, 54)
    return endian, phoff, phentsize, phnum, shoff, shentsize, shnum


def _core_layout(data: bytes) -> tuple[Region, list[Region], list[LoadSegment]]:
    endian, phoff, phentsize, phnum, _, _, _ = _elf_tables(data)
    notes: list[Region] = []
    loads: list[LoadSegment] = []
    for index in range(phnum):
        at = phoff + index * phentsize
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(endian + "IIQQQQQQ", data, at)
        if p_type == 1:
            loads.append(LoadSegment(p_vaddr, p_memsz, p_offset, p_filesz, bool(p_flags & 2)))
        elif p_type == 4:
            cursor, end = p_offset, p_offset + p_filesz
            while cursor + 12 <= end:
                namesz, descsz, kind = struct.unpack_from(endian + "III", data, cursor)
                size = 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
                notes.append(Region(cursor, size, f"note type {kind}"))
                cursor += size
    return Region(phoff, phentsize * phnum, "program headers"), notes, loads


def _exe_layout(data: bytes) -> tuple[Optional[Region], Region, list[Region]]:
    endian, phoff, phentsize, phnum, shoff, shentsize, shnum = _elf_tables(data)
    sections: list[Region] = []
    if not shoff or not shnum:
        return None, Region(phoff, phentsize * phnum, "program headers"), sections
    _, strtab_index = struct.unpack_from(endian + "HH", data, 60)
    strtab_at = shoff + strtab_index * shentsize
    strtab_offset = struct.unpack_from(endian + "Q", data, strtab_at + 24)[0]
    for index in range(shnum):
        at = shoff + index * shentsize
        name_at, kind = struct.unpack_from(endian + "II", data, at)
        offset, size = struct.unpack_from(endian + "QQ", data, at + 24)
        if kind in (0, 8) or not size:  # SHT_NULL, SHT_NOBITS
            continue
        stop = data.find(b"\0", strtab_offset + name_at)
        name = data[strtab_offset + name_at : stop].decode("ascii", "replace")
        sections.append(Region(offset, size, name))
    return (
        Region(shoff, shentsize * shnum, "section headers"),
        Region(phoff, phentsize * phnum, "program headers"),
        sections,
    )


_G_FIELDS = (
    "stack.lo",
    "stack.hi",
    "sched.sp",
    "sched.pc",
    "sched.lr",
    "sched.bp",
    "atomicstatus",
    "goid",
    "schedlink",
    "waitreason",
    "m",
    "_panic",
    "_defer",
    "gopc",
    "startpc",
    "waiting",
    "labels",
    "ancestors",
    "syscallsp",
    "syscallpc",
    "lockedm",
    "param",
    "parentGoid",
)


def find_landmarks(exe: Path, core: Path) -> Landmarks:
    """Read the seed with goext itself (it is intact) to find its runtime structures."""
    if str(COMMON_DIR) not in sys.path:
        sys.path.insert(0, str(COMMON_DIR))
    from goext_core.program import GoProgram
    from goext_core.runtime.goroutines import read_allgs
    from goext_core.target.core import CoreTarget

    core_data = core.read_bytes()
    exe_data = exe.read_bytes()
    core_phdrs, core_notes, core_loads = _core_layout(core_data)
    exe_shdrs, exe_phdrs, exe_sections = _exe_layout(exe_data)
    landmarks = Landmarks(
        core_phdrs, core_notes, core_loads, exe_shdrs, exe_phdrs, exe_sections, [], [], None, None, [], []
    )
    program = GoProgram(CoreTarget(str(exe), str(core)))
    target = program.target
    layout = program.layouts.g
    fields = {name: layout.offset(name) for name in _G_FIELDS if layout.has(name)}
    g_size = layout.size
    for address in read_allgs(program):
        offset = landmarks.core_offset(address, g_size)
        if offset is None:
            continue
        landmarks.g_structs.append((offset, fields))
        raw = target.read(address, g_size)
        lo = int.from_bytes(raw[fields["stack.lo"] : fields["stack.lo"] + 8], "little")
        hi = int.from_bytes(raw[fields["stack.hi"] : fields["stack.hi"] + 8], "little")
        sp = int.from_bytes(raw[fields["sched.sp"] : fields["sched.sp"] + 8], "little")
        used_from = sp if lo <= sp < hi else max(lo, hi - 1024)
        stack_offset = landmarks.core_offset(used_from, hi - used_from) if hi > used_from else None
        if stack_offset is not None:
            landmarks.stacks.append(Region(stack_offset, hi - used_from, f"stack of g {address:#x}"))
    allgs = program.runtime_symbol("runtime.allgs")
    if allgs is not None:
        header = landmarks.core_offset(allgs, 24)
        if header is not None:
            landmarks.allgs_header = Region(header, 24, "runtime.allgs")
            pointer, length = struct.unpack_from("<QQ", core_data, header)
            array = landmarks.core_offset(pointer, 8 * max(length, 1))
            if array is not None:
                landmarks.allgs_array = Region(array, 8 * length, "allgs array")
    m_size = program.layouts.m.size
    for machine in program.machines():
        offset = landmarks.core_offset(machine.address, m_size)
        if offset is not None:
            landmarks.machines.append(Region(offset, m_size, f"m {machine.address:#x}"))
    landmarks.words = _pointer_words(core_data, core_loads)
    lowest = min((s.vaddr for s in program.binary.segments if s.offset == 0), default=None)
    if lowest is not None:
        landmarks.exe_head_in_core = landmarks.core_offset(lowest + target.load_bias(), _PAGE)
    return landmarks


def _pointer_words(data: bytes, loads: Sequence[LoadSegment], limit: int = 20000) -> list[int]:
    """Core offsets of aligned words in writable memory that point into the core's memory."""
    spans = [(load.vaddr, load.vaddr + load.memsz) for load in loads]
    found: list[int] = []
    for load in loads:
        if not load.writable or not load.filesz:
            continue
        stop = load.offset + min(load.filesz, 1 << 22)  # first 4 MiB of each writable segment
        for offset in range(load.offset, stop - 7, 8):
            word = int.from_bytes(data[offset : offset + 8], "little")
            if word and any(start <= word < end for start, end in spans):
                found.append(offset)
                if len(found) >= limit:
                    return found
    return found


# ---------------------------------------------------------------------------
# Mutations: each takes the rng, the seed and mutable copies of both files,
# changes them in place and returns a one-line description.

Mutation = Callable[[random.Random, FuzzSeed, bytearray, bytearray], str]

_WILD_VALUES = (
    0,
    1,
    0xFFFFFFFFFFFFFFFF,
    0x7FFFFFFFFFFFFFFF,
    0xDEADBEEFDEADBEEF,
    0x1000,
    0x8000000000000000,
    0xC000000000,
    1 << 40,
)


def _wild(rng: random.Random, seed: FuzzSeed) -> int:
    choice = rng.random()
    if choice < 0.4:
        return rng.choice(_WILD_VALUES)
    if choice < 0.7:  # somewhere inside the core's memory, misaligned or not
        load = rng.choice(seed.landmarks.core_loads)
        return load.vaddr + rng.randrange(max(load.memsz, 1))
    return rng.getrandbits(64)


def _put(buffer: bytearray, offset: int, value: int, size: int = 8) -> None:
    if 0 <= offset and offset + size <= len(buffer):
        buffer[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _noise(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def truncate_core(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    interesting = [seed.landmarks.core_phdrs.offset + seed.landmarks.core_phdrs.size]
    interesting += [note.offset + rng.randrange(max(note.size, 1)) for note in seed.landmarks.core_notes[:8]]
    interesting += [rng.randrange(len(core)) for _ in range(4)]
    interesting += [rng.randrange(64)]
    cut = rng.choice(interesting)
    del core[cut:]
    return f"core truncated to {cut} bytes"


def truncate_exe(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    candidates = [rng.randrange(len(exe))] + [
        s.offset + rng.randrange(max(s.size, 1)) for s in rng.sample(seed.landmarks.exe_sections, 2)
    ]
    cut = rng.choice(candidates)
    del exe[cut:]
    return f"executable truncated to {cut} bytes"


def _data_pages(seed: FuzzSeed) -> list[int]:
    return [
        load.offset + page for load in seed.landmarks.core_loads if load.filesz for page in range(0, load.filesz, _PAGE)
    ]


def zero_pages(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    pages = rng.sample(_data_pages(seed), rng.choice((1, 4, 32, 256)))
    for page in pages:
        core[page : page + _PAGE] = bytes(_PAGE)
    return f"{len(pages)} core pages zeroed (first at {min(pages):#x})"


def noisy_pages(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    pages = rng.sample(_data_pages(seed), rng.choice((1, 4, 32, 256)))
    for page in pages:
        core[page : page + _PAGE] = _noise(rng, _PAGE)
    return f"{len(pages)} core pages filled with noise (first at {min(pages):#x})"


def flip_g(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    gs = seed.landmarks.g_structs
    chosen = rng.sample(gs, min(len(gs), rng.choice((1, 1, 3, len(gs)))))
    touched: list[str] = []
    for offset, fields in chosen:
        for name in rng.sample(sorted(fields), rng.choice((1, 2, 4))):
            value = offset_to_self = _wild(rng, seed)
            if name == "schedlink" and rng.random() < 0.5:
                offset_to_self = _self_address(seed, offset)  # a cycle through itself
            size = 4 if name in ("atomicstatus", "waitreason") else 8
            _put(core, offset + fields[name], offset_to_self if name == "schedlink" else value, size)
            touched.append(name)
    return f"{len(chosen)} g structs: {', '.join(sorted(set(touched)))} overwritten"


def _self_address(seed: FuzzSeed, offset: int) -> int:
    for load in seed.landmarks.core_loads:
        if load.offset <= offset < load.offset + load.filesz:
            return load.vaddr + offset - load.offset
    return 0


def flip_allgs(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    header, array = seed.landmarks.allgs_header, seed.landmarks.allgs_array
    if header is None:
        return zero_pages(rng, seed, core, exe)
    choice = rng.randrange(4)
    if choice == 0 or array is None:
        _put(core, header.offset + 8 * rng.randrange(3), _wild(rng, seed))
        return "allgs slice header field overwritten"
    if choice == 1:
        _put(core, header.offset + 8, 1 << rng.randrange(20, 63))
        return "allgs length made absurd"
    entries = rng.sample(range(array.size // 8), min(array.size // 8, rng.choice((1, 3))))
    for entry in entries:
        _put(core, array.offset + 8 * entry, _wild(rng, seed) if choice == 2 else 0)
    return f"{len(entries)} allgs entries {'made wild' if choice == 2 else 'zeroed'}"


def flip_stack(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    if not seed.landmarks.stacks:
        return noisy_pages(rng, seed, core, exe)
    stack = rng.choice(seed.landmarks.stacks)
    mode = rng.randrange(3)
    if mode == 0:
        start = stack.offset + rng.randrange(stack.size)
        length = min(rng.choice((8, 64, 512, stack.size)), stack.offset + stack.size - start)
        core[start : start + length] = _noise(rng, length)
        return f"{length} bytes of noise in {stack.label}"
    count = 0
    for word in range(stack.offset - stack.offset % 8, stack.offset + stack.size - 7, 8):
        if rng.random() < 0.1:
            _put(core, word, _wild(rng, seed) if mode == 1 else _self_address(seed, word))
            count += 1
    return f"{count} words of {stack.label} made {'wild' if mode == 1 else 'self-pointing'}"


def wild_pointers(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    words = rng.sample(seed.landmarks.words, min(len(seed.landmarks.words), rng.choice((1, 16, 256, 2048))))
    cyclic = rng.random() < 0.3
    for word in words:
        _put(core, word, _self_address(seed, word) if cyclic else _wild(rng, seed))
    return f"{len(words)} pointers in writable memory made {'cyclic' if cyclic else 'wild'}"


def absurd_lengths(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    """The word after a pointer is often a length (strings, slices, maps' counts)."""
    words = rng.sample(seed.landmarks.words, min(len(seed.landmarks.words), rng.choice((1, 16, 256))))
    for word in words:
        _put(core, word + 8, rng.choice((1 << 62, 1 << 40, 0xFFFFFFFFFFFFFFFF, 1 << 31, -1)))
    return f"{len(words)} words after pointers set to absurd lengths"


def flip_machines(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    if not seed.landmarks.machines:
        return wild_pointers(rng, seed, core, exe)
    machine = rng.choice(seed.landmarks.machines)
    count = rng.choice((1, 8, 64))
    for _ in range(count):
        _put(core, machine.offset + 8 * rng.randrange(machine.size // 8), _wild(rng, seed))
    return f"{count} words of {machine.label} made wild"


def corrupt_note(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    note = rng.choice(seed.landmarks.core_notes)
    mode = rng.randrange(4)
    if mode == 0:  # namesz / descsz / type
        field_index = rng.randrange(3)
        _put(core, note.offset + 4 * field_index, rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, rng.getrandbits(32))), 4)
        return f"core {note.label} at {note.offset:#x}: header field {field_index} overwritten"
    namesz = int.from_bytes(core[note.offset : note.offset + 4], "little")
    desc = note.offset + 12 + (namesz + 3) // 4 * 4
    end = note.offset + note.size
    if desc >= end:
        return corrupt_phdr(rng, seed, core, exe)
    if mode == 1:  # the first words of the descriptor: NT_FILE count and page size, prpsinfo fields
        for index in range(rng.choice((1, 2))):
            _put(core, desc + 8 * index, rng.choice(_WILD_VALUES + (rng.getrandbits(64),)))
        return f"core {note.label} at {note.offset:#x}: descriptor header overwritten"
    start = desc + rng.randrange(end - desc)
    length = min(rng.choice((1, 8, 64, 4096)), end - start)
    core[start : start + length] = _noise(rng, length) if mode == 2 else bytes(length)
    return f"core {note.label} at {note.offset:#x}: {length} descriptor bytes {'noisy' if mode == 2 else 'zeroed'}"


def corrupt_phdr(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    table = seed.landmarks.core_phdrs
    if rng.random() < 0.15:
        field = rng.choice(
            (
                (32, 8, "e_phoff"),
                (54, 2, "e_phentsize"),
                (56, 2, "e_phnum"),
                (16, 2, "e_type"),
                (18, 2, "e_machine"),
                (4, 1, "EI_CLASS"),
            )
        )
        _put(core, field[0], rng.getrandbits(8 * field[1]), field[1])
        return f"core ELF header {field[2]} overwritten"
    entry = rng.randrange(table.size // 56)
    field = rng.choice(
        (
            (0, 4, "p_type"),
            (4, 4, "p_flags"),
            (8, 8, "p_offset"),
            (16, 8, "p_vaddr"),
            (32, 8, "p_filesz"),
            (40, 8, "p_memsz"),
        )
    )
    _put(
        core, table.offset + entry * 56 + field[0], _wild(rng, seed) if field[1] == 8 else rng.getrandbits(32), field[1]
    )
    return f"core program header {entry}: {field[2]} overwritten"


def corrupt_section_header(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    table = seed.landmarks.exe_shdrs
    if table is None:
        return corrupt_section(rng, seed, core, exe)
    entry = rng.randrange(1, table.size // 64)
    field = rng.choice(
        (
            (0, 4, "sh_name"),
            (4, 4, "sh_type"),
            (8, 8, "sh_flags"),
            (16, 8, "sh_addr"),
            (24, 8, "sh_offset"),
            (32, 8, "sh_size"),
            (40, 4, "sh_link"),
            (56, 8, "sh_entsize"),
        )
    )
    value = rng.choice((0, 1, 0xFFFFFFFF, 1 << 40, rng.getrandbits(8 * field[1]), rng.randrange(len(exe))))
    at = table.offset + entry * 64 + field[0]
    _put(exe, at, value, field[1])
    mirrored = ""
    head = seed.landmarks.exe_head_in_core
    if head is not None and at + field[1] <= _PAGE:
        # Go's linker puts section headers in the first page, which the kernel
        # dumps: the damaged executable is then the one that ran.
        _put(core, head + at, value, field[1])
        mirrored = " (also in the core's copy of the first page)"
    return f"executable section header {entry}: {field[2]} set to {value:#x}{mirrored}"


def corrupt_section(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    preferred = [
        s
        for s in seed.landmarks.exe_sections
        if s.label
        in (
            ".gopclntab",
            ".debug_info",
            ".debug_abbrev",
            ".debug_line",
            ".debug_frame",
            ".debug_loc",
            ".debug_ranges",
            ".debug_str",
            ".typelink",
            ".rodata",
            ".noptrdata",
            ".data",
            ".go.buildinfo",
            ".note.go.buildid",
            ".symtab",
            ".strtab",
            ".debug_loclists",
            ".debug_rnglists",
            ".debug_addr",
        )
    ]
    section = rng.choice(preferred or seed.landmarks.exe_sections)
    mode = rng.randrange(4)
    if section.label.startswith(".debug_") and mode == 0:  # the compression header (Elf64_Chdr)
        field = rng.choice(((0, 4, "ch_type"), (8, 8, "ch_size"), (16, 8, "ch_addralign")))
        value = rng.choice((0, 2, 1 << 40, 0xFFFFFFFFFFFFFFFF, rng.getrandbits(8 * field[1])))
        _put(exe, section.offset + field[0], value, field[1])
        return f"section {section.label}: compression header {field[2]} set to {value:#x}"
    start = section.offset + rng.randrange(section.size)
    length = min(rng.choice((1, 4, 16, 256, 4096)), section.offset + section.size - start)
    if mode == 3:
        exe[start : start + length] = bytes(length)
    else:
        exe[start : start + length] = _noise(rng, length)
    return (
        f"section {section.label}: {length} bytes at +{start - section.offset:#x} {'zeroed' if mode == 3 else 'noisy'}"
    )


def corrupt_exe_phdr(rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray) -> str:
    table = seed.landmarks.exe_phdrs
    entry = rng.randrange(table.size // 56)
    field = rng.choice(
        ((0, 4, "p_type"), (8, 8, "p_offset"), (16, 8, "p_vaddr"), (32, 8, "p_filesz"), (40, 8, "p_memsz"))
    )
    _put(exe, table.offset + entry * 56 + field[0], rng.getrandbits(8 * field[1]), field[1])
    return f"executable program header {entry}: {field[2]} overwritten"


def swap_executable(
    rng: random.Random, seed: FuzzSeed, core: bytearray, exe: bytearray, others: Sequence[FuzzSeed] = ()
) -> str:
    candidates = [other for other in others if other.name != seed.name]
    if not candidates:
        return corrupt_section(rng, seed, core, exe)
    other = rng.choice(candidates)
    exe[:] = other.exe_bytes
    return f"executable swapped for {other.name}'s"


MUTATIONS: dict[str, Mutation] = {
    "truncate-core": truncate_core,
    "truncate-exe": truncate_exe,
    "zero-pages": zero_pages,
    "noisy-pages": noisy_pages,
    "flip-g": flip_g,
    "flip-allgs": flip_allgs,
    "flip-stack": flip_stack,
    "wild-pointers": wild_pointers,
    "absurd-lengths": absurd_lengths,
    "flip-m": flip_machines,
    "corrupt-note": corrupt_note,
    "corrupt-phdr": corrupt_phdr,
    "corrupt-shdr": corrupt_section_header,
    "corrupt-section": corrupt_section,
    "corrupt-exe-phdr": corrupt_exe_phdr,
    "swap-exe": swap_executable,  # type: ignore[dict-item]
}


# ---------------------------------------------------------------------------
# One run


@dataclass(frozen=True)
class Case:
    master: int
    run: int
    seed: str
    mutation: str
    description: str
    command: str
    long: bool  # drawn from LONG_COMMANDS (the draw depends on the list)

    def label(self) -> str:
        return (
            f"run {self.run} of campaign {self.master}: seed {self.seed}, mutation {self.mutation} "
            f"({self.description}), command 'go {self.command}'"
        )

    def reproduce(self) -> str:
        long = " --long" if self.long else ""
        return f"cd tests && python3 -m support.fuzz --master {self.master} --run {self.run}{long} --keep DIR"


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: str  # one of CLASSES
    returncode: Optional[int]
    seconds: float
    peak_rss: int  # bytes
    output: str

    def summary(self) -> str:
        tail = "\n".join(self.output.strip().splitlines()[-6:])
        return (
            f"{self.result}: {self.case.label()}; exit {self.returncode}, {self.seconds:.1f} s, "
            f"peak RSS {self.peak_rss >> 20} MiB\n  reproduce: {self.case.reproduce()}\n  output: {tail}"
        )


def make_case(
    seeds: Sequence[FuzzSeed], master: int, run: int, commands: Sequence[str], core: bytearray, exe: bytearray
) -> tuple[Case, FuzzSeed]:
    """Mutate ``core`` and ``exe`` (filled here from the chosen seed) for run ``run``."""
    rng = random.Random(f"{master}:{run}")
    seed = seeds[rng.randrange(len(seeds))]
    name = rng.choice(sorted(MUTATIONS))
    command = rng.choice(list(commands))
    core[:] = seed.core_bytes
    exe[:] = seed.exe_bytes
    mutation = MUTATIONS[name]
    if mutation is swap_executable:
        description = swap_executable(rng, seed, core, exe, seeds)
    else:
        description = mutation(rng, seed, core, exe)
    if rng.random() < 0.15:  # sometimes two kinds of damage at once
        second = rng.choice(sorted(n for n in MUTATIONS if n != "swap-exe"))
        description += "; then " + MUTATIONS[second](rng, seed, core, exe)
        name += "+" + second
    return Case(master, run, seed.name, name, description, command, tuple(commands) == LONG_COMMANDS), seed


def write_sparse(path: Path, data: bytes | bytearray) -> None:
    """Write ``data`` leaving all-zero chunks as holes (cores are mostly zeros)."""
    zero = bytes(_SPARSE_CHUNK)
    view = memoryview(data)
    with open(path, "wb") as handle:
        for start in range(0, len(data), _SPARSE_CHUNK):
            chunk = view[start : start + _SPARSE_CHUNK]
            if chunk == zero[: len(chunk)]:
                handle.seek(len(chunk), os.SEEK_CUR)
            else:
                handle.write(chunk)
        handle.truncate(len(data))


def classify(returncode: Optional[int], output: str, timed_out: bool, peak_rss: int) -> str:
    if timed_out:
        return HANG
    if peak_rss >= PEAK_RSS_LIMIT or "MemoryError" in output:
        return MEMORY
    if "Traceback (most recent call last)" in output:
        return TRACEBACK
    if "goext: internal error" in output:
        return INTERNAL_ERROR
    if returncode == 0:
        return OK
    error_lines = [line for line in output.splitlines() if line.startswith("goext: error:")]
    if returncode == 1 and len(error_lines) == 1:
        return CLEAN_ERROR
    return CRASH


def run_cli(
    exe: Path, core: Path, command: str, timeout: float, cwd: Path
) -> tuple[Optional[int], str, bool, int, float]:
    """(exit status or None if killed, output, timed out, peak RSS in bytes, seconds)."""
    peak_file = cwd / "peak-rss-kib"
    argv = [
        sys.executable,
        "-c",
        _LAUNCHER,
        str(ADDRESS_SPACE_LIMIT),
        str(peak_file),
        str(exe),
        str(core),
        *shlex.split(command),
    ]
    env = dict(os.environ, PYTHONPATH=str(COMMON_DIR), GOEXT_QUIET="1")
    env.pop("GOEXT_DEBUG", None)
    env.pop("DEBUGINFOD_URLS", None)  # no network from mutants
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=cwd) as output:
        process = subprocess.Popen(
            argv,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, _ = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.monotonic() - started
        output.seek(0)
        text = output.read(1 << 20).decode("utf-8", "replace")
    code = process.returncode if process.returncode >= 0 else None
    try:
        peak = int(peak_file.read_text() or 0) * 1024
    except (OSError, ValueError):  # killed before it could say: the address-space limit still held
        peak = 0
    return code, text, timed_out.is_set(), peak, seconds


def run_one(
    seeds: Sequence[FuzzSeed],
    master: int,
    run: int,
    commands: Sequence[str],
    workdir: Path,
    timeout: float = DEFAULT_TIMEOUT_S,
    keep: Optional[Path] = None,
) -> Outcome:
    core, exe = bytearray(), bytearray()
    case, seed = make_case(seeds, master, run, commands, core, exe)
    directory = keep or Path(tempfile.mkdtemp(prefix=f"run{run}-", dir=workdir))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        core_path, exe_path = directory / "core", directory / "exe"
        write_sparse(core_path, core)
        exe_path.write_bytes(exe)
        exe_path.chmod(0o755)
        command = case.command.replace("{out}", str(directory / "out"))
        code, text, timed_out, peak, seconds = run_cli(exe_path, core_path, command, timeout, directory)
    finally:
        if keep is None:
            for child in directory.iterdir():
                child.unlink()
            directory.rmdir()
    return Outcome(case, classify(code, text, timed_out, peak), code, seconds, peak, text)


def load_seeds(pairs: Iterable[tuple[str, Path, Path]]) -> list[FuzzSeed]:
    seeds = []
    for name, exe, core in pairs:
        seed = FuzzSeed(name, exe, core, find_landmarks(exe, core))
        seed.core_bytes = core.read_bytes()
        seed.exe_bytes = exe.read_bytes()
        seeds.append(seed)
    return seeds


def campaign(
    seeds: Sequence[FuzzSeed],
    master: int,
    runs: Iterable[int],
    commands: Sequence[str],
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: Optional[Callable[[Outcome], None]] = None,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="goext-fuzz-") as scratch, ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(lambda run: run_one(seeds, master, run, commands, Path(scratch), timeout), runs):
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """Runs per class, overall and per mutation."""
    overall = Counter(outcome.result for outcome in outcomes)
    per_mutation: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        per_mutation.setdefault(outcome.case.mutation.split("+")[0], Counter())[outcome.result] += 1
    width = max([len("mutation")] + [len(name) for name in per_mutation])
    lines = [f"{'mutation':<{width}}  " + "  ".join(f"{name:>14}" for name in CLASSES)]
    for name in sorted(per_mutation):
        lines.append(f"{name:<{width}}  " + "  ".join(f"{per_mutation[name][c]:>14}" for c in CLASSES))
    lines.append(f"{'all':<{width}}  " + "  ".join(f"{overall[c]:>14}" for c in CLASSES))
    slowest = max(outcomes, key=lambda o: o.seconds, default=None)
    biggest = max(outcomes, key=lambda o: o.peak_rss, default=None)
    if slowest is not None and biggest is not None:
        lines.append(
            f"{len(outcomes)} runs; slowest {slowest.seconds:.1f} s (run {slowest.case.run}); "
            f"largest peak RSS {biggest.peak_rss >> 20} MiB (run {biggest.case.run})"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Seeds from the fixtures, and a command line for reproducing one run

SEED_FIXTURES: tuple[tuple[str, str, str], ...] = (
    ("simple", "1.22", "default"),
    ("simple", "1.22", "stripped"),
    ("simple", "1.27", "default"),
    ("simple", "1.27", "stripped"),
)


def fixture_seeds(fixtures: Sequence[tuple[str, str, str]] = SEED_FIXTURES) -> list[FuzzSeed]:
    """The fixture cores (built and crashed on first use); Unavailable propagates."""
    from .cores import kernel_core

    pairs = []
    for program, version, flavour in fixtures:
        artifact = kernel_core(program, version, flavour, "panic")
        pairs.append((f"{program}-{version}-{flavour}", artifact.exe, artifact.core))
    return load_seeds(pairs)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="goext fuzz campaign, or one run of it")
    parser.add_argument("--master", type=int, default=1, help="campaign seed")
    parser.add_argument("--run", type=int, help="only this run (reproduce a failure)")
    parser.add_argument("--runs", type=int, default=300, help="number of runs from 0")
    parser.add_argument("--long", action="store_true", help="use the long command list")
    parser.add_argument("--keep", type=Path, help="with --run: keep the mutant files here")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seeds = fixture_seeds()
    commands = LONG_COMMANDS if args.long else QUICK_COMMANDS
    if args.run is not None:
        with tempfile.TemporaryDirectory() as scratch:
            outcome = run_one(seeds, args.master, args.run, commands, Path(scratch), keep=args.keep)
        print(outcome.summary())
        if args.keep:
            print(f"files: {args.keep}/exe {args.keep}/core; command: go {outcome.case.command}")
        print(outcome.output)
        return 0 if outcome.result not in FAILURE_CLASSES else 1

    def show(outcome: Outcome) -> None:
        if outcome.result in FAILURE_CLASSES:
            print(outcome.summary(), flush=True)

    outcomes = campaign(seeds, args.master, range(args.runs), commands, args.workers, progress=show)
    print(table(outcomes))
    return 0 if not any(o.result in FAILURE_CLASSES for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
