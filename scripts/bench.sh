#!/usr/bin/env bash
# dpipe benchmark: dpipe vs rclone vs the AWS CLI against ONE local S3 server, in one run.
#
# What it measures (wall time, median of BENCH_RUNS runs; peak RSS of every command, shown for
# the large-file workload to check that dpipe's memory stays flat in file size):
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
#   server     crates/dpipe-testkit's `dpipe-test-s3` (s3s-fs with TCP_NODELAY and GET bodies
#              read in 1 MiB blocks, DESIGN.md §8), release build, on 127.0.0.1.  s3s-fs alone
#              reads GET bodies 4 KiB at a time, each read a hand-off to a thread: ~1 s of the
#              server's CPU per 100 MiB pulled, which on 2 cores every tool's pull measured more
#              than the tool itself.  s3s-fs is slow at listing (a flat listing walks the whole
#              bucket for every page; a delimiter listing walks only its folder): every tool
#              pays that.  The pull source is
#              uploaded through S3 once (rclone, single parts) before the runs: a file planted
#              in s3s-fs's folder has no stored ETag, and s3s-fs then hashes the whole file on
#              every GET (see docs/benchmarks.md for figures both ways).
# Targets (issue "Pull and push", judged at BENCH_SCALE=1): small-file pull/push <= 0.6 x
# rclone's best; large files <= 1.0 x best peer; no-change re-sync of the 10,000-file set
# <= 1.2 x `rclone --size-only`.
#
# How long: BENCH_SCALE=0.1 BENCH_RUNS=1 takes ~2-4 minutes on 2 cores (most of it building);
# the full run (BENCH_SCALE=1, BENCH_RUNS=3) writes ~4 GiB per tool and takes ~10 minutes.
# Needs ~12 GiB free in $TMPDIR (default /tmp): the large set's copies of one round (~8 GiB)
# and every copy of the small and tiny sets (~3 GiB; kept until the end, see `settle`).
#
# What it installs: `rclone` and GNU `time` with apt-get if missing (needs root); the AWS CLI
# comes from the d6tpipe test venv (~/.cache/dpipe-d6tpipe-venv, awscli pinned in
# tests/d6tpipe/requirements.txt) or, if that venv is missing, a venv of its own at
# ~/.cache/dpipe-bench-venv with the same pin.  It builds (release) dpipe and dpipe-test-s3
# into $CARGO_TARGET_DIR (default ~/.cache/dpipe-target).
#
# Usage: scripts/bench.sh            (env: BENCH_SCALE=1, BENCH_RUNS=3, BENCH_KEEP=1 keeps
#                                     the work folder, BENCH_WORKLOADS="small large tiny",
#                                     BENCH_BIN_DIR=DIR uses DIR/dpipe and DIR/dpipe-test-s3
#                                     as they are, without building)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${BENCH_SCALE:-1}
RUNS=${BENCH_RUNS:-3}
WORKLOADS=${BENCH_WORKLOADS:-small large tiny}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dpipe-target}

say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---- tools -----------------------------------------------------------------------------------
if ! command -v rclone >/dev/null; then
    say "installing rclone (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >/dev/null || die "cannot install rclone"
fi
if [ ! -x /usr/bin/time ]; then
    say "installing GNU time (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null || die "cannot install time"
fi
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
    (cd "$ROOT" && cargo build --release -q -p dpipe-testkit --bin dpipe-test-s3) \
        || die "cargo build of dpipe-test-s3 failed"
    BIN_DIR=$CARGO_TARGET_DIR/release
fi
DPIPE="$BIN_DIR/dpipe"
S3BIN="$BIN_DIR/dpipe-test-s3"
[ -x "$DPIPE" ] && [ -x "$S3BIN" ] || die "missing $DPIPE or $S3BIN"

# ---- work folder, server, cleanup ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpipe-bench.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/s3" "$WORK/data" "$WORK/out" "$WORK/xdg"
BUCKET=bench
"$S3BIN" --root "$WORK/s3" --bucket "$BUCKET" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^READY ' "$WORK/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "dpipe-test-s3 died: $(cat "$WORK/server.err")"
    sleep 0.1
