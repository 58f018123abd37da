#!/usr/bin/env bash
# dpipe benchmark: dpipe vs rclone vs the AWS CLI against ONE local S3 server, and dpipe on
# `dpipe serve`'s built-in object store against dpipe on that server, in one run; then its
# peers (BENCH_PEERS, default "sftp": scripts/bench-sftp.sh, dpipe vs rclone over SFTP).
#
# What it measures (wall time, median of BENCH_RUNS runs; peak RSS of every command, shown for
# the large-file workload to check that dpipe's memory stays flat in file size; the CPU time,
# user + system, of the command and of the server process — /proc/<pid>/stat before and after):
#   datasets   small = 1,000 x 100 KiB, large = 4 x 256 MiB, tiny = 10,000 x 1 KiB
#              (BENCH_SCALE=0.1 scales the file counts of small/tiny and the file size of large)
#   push       upload the dataset to a fresh prefix
#   pull       download a prefix into a fresh empty folder
#   resync-push / resync-pull
#              run the same sync again with nothing changed (only listing/comparing)
#   tools      dpipe (local-mode profile, an s3 pipe on the server; `dpipe push|pull`),
#              rclone `copy` with --transfers 4 and 16; for re-syncs `rclone sync` with its
#              default check (size + modtime: modtime lives in object metadata, which costs
#              rclone a HEAD per object on S3) and with --size-only,
#              AWS CLI `aws s3 cp --recursive` / `aws s3 sync` with --endpoint-url.
#   servers    (BENCH_SERVERS, default "s3s builtin")
#              s3s: crates/dpipe-testkit's `dpipe-test-s3` (s3s-fs with TCP_NODELAY and GET bodies
#              read in 1 MiB blocks, DESIGN.md §8), release build, on 127.0.0.1.  s3s-fs alone
#              reads GET bodies 4 KiB at a time, each read a hand-off to a thread: ~1 s of the
#              server's CPU per 100 MiB pulled, which on 2 cores every tool's pull measured more
#              than the tool itself.  s3s-fs is slow at listing (a flat listing walks the whole
#              bucket for every page; a delimiter listing walks only its folder): every tool
#              pays that.  The pull source is
#              uploaded through S3 once (rclone, single parts) before the runs: a file planted
#              in s3s-fs's folder has no stored ETag, and s3s-fs then hashes the whole file on
#              every GET (see docs/benchmarks.md for figures both ways).
#              builtin: `dpipe serve`'s built-in object store (crate dpipe-objects; the same
#              release binary, its default log level), only dpipe through it (managed pipes,
#              a server-mode profile; every push/pull fetches short-lived keys from the repo
#              API first), for the workloads of BENCH_BUILTIN_WORKLOADS (default
#              "small large").  Its pull source is pushed once by dpipe (not timed) into a
#              managed pipe `src-<workload>` and pulled in each round by a fresh profile with
#              a fresh repo folder.  So that the two servers are compared on the same objects,
#              each round also pulls, on s3s, a source pushed once by dpipe (tool `dpipe*`:
#              256 MiB files in 8 MiB parts with their SHA-256 as metadata, where rclone's
#              source has single parts that dpipe also checks against their MD5 ETag).  Within
#              a round, dpipe on s3s and dpipe on the built-in store run back to back, in
#              alternating order, so that both see the same machine state.
# Targets (issue "Pull and push", judged at BENCH_SCALE=1): small-file pull/push <= 0.6 x
# rclone's best; large files <= 1.0 x best peer; no-change re-sync of the 10,000-file set
# <= 1.2 x `rclone --size-only`.  Issue 10: the built-in store no slower than s3s-fs (ratio
# built-in / s3s <= 1.0), push and pull of the small and large sets.
#
# How long: BENCH_SCALE=0.1 BENCH_RUNS=1 takes ~2-4 minutes on 2 cores (most of it building);
# the full run (BENCH_SCALE=1, BENCH_RUNS=3) writes ~4 GiB per tool and takes ~11 minutes.
# Needs ~17 GiB free in $TMPDIR (default /tmp): the large set's copies of one round (~10 GiB),
# the built-in store's copies of the large set (~4 GiB, kept until the end) and every copy of
# the small and tiny sets (~3 GiB; kept until the end, see `settle`).
#
# What it installs: `rclone` and GNU `time` with apt-get if missing (needs root); the AWS CLI
# comes from the d6tpipe test venv (~/.cache/dpipe-d6tpipe-venv, awscli pinned in
# tests/d6tpipe/requirements.txt) or, if that venv is missing, a venv of its own at
# ~/.cache/dpipe-bench-venv with the same pin.  It builds (release) dpipe and dpipe-test-s3
# into $CARGO_TARGET_DIR (default ~/.cache/dpipe-target).
#
# Usage: scripts/bench.sh            (env: BENCH_SCALE=1, BENCH_RUNS=3, BENCH_KEEP=1 keeps
#                                     the work folder, BENCH_WORKLOADS="small large tiny",
#                                     BENCH_SERVERS="s3s builtin", BENCH_BUILTIN_WORKLOADS=
#                                     "small large", BENCH_BIN_DIR=DIR uses DIR/dpipe and
#                                     DIR/dpipe-test-s3 as they are, without building)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${BENCH_SCALE:-1}
RUNS=${BENCH_RUNS:-3}
WORKLOADS=${BENCH_WORKLOADS:-small large tiny}
SERVERS=${BENCH_SERVERS:-s3s builtin}
BUILTIN_WORKLOADS=${BENCH_BUILTIN_WORKLOADS:-small large}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dpipe-target}

