#!/usr/bin/env bash
# dpipe against rclone over SFTP, with the same server: a peer of scripts/bench.sh (which runs
# it at its end; it also runs alone).
#
# What it measures (wall time, median of BENCH_RUNS runs; peak RSS; CPU of the command and of
# sshd): push (upload the dataset into a fresh folder) and pull (download a folder into a fresh
# empty one) of the small set (1,000 x 100 KiB) and the large set (4 x 256 MiB), scaled by
# BENCH_SCALE like bench.sh.
#   server   Debian's sshd on a free 127.0.0.1 port with its own config (password logins,
#            `internal-sftp`), logging in the user `dpipe-bench` (created with a password).
#   dpipe    a local-mode profile, an sftp pipe with username + password and the server's host
#            key pinned (`host_key`); `dpipe push|pull -q`.
#   rclone   its sftp backend with the same user and password (obscured), `rclone copy` with
#            --transfers 4 and 16 and --sftp-disable-hashcheck (rclone would otherwise run
#            md5sum on the server over ssh after each file, which dpipe does not ask of it).
# Target (issue 11, at BENCH_SCALE=1): dpipe <= 1.0 x rclone's best, push and pull, both sets.
#
# Usage: scripts/bench-sftp.sh   (as root; env: BENCH_SCALE=1, BENCH_RUNS=3, BENCH_KEEP=1,
#                                 BENCH_BIN_DIR=DIR uses DIR/dpipe without building)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${BENCH_SCALE:-1}
RUNS=${BENCH_RUNS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dpipe-target}
# shellcheck source=lib/bench-common.sh
. "$ROOT/scripts/lib/bench-common.sh"

[ "$(id -u)" = 0 ] || die "run as root: it starts sshd and creates the user dpipe-bench"
install_bench_tools
bash "$ROOT/scripts/install-test-services.sh" >/dev/null 2>&1 || die "cannot install sshd (scripts/install-test-services.sh)"
if [ -n "${BENCH_BIN_DIR:-}" ]; then
    DPIPE="$BENCH_BIN_DIR/dpipe"
else
    say "building dpipe (release)"
    (cd "$ROOT" && cargo build --release -q -p dpipe-cli --bin dpipe) || die "cargo build of dpipe failed"
    DPIPE="$CARGO_TARGET_DIR/release/dpipe"
fi
[ -x "$DPIPE" ] || die "missing $DPIPE"

