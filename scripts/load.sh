#!/usr/bin/env bash
# dpipe repo API load figures (issue 12 item 6): a benchmark, not a test.
#
# Builds the release `dpipe`, and for each backend of LOAD_BACKENDS (default "sqlite postgres")
# starts `dpipe serve --no-storage` with a fresh data folder on a free 127.0.0.1 port — on
# SQLite in that folder, or on PostgreSQL (`--database-url`) in a schema of its own made in
# LOAD_DATABASE_URL (default $DPIPE_TEST_DATABASE_URL, else
# postgres://postgres@127.0.0.1:5432/test) and dropped at the end — seeds 1,000 users, 10,000
# pipes and 50,000 grants, then runs
# `wrk` (Debian's; `apt-get install wrk`) with LOAD_CONNECTIONS connections (default 64) for
# LOAD_SECONDS (default 20) on each of
#   GET /v1/api/pipes/<name>/                     (E7)
#   GET /v1/api/pipes/                            (E5: a bare array, NOT paginated - protocol §4.5)
#   GET /v1/api/pipes/<name>/credentials/?role=read   (E13)
# as a user who reads the pipe through a grant (not its owner), and prints requests/s,
# p50/p99/p99.9, errors (socket errors and non-2xx) and the server's peak RSS (VmHWM) and
# thread count.
#
# Seeding: the two users the benchmark acts as, the benchmarked pipe (S3 with inline
# credentials) and its grant go through the API; the bulk (998 users, 9,999 pipes, 49,999
# grants: five users per pipe, each user on about fifty pipes, the reader included) is
# inserted with one transaction into the running server's database (`sqlite3`; `psql` for
# PostgreSQL), which the server sees at once. Seeded users have random token hashes nobody can
# present.
#
# Usage: scripts/load.sh            (LOAD_SECONDS=5 scripts/load.sh for a quick look)
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_EACH="${LOAD_SECONDS:-20}"
CONNECTIONS="${LOAD_CONNECTIONS:-64}"
THREADS="${LOAD_THREADS:-2}"
BACKENDS="${LOAD_BACKENDS:-sqlite postgres}"
DATABASE_URL="${LOAD_DATABASE_URL:-${DPIPE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"

for tool in wrk sqlite3 psql curl python3; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dpipe-target}"
cargo build --release --locked -p dpipe-cli >&2
DPIPE="$CARGO_TARGET_DIR/release/dpipe"

WORK="$(mktemp -d /tmp/dpipe-load.XXXXXX)"
SERVER_PID=""
SCHEMA=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    [ -z "$SCHEMA" ] || psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# POST $1 with JSON $2 (token $3 if given); prints the reply, fails on a non-2xx.
post() {
    local auth=()
    [ -n "${3:-}" ] && auth=(-H "Authorization: Token $3")
    curl -fsS -X POST "$BASE$1" -H 'Content-Type: application/json' "${auth[@]}" -d "$2"
}
token_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }

# The bulk of the seed, in SQL both SQLite and PostgreSQL run: 998 users, 9,999 pipes and
# 49,999 grants — five distinct users per seeded pipe (steps of 389 modulo 1000), so every
# user holds about fifty grants; the last four go on the benchmarked pipe, to make 50,000
# with the API's one. $1 is the expression of 32 random hex bytes in the dialect.
seed_sql() {
    local random_hex=$1
    cat <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 998)
INSERT INTO users (username, email, password_hash, token_hash, token_seed, created_at)
SELECT 'load-user-' || i, 'load-user-' || i || '@example.com', '!', $random_hex,
       $random_hex, '2026-01-01T00:00:00.000Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
INSERT INTO pipes (name, owner_id, protocol, location, settings, options, schema, created_at, updated_at)
SELECT 'load-pipe-' || i, (SELECT min(id) FROM users) + (i % 1000), 's3', 'load-bucket-' || i,
       '{}', '{}', '{}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n;
CREATE TEMP TABLE ids AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49998)
INSERT INTO grants (pipe_id, grantee, user_id, role, created_at)
SELECT p.id, 'user:' || u.id, u.id, CASE n.i % 3 WHEN 0 THEN 'write' ELSE 'read' END,
       '2026-01-01T00:00:00.000Z'
FROM n JOIN pipes p ON p.name = CASE n.i / 5 + 1 WHEN 10000 THEN 'load-pipe'
                                   ELSE 'load-pipe-' || (n.i / 5 + 1) END
       JOIN ids u ON u.k = (n.i * 389) % 1000;
COMMIT;
SQL
}
COUNTS_SQL='SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM pipes), (SELECT count(*) FROM grants);'

