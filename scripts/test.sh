#!/usr/bin/env bash
# Runs every test of dpipe on a fresh machine: installs what the tests need, builds the
# workspace, runs the Rust test suites (unit, integration, behaviour suites against local
# mode and a real server, storage against real S3/SFTP/FTP servers, provisioning against
# moto with IAM enforcement) and the real d6tpipe 1.2.7 Python client against `dpipe serve`.
#
# Usage: bash scripts/test.sh
# Env:   CARGO_TARGET_DIR  build folder (default: $HOME/.cache/dpipe-target, outside the clone
#                          so repeated runs reuse the build)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dpipe-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*" >&2; }

step "checking the tools"
for tool in cargo python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: install it first" >&2; exit 1; }
done
if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

step "installing the test services (sshd and vsftpd for storage, moto for IAM/S3 provisioning)"
bash scripts/install-test-services.sh
bash scripts/install-moto.sh

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building"
cargo build --workspace --all-targets --locked

step "a throwaway PostgreSQL for the PostgreSQL store's tests"
source scripts/test-postgres.sh

step "Rust tests"
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked

step "the real d6tpipe 1.2.7 client against dpipe serve"
DPIPE_BIN="$CARGO_TARGET_DIR/debug/dpipe" bash tests/d6tpipe/run.sh "$HOME/.cache/dpipe-d6tpipe-venv"

step "schemathesis against dpipe serve (anonymous, read, write, admin)"
DPIPE_BIN="$CARGO_TARGET_DIR/debug/dpipe" bash scripts/schemathesis.sh

step "all tests passed"
