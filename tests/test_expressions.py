"""Go expressions (`go print EXPR`, gdb's `print` fallback, `$go()`): every form
of the expression language and every error message, on the exprs fixture,
offline and in gdb and lldb (one batched debugger run per core).  The
expectations are written from tests/programs/exprs/main.go, not from goext's
output."""

from __future__ import annotations

import re
from typing import Union

import pytest

from goext_core.commands import Context, dispatch
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.cores import kernel_core
from support.debuggers import require_gdb, run_gdb, run_lldb

VERSIONS = ("1.19", "1.22", "1.27")
PTR = r"0x[0-9a-f]+"
Expected = Union[str, "re.Pattern[str]"]

# (expression, what go print prints), globals only: the same in every flavour.
GLOBALS: list[tuple[str, Expected]] = [
    # maps by key: ints, strings, floats, bools, runes, structs, arrays, interfaces, pointers, nil
    ("gInts[42]", '"forty-two"'),
    ("gInts[-7]", '"minus seven"'),
    ('gStrs["rps"]', "100"),
    ('gStrs[""]', "-1"),
    ("gPoints[main.Point{X: 1, Y: 2}]", '"a"'),
    ("gPoints[Point{3, 4}]", '"b"'),
    ("gArrKeys[[2]int{1, 2}]", "true"),
    ("gArrKeys[[2]int{}]", "false"),
    ("gFloats[1.5]", '"one and a half"'),
    ("gFloats[-2]", '"minus two"'),
    ("gBools[false]", "0"),
    ("gRunes['é']", "233"),
    ("gIfaceKeys[1]", '"int one"'),
    ('gIfaceKeys["s"]', '"string s"'),
    ("gIfaceKeys[main.Point{X: 5, Y: 6}]", '"a point"'),
    ("gIfaceKeys[nil]", '"nil key"'),
    ("gIfaceKeys[2.5]", '"float"'),
    ('gLabelKeys[main.Labelled{Name: "l", Point: main.Point{X: 1, Y: 1}, Tags: [2]int8{-1, 1}}]', "7"),
    ("gBigKeys[main.BigKey{2, 3}]", "23"),  # keys over 128 bytes are stored indirectly
    ("gBigKeys[BigKey{1}]", "1"),
    ("gPtrKeys[&gPoint]", "9"),  # a key given by another expression
    ("gPtrKeys[gPointPtr]", "9"),
    ('gNested["outer"]["inner"]', "5"),
    ('gCfg.Limits["rps"]', "10"),
    ('gCfgPtr.Limits["conns"]', "3"),
    ("gManyInts[250]", "62500"),
    ("gManyInts[gInt*10]", "4900"),
    ("gIfaceKeys[gInt - 6]", '"int one"'),  # a typed int as an interface key: type and value compared
    ("len(gIfaceKeys)", "5"),
    ("len(never)", "0"),
    ("cap(never)", "0"),
    # strings, slices, arrays, pointers to arrays
    ("gStr[1]", "195"),
    ("gStr[0:5]", '"héll"'),
    ("gStr[7:]", '" world"'),
    ("len(gStr)", "13"),
    ("len(gEmptyStr)", "0"),
    ("gSlice[1:3]", "[]int len 2 cap 4 [20, 30]"),
    ("gSlice[:2]", "[]int len 2 cap 5 [10, 20]"),
    ("gSlice[1:2:3]", "[]int len 1 cap 2 [20]"),
    ("cap(gSlice[1:2:3])", "2"),
    ("gSlice[len(gSlice)-1]", "50"),
    ("gSubSlice[2:3]", "[]int len 1 cap 2 [40]"),  # reslicing up to the capacity, as Go allows
    ("len(gNilSlice)", "0"),
    ("gArr[2]", "3"),
    ("gArr[1:3]", "[]int len 2 cap 4 [2, 3]"),
    ("gArrPtr[4]", "5"),
    ("gArrPtr[1:]", "[]int len 4 cap 4 [2, 3, 4, 5]"),
    ("len(gArrPtr)", "5"),
    ("gMatrix[1][0]", "3"),
    ("gPoints2[1].Y", "4"),
    ("string(gBytes)", '"bytes!"'),
    ("[]byte(gStr[0:2])", "[]uint8 len 2 cap 2 [104, 195]"),
    # pointers, address-of, dereference
    ("*gPointPtr", "main.Point{X: 11, Y: 22}"),
    ("**gPointPtr2", "main.Point{X: 11, Y: 22}"),
    ("(*gPointPtr2).X", "11"),
    ("gPointPtr.X", "11"),
    ("&gPoint", re.compile(rf"\(\*main\.Point\)\({PTR}\) → \{{X: 11, Y: 22\}}")),
    ("&gArr[1]", re.compile(rf"\(\*int\)\({PTR}\) → 2")),
    # interfaces: fields through the dynamic value, assertions, x.(type)
    ("gShape.W", "3"),
    ("gShape.(*main.Rect).H", "4"),
    ("gShape.(type)", "*main.Rect"),
    ("gAny.X", "7"),
    ("gAny.(main.Point).Y", "8"),
    ("gAnyInt.(int)", "42"),
    ("gAnyStr.(string)", '"boxed"'),
    ("gNilAny.(type)", "nil"),
    # complex numbers, conversions, unsafe.Pointer
    ("gComplex", "(1.5-2i)"),
    ("real(gComplex)", "1.5"),
    ("real(2)", "2"),  # an untyped constant is a complex one
    ("imag(2.5)", "0"),
    ('"abc"[1]', "98"),  # constant strings index and slice too
    ('"héllo"[1:3]', '"é"'),
    ("imag(gComplex64)", "4"),
    ("*(*main.Point)(gUnsafe)", "main.Point{X: 11, Y: 22}"),
    ("(*main.Point)(gUnsafe).Y", "22"),
    ("*(*main.Point)(unsafe.Pointer(gUintptr))", "main.Point{X: 11, Y: 22}"),
    ("float64(gCelsius)", "36.6"),
    ("int(gCelsius)", "36"),
    ("uint8(gNeg)", "253"),
    # arithmetic and comparisons
    ("gInt*3 + 1", "22"),
    ("gNeg / 2", "-1"),
    ("gNeg % 2", "-1"),
    ("gUint8 + 100", "44"),
    ("gInt == 7 && gBool", "true"),
    ("gInt > 10 || !gBool", "false"),
    ('gStr[0:1] == "h"', "true"),
    # Go's selector rule: the shallowest depth wins, through embedded pointers; self-embedding ends
    ("gOuter.Name", '"outer"'),
    ("gOuter.Shared", '"middle"'),
    ("gOuter.Middle.Inner.Shared", '"inner"'),
    ("gOuter.Deep", "3"),
    ("gOuter.Mid", "2"),
    ("gOuter.LeftOnly", "11"),
    ("gOuter.Right.Dup", "2"),
    ("gSelf.Val", "1"),
    ("gSelf.Self.Val", "2"),
    ("gSelfValue.Val", "5"),
    # package names
    ("main.gInt", "7"),
    ('"main".gInt', "7"),
    ("runtime.buildVersion", re.compile(r'"go1\.\d+(\.\d+)?"')),
]

# (expression, the error line go print writes): one line each, Go's wording where Go has one.
ERRORS: list[tuple[str, str]] = [
    ("gInts[5]", "goext: error: go print: key 5 not found in gInts"),
    ('gNilMap["x"]', 'goext: error: go print: key "x" not found: gNilMap is a nil map'),
    ('gInts["x"]', 'goext: error: go print: cannot use "x" (string constant) as int value'),
    ("gPoints[main.Point{Z: 1}]", "goext: error: go print: unknown field Z in struct literal of type main.Point"),
    ("gSlice[9]", "goext: error: go print: index 9 out of range: gSlice has length 5"),
    ("gArr[-1]", "goext: error: go print: index -1 out of range: gArr has length 5"),
    ("gStr[13]", "goext: error: go print: index 13 out of range: gStr has length 13"),
    ("gSlice[1:9]", "goext: error: go print: slice bounds out of range [:9] with capacity 5 (gSlice)"),
    ("gSlice[3:1]", "goext: error: go print: slice bounds out of range [3:1] (gSlice)"),
    ("gStr[1:2:3]", "goext: error: go print: invalid operation: 3-index slice of string (gStr[1:2:3])"),
    ("gSlice[1.5]", "goext: error: go print: invalid argument: index 1.5 (untyped float constant) must be integer"),
    ("*gNilPtr", "goext: error: go print: nil pointer dereference: gNilPtr is nil"),
    ("gNilPtr.X", "goext: error: go print: nil pointer dereference: gNilPtr is nil"),
    ("gOuterNilMiddle.Mid", "goext: error: go print: nil pointer dereference: gOuterNilMiddle.Middle is nil"),
    (
        "*gUnsafe",
        "goext: error: go print: cannot dereference gUnsafe (unsafe.Pointer): convert it first, e.g. *(*T)(gUnsafe)",
    ),
    ("*gInt", "goext: error: go print: invalid operation: cannot indirect gInt (variable of type int)"),
    (
        "gOuter.Dup",
        "goext: error: go print: ambiguous selector gOuter.Dup: "
        "Outer.Left.Dup and Outer.Right.Dup are at the same depth",
    ),
    ("gOuter.Nope", "goext: error: go print: gOuter.Nope undefined (type main.Outer has no field or method Nope)"),
    (
        "gSelf.Missing",
        "goext: error: go print: gSelf.Missing undefined (type *main.Self has no field or method Missing)",
    ),
    (
        "gSelfValue.Missing",
        "goext: error: go print: gSelfValue.Missing undefined (type main.Self has no field or method Missing)",
    ),
    ("gPointPtr2.X", "goext: error: go print: gPointPtr2.X undefined (type **main.Point has no field or method X)"),
    ("gShape.(main.Rect)", "goext: error: go print: interface conversion: gShape holds *main.Rect, not main.Rect"),
    ("gNilAny.(int)", "goext: error: go print: interface conversion: gNilAny is nil, not int"),
    ("gInt.(int)", "goext: error: go print: invalid operation: gInt (int) is not an interface"),
    ("gShape.(main.Nope)", "goext: error: go print: no type named 'main.Nope'"),
    ("gShape.Area()", "goext: error: go print: calling functions is not supported"),
    ("parked.Wait", "goext: error: go print: parked.Wait is a method: calling functions is not supported"),
    ("fmt.Sprint(gInt)", "goext: error: go print: calling functions is not supported"),
    ("append(gSlice, 1)", "goext: error: go print: calling append is not supported"),
    (
        "cap(gInts)",
        "goext: error: go print: invalid argument: gInts (variable of type map[int]string) for built-in cap",
    ),
    ("real(gInt)", "goext: error: go print: invalid argument: gInt (int) is not a complex number"),
    ("gInt / 0", "goext: error: go print: invalid operation: division by zero (gInt / 0)"),
    ("&1", "goext: error: go print: cannot take the address of 1: a constant"),
    ("nope", "goext: error: go print: no variable named 'nope'"),
    ("nope.X", "goext: error: go print: no variable named 'nope', and no package variable named 'nope.X'"),
    (
        "gInt +",
        "goext: error: go print: cannot parse 'gInt +': expected an operand, found end of expression at column 7",
    ),
    (
        "gInts[",
        "goext: error: go print: cannot parse 'gInts[': expected an operand, found end of expression at column 7",
    ),
]