# shellcheck source=lib/bench-common.sh
. "$ROOT/scripts/lib/bench-common.sh"
for srv in $SERVERS; do
    has "s3s builtin" "$srv" || die "unknown server $srv in BENCH_SERVERS (s3s, builtin)"
done
[ -n "$SERVERS" ] || die "BENCH_SERVERS names no server (s3s, builtin)"

# ---- tools -----------------------------------------------------------------------------------
install_bench_tools
AWS_PIN=$(grep -io '^awscli==[^ #]*' "$ROOT/tests/d6tpipe/requirements.txt") || die "no awscli pin in tests/d6tpipe/requirements.txt"
AWS_PY=""
for venv in "$HOME/.cache/dpipe-d6tpipe-venv" "$HOME/.cache/dpipe-bench-venv"; do
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m awscli --version 2>&1 | grep -q "aws-cli/${AWS_PIN#*==}"; then
        AWS_PY="$venv/bin/python"; break
    fi
done
if [ -z "$AWS_PY" ]; then
    say "creating ~/.cache/dpipe-bench-venv with $AWS_PIN"
    python3 -m venv "$HOME/.cache/dpipe-bench-venv"
    "$HOME/.cache/dpipe-bench-venv/bin/pip" install -q "$AWS_PIN"
    AWS_PY="$HOME/.cache/dpipe-bench-venv/bin/python"
fi

if [ -n "${BENCH_BIN_DIR:-}" ]; then
    say "using dpipe and dpipe-test-s3 from $BENCH_BIN_DIR (no build)"
    BIN_DIR=$BENCH_BIN_DIR
else
    say "building dpipe and dpipe-test-s3 (release)"
    # Two builds: built together, cargo would unify the crates' features and give a dpipe
    # binary that differs from the one `cargo build --release -p dpipe-cli` makes.
    (cd "$ROOT" && cargo build --release -q -p dpipe-cli --bin dpipe) || die "cargo build of dpipe failed"
    if has "$SERVERS" s3s; then
        (cd "$ROOT" && cargo build --release -q -p dpipe-testkit --bin dpipe-test-s3) \
            || die "cargo build of dpipe-test-s3 failed"
    fi
    BIN_DIR=$CARGO_TARGET_DIR/release
fi
DPIPE="$BIN_DIR/dpipe"
S3BIN="$BIN_DIR/dpipe-test-s3"
[ -x "$DPIPE" ] || die "missing $DPIPE"
! has "$SERVERS" s3s || [ -x "$S3BIN" ] || die "missing $S3BIN"

