#!/usr/bin/env bash
# Installs aiosmtpd (a real SMTP server in Python) into a venv, for the tests of the email
# invitation links: the test kit starts it on 127.0.0.1 with its Maildir handler, so a test
# reads the mail dpipe serve sent (see lib/pinned-venv.sh: pinned, idempotent).
#
# Usage: bash scripts/install-smtp.sh [VENV]
# Env:   DPIPE_SMTP_VENV  venv folder (default: $HOME/.cache/dpipe-smtp-venv); VENV wins.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib/pinned-venv.sh"
install_pinned_venv aiosmtpd "${1:-${DPIPE_SMTP_VENV:-$HOME/.cache/dpipe-smtp-venv}}" \
    "$here/smtp-requirements.txt" aiosmtpd aiosmtpd