# start_server BACKEND: a fresh server on BACKEND; sets SERVER_PID, BASE and run_sql (a
# function feeding SQL on stdin to the server's database).
start_server() {
    local backend=$1 data="$WORK/data-$1" port database=()
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    if [ "$backend" = postgres ]; then
        SCHEMA="dpipe_load_$$"
        psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
        local sep='?'
        case "$DATABASE_URL" in *\?*) sep='&' ;; esac
        SCHEMA_URL="$DATABASE_URL${sep}options=-csearch_path%3D$SCHEMA"
        database=(--database-url "$SCHEMA_URL")
    fi
    "$DPIPE" serve --no-storage --listen "127.0.0.1:$port" --data-dir "$data" "${database[@]}" \
        >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        curl -fs "$BASE/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fs "$BASE/health" >/dev/null || { cat "$WORK/server-$backend.log" >&2; exit 1; }
}

# seed BACKEND: the benchmark's users, pipes and grants; sets READER_TOKEN and PIPE.
seed() {
    local backend=$1 owner_token started counts
    owner_token="$(post /v1/api/accounts/ '{"username":"load-owner","email":"load-owner@example.com","password":"load-owner-password"}' | token_of)"
    READER_TOKEN="$(post /v1/api/accounts/ '{"username":"load-reader","email":"load-reader@example.com","password":"load-reader-password"}' | token_of)"
    PIPE=load-pipe
    post /v1/api/pipes/ "{\"name\":\"$PIPE\",\"protocol\":\"s3\",\"location\":\"load-bucket\",\"credentials\":{\"aws_access_key_id\":\"AKIALOAD\",\"aws_secret_access_key\":\"load-secret\"}}" "$owner_token" >/dev/null
    post "/v1/api/pipes/$PIPE/permissions/" '{"username":"load-reader","role":"read"}' "$owner_token" >/dev/null
    started=$(date +%s.%N)
    if [ "$backend" = postgres ]; then
        seed_sql "md5(random()::text) || md5(random()::text)" \
            | PGOPTIONS="-csearch_path=$SCHEMA" psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" >/dev/null
        counts="$(PGOPTIONS="-csearch_path=$SCHEMA" psql -At -F'|' "$DATABASE_URL" -c "$COUNTS_SQL")"
        PGOPTIONS="-csearch_path=$SCHEMA" psql -q "$DATABASE_URL" -c 'ANALYZE' >/dev/null
    else
        local db="$WORK/data-$backend/registry.sqlite"
        seed_sql "lower(hex(randomblob(32)))" | sqlite3 -cmd '.timeout 10000' "$db"
        counts="$(sqlite3 "$db" "$COUNTS_SQL")"
    fi
    echo "$backend: seeded users|pipes|grants = $counts in $(python3 -c "print(f'{$(date +%s.%N) - $started:.1f}')")s (one transaction)"
}

# wrk prints the percentiles this script reports from its done() hook.
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout + summary.errors.status
  io.write(string.format("REPORT %.0f %.2f %.2f %.2f %d %d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      latency:percentile(99.9) / 1000, errors, summary.requests))
end
LUA

server_status() { grep -E "^$1:" "/proc/$SERVER_PID/status" | awk '{print $2}'; }

printf '%-9s %-45s %9s %8s %8s %9s %7s %9s %8s %8s\n' backend endpoint 'req/s' 'p50 ms' 'p99 ms' 'p99.9 ms' errors requests 'HWM MiB' threads
for backend in $BACKENDS; do
    start_server "$backend"
    seed "$backend" >&2
    for path in "/v1/api/pipes/$PIPE/" "/v1/api/pipes/" "/v1/api/pipes/$PIPE/credentials/?role=read"; do
        curl -fsS -o /dev/null -H "Authorization: Token $READER_TOKEN" "$BASE$path"
        line="$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_EACH}s" --timeout 10s \
            -H "Authorization: Token $READER_TOKEN" -s "$WORK/report.lua" "$BASE$path" | grep '^REPORT')"
        read -r _ rps p50 p99 p999 errors requests <<<"$line"
        threads="$(server_status Threads)"
        hwm_kib="$(server_status VmHWM)"
        printf '%-9s %-45s %9s %8s %8s %9s %7s %9s %8s %8s\n' "$backend" "GET $path" "$rps" "$p50" "$p99" \
            "$p999" "$errors" "$requests" "$((hwm_kib / 1024))" "$threads"
    done
    stop_server
done
echo "server: $(nproc) cores shared with wrk (-t $THREADS -c $CONNECTIONS, ${SECONDS_EACH}s each); VmHWM is the peak so far"
