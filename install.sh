#!/usr/bin/env bash
# Install goext's dependencies (Debian/Ubuntu, apt) and register goext with
# gdb and lldb.  Safe to run again: a second run changes nothing.
#
#   ./install.sh               install packages, register goext, verify
#   ./install.sh --test-deps   the same plus what the test suite needs
#   ./install.sh --demo        the default install plus a Go toolchain, then run
#                              demo/run.sh: crash a bundled Go program, open its core
#   ./install.sh --check       report versions; check both debuggers (and
#                              lldb-dap, for editors) load goext
#   ./install.sh --uninstall   remove what install.sh added (not packages)
#
# Options: --user (register for this user only; the default when not root),
# --system (system-wide gdbinit.d file; the default for root),
# --no-packages (skip the apt step), --packages-only (only the apt step: for
# CI, whose checkout is temporary and whose tests load goext by path),
# -h/--help.
#
# Where it writes:
#   gdb, system: /etc/gdb/gdbinit.d/goext.gdb (read by every gdb, so also by
#                `gdb BINARY CORE` and `coredumpctl debug`)
#   gdb, user:   a marked block in ~/.gdbinit (or ~/.config/gdb/gdbinit if
#                that is the file gdb reads)
#   lldb:        a marked block in ~/.lldbinit (lldb has no system-wide file)
#   lldb on PATH: Debian ships only lldb-N; a symlink `lldb` in
#                /usr/local/bin (system) or ~/.local/bin (user) unless an
#                lldb is already there
#   state:       /var/lib/goext/installed or ~/.local/state/goext/installed
#                lists what was added, for --uninstall
# GOEXT_INSTALL_ROOT=DIR puts every system path under DIR (for testing).

set -euo pipefail

REPO="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
ROOT="${GOEXT_INSTALL_ROOT:-}"
ROOT="${ROOT%/}"

PACKAGES=(gdb lldb-16 python3-lldb-16 python3-pyelftools)
TEST_PACKAGES=(python3-pytest python3-pip python3-venv python3-jsonschema golang-1.19-go qemu-user gcc libc6-dev)
DEMO_PACKAGES=(golang-1.19-go)
LLDB_VERSIONED=lldb-16

BLOCK_BEGIN="# >>> goext (added by install.sh; remove with install.sh --uninstall) >>>"
BLOCK_END="# <<< goext <<<"
FILE_HEADER="# goext (added by install.sh; remove with install.sh --uninstall)"
GDB_SOURCE_LINE="source $REPO/gdb/goext.py"
LLDB_IMPORT_LINE="command script import $REPO/lldb/goext.py"

DEBUGGER_TIMEOUT=120  # seconds for one batch run of a debugger

say() { printf 'goext-install: %s\n' "$*"; }
warn() { printf 'goext-install: warning: %s\n' "$*" >&2; }
die() { printf 'goext-install: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

# -- options -------------------------------------------------------------------
action=install
test_deps=0
demo=0
mode=""
packages=1
packages_only=0
while (($#)); do
    case "$1" in
        --test-deps) test_deps=1 ;;
        --demo) demo=1 ;;
        --uninstall) action=uninstall ;;
        --check) action=check ;;
        --user) mode=user ;;
        --system) mode=system ;;
        --no-packages) packages=0 ;;
        --packages-only) packages_only=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

is_root() { [ "$(id -u)" -eq 0 ]; }

if [ "$packages_only" = 1 ] && { [ "$packages" = 0 ] || [ "$action" != install ]; }; then
    die "--packages-only goes with neither --no-packages, --check nor --uninstall"
fi

if [ -z "$mode" ]; then
    if is_root; then mode=system; else mode=user; fi
fi
if [ "$mode" = system ] && ! is_root && [ -z "$ROOT" ]; then
    die "--system needs root (or use --user)"
fi

# The user whose ~/.lldbinit gets the block: under sudo, the one who ran sudo.
user_home() {
    if is_root && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ -z "$ROOT" ]; then
        getent passwd "$SUDO_USER" | cut -d: -f6
    else
        printf '%s\n' "$HOME"
    fi
}
USER_HOME="$(user_home)"
[ -n "$USER_HOME" ] || die "cannot tell the home directory"