done
read -r _ ENDPOINT AK SK < "$WORK/server.out" || die "dpipe-test-s3 printed no READY line"
say "S3 server $ENDPOINT (root $WORK/s3)"

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
# measure WORKLOAD OP TOOL -- COMMAND...: runs COMMAND once, records wall seconds and peak RSS.
measure() {
    local wl=$1 op=$2 tool=$3; shift 4
    local tf="$WORK/time.out"
    # Every command starts with nothing dirty in the page cache: what the previous command
    # left unwritten (rclone and the AWS CLI do not fsync) is not written back on its time.
    sync
    if ! /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$WORK/cmd.out" 2>"$WORK/cmd.err"; then
        say "FAILED: $wl $op $tool: $*"; tail -5 "$WORK/cmd.err" >&2; tail -5 "$WORK/cmd.out" >&2
        exit 1
    fi
    local secs rss
    read -r secs rss < <(tail -1 "$tf")
    printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$op" "$tool" "$secs" "$rss" >>"$RESULTS"
    say "$wl $op $tool: ${secs}s, peak RSS ${rss} KiB"
}
# count FOLDER: regular files under FOLDER (to check each download is complete).
count() { find "$1" -type f | wc -l; }
expect_count() { # FOLDER N WHAT
    local n; n=$(count "$1")
    [ "$n" = "$2" ] || die "$3: $n files in $1, expected $2"
}

gen() { # NAME COUNT BYTES
    say "generating $1: $2 x $3 bytes"
    python3 - "$WORK/data/$1" "$2" "$3" <<'EOF'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
width = len(str(n))
block = 1 << 20
for i in range(n):
    # 100 files per sub-folder, like real datasets; random bytes (no compression wins).
    sub = os.path.join(d, f"d{i // 100:04d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"f{i:0{width}d}.bin"), "wb") as f:
        left = size
        while left > 0:
            f.write(os.urandom(min(block, left)))
            left -= block
EOF
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

scaled() { python3 -c "import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }

for wl in $WORKLOADS; do
    case $wl in
        small) N=$(scaled 1000); SIZE=102400 ;;
        large) N=4; SIZE=$(scaled 268435456) ;;
        tiny) N=$(scaled 10000); SIZE=1024 ;;
        *) die "unknown workload $wl (small, large, tiny)" ;;
    esac
    gen "$wl" "$N" "$SIZE"
    DATA="$WORK/data/$wl"
    # The pull source, uploaded once through S3 (not timed), in single parts so that every
    # object has an MD5 ETag stored with it: s3s-fs hashes the whole content of a file planted
    # in its folder (no stored ETag) on every GET, ranged GETs included, and the pulls would
    # measure that rather than the tools.
    say "uploading the pull source of $wl"
    "$RCLONE" copy --transfers 16 --s3-upload-cutoff 5G "$DATA" "bs3:$BUCKET/$wl/src/" \
        >"$WORK/cmd.out" 2>"$WORK/cmd.err" || die "uploading the pull source: $(tail -3 "$WORK/cmd.err")"
    expect_count "$WORK/s3/$BUCKET/$wl/src" "$N" "the pull source"

    for r in $(seq "$RUNS"); do
        # dpipe ------------------------------------------------------------------------------
        P="push-$wl-$r"; dpipe_pipe "$P" "$wl/dpipe-push-$r"
        rm -rf "${REPO:?}/$P"; mkdir -p "$REPO"; cp -al "$DATA" "$REPO/$P"
        measure "$wl" push dpipe -- "$DPIPE" push --pipe "$P" -q
        expect_count "$WORK/s3/$BUCKET/$wl/dpipe-push-$r" "$N" "dpipe push"
        measure "$wl" resync-push dpipe -- "$DPIPE" push --pipe "$P" -q
        P="pull-$wl-$r"; dpipe_pipe "$P" "$wl/src"
        measure "$wl" pull dpipe -- "$DPIPE" pull --pipe "$P" -q
        expect_count "$REPO/$P" "$N" "dpipe pull"
        measure "$wl" resync-pull dpipe -- "$DPIPE" pull --pipe "$P" -q
        settle "${REPO:?}/$P" "${REPO:?}/push-$wl-$r"

        # rclone -----------------------------------------------------------------------------
        for t in 4 16; do
            dst="bs3:$BUCKET/$wl/rclone$t-push-$r/"
            measure "$wl" push "rclone-t$t" -- "$RCLONE" copy --transfers "$t" "$DATA" "$dst"
            expect_count "$WORK/s3/$BUCKET/$wl/rclone$t-push-$r" "$N" "rclone push"
            out="$WORK/out/rclone$t-$wl-$r"
            measure "$wl" pull "rclone-t$t" -- "$RCLONE" copy --transfers "$t" "bs3:$BUCKET/$wl/src/" "$out"
            expect_count "$out" "$N" "rclone pull"
        done
        dst="bs3:$BUCKET/$wl/rclone16-push-$r/"; out="$WORK/out/rclone16-$wl-$r"
        measure "$wl" resync-push rclone -- "$RCLONE" sync --transfers 16 "$DATA" "$dst"
        measure "$wl" resync-push rclone-size-only -- "$RCLONE" sync --transfers 16 --size-only "$DATA" "$dst"
        measure "$wl" resync-pull rclone -- "$RCLONE" sync --transfers 16 "bs3:$BUCKET/$wl/src/" "$out"
        measure "$wl" resync-pull rclone-size-only -- "$RCLONE" sync --transfers 16 --size-only "bs3:$BUCKET/$wl/src/" "$out"
        settle "$WORK"/out/rclone*-"$wl-$r"

        # AWS CLI ----------------------------------------------------------------------------
        measure "$wl" push aws -- "$WORK/bin/aws" s3 cp --recursive --only-show-errors "$DATA" "s3://$BUCKET/$wl/aws-push-$r/"
        expect_count "$WORK/s3/$BUCKET/$wl/aws-push-$r" "$N" "aws push"
        measure "$wl" resync-push aws -- "$WORK/bin/aws" s3 sync --only-show-errors "$DATA" "s3://$BUCKET/$wl/aws-push-$r/"
        out="$WORK/out/aws-$wl-$r"
        measure "$wl" pull aws -- "$WORK/bin/aws" s3 cp --recursive --only-show-errors "s3://$BUCKET/$wl/src/" "$out"
        expect_count "$out" "$N" "aws pull"
        measure "$wl" resync-pull aws -- "$WORK/bin/aws" s3 sync --only-show-errors "s3://$BUCKET/$wl/src/" "$out"
        settle "$out"
        # The uploaded copies too.
        settle $(find "$WORK/s3/$BUCKET/$wl" -mindepth 1 -maxdepth 1 ! -name src)
    done
    settle "${WORK:?}/s3/$BUCKET/$wl" "$DATA"
