#!/usr/bin/env bash
# Create (or refresh) a Python virtualenv holding the real d6tpipe 1.2.7 client
# and the exact pins of requirements.txt, plus the one compatibility shim that
# has to live inside the venv (luigi/file.py). The other two shims (yaml.load
# without Loader, d6tcollect telemetry) are applied by conftest.py at test time
# so the venv stays as close to pristine as possible.
#
# Usage: setup-venv.sh VENV_DIR
#
# Idempotent: a stamp file in the venv records the sha256 of requirements.txt;
# when it matches and the venv's python still runs, nothing is reinstalled.
# Env: PYTHON (default python3) picks the interpreter (CPython 3.11 expected).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ="$HERE/requirements.txt"
PYTHON="${PYTHON:-python3}"

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 VENV_DIR" >&2
    exit 2
fi
VENV="$1"

log() { echo "[setup-venv] $*" >&2; }

mkdir -p "$VENV"
VENV="$(cd "$VENV" && pwd)"
STAMP="$VENV/.dpipe-d6tpipe-requirements.sha256"

# Serialise concurrent runs against the same venv (e.g. two run.sh at once).
exec 9>"$VENV/.setup.lock"
flock 9

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"

venv_python_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(0)' 2>/dev/null
}

if [ "$want" = "$have" ] && venv_python_ok; then
    log "venv $VENV is up to date (requirements sha256 ${want:0:12})"
else
    start=$SECONDS
    if ! venv_python_ok; then
        log "creating virtualenv in $VENV with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi
    # The stamp goes away first so an interrupted install is retried next time.
    rm -f "$STAMP"
    log "installing pinned packages from $REQ"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQ"
    log "pip install done in $((SECONDS - start)) s"
    installed_new=1
fi

# --- shim 1/3: luigi.file -----------------------------------------------------
# d6tpipe/luigi/ftp.py does `import luigi.file`; luigi 3 dropped that module,
# which was only `from luigi.local_target import *`. Adding the file back is a
# pure addition to luigi and touches no d6tpipe code. Re-checked on every run
# (cheap) in case the venv was modified by hand.
luigi_dir="$("$VENV/bin/python" -c 'import os, luigi; print(os.path.dirname(luigi.__file__))')"
if [ ! -f "$luigi_dir/file.py" ]; then
    cat >"$luigi_dir/file.py" <<'PY'
# Compatibility shim added by dpipe's tests/d6tpipe/setup-venv.sh: luigi 3
# removed luigi.file, which d6tpipe 1.2.7 (d6tpipe/luigi/ftp.py) still imports.
from luigi.local_target import *  # noqa: F401,F403
PY
    log "added shim $luigi_dir/file.py"
fi

# --- smoke check ----------------------------------------------------------------
# Import everything the tests touch. d6tcollect writes ~/.d6tcollect/ at import
# time and would phone home, so run it with a throwaway HOME and a dead
# collector address (port 9 = discard, refused at once).
if [ "${installed_new:-0}" = 1 ] || [ ! -f "$STAMP" ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    HOME="$scratch" D6TCOLLECT_SVR=http://127.0.0.1:9 "$VENV/bin/python" - >/dev/null <<'PY'
import d6tcollect
d6tcollect.submit = False
import d6tpipe.api, d6tpipe.pipe, d6tpipe.luigi.ftp, d6tpipe.luigi.s3  # noqa: F401
import luigi.contrib.s3, pysftp, ftpsync.ftp_target, boto3, yaml, pytest  # noqa: F401
import awscli  # noqa: F401  (the AWS CLI of the data-plane tests)
import tinydb
assert tinydb.__version__.startswith('3.'), tinydb.__version__
PY
    echo "$want" >"$STAMP"
    log "venv $VENV ready"
fi