# gdb reads one home init file: $XDG_CONFIG_HOME/gdb/gdbinit or
# ~/.config/gdb/gdbinit when present, else ~/.gdbinit.
gdb_home_init() {
    local xdg="${XDG_CONFIG_HOME:-$USER_HOME/.config}/gdb/gdbinit"
    if [ -f "$xdg" ]; then printf '%s\n' "$xdg"; else printf '%s\n' "$USER_HOME/.gdbinit"; fi
}

if [ "$mode" = system ]; then
    GDB_FILE="$ROOT/etc/gdb/gdbinit.d/goext.gdb"
    LINK_DIR="$ROOT/usr/local/bin"
    STATE_DIR="$ROOT/var/lib/goext"
else
    GDB_FILE=""
    LINK_DIR="$USER_HOME/.local/bin"
    STATE_DIR="${XDG_STATE_HOME:-$USER_HOME/.local/state}/goext"
fi
GDB_USER_INIT="$(gdb_home_init)"
LLDB_INIT="$USER_HOME/.lldbinit"
STATE_FILE="$STATE_DIR/installed"

# -- state file: one "kind path" line per thing added -------------------------
state_has() { [ -f "$STATE_FILE" ] && grep -qxF -- "$1" "$STATE_FILE"; }

state_add() {
    state_has "$1" && return 0
    make_dir "$STATE_DIR"
    { [ -f "$STATE_FILE" ] && cat "$STATE_FILE"; printf '%s\n' "$1"; } | sort -u > "$STATE_FILE.new"
    mv "$STATE_FILE.new" "$STATE_FILE"
}

# make_dir DIR: mkdir -p that records each directory it creates (as "dir
# PATH" lines), so --uninstall can remove the ones left empty.
make_dir() {
    local dir="$1" created=()
    while [ ! -d "$dir" ]; do
        created+=("$dir")
        dir="$(dirname "$dir")"
    done
    [ "${#created[@]}" -gt 0 ] || return 0
    mkdir -p "$1"
    for dir in "${created[@]}"; do state_add "dir $dir"; done
}

# Give a file we created under sudo to the user whose home it is in.
own_like_home() {
    if is_root && [ -n "${SUDO_USER:-}" ] && [ "$USER_HOME" != "$HOME" ]; then
        chown "$SUDO_USER:" "$1" 2>/dev/null || true
    fi
}

# -- marked blocks in init files --------------------------------------------
block_text() { printf '%s\n%s\n%s\n' "$BLOCK_BEGIN" "$1" "$BLOCK_END"; }

# Print FILE without our block (tolerates a missing file).
without_block() {
    [ -f "$1" ] || return 0
    awk -v begin="$BLOCK_BEGIN" -v end="$BLOCK_END" '
        $0 == begin { skipping = 1; next }
        skipping && $0 == end { skipping = 0; next }
        !skipping { print }
    ' "$1"
}

current_block() {
    [ -f "$1" ] || return 0
    awk -v begin="$BLOCK_BEGIN" -v end="$BLOCK_END" '
        $0 == begin { inside = 1 }
        inside { print }
        inside && $0 == end { inside = 0 }
    ' "$1"
}

# ensure_block FILE LINE: FILE ends up holding exactly one block with LINE.
ensure_block() {
    local file="$1" line="$2" wanted
    wanted="$(block_text "$line")"
    if [ "$(current_block "$file")" = "$wanted" ]; then
        say "already registered in $file"
        state_add "block $file"
        return 0
    fi
    local existed=1
    [ -f "$file" ] || existed=0
    make_dir "$(dirname "$file")"
    { without_block "$file"; printf '%s\n' "$wanted"; } > "$file.goext-new"
    if [ "$existed" = 1 ]; then
        chmod --reference="$file" "$file.goext-new" 2>/dev/null || true
        chown --reference="$file" "$file.goext-new" 2>/dev/null || true
    fi
    mv "$file.goext-new" "$file"
    [ "$existed" = 1 ] || { own_like_home "$file"; state_add "created $file"; }
    state_add "block $file"
    say "registered in $file"
}

