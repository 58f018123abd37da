#!/usr/bin/env bash
# Fuzzes a live `dpipe serve` with schemathesis, from the OpenAPI document the server itself
# serves (/v1/openapi.json), four times: as an anonymous caller and as the users `reader`,
# `writer` and `admin` (the owner of every pipe), after tests/schemathesis/fixtures.py has
# made those users, remotes and pipes of every kind (root, child, grandchild, public, private)
# and the grants between them, so that most generated paths name something that exists.
#
# Each run checks that no answer is a 5xx and that every answer conforms to the document
# (status code, content type, headers, body schema), and that the server refuses what the
# document says is invalid and accepts what it says is valid (negative_data_rejection,
# positive_data_acceptance), except the refusals tests/schemathesis/hooks.py explains (listed
# at the end) — see tests/schemathesis/README.md for what each check covers.
# The seed is fixed, so a run repeats; each run is bounded by --max-examples and a wall-clock
# timeout.
#
# Usage: bash scripts/schemathesis.sh
# Env:   DPIPE_BIN          the dpipe binary to start (default: dpipe from PATH)
#        DPIPE_SCHEMATHESIS_VENV  the venv (default: $HOME/.cache/dpipe-schemathesis-venv)
#        DPIPE_SCHEMATHESIS_EXAMPLES  cases per operation and mode (default: 25)
#        DPIPE_SCHEMATHESIS_TIMEOUT   seconds each run may take at most (default: 90)
#        DPIPE_SCHEMATHESIS_LOGS      keep each run's full output in this folder
#        DPIPE_SCHEMATHESIS_ARGS      more options for `schemathesis run` (e.g. --continue-on-failure)
# Exits non-zero when the server does not come up, the set-up fails, or any run finds a
# failure (its output shows each failing case with a curl line to reproduce it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cases_dir="$here/../tests/schemathesis"
venv="${DPIPE_SCHEMATHESIS_VENV:-$HOME/.cache/dpipe-schemathesis-venv}"
examples="${DPIPE_SCHEMATHESIS_EXAMPLES:-25}"
run_timeout="${DPIPE_SCHEMATHESIS_TIMEOUT:-90}"
seed=20261203

log() { echo "[schemathesis] $*" >&2; }
# hooks.py is imported from the work tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1

# CPython before 3.11.8 can raise "SystemError: AST constructor recursion depth mismatch" when
# hypothesis parses schemathesis' own source to describe a filter (CPython gh-106905), which
# schemathesis reports as an error of the run: the venv takes the first interpreter without it.
unaffected() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11, 8))' >/dev/null 2>&1; }
pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        if [ -n "$candidate" ] && unaffected "$candidate"; then
            command -v "$candidate"
            return
        fi
    done
    log "WARNING: no Python >= 3.11.8 found; schemathesis may report spurious runtime errors"
    echo python3
}
PYTHON="$(pick_python)"
if [ -x "$venv/bin/python" ] && ! unaffected "$venv/bin/python" && [ "$PYTHON" != python3 ]; then
    rm -rf "$venv"
fi
source "$here/lib/pinned-venv.sh"
PYTHON="$PYTHON" install_pinned_venv schemathesis "$venv" "$here/schemathesis-requirements.txt" \
    schemathesis schemathesis
py="$venv/bin/python"

bin="${DPIPE_BIN:-dpipe}"
command -v "$bin" >/dev/null 2>&1 || { log "ERROR: dpipe binary '$bin' not found; set DPIPE_BIN"; exit 1; }