# Locals of main.holdExprs (go print -g ID -f FRAME): right in unoptimized builds; in
# optimized builds each is right or said to be optimized out / not live, never wrong.
LOCALS: list[tuple[str, Expected]] = [
    ("localInt", "3"),
    ("localStr[1:3]", '"oc"'),
    ("localSlice[2]", '"c"'),
    ('localMap["p"].Y', "9"),
    ("localOuter.Mid", "4"),
    ("localOuter.Name", '"local-outer"'),
    ("localShape.W", "5"),
    ("localShape.(*main.Rect).H", "6"),
    ("escaped", "main.Point{X: 5, Y: 6}"),  # moved to the heap: DWARF names it &escaped
    ("escaped.Y", "6"),
    ("&escaped", re.compile(rf"\(\*main\.Point\)\({PTR}\) → \{{X: 5, Y: 6\}}")),
    ("localInt + gInt", "10"),
]
UNKNOWN_LOCAL = re.compile(r"goext: error: go print: (\w+ is (partly )?optimized out|no variable named '\w+')")


def matches(expected: Expected, text: str) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.fullmatch(text) is not None
    return text == expected


def _program(version: str, flavour: str) -> GoProgram:
    artifact = kernel_core("exprs", version, flavour, "panic")
    return GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))


def _print(program: GoProgram, arguments: str) -> str:
    out: list[str] = []
    dispatch(Context(lambda: program), "print", arguments, out.append)
    return "".join(out).strip()