# ---- work folder, server, cleanup ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpipe-bench.XXXXXX")
SERVER_PID=""   # dpipe-test-s3
BI_PID=""       # dpipe serve
cleanup() {
    local pid
    for pid in $SERVER_PID $BI_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/s3" "$WORK/data" "$WORK/out" "$WORK/xdg"
BUCKET=bench
ENDPOINT="" AK="" SK=""
if has "$SERVERS" s3s; then
    "$S3BIN" --root "$WORK/s3" --bucket "$BUCKET" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q '^READY ' "$WORK/server.out" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "dpipe-test-s3 died: $(cat "$WORK/server.err")"
        sleep 0.1
    done
    read -r _ ENDPOINT AK SK < "$WORK/server.out" || die "dpipe-test-s3 printed no READY line"
    say "S3 server $ENDPOINT (root $WORK/s3)"
fi

# The built-in store: `dpipe serve` on free ports, its data folder in the work folder, its
# default log level (one line per request, as a user gets it).
API=""
if has "$SERVERS" builtin; then
    mkdir -p "$WORK/serve"
    env -u RUST_LOG "$DPIPE" serve --listen 127.0.0.1:0 --storage-listen 127.0.0.1:0 \
        --data-dir "$WORK/serve" >"$WORK/serve.out" 2>"$WORK/serve.err" &
    BI_PID=$!
    for _ in $(seq 100); do
        grep -q 'built-in object store listening on' "$WORK/serve.err" 2>/dev/null \
            && grep -q 'dpipe serve listening on' "$WORK/serve.err" && break
        kill -0 "$BI_PID" 2>/dev/null || die "dpipe serve died: $(cat "$WORK/serve.err")"
        sleep 0.1
    done
    API=$(grep -o 'dpipe serve listening on http://[0-9.:]*' "$WORK/serve.err" | head -1 | sed 's/.* on //')
    STORE_URL=$(grep -o 'built-in object store listening on http://[0-9.:]*' "$WORK/serve.err" | head -1 | sed 's/.* on //')
    [ -n "$API" ] && [ -n "$STORE_URL" ] || die "dpipe serve printed no listening lines: $(cat "$WORK/serve.err")"
    say "dpipe serve $API, built-in object store $STORE_URL (data $WORK/serve)"
fi

# dpipe: a local-mode profile whose database and file repo live in the work folder.
export DPIPE_CONFIG="$WORK/dpipe.toml" XDG_DATA_HOME="$WORK/xdg" DPIPE_PROFILE=bench
REPO="$WORK/repo"
"$DPIPE" profile init bench --local --repo "$REPO" >/dev/null 2>&1 || die "dpipe profile init failed"
dpipe_pipe() { # NAME DIR
    "$DPIPE" pipe create --name "$1" --protocol s3 --location "$BUCKET" --dir "$2" \
        --setting "endpoint=$ENDPOINT" --setting region=us-east-1 \
        --credential "aws_access_key_id=$AK" --credential "aws_secret_access_key=$SK" \
        >/dev/null 2>"$WORK/pipe.err" || die "dpipe pipe create $1: $(cat "$WORK/pipe.err")"
}

# dpipe on the built-in store: profile `bi` (account `bench`) pushes into managed pipes; each
# pull is made by a fresh profile of the same account with a fresh repo folder (a profile's
# repo holds one folder per pipe, and its sync state would make a second pull a re-sync).
BI_REPO="$WORK/bi-repo"
BI_PASSWORD=bench-password-1
if has "$SERVERS" builtin; then
    "$DPIPE" profile init bi --server "$API" --repo "$BI_REPO" >/dev/null 2>"$WORK/pipe.err" \
        || die "dpipe profile init bi: $(cat "$WORK/pipe.err")"
    DPIPE_PASSWORD=$BI_PASSWORD "$DPIPE" --profile bi register --username bench \
        --email bench@example.com >/dev/null 2>"$WORK/pipe.err" || die "dpipe register: $(cat "$WORK/pipe.err")"
fi
managed_pipe() { # NAME
    "$DPIPE" --profile bi pipe create "$1" >/dev/null 2>"$WORK/pipe.err" \
        || die "dpipe pipe create $1 (managed): $(cat "$WORK/pipe.err")"
}
expect_managed_count() { # PIPE N WHAT: the files a managed pipe holds in the built-in store
    local n
    n=$("$DPIPE" --profile bi --json scan remote --pipe "$1" 2>"$WORK/pipe.err" \
        | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["files"]))') \
        || die "$3: dpipe scan remote --pipe $1: $(cat "$WORK/pipe.err")"
    [ "$n" = "$2" ] || die "$3: $n files in managed pipe $1, expected $2"
}
fresh_profile() { # NAME: a new profile of account `bench`, repo $WORK/NAME
    "$DPIPE" profile init "$1" --server "$API" --repo "$WORK/$1" >/dev/null 2>"$WORK/pipe.err" \
        || die "dpipe profile init $1: $(cat "$WORK/pipe.err")"
    DPIPE_PASSWORD=$BI_PASSWORD "$DPIPE" --profile "$1" login --username bench >/dev/null 2>"$WORK/pipe.err" \
        || die "dpipe login ($1): $(cat "$WORK/pipe.err")"
}

