# Starts a throwaway PostgreSQL cluster for the tests and exports DPIPE_TEST_DATABASE_URL
# naming its database `test` (the tests of dpipe-store and dpipe-server create one schema each
# in it). The cluster lives in a temporary folder, listens on 127.0.0.1 on a free port with
# trust authentication (nothing else can reach it), and is stopped and removed when the
# shell that sourced this file exits. The machine's own PostgreSQL, if any, is not used.
#
# Debian's `postgresql` package is installed with apt-get when its binaries are missing. The
# cluster runs as the `postgres` OS user when this runs as root (PostgreSQL refuses root).
#
# Usage: source scripts/test-postgres.sh   (scripts/test.sh does; needs bash and python3)

dpipe_pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]] && echo "$dir"
}

if ! dpipe_pg_bin >/dev/null; then
    echo "installing postgresql" >&2
    dpipe_pg_sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "install postgresql: needs root or sudo" >&2; return 1; }
        dpipe_pg_sudo=(sudo)
    fi
    DEBIAN_FRONTEND=noninteractive "${dpipe_pg_sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${dpipe_pg_sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >&2
    # Debian's postinst may start the system cluster; the tests use their own.
    "${dpipe_pg_sudo[@]}" service postgresql stop >/dev/null 2>&1 || true
fi
DPIPE_PG_BIN=$(dpipe_pg_bin) || { echo "postgresql did not install" >&2; return 1; }

# Runs a PostgreSQL tool as the cluster's owner.
dpipe_pg_run() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

DPIPE_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dpipe-postgres.XXXXXX")
[[ $(id -u) -eq 0 ]] && chown postgres: "$DPIPE_PG_DIR"
DPIPE_PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Stops the cluster and removes its folder (the EXIT trap of the sourcing shell).
dpipe_pg_stop() {
    dpipe_pg_run "$DPIPE_PG_BIN/pg_ctl" -D "$DPIPE_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DPIPE_PG_DIR"
}
trap dpipe_pg_stop EXIT

echo "starting a test PostgreSQL on 127.0.0.1:$DPIPE_PG_PORT in $DPIPE_PG_DIR" >&2
dpipe_pg_run "$DPIPE_PG_BIN/initdb" -D "$DPIPE_PG_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >"$DPIPE_PG_DIR/initdb.log" 2>&1 \
    || { cat "$DPIPE_PG_DIR/initdb.log" >&2; return 1; }
# Throwaway data: no fsync; enough connections for parallel tests with a pool each.
dpipe_pg_run "$DPIPE_PG_BIN/pg_ctl" -D "$DPIPE_PG_DIR/data" -l "$DPIPE_PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $DPIPE_PG_PORT -k $DPIPE_PG_DIR -c fsync=off -c max_connections=300" \
    start >/dev/null || { cat "$DPIPE_PG_DIR/server.log" >&2; return 1; }
dpipe_pg_run "$DPIPE_PG_BIN/createdb" -h 127.0.0.1 -p "$DPIPE_PG_PORT" -U postgres test
export DPIPE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$DPIPE_PG_PORT/test"
echo "DPIPE_TEST_DATABASE_URL=$DPIPE_TEST_DATABASE_URL" >&2