done

# ---- report ----------------------------------------------------------------------------------
python3 - "$RESULTS" "$SCALE" "$RUNS" <<'EOF'
import collections, statistics, sys
path, scale, runs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
secs = collections.defaultdict(list); rss = collections.defaultdict(list)
for line in open(path):
    wl, op, tool, s, m = line.rstrip("\n").split("\t")
    secs[(wl, op, tool)].append(float(s)); rss[(wl, op, tool)].append(int(m))
med = {k: statistics.median(v) for k, v in secs.items()}
groups = collections.OrderedDict()
for (wl, op, tool) in med:
    groups.setdefault((wl, op), []).append(tool)
print(f"\nBENCH_SCALE={scale:g} BENCH_RUNS={runs}  (median wall seconds; ratio = dpipe / tool)")
print(f"{'workload':<8} {'op':<12} {'tool':<17} {'median s':>9} {'dpipe/tool':>10} {'peak RSS MiB':>12}")
verdicts = []
for (wl, op), tools in groups.items():
    d = med.get((wl, op, "dpipe"))
    for tool in tools:
        m = med[(wl, op, tool)]
        ratio = f"{d / m:.2f}" if d is not None and m > 0 else "-"
        peak = max(rss[(wl, op, tool)]) / 1024
        print(f"{wl:<8} {op:<12} {tool:<17} {m:>9.2f} {ratio:>10} {peak:>12.1f}")
    peers = {t: med[(wl, op, t)] for t in tools if t != "dpipe"}
    if d is not None and peers:
        best = min(peers, key=peers.get)
        print(f"{'':<8} {'':<12} {'dpipe/best peer':<17} {'':>9} {d / peers[best]:>10.2f}  (best: {best})")
    def target(name, ref_tools, limit):
        refs = [med[(wl, op, t)] for t in ref_tools if (wl, op, t) in med]
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
large_rss = [max(rss[k]) for k in rss if k[0] == "large" and k[2] == "dpipe"]
if large_rss:
    print(f"\ndpipe peak RSS on the large files: {max(large_rss) / 1024:.1f} MiB (files of {256 * scale:g} MiB)")
EOF
