# Helpers shared by the benchmark scripts (bench/run.sh, bench/s3.sh). Source it; it only
# defines functions. The callers run with `set -euo pipefail`.

say()  { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '\n!!! %s\n' "$*" >&2; }
die()  { printf '\nbench: error: %s\n' "$*" >&2; exit 2; }

# ensure_packages PACKAGE...: installs the Debian packages that are missing (idempotent:
# apt-get runs only when one is missing; needs root then).
ensure_packages() {
    say "Checking Debian packages: $*"
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}) and not root; install them with apt-get"
        info "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        info "all present"
    fi
}

# extract_tree TARBALL PARENT TREE_NAME: extracts the tarball (xz) into PARENT once, checks that
# it holds TREE_NAME/, and sets TREE_FILES and TREE_BYTES (recorded in PARENT/.extracted-ok).
extract_tree() {
    local tarball=$1 parent=$2 name=$3
    if [[ ! -f "$parent/.extracted-ok" ]]; then
        say "Extracting $tarball into $parent (once)"
        rm -rf "$parent"
        mkdir -p "$parent"
        xz -dc -T0 "$tarball" | tar -x -C "$parent"
        [[ -d "$parent/$name" ]] || die "tarball did not contain $name/"
        # The tree is read-only input from now on; record its shape.
        local files bytes
        files=$(find "$parent/$name" -type f | wc -l)
        bytes=$(du -sb "$parent/$name" | cut -f1)
        printf 'files=%s\nbytes=%s\n' "$files" "$bytes" > "$parent/.extracted-ok"
    else
        say "Kernel tree already extracted in $parent"
    fi
    TREE_FILES=$(sed -n 's/^files=//p' "$parent/.extracted-ok")
    TREE_BYTES=$(sed -n 's/^bytes=//p' "$parent/.extracted-ok")
    info "$TREE_FILES files, $(( TREE_BYTES / 1048576 )) MiB"
}

# choose_cache_mode WANTED: sets CACHE_MODE to "dropped" when WANTED is 1 and dropping the page
# cache is permitted, else "warm", and says which.
choose_cache_mode() {
    CACHE_MODE=warm
    if [[ "$1" == 1 ]]; then
        if (sync && echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
            CACHE_MODE=dropped
        fi
    fi
    if [[ $CACHE_MODE == dropped ]]; then
        say "Page cache: dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every measured step"
    else
        say "Page cache: NOT dropped (not permitted here, or BENCH_DROP_CACHES=0)."
        info "Instead the tree is read once (warm-up) before each tool's first step, so every tool"
        info "starts with a warm cache. Cold-cache figures would be higher for all tools."
    fi
}
prepare_cache() {
    if [[ $CACHE_MODE == dropped ]]; then
        sync
        echo 3 > /proc/sys/vm/drop_caches
    fi
}

# Busy jiffies of the whole machine (user nice system irq softirq steal, summed over all CPUs);
# with the tool's own CPU time subtracted, the CPU that other processes used during a step.
busy_jiffies() {
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

# machine_meta WORK_DIR: the machine lines of a .meta file.
machine_meta() {
    echo "host_nproc=$(nproc)"
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "mem_total_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "filesystem=$(df -PT "$1" | awk 'NR==2 {print $2}')"
}

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
kib_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

has_tool() { [[ " ${TOOL_LIST[*]} " == *" $1 "* ]]; }

warm_tree() {  # warm_tree PARENT: read the tree under PARENT once, so every tool starts warm
    # GNU tar skips reading file data when the archive is /dev/null, so pipe through cat.
    tar -C "$1" -cf - "$TREE_NAME" | cat > /dev/null
}

verify_restore() {  # verify_restore TOOL SOURCE: the tool's restore must equal SOURCE, byte for byte
    local tool=$1 source=$2 target="$RUN/$1/restore" restored
    restored=$(find "$target" -maxdepth 8 -type d -name "$TREE_NAME" -print -quit)
    if [[ -z "$restored" ]]; then
        warn "VERIFY FAILED for $tool: no $TREE_NAME directory under $target"
        return 1
    fi
    if ! diff -r --no-dereference "$source" "$restored" > "$RUN/$tool/verify-diff.txt" 2>&1; then
        warn "VERIFY FAILED for $tool: RESTORE DOES NOT MATCH THE SOURCE ($(wc -l < "$RUN/$tool/verify-diff.txt") diff lines):"
        head -n 20 "$RUN/$tool/verify-diff.txt" >&2
        cp "$RUN/$tool/verify-diff.txt" "$RESULTS/$STAMP-$tool-verify-diff.txt"
        return 1
    fi
    info "verify: diff -r of the restore against the source tree ($source): identical"
}