remove_block() {
    local file="$1"
    [ -f "$file" ] || return 0
    if [ -n "$(current_block "$file")" ]; then
        without_block "$file" > "$file.goext-new"
        chmod --reference="$file" "$file.goext-new" 2>/dev/null || true
        chown --reference="$file" "$file.goext-new" 2>/dev/null || true
        mv "$file.goext-new" "$file"
        say "removed the goext block from $file"
    fi
    # A file that install.sh created and that is now empty goes too.
    if state_has "created $file" && [ ! -s "$file" ]; then
        rm -f "$file"
        say "removed $file"
    fi
}

# -- packages ----------------------------------------------------------------
wanted_packages() {
    printf '%s\n' "${PACKAGES[@]}"
    if [ "$test_deps" = 1 ]; then printf '%s\n' "${TEST_PACKAGES[@]}"; fi
    if [ "$demo" = 1 ]; then printf '%s\n' "${DEMO_PACKAGES[@]}"; fi
}

missing_packages() {
    local package
    while read -r package; do
        dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$package"
    done < <(wanted_packages)
}

install_packages() {
    if ! command -v dpkg-query > /dev/null || ! command -v apt-get > /dev/null; then
        warn "no apt here: install these by hand: $(wanted_packages | paste -sd ' ')"
        return 0
    fi
    local -a missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        say "packages present: $(wanted_packages | paste -sd ' ')"
        return 0
    fi
    local -a apt
    if is_root; then
        apt=(apt-get)
    elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
        apt=(sudo -n apt-get)
    else
        die "missing packages: ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}"
    fi
    say "installing: ${missing[*]}"
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/goext-apt.XXXXXX")"
    # apt is quiet here (its notices go to stderr even on success); the log
    # is shown when it fails.
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" -o DPkg::Lock::Timeout=600 -q update > "$log" 2>&1 ||
        ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" -o DPkg::Lock::Timeout=600 -q -y \
            --no-install-recommends install "${missing[@]}" >> "$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        die "apt-get failed installing: ${missing[*]}"
    fi
    rm -f "$log"
    say "installed: ${missing[*]}"
}

# -- lldb on PATH ------------------------------------------------------------
lldb_versioned() {
    command -v "$LLDB_VERSIONED" 2> /dev/null || true
}

ensure_lldb_link() {
    local target link="$LINK_DIR/lldb" existing
    target="$(lldb_versioned)"
    if [ -z "$target" ]; then
        warn "$LLDB_VERSIONED not found; no lldb link made"
        return 0
    fi
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        say "lldb link present: $link -> $target"
        return 0
    fi
    if [ -e "$link" ] || [ -L "$link" ]; then
        say "leaving the existing $link alone"
        return 0
    fi
    existing="$(command -v lldb 2> /dev/null || true)"
    if [ -n "$existing" ]; then
        say "lldb already on PATH: $existing"
        return 0
    fi
    make_dir "$LINK_DIR"
    ln -s "$target" "$link"
    state_add "symlink $link"
    say "linked $link -> $target"
    case ":$PATH:" in
        *":$LINK_DIR:"*) ;;
        *) warn "$LINK_DIR is not on PATH; add it to use plain 'lldb'" ;;
    esac
}

remove_lldb_link() {
    local link
    [ -f "$STATE_FILE" ] || return 0
    while read -r link; do
        # Only a symlink we made that still points at an lldb binary.
        if [ -L "$link" ] && [[ "$(readlink "$link")" == */lldb* ]]; then
            rm -f "$link"
            say "removed $link"
        fi
    done < <(sed -n 's/^symlink //p' "$STATE_FILE")
}

# -- gdb registration ----------------------------------------------------------
gdb_file_text() { printf '%s\n%s\n' "$FILE_HEADER" "$GDB_SOURCE_LINE"; }

register_gdb() {
    if [ "$mode" = user ]; then
        ensure_block "$GDB_USER_INIT" "$GDB_SOURCE_LINE"
        return 0
    fi
    if [ -f "$GDB_FILE" ] && [ "$(cat "$GDB_FILE")" = "$(gdb_file_text)" ]; then
        say "already registered in $GDB_FILE"
    else
        make_dir "$(dirname "$GDB_FILE")"
        gdb_file_text > "$GDB_FILE.goext-new"
        chmod 644 "$GDB_FILE.goext-new"
        mv "$GDB_FILE.goext-new" "$GDB_FILE"
        say "registered in $GDB_FILE"
    fi
    state_add "file $GDB_FILE"
}

