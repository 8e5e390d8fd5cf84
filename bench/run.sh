#!/usr/bin/env bash
# Side-by-side benchmark: Lifeboat vs restic vs BorgBackup on the Linux 6.1 source tree.
#
# Not a test: run it on demand (e.g. `make bench` or `bash bench/run.sh`). It needs root for
# apt-get and for dropping the page cache; without root it still runs (warm cache) if the
# packages are already installed.
#
# Steps, for each tool in BENCH_TOOLS, each tool in its own fresh repository:
#   first      first backup of the tree into a fresh repository
#   unchanged  re-backup of the unchanged tree
#   edited     backup after appending one line to every Nth .c file (sorted order, ~300 files)
#   restore    full restore of the latest snapshot into an empty directory (verified with
#              `diff -r` afterwards, outside the timing)
# Measured per step: wall, user+sys CPU and peak RSS (GNU time), repository size (du -sb),
# the tool's cache size, the load average just before the step, and the CPU time that other
# processes used while the step ran (from /proc/stat; a direct measure of contention).
#
# Environment:
#   BENCH_TOOLS        tools to run, in order (default "lifeboat restic borg")
#   BENCH_WORK         work directory (default bench/work; gitignored)
#   BENCH_RESULTS      results directory (default bench/results; gitignored)
#   BENCH_DROP_CACHES  1 = drop the page cache before every step if permitted (default),
#                      0 = never (warm cache for every tool)
#   BENCH_EDIT_STRIDE  edit every Nth .c file in sorted order (default 110, ~300 files)
#   BENCH_BUILD        1 = rebuild Lifeboat with `swift build -c release` even if present
#   BENCH_KEEP         1 = keep each tool's repository and restore (default: delete after the tool)
#   BENCH_STRICT       1 = exit 1 when a Lifeboat target is missed (default: report only)
#   LIFEBOAT_BIN       Lifeboat binary (default .build/release/lifeboat)
#   BENCH_TARBALL      source tarball holding linux-source-6.1/ (default the Debian one; a small
#                      one with a separate BENCH_WORK is handy for testing this script)
#
# Several runs summarised (median and minimum): python3 bench/summarize.py bench/results/*.tsv
#
# Exit status: 0 ok; 1 a tool failed or a restore did not match the source (or, with
# BENCH_STRICT=1, a target was missed); 2 usage or setup error.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${BENCH_WORK:-$ROOT/bench/work}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results}"
TOOLS="${BENCH_TOOLS:-lifeboat restic borg}"
DROP_WANTED="${BENCH_DROP_CACHES:-1}"
STRIDE="${BENCH_EDIT_STRIDE:-110}"
LIFEBOAT_BIN="${LIFEBOAT_BIN:-$ROOT/.build/release/lifeboat}"
PACKAGES=(restic borgbackup linux-source-6.1 time xz-utils)
TARBALL="${BENCH_TARBALL:-/usr/src/linux-source-6.1.tar.xz}"
TREE_NAME=linux-source-6.1
PASSWORD='bench-password-not-secret'
STEPS=(first unchanged edited restore)
declare -A STEP_TITLE=(
    [first]="1. first backup into a fresh repository"
    [unchanged]="2. unchanged re-backup"
    [edited]="3. backup after editing files"
    [restore]="4. full restore of the latest snapshot"
)

# say, info, warn, die, ensure_packages, extract_tree, choose_cache_mode, prepare_cache,
# busy_jiffies, machine_meta, mib, kib_mib, ratio
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------------------------------------
# Arguments and tool list

for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (configure with environment variables; see --help)" ;;
    esac
done

