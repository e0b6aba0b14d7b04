"""A small debuginfod client: debug files and sources by GNU build-id, over HTTP.

The protocol (elfutils' debuginfod(8)): ``GET URL/buildid/ID/debuginfo``,
``.../executable`` and ``.../source/ABSOLUTE-PATH`` for every URL in
``$DEBUGINFOD_URLS`` (space separated), first answer wins.

Downloads land in the client cache shared with elfutils (so ``debuginfod-find``
and gdb reuse them): ``$DEBUGINFOD_CACHE_PATH``, else
``$XDG_CACHE_HOME/debuginfod_client``, else ``~/.cache/debuginfod_client``,
laid out as ``ID/debuginfo``, ``ID/executable`` and ``ID/source#PATH#WITH#HASHES``.
A downloaded ELF must carry the GNU build-id it was asked for; every download
is capped in size (``$DEBUGINFOD_MAXSIZE``, default 1 GiB) and time
(``$DEBUGINFOD_TIMEOUT`` seconds without progress, default 30).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import urllib.parse
from typing import Optional

from goext_core.binary.diskindex import user_cache_dir
from goext_core.binary.elf import GoBinary
from goext_core.errors import GoextError

_BUILD_ID_RE = re.compile(r"^[0-9a-f]{2,128}$")
_DEFAULT_TIMEOUT_S = 30.0
_DEFAULT_MAX_SIZE = 1 << 30
_SOURCE_MAX_SIZE = 16 << 20  # a source file larger than this is not worth listing
_CHUNK = 1 << 16
_MAX_URLS = 16


class DebuginfodError(GoextError):
    """Every server failed (network, HTTP error, wrong or oversized file)."""


def server_urls() -> list[str]:
    """``$DEBUGINFOD_URLS`` split on whitespace, trailing slashes dropped."""
    urls = [url.rstrip("/") for url in os.environ.get("DEBUGINFOD_URLS", "").split() if url.strip()]
    return urls[:_MAX_URLS]


def enabled() -> bool:
    return bool(server_urls())


def cache_path() -> str:
    """Where elfutils' client keeps its files, so both share one cache."""
    return user_cache_dir("DEBUGINFOD_CACHE_PATH", "debuginfod_client")


def _timeout() -> float:
    try:
        value = float(os.environ.get("DEBUGINFOD_TIMEOUT", _DEFAULT_TIMEOUT_S))
    except ValueError:
        return _DEFAULT_TIMEOUT_S
    return value if value > 0 else _DEFAULT_TIMEOUT_S


def _max_size() -> int:
    try:
        value = int(os.environ.get("DEBUGINFOD_MAXSIZE", _DEFAULT_MAX_SIZE))
    except ValueError:
        return _DEFAULT_MAX_SIZE
    return value if value > 0 else _DEFAULT_MAX_SIZE


def _check_build_id(build_id: str) -> str:
    normalized = build_id.strip().lower()
    if not _BUILD_ID_RE.match(normalized) or len(normalized) % 2:
        raise GoextError(f"'{build_id}' is not a GNU build-id (hex digits)")
    return normalized


def _source_cache_name(path: str) -> str:
    # elfutils' client names cached sources "source" + the path with '/' as '#'.
    return "source" + path.replace("/", "#")


def fetch_debuginfo(build_id: str) -> Optional[str]:
    """Local path of the debug file for ``build_id``: from the cache, else
    downloaded.  None when no server is configured; DebuginfodError when every
    server failed."""
    return _fetch_elf(build_id, "debuginfo")


def fetch_executable(build_id: str) -> Optional[str]:
    """Like :func:`fetch_debuginfo`, for the executable itself."""
    return _fetch_elf(build_id, "executable")


def fetch_source(build_id: str, path: str) -> Optional[str]:
    """Local copy of source file ``path`` (absolute, as compiled in) of ``build_id``."""
    if not path.startswith("/"):
        raise GoextError(f"debuginfod serves sources by absolute path, not '{path}'")
    return _fetch(
        _check_build_id(build_id),
        "source" + urllib.parse.quote(path),
        _source_cache_name(path),
        min(_max_size(), _SOURCE_MAX_SIZE),
        None,
    )


