"""Shared pytest configuration: the Go version x flavour matrix and imports.

Options:
  --go-versions=1.22,1.24   Go releases to test (default: every GO_VERSIONS key)
  --flavours=default,noopt  build flavours (default: all of support.build.FLAVOURS)
  --quick                   preset: Go 1.22 and 1.27, default flavour only

A test that takes a ``go_version`` or ``flavour`` argument is parametrized
over the selection.  ``@pytest.mark.go_versions("1.19", "1.27")`` and
``@pytest.mark.flavours("default")`` narrow that to the intersection.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
for path in (REPO_ROOT / "common", TESTS_DIR):  # goext_core and the support package
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support import Unavailable  # noqa: E402
from support.build import FLAVOURS, PROGRAMS, build  # noqa: E402
from support.toolchains import GO_VERSIONS  # noqa: E402

QUICK_VERSIONS = ("1.22", "1.27")
QUICK_FLAVOURS = ("default",)
WARM_UP_WORKERS = 2  # the machines have 2 cores


@dataclass(frozen=True)
class Matrix:
    versions: tuple[str, ...]
    flavours: tuple[str, ...]
    quick: bool

    def newest(self) -> str:
        return self.versions[-1]

    def oldest(self) -> str:
        return self.versions[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("goext", "goext test matrix")
    group.addoption(
        "--go-versions",
        default=None,
        help=f"comma-separated Go versions to test (known: {','.join(GO_VERSIONS)}; default all)",
    )
    group.addoption(
        "--flavours",
        default=None,
        help=f"comma-separated build flavours (known: {','.join(FLAVOURS)}; default all)",
    )
    group.addoption(
        "--quick",
        action="store_true",
        default=False,
        help=f"quick preset: Go {' and '.join(QUICK_VERSIONS)}, flavour {','.join(QUICK_FLAVOURS)}",
    )


def _pick(option: str | None, known: tuple[str, ...], fallback: tuple[str, ...], what: str) -> tuple[str, ...]:
    if option is None:
        return fallback
    wanted = [item.strip() for item in option.split(",") if item.strip()]
    unknown = [item for item in wanted if item not in known]
    if unknown:
        raise pytest.UsageError(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return tuple(item for item in known if item in wanted)  # matrix order, no duplicates


def pytest_configure(config: pytest.Config) -> None:
    # goext's own cache (symbol files, the on-disk index) must never land in the user's ~/.cache/goext.
    if not os.environ.get("GOEXT_CACHE_DIR"):
        os.environ["GOEXT_CACHE_DIR"] = tempfile.mkdtemp(prefix="goext-test-cache-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("GOEXT_CACHE_DIR"), ignore_errors=True))
    for marker in (
        "unit: pure Python on fake memory, synthesized files or texts; 'pytest -m unit' runs in seconds",
        "slow: takes more than a few seconds (big cores, many goroutines)",
        "e2e: drives a real debugger end to end",
        "gdb: needs gdb with Python",
        "lldb: needs lldb with Python",
        "go_versions(*versions): run only for these Go versions (intersected with --go-versions)",
        "flavours(*flavours): run only for these build flavours (intersected with --flavours)",
    ):
        config.addinivalue_line("markers", marker)
    quick = bool(config.getoption("--quick"))
    versions = _pick(
        config.getoption("--go-versions"),
        tuple(GO_VERSIONS),
        QUICK_VERSIONS if quick else tuple(GO_VERSIONS),
        "Go versions",
    )
    flavours = _pick(config.getoption("--flavours"), FLAVOURS, QUICK_FLAVOURS if quick else FLAVOURS, "flavours")
    config.goext_matrix = Matrix(versions=versions, flavours=flavours, quick=quick)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Two layers: a test is ``unit`` when marked so or in tests/unit/; every
    other test builds Go programs, makes cores or drives a debugger, and is ``e2e``."""
    unit_dir = TESTS_DIR / "unit"
    for item in items:
        if unit_dir in Path(str(item.fspath)).parents:  # tests/unit/ holds only unit tests
            item.add_marker(pytest.mark.unit)
        if item.get_closest_marker("unit") is None and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)


# A skip that only reflects the selection (--go-versions, --flavours narrowed
# to nothing for this test) is not a missing dependency.
_SELECTION_SKIP = "got empty parameter set"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """GOEXT_REQUIRE_ALL=1 (what CI sets): a skipped test fails, so a missing
    debugger, toolchain or package cannot pass as green."""
    outcome = yield
    if os.environ.get("GOEXT_REQUIRE_ALL", "") in ("", "0"):
        return
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if _SELECTION_SKIP in str(reason):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, but GOEXT_REQUIRE_ALL=1 requires every test to run: {reason}"


def pytest_report_header(config: pytest.Config) -> str:
    matrix: Matrix = config.goext_matrix  # type: ignore[attr-defined]
    return f"goext matrix: go {','.join(matrix.versions)}; flavours {','.join(matrix.flavours)}"


def _narrowed(metafunc: pytest.Metafunc, marker: str, selected: tuple[str, ...]) -> list[str]:
    mark = metafunc.definition.get_closest_marker(marker)
    if mark is None:
        return list(selected)
    return [item for item in selected if item in mark.args]


def _explicitly_parametrized(metafunc: pytest.Metafunc) -> set[str]:
    """Argument names a test already parametrizes with @pytest.mark.parametrize."""
    names: set[str] = set()
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(argnames, str):
            argnames = argnames.split(",")
        names.update(name.strip() for name in argnames)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    matrix: Matrix = metafunc.config.goext_matrix  # type: ignore[attr-defined]
    explicit = _explicitly_parametrized(metafunc)
    if "go_version" in metafunc.fixturenames and "go_version" not in explicit:
        metafunc.parametrize("go_version", _narrowed(metafunc, "go_versions", matrix.versions))
    if "flavour" in metafunc.fixturenames and "flavour" not in explicit:
        metafunc.parametrize("flavour", _narrowed(metafunc, "flavours", matrix.flavours))


@pytest.fixture(scope="session")
def matrix(pytestconfig: pytest.Config) -> Matrix:
    """The selected Go versions and flavours."""
    return pytestconfig.goext_matrix  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def prebuilt(matrix: Matrix) -> dict[tuple[str, str, str], Path]:
    """Build every fixture program for the whole matrix, two builds at a time.

    Returns {(program, version, flavour): binary} for the builds that could be
    made; a missing toolchain is left out here and skips the tests that need it.
    """
    jobs = [(p, v, f) for v in matrix.versions for p in PROGRAMS for f in matrix.flavours]

    def one(job: tuple[str, str, str]) -> Path | None:
        try:
            return build(*job)
        except Unavailable:
            return None

    with ThreadPoolExecutor(max_workers=WARM_UP_WORKERS) as pool:
        results = list(pool.map(one, jobs))
    return {job: path for job, path in zip(jobs, results) if path is not None}