read -r -a TOOL_LIST <<< "$TOOLS"
[[ ${#TOOL_LIST[@]} -gt 0 ]] || die "BENCH_TOOLS is empty"
for t in "${TOOL_LIST[@]}"; do
    case "$t" in lifeboat|restic|borg) ;; *) die "unknown tool '$t' in BENCH_TOOLS (lifeboat, restic, borg)" ;; esac
done
[[ "$STRIDE" =~ ^[1-9][0-9]*$ ]] || die "BENCH_EDIT_STRIDE must be a positive integer"

mkdir -p "$WORK" "$RESULTS"
WORK="$(cd "$WORK" && pwd)"
exec 9> "$WORK/.lock"
flock -n 9 || die "another bench run holds $WORK/.lock"

# ---------------------------------------------------------------------------------------------
# 1. Debian packages (idempotent: apt-get runs only when something is missing)

ensure_packages "${PACKAGES[@]}"
TIME_BIN=/usr/bin/time
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing"
[[ -f $TARBALL ]] || die "$TARBALL missing although linux-source-6.1 is installed"

# ---------------------------------------------------------------------------------------------
# 2. The kernel tree, extracted once; each tool gets a fresh copy at the same path

PRISTINE_PARENT="$WORK/pristine"
PRISTINE="$PRISTINE_PARENT/$TREE_NAME"
SRC_PARENT="$WORK/src"
SRC="$SRC_PARENT/$TREE_NAME"
RUN="$WORK/run"

extract_tree "$TARBALL" "$PRISTINE_PARENT" "$TREE_NAME"

# The edit list: every STRIDE-th .c file in byte-wise sorted order, computed from the pristine tree.
EDIT_LIST="$WORK/edit-list-$STRIDE.txt"
if [[ ! -s "$EDIT_LIST" ]]; then
    (cd "$PRISTINE" && find . -type f -name '*.c' | LC_ALL=C sort | awk -v n="$STRIDE" 'NR % n == 0') > "$EDIT_LIST.tmp"
    mv "$EDIT_LIST.tmp" "$EDIT_LIST"
fi
EDIT_COUNT=$(wc -l < "$EDIT_LIST")
info "edit step: $EDIT_COUNT files (every ${STRIDE}th .c file in sorted order)"

free_kib=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
need_kib=$(( TREE_BYTES * 4 / 1024 ))
if (( free_kib < need_kib )); then
    die "only $(( free_kib / 1048576 )) GiB free under $WORK; need about $(( need_kib / 1048576 )) GiB (copy + restore + repositories)"
fi

# ---------------------------------------------------------------------------------------------
# 3. Page cache policy

choose_cache_mode "$DROP_WANTED"

# ---------------------------------------------------------------------------------------------
# 4. Lifeboat binary and chunker figure

LIFEBOAT_OK=0
if has_tool lifeboat; then
    if [[ ! -x "$LIFEBOAT_BIN" || "${BENCH_BUILD:-0}" == 1 ]]; then
        say "Building Lifeboat (swift build -c release)"
        [[ "$LIFEBOAT_BIN" == "$ROOT/.build/release/lifeboat" ]] || die "LIFEBOAT_BIN=$LIFEBOAT_BIN does not exist; not building a custom path"
        (cd "$ROOT" && PATH="/opt/swift/usr/bin:$PATH" swift build -c release --product lifeboat) \
            || die "swift build failed; run without lifeboat: BENCH_TOOLS=\"restic borg\""
    fi
    [[ -x "$LIFEBOAT_BIN" ]] || die "no Lifeboat binary at $LIFEBOAT_BIN"
    LIFEBOAT_OK=1
fi

# ---------------------------------------------------------------------------------------------
# 5. Results files

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
TSV="$RESULTS/$STAMP.tsv"
META="$RESULTS/$STAMP.meta"
MD="$RESULTS/$STAMP.md"
printf 'timestamp\ttool\tversion\tstep\twall_s\tuser_s\tsys_s\tcpu_s\tmaxrss_kib\trepo_bytes\tcache_bytes\tload1\tload5\tload15\tothers_cpu_s\tpage_cache\tstatus\n' > "$TSV"

tool_version() {
    case "$1" in
        restic)   restic version | awk '{print $2}' ;;
        borg)     borg --version | awk '{print $2}' ;;
        lifeboat) local v; v=$("$LIFEBOAT_BIN" --version 2>/dev/null | head -n1 | awk '{print $2}') || true
                  echo "${v:-unknown}" ;;
    esac
}
declare -A VERSION
for t in "${TOOL_LIST[@]}"; do VERSION[$t]="$(tool_version "$t")"; done