unregister_gdb() {
    if [ -n "$GDB_FILE" ] && [ -f "$GDB_FILE" ] && head -n 1 "$GDB_FILE" | grep -qxF -- "$FILE_HEADER"; then
        rm -f "$GDB_FILE"
        say "removed $GDB_FILE"
    fi
    if [ "$mode" = user ]; then remove_block "$GDB_USER_INIT"; fi
}

# -- checks ------------------------------------------------------------------
lldb_command() {
    local candidate
    for candidate in "$LINK_DIR/lldb" "$(command -v lldb 2> /dev/null || true)" "$(lldb_versioned)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# Runs a debugger with a time limit and no terminal; prints its output.
run_bounded() { GOEXT_QUIET=1 timeout "$DEBUGGER_TIMEOUT" "$@" < /dev/null 2>&1 || true; }

PY_PROBE='import sys; sys.path.insert(0, "'"$REPO"'/common"); import elftools, goext_core; print("goext-probe-ok", sys.version.split()[0], elftools.__version__)'

# check_debugger NAME: embedded Python imports, goext loads by path, and
# (when registered for real) loads from the init files.  Returns non-zero on failure.
check_debugger() {
    local name="$1" out failed=0 lldb
    if [ "$name" = gdb ]; then
        if ! command -v gdb > /dev/null; then warn "gdb is not installed"; return 1; fi
        out="$(run_bounded gdb -nx -batch -ex "python $PY_PROBE")"
    else
        if ! lldb="$(lldb_command)"; then warn "lldb is not installed"; return 1; fi
        out="$(run_bounded "$lldb" -b --no-lldbinit -o "script $PY_PROBE")"
    fi
    if grep -q '^goext-probe-ok' <<< "$out"; then
        say "$name: embedded Python $(grep '^goext-probe-ok' <<< "$out" | awk '{print $2 ", pyelftools " $3}'), goext_core importable"
    else
        warn "$name: its Python cannot import elftools/goext_core: $(tail -n 1 <<< "$out")"
        failed=1
    fi
    if [ "$name" = gdb ]; then
        out="$(run_bounded gdb -nx -batch -ex "source $REPO/gdb/goext.py" -ex 'go help')"
    else
        out="$(run_bounded "$lldb" -b --no-lldbinit -o "command script import $REPO/lldb/goext.py" -o 'go help')"
    fi
    if grep -q '^goext commands:' <<< "$out"; then
        say "$name: 'go help' works"
    else
        warn "$name: 'go help' failed: $(tail -n 1 <<< "$out")"
        failed=1
    fi
    # The registered path: what a user's plain `gdb`/`lldb` reads.  A system
    # file under GOEXT_INSTALL_ROOT is not one gdb reads, so it is skipped.
    if [ "$name" = gdb ] && [ "$mode" = system ] && [ -n "$ROOT" ]; then
        return "$failed"
    fi
    if [ "$name" = gdb ]; then
        out="$(HOME="$USER_HOME" run_bounded gdb -batch -ex 'go help')"
    else
        out="$(HOME="$USER_HOME" run_bounded "$lldb" -b -o 'go help')"
    fi
    if grep -q '^goext commands:' <<< "$out"; then
        say "$name: loads goext from its init files"
    else
        warn "$name: goext is not loaded from its init files: $(tail -n 1 <<< "$out")"
        failed=1
    fi
    return "$failed"
}

# precompile: write goext's bytecode with each debugger's own Python, so a
# debugger run by a user who cannot write to this checkout (a system-wide
# install) does not compile every module at every start (~0.25 s).
precompile() {
    local lldb code
    code="import compileall; ok = all(compileall.compile_dir('$REPO/' + tree, quiet=1) for tree in ('common', 'gdb', 'lldb')); print('goext-compiled', ok)"
    if command -v gdb > /dev/null && ! grep -q '^goext-compiled True' <<< "$(run_bounded gdb -nx -batch -ex "python $code")"; then
        warn "gdb: could not precompile goext's modules (each start compiles them)"
    fi
    if lldb="$(lldb_command)" && ! grep -q '^goext-compiled True' <<< "$(run_bounded "$lldb" -b --no-lldbinit -o "script $code")"; then
        warn "lldb: could not precompile goext's modules (each start compiles them)"
    fi
}

# lldb's Debug Adapter Protocol server (VS Code's lldb-dap, CodeLLDB's
# lldb-vscode): lldb-dap since LLVM 18, lldb-vscode before (Debian: lldb-vscode-N).
LLDB_DAP_NAMES=(lldb-dap "lldb-dap-${LLDB_VERSIONED#lldb-}" "lldb-vscode-${LLDB_VERSIONED#lldb-}" lldb-vscode)

lldb_dap_command() {
    local name found
    for name in "${LLDB_DAP_NAMES[@]}"; do
        found="$(command -v "$name" 2> /dev/null || true)"
        if [ -n "$found" ]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    return 1
}

# check_lldb_dap: the adapter is found, says its lldb version, and goext loads
# in it the way a launch configuration's initCommands loads it.  A missing
# adapter is a warning (only editors need it); goext failing in it is a failure.
check_lldb_dap() {
    local dap out python
    if ! dap="$(lldb_dap_command)"; then
        warn "lldb-dap: none of ${LLDB_DAP_NAMES[*]} is installed (only VS Code and other editors need it)"
        return 0
    fi
    python="$(command -v python3 2> /dev/null || true)"
    if [ -z "$python" ]; then
        say "lldb-dap: $dap (no python3 here to check it: load goext with the initCommands below)"
    else
        out="$(run_bounded "$python" "$REPO/tools/lldb_dap_check.py" "$dap" "$REPO/lldb/goext.py")"
        say "lldb-dap: $dap, $(sed -n 's/^version: //p' <<< "$out")"
        if grep -q '^import: works' <<< "$out"; then
            say "lldb-dap: 'command script import $REPO/lldb/goext.py' works; 'go help' works"
            if grep -q '^init-files: loads goext' <<< "$out"; then
                say "lldb-dap: loads goext from ~/.lldbinit too"
            fi
        else
            warn "lldb-dap: goext does not load: $(grep -E '^(import|error): ' <<< "$out" | tail -n 1 | sed 's/^[a-z]*: //')"
            return 1
        fi
    fi
    say "lldb-dap: in a VS Code launch configuration: \"initCommands\": [\"command script import $REPO/lldb/goext.py\"]"
    return 0
}

report_versions() {
    local package version
    for package in "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"; do
        version="$(dpkg-query -W -f='${Version}' "$package" 2> /dev/null || true)"
        say "package $package: ${version:-not installed}"
    done
    command -v gdb > /dev/null && say "$(gdb --version | head -n 1)"
    local lldb
    if lldb="$(lldb_command)"; then say "$("$lldb" --version | head -n 1) ($lldb)"; fi
    say "mode: $mode; state file: $STATE_FILE"
}

verify() {
    local failed=0
    check_debugger gdb || failed=1
    check_debugger lldb || failed=1
    check_lldb_dap || failed=1
    return "$failed"
}

# -- actions -----------------------------------------------------------------
do_install() {
    if [ "$packages_only" = 1 ]; then
        install_packages
        return 0
    fi
    if [ "$packages" = 1 ]; then install_packages; else say "skipping packages (--no-packages)"; fi
    ensure_lldb_link
    register_gdb
    ensure_block "$LLDB_INIT" "$LLDB_IMPORT_LINE"
    precompile
    if verify; then
        say "done: 'go help' lists goext's commands in gdb and lldb"
    else
        die "installed, but a check failed (see above)"
    fi
}

do_uninstall() {
    unregister_gdb
    remove_block "$LLDB_INIT"
    remove_lldb_link
    if [ -f "$STATE_FILE" ]; then
        local -a dirs
        # Deepest first, so a parent is empty by the time its turn comes.
        mapfile -t dirs < <(sed -n 's/^dir //p' "$STATE_FILE" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
        rm -f "$STATE_FILE"
        local dir
        for dir in "${dirs[@]}"; do rmdir "$dir" 2> /dev/null || true; done
    fi
    say "uninstalled; packages were left installed ($(wanted_packages | paste -sd ' '))"
}

do_check() {
    report_versions
    if verify; then
        say "check passed"
    else
        die "check failed"
    fi
}

case "$action" in
    install)
        do_install
        if [ "$demo" = 1 ]; then
            exec "$REPO/demo/run.sh"
        fi
        ;;
    uninstall) do_uninstall ;;
    check) do_check ;;
esac