# rclone: a generated config, remote `bs3:`.
export RCLONE_CONFIG="$WORK/rclone.conf"
cat >"$RCLONE_CONFIG" <<EOF
[bs3]
type = s3
provider = Other
endpoint = $ENDPOINT
region = us-east-1
access_key_id = $AK
secret_access_key = $SK
EOF

# rclone's S3 backend refuses AWS_CA_BUNDLE (which this machine's environment sets) with its own
# HTTP transport: "LoadCustomCABundleError ... unsupported transport". The endpoint is plain
# http, so run it without that variable.  Every rclone path ends in "/": without it rclone
# HEADs the path to see whether it is a file, s3s-fs answers 500 for a "directory" key
# (DESIGN.md §8) and rclone retries with back-off for ~90 s.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec env -u AWS_CA_BUNDLE rclone "$@"\n' >"$WORK/bin/rclone"
chmod +x "$WORK/bin/rclone"
RCLONE=$WORK/bin/rclone

# AWS CLI: a wrapper (so /usr/bin/time can run it), credentials in its environment only.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/aws" <<EOF
#!/bin/sh
export AWS_ACCESS_KEY_ID='$AK' AWS_SECRET_ACCESS_KEY='$SK' AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
exec '$AWS_PY' -m awscli --endpoint-url '$ENDPOINT' "\$@"
EOF
chmod +x "$WORK/bin/aws"

# ---- measuring -------------------------------------------------------------------------------
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
# measure SERVER WORKLOAD OP TOOL -- COMMAND...: runs COMMAND once against SERVER (s3s or
# builtin), records wall seconds, peak RSS, the command's CPU seconds and the server's.
measure() {
    local pid
    if [ "$1" = s3s ]; then pid=$SERVER_PID; else pid=$BI_PID; fi
    measure_with "$pid" "$@"
}

# settle PATH...: what a round is done with. The large files' copies are deleted at once (the
# disk would not hold them all). The copies of the many-file sets are kept until the work
# folder goes: deleting a thousand files makes the next file creations on this machine's ext4
# (no journal) slow for a minute or more — its inode allocator skips recently freed inodes one
# by one (`recently_deleted`, 44 % of a small pull's CPU in `perf`) — and whichever tool came
# next would pay for the deletions of the one before.
settle() {
    if [ "$wl" = large ]; then rm -rf "$@"; fi
}