{
    echo "timestamp=$STAMP"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    machine_meta "$WORK"
    echo "tree=$TREE_NAME files=$TREE_FILES bytes=$TREE_BYTES"
    echo "edit_stride=$STRIDE edit_files=$EDIT_COUNT"
    echo "page_cache=$CACHE_MODE"
    for t in "${TOOL_LIST[@]}"; do echo "version_$t=${VERSION[$t]}"; done
    echo "restic_settings=init --repository-version 2; backup --compression auto (zstd default level); AES-256-CTR + Poly1305-AES"
    echo "borg_settings=init -e repokey (AES-256-CTR + HMAC-SHA256); create --compression zstd,3; default chunker (buzhash 19,23,21)"
    echo "lifeboat_settings=defaults (FastCDC, zstd, AES-256-GCM)"
} > "$META"

# ---------------------------------------------------------------------------------------------
# 6. Measurement

declare -A WALL CPU RSS REPO CACHE LOAD OTHERS STATUS
CLK_TCK=$(getconf CLK_TCK)
FAILURES=0

# measure TOOL STEP DIR -- COMMAND...   (runs COMMAND in DIR under GNU time)
measure() {
    local tool=$1 step=$2 dir=$3; shift 4
    local tf="$RUN/$tool/time-$step.txt" log="$RUN/$tool/log-$step.txt" rc=0
    prepare_cache
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
    info "$step: load average before: $load"
    local busy0 busy1; busy0=$(busy_jiffies)
    (cd "$dir" && "$TIME_BIN" -f '%e %U %S %M' -o "$tf" "$@") > "$log" 2>&1 || rc=$?
    busy1=$(busy_jiffies)
    local wall user sys rss
    read -r wall user sys rss < <(tail -n1 "$tf")
    local repo cache
    repo=$(du -sb "$RUN/$tool/repo" | cut -f1)
    cache=$(du -sb "$RUN/$tool/home" | cut -f1)
    local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    # CPU time the rest of the machine used while the step ran: a direct measure of contention.
    local others; others=$(awk -v a="$busy0" -v b="$busy1" -v hz="$CLK_TCK" -v c="$cpu" \
        'BEGIN {o = (b - a) / hz - c; if (o < 0) o = 0; printf "%.2f", o}')
    local status=ok
    if (( rc != 0 )); then
        status="exit-$rc"
        warn "$tool $step FAILED with exit status $rc; last lines of $log:"
        tail -n 20 "$log" >&2
    fi
    WALL[$tool,$step]=$wall; CPU[$tool,$step]=$cpu; RSS[$tool,$step]=$rss; OTHERS[$tool,$step]=$others
    REPO[$tool,$step]=$repo; CACHE[$tool,$step]=$cache; LOAD[$tool,$step]=$load; STATUS[$tool,$step]=$status
    local l1 l5 l15; read -r l1 l5 l15 <<< "$load"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$STAMP" "$tool" "${VERSION[$tool]}" "$step" "$wall" "$user" "$sys" "$cpu" "$rss" \
        "$repo" "$cache" "$l1" "$l5" "$l15" "$others" "$CACHE_MODE" "$status" >> "$TSV"
    # measure runs in a per-tool subshell; hand the figures back to the main shell through a file.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$wall" "$cpu" "$rss" "$repo" "$cache" "$load" "$others" "$status" \
        >> "$RUN/$tool/figures.tsv"
    info "$step: wall ${wall}s, cpu ${cpu}s, peak RSS $(( rss / 1024 )) MiB, repo $(( repo / 1048576 )) MiB; other processes used ${others} CPU s meanwhile"
    return "$rc"
}