def _hold_frame(program: GoProgram) -> tuple[int, int]:
    for record in program.goroutines():
        for index, frame in enumerate(program.stack(record).frames):
            if frame.function == "main.holdExprs":
                return record.id, index
    raise AssertionError("no goroutine in main.holdExprs")


def _wrong(pairs: list[tuple[str, Expected]], outputs: list[str]) -> list[str]:
    return [
        f"{expression}: got {output!r}, want {getattr(expected, 'pattern', expected)!r}"
        for (expression, expected), output in zip(pairs, outputs)
        if not matches(expected, output)
    ]


def _wrong_locals(outputs: list[str], flavour: str) -> list[str]:
    wrong = []
    for (expression, expected), output in zip(LOCALS, outputs):
        if matches(expected, output):
            continue
        if flavour != "noopt" and UNKNOWN_LOCAL.search(output):
            continue  # optimized: said unknown, not guessed
        wrong.append(f"local {expression}: got {output!r}")
    return wrong


@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("default", "noopt")
def test_every_expression_form_offline(go_version, flavour):
    program = _program(go_version, flavour)
    wrong = _wrong(GLOBALS, [_print(program, expression) for expression, _ in GLOBALS])
    wrong += _wrong(list(ERRORS), [_print(program, expression) for expression, _ in ERRORS])
    goid, frame = _hold_frame(program)
    wrong += _wrong_locals([_print(program, f"-g {goid} -f {frame} {expression}") for expression, _ in LOCALS], flavour)
    assert not wrong, "\n".join(wrong)


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("noopt")
def test_options_and_quoting(go_version, flavour):
    program = _program(go_version, flavour)
    goid, frame = _hold_frame(program)
    assert _print(program, "'gStrs[\"rps\"]'") == "100"  # quoted whole, as gdb users quote names
    assert _print(program, "-- -gInt") == "-7"
    assert _print(program, f"-g {goid} localInt") == "3"  # the first frame of the program's own code
    assert '"value": "100"' in _print(program, '--json gStrs["rps"]')
    assert _print(program, "--max-elements 1 gSlice[1:]") == "[]int len 4 cap 4 [20, …(3 more)]"
    assert _print(program, f"-g {goid} -f {frame} localShape.(type)") == "*main.Rect"
    address = program.binary.symbol("main.gPoint")
    assert _print(program, f"--type main.Point {address:#x}") == "main.Point{X: 11, Y: 22}"
    assert _print(program, f"(*main.Point)({address:#x}).Y") == "22"
    assert _print(program, "-f 1 gInt") == "goext: error: go print: -f needs -g ID"


def _goroutine_in(program: GoProgram, function: str) -> int:
    for record in program.goroutines():
        if any(frame.function == function for frame in program.stack(record).frames):
            return record.id
    raise AssertionError(f"no goroutine in {function}")


