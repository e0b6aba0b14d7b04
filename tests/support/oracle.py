"""Parse the Go runtime's own crash traceback: the oracle for debugger tests.

With ``GOTRACEBACK=crash`` the runtime prints every goroutine before dying,
and on a fatal signal (e.g. an external SIGQUIT) every thread prints its own
section.  What the runtime printed is ground truth that the extension's
goroutine listing and unwinding are compared against.

Shapes handled (see runtime/traceback.go ``goroutineheader``/``traceback2``/
``printcreatedby1`` and runtime/signal_unix.go ``sighandler``/``fatalsignal``):

- message: ``panic: ...`` / ``fatal error: ...`` lines before the first block,
  plus ``[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x...]``
- headers: ``goroutine 7 [chan receive]:`` and, from Go 1.23 at crash level,
  ``goroutine 7 gp=0x... m=3 mp=0x... [chan receive, 5 minutes, locked to thread]:``
  (``m=nil`` without ``mp=``), optionally followed by pprof labels
  ``{key: value, "quoted key": "quoted value"}`` (Go 1.27).
- frames: ``pkg.f(args)`` then ``\\tfile:line +0xoff fp=0x.. sp=0x.. pc=0x..``;
  inlined frames print ``pkg.f(...)`` and a bare ``\\tfile:line``.
- ``...N frames elided...`` (Go 1.21+) and ``...additional frames elided...``.
- ``created by pkg.f in goroutine N`` (Go 1.21+) or ``created by pkg.f``,
  followed by ``\\tfile:line +0xoff``.
- ``\\tgoroutine running on other thread; stack unavailable``.
- ``runtime stack:`` (the g0 stack of a fatal error).
- thread sections: ``SIGQUIT: quit`` / ``PC=0x... m=N sigcode=N [addr=0x...]``,
  goroutine blocks, a register dump (``rax    0x...``), separated by ``-----``.

Unknown lines never stop the parser: they are kept in ``Traceback.unparsed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Data model


@dataclass
class FrameTrace:
    function: str
    args_text: str  # between the parentheses, "..." for inlined frames
    file: str | None = None
    line: int | None = None
    offset: int | None = None  # the "+0x.." from the function entry
    fp: int | None = None
    sp: int | None = None
    pc: int | None = None
    inlined: bool = False


@dataclass
class CreatedBy:
    function: str
    file: str | None = None
    line: int | None = None
    offset: int | None = None
    goroutine: int | None = None  # "in goroutine N" (Go 1.21+)


@dataclass
class SignalInfo:
    """The ``[signal SIGSEGV: segmentation violation code=.. addr=.. pc=..]`` line."""

    name: str  # "SIGSEGV: segmentation violation", or a hex number
    code: int | None
    addr: int | None
    pc: int | None
    raw: str


@dataclass
class GoroutineTrace:
    id: int
    state: str  # between the brackets, minus minutes/locked/bubble parts
    raw_header: str
    gp: int | None = None
    m: int | None = None  # None when "m=nil" or not printed
    mp: int | None = None
    wait_minutes: int = 0
    locked_to_thread: bool = False
    synctest_bubble: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    frames: list[FrameTrace] = field(default_factory=list)
    created_by: CreatedBy | None = None
    stack_unavailable: bool = False
    elided: int = 0  # frames the runtime skipped ("...N frames elided...")
    elided_unknown: bool = False  # "...additional frames elided..." (count not printed)
    elided_at: int | None = None  # index in frames where the elision happened
    thread_m: int | None = None  # m id of the thread section it was printed in
    line_number: int = 0  # 1-based line of the header in the text

    @property
    def functions(self) -> list[str]:
        return [frame.function for frame in self.frames]


@dataclass
class ThreadTrace:
    """One ``SIGQUIT: quit`` / ``PC=... m=N`` section of a signal crash."""

    signal: str  # e.g. "SIGQUIT: quit"
    m: int | None
    pc: int | None
    sigcode: int | None
    addr: int | None
    fields: dict[str, str] = field(default_factory=dict)  # every key=value of the PC= line
    goroutines: list[GoroutineTrace] = field(default_factory=list)  # g0/gsignal and this M's curg
    registers: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. "signal arrived during cgo execution"


@dataclass
class Traceback:
    message: str
    goroutines: list[GoroutineTrace]  # every block with a non-zero id, print order, duplicates kept
    threads: list[ThreadTrace]
    signal: SignalInfo | None = None
    runtime_stack: list[FrameTrace] = field(default_factory=list)
    unparsed: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, text)
    zero_blocks: list[GoroutineTrace] = field(default_factory=list)  # id 0 blocks outside thread sections

    def all_blocks(self) -> list[GoroutineTrace]:
        """Every goroutine block printed (one per header line), in print order."""
        blocks = list(self.goroutines) + list(self.zero_blocks)
        for thread in self.threads:
            blocks.extend(g for g in thread.goroutines if g.id == 0)
        return sorted(blocks, key=lambda g: g.line_number)

    def goroutine_ids(self) -> set[int]:
        return {g.id for g in self.goroutines}

    def by_id(self) -> dict[int, GoroutineTrace]:
        """One merged record per goroutine id (see :func:`merge_goroutine`)."""
        merged: dict[int, GoroutineTrace] = {}
        for block in self.goroutines:
            previous = merged.get(block.id)
            merged[block.id] = block if previous is None else merge_goroutine(previous, block)
        return merged

    def goroutine(self, goid: int) -> GoroutineTrace:
        return self.by_id()[goid]


def merge_goroutine(first: GoroutineTrace, second: GoroutineTrace) -> GoroutineTrace:
    """Combine two blocks printed for the same goroutine.

    A goroutine running on another thread is printed once with "stack
    unavailable" and again, with frames, in that thread's section; the
    result takes frames from whichever block has them and fills any field
    the other one lacks.
    """
    if first.id != second.id:
        raise ValueError(f"cannot merge goroutine {first.id} with {second.id}")
    with_frames, other = (second, first) if (second.frames and not first.frames) else (first, second)
    return GoroutineTrace(
        id=first.id,
        state=with_frames.state or other.state,
        raw_header=with_frames.raw_header,
        gp=with_frames.gp if with_frames.gp is not None else other.gp,
        m=with_frames.m if with_frames.m is not None else other.m,
        mp=with_frames.mp if with_frames.mp is not None else other.mp,
        wait_minutes=max(first.wait_minutes, second.wait_minutes),
        locked_to_thread=first.locked_to_thread or second.locked_to_thread,
        synctest_bubble=with_frames.synctest_bubble
        if with_frames.synctest_bubble is not None
        else other.synctest_bubble,
        labels=with_frames.labels or other.labels,
        frames=list(with_frames.frames),
        created_by=with_frames.created_by or other.created_by,
        stack_unavailable=first.stack_unavailable and second.stack_unavailable,
        elided=with_frames.elided,
        elided_unknown=with_frames.elided_unknown,
        elided_at=with_frames.elided_at,
        thread_m=with_frames.thread_m if with_frames.thread_m is not None else other.thread_m,
        line_number=with_frames.line_number,
    )


# ---------------------------------------------------------------------------
# Line shapes

_HEADER = re.compile(
    r"^goroutine (?P<id>\d+)"
    r"(?: gp=(?P<gp>0x[0-9a-fA-F]+))?"
    r"(?: m=(?P<m>\d+|nil))?"
    r"(?: mp=(?P<mp>0x[0-9a-fA-F]+))?"
    r" \[(?P<state>[^\]]*)\]"
    r"(?: \{(?P<labels>.*)\})?"
    r":$"
)
_MINUTES = re.compile(r", (\d+) minutes")
_LOCKED = ", locked to thread"
_BUBBLE = re.compile(r", synctest bubble (\d+)")
_FRAME = re.compile(r"^(?P<function>\S.*)\((?P<args>[^()]*)\)$")
_FILE_LINE = re.compile(
    r"^\t(?P<file>.*):(?P<line>\d+)"
    r"(?: \+0x(?P<offset>[0-9a-fA-F]+))?"
    r"(?: fp=0x(?P<fp>[0-9a-fA-F]+) sp=0x(?P<sp>[0-9a-fA-F]+) pc=0x(?P<pc>[0-9a-fA-F]+))?"
    r"\s*$"
)
_CREATED_BY = re.compile(r"^created by (?P<function>.+?)(?: in goroutine (?P<goroutine>\d+))?$")
_ELIDED_COUNT = re.compile(r"^\.\.\.(\d+) frames elided\.\.\.$")
_ELIDED_UNKNOWN = "...additional frames elided..."
_STACK_UNAVAILABLE = "\tgoroutine running on other thread; stack unavailable"
_SIGNAL_LINE = re.compile(
    r"^\[signal (?P<name>.+?)(?: code=(?P<code>-?0x[0-9a-fA-F]+|-?\d+))?"
    r"(?: addr=(?P<addr>0x[0-9a-fA-F]+))?(?: pc=(?P<pc>0x[0-9a-fA-F]+))?\]$"
)
# "SIGQUIT: quit" (sigtable name) or "Signal 42" for signals without a name.
_THREAD_SIGNAL = re.compile(r"^(?:SIG[A-Z0-9]+: .+|Signal \d+)$")
_PC_LINE = re.compile(r"^PC=0x[0-9a-fA-F]+ m=")
_KEY_VALUE = re.compile(r"(\w+)=(\S+)")
_REGISTER = re.compile(r"^(?P<name>[a-z][a-z0-9]*)\s+(?P<value>0x[0-9a-fA-F]+)$")
_SEPARATOR = "-----"
_RUNTIME_STACK = "runtime stack:"


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _hex(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


def parse_labels(text: str) -> dict[str, str]:
    """Parse ``key: value, "k 2": "v, 2"`` (Go-quoted when needed) into a dict."""
    labels: dict[str, str] = {}
    tokens = _label_tokens(text)
    index = 0
    while index + 2 < len(tokens):
        key, colon, value = tokens[index : index + 3]
        if key[0] != "word" or colon != ("punct", ":") or value[0] != "word":
            break
        labels[key[1]] = value[1]
        index += 3
        if index < len(tokens) and tokens[index] == ("punct", ","):
            index += 1
        else:
            break
    return labels


def _label_tokens(text: str) -> list[tuple[str, str]]:
    """Split label text into ("word", text) (quoted ones unescaped) and ("punct", ":" or ",")."""
    tokens: list[tuple[str, str]] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch in ":,":
            tokens.append(("punct", ch))
            i += 1
        elif ch == '"':
            i, value = _read_quoted(text, i)
            tokens.append(("word", value))
        else:
            start = i
            while i < n and text[i] not in ":, ":
                i += 1
            tokens.append(("word", text[start:i]))
    return tokens


def _read_quoted(text: str, start: int) -> tuple[int, str]:
    """Read a Go-quoted string starting at the opening quote."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while i < n:
        ch = text[i]
        if ch == '"':
            return i + 1, "".join(out)
        if ch == "\\" and i + 1 < n:
            escape = text[i + 1]
            if escape in simple:
                out.append(simple[escape])
                i += 2
                continue
            widths = {"x": 2, "u": 4, "U": 8}
            if escape in widths:
                digits = text[i + 2 : i + 2 + widths[escape]]
                try:
                    out.append(chr(int(digits, 16)))
                    i += 2 + widths[escape]
                    continue
                except ValueError:
                    pass
        out.append(ch)
        i += 1
    return n, "".join(out)  # unterminated: keep what we have


