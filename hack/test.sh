#!/usr/bin/env bash
# Every test of the project, in the order CI runs them:
#   formatting, lints, the real control plane (built on the first run, then reused), the Rust
#   tests (unit, end-to-end on the real API server and on the emulator, CLI, leader election,
#   RBAC), then the install manifests (kustomize, Helm, RBAC, image, scripts; applied to the
#   real API server too).
#
#   hack/test.sh                            everything
#   WETIX_TEST_CLUSTER=emulator hack/test.sh  without the real API server (no Go needed)
#
# The first run builds etcd, kube-apiserver, kube-controller-manager, kubectl and helm from
# their Go modules into ~/.cache/wetix-operator/ (about 11 minutes on 2 cores); later runs reuse
# them. With CI=true a control plane that cannot be built or started fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export WETIX_TEST_CLUSTER="${WETIX_TEST_CLUSTER:-both}"
case "$WETIX_TEST_CLUSTER" in
  both | real | emulator) ;;
  *) echo "WETIX_TEST_CLUSTER=$WETIX_TEST_CLUSTER: expected both, real or emulator" >&2; exit 2 ;;
esac
if [[ "${CI:-}" == true && "$WETIX_TEST_CLUSTER" != both ]]; then
  echo "CI=true runs every suite on both servers; WETIX_TEST_CLUSTER=$WETIX_TEST_CLUSTER is refused" >&2
  exit 2
fi

if cargo fmt --version >/dev/null 2>&1; then
  echo "==> cargo fmt --check"
  cargo fmt --all -- --check
else
  echo "==> rustfmt is not installed and could not be installed: formatting NOT checked"
fi

if cargo clippy --version >/dev/null 2>&1; then
  echo "==> cargo clippy (warnings are errors)"
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "==> clippy is not installed and could not be installed: lints NOT checked"
fi

if [[ "$WETIX_TEST_CLUSTER" != emulator ]]; then
  if ! command -v go >/dev/null; then
    if [[ "${CI:-}" == true ]]; then
      echo "go is not installed: the real API server cannot be built, and CI needs it" >&2
      exit 1
    fi
    echo "==> go is not installed: running the emulator tier only (WETIX_TEST_CLUSTER=emulator)"
    export WETIX_TEST_CLUSTER=emulator
  fi
fi

if [[ "$WETIX_TEST_CLUSTER" != emulator ]]; then
  echo "==> the real control plane (etcd, kube-apiserver, kube-controller-manager)"
  hack/control-plane.sh build >/dev/null
  plane="$(mktemp -d "${TMPDIR:-/tmp}/wetix-control-plane.XXXXXX")"
  trap 'hack/control-plane.sh down "$plane"; rm -rf "$plane"' EXIT
  WETIX_CONTROL_PLANE_OWNER_PID=$$ hack/control-plane.sh up "$plane" crds/wetixcredentials.yaml >/dev/null
  export WETIX_TEST_CONTROL_PLANE="$plane"
fi

echo "==> Rust tests (WETIX_TEST_CLUSTER=$WETIX_TEST_CLUSTER)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

echo "==> install manifests"
tests/deploy/run.sh -q