# Tool commands. Each tool has its own HOME (so caches and config live under the run dir and are
# removed with it) and is run from SRC_PARENT on the relative path TREE_NAME, so every snapshot
# holds the same path.
tool_env() {
    local tool=$1
    local home="$RUN/$tool/home"
    export HOME="$home" XDG_CACHE_HOME="$home/.cache" XDG_CONFIG_HOME="$home/.config"
    case "$tool" in
        restic)   export RESTIC_PASSWORD="$PASSWORD" RESTIC_REPOSITORY="$RUN/$tool/repo" ;;
        borg)     export BORG_PASSPHRASE="$PASSWORD" BORG_REPO="$RUN/$tool/repo" \
                         BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no ;;
        lifeboat) printf '%s\n' "$PASSWORD" > "$home/password"
                  export LIFEBOAT_PASSWORD="$PASSWORD" LIFEBOAT_PASSWORD_FILE="$home/password" ;;
    esac
}
tool_init() {
    local repo="$RUN/$1/repo"
    case "$1" in
        restic)   restic init --repository-version 2 --repo "$repo" ;;
        borg)     borg init -e repokey "$repo" ;;
        lifeboat) "$LIFEBOAT_BIN" init --repo "$repo" ;;
    esac
}
# tool_step TOOL STEP
tool_step() {
    local tool=$1 step=$2 repo="$RUN/$1/repo" target="$RUN/$1/restore"
    local n; case "$step" in first) n=1 ;; unchanged) n=2 ;; edited) n=3 ;; esac
    case "$tool,$step" in
        restic,restore)   measure "$tool" "$step" "$target" -- restic --repo "$repo" restore latest --target "$target" ;;
        borg,restore)     measure "$tool" "$step" "$target" -- borg extract "$repo::snap3" ;;
        lifeboat,restore) measure "$tool" "$step" "$target" -- "$LIFEBOAT_BIN" restore latest --repo "$repo" --target "$target" ;;
        restic,*)   measure "$tool" "$step" "$SRC_PARENT" -- restic --repo "$repo" backup --compression auto "$TREE_NAME" ;;
        borg,*)     measure "$tool" "$step" "$SRC_PARENT" -- borg create --compression zstd,3 "$repo::snap$n" "$TREE_NAME" ;;
        lifeboat,*) measure "$tool" "$step" "$SRC_PARENT" -- "$LIFEBOAT_BIN" backup --repo "$repo" "$TREE_NAME" ;;
    esac
}

apply_edits() {
    # Deterministic: same line appended, same fixed mtime, for every tool.
    local f
    while IFS= read -r f; do
        printf '/* lifeboat bench edit: %s */\n' "$f" >> "$SRC/$f"
        touch -d '@1700000000' "$SRC/$f"
    done < "$EDIT_LIST"
}


run_tool() {
    local tool=$1
    say "$tool ${VERSION[$tool]}"
    rm -rf "${RUN:?}/$tool" "${SRC_PARENT:?}"
    mkdir -p "$RUN/$tool/home" "$RUN/$tool/restore" "$SRC_PARENT"
    info "fresh copy of the tree at $SRC"
    cp -a "$PRISTINE" "$SRC"
    (
        tool_env "$tool"
        tool_init "$tool" > "$RUN/$tool/log-init.txt" 2>&1 \
            || { warn "$tool init failed:"; cat "$RUN/$tool/log-init.txt" >&2; exit 1; }
        if [[ $CACHE_MODE == warm ]]; then warm_tree "$SRC_PARENT" || exit 1; fi
        tool_step "$tool" first || exit 1
        tool_step "$tool" unchanged || exit 1
        apply_edits || { warn "editing the tree failed"; exit 1; }
        tool_step "$tool" edited || exit 1
        tool_step "$tool" restore || exit 1
    ) || { warn "$tool did not complete; its remaining steps are skipped"; FAILURES=$((FAILURES + 1)); }
    if [[ -f "$RUN/$tool/figures.tsv" ]]; then
        local s w c r p k l o st
        while IFS=$'\t' read -r s w c r p k l o st; do
            WALL[$tool,$s]=$w; CPU[$tool,$s]=$c; RSS[$tool,$s]=$r; REPO[$tool,$s]=$p
            CACHE[$tool,$s]=$k; LOAD[$tool,$s]=$l; OTHERS[$tool,$s]=$o; STATUS[$tool,$s]=$st
        done < "$RUN/$tool/figures.tsv"
    fi
    if [[ "${STATUS[$tool,restore]:-}" == ok ]] && ! verify_restore "$tool" "$SRC"; then
        FAILURES=$((FAILURES + 1))
        STATUS[$tool,restore]=verify-failed
        awk -F'\t' -v OFS='\t' -v t="$tool" '$2 == t && $4 == "restore" {$NF = "verify-failed"} 1' "$TSV" > "$TSV.tmp"
        mv "$TSV.tmp" "$TSV"
    fi
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "${RUN:?}/$tool/repo" "${RUN:?}/$tool/restore" "${RUN:?}/$tool/home"
    fi
}

