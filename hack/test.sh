#!/usr/bin/env bash
# Every test of the project, in the order CI runs them:
#   formatting, lints, the Rust tests (unit, end-to-end against the local stand-ins, CLI,
#   leader election), then the install manifests (kustomize, Helm, RBAC, image, scripts).
#
#   hack/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

echo "==> install manifests"
tests/deploy/run.sh -q
