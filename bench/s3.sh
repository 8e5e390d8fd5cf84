#!/usr/bin/env bash
# S3 benchmark: Lifeboat vs restic backing up and restoring the Linux 6.1 source tree to the same
# SeaweedFS server, in one run.
#
# Not a test: run it on demand (e.g. `make bench-s3` or `bash bench/s3.sh`). It needs root for
# apt-get and for dropping the page cache; without root it still runs (warm cache) if the
# packages are already installed. It starts ONE SeaweedFS server (`weed mini`, every port free and
# on 127.0.0.1, signatures checked against an identities file) for the whole run, one bucket per
# tool (lifeboat-bench, restic-bench), and stops it when the script ends, also when it fails or is
# interrupted; a watcher stops it too if the script is killed outright.
#
# Steps, for each tool in BENCH_TOOLS, each into its own fresh bucket:
#   init       create the repository (prefix `repo` in the tool's bucket)
#   first      first backup of the tree
#   unchanged  re-backup of the unchanged tree
#   restore    full restore of the latest snapshot into an empty directory (verified with
#              `diff -r` afterwards, outside the timing)
# Measured per step: wall, user+sys CPU and peak RSS of the tool (GNU time); the S3 requests the
# server answered during the step, by type and status (SeaweedFS's Prometheus counter
# SeaweedFS_s3_request_total; it counts HEAD as GET); the server's own CPU time; the bytes and
# objects stored in the tool's bucket afterwards (sum of <Size> over a signed ListObjectsV2); the
# tool's cache size; the load average just before the step and the CPU time that other processes
# (neither the tool nor the server) used while it ran. Requests per GB stored = the step's
# requests / (bytes in the bucket after the step / 1e9).
#
# Environment:
#   BENCH_TOOLS         tools to run, in order (default "lifeboat restic")
#   BENCH_WORK          work directory (default bench/work, shared with bench/run.sh; gitignored)
#   BENCH_RESULTS       results directory (default bench/results/s3; gitignored)
#   BENCH_DROP_CACHES   1 = drop the page cache before every step if permitted (default), 0 = never
#   BENCH_BUILD         1 = rebuild Lifeboat with `swift build -c release` even if present
#   BENCH_KEEP          1 = keep the server's data and the restores (the server is stopped anyway)
#   BENCH_STRICT        1 = exit 1 when a Lifeboat target is missed (default: report only)
#   BENCH_SERVER_LIMIT  seconds after which the server is killed whatever happens (default 14400)
#   LIFEBOAT_BIN        Lifeboat binary (default .build/release/lifeboat)
#   BENCH_WEED          weed binary (default .tools/venv/bin/weed, installed by
#                       scripts/install-seaweedfs.sh when missing)
#   BENCH_TARBALL       source tarball holding linux-source-6.1/ (default the Debian one; a small
#                       one with a separate BENCH_WORK is handy for testing this script)
#
# Exit status: 0 ok; 1 a tool failed or a restore did not match the source (or, with
# BENCH_STRICT=1, a target was missed); 2 usage or setup error.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# say, info, warn, die, ensure_packages, extract_tree, choose_cache_mode, prepare_cache,
# busy_jiffies, machine_meta, mib, kib_mib, ratio
source "$ROOT/bench/lib.sh"

WORK="${BENCH_WORK:-$ROOT/bench/work}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results/s3}"
TOOLS="${BENCH_TOOLS:-lifeboat restic}"
DROP_WANTED="${BENCH_DROP_CACHES:-1}"
SERVER_LIMIT="${BENCH_SERVER_LIMIT:-14400}"
LIFEBOAT_BIN="${LIFEBOAT_BIN:-$ROOT/.build/release/lifeboat}"
DEFAULT_WEED="${LIFEBOAT_TOOLS_DIR:-$ROOT/.tools}/venv/bin/weed"
WEED="${BENCH_WEED:-$DEFAULT_WEED}"
DEFAULT_TARBALL=/usr/src/linux-source-6.1.tar.xz
TARBALL="${BENCH_TARBALL:-$DEFAULT_TARBALL}"
TREE_NAME=linux-source-6.1
PASSWORD='bench-password-not-secret'
STEPS=(init first unchanged restore)
declare -A STEP_TITLE=(
    [init]="0. create the repository"
    [first]="1. first backup into a fresh bucket"
    [unchanged]="2. unchanged re-backup"
    [restore]="3. full restore of the latest snapshot"
)
declare -A BUCKET=([lifeboat]=lifeboat-bench [restic]=restic-bench)
MAIN_PID=$$

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
    case "$t" in lifeboat|restic) ;; *) die "unknown tool '$t' in BENCH_TOOLS (lifeboat, restic)" ;; esac
