#!/usr/bin/env bash
# Installs moto[server] (a local AWS: S3 + IAM with IAM policy enforcement) into a Python venv,
# for the dpipe-provision tests. Idempotent: a stamp file holding the hash of the pinned
# requirements skips the install when nothing changed; a changed pin list reinstalls.
#
# Usage: bash scripts/install-moto.sh [VENV]
# Env:   DPIPE_MOTO_VENV  venv folder (default: $HOME/.cache/dpipe-moto-venv); VENV wins.
# Needs: python3 with the venv module (Debian: python3-venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-${DPIPE_MOTO_VENV:-$HOME/.cache/dpipe-moto-venv}}"
requirements="$here/moto-requirements.txt"
stamp="$venv/.dpipe-moto-stamp"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "moto already installed in $venv" >&2
    exit 0
fi

echo "installing moto[server] into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
# --no-deps installs exactly the pinned set; `pip check` proves the set is complete.
"$venv/bin/pip" check >&2
"$venv/bin/moto_server" --help >/dev/null
echo "$want" > "$stamp"
echo "moto installed: $("$venv/bin/python" -c 'import moto; print(moto.__version__)')" >&2
