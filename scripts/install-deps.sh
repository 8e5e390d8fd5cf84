#!/usr/bin/env bash
# Installs what building and testing Lifeboat needs on Debian 12, and checks that Swift is there.
#
# Idempotent: packages already installed are left alone, and `apt-get update` runs only when
# something must be installed. Uses sudo when not root. Safe to run from CI (no prompts).
#
# Swift is not a Debian package here: it lives in /opt/swift (a swift.org toolchain). This script
# cannot change its caller's PATH; the Makefile adds /opt/swift/usr/bin itself, and the message
# below says what to add when running by hand.

set -euo pipefail

# The C libraries of DESIGN §1 (headers and pkg-config files) and pkg-config itself; curl and
# Python (with venv, for SeaweedFS and the S3 fault proxy) and openssl (throwaway CAs for the S3
# TLS tests) for the integration tests.
packages=(libzstd-dev libssl-dev libpq-dev libcurl4-openssl-dev libyaml-dev pkg-config curl openssl python3 python3-venv)

missing=()
for package in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "install-deps: missing ${missing[*]}, and not root and no sudo; install them as root" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-deps: Debian packages present (${packages[*]})"
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
        echo "install-deps: using Swift from /opt/swift/usr/bin (add it to PATH to run swift by hand)"
    else
        echo "install-deps: no Swift toolchain: 'swift' is not on PATH and /opt/swift/usr/bin/swift does not exist;" \
             "install Swift 6 from swift.org into /opt/swift" >&2
        exit 1
    fi
fi
echo "install-deps: $(swift --version 2>&1 | head -n 1)"

"$(dirname "${BASH_SOURCE[0]}")/install-seaweedfs.sh"
