"""The on-disk index (goext_core.binary.diskindex): keys, concurrency, damage, versions,
pruning; and a second offline run on the same core reading it."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from goext_core.binary import diskindex
from goext_core.binary.diskindex import DiskIndex, binary_identity, prune
from goext_core.runtime.dwarflayout import StructLayout, struct_layouts_from_json, struct_layouts_to_json
from support.cores import kernel_core

REPO_ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"runtime.allgs": 4096, "runtime.allm": 8192}


def _ints(data: Any) -> Optional[dict[str, int]]:
    if not isinstance(data, dict) or not all(type(value) is int for value in data.values()):
        return None
    return data


def _index(directory: Path, identity: str = "gnu-build-id:abcd:size=10") -> DiskIndex:
    return DiskIndex(identity, str(directory))


@pytest.mark.unit
def test_identity_prefers_build_ids_and_includes_the_size(tmp_path: Path) -> None:
    exe = tmp_path / "exe"
    exe.write_bytes(b"x" * 10)
    assert binary_identity(str(exe), "abcd", "go/id") == "gnu-build-id:abcd:size=10"
    assert binary_identity(str(exe), None, "go/id") == "go-build-id:go/id:size=10"
    by_file = binary_identity(str(exe), None, None)
    assert by_file is not None and by_file.startswith("file:") and "size=10" in by_file
    exe.write_bytes(b"x" * 11)  # a stripped or truncated copy keeps its build-id, not its size
    assert binary_identity(str(exe), "abcd", None) != "gnu-build-id:abcd:size=10"
    assert binary_identity(str(exe), None, None) != by_file
    assert binary_identity(str(tmp_path / "missing"), "abcd", None) is None


@pytest.mark.unit
def test_round_trip_and_what_an_entry_depends_on(tmp_path: Path) -> None:
    index = _index(tmp_path)
    assert index.load("runtime-globals", "a", _ints) is None and index.misses == 1
    index.store("runtime-globals", "a", PAYLOAD)
    again = _index(tmp_path)
    assert again.load("runtime-globals", "a", _ints) == PAYLOAD and again.hits == 1
    assert again.load("runtime-globals", "b", _ints) is None  # other dependency
    assert _index(tmp_path, "gnu-build-id:other:size=10").load("runtime-globals", "a", _ints) is None
    with pytest.raises(ValueError):
        index.entry_path("../escape", "a")


@pytest.mark.unit
def test_struct_layout_codec_round_trips_and_rejects_bad_shapes() -> None:
    layout = StructLayout("runtime.g", 400, {"goid": (152, 8), "sched.sp": (56, 8)}, {"goid": "uint64"})
    data = json.loads(json.dumps(struct_layouts_to_json({"runtime.g": layout})))
    assert struct_layouts_from_json(data) == {"runtime.g": layout}
    bad_shapes: list[Any] = [
        [],
        {"runtime.g": []},
        {"runtime.g": {"size": -1, "fields": {}, "type_names": {}}},
        {"runtime.g": {"size": True, "fields": {}, "type_names": {}}},
        {"runtime.g": {"size": 8, "fields": {"goid": [1]}, "type_names": {}}},
        {"runtime.g": {"size": 8, "fields": {"goid": [1, "8"]}, "type_names": {}}},
        {"runtime.g": {"size": 8, "fields": {}, "type_names": {"goid": 3}}},
    ]
    for bad in bad_shapes:
        assert struct_layouts_from_json(bad) is None, bad


@pytest.mark.unit
@pytest.mark.parametrize(
    "damage", ["empty", "partial", "not-json", "not-object", "wrong-identity", "bad-payload", "decoder-raises"]
)
def test_damaged_entries_are_misses(tmp_path: Path, damage: str) -> None:
    index = _index(tmp_path)
    index.store("runtime-globals", "a", PAYLOAD)
    path = Path(index.entry_path("runtime-globals", "a"))
    document = json.loads(path.read_text())
    decode = _ints
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "partial":
        path.write_bytes(path.read_bytes()[:-7])
    elif damage == "not-json":
        path.write_bytes(b"\x80\x81 garbage")
    elif damage == "not-object":
        path.write_text("[1, 2]")
    elif damage == "wrong-identity":
        path.write_text(json.dumps(dict(document, identity="gnu-build-id:other:size=10")))
    elif damage == "bad-payload":
        path.write_text(json.dumps(dict(document, payload={"runtime.allgs": "0x1000"})))
    else:

        def decode(data: Any) -> Optional[dict[str, int]]:
            raise KeyError("a decoder that trusted the payload")

    fresh = _index(tmp_path)
    assert fresh.load("runtime-globals", "a", decode) is None and fresh.misses == 1
    fresh.store("runtime-globals", "a", PAYLOAD)  # the caller recomputes and repairs the entry
    assert _index(tmp_path).load("runtime-globals", "a", _ints) == PAYLOAD


@pytest.mark.unit
def test_another_format_or_goext_version_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index(tmp_path)
    index.store("runtime-globals", "a", PAYLOAD)
    path = Path(index.entry_path("runtime-globals", "a"))
    document = json.loads(path.read_text())
    path.write_text(json.dumps(dict(document, goext="0.0.1-older")))
    assert _index(tmp_path).load("runtime-globals", "a", _ints) is None
    index.store("runtime-globals", "a", PAYLOAD)
    monkeypatch.setattr(diskindex, "FORMAT_VERSION", diskindex.FORMAT_VERSION + 1)
    monkeypatch.setattr(diskindex, "FORMAT", f"goext.diskindex/{diskindex.FORMAT_VERSION}")
    newer = _index(tmp_path)
    assert newer.entry_path("runtime-globals", "a") != str(path)  # a new version never reads old files
    assert newer.load("runtime-globals", "a", _ints) is None


@pytest.mark.unit
def test_concurrent_writers_and_readers_see_whole_entries(tmp_path: Path) -> None:
    errors: list[str] = []

    def writer(number: int) -> None:
        index = _index(tmp_path)
        for round_ in range(20):
            index.store("runtime-globals", "a", {"writer": number, "round": round_, "pad": 7})

    def reader() -> None:
        for _ in range(60):
            value = _index(tmp_path).load("runtime-globals", "a", _ints)
            if value is not None and set(value) != {"writer", "round", "pad"}:
                errors.append(repr(value))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _index(tmp_path).load("runtime-globals", "a", _ints) is not None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def _store_from_another_process(directory: str, number: int) -> None:
    DiskIndex("gnu-build-id:abcd:size=10", directory).store("runtime-globals", "a", {"writer": number})


@pytest.mark.unit
def test_concurrent_writer_processes(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_store_from_another_process, args=(str(tmp_path), n)) for n in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(10)
        assert process.exitcode == 0
    value = _index(tmp_path).load("runtime-globals", "a", _ints)
    assert value is not None and value["writer"] in (0, 1, 2)


@pytest.mark.unit
def test_pruning_drops_the_least_recently_used_first(tmp_path: Path) -> None:
    index = _index(tmp_path)
    now = time.time()
    for number in range(8):
        index.store("runtime-globals", f"dep{number}", {"pad": "x" * 1000})
        os.utime(index.entry_path("runtime-globals", f"dep{number}"), (now - 100 + number, now - 100 + number))
    assert index.load("runtime-globals", "dep0", lambda data: data) is not None  # a hit makes dep0 recent
    stale_temp = tmp_path / ".tmp-dead.json"
    stale_temp.write_text("{")
    os.utime(stale_temp, (now - 7200, now - 7200))
    entry_size = os.path.getsize(index.entry_path("runtime-globals", "dep0"))
    prune(str(tmp_path), 5 * entry_size)
    left = set(os.listdir(tmp_path))
    kept = [
        number for number in range(8) if os.path.basename(index.entry_path("runtime-globals", f"dep{number}")) in left
    ]
    assert kept == [0, 4, 5, 6, 7]
    assert ".tmp-dead.json" not in left


@pytest.mark.unit
def test_an_unwritable_directory_turns_the_index_off_with_one_note(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    index = DiskIndex("gnu-build-id:abcd:size=10", str(blocker / "index"))
    index.store("runtime-globals", "a", PAYLOAD)
    index.store("runtime-globals", "b", PAYLOAD)
    assert index.disabled and len(index.notes) == 1 and index.stores == 0
    assert index.load("runtime-globals", "a", _ints) is None
    assert DiskIndex(None, str(tmp_path)).load("runtime-globals", "a", _ints) is None  # no identity: off


@pytest.mark.unit
def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOEXT_CACHE_DIR", str(tmp_path))
    assert diskindex.index_dir() == str(tmp_path / "index")
    monkeypatch.delenv("GOEXT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskindex.goext_cache_dir() == str(tmp_path / "xdg" / "goext")


def _offline(exe: Path, core: Path, cache: Path, *command: str) -> tuple[str, str, float]:
    env = dict(os.environ, GOEXT_CACHE_DIR=str(cache), GOEXT_DEBUG_INDEX="1", PYTHONPATH=str(REPO_ROOT / "common"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "goext_core", str(exe), str(core), *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, done.stderr, elapsed


@pytest.mark.flavours("default", "stripped")
def test_second_offline_run_reads_the_index(go_version: str, flavour: str, tmp_path: Path) -> None:
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    cold_out, cold_trace, cold = _offline(artifact.exe, artifact.core, tmp_path, "goroutines")
    warm_out, warm_trace, warm = _offline(artifact.exe, artifact.core, tmp_path, "goroutines")
    print(f"go {go_version} {flavour}: cold {cold:.2f} s, warm {warm:.2f} s")
    assert warm_out == cold_out
    kind = "layouts" if flavour == "default" else "runtime-globals"
    assert f"goext index: store {kind}" in cold_trace, cold_trace
    assert f"goext index: hit {kind}" in warm_trace, warm_trace
    assert "goext index: store" not in warm_trace, warm_trace


@pytest.mark.flavours("stripped")
def test_a_wrong_remembered_location_falls_back_to_the_scan(go_version: str, flavour: str, tmp_path: Path) -> None:
    artifact = kernel_core("zoo", go_version, flavour, "panic")
    cold_out, _, _ = _offline(artifact.exe, artifact.core, tmp_path, "goroutines")
    [entry] = (tmp_path / "index").glob("*-runtime-globals-*.json")
    document = json.loads(entry.read_text())
    document["payload"] = {name: offset + 8 for name, offset in document["payload"].items()}
    entry.write_text(json.dumps(document))
    out, trace, _ = _offline(artifact.exe, artifact.core, tmp_path, "goroutines")
    assert out == cold_out
    assert "goext index: store runtime-globals" in trace, trace  # the scan's answer replaced the wrong one