# dpipe_s3s R: dpipe's measurements of round R on s3s — push and pull of the shared source
# (the tool comparison), and, when the built-in store is measured too, pull of the source
# dpipe pushed (tool `dpipe*`, the server comparison).
dpipe_s3s() {
    local r=$1 P
    P="push-$wl-$r"; dpipe_pipe "$P" "$wl/dpipe-push-$r"
    rm -rf "${REPO:?}/$P"; mkdir -p "$REPO"; cp -al "$DATA" "$REPO/$P"
    measure s3s "$wl" push dpipe -- "$DPIPE" push --pipe "$P" -q
    expect_count "$WORK/s3/$BUCKET/$wl/dpipe-push-$r" "$N" "dpipe push"
    measure s3s "$wl" resync-push dpipe -- "$DPIPE" push --pipe "$P" -q
    P="pull-$wl-$r"; dpipe_pipe "$P" "$wl/src"
    measure s3s "$wl" pull dpipe -- "$DPIPE" pull --pipe "$P" -q
    expect_count "$REPO/$P" "$N" "dpipe pull"
    measure s3s "$wl" resync-pull dpipe -- "$DPIPE" pull --pipe "$P" -q
    settle "${REPO:?}/$P" "${REPO:?}/push-$wl-$r"
    if [ "$BUILTIN_WL" = 1 ]; then
        P="dpull-$wl-$r"; dpipe_pipe "$P" "$wl/dpipe-src"
        measure s3s "$wl" pull 'dpipe*' -- "$DPIPE" pull --pipe "$P" -q
        expect_count "$REPO/$P" "$N" "dpipe pull (dpipe's source)"
        measure s3s "$wl" resync-pull 'dpipe*' -- "$DPIPE" pull --pipe "$P" -q
        settle "${REPO:?}/$P"
    fi
}

# dpipe_builtin R: dpipe's measurements of round R on the built-in store: push into a new
# managed pipe, pull of `src-<workload>` by a fresh profile.
dpipe_builtin() {
    local r=$1 P="push-$wl-$r" prof="bi-pull-$wl-$r"
    managed_pipe "$P"
    rm -rf "${BI_REPO:?}/$P"; mkdir -p "$BI_REPO"; cp -al "$DATA" "$BI_REPO/$P"
    measure builtin "$wl" push dpipe -- "$DPIPE" --profile bi push --pipe "$P" -q
    expect_managed_count "$P" "$N" "dpipe push (built-in store)"
    measure builtin "$wl" resync-push dpipe -- "$DPIPE" --profile bi push --pipe "$P" -q
    fresh_profile "$prof"
    measure builtin "$wl" pull dpipe -- "$DPIPE" --profile "$prof" pull --pipe "src-$wl" -q
    expect_count "$WORK/$prof/src-$wl" "$N" "dpipe pull (built-in store)"
    measure builtin "$wl" resync-pull dpipe -- "$DPIPE" --profile "$prof" pull --pipe "src-$wl" -q
    # The pushed objects stay in the store (no dpipe command deletes a pipe's stored files
    # without a sync state, and the store frees blobs only through S3 deletes).
    settle "${WORK:?}/$prof" "${BI_REPO:?}/$P"
}

