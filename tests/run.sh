#!/usr/bin/env bash
# The one test command: installs the test dependencies, then runs pytest.
#   tests/run.sh                       the full matrix
#   tests/run.sh --quick               Go 1.22 and 1.27, default flavour
#   tests/run.sh --go-versions=1.19,1.24 -k oracle
# GOEXT_SKIP_INSTALL=1 skips the install step.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ -f ./install.sh && "${GOEXT_SKIP_INSTALL:-0}" != 1 ]]; then
    if [[ -x ./install.sh ]]; then
        ./install.sh --test-deps --packages-only
    else
        bash ./install.sh --test-deps --packages-only
    fi
fi

# Test under the Python the debuggers embed (Debian's); fall back to any python3.
python=/usr/bin/python3
if ! "$python" -c 'import pytest' >/dev/null 2>&1; then
    python=python3
fi
# Run the whole suite unless a test path was named (tests/run.sh tests/test_oracle.py -q).
targets=(tests)
for arg in "$@"; do
    if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
        targets=()
        break
    fi
done
# -rs: the summary names every skipped test and why (GOEXT_REQUIRE_ALL=1 fails them).
exec "$python" -m pytest -rs "${targets[@]}" "$@"
