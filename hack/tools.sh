#!/usr/bin/env bash
# The supply-chain tools at the versions pinned here, built from their registries on first use
# into ~/.cache/wetix-operator/tools/<name>-<version>/ (WETIX_TOOLS_CACHE moves it), outside any
# checkout so that every clone reuses them. Prints the path of the tool's binary.
#
#   hack/tools.sh cargo-deny        cargo install --locked --debug (57 s on 2 cores, once)
#   hack/tools.sh cargo-cyclonedx   cargo install --locked --debug (49 s, once)
#   hack/tools.sh actionlint        go install from its Go module (about 30 s, once)
set -euo pipefail

cargo_deny_version=0.20.2
cargo_cyclonedx_version=0.5.9
actionlint_version=v1.7.12

cache="${WETIX_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wetix-operator/tools}"
log() { echo "tools: $*" >&2; }

cargo_tool() { # CRATE VERSION: the binary `cargo install --locked` builds
  local crate="$1" version="$2" root="$cache/$1-$2"
  if [[ ! -x "$root/bin/$crate" ]]; then
    log "building $crate $version into $root (once)"
    local started=$SECONDS
    # --debug: unoptimised builds take a fraction of the time, and the tools still finish in
    # seconds on this workspace.
    cargo install "$crate" --locked --debug --version "$version" --root "$root" --quiet
    log "built $crate in $((SECONDS - started)) s"
  fi
  echo "$root/bin/$crate"
}

case "${1:-}" in
  cargo-deny) cargo_tool cargo-deny "$cargo_deny_version" ;;
  cargo-cyclonedx) cargo_tool cargo-cyclonedx "$cargo_cyclonedx_version" ;;
  actionlint)
    bin="$cache/actionlint-$actionlint_version"
    if [[ ! -x "$bin/actionlint" ]]; then
      command -v go >/dev/null || { log "go is needed to build actionlint"; exit 1; }
      log "building actionlint $actionlint_version into $bin (once)"
      GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$bin" \
        go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version"
    fi
    echo "$bin/actionlint"
    ;;
  *)
    echo "usage: hack/tools.sh cargo-deny|cargo-cyclonedx|actionlint" >&2
    exit 2
    ;;
esac