def parse_header(line: str) -> GoroutineTrace | None:
    """Parse one ``goroutine N ...:`` header line, or None if it is not one."""
    match = _HEADER.match(line)
    if match is None:
        return None
    state = match["state"]
    wait_minutes = 0
    minutes = _MINUTES.search(state)
    if minutes:
        wait_minutes = int(minutes.group(1))
        state = state[: minutes.start()] + state[minutes.end() :]
    locked = _LOCKED in state
    state = state.replace(_LOCKED, "")
    bubble = _BUBBLE.search(state)
    synctest_bubble = None
    if bubble:
        synctest_bubble = int(bubble.group(1))
        state = state[: bubble.start()] + state[bubble.end() :]
    m_text = match["m"]
    return GoroutineTrace(
        id=int(match["id"]),
        state=state,
        raw_header=line,
        gp=_int(match["gp"]),
        m=None if m_text in (None, "nil") else int(m_text),
        mp=_int(match["mp"]),
        wait_minutes=wait_minutes,
        locked_to_thread=locked,
        synctest_bubble=synctest_bubble,
        labels=parse_labels(match["labels"]) if match["labels"] else {},
    )


# ---------------------------------------------------------------------------
# The parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.message_lines: list[str] = []
        self.signal: SignalInfo | None = None
        self.goroutines: list[GoroutineTrace] = []
        self.zero_blocks: list[GoroutineTrace] = []
        self.threads: list[ThreadTrace] = []
        self.runtime_stack: list[FrameTrace] = []
        self.unparsed: list[tuple[int, str]] = []
        # Where frames and file lines currently go.
        self.block: GoroutineTrace | None = None
        self.in_runtime_stack = False
        self.thread: ThreadTrace | None = None
        self.thread_blocks = 0  # blocks seen in the current thread section
        self.seen_structure = False  # past the message preamble
        self.expect_created_file = False
        self.last_frame: FrameTrace | None = None

    def parse(self) -> Traceback:
        for index, line in enumerate(self.lines):
            self._line(index + 1, line, self.lines[index + 1] if index + 1 < len(self.lines) else "")
        message = "\n".join(self.message_lines).strip("\n")
        return Traceback(
            message=message,
            goroutines=self.goroutines,
            threads=self.threads,
            signal=self.signal,
            runtime_stack=self.runtime_stack,
            unparsed=self.unparsed,
            zero_blocks=self.zero_blocks,
        )

    # -- dispatch -----------------------------------------------------------

    def _line(self, number: int, line: str, next_line: str) -> None:
        if not line.strip():
            self.expect_created_file = False
            return
        header = parse_header(line)
        if header is not None:
            self._start_block(header, number)
            return
        if line == _RUNTIME_STACK:
            self._start_runtime_stack()
            return
        if line == _SEPARATOR:
            self._end_context()
            self.thread = None
            return
        if _THREAD_SIGNAL.match(line) and _PC_LINE.match(next_line):
            self._start_thread(line)
            return
        if self.thread is not None and _PC_LINE.match(line) and self.thread.pc is None:
            self._thread_fields(line)
            return
        signal = _SIGNAL_LINE.match(line)
        if signal is not None and self.signal is None and self.block is None:
            self.signal = SignalInfo(
                name=signal["name"],
                code=_int(signal["code"]),
                addr=_int(signal["addr"]),
                pc=_int(signal["pc"]),
                raw=line,
            )
            return
        if self.block is not None or self.in_runtime_stack:
            if self._stack_line(line):
                return
        if self.thread is not None:
            register = _REGISTER.match(line)
            if register is not None:
                self.thread.registers[register["name"]] = int(register["value"], 16)
                self._end_context()
                return
            if self.thread.pc is not None and not self.thread.goroutines and self.block is None:
                self.thread.notes.append(line)
                return
        if not self.seen_structure:
            self.message_lines.append(line)
            return
        self.unparsed.append((number, line))

    # -- contexts -----------------------------------------------------------

    def _end_context(self) -> None:
        self.block = None
        self.in_runtime_stack = False
        self.last_frame = None
        self.expect_created_file = False

    def _start_block(self, header: GoroutineTrace, number: int) -> None:
        self._end_context()
        self.seen_structure = True
        header.line_number = number
        self.block = header
        if self.thread is not None:
            header.thread_m = self.thread.m
            first_in_section = self.thread_blocks == 0
            # The first section of a signal crash also lists every other
            # goroutine (tracebackothers); only the signalled goroutine and
            # blocks naming this M belong to the thread.  Later sections only
            # print their own goroutines.
            is_first_section = len(self.threads) == 1
            belongs = first_in_section or not is_first_section or (header.m is not None and header.m == self.thread.m)
            if belongs:
                self.thread.goroutines.append(header)
            else:
                header.thread_m = None
            self.thread_blocks += 1
            if header.id == 0 and belongs:
                return
        if header.id == 0:
            self.zero_blocks.append(header)
        else:
            self.goroutines.append(header)

    def _start_runtime_stack(self) -> None:
        self._end_context()
        self.seen_structure = True
        self.in_runtime_stack = True

    def _start_thread(self, line: str) -> None:
        self._end_context()
        if not self.seen_structure and not self.message_lines:
            self.message_lines.append(line)
        self.seen_structure = True
        self.thread = ThreadTrace(signal=line, m=None, pc=None, sigcode=None, addr=None)
        self.threads.append(self.thread)
        self.thread_blocks = 0

    def _thread_fields(self, line: str) -> None:
        assert self.thread is not None
        fields = dict(_KEY_VALUE.findall(line))
        self.thread.fields = fields
        self.thread.pc = _int(fields.get("PC"))
        self.thread.m = _int(fields.get("m"))
        self.thread.sigcode = _int(fields.get("sigcode"))
        self.thread.addr = _int(fields.get("addr"))

    # -- frames -------------------------------------------------------------

    def _frames(self) -> list[FrameTrace]:
        if self.block is not None:
            return self.block.frames
        return self.runtime_stack

    def _stack_line(self, line: str) -> bool:
        """Handle a line inside a goroutine block or runtime stack; False if unknown."""
        file_line = _FILE_LINE.match(line)
        if file_line is not None:
            return self._file_line(file_line)
        self.expect_created_file = False
        if line == _STACK_UNAVAILABLE and self.block is not None:
            self.block.stack_unavailable = True
            return True
        created = _CREATED_BY.match(line)
        if created is not None and self.block is not None:
            self.block.created_by = CreatedBy(function=created["function"], goroutine=_int(created["goroutine"]))
            self.expect_created_file = True
            self.last_frame = None
            return True
        elided = _ELIDED_COUNT.match(line)
        if elided is not None or line == _ELIDED_UNKNOWN:
            if self.block is not None:
                if elided is not None:
                    self.block.elided += int(elided.group(1))
                else:
                    self.block.elided_unknown = True
                self.block.elided_at = len(self.block.frames)
            self.last_frame = None
            return True
        frame = _FRAME.match(line)
        if frame is not None and not line.startswith(("\t", " ")):
            new = FrameTrace(function=frame["function"], args_text=frame["args"])
            self._frames().append(new)
            self.last_frame = new
            return True
        return False

    def _file_line(self, match: re.Match[str]) -> bool:
        file, line_number = match["file"], int(match["line"])
        offset, fp, sp, pc = _hex(match["offset"]), _hex(match["fp"]), _hex(match["sp"]), _hex(match["pc"])
        if self.expect_created_file and self.block is not None and self.block.created_by is not None:
            created = self.block.created_by
            created.file, created.line, created.offset = file, line_number, offset
            self.expect_created_file = False
            return True
        frame = self.last_frame
        if frame is None or frame.file is not None:
            return False
        frame.file, frame.line, frame.offset = file, line_number, offset
        frame.fp, frame.sp, frame.pc = fp, sp, pc
        # traceback2 prints "(...)" and neither offset nor fp/sp/pc for inlined frames.
        frame.inlined = frame.args_text == "..." and offset is None and pc is None
        return True


def parse_traceback(text: str) -> Traceback:
    """Parse a Go runtime traceback (any GOTRACEBACK level, Go 1.19 to 1.27)."""
    return _Parser(text).parse()


def count_headers(text: str) -> int:
    """Goroutine header lines, counted independently of the parser."""
    return len(re.findall(r"(?m)^goroutine \d+ ", text))


__all__ = [
    "CreatedBy",
    "FrameTrace",
    "GoroutineTrace",
    "SignalInfo",
    "ThreadTrace",
    "Traceback",
    "count_headers",
    "merge_goroutine",
    "parse_header",
    "parse_labels",
    "parse_traceback",
]
