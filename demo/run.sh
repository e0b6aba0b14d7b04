#!/usr/bin/env bash
# goext demo: build the bundled Go program, let it crash with a core dump, and
# open the core in gdb with goext: goroutines, a backtrace and a value.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

go_bin="${GO:-}"
if [ -z "$go_bin" ]; then
    for candidate in go /usr/lib/go-1.19/bin/go; do
        if command -v "$candidate" >/dev/null 2>&1; then go_bin="$(command -v "$candidate")"; break; fi
    done
fi
[ -n "$go_bin" ] || { echo "demo: no Go toolchain found (install golang-go, or set GO=/path/to/go)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/main.go" "$work/"
echo "== building the demo with $("$go_bin" version)"
(cd "$work" && GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$work/gocache" \
    "$go_bin" build -o crashy main.go)

echo "== running it until it crashes (GOTRACEBACK=crash)"
set +e
(cd "$work" && ulimit -c unlimited && GOTRACEBACK=crash ./crashy >/dev/null 2>"$work/traceback.txt")
set -e
core="$(ls "$work"/core* 2>/dev/null | head -n 1 || true)"
echo "== the runtime's own report ended with:"
grep -m1 -E '^(panic|fatal error)' "$work/traceback.txt" || true
commands=(
    -ex "echo \n(gdb) go goroutines\n" -ex "go goroutines"
    -ex "echo \n(gdb) go bt\n" -ex "go bt"
    -ex "echo \n(gdb) print 'main.requestsServed'\n" -ex "print 'main.requestsServed'"
)
if [ -n "$core" ]; then
    echo
    echo "== gdb $work/crashy $core, with goext"
    gdb -nx -batch -q -iex "set auto-load python-scripts off" -ex "source $repo/gdb/goext.py" "${commands[@]}" "$work/crashy" "$core"
else
    # kernel.core_pattern sends cores elsewhere (e.g. systemd-coredump): show the
    # same views on the live process, stopped by gdb where the runtime aborts.
    echo "demo: no core in $work (kernel.core_pattern is '$(cat /proc/sys/kernel/core_pattern)');"
    echo "demo: running the program under gdb instead"
    (cd "$work" && GOTRACEBACK=crash gdb -nx -batch -q -ex "source $repo/gdb/goext.py" \
        -ex "handle SIGSEGV nostop noprint pass" -ex "handle SIGURG nostop noprint pass" -ex run \
        "${commands[@]}" ./crashy)
fi
