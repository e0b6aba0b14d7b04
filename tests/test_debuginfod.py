"""debuginfod: DWARF and sources by GNU build-id for stripped Go binaries.

The client is checked against a scripted HTTP server (cache, build-id check,
size cap, timeout, errors), then end to end against Debian's ``debuginfod``
serving an unstripped build on 127.0.0.1 while goext sees only the
``objcopy --strip-all`` copy and a core of it.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from pathlib import Path

import pytest

from goext_core.binary import debuginfod
from goext_core.binary.elf import GoBinary
from goext_core.commands.workflow import read_source
from goext_core.errors import GoextError
from goext_core.output.snapshot import build_snapshot
from goext_core.program import GoProgram
from goext_core.target.core import CoreTarget
from support.build import build
from support.debuggers import run_gdb
from support.distro import crash, debuginfod_server, stripped_copy
from support.oracle import parse_traceback
from support.parity import compare


# -- scripted server -----------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    delay = 0.0
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size cap, timeout): what the test wants

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted(monkeypatch, tmp_path):
    handler = type("Handler", (_Handler,), {"routes": {}, "delay": 0.0, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DEBUGINFOD_URLS", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("DEBUGINFOD_CACHE_PATH", str(tmp_path / "cache"))
    monkeypatch.delenv("DEBUGINFOD_TIMEOUT", raising=False)
    monkeypatch.delenv("DEBUGINFOD_MAXSIZE", raising=False)
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def go124_build():
    exe = build("zoo", "1.24", "default")
    with GoBinary(str(exe)) as binary:
        build_id = binary.gnu_build_id()
    assert build_id, "Go 1.24 emits a GNU build-id by default"
    return exe, build_id


def test_fetch_caches_and_checks_build_id(scripted, go124_build, tmp_path):
    exe, build_id = go124_build
    scripted.routes[f"/buildid/{build_id}/debuginfo"] = exe.read_bytes()
    path = debuginfod.fetch_debuginfo(build_id)
    assert path == str(tmp_path / "cache" / build_id / "debuginfo")
    assert Path(path).read_bytes() == exe.read_bytes()
    assert debuginfod.fetch_debuginfo(build_id.upper()) == path  # cached: no second request
    assert len(scripted.hits) == 1

    other = "ab" * 20  # served bytes whose build-id is not the one asked for
    scripted.routes[f"/buildid/{other}/debuginfo"] = exe.read_bytes()
    with pytest.raises(GoextError, match="build-id"):
        debuginfod.fetch_debuginfo(other)
    assert not (tmp_path / "cache" / other / "debuginfo").exists()


def test_fetch_errors_are_one_line(scripted, go124_build, monkeypatch):
    exe, build_id = go124_build
    with pytest.raises(GoextError, match="HTTP 404"):
        debuginfod.fetch_debuginfo(build_id)
    scripted.routes[f"/buildid/{build_id}/debuginfo"] = exe.read_bytes()
    monkeypatch.setenv("DEBUGINFOD_MAXSIZE", "4096")
    with pytest.raises(GoextError, match="limit"):
        debuginfod.fetch_debuginfo(build_id)
    monkeypatch.setenv("DEBUGINFOD_MAXSIZE", str(1 << 30))
    monkeypatch.setenv("DEBUGINFOD_TIMEOUT", "0.5")
    scripted.delay = 2.0
    started = time.monotonic()
    with pytest.raises(GoextError, match="timed out"):
        debuginfod.fetch_debuginfo(build_id)
    assert time.monotonic() - started < 2.0
    with pytest.raises(GoextError, match="not a GNU build-id"):
        debuginfod.fetch_debuginfo("../../etc")


@pytest.mark.unit
def test_no_urls_means_no_fetch(monkeypatch):
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    assert debuginfod.fetch_debuginfo("abcd") is None


def test_go_list_source_from_debuginfod(scripted):
    class _Binary:
        def gnu_build_id(self) -> str:
            return "abcd1234"

    class _Program:
        binary = _Binary()

    path = "/nonexistent/goext/src/main.go"
    scripted.routes["/buildid/abcd1234/source/nonexistent/goext/src/main.go"] = b"package main\n"
    text, origin = read_source(_Program(), path)
    assert text == "package main\n" and "debuginfod" in origin
    with pytest.raises(GoextError, match="not on this machine"):
        read_source(_Program(), "/nonexistent/other.go")


# -- Debian's debuginfod, end to end -----------------------------------------------------
# Go 1.24+ writes a GNU build-id by default; 1.22 needs -ldflags=-B=gobuildid.
DISTRO_BUILDS = [("1.22", "gobuildid"), ("1.24", "default")]


@pytest.fixture(scope="module", params=DISTRO_BUILDS, ids=[f"go{v}-{f}" for v, f in DISTRO_BUILDS])
def distro_core(request, tmp_path_factory):
    """The stripped copy, a core of it, and a directory with the unstripped build."""
    version, flavour = request.param
    exe = build("zoo", version, flavour)
    with GoBinary(str(exe)) as binary:
        build_id = binary.gnu_build_id()
        assert build_id and binary.has_dwarf()
    stripped = stripped_copy(exe)
    with GoBinary(str(stripped)) as binary:
        assert not binary.has_dwarf() and binary.symbol("main.main") is None
        assert binary.gnu_build_id() == build_id
    artifact = crash(stripped, "panic", label=f"zoo-go{version}-{flavour}-strip-all")
    served = tmp_path_factory.mktemp("served")
    shutil.copy2(exe, served / "zoo")
    return artifact, build_id, served


@pytest.mark.e2e
def test_debuginfod_supplies_dwarf(distro_core, monkeypatch, tmp_path):
    artifact, build_id, served = distro_core
    traceback = parse_traceback(artifact.traceback_text())
    monkeypatch.setenv("DEBUGINFOD_CACHE_PATH", str(tmp_path / "cache"))
    with debuginfod_server(served, [build_id]) as url:
        monkeypatch.setenv("DEBUGINFOD_URLS", url)
        program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
        assert program.debug_binary is not None and program.debug_binary.has_dwarf()
        assert program.layouts.source == "dwarf"
        assert any("DWARF from debuginfod" in note for note in program.notes)
        report = compare(build_snapshot(program), traceback, 1)
        assert report.ok(), report.summary()

        run = run_gdb(
            ["go info"],
            exe=artifact.exe,
            core=artifact.core,
            env={"DEBUGINFOD_URLS": url, "DEBUGINFOD_CACHE_PATH": str(tmp_path / "gdb-cache")},
            init_commands=["set debuginfod enabled off"],
        )
        assert "layouts:       from dwarf" in run.outputs[0], run.transcript()


@pytest.mark.e2e
def test_without_server_stacks_work_and_say_types_are_limited(distro_core, monkeypatch):
    artifact, _, _ = distro_core
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
    assert program.debug_binary is None
    report = compare(build_snapshot(program), parse_traceback(artifact.traceback_text()), 1)
    assert report.ok(), report.summary()
    assert any("types, locals and values are limited" in note for note in program.notes), program.notes
    run = run_gdb(["go info", "go bt 1"], exe=artifact.exe, core=artifact.core, env={"DEBUGINFOD_URLS": None})
    assert "types, locals and values are limited" in run.outputs[0], run.transcript()
    assert "main.panicNested" in run.outputs[1], run.transcript()


@pytest.mark.go_versions("1.22")
@pytest.mark.flavours("stripped")
def test_go_list_shows_the_panicking_line(go_version, flavour, capsys):
    from goext_core.__main__ import main
    from support.cores import kernel_core

    artifact = kernel_core("zoo", go_version, flavour, "panic")
    assert main([str(artifact.exe), str(artifact.core), "list", "1"]) == 0
    text = capsys.readouterr().out
    marked = [line for line in text.splitlines() if line.startswith("=>")]
    assert len(marked) == 1 and "panic(" in marked[0], text
    assert main([str(artifact.exe), str(artifact.core), "list", "1", "999"]) == 1
    assert "goext: error:" in capsys.readouterr().out


@pytest.mark.e2e
def test_debuginfod_values_and_locals(distro_core, monkeypatch, tmp_path, capsys):
    from goext_core.__main__ import main

    artifact, build_id, served = distro_core
    monkeypatch.setenv("DEBUGINFOD_CACHE_PATH", str(tmp_path / "cache"))
    with debuginfod_server(served, [build_id]) as url:
        monkeypatch.setenv("DEBUGINFOD_URLS", url)
        program = GoProgram(CoreTarget(str(artifact.exe), str(artifact.core)))
        holder = next(
            r.id for r in program.goroutines() if any(f.function == "main.holdLocals" for f in program.stack(r).frames)
        )
        capsys.readouterr()
        assert main([str(artifact.exe), str(artifact.core), "print", "main.gInt"]) == 0
        assert capsys.readouterr().out.strip() == "-42"
        assert main([str(artifact.exe), str(artifact.core), "locals", str(holder)]) == 0
        assert 'localArray = [3]string{"l1", "l2", "l3"}' in capsys.readouterr().out
