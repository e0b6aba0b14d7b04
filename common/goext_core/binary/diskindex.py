"""An on-disk index of facts derived from one executable, shared by every process.

Parsing DWARF for the runtime's struct layouts takes seconds, and finding the
runtime's globals in a stripped binary scans its data sections; both depend
only on the executable.  This index keeps them under
``$GOEXT_CACHE_DIR/index`` (default ``~/.cache/goext/index``) so that the
second gdb, lldb or offline process on the same binary starts warm.

One JSON file per (binary, kind of fact, what the fact depends on):

- the binary is named by its GNU build-id, else its Go build id, each with the
  file size (``strip`` keeps the build ids but drops DWARF), else by path,
  size, mtime and inode;
- the format version and goext's version are in the file name and in the
  file, so a new goext never trusts an old entry.

JSON, not pickle: an entry can hold only data, never code.  Writers write a
temporary file in the same directory and rename it, so a reader sees a whole
entry or none; a reader treats a missing, unreadable, partial or ill-shaped
entry as a miss, and the caller recomputes.  The directory is pruned, oldest
entries first, beyond :data:`MAX_TOTAL_BYTES`.  When the directory cannot be
written the index turns itself off, with one note.

``GOEXT_DEBUG_INDEX=1`` prints each hit, miss and store on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from goext_core import __version__
from goext_core.errors import CorruptDataError, GoextError

if TYPE_CHECKING:
    from goext_core.binary.elf import GoBinary

T = TypeVar("T")

# Bump when an entry's structure or meaning changes (also when the code that
# computes a cached fact changes what it computes).
FORMAT_VERSION = 1
FORMAT = f"goext.diskindex/{FORMAT_VERSION}"
MAX_TOTAL_BYTES = 256 << 20
# No fact we store comes near this; a bigger file is not ours, or is damaged.
MAX_ENTRY_BYTES = 64 << 20
# A writer that died between mkstemp and rename leaves its temporary file: pruned after this long.
_STALE_TEMP_SECONDS = 3600
_TEMP_PREFIX = ".tmp-"
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,39}\Z")


def user_cache_dir(override_variable: str, name: str) -> str:
    """``$override_variable``, else ``$XDG_CACHE_HOME/name``, else ``~/.cache/name``."""
    explicit = os.environ.get(override_variable)
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, name)


def goext_cache_dir() -> str:
    """``$GOEXT_CACHE_DIR``, else ``$XDG_CACHE_HOME/goext``, else ``~/.cache/goext``."""
    return user_cache_dir("GOEXT_CACHE_DIR", "goext")


def index_dir() -> str:
    return os.path.join(goext_cache_dir(), "index")


def cached_file_name(binary: "GoBinary", version: int, suffix: str) -> str:
    """The name of a file goext derives from ``binary`` (symbol file, lldb debug
    file): by GNU build-id, else by path, size and modification time."""
    build_id = binary.gnu_build_id()
    if build_id:
        return f"{build_id}-v{version}.{suffix}"
    try:
        info = os.stat(binary.path)
        identity = f"{os.path.realpath(binary.path)}\0{info.st_size}\0{info.st_mtime_ns}"
    except OSError:
        identity = binary.path
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return f"{os.path.basename(binary.path)}-{digest}-v{version}.{suffix}"


def write_cached_file(directory: str, name: str, image: Callable[[], bytes], what: str) -> str:
    """``directory/name``, written from ``image()`` on first use, then reused.
    A temporary name, then a rename: a concurrent debugger never reads half a file."""
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return path
    data = image()
    try:
        os.makedirs(directory, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=f".{name}-", dir=directory)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staging, path)
    except OSError as exc:
        raise GoextError(f"cannot write the {what} in {directory}: {exc.strerror or exc}") from None
    return path


def binary_identity(path: str, gnu_build_id: Optional[str], go_build_id: Optional[str]) -> Optional[str]:
    """A string naming the executable's contents, or None when the file cannot be stat'ed."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if gnu_build_id:
        return f"gnu-build-id:{gnu_build_id}:size={info.st_size}"
    if go_build_id:
        return f"go-build-id:{go_build_id}:size={info.st_size}"
    return (
        f"file:{os.path.realpath(path)}:size={info.st_size}:mtime_ns={info.st_mtime_ns}"
        f":dev={info.st_dev}:ino={info.st_ino}"
    )


def sections_digest(binary: "GoBinary", names: tuple[str, ...]) -> Optional[str]:
    """A hash of the file bytes of sections ``names`` (headers included), or None when
    one is unreadable.  An entry derived from those sections depends on it: a
    damaged copy with the same build-id and size then never shares its entries."""
    digest = hashlib.blake2b(digest_size=16)
    for name in names:
        section = binary.section(name)
        if section is None:
            continue
        try:
            view = binary.section_view(name)
        except CorruptDataError:
            return None
        digest.update(f"{name}:{section.offset}:{section.size}:{section.flags}:{section.type}\0".encode())
        if view is not None:
            digest.update(view)
    return digest.hexdigest()


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def _trace(message: str) -> None:
    if os.environ.get("GOEXT_DEBUG_INDEX", "") not in ("", "0"):
        sys.stderr.write(f"goext index: {message}\n")


class DiskIndex:
    """The index entries of one executable.  ``identity`` None turns it off."""

    def __init__(
        self, identity: Optional[str], directory: Optional[str] = None, max_total_bytes: int = MAX_TOTAL_BYTES
    ) -> None:
        self.identity = identity
        self.directory = directory or index_dir()
        self.max_total_bytes = max_total_bytes
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.disabled = identity is None
        self.notes: list[str] = []  # at most one: why the index is off

    @classmethod
    def for_binary(cls, binary: "GoBinary", directory: Optional[str] = None) -> "DiskIndex":
        return cls(binary_identity(binary.path, binary.gnu_build_id(), binary.go_build_id()), directory)

    def entry_path(self, kind: str, depends_on: str) -> str:
        if not _KIND_PATTERN.match(kind):
            raise ValueError(f"bad index kind {kind!r}")
        assert self.identity is not None
        name = f"{_digest(self.identity, 40)}-{kind}-{_digest(depends_on, 16)}-v{FORMAT_VERSION}.json"
        return os.path.join(self.directory, name)

    def _header(self, kind: str, depends_on: str) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "goext": __version__,
            "identity": self.identity,
            "kind": kind,
            "depends_on": depends_on,
        }

    def load(self, kind: str, depends_on: str, decode: Callable[[Any], Optional[T]]) -> Optional[T]:
        """The entry's payload through ``decode`` (which returns None for a payload
        of the wrong shape), or None: off, missing, damaged or from another version."""
        if self.disabled:
            return None
        path = self.entry_path(kind, depends_on)
        value = self._read(path, kind, depends_on, decode)
        if value is None:
            self.misses += 1
            _trace(f"miss {kind} {path}")
            return None
        self.hits += 1
        _trace(f"hit {kind} {path}")
        try:
            os.utime(path)  # pruning drops the least recently used entries first
        except OSError:
            pass
        return value

    def _read(self, path: str, kind: str, depends_on: str, decode: Callable[[Any], Optional[T]]) -> Optional[T]:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
        if len(raw) > MAX_ENTRY_BYTES:
            return None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(document, dict) or "payload" not in document:
            return None
        if any(document.get(key) != value for key, value in self._header(kind, depends_on).items()):
            return None  # another version, or a digest collision: never trust it
        try:
            return decode(document["payload"])
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
            return None  # a decoder that missed a shape check must not crash the caller

    def store(self, kind: str, depends_on: str, payload: Any) -> None:
        """Write the entry atomically; failures only turn the index off."""
        if self.disabled:
            return
        path = self.entry_path(kind, depends_on)
        document = dict(self._header(kind, depends_on), payload=payload)
        data = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        staging: Optional[str] = None
        try:
            os.makedirs(self.directory, exist_ok=True)
            handle, staging = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".json", dir=self.directory)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(staging, path)
            staging = None
        except OSError as exc:
            self.disabled = True
            self.notes.append(f"the on-disk index is off: cannot write {self.directory}: {exc.strerror or exc}")
            return
        finally:
            if staging is not None:
                try:
                    os.unlink(staging)
                except OSError:
                    pass
        self.stores += 1
        _trace(f"store {kind} {path} ({len(data)} bytes)")
        prune(self.directory, self.max_total_bytes)


def prune(directory: str, max_total_bytes: int, now: Optional[float] = None) -> None:
    """Delete the least recently used entries until the index fits in ``max_total_bytes``,
    and temporary files abandoned by writers that died."""
    now = time.time() if now is None else now
    entries: list[tuple[float, int, str]] = []
    try:
        with os.scandir(directory) as listing:
            for item in listing:
                try:
                    if not item.is_file(follow_symlinks=False):
                        continue
                    info = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if item.name.startswith(_TEMP_PREFIX):
                    if now - info.st_mtime > _STALE_TEMP_SECONDS:
                        _unlink_quietly(item.path)
                    continue
                if item.name.endswith(".json"):
                    entries.append((info.st_mtime, info.st_size, item.path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_total_bytes:
            break
        _unlink_quietly(path)
        total -= size


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # another process pruned it first


__all__ = [
    "DiskIndex",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_TOTAL_BYTES",
    "binary_identity",
    "goext_cache_dir",
    "index_dir",
    "prune",
    "sections_digest",
]