for wl in $WORKLOADS; do
    case $wl in
        small) N=$(scaled 1000); SIZE=102400 ;;
        large) N=4; SIZE=$(scaled 268435456) ;;
        tiny) N=$(scaled 10000); SIZE=1024 ;;
        *) die "unknown workload $wl (small, large, tiny)" ;;
    esac
    BUILTIN_WL=0
    if has "$SERVERS" builtin && has "$BUILTIN_WORKLOADS" "$wl"; then BUILTIN_WL=1; fi
    if ! has "$SERVERS" s3s && [ "$BUILTIN_WL" = 0 ]; then continue; fi
    gen "$WORK/data/$wl" "$N" "$SIZE"
    DATA="$WORK/data/$wl"
    if has "$SERVERS" s3s; then
        # The pull source, uploaded once through S3 (not timed), in single parts so that every
        # object has an MD5 ETag stored with it: s3s-fs hashes the whole content of a file
        # planted in its folder (no stored ETag) on every GET, ranged GETs included, and the
        # pulls would measure that rather than the tools.
        say "uploading the pull source of $wl"
        "$RCLONE" copy --transfers 16 --s3-upload-cutoff 5G "$DATA" "bs3:$BUCKET/$wl/src/" \
            >"$WORK/cmd.out" 2>"$WORK/cmd.err" || die "uploading the pull source: $(tail -3 "$WORK/cmd.err")"
        expect_count "$WORK/s3/$BUCKET/$wl/src" "$N" "the pull source"
    fi
    if [ "$BUILTIN_WL" = 1 ]; then
        # The built-in store's pull source, pushed once by dpipe (not timed); and the same on
        # s3s for the like-for-like pull (`dpipe*`).
        say "pushing the built-in store's pull source of $wl"
        managed_pipe "src-$wl"
        mkdir -p "$BI_REPO"; cp -al "$DATA" "$BI_REPO/src-$wl"
        "$DPIPE" --profile bi push --pipe "src-$wl" -q >"$WORK/cmd.out" 2>"$WORK/cmd.err" \
            || die "pushing src-$wl: $(tail -3 "$WORK/cmd.err")"
        expect_managed_count "src-$wl" "$N" "the built-in store's pull source"
        if has "$SERVERS" s3s; then
            dpipe_pipe "dsrc-$wl" "$wl/dpipe-src"
            mkdir -p "$REPO"; cp -al "$DATA" "$REPO/dsrc-$wl"
            "$DPIPE" push --pipe "dsrc-$wl" -q >"$WORK/cmd.out" 2>"$WORK/cmd.err" \
                || die "pushing dsrc-$wl: $(tail -3 "$WORK/cmd.err")"
            expect_count "$WORK/s3/$BUCKET/$wl/dpipe-src" "$N" "dpipe's pull source"
        fi
    fi

    for r in $(seq "$RUNS"); do
        # dpipe on both servers, back to back, the first of the two alternating by round.
        if [ $((r % 2)) = 1 ]; then
            if has "$SERVERS" s3s; then dpipe_s3s "$r"; fi
            if [ "$BUILTIN_WL" = 1 ]; then dpipe_builtin "$r"; fi
        else
            if [ "$BUILTIN_WL" = 1 ]; then dpipe_builtin "$r"; fi
            if has "$SERVERS" s3s; then dpipe_s3s "$r"; fi
        fi
        has "$SERVERS" s3s || continue

        # rclone -----------------------------------------------------------------------------
        for t in 4 16; do
            dst="bs3:$BUCKET/$wl/rclone$t-push-$r/"
            measure s3s "$wl" push "rclone-t$t" -- "$RCLONE" copy --transfers "$t" "$DATA" "$dst"
            expect_count "$WORK/s3/$BUCKET/$wl/rclone$t-push-$r" "$N" "rclone push"
            out="$WORK/out/rclone$t-$wl-$r"
            measure s3s "$wl" pull "rclone-t$t" -- "$RCLONE" copy --transfers "$t" "bs3:$BUCKET/$wl/src/" "$out"
            expect_count "$out" "$N" "rclone pull"
        done
        dst="bs3:$BUCKET/$wl/rclone16-push-$r/"; out="$WORK/out/rclone16-$wl-$r"
        measure s3s "$wl" resync-push rclone -- "$RCLONE" sync --transfers 16 "$DATA" "$dst"
        measure s3s "$wl" resync-push rclone-size-only -- "$RCLONE" sync --transfers 16 --size-only "$DATA" "$dst"
        measure s3s "$wl" resync-pull rclone -- "$RCLONE" sync --transfers 16 "bs3:$BUCKET/$wl/src/" "$out"
        measure s3s "$wl" resync-pull rclone-size-only -- "$RCLONE" sync --transfers 16 --size-only "bs3:$BUCKET/$wl/src/" "$out"
        settle "$WORK"/out/rclone*-"$wl-$r"

        # AWS CLI ----------------------------------------------------------------------------
        measure s3s "$wl" push aws -- "$WORK/bin/aws" s3 cp --recursive --only-show-errors "$DATA" "s3://$BUCKET/$wl/aws-push-$r/"
        expect_count "$WORK/s3/$BUCKET/$wl/aws-push-$r" "$N" "aws push"
        measure s3s "$wl" resync-push aws -- "$WORK/bin/aws" s3 sync --only-show-errors "$DATA" "s3://$BUCKET/$wl/aws-push-$r/"
        out="$WORK/out/aws-$wl-$r"
        measure s3s "$wl" pull aws -- "$WORK/bin/aws" s3 cp --recursive --only-show-errors "s3://$BUCKET/$wl/src/" "$out"
        expect_count "$out" "$N" "aws pull"
        measure s3s "$wl" resync-pull aws -- "$WORK/bin/aws" s3 sync --only-show-errors "s3://$BUCKET/$wl/src/" "$out"
        settle "$out"
        # The uploaded copies too (the sources stay for the next round).
        settle $(find "$WORK/s3/$BUCKET/$wl" -mindepth 1 -maxdepth 1 ! -name src ! -name dpipe-src)
    done
    settle "${WORK:?}/s3/$BUCKET/$wl" "$DATA" "${REPO:?}/dsrc-$wl" "${BI_REPO:?}/src-$wl"