for t in "${TOOL_LIST[@]}"; do run_tool "$t"; done
rm -rf "$SRC_PARENT"

# ---------------------------------------------------------------------------------------------
# 7. Chunker-only throughput

CHUNK_LINE=""
if [[ $LIFEBOAT_OK == 1 ]]; then
    if "$LIFEBOAT_BIN" debug chunk-speed --help > /dev/null 2>&1; then
        RAND="$WORK/random-1GiB.bin"
        if [[ ! -f "$RAND" || $(stat -c %s "$RAND") -ne 1073741824 ]]; then
            head -c 1073741824 /dev/urandom > "$RAND.tmp" && mv "$RAND.tmp" "$RAND"
        fi
        say "Lifeboat chunker throughput on 1 GiB of random bytes"
        CHUNK_LINE=$("$LIFEBOAT_BIN" debug chunk-speed "$RAND" 2>&1 | grep -m1 '^chunker:' || true)
        if [[ -n "$CHUNK_LINE" ]]; then info "$CHUNK_LINE"; echo "lifeboat_$CHUNK_LINE" | tr -d ' ' | sed 's/:/=/' >> "$META"
        else warn "lifeboat debug chunk-speed printed no 'chunker:' line"; fi
    else
        info "lifeboat debug chunk-speed not available; no chunker figure"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 8. Report

have() { [[ -n "${WALL[$1,$2]:-}" && "${STATUS[$1,$2]:-}" != exit-* ]]; }

RATIO_ROWS=()
TARGET_ROWS=()
say "Results (page cache: $CACHE_MODE; tree: $TREE_FILES files, $(mib "$TREE_BYTES") MiB; edit: $EDIT_COUNT files)"
for s in "${STEPS[@]}"; do
    printf '\n%s\n' "${STEP_TITLE[$s]}"
    printf '  %-9s %9s %9s %13s %10s %10s %9s  %s\n' tool "wall s" "cpu s" "peak RSS MiB" "repo MiB" "cache MiB" "others s" "load before"
    for t in "${TOOL_LIST[@]}"; do
        if have "$t" "$s"; then
            printf '  %-9s %9s %9s %13s %10s %10s %9s  %s%s\n' "$t" "${WALL[$t,$s]}" "${CPU[$t,$s]}" \
                "$(kib_mib "${RSS[$t,$s]}")" "$(mib "${REPO[$t,$s]}")" "$(mib "${CACHE[$t,$s]}")" "${OTHERS[$t,$s]}" "${LOAD[$t,$s]}" \
                "$([[ ${STATUS[$t,$s]} == ok ]] || echo "  [${STATUS[$t,$s]}]")"
        else
            printf '  %-9s %s\n' "$t" "$([[ -n ${STATUS[$t,$s]:-} ]] && echo "FAILED (${STATUS[$t,$s]})" || echo "(not measured)")"
        fi
    done
    if has_tool lifeboat && have lifeboat "$s"; then
        for p in restic borg; do
            have "$p" "$s" || continue
            rw=$(ratio "${WALL[lifeboat,$s]}" "${WALL[$p,$s]}"); rc=$(ratio "${CPU[lifeboat,$s]}" "${CPU[$p,$s]}")
            rr=$(ratio "${RSS[lifeboat,$s]}" "${RSS[$p,$s]}"); rs=$(ratio "${REPO[lifeboat,$s]}" "${REPO[$p,$s]}")
            printf '  lifeboat / %-6s ratios: wall %s, cpu %s, RSS %s, size %s\n' "$p" "$rw" "$rc" "$rr" "$rs"
            RATIO_ROWS+=("| ${STEP_TITLE[$s]#*. } | $p | $rw | $rc | $rr | $rs |")
        done
    fi
done

