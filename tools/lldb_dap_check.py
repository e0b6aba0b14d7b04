"""Check that goext loads in lldb's Debug Adapter Protocol server (install.sh --check).

Usage: python3 tools/lldb_dap_check.py ADAPTER ENTRY

Starts ADAPTER (lldb-dap, lldb-vscode-16, ...) on stdio, as an editor does,
and asks it, through the protocol's ``evaluate`` request in the debug
console (a command starts with a backtick), for lldb's ``version``, whether
``go help`` works before anything is imported (goext loaded from
~/.lldbinit), then ``command script import ENTRY`` and ``go help`` again
(what an ``initCommands`` entry of a launch configuration does).  No program
is launched.

Prints one ``key: value`` line per finding (``version``, ``init-files``,
``import``); exit status 0 when ``go help`` works after the import, 1 when it
does not, 2 when the adapter cannot be driven.  Standard library only: it runs
with whatever python3 is on PATH.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any, Optional

TIMEOUT_S = 60.0
_HEADER_LIMIT = 1 << 16
_BODY_LIMIT = 1 << 24
_MAX_MESSAGES = 10_000


class AdapterError(Exception):
    """The adapter exited, timed out or spoke something that is not the protocol."""


class Adapter:
    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.deadline = time.monotonic() + TIMEOUT_S
        self.buffer = b""
        self.seq = 0
        self.output: list[str] = []

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments})
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body.encode()) + body.encode())
            self.process.stdin.flush()
        except OSError as exc:
            raise AdapterError(f"the adapter exited ({exc.strerror or exc})") from None
        for _ in range(_MAX_MESSAGES):
            message = self._message()
            if message.get("type") == "response" and message.get("request_seq") == self.seq:
                return message
            if message.get("event") == "output":
                self.output.append(str(message.get("body", {}).get("output", "")))
        raise AdapterError(f"no answer to {command}")

    def command(self, line: str) -> str:
        """What an lldb command prints, run from the debug console."""
        response = self.request("evaluate", expression="`" + line, context="repl")
        body = response.get("body") or {}
        return str(body.get("result", "")) + (str(response.get("message", "")) if not response.get("success") else "")

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise AdapterError(f"no answer within {TIMEOUT_S:.0f} s")
            assert self.process.stdout is not None
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise AdapterError("the adapter exited")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _message(self) -> dict[str, Any]:
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            header += self._read(1)
            if len(header) > _HEADER_LIMIT:
                raise AdapterError("not the Debug Adapter Protocol (no message header)")
        length: Optional[int] = None
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length is None or not 0 <= length <= _BODY_LIMIT:
            raise AdapterError("not the Debug Adapter Protocol (bad Content-Length)")
        try:
            message = json.loads(self._read(length))
        except ValueError:
            raise AdapterError("not the Debug Adapter Protocol (a message is not JSON)") from None
        return message if isinstance(message, dict) else {}

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    adapter_path, entry = argv[1], argv[2]
    try:
        adapter = Adapter([adapter_path])
    except OSError as exc:
        print(f"error: cannot start {adapter_path}: {exc.strerror or exc}")
        return 2
    try:
        adapter.request("initialize", adapterID="lldb", clientID="goext-install-check")
        version = adapter.command("version")
        found = next((line for line in version.splitlines() if line.startswith("lldb version")), "")
        print(f"version: {found or 'unknown'}")
        before = adapter.command("go help")
        print(f"init-files: {'loads goext' if 'goext commands:' in before else 'does not load goext'}")
        loaded = len(adapter.output)
        imported = adapter.command(f"command script import {entry}")
        # goext says why it cannot load on stderr ("goext: cannot load: ..."),
        # which the adapter forwards as output events.
        said = imported.splitlines() + "".join(adapter.output[loaded:]).splitlines()
        after = adapter.command("go help")
        errors = [line.strip() for line in said if line.lstrip().startswith(("error", "goext: cannot"))]
        if "goext commands:" in after and not errors:
            print("import: works")
            return 0
        said += after.splitlines()
        errors = [line.strip() for line in said if "error" in line or "cannot" in line]
        print(f"import: fails: {errors[0] if errors else 'go help is not a command'}")
        return 1
    except AdapterError as exc:
        print(f"error: {exc}")
        return 2
    finally:
        adapter.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