@pytest.mark.go_versions("1.22", "1.27")
@pytest.mark.flavours("default", "noopt")
def test_inlined_closure_sees_its_captured_variables(go_version, flavour):
    """main.holdClosure parks in a closure literal it calls: the default frame is
    the closure's (inlined when optimized, with no DWARF variables of its own),
    and its captured variables and the string argument spilled in DWARF pieces
    are usable in expressions."""
    program = _program(go_version, flavour)
    goid = _goroutine_in(program, "main.holdClosure.func1")
    assert _print(program, f"-g {goid} count") == "7"
    assert _print(program, f"-g {goid} tag") == '"dir"'
    assert _print(program, f"-g {goid} tag[1:]") == '"ir"'
    assert _print(program, f"-g {goid} tag[0]") == "100"
    words = _print(program, f"-g {goid} words")
    assert words == '[]string len 3 cap 4 ["p", "q", "dir"]' or (
        flavour == "default" and "optimized out" in words and "cap 4" in words
    ), words
    assert _print(program, f"-g {goid} nope") == "goext: error: go print: no variable named 'nope'"


# -- gdb and lldb: the same table, one batched run per core ---------------------------------
_DEBUGGER_GLOBALS = GLOBALS[::2]  # every other form keeps each run short; offline covers them all
_DEBUGGER_ERRORS = ERRORS[::3]


def _debugger_commands(goid: int, frame: int) -> list[str]:
    return (
        [f"go print {expression}" for expression, _ in _DEBUGGER_GLOBALS]
        + [f"go print {expression}" for expression, _ in _DEBUGGER_ERRORS]
        + [f"go print -g {goid} -f {frame} {expression}" for expression, _ in LOCALS]
    )


def _debugger_wrong(outputs: list[str], flavour: str) -> list[str]:
    outputs = [output.strip().splitlines()[-1] if output.strip() else "" for output in outputs]
    globals_end = len(_DEBUGGER_GLOBALS)
    errors_end = globals_end + len(_DEBUGGER_ERRORS)
    wrong = _wrong(_DEBUGGER_GLOBALS, outputs[:globals_end])
    # Each debugger words the error line its own way ("error: goext: ..."): compare from "go print:".
    errors = [(expression, message[message.index("go print:") :]) for expression, message in _DEBUGGER_ERRORS]
    got_errors = [output[output.find("go print:") :] for output in outputs[globals_end:errors_end]]
    wrong += _wrong(list(errors), got_errors)
    return wrong + _wrong_locals(outputs[errors_end:], flavour)


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions(*VERSIONS)
@pytest.mark.flavours("noopt")
def test_expressions_and_print_in_gdb(go_version, flavour):
    require_gdb()
    artifact = kernel_core("exprs", go_version, flavour, "panic")
    goid, frame = _hold_frame(_program(go_version, flavour))
    extra = [
        # gdb's own print speaks Go names where gdb falls short
        "print main.gInt",
        'print gStrs["rps"]',
        "print gOuter.Shared",
        "print gSlice[1:3]",
        "print gShape.(*main.Rect).W",
        'print $go("gPoints[main.Point{X: 1, Y: 2}]")',
        'print $go("len(gSlice)") + 1',
        "print &gPoint",
        f"goroutine {goid} frame {frame} print escaped.Y",
        f'goroutine {goid} frame {frame} print localMap["p"]',
        "print gOuter.Dup",
        'print $go("gArr")[4]',  # gdb's value of an array type DWARF does not name
        "python print(gdb.parse_and_eval('$go(\"&gInt\")').dereference().type.sizeof)",  # Go's int, not C's
        "print 1 + 2",
        "print/x 255",
        "print $len(main.gSlice)",
        "print $len(1)",
        "set goext-print off",
        "print gSlice[1:3]",
    ]
    result = run_gdb(_debugger_commands(goid, frame) + extra, exe=artifact.exe, core=artifact.core)
    outputs = result.outputs
    count = len(outputs) - len(extra)
    wrong = _debugger_wrong(outputs[:count], flavour)
    last = [output.strip().splitlines()[-1] if output.strip() else "" for output in outputs[count:]]
    want: list[Expected] = [
        re.compile(r"\$\d+ = 7"),
        re.compile(r"\$\d+ = 100"),
        re.compile(r'\$\d+ = "middle"'),
        "[]int len 2 cap 4 [20, 30]",
        re.compile(r"\$\d+ = 3"),
        re.compile(r'\$\d+ = "a"'),
        re.compile(r"\$\d+ = 6"),
        re.compile(rf"\$\d+ = \(\*main\.Point\)\({PTR}\) → \{{X: 11, Y: 22\}}"),
        re.compile(r"\$\d+ = 6"),
        re.compile(r"\$\d+ = main\.Point\{X: 8, Y: 9\}"),
        re.compile(r".*\(goext: ambiguous selector gOuter\.Dup: Outer\.Left\.Dup and Outer\.Right\.Dup .*\)"),
        re.compile(r"\$\d+ = 5"),
        "8",
        re.compile(r"\$\d+ = 3"),
        re.compile(r"\$\d+ = 0xff"),
        re.compile(r"\$\d+ = 5"),
        "$len: int has no length",  # gdb's error alone: goext does not evaluate $ expressions
        "",
        'No symbol "gSlice" in current context.',
    ]
    wrong += [
        f"{command}: got {got!r}, want {getattr(expected, 'pattern', expected)!r}"
        for command, got, expected in zip(extra, last, want)
        if not matches(expected, got)
    ]
    assert "Traceback" not in result.transcript(), result.transcript()[-3000:]
    assert not wrong, "\n".join(wrong) + "\n" + result.transcript()[-3000:]


