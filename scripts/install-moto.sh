#!/usr/bin/env bash
# Installs moto[server] (a local AWS: S3 + IAM with IAM policy enforcement) into a Python venv,
# for the dpipe-provision tests (see lib/pinned-venv.sh: pinned, idempotent).
#
# Usage: bash scripts/install-moto.sh [VENV]
# Env:   DPIPE_MOTO_VENV  venv folder (default: $HOME/.cache/dpipe-moto-venv); VENV wins.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib/pinned-venv.sh"
install_pinned_venv "moto[server]" "${1:-${DPIPE_MOTO_VENV:-$HOME/.cache/dpipe-moto-venv}}" \
    "$here/moto-requirements.txt" moto_server moto