work="$(mktemp -d -t dpipe-schemathesis.XXXXXX)"
server_pid=""
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free loopback ports: the repo API and the built-in object store of managed pipes (so
# that a pipe created with a name only is made, and its credentials are minted).
read -r port storage_port < <("$py" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
base="http://127.0.0.1:$port"
mkdir "$work/data" "$work/config"
log "starting $bin serve --listen 127.0.0.1:$port --storage-listen 127.0.0.1:$storage_port"
env -u DPIPE_STORAGE_URL -u DPIPE_DATABASE_URL "$bin" serve --listen "127.0.0.1:$port" \
    --storage-listen "127.0.0.1:$storage_port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
if ! "$py" - "$base/health" "$server_pid" <<'PY'; then
import os, sys, time, urllib.request
url, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
        with urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                sys.exit(0)
    except ProcessLookupError:
        sys.exit(1)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
    log "ERROR: dpipe serve did not answer on $base/health; its output:"
    tail -n 50 "$work/server.log" >&2
    exit 1
fi

log "setting up users, remotes, pipes and grants"
"$py" "$cases_dir/fixtures.py" "$base" "$work/config" >&2
# shellcheck source=/dev/null
source "$work/config/tokens.env"

checks="not_a_server_error,status_code_conformance,content_type_conformance"
checks+=",response_schema_conformance,response_headers_conformance"
checks+=",negative_data_rejection,positive_data_acceptance"
checks+=",ignored_auth,unsupported_method,missing_required_header"

summaries=()
status=0
for role in anonymous read write admin; do
    auth=()
    token_var="TOKEN_$role"
    [ "$role" != anonymous ] && auth=(-H "Authorization: Token ${!token_var}")
    # Rotating the token mid-run would leave the rest of a role's run unauthenticated: that
    # operation runs only anonymously here (and is tested by the server's own test suite).
    skip=()
    [ "$role" != anonymous ] && skip=(--exclude-path /v1/api/accounts/token/rotate/)
    log "run $role: up to $examples cases per operation and mode, at most $run_timeout s"
    started=$SECONDS
    rc=0
    # Run inside $work: schemathesis keeps a cache of failing cases in ./.schemathesis/, and
    # a run must neither litter the work tree nor replay an earlier run's cases.
    # shellcheck disable=SC2086  # DPIPE_SCHEMATHESIS_ARGS is a list of words
    (cd "$work" && PYTHONPATH="$cases_dir" SCHEMATHESIS_HOOKS=hooks \
        DPIPE_SCHEMATHESIS_DROPPED="$work/dropped.txt" \
        exec timeout --signal=INT --kill-after=10 "$run_timeout" \
        "$venv/bin/schemathesis" --config-file "$work/config/$role.toml" --no-color \
        run "$base/v1/openapi.json" --url "$base" \
        --checks "$checks" --mode all --seed "$seed" --max-examples "$examples" \
        --phases examples,coverage,fuzzing --workers 1 --no-shrink \
        --request-timeout 10 --suppress-health-check all --warnings off \
        --generation-database none "${auth[@]}" "${skip[@]}" ${DPIPE_SCHEMATHESIS_ARGS:-}) \
        >"$work/$role.log" 2>&1 || rc=$?
    took=$((SECONDS - started))
    summary="$("$py" "$cases_dir/summary.py" "$role" "$work/$role.log" "$took" "$rc")"
    summaries+=("$summary")
    if [ "$rc" -ne 0 ]; then
        status=1
        [ "$rc" -eq 124 ] && log "run $role did not finish within $run_timeout s"
        cat "$work/$role.log" >&2
    fi
    log "$summary"
    if [ -n "${DPIPE_SCHEMATHESIS_LOGS:-}" ]; then
        mkdir -p "$DPIPE_SCHEMATHESIS_LOGS" && cp "$work/$role.log" "$DPIPE_SCHEMATHESIS_LOGS/"
    fi
done

if grep -q 'panicked' "$work/server.log"; then
    log "the server panicked:"
    grep -A5 'panicked' "$work/server.log" >&2
    status=1
fi
if [ -s "$work/dropped.txt" ]; then
    log "not counted as failures (see tests/schemathesis/hooks.py), distinct answers, all runs:"
    sort "$work/dropped.txt" | uniq -c | sort -rn | head -n 40 >&2
fi
for summary in "${summaries[@]}"; do echo "$summary"; done
if [ "$status" -eq 0 ]; then log "PASS: no 5xx, every answer conforms"; else log "FAIL"; fi
exit "$status"
