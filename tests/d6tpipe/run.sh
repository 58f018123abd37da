#!/usr/bin/env bash
# Run the real d6tpipe 1.2.7 client's tests against a dpipe server: the control plane
# (test_d6tpipe_client.py), the data plane (test_d6tpipe_data.py: dpipe pull/push against
# d6tpipe and the AWS CLI through a moto S3 the tests start from $DPIPE_MOTO_VENV, default
# $HOME/.cache/dpipe-moto-venv, made by scripts/install-moto.sh) and managed pipes
# (test_d6tpipe_managed.py: d6tpipe and dpipe push/pull through the server's built-in object
# store, no moto, no AWS settings) and SFTP with a password (test_d6tpipe_sftp.py: its sshd
# must listen on port 22, where d6tpipe connects, so run.sh runs it once more inside a network
# namespace of its own — `unshare --net`, loopback only — with a server of its own there).
#
# Usage: run.sh [VENV_DIR] [-- PYTEST_ARGS...]
#   VENV_DIR     virtualenv to create/reuse (default $HOME/.cache/dpipe-d6tpipe-venv)
#   PYTEST_ARGS  passed on to pytest after `--` (e.g. -- -k permissions -x)
#
# Env:
#   DPIPE_SERVER  URL of an already running server (e.g. http://127.0.0.1:8000).
#                 When unset, a server is started here: `$DPIPE_BIN serve` on a
#                 free loopback port, its built-in object store on a second free
#                 loopback port (--storage-listen, never the default 8001), with a
#                 fresh temporary data dir, and stopped again on exit.
#   DPIPE_STORAGE_URL  URL of that server's built-in object store. Set (and exported
#                 to the tests) when the server is started here; with DPIPE_SERVER,
#                 optional: the managed-pipe tests then check that the credentials
#                 point there.
#   DPIPE_BIN     dpipe binary to start, and the one the data-plane and managed-pipe
#                 tests run (default: dpipe from PATH).
#   DPIPE_MOTO_VENV  venv holding moto_server for the data-plane tests.
#   DPIPE_D6T_TESTS  the test files to run (default: all but the SFTP one, then the SFTP
#                 one in its network namespace; run.sh sets it for that inner run).
#
# Exits non-zero when the venv cannot be built, the server does not come up,
# or any test fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HOME/.cache/dpipe-d6tpipe-venv"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    VENV="$1"
    shift
fi
[ "${1:-}" = "--" ] && shift
PYTEST_ARGS=("$@")

log() { echo "[d6tpipe-tests] $*" >&2; }

log "preparing venv $VENV"
"$HERE/setup-venv.sh" "$VENV"
PY="$VENV/bin/python"

server_pid=""
data_dir=""
server_log=""
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        log "stopping dpipe server (pid $server_pid)"
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [ -n "$data_dir" ] && rm -rf "$data_dir"
    [ -n "$server_log" ] && rm -f "$server_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DPIPE_SERVER:-}" ]; then
    bin="${DPIPE_BIN:-dpipe}"
    if ! command -v "$bin" >/dev/null 2>&1; then
        log "ERROR: dpipe binary '$bin' not found; set DPIPE_BIN or DPIPE_SERVER"
        exit 1
    fi
    # Ask the kernel for two distinct free loopback ports: the repo API and the built-in
    # object store. There is a small window before the server binds them; good enough for
    # a test run. (The server binds the store before it answers /health.)
    read -r port storage_port < <("$PY" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
    data_dir="$(mktemp -d -t dpipe-d6tpipe-data.XXXXXX)"
    server_log="$(mktemp -t dpipe-d6tpipe-server.XXXXXX.log)"
    log "starting $bin serve --listen 127.0.0.1:$port --storage-listen 127.0.0.1:$storage_port --data-dir $data_dir"
    DPIPE_BIN="$(realpath "$(command -v "$bin")")"
    export DPIPE_BIN
    # The server reads --storage-url from DPIPE_STORAGE_URL: an inherited value must not
    # point it elsewhere; it is exported below with the URL the server really serves.
    env -u DPIPE_STORAGE_URL "$bin" serve --listen "127.0.0.1:$port" \
        --storage-listen "127.0.0.1:$storage_port" --data-dir "$data_dir" >"$server_log" 2>&1 &
    server_pid=$!
    export DPIPE_SERVER="http://127.0.0.1:$port"
    export DPIPE_STORAGE_URL="http://127.0.0.1:$storage_port"

    # Wait up to 30 s for GET /health to answer 200 (one python process polls,
    # so the deadline is wall-clock and not a count of interpreter start-ups).
    wait_rc=0
    "$PY" - "$DPIPE_SERVER/health" "$server_pid" 30 <<'PY' || wait_rc=$?
import sys, time, urllib.request
url, pid, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])

def exited():
    # The server is run.sh's child, not ours: once it exits it stays a zombie
    # until bash reaps it, so look at its state rather than kill(pid, 0).
    try:
        with open('/proc/{}/stat'.format(pid)) as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except FileNotFoundError:
        return True

while time.monotonic() < deadline:
    if exited():
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
    if [ "$wait_rc" = 2 ]; then
        log "ERROR: dpipe server exited early; its output:"
        tail -n 100 "$server_log" >&2
        exit 1
    elif [ "$wait_rc" != 0 ]; then
        log "ERROR: dpipe server did not answer 200 on $DPIPE_SERVER/health within 30 s; its output:"
        tail -n 100 "$server_log" >&2
        exit 1
    fi
    log "dpipe server is up at $DPIPE_SERVER, its object store at $DPIPE_STORAGE_URL"
else
    log "using the running server DPIPE_SERVER=$DPIPE_SERVER"
fi

# No .pyc files or .pytest_cache in the work tree; d6tcollect disabled (conftest.py
# sets it too, this also covers anything started before conftest loads).
export PYTHONDONTWRITEBYTECODE=1
export D6TCOLLECT_SVR=http://127.0.0.1:9

read -r -a tests <<<"${DPIPE_D6T_TESTS:-test_d6tpipe_client.py test_d6tpipe_data.py test_d6tpipe_managed.py}"
log "running pytest ${tests[*]}"
status=0
(cd "$HERE" && "$PY" -m pytest -q -p no:cacheprovider --rootdir "$HERE" \
    "${tests[@]}" ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}) || status=$?
if [ "$status" -eq 0 ] && [ -z "${DPIPE_D6T_TESTS:-}" ]; then
    # The SFTP interop test, in a network namespace of its own with its own server (see above).
    log "running test_d6tpipe_sftp.py in a network namespace of its own"
    env -u DPIPE_SERVER -u DPIPE_STORAGE_URL DPIPE_D6T_TESTS=test_d6tpipe_sftp.py \
        unshare --net -- bash -c 'ip link set lo up && exec bash "$@"' _ "$0" "$VENV" -- \
        ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"} || status=$?
fi

if [ "$status" -eq 0 ]; then
    log "PASS: d6tpipe 1.2.7 client tests against $DPIPE_SERVER"
else
    log "FAIL: d6tpipe 1.2.7 client tests against $DPIPE_SERVER (pytest exit $status)"
    if [ -n "$server_log" ] && [ -s "$server_log" ]; then
        log "last 50 lines of the server output:"
        tail -n 50 "$server_log" >&2
    fi
fi
exit "$status"
