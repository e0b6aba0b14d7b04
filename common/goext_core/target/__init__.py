"""The narrow interface the core needs from a debugger (or from a core file).

Everything above this layer (pclntab, goroutines, unwinder, values) talks to a
:class:`Target` only.  Implementations: the offline ELF-core target
(:mod:`goext_core.target.core`), gdb (``gdb/``) and lldb (``lldb/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from goext_core.errors import MemoryReadError

# How multi-byte integers are laid out in the target (int.from_bytes' spelling).
ByteOrder = Literal["little", "big"]


@dataclass
class Thread:
    """One OS thread of the target.

    ``registers`` uses Go's register names for the architecture, lower case:
    amd64: rax…r15, rip, rsp, rbp, fs_base; arm64: x0…x30, sp, pc.
    ``pc``/``sp``/``fp`` are always filled in for convenience.
    """

    tid: int
    registers: dict[str, int] = field(default_factory=dict)
    index: int = 0  # the debugger's own thread number (1-based in gdb and lldb)
    name: str = ""

    @property
    def pc(self) -> int:
        return self.registers.get("pc", self.registers.get("rip", 0))

    @property
    def sp(self) -> int:
        return self.registers.get("sp", self.registers.get("rsp", 0))

    @property
    def fp(self) -> int:
        return self.registers.get("rbp", self.registers.get("x29", 0))


@dataclass
class NativeFrame:
    """One frame of an OS thread as the debugger itself unwinds it (C frames included)."""

    pc: int
    function: Optional[str]  # None when the debugger has no symbol for pc
    location: str = ""  # "file:line", or the module, when known


class Target:
    """Abstract target.  Subclasses implement the methods marked abstract."""

    ptr_size: int = 8
    byte_order: ByteOrder = "little"
    arch: str = "amd64"  # Go's GOARCH name

    # -- abstract -------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        """Read exactly ``size`` bytes or raise :class:`MemoryReadError`."""
        raise NotImplementedError

    def threads(self) -> list[Thread]:
        """All OS threads with their registers (at the current stop)."""
        raise NotImplementedError

    def executable(self) -> Optional[str]:
        """Path of the main executable on disk, if known."""
        raise NotImplementedError

    def selected_thread(self) -> Optional[Thread]:
        """The thread the user is looking at; for a core, the one that crashed
        (the kernel writes it first)."""
        threads = self.threads()
        return threads[0] if threads else None

    def selected_goroutine_id(self) -> Optional[int]:
        """The goroutine the user selected in the debugger itself, when the
        debugger presents goroutines as threads (lldb); else None."""
        return None

    def generation(self) -> int:
        """Changes whenever the target may have run: caches key on it."""
        return 0

    def load_bias(self) -> int:
        """Difference between run-time and link-time addresses of the executable (PIE)."""
        return 0

    def core_path(self) -> Optional[str]:
        """Path of the core file when the target is a core, else None."""
        return None

    def is_live(self) -> bool:
        return False

    def monotonic_now(self) -> Optional[int]:
        """CLOCK_MONOTONIC of the target's machine now (what Go's nanotime() reads),
        when the target is a live process on this machine; else None."""
        return None

    def describe(self) -> str:
        return type(self).__name__

    def load_symbol_file(self, path: str, bias: int) -> bool:
        """Hand the debugger an ELF symbol file for the main executable, its
        addresses shifted by ``bias`` (the PIE load bias).  False when this
        target has no debugger to tell (offline) or the debugger refused."""
        return False

    def native_frames(self, thread: Thread, limit: int) -> Optional[list[NativeFrame]]:
        """The debugger's own innermost ``limit`` frames of ``thread`` (C code
        included), or None when this target has no debugger to ask (offline)."""
        return None

    # -- helpers built on read() ---------------------------------------
    def try_read(self, address: int, size: int) -> Optional[bytes]:
        try:
            return self.read(address, size)
        except MemoryReadError:
            return None

    def read_u8(self, address: int) -> int:
        return self.read(address, 1)[0]

    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), self.byte_order)

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), self.byte_order)

    def read_ptr(self, address: int) -> int:
        return int.from_bytes(self.read(address, self.ptr_size), self.byte_order)

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        out = bytearray()
        chunk = 64
        while len(out) < limit:
            data = self.try_read(address + len(out), chunk) or self.read(address + len(out), 1)
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
        return bytes(out[:limit])

    def read_go_string(self, address: int, limit: int = 1 << 16) -> str:
        """Read a Go string header at ``address`` and its bytes (capped)."""
        ptr = self.read_ptr(address)
        length = self.read_ptr(address + self.ptr_size)
        if length == 0:
            return ""
        data = self.read(ptr, min(length, limit))
        return data.decode("utf-8", "replace")


def unpack_uint(buf: bytes, offset: int, size: int, byte_order: ByteOrder = "little") -> int:
    """Decode an unsigned integer of ``size`` bytes from ``buf`` at ``offset``."""
    return int.from_bytes(buf[offset : offset + size], byte_order)


def unpack_int(buf: bytes, offset: int, size: int, byte_order: ByteOrder = "little") -> int:
    return int.from_bytes(buf[offset : offset + size], byte_order, signed=True)