done

# ---- report ----------------------------------------------------------------------------------
python3 - "$RESULTS" "$SCALE" "$RUNS" <<'EOF'
import collections, statistics, sys
path, scale, runs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
secs = collections.defaultdict(list); rss = collections.defaultdict(list)
cpu = collections.defaultdict(list); srv_cpu = collections.defaultdict(list)
for line in open(path):
    srv, wl, op, tool, s, m, c, sc = line.rstrip("\n").split("\t")
    k = (srv, wl, op, tool)
    secs[k].append(float(s)); rss[k].append(int(m)); cpu[k].append(float(c)); srv_cpu[k].append(float(sc))
med = {k: statistics.median(v) for k, v in secs.items()}
mcpu = {k: statistics.median(v) for k, v in cpu.items()}
msrv = {k: statistics.median(v) for k, v in srv_cpu.items()}

# The tools on the test server (dpipe* belongs to the server comparison, below).
tm = {k[1:]: v for k, v in med.items() if k[0] == "s3s" and k[3] != "dpipe*"}
if tm:
    groups = collections.OrderedDict()
    for (wl, op, tool) in tm:
        groups.setdefault((wl, op), []).append(tool)
    print(f"\nBENCH_SCALE={scale:g} BENCH_RUNS={runs}  (median wall seconds; ratio = dpipe / tool; "
          "server CPU = the S3 server's user+sys seconds)")
    print(f"{'workload':<8} {'op':<12} {'tool':<17} {'median s':>9} {'dpipe/tool':>10} {'peak RSS MiB':>12} {'server CPU s':>12}")
    verdicts = []
    for (wl, op), tools in groups.items():
        d = tm.get((wl, op, "dpipe"))
        for tool in tools:
            m = tm[(wl, op, tool)]
            ratio = f"{d / m:.2f}" if d is not None and m > 0 else "-"
            peak = max(rss[("s3s", wl, op, tool)]) / 1024
            print(f"{wl:<8} {op:<12} {tool:<17} {m:>9.2f} {ratio:>10} {peak:>12.1f} {msrv[('s3s', wl, op, tool)]:>12.2f}")
        peers = {t: tm[(wl, op, t)] for t in tools if t != "dpipe"}
        if d is not None and peers:
            best = min(peers, key=peers.get)
            print(f"{'':<8} {'':<12} {'dpipe/best peer':<17} {'':>9} {d / peers[best]:>10.2f}  (best: {best})")
        def target(name, ref_tools, limit):
            refs = [tm[(wl, op, t)] for t in ref_tools if (wl, op, t) in tm]
            if d is None or not refs: return
            r = d / min(refs)
            verdicts.append(f"{name}: dpipe {d:.2f}s = {r:.2f} x {min(refs):.2f}s (target <= {limit}) -> {'MET' if r <= limit else 'MISSED'}")
        if wl == "small" and op in ("push", "pull"):
            target(f"small {op} vs rclone's best", ["rclone-t4", "rclone-t16"], 0.6)
        if wl == "large" and op in ("push", "pull"):
            target(f"large {op} vs best peer", list(peers), 1.0)
        if wl == "tiny" and op.startswith("resync"):
            target(f"tiny {op} vs rclone --size-only", ["rclone-size-only"], 1.2)
    print("\nTargets (defined for BENCH_SCALE=1):")
    for v in verdicts: print("  " + v)
    large_rss = [max(rss[k]) for k in rss if k[0] == "s3s" and k[1] == "large" and k[3] == "dpipe"]
    if large_rss:
        print(f"\ndpipe peak RSS on the large files: {max(large_rss) / 1024:.1f} MiB (files of {256 * scale:g} MiB)")

