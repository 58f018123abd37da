#!/usr/bin/env bash
# Installs aiosmtpd (a real SMTP server in Python) into a venv, for the tests of the email
# invitation links: the test kit starts it on 127.0.0.1 with its Maildir handler, so a test
# reads the mail dpipe serve sent. Idempotent: a stamp file holding the hash of the pinned
# requirements skips the install when nothing changed; a changed pin list reinstalls.
#
# Usage: bash scripts/install-smtp.sh [VENV]
# Env:   DPIPE_SMTP_VENV  venv folder (default: $HOME/.cache/dpipe-smtp-venv); VENV wins.
# Needs: python3 with the venv module (Debian: python3-venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-${DPIPE_SMTP_VENV:-$HOME/.cache/dpipe-smtp-venv}}"
requirements="$here/smtp-requirements.txt"
stamp="$venv/.dpipe-smtp-stamp"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/aiosmtpd" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "aiosmtpd already installed in $venv" >&2
    exit 0
fi

echo "installing aiosmtpd into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
# --no-deps installs exactly the pinned set; `pip check` proves the set is complete.
"$venv/bin/pip" check >&2
"$venv/bin/aiosmtpd" --help >/dev/null
echo "$want" > "$stamp"
echo "aiosmtpd installed: $("$venv/bin/python" -c 'import aiosmtpd; print(aiosmtpd.__version__)')" >&2