@pytest.mark.e2e
@pytest.mark.gdb
@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("default")
def test_gdb_functions_on_optimized_out_values_say_so(go_version, flavour):
    """$len/$cap/$dtype on what the compiler dropped: one gdb error line, no Python exception text."""
    require_gdb()
    artifact = kernel_core("exprs", go_version, flavour, "panic")
    goid, frame = _hold_frame(_program(go_version, flavour))
    commands = [
        f"goroutine {goid} frame {frame} print $len(localSlice)",
        f"goroutine {goid} frame {frame} print $cap(localSlice)",
        f"goroutine {goid} frame {frame} print $dtype(localShape)",
        "print $len(main.gInt)",
        "print $dtype(1)",
    ]
    result = run_gdb(commands, exe=artifact.exe, core=artifact.core)
    for command, output in zip(commands, result.outputs):
        text = output.strip()
        assert "Traceback" not in text and "<class" not in text.replace("<class 'gdb.error'>", ""), (command, text)
        assert re.search(r"\$(len|cap|dtype): ", text) or re.search(r"\$\d+ = ", text), (command, text)


@pytest.mark.e2e
@pytest.mark.gdb
def test_print_in_c_programs_is_gdb_s_own():
    """The print wrapper changes nothing where there is no Go: C programs keep gdb's values and messages."""
    require_gdb()
    commands = ["print sizeof(int)", "print nosuch", "print 1 +", "p 2*3", "print/x 16", "print -pretty -- 5"]
    plain = run_gdb(commands, exe="/bin/true", load_goext=False).outputs
    wrapped = run_gdb(commands, exe="/bin/true").outputs
    assert [o.strip() for o in wrapped] == [o.strip() for o in plain]
    assert not any("goext" in output for output in wrapped)


@pytest.mark.e2e
@pytest.mark.lldb
@pytest.mark.go_versions("1.19", "1.27")
@pytest.mark.flavours("noopt")
def test_expressions_in_lldb(go_version, flavour):
    artifact = kernel_core("exprs", go_version, flavour, "panic")
    goid, frame = _hold_frame(_program(go_version, flavour))
    result = run_lldb(_debugger_commands(goid, frame), exe=artifact.exe, core=artifact.core)
    wrong = _debugger_wrong(result.outputs, flavour)
    assert not wrong, "\n".join(wrong) + "\n" + result.transcript()[-3000:]