# dpipe on the built-in store against dpipe on the test server. Pulls are compared on a
# source dpipe pushed to both servers (dpipe* on s3s-fs).
rows = []
for (srv, wl, op, tool) in med:
    if srv != "builtin": continue
    t = ("s3s", wl, op, "dpipe*")
    if t not in med: t = ("s3s", wl, op, "dpipe")
    rows.append((wl, op, ("builtin", wl, op, "dpipe"), t if t in med else None))
if rows:
    print(f"\nBuilt-in object store vs the test server, dpipe on both (median wall seconds; ratio = "
          "built-in / s3s-fs, goal <= 1.0;\nCPU = user+sys seconds of the server process and of dpipe; "
          "pulls on s3s-fs from a source pushed by dpipe, as on the built-in store)")
    print(f"{'workload':<8} {'op':<12} {'s3s-fs s':>9} {'built-in s':>10} {'ratio':>6} "
          f"{'srv CPU s3s':>11} {'srv CPU bi':>10} {'dpipe CPU s3s':>13} {'dpipe CPU bi':>12} "
          f"{'RSS MiB s3s':>11} {'RSS MiB bi':>10}")
    verdicts = []
    dash = "-"
    for wl, op, b, t in rows:
        if t is None:
            print(f"{wl:<8} {op:<12} {dash:>9} {med[b]:>10.2f} {dash:>6} {dash:>11} {msrv[b]:>10.2f} "
                  f"{dash:>13} {mcpu[b]:>12.2f} {dash:>11} {max(rss[b]) / 1024:>10.1f}")
            continue
        r = med[b] / med[t] if med[t] > 0 else float("inf")
        print(f"{wl:<8} {op:<12} {med[t]:>9.2f} {med[b]:>10.2f} {r:>6.2f} {msrv[t]:>11.2f} {msrv[b]:>10.2f} "
              f"{mcpu[t]:>13.2f} {mcpu[b]:>12.2f} {max(rss[t]) / 1024:>11.1f} {max(rss[b]) / 1024:>10.1f}")
        if op in ("push", "pull"):
            verdicts.append(f"{wl} {op}: built-in {med[b]:.2f}s = {r:.2f} x s3s-fs {med[t]:.2f}s "
                            f"(goal <= 1.0) -> {'MET' if r <= 1.0 else 'MISSED'}")
    for (srv, wl, op, tool) in med:
        k = ("s3s", wl, op, "dpipe")
        if tool == "dpipe*" and k in med:
            print(f"  (s3s-fs, {wl} {op} from rclone's single-part source instead: "
                  f"{med[k]:.2f}s, server CPU {msrv[k]:.2f}s, dpipe CPU {mcpu[k]:.2f}s)")
    if verdicts:
        print("\nGoal (issue 10, at BENCH_SCALE=1):")
        for v in verdicts: print("  " + v)
EOF

# ---- peers -----------------------------------------------------------------------------------
# The other storage protocols' benchmarks, with the same binary and settings.
for peer in ${BENCH_PEERS-sftp}; do
    say "running scripts/bench-$peer.sh"
    BENCH_BIN_DIR="$BIN_DIR" bash "$ROOT/scripts/bench-$peer.sh" || die "scripts/bench-$peer.sh failed"
done