# ---- the user, sshd, the work folders ----------------------------------------------------------
BUSER=dpipe-bench
BPASS=dpipe-bench-password-1
id "$BUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$BUSER" || die "useradd $BUSER"
echo "$BUSER:$BPASS" | chpasswd || die "chpasswd $BUSER"
BHOME=$(getent passwd "$BUSER" | cut -d: -f6)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpipe-bench-sftp.XXXXXX")
REMOTE=$(mktemp -d "$BHOME/bench.XXXXXX")   # what the SFTP server serves, owned by the user
chown "$BUSER:" "$REMOTE"
SSHD_PID=""
cleanup() {
    if [ -n "$SSHD_PID" ] && kill -0 "$SSHD_PID" 2>/dev/null; then
        kill "$SSHD_PID" 2>/dev/null || true
        wait "$SSHD_PID" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "work folders kept: $WORK $REMOTE"; else rm -rf "$WORK" "$REMOTE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
mkdir -p "$WORK/data" "$WORK/out" "$WORK/ssh" /run/sshd

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -C dpipe-bench -f "$WORK/ssh/host_ed25519"
cat >"$WORK/ssh/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/ssh/host_ed25519
PidFile $WORK/ssh/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $BUSER
Subsystem sftp internal-sftp
MaxSessions 64
MaxStartups 64:30:128
CONF
/usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" 2>"$WORK/ssh/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SSHD_PID" 2>/dev/null || die "sshd died: $(cat "$WORK/ssh/sshd.log")"
    sleep 0.1
done
HOST_KEY=$(cut -d' ' -f1-2 "$WORK/ssh/host_ed25519.pub")
say "sshd on 127.0.0.1:$PORT serving $REMOTE as $BUSER"
measure() { measure_with "$SSHD_PID" sftp "$@"; }
# sshd serves each login in a process of its own that it reaps when the login ends: its CPU
# counts in the listener's children's time (fields 16 and 17 of /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }

# dpipe: a local-mode profile; one pipe per measured folder.
export DPIPE_CONFIG="$WORK/dpipe.toml" XDG_DATA_HOME="$WORK/xdg" DPIPE_PROFILE=bench
REPO="$WORK/repo"
"$DPIPE" profile init bench --local --repo "$REPO" >/dev/null 2>&1 || die "dpipe profile init failed"
sftp_pipe() { # NAME FOLDER (absolute, on the server)
    "$DPIPE" pipe create --name "$1" --protocol sftp --location "127.0.0.1:$PORT" \
        --setting "dir=${2#/}" --setting "host_key=$HOST_KEY" \
        --credential "username=$BUSER" --credential "password=$BPASS" \
        >/dev/null 2>"$WORK/pipe.err" || die "dpipe pipe create $1: $(cat "$WORK/pipe.err")"
}

# rclone: a generated config, remote `bsftp:`.
export RCLONE_CONFIG="$WORK/rclone.conf"
cat >"$RCLONE_CONFIG" <<CONF
[bsftp]
type = sftp
host = 127.0.0.1
port = $PORT
user = $BUSER
pass = $(rclone obscure "$BPASS")
disable_hashcheck = true
CONF

# settle PATH...: the large set's copies go at once (the disk would not hold them all).
settle() { if [ "$wl" = large ]; then rm -rf "$@"; fi; }

for wl in small large; do
    case $wl in
        small) N=$(scaled 1000); SIZE=102400 ;;
        large) N=4; SIZE=$(scaled 268435456) ;;
    esac
    DATA="$WORK/data/$wl"
    gen "$DATA" "$N" "$SIZE"
    # The pull source, copied into the served folder once (not timed).
    mkdir -p "$REMOTE/$wl"
    cp -r "$DATA" "$REMOTE/$wl/src"
    chown -R "$BUSER:" "$REMOTE/$wl"
    for r in $(seq "$RUNS"); do
        P="push-$wl-$r"; sftp_pipe "$P" "$REMOTE/$wl/dpipe-push-$r"
        rm -rf "${REPO:?}/$P"; mkdir -p "$REPO"; cp -al "$DATA" "$REPO/$P"
        measure "$wl" push dpipe -- "$DPIPE" push "$P" -q
        expect_count "$REMOTE/$wl/dpipe-push-$r" "$N" "dpipe push"
        P="pull-$wl-$r"; sftp_pipe "$P" "$REMOTE/$wl/src"
        measure "$wl" pull dpipe -- "$DPIPE" pull "$P" -q
        expect_count "$REPO/$P" "$N" "dpipe pull"
        settle "${REPO:?}/$P" "${REPO:?}/push-$wl-$r" "$REMOTE/$wl/dpipe-push-$r"
        for t in 4 16; do
            measure "$wl" push "rclone-t$t" -- rclone copy --transfers "$t" "$DATA" "bsftp:$REMOTE/$wl/rclone$t-push-$r/"
            expect_count "$REMOTE/$wl/rclone$t-push-$r" "$N" "rclone push"
            out="$WORK/out/rclone$t-$wl-$r"
            measure "$wl" pull "rclone-t$t" -- rclone copy --transfers "$t" "bsftp:$REMOTE/$wl/src/" "$out"
            expect_count "$out" "$N" "rclone pull"
            settle "$out" "$REMOTE/$wl/rclone$t-push-$r"
        done
    done
    settle "$DATA" "$REMOTE/$wl"
done

# ---- report ----------------------------------------------------------------------------------
python3 - "$RESULTS" "$SCALE" "$RUNS" <<'PY'
import collections, statistics, sys
path, scale, runs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
secs = collections.defaultdict(list); rss = collections.defaultdict(list); srv = collections.defaultdict(list)
for line in open(path):
    _, wl, op, tool, s, m, c, sc = line.rstrip("\n").split("\t")
    secs[(wl, op, tool)].append(float(s)); rss[(wl, op, tool)].append(int(m)); srv[(wl, op, tool)].append(float(sc))
med = {k: statistics.median(v) for k, v in secs.items()}
print(f"\nSFTP, BENCH_SCALE={scale:g} BENCH_RUNS={runs}  (median wall seconds; ratio = dpipe / tool; "
      "server CPU = sshd's user+sys seconds)")
print(f"{'workload':<8} {'op':<6} {'tool':<10} {'median s':>9} {'dpipe/tool':>10} {'peak RSS MiB':>12} {'server CPU s':>12}")
verdicts = []
for wl in ("small", "large"):
    for op in ("push", "pull"):
        d = med.get((wl, op, "dpipe"))
        tools = [t for (w, o, t) in med if (w, o) == (wl, op)]
        for tool in tools:
            m = med[(wl, op, tool)]
            ratio = f"{d / m:.2f}" if d is not None and m > 0 else "-"
            print(f"{wl:<8} {op:<6} {tool:<10} {m:>9.2f} {ratio:>10} {max(rss[(wl, op, tool)]) / 1024:>12.1f} "
                  f"{statistics.median(srv[(wl, op, tool)]):>12.2f}")
        peers = {t: med[(wl, op, t)] for t in tools if t != "dpipe"}
        if d is not None and peers:
            best = min(peers, key=peers.get)
            r = d / peers[best]
            verdicts.append(f"{wl} {op} vs rclone's best ({best}): dpipe {d:.2f}s = {r:.2f} x {peers[best]:.2f}s "
                            f"(target <= 1.0) -> {'MET' if r <= 1.0 else 'MISSED'}")
print("\nTargets (issue 11, defined for BENCH_SCALE=1):")
for v in verdicts: print("  " + v)
PY