def _fetch_elf(build_id: str, kind: str) -> Optional[str]:
    normalized = _check_build_id(build_id)
    return _fetch(normalized, kind, kind, _max_size(), normalized)


def _fetch(build_id: str, url_tail: str, cache_name: str, max_size: int, want_elf_id: Optional[str]) -> Optional[str]:
    directory = os.path.join(cache_path(), build_id)
    cached = os.path.join(directory, cache_name)
    if os.path.isfile(cached) and (want_elf_id is None or _elf_build_id(cached) == want_elf_id):
        return cached
    urls = server_urls()
    if not urls:
        return None
    problems: list[str] = []
    for base in urls:
        url = f"{base}/buildid/{build_id}/{url_tail}"
        try:
            staged = _download(url, directory, max_size)
        except DebuginfodError as exc:
            problems.append(str(exc))
            continue
        if want_elf_id is not None:
            found = _elf_build_id(staged)
            if found != want_elf_id:
                os.unlink(staged)
                problems.append(f"{url}: build-id {found or 'missing'} != {want_elf_id}")
                continue
        os.replace(staged, cached)
        return cached
    raise DebuginfodError(
        f"debuginfod: {url_tail.split('/')[0]} for build-id {build_id} not found: " + "; ".join(problems[:3])
    )


def _download(url: str, directory: str, max_size: int) -> str:
    """Stream ``url`` into a temporary file in ``directory``; its path."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise DebuginfodError(f"cannot create {directory}: {exc.strerror or exc}") from None
    # Imported here: urllib.request brings http.client, email and ssl, a fifth
    # of goext's start-up in a debugger, for a download most sessions never make.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "goext-debuginfod"})
    handle, staging = tempfile.mkstemp(prefix=".download-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=_timeout()) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_size:
                raise DebuginfodError(f"{url}: {int(declared)} bytes is over the {max_size}-byte limit")
            total = 0
            # Bounded: every chunk either grows total (capped by max_size) or ends the loop.
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_size:
                    raise DebuginfodError(f"{url}: more than the {max_size}-byte limit")
                out.write(chunk)
        return staging
    except urllib.error.HTTPError as exc:
        _unlink(staging)
        raise DebuginfodError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
        _unlink(staging)
        reason = getattr(exc, "reason", exc)
        raise DebuginfodError(f"{url}: {reason}") from None
    except OSError as exc:
        _unlink(staging)
        raise DebuginfodError(f"{url}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink(staging)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _elf_build_id(path: str) -> Optional[str]:
    try:
        with GoBinary(path) as binary:
            return binary.gnu_build_id()
    except GoextError:
        return None


_TYPES_LIMITED_NOTE = (
    "no DWARF in {path}{why}: goroutines and stacks come from pclntab and runtime "
    "layouts from the Go {version} tables; types, locals and values are limited"
)


def find_debug_binary(binary: "GoBinary", notes: list[str]) -> Optional["GoBinary"]:
    """The GoBinary holding DWARF for ``binary``: itself when it has DWARF, else
    the debuginfo fetched by its GNU build-id, else None.  Why DWARF is missing
    (and what that limits) is appended to ``notes``."""
    if binary.has_dwarf():
        return binary
    version = (binary.go_version() or "?").removeprefix("go")
    build_id = binary.gnu_build_id()
    why = ""
    if not enabled():
        why = " and DEBUGINFOD_URLS is not set"
    elif build_id is None:
        why = " and no GNU build-id to ask debuginfod with (link with -ldflags=-B=gobuildid, Go 1.22+)"
    else:
        try:
            path = fetch_debuginfo(build_id)
        except GoextError as exc:
            path = None
            why = f" ({exc})"
        if path is not None:
            try:
                debug = GoBinary(path)
            except GoextError as exc:
                why = f" (debuginfod file unusable: {exc})"
            else:
                if debug.has_dwarf():
                    notes.append(f"DWARF from debuginfod: {path}")
                    return debug
                debug.close()
                why = " (the debuginfod file has no DWARF either)"
    notes.append(_TYPES_LIMITED_NOTE.format(path=binary.path, why=why, version=version))
    return None


__all__ = [
    "DebuginfodError",
    "cache_path",
    "enabled",
    "fetch_debuginfo",
    "fetch_executable",
    "fetch_source",
    "find_debug_binary",
    "server_urls",
]