done
[[ "$SERVER_LIMIT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SERVER_LIMIT must be a positive number of seconds"

mkdir -p "$WORK" "$RESULTS"
WORK="$(cd "$WORK" && pwd)"
RESULTS="$(cd "$RESULTS" && pwd)"
# The same lock as bench/run.sh: the two would share the tree and disturb each other's timing.
exec 9> "$WORK/.lock"
flock -n 9 || die "another bench run holds $WORK/.lock"

# ---------------------------------------------------------------------------------------------
# 1. Debian packages, SeaweedFS, the kernel tree, the page cache policy, Lifeboat

PACKAGES=(restic time xz-utils curl python3)
[[ "$TARBALL" == "$DEFAULT_TARBALL" ]] && PACKAGES+=(linux-source-6.1)
ensure_packages "${PACKAGES[@]}"
TIME_BIN=/usr/bin/time
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing"
[[ -f $TARBALL ]] || die "$TARBALL missing"

if [[ ! -x "$WEED" ]]; then
    [[ "$WEED" == "$DEFAULT_WEED" ]] || die "BENCH_WEED=$WEED is not an executable file"
    say "Installing SeaweedFS (scripts/install-seaweedfs.sh)"
    bash "$ROOT/scripts/install-seaweedfs.sh" || die "scripts/install-seaweedfs.sh failed; see its message above"
fi
[[ -x "$WEED" ]] || die "no weed binary at $WEED"
WEED_VERSION=$("$WEED" version 2>/dev/null | awk '/^version/ {print $3; exit}')

PRISTINE_PARENT="$WORK/pristine"
PRISTINE="$PRISTINE_PARENT/$TREE_NAME"
extract_tree "$TARBALL" "$PRISTINE_PARENT" "$TREE_NAME"

# The run directory: the server's data, each tool's HOME (caches) and restore.
RUN="$WORK/s3-run"
rm -rf "$RUN"
mkdir -p "$RUN"
free_kib=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
need_kib=$(( TREE_BYTES * 3 / 1024 ))
if (( free_kib < need_kib )); then
    die "only $(( free_kib / 1048576 )) GiB free under $WORK; need about $(( need_kib / 1048576 )) GiB (server data + restore)"
fi

choose_cache_mode "$DROP_WANTED"

if has_tool lifeboat; then
    if [[ ! -x "$LIFEBOAT_BIN" || "${BENCH_BUILD:-0}" == 1 ]]; then
        say "Building Lifeboat (swift build -c release)"
        [[ "$LIFEBOAT_BIN" == "$ROOT/.build/release/lifeboat" ]] || die "LIFEBOAT_BIN=$LIFEBOAT_BIN does not exist; not building a custom path"
        (cd "$ROOT" && PATH="/opt/swift/usr/bin:$PATH" swift build -c release --product lifeboat) \
            || die "swift build failed; run without lifeboat: BENCH_TOOLS=restic"
    fi
    [[ -x "$LIFEBOAT_BIN" ]] || die "no Lifeboat binary at $LIFEBOAT_BIN"
fi

# ---------------------------------------------------------------------------------------------
# 2. The S3 server: one `weed mini` for the whole run

SERVER_DIR="$RUN/server"
SERVER_GROUP=""   # pid of `timeout`, the leader of the process group weed runs in
WATCHER=""
mkdir -p "$SERVER_DIR/data"
chmod 700 "$SERVER_DIR"

random_key() { tr -dc "$1" < /dev/urandom | head -c "$2" || true; }
ACCESS_KEY=$(random_key 'A-Z2-7' 20)
SECRET_KEY=$(random_key 'a-zA-Z0-9' 40)
# One identity for the whole run; the keys are in files (mode 0600) and in the tools'
# environment, never on a command line.
(umask 077
 printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","List","Tagging","Write"]}]}\n' \
     "$ACCESS_KEY" "$SECRET_KEY" > "$SERVER_DIR/identities.json"
 printf 'user = "%s:%s"\naws-sigv4 = "aws:amz:us-east-1:s3"\n' "$ACCESS_KEY" "$SECRET_KEY" > "$SERVER_DIR/curl.cfg")

free_ports() {  # free_ports N: N distinct free TCP ports on 127.0.0.1 (all held until chosen)
    python3 -c '
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

stop_server() {
    if [[ -n "$WATCHER" ]]; then
        kill -KILL "$WATCHER" 2>/dev/null || true
        wait "$WATCHER" 2>/dev/null || true
        WATCHER=""
    fi
    [[ -n "$SERVER_GROUP" ]] || return 0
    local group=$SERVER_GROUP i
    SERVER_GROUP=""
    # SIGTERM to `timeout` reaches weed (timeout forwards it); SIGKILL goes to the whole group.
    kill -TERM "$group" 2>/dev/null || true
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$group" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$group" 2>/dev/null || true
    wait "$group" 2>/dev/null || true
}

TOOL_RUN=""      # the subshell running one tool's steps, while it runs
kill_tree() {  # kill_tree PID: SIGTERM to PID and all its descendants, found by parent id
    local child
    for child in $(pgrep -P "$1" || true); do kill_tree "$child"; done
    kill -TERM "$1" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$TOOL_RUN" ]]; then
        warn "interrupted: stopping the tool that is running"
        kill_tree "$TOOL_RUN"
        wait "$TOOL_RUN" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_GROUP" ]]; then
        info "stopping the SeaweedFS server"
        stop_server
    fi
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then rm -rf "${RUN:?}"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

start_server() {
    local attempt ports p
    for attempt in 1 2 3 4; do
        ports=$(free_ports 12)
        read -r -a p <<< "$ports"
        S3_PORT=${p[6]}
        METRICS_PORT=${p[11]}
        ENDPOINT="http://127.0.0.1:$S3_PORT"
        SERVER_ARGS=(mini "-dir=$SERVER_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1
            "-master.port=${p[0]}" "-master.port.grpc=${p[1]}"
            "-volume.port=${p[2]}" "-volume.port.grpc=${p[3]}"
            "-filer.port=${p[4]}" "-filer.port.grpc=${p[5]}"
            "-s3.port=${p[6]}" "-s3.port.grpc=${p[7]}" "-s3.port.iceberg=${p[8]}" -s3.port.lance=0
            "-admin.port=${p[9]}" "-admin.port.grpc=${p[10]}"
            -webdav=false -admin.ui=false -master.telemetry=false
            "-s3.config=$SERVER_DIR/identities.json" -volume.preStopSeconds=0
            -metricsIp=127.0.0.1 "-metricsPort=$METRICS_PORT")
        # Unix sockets default to /tmp/seaweedfs-*-<port>.sock; keep them with the server when
        # the path fits in sun_path.
        if (( ${#SERVER_DIR} < 90 )); then
            SERVER_ARGS+=("-filer.localSocket=$SERVER_DIR/filer.sock" "-s3.localSocket=$SERVER_DIR/s3.sock")
        fi
        # `timeout` makes itself a process group leader, so the group is $!; its limit is the last
        # resort if both this script and the watcher below are gone.
        timeout -k 5 "$SERVER_LIMIT" "$WEED" "${SERVER_ARGS[@]}" < /dev/null > "$SERVER_DIR/weed.log" 2>&1 &
        SERVER_GROUP=$!
        # The watcher stops the server when this script is gone, even after SIGKILL.
        (
            trap '' INT TERM HUP
            while kill -0 "$MAIN_PID" 2>/dev/null; do sleep 1; done
            kill -TERM "$SERVER_GROUP" 2>/dev/null || true
            sleep 5
            kill -KILL -- "-$SERVER_GROUP" 2>/dev/null || true
        ) < /dev/null > /dev/null 2>&1 &
        WATCHER=$!

        local deadline=$(( SECONDS + 60 )) status
        while true; do
            if ! kill -0 "$SERVER_GROUP" 2>/dev/null; then
                if grep -qE 'address already in use|is not available' "$SERVER_DIR/weed.log"; then
                    warn "a port was taken before weed bound it (attempt $attempt); retrying with new ports"
                    stop_server
                    continue 2
                fi
                tail -n 30 "$SERVER_DIR/weed.log" >&2
                die "weed mini exited while starting; log: $SERVER_DIR/weed.log"
            fi
            status=$(curl -q -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 -K "$SERVER_DIR/curl.cfg" "$ENDPOINT/" || true)
            if [[ "$status" == 200 ]] && curl -q -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" > /dev/null; then
                return 0
            fi
            if (( SECONDS > deadline )); then
                tail -n 30 "$SERVER_DIR/weed.log" >&2
                die "SeaweedFS did not answer a signed ListBuckets within 60 s (S3 port $S3_PORT, last HTTP status '$status'); log: $SERVER_DIR/weed.log"
            fi
            sleep 0.2
        done
    done
    die "weed mini found a port taken on 4 attempts; see $SERVER_DIR/weed.log"
}

# s3 METHOD PATH [curl options...]: one signed request to the server; prints the body.
s3() {
    local method=$1 path=$2; shift 2
    curl -q -sS --noproxy '*' --max-time 60 -K "$SERVER_DIR/curl.cfg" -X "$method" "$@" "$ENDPOINT$path"
}

urlencode() {  # every byte but A-Z a-z 0-9 - _ . ~ as %XX (what SigV4 canonicalises)
    local s=$1 out="" c i
    for (( i = 0; i < ${#s}; i++ )); do
        c=${s:i:1}
        case "$c" in [A-Za-z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
    done
    printf '%s' "$out"
}

# bucket_usage BUCKET: prints "BYTES OBJECTS", the sum of <Size> over every object listed.
bucket_usage() {
    local bucket=$1 token="" bytes=0 objects=0 page query
    while true; do
        query="list-type=2&max-keys=1000"
        [[ -n "$token" ]] && query="continuation-token=$(urlencode "$token")&$query"
        page=$(s3 GET "/$bucket?$query") || return 1
        if [[ "$page" != *"<ListBucketResult"* ]]; then
            warn "listing bucket $bucket failed: ${page:0:300}"
            return 1
        fi
        read -r b o < <(grep -o '<Size>[0-9]*</Size>' <<< "$page" | tr -dc '0-9\n' | awk '{s += $1; n++} END {printf "%d %d\n", s, n}')
        bytes=$(( bytes + b )); objects=$(( objects + o ))
        if [[ "$page" == *"<IsTruncated>true</IsTruncated>"* ]]; then
            token=$(sed -n 's|.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*|\1|p' <<< "$page")
            [[ -n "$token" ]] || { warn "listing bucket $bucket: truncated page without a continuation token"; return 1; }
            token=${token//&amp;/&}; token=${token//&lt;/<}; token=${token//&gt;/>}; token=${token//&#34;/\"}; token=${token//&#39;/\'}
        else
            break
        fi
    done
    echo "$bytes $objects"
}

# metrics_snapshot FILE: the server's S3 request counters, one "labels value" line each.
metrics_snapshot() {
    curl -q -sf --noproxy '*' --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics" \
        | awk '/^SeaweedFS_s3_request_total\{/ {print $1, $2}' > "$1"
}

# request_delta BEFORE AFTER: prints "TOTAL BY_TYPE NON_2XX CODES" for the requests between two
# snapshots, e.g. "412 GET=10;LIST=2;PUT=400 3 GET/404=3".
request_delta() {
    # mawk-compatible (no asorti): one "type code delta" line per changed counter, sorted, then
    # folded into totals per type.
    awk 'FILENAME == ARGV[1] {before[$1] = $2 + 0; next}
         {d = ($2 + 0) - before[$1]; if (d <= 0) next
          t = $1; sub(/.*type="/, "", t); sub(/".*/, "", t)
          c = $1; sub(/.*code="/, "", c); sub(/".*/, "", c)
          printf "%s %s %d\n", t, c, d}' "$1" "$2" \
    | LC_ALL=C sort \
    | awk '{total += $3
            if ($1 != last) { if (last != "") s = s (s == "" ? "" : ";") last "=" n; last = $1; n = 0 }
            n += $3
            if ($2 !~ /^2/) { bad += $3; c = c (c == "" ? "" : ";") $1 "/" $2 "=" $3 }}
           END {if (last != "") s = s (s == "" ? "" : ";") last "=" n
                printf "%d %s %d %s\n", total, (s == "" ? "-" : s), bad, (c == "" ? "-" : c)}'
}

# CPU jiffies (user + system) of every process in the server's process group.
server_jiffies() {
    local f line rest total=0
    for f in /proc/[0-9]*/stat; do
        { read -r line < "$f"; } 2>/dev/null || continue
        rest=${line##*) }
        # After the command name: state ppid pgrp ... utime (field 14) stime (field 15).
        read -r -a fields <<< "$rest"
        [[ "${fields[2]}" == "$SERVER_GROUP" ]] && total=$(( total + fields[11] + fields[12] ))
    done
    echo "$total"
}

say "Starting SeaweedFS $WEED_VERSION ($WEED mini)"
start_server
info "S3 API $ENDPOINT, metrics http://127.0.0.1:$METRICS_PORT/metrics, data $SERVER_DIR/data"
for t in "${TOOL_LIST[@]}"; do
    out=$(s3 PUT "/${BUCKET[$t]}") || die "cannot create bucket ${BUCKET[$t]}: $out"
    [[ -z "$out" ]] || die "cannot create bucket ${BUCKET[$t]}: $out"
    info "bucket ${BUCKET[$t]} created"
done

# ---------------------------------------------------------------------------------------------
# 3. Results files

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
TSV="$RESULTS/$STAMP.tsv"
META="$RESULTS/$STAMP.meta"
MD="$RESULTS/$STAMP.md"
printf 'timestamp\ttool\tversion\tstep\twall_s\tuser_s\tsys_s\tcpu_s\tmaxrss_kib\tserver_cpu_s\trequests\trequests_by_type\tnon_2xx\tnon_2xx_by_type_code\tstored_bytes\tstored_objects\trequests_per_gb\tcache_bytes\tload1\tload5\tload15\tothers_cpu_s\tpage_cache\tstatus\n' > "$TSV"

tool_version() {
    case "$1" in
        restic)   restic version | awk '{print $2}' ;;
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
    echo "page_cache=$CACHE_MODE"
    for t in "${TOOL_LIST[@]}"; do echo "version_$t=${VERSION[$t]}"; done
    echo "server=SeaweedFS $WEED_VERSION: weed ${SERVER_ARGS[*]}"
    echo "restic_settings=-r s3:$ENDPOINT/restic-bench/repo; init --repository-version 2; backup --compression auto; restore latest; default connections (5)"
    echo "lifeboat_settings=--repo s3://lifeboat-bench/repo?endpoint=$ENDPOINT; defaults (FastCDC, zstd, AES-256-GCM, 8 connections)"
} > "$META"

# ---------------------------------------------------------------------------------------------
# 4. Measurement

declare -A WALL CPU RSS SCPU REQ BYTYPE BAD BADCODES STORED OBJECTS PERGB CACHE LOAD OTHERS STATUS
CLK_TCK=$(getconf CLK_TCK)
FAILURES=0

# measure TOOL STEP DIR -- COMMAND...   (runs COMMAND in DIR under GNU time)
measure() {
    local tool=$1 step=$2 dir=$3; shift 4
    local tf="$RUN/$tool/time-$step.txt" log="$RUN/$tool/log-$step.txt" rc=0
    local m0="$RUN/$tool/metrics-$step-before.txt" m1="$RUN/$tool/metrics-$step-after.txt"
    prepare_cache
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
    info "$step: load average before: $load"
    metrics_snapshot "$m0" || { warn "cannot read the server's metrics"; return 1; }
    local busy0 busy1 srv0 srv1
    srv0=$(server_jiffies); busy0=$(busy_jiffies)
    (cd "$dir" && "$TIME_BIN" -f '%e %U %S %M' -o "$tf" "$@") > "$log" 2>&1 || rc=$?
    busy1=$(busy_jiffies); srv1=$(server_jiffies)
    metrics_snapshot "$m1" || { warn "cannot read the server's metrics"; return 1; }
    local wall user sys rss
    read -r wall user sys rss < <(tail -n1 "$tf")
    local req bytype bad badcodes
    read -r req bytype bad badcodes < <(request_delta "$m0" "$m1")
    local usage stored objects
    if [[ $step == restore ]]; then
        stored=${STORED[$tool,last]:-0}; objects=${OBJECTS[$tool,last]:-0}
    else
        usage=$(bucket_usage "${BUCKET[$tool]}") || { warn "cannot list bucket ${BUCKET[$tool]}"; usage="0 0"; }
        read -r stored objects <<< "$usage"
        STORED[$tool,last]=$stored; OBJECTS[$tool,last]=$objects
    fi
    local pergb="-"
    if [[ $step == first || $step == unchanged ]] && (( stored > 0 )); then
        pergb=$(awk -v r="$req" -v b="$stored" 'BEGIN {printf "%.1f", r / (b / 1e9)}')
    fi
    local cache; cache=$(du -sb "$RUN/$tool/home" | cut -f1)
    local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    local scpu; scpu=$(awk -v a="$srv0" -v b="$srv1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
    # CPU time the rest of the machine used while the step ran: a direct measure of contention.
    local others; others=$(awk -v a="$busy0" -v b="$busy1" -v hz="$CLK_TCK" -v c="$cpu" -v s="$scpu" \
        'BEGIN {o = (b - a) / hz - c - s; if (o < 0) o = 0; printf "%.2f", o}')
    local status=ok
    if (( rc != 0 )); then
        status="exit-$rc"
        warn "$tool $step FAILED with exit status $rc; last lines of $log:"
        tail -n 20 "$log" >&2
    fi
    local l1 l5 l15; read -r l1 l5 l15 <<< "$load"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$STAMP" "$tool" "${VERSION[$tool]}" "$step" "$wall" "$user" "$sys" "$cpu" "$rss" "$scpu" \
        "$req" "$bytype" "$bad" "$badcodes" "$stored" "$objects" "$pergb" "$cache" \
        "$l1" "$l5" "$l15" "$others" "$CACHE_MODE" "$status" >> "$TSV"
    # measure runs in a per-tool subshell; hand the figures back to the main shell through a file.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$wall" "$cpu" "$rss" "$scpu" \
        "$req" "$bytype" "$bad" "$badcodes" "$stored" "$objects" "$pergb" "$cache" "$load" "$others" "$status" \
        >> "$RUN/$tool/figures.tsv"
    info "$step: wall ${wall}s, cpu ${cpu}s, peak RSS $(( rss / 1024 )) MiB; server cpu ${scpu}s;" \
         "$req requests ($bytype; not 2xx: $([[ $bad == 0 ]] && echo none || echo "$bad, $badcodes")); bucket $(mib "$stored") MiB in $objects objects;" \
         "other processes used ${others} CPU s meanwhile"
    # A 404 answers an existence check (HEAD or GET of an object not there yet); anything else
    # that is not 2xx (throttling, server errors, refused signatures) deserves a look.
    local entry
    for entry in ${badcodes//;/ }; do
        if [[ $entry != - && $entry != */404=* ]]; then
            warn "$tool $step: requests answered with an error status: $badcodes"
            break
        fi
    done
    return "$rc"
}

# Each tool gets its own HOME (so caches and config live under the run dir and are measured and
# removed with it) and only the settings below: no AWS profile, endpoint or proxy from outside.
tool_env() {
    local tool=$1 home="$RUN/$1/home"
    export HOME="$home" XDG_CACHE_HOME="$home/.cache" XDG_CONFIG_HOME="$home/.config"
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE \
          AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_REGION AWS_DEFAULT_REGION \
          LIFEBOAT_REPOSITORY LIFEBOAT_PASSWORD_FILE LIFEBOAT_PASSWORD_COMMAND \
          RESTIC_REPOSITORY RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND \
          http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
    export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
    export AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY"
    case "$tool" in
        restic)   export RESTIC_PASSWORD="$PASSWORD" ;;
        lifeboat) export LIFEBOAT_PASSWORD="$PASSWORD" ;;
    esac
}
repo_of() {
    case "$1" in
        restic)   echo "s3:$ENDPOINT/${BUCKET[restic]}/repo" ;;
        lifeboat) echo "s3://${BUCKET[lifeboat]}/repo?endpoint=$ENDPOINT" ;;
    esac
}
# tool_step TOOL STEP
tool_step() {
    local tool=$1 step=$2 repo target="$RUN/$1/restore"
    repo=$(repo_of "$tool")
    case "$tool,$step" in
        restic,init)      measure "$tool" "$step" "$RUN/$tool" -- restic -r "$repo" init --repository-version 2 ;;
        lifeboat,init)    measure "$tool" "$step" "$RUN/$tool" -- "$LIFEBOAT_BIN" init --repo "$repo" ;;
        restic,restore)   measure "$tool" "$step" "$target" -- restic -r "$repo" restore latest --target "$target" ;;
        lifeboat,restore) measure "$tool" "$step" "$target" -- "$LIFEBOAT_BIN" restore latest --repo "$repo" --target "$target" ;;
        restic,*)   measure "$tool" "$step" "$PRISTINE_PARENT" -- restic -r "$repo" backup --compression auto "$TREE_NAME" ;;
        lifeboat,*) measure "$tool" "$step" "$PRISTINE_PARENT" -- "$LIFEBOAT_BIN" backup --repo "$repo" "$TREE_NAME" ;;
    esac
}


run_tool() {
    local tool=$1
    say "$tool ${VERSION[$tool]} -> $(repo_of "$tool")"
    mkdir -p "$RUN/$tool/home" "$RUN/$tool/restore"
    # In the background, so that `wait` returns at once when this script is interrupted (bash
    # runs a trap only after a foreground child ends); cleanup then ends the tool.
    (
        tool_env "$tool"
        if [[ $CACHE_MODE == warm ]]; then warm_tree "$PRISTINE_PARENT" || exit 1; fi
        for s in "${STEPS[@]}"; do tool_step "$tool" "$s" || exit 1; done
    ) &
    TOOL_RUN=$!
    wait "$TOOL_RUN" || { warn "$tool did not complete; its remaining steps are skipped"; FAILURES=$((FAILURES + 1)); }
    TOOL_RUN=""
    # The tool's log lines that mention retries or errors (the server's view is in the request
    # counts by status).
    grep -ihE 'retr(y|ies|ying)|error|warn|timeout|timed out|slow' "$RUN/$tool"/log-*.txt > "$RESULTS/$STAMP-$tool-log-notes.txt" 2>/dev/null || true
    # Keep what the tool printed in each step (small: no progress output without a terminal).
    local f
    for f in "$RUN/$tool"/log-*.txt; do
        [[ -f "$f" ]] && cp "$f" "$RESULTS/$STAMP-$tool-${f##*/log-}"
    done
    if [[ -s "$RESULTS/$STAMP-$tool-log-notes.txt" ]]; then
        info "$tool printed $(wc -l < "$RESULTS/$STAMP-$tool-log-notes.txt") lines about errors or retries: $RESULTS/$STAMP-$tool-log-notes.txt"
    else
        rm -f "$RESULTS/$STAMP-$tool-log-notes.txt"
    fi
    if [[ -f "$RUN/$tool/figures.tsv" ]]; then
        local s w c r sc q bt b bc st ob pg k l o stt
        while IFS=$'\t' read -r s w c r sc q bt b bc st ob pg k l o stt; do
            WALL[$tool,$s]=$w; CPU[$tool,$s]=$c; RSS[$tool,$s]=$r; SCPU[$tool,$s]=$sc; REQ[$tool,$s]=$q
            BYTYPE[$tool,$s]=$bt; BAD[$tool,$s]=$b; BADCODES[$tool,$s]=$bc; STORED[$tool,$s]=$st
            OBJECTS[$tool,$s]=$ob; PERGB[$tool,$s]=$pg; CACHE[$tool,$s]=$k; LOAD[$tool,$s]=$l
            OTHERS[$tool,$s]=$o; STATUS[$tool,$s]=$stt
        done < "$RUN/$tool/figures.tsv"
    fi
    if [[ "${STATUS[$tool,restore]:-}" == ok ]] && ! verify_restore "$tool" "$PRISTINE"; then
        FAILURES=$((FAILURES + 1))
        STATUS[$tool,restore]=verify-failed
        awk -F'\t' -v OFS='\t' -v t="$tool" '$2 == t && $4 == "restore" {$NF = "verify-failed"} 1' "$TSV" > "$TSV.tmp"
        mv "$TSV.tmp" "$TSV"
    fi
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "${RUN:?}/$tool/restore" "${RUN:?}/$tool/home"
    fi
}

for t in "${TOOL_LIST[@]}"; do run_tool "$t"; done

# The server's log lines about errors, for the record. `weed mini` always starts a maintenance
# worker that dials the admin server at the admin HTTP port + 10000 (not -admin.port.grpc), fails
# with ports above 55535 and retries with back-off; those lines are left out.
grep -E '^[EW][0-9]{4} ' "$SERVER_DIR/weed.log" \
    | grep -vE 'worker stream|Plugin worker|INITIAL CONNECTION FAILED|Reconnection attempt|not connected to admin server' \
    > "$RESULTS/$STAMP-weed-errors.txt" 2>/dev/null || true
if [[ -s "$RESULTS/$STAMP-weed-errors.txt" ]]; then
    info "SeaweedFS logged $(wc -l < "$RESULTS/$STAMP-weed-errors.txt") error/warning lines: $RESULTS/$STAMP-weed-errors.txt"
else
    rm -f "$RESULTS/$STAMP-weed-errors.txt"
fi
say "Stopping the SeaweedFS server"
stop_server
if [[ "${BENCH_KEEP:-0}" == 1 ]]; then info "server data kept in $SERVER_DIR/data"; fi

# ---------------------------------------------------------------------------------------------
# 5. Report

have() { [[ -n "${WALL[$1,$2]:-}" && "${STATUS[$1,$2]:-}" != exit-* ]]; }

RATIO_ROWS=()
TARGET_ROWS=()
say "Results (page cache: $CACHE_MODE; tree: $TREE_FILES files, $(mib "$TREE_BYTES") MiB; server: SeaweedFS $WEED_VERSION)"
for s in "${STEPS[@]}"; do
    printf '\n%s\n' "${STEP_TITLE[$s]}"
    printf '  %-9s %8s %8s %9s %9s %9s %8s %10s %8s %8s %9s  %s\n' tool "wall s" "cpu s" "RSS MiB" "server s" requests "req/GB" "bucket MiB" objects "not 2xx" "others s" "load before"
    for t in "${TOOL_LIST[@]}"; do
        if have "$t" "$s"; then
            printf '  %-9s %8s %8s %9s %9s %9s %8s %10s %8s %8s %9s  %s%s\n' "$t" "${WALL[$t,$s]}" "${CPU[$t,$s]}" \
                "$(kib_mib "${RSS[$t,$s]}")" "${SCPU[$t,$s]}" "${REQ[$t,$s]}" "${PERGB[$t,$s]}" "$(mib "${STORED[$t,$s]}")" \
                "${OBJECTS[$t,$s]}" "${BAD[$t,$s]}" "${OTHERS[$t,$s]}" "${LOAD[$t,$s]}" \
                "$([[ ${STATUS[$t,$s]} == ok ]] || echo "  [${STATUS[$t,$s]}]")"
            printf '  %-9s   requests by type: %s%s\n' "" "${BYTYPE[$t,$s]}" "$([[ ${BAD[$t,$s]} == 0 ]] || echo "; not 2xx: ${BADCODES[$t,$s]}")"
        else
            printf '  %-9s %s\n' "$t" "$([[ -n ${STATUS[$t,$s]:-} ]] && echo "FAILED (${STATUS[$t,$s]})" || echo "(not measured)")"
        fi
    done
    if has_tool lifeboat && has_tool restic && have lifeboat "$s" && have restic "$s"; then
        rw=$(ratio "${WALL[lifeboat,$s]}" "${WALL[restic,$s]}"); rc=$(ratio "${CPU[lifeboat,$s]}" "${CPU[restic,$s]}")
        rr=$(ratio "${RSS[lifeboat,$s]}" "${RSS[restic,$s]}"); rq=$(ratio "${REQ[lifeboat,$s]}" "${REQ[restic,$s]}")
        rs=$(ratio "${STORED[lifeboat,$s]}" "${STORED[restic,$s]}")
        printf '  lifeboat / restic ratios: wall %s, cpu %s, RSS %s, requests %s, stored %s\n' "$rw" "$rc" "$rr" "$rq" "$rs"
        RATIO_ROWS+=("| ${STEP_TITLE[$s]#*. } | $rw | $rc | $rr | $rq | $rs |")
    fi
done

TARGET_MISSED=0
check() {  # check LABEL VALUE LIMIT_FACTOR PEER_VALUE
    local label=$1 v=$2 f=$3 pv=$4 verdict limit
    verdict=$(awk -v v="$v" -v f="$f" -v p="$pv" 'BEGIN {print (v <= f * p) ? "met" : "MISSED"}')
    limit=$(awk -v f="$f" -v p="$pv" 'BEGIN {printf "%.2f", f * p}')
    [[ $verdict == met ]] || TARGET_MISSED=1
    TARGET_ROWS+=("| $label | $v s ($(ratio "$v" "$pv") ×) | ≤ $limit s | $verdict |")
    printf '  %-6s  %-40s %s s (%s x restic) vs limit %s s\n' "$verdict" "$label" "$v" "$(ratio "$v" "$pv")" "$limit"
}
if has_tool lifeboat && has_tool restic; then
    say "Lifeboat targets"
    if have lifeboat first && have restic first; then check "first backup wall <= 0.4 x restic" "${WALL[lifeboat,first]}" 0.4 "${WALL[restic,first]}"; fi
    if have lifeboat restore && have restic restore; then check "restore wall <= 0.5 x restic" "${WALL[lifeboat,restore]}" 0.5 "${WALL[restic,restore]}"; fi
    [[ ${#TARGET_ROWS[@]} -gt 0 ]] || info "no target could be checked (Lifeboat or restic figures missing)"
fi

# Markdown for docs/BENCHMARKS.md
{
    echo "| step | tool | wall s | CPU s | peak RSS MiB | server CPU s | requests | requests / GB stored | bucket MiB | objects | load avg before | others' CPU s |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    for s in "${STEPS[@]}"; do
        for t in "${TOOL_LIST[@]}"; do
            have "$t" "$s" || continue
            echo "| ${STEP_TITLE[$s]#*. } | $t ${VERSION[$t]}$([[ ${STATUS[$t,$s]} == ok ]] || echo " **${STATUS[$t,$s]}**") | ${WALL[$t,$s]} | ${CPU[$t,$s]} | $(kib_mib "${RSS[$t,$s]}") | ${SCPU[$t,$s]} | ${REQ[$t,$s]} | ${PERGB[$t,$s]} | $(mib "${STORED[$t,$s]}") | ${OBJECTS[$t,$s]} | ${LOAD[$t,$s]} | ${OTHERS[$t,$s]} |"
        done
    done
    printf '\n| step | tool | requests by type (SeaweedFS counts HEAD as GET) | answered other than 2xx |\n|---|---|---|---|\n'
    for s in "${STEPS[@]}"; do
        for t in "${TOOL_LIST[@]}"; do
            have "$t" "$s" || continue
            echo "| ${STEP_TITLE[$s]#*. } | $t | ${BYTYPE[$t,$s]//;/, } | $([[ ${BAD[$t,$s]} == 0 ]] && echo none || echo "${BAD[$t,$s]}: ${BADCODES[$t,$s]//;/, }") |"
        done
    done
    if [[ ${#RATIO_ROWS[@]} -gt 0 ]]; then
        printf '\n| step | Lifeboat / restic: wall | CPU | peak RSS | requests | bytes stored |\n|---|---:|---:|---:|---:|---:|\n'
        printf '%s\n' "${RATIO_ROWS[@]}"
    fi
    if [[ ${#TARGET_ROWS[@]} -gt 0 ]]; then
        printf '\n| Lifeboat target | measured | limit | result |\n|---|---:|---:|---|\n'
        printf '%s\n' "${TARGET_ROWS[@]}"
    fi
    printf '\nPage cache: %s. %s, %s files, %s MiB. Server: SeaweedFS %s (`weed mini`), one for the run.\n' \
        "$CACHE_MODE" "$TREE_NAME" "$TREE_FILES" "$(mib "$TREE_BYTES")" "$WEED_VERSION"
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
