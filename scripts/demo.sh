#!/usr/bin/env bash
# A five-minute tour of Lifeboat on this machine, which also proves the round trip.
#
# In a fresh temporary directory: creates a repository, backs up a directory tree (default
# /usr/share/doc), backs it up again unchanged (to show deduplication), lists the snapshots,
# restores the latest one, compares the restore with the source (contents, symbolic links,
# file types and modes), checks the repository reading every pack, and prints statistics and
# a summary. Everything is removed on exit.
#
# Environment:
#   LIFEBOAT_BIN   the binary (default .build/release/lifeboat; `make demo` builds it)
#   DEMO_SOURCE    the tree to back up (default /usr/share/doc)
#   DEMO_KEEP      1 = keep the temporary directory for a look afterwards
#
# Exit status: 0 when the restore matches the source and every command succeeded, 1 otherwise.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lifeboat="${LIFEBOAT_BIN:-$root/.build/release/lifeboat}"
source_dir="${DEMO_SOURCE:-/usr/share/doc}"

if [[ ! -x "$lifeboat" ]]; then
    echo "demo: $lifeboat is missing; run 'make build' first (or set LIFEBOAT_BIN)" >&2
    exit 1
fi
if [[ ! -d "$source_dir" ]]; then
    echo "demo: $source_dir is not a directory; set DEMO_SOURCE to a tree to back up" >&2
    exit 1
fi
source_dir="$(realpath "$source_dir")"

work="$(mktemp -d /tmp/lifeboat-demo.XXXXXX)"
cleanup() {
    if [[ "${DEMO_KEEP:-0}" == 1 ]]; then
        echo "demo: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
repo="$work/repo"
target="$work/restore"

# A throwaway password: this repository lives only as long as the demo.
LIFEBOAT_PASSWORD="demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export LIFEBOAT_PASSWORD
unset LIFEBOAT_PASSWORD_FILE LIFEBOAT_PASSWORD_COMMAND LIFEBOAT_REPOSITORY

echo "== Lifeboat demo"
echo "   binary:     $lifeboat"
echo "   source:     $source_dir"
echo "   repository: $repo (temporary)"
echo "   password:   generated for this demo only (LIFEBOAT_PASSWORD); not a real secret"
echo

failed=0
declare -a step_names=() step_millis=()

# Runs one lifeboat command, shows it and its output, and records how long it took.
step() {
    local name="$1"
    shift
    echo "== $name: lifeboat $*"
    local start="$EPOCHREALTIME"
    if ! "$lifeboat" "$@"; then
        echo "demo: FAILED: lifeboat $*" >&2
        exit 1
    fi
    local end="$EPOCHREALTIME"
    local millis=$(( (${end/./} - ${start/./}) / 1000 ))
    step_names+=("$name")
    step_millis+=("$millis")
    echo "   ($(seconds "$millis") s)"
    echo
}

seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
bytes_in() { du -sb --apparent-size "$1" | cut -f1; }
human() { numfmt --to=iec-i --suffix=B "$1"; }

step "init" init --repo "$repo"
step "first backup" backup --repo "$repo" "$source_dir"
repo_after_first="$(bytes_in "$repo")"
step "unchanged re-backup" backup --repo "$repo" "$source_dir"
repo_after_second="$(bytes_in "$repo")"
step "snapshots" snapshots --repo "$repo"
step "restore" restore latest --repo "$repo" --target "$target"

restored="$target$source_dir"
echo "== compare $source_dir with $restored"
if [[ ! -d "$restored" ]]; then
    echo "demo: FAILED: the restore did not create $restored" >&2
    exit 1
fi
if diff -r --no-dereference "$source_dir" "$restored" > "$work/diff.txt" 2>&1; then
    echo "   contents and symbolic links: identical"
else
    echo "demo: FAILED: contents differ ($(wc -l < "$work/diff.txt") lines of diff; first ones below)" >&2
    head -n 20 "$work/diff.txt" >&2
    failed=1
fi
# Type, permission bits (with setuid/setgid/sticky) and relative path of every entry.
listing() { (cd "$1" && find . -printf '%y %04m %p\n' | LC_ALL=C sort); }
if diff <(listing "$source_dir") <(listing "$restored") > "$work/modes.txt"; then
    echo "   file types and modes: identical"
else
    echo "demo: FAILED: types or modes differ (first lines below)" >&2
    head -n 20 "$work/modes.txt" >&2
    failed=1
fi
echo

step "check, reading all data" check --repo "$repo" --read-data
step "stats" stats --repo "$repo"

files="$(find "$source_dir" -type f | wc -l)"
source_bytes="$(bytes_in "$source_dir")"
echo "== summary"
echo "   source:      $files files, $(human "$source_bytes") ($source_dir)"
echo "   repository:  $(human "$repo_after_first") after the first backup," \
     "+$(human $((repo_after_second - repo_after_first))) after the unchanged re-backup"
for index in "${!step_names[@]}"; do
    printf '   %-26s %s s\n' "${step_names[$index]}" "$(seconds "${step_millis[$index]}")"
done
if ((failed)); then
    echo "   result:      FAILED (see above)"
    exit 1
fi
echo "   result:      restore identical to the source"