# Targets for Lifeboat.
TARGET_MISSED=0
check() {  # check LABEL VALUE LIMIT_FACTOR PEER_VALUE
    local label=$1 v=$2 f=$3 pv=$4 verdict
    verdict=$(awk -v v="$v" -v f="$f" -v p="$pv" 'BEGIN {print (v <= f * p) ? "PASS" : "FAIL"}')
    [[ $verdict == PASS ]] || TARGET_MISSED=1
    TARGET_ROWS+=("| $label | $v | $(awk -v f="$f" -v p="$pv" 'BEGIN {printf "%.10g", f * p}') | $verdict |")
    printf '  %-4s  %-44s %s vs limit %s\n' "$verdict" "$label" "$v" "$(awk -v f="$f" -v p="$pv" 'BEGIN {printf "%.10g", f * p}')"
}
max_rss() { local t=$1 m=0 s; for s in "${STEPS[@]}"; do have "$t" "$s" && (( ${RSS[$t,$s]} > m )) && m=${RSS[$t,$s]}; done; echo "$m"; }
if has_tool lifeboat; then
    say "Lifeboat targets"
    if have lifeboat first && have restic first; then check "first backup wall <= 0.4 x restic (s)" "${WALL[lifeboat,first]}" 0.4 "${WALL[restic,first]}"; fi
    if have lifeboat first && have borg first; then check "first backup wall <= 0.5 x borg (s)" "${WALL[lifeboat,first]}" 0.5 "${WALL[borg,first]}"; fi
    if have lifeboat unchanged && have restic unchanged; then check "unchanged re-backup wall <= 0.5 x restic (s)" "${WALL[lifeboat,unchanged]}" 0.5 "${WALL[restic,unchanged]}"; fi
    if have lifeboat restore && have restic restore; then check "restore wall <= 0.5 x restic (s)" "${WALL[lifeboat,restore]}" 0.5 "${WALL[restic,restore]}"; fi
    if have lifeboat edited && have restic edited; then check "repo size after step 3 <= restic (bytes)" "${REPO[lifeboat,edited]}" 1 "${REPO[restic,edited]}"; fi
    if have lifeboat first && have restic first; then check "peak RSS, max over steps <= restic (KiB)" "$(max_rss lifeboat)" 1 "$(max_rss restic)"; fi
    [[ ${#TARGET_ROWS[@]} -gt 0 ]] || info "no target could be checked (Lifeboat or restic figures missing)"
fi

# Markdown for docs/BENCHMARKS.md
{
    echo "| step | tool | wall s | CPU s | peak RSS MiB | repo MiB | load avg before | others' CPU s |"
    echo "|---|---|---:|---:|---:|---:|---|---:|"
    for s in "${STEPS[@]}"; do
        for t in "${TOOL_LIST[@]}"; do
            have "$t" "$s" || continue
            echo "| ${STEP_TITLE[$s]#*. } | $t ${VERSION[$t]}$([[ ${STATUS[$t,$s]} == ok ]] || echo " **${STATUS[$t,$s]}**") | ${WALL[$t,$s]} | ${CPU[$t,$s]} | $(kib_mib "${RSS[$t,$s]}") | $(mib "${REPO[$t,$s]}") | ${LOAD[$t,$s]} | ${OTHERS[$t,$s]} |"
        done
    done
    if has_tool lifeboat && [[ ${#RATIO_ROWS[@]} -gt 0 ]]; then
        printf '
| step | Lifeboat / peer | wall | CPU | peak RSS | repo size |
|---|---|---:|---:|---:|---:|
'
        printf '%s\n' "${RATIO_ROWS[@]}"
    fi
    if [[ ${#TARGET_ROWS[@]} -gt 0 ]]; then
        printf '
| Lifeboat target | measured | limit | result |
|---|---:|---:|---|
'
        printf '%s\n' "${TARGET_ROWS[@]}"
    fi
    [[ -n "$CHUNK_LINE" ]] && printf '\nLifeboat %s (1 GiB of random bytes)\n' "$CHUNK_LINE"
    printf '\nPage cache: %s. %s, %s files, %s MiB; edit step: %s files.\n' "$CACHE_MODE" "$TREE_NAME" "$TREE_FILES" "$(mib "$TREE_BYTES")" "$EDIT_COUNT"
} > "$MD"
say "Markdown (also in $MD)"
cat "$MD"
say "Raw results: $TSV (machine details in $META)"

if (( FAILURES > 0 )); then
    warn "$FAILURES tool run(s) failed or did not verify; see the messages above"
    exit 1
fi
if [[ "${BENCH_STRICT:-0}" == 1 && $TARGET_MISSED == 1 ]]; then
    warn "at least one Lifeboat target was missed"
    exit 1
fi
exit 0
