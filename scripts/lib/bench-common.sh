# Shared by scripts/bench.sh and its peers (scripts/bench-sftp.sh): logging, the timed run of one
# command (wall time, peak RSS, CPU of the command and of a server process), test data, counts.
# Sourced, not run. The caller sets WORK (its work folder) and RESULTS (a TSV file) first.

say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
# has LIST WORD: whether the space-separated LIST holds WORD.
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

# install_bench_tools: rclone and GNU time, with apt-get if missing (needs root).
install_bench_tools() {
    if ! command -v rclone >/dev/null; then
        say "installing rclone (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >/dev/null || die "cannot install rclone"
    fi
    if [ ! -x /usr/bin/time ]; then
        say "installing GNU time (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null || die "cannot install time"
    fi
}

TICK=$(getconf CLK_TCK)
# cpu_ticks PID: the user + system CPU time of process PID so far, in clock ticks (fields 14
# and 15 of /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# measure_with PID SERVER WORKLOAD OP TOOL -- COMMAND...: runs COMMAND once, records in $RESULTS
# SERVER, WORKLOAD, OP, TOOL, wall seconds, peak RSS, the command's CPU seconds and the CPU
# seconds of process PID (the server) meanwhile.
measure_with() {
    local pid=$1 srv=$2 wl=$3 op=$4 tool=$5; shift 6
    local tf="$WORK/time.out"
    # Every command starts with nothing dirty in the page cache: what the previous command
    # left unwritten (rclone and the AWS CLI do not fsync) is not written back on its time.
    sync
    local before; before=$(cpu_ticks "$pid")
    if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$WORK/cmd.out" 2>"$WORK/cmd.err"; then
        say "FAILED: $srv $wl $op $tool: $*"; tail -5 "$WORK/cmd.err" >&2; tail -5 "$WORK/cmd.out" >&2
        exit 1
    fi
    local after; after=$(cpu_ticks "$pid")
    local secs rss usr sys
    read -r secs rss usr sys < <(tail -1 "$tf")
    local cpu srv_cpu
    cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    srv_cpu=$(awk -v a="$before" -v b="$after" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$wl" "$op" "$tool" "$secs" "$rss" "$cpu" "$srv_cpu" >>"$RESULTS"
    say "$srv $wl $op $tool: ${secs}s, peak RSS ${rss} KiB, CPU ${cpu}s, server CPU ${srv_cpu}s"
}

# count FOLDER: regular files under FOLDER (to check each download is complete).
count() { find "$1" -type f | wc -l; }
expect_count() { # FOLDER N WHAT
    local n; n=$(count "$1")
    [ "$n" = "$2" ] || die "$3: $n files in $1, expected $2"
}

# gen FOLDER COUNT BYTES: COUNT files of BYTES random bytes, 100 per sub-folder.
gen() {
    say "generating $(basename "$1"): $2 x $3 bytes"
    python3 - "$1" "$2" "$3" <<'PY'
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
PY
}

# scaled N: N times BENCH_SCALE ($SCALE), at least 1.
scaled() { python3 -c "import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }
