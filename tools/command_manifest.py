#!/usr/bin/env python3
"""Write common/goext_core/commands/manifest.json from the command modules.

    python3 tools/command_manifest.py           # rewrite it
    python3 tools/command_manifest.py --check   # exit 1 when it is stale

The front ends register goext's commands (name, help, options) from this file,
so loading goext in a debugger imports no command module.  Run it after
changing a command's summary, help or options; a unit test fails until then.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "common"))

from goext_core.commands.base import MANIFEST_PATH, build_manifest


def manifest_text() -> str:
    return json.dumps(build_manifest(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    args = parser.parse_args()
    text = manifest_text()
    path = Path(MANIFEST_PATH)
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if args.check:
        if current != text:
            print(f"{path} is stale: run tools/command_manifest.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
