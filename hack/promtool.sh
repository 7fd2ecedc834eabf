#!/usr/bin/env bash
# promtool, built from the github.com/prometheus/prometheus Go module pinned in
# hack/promtool/go.mod, and the tests of the operator's alerts run with it.
#
#   hack/promtool.sh build   builds promtool once (prints its directory); later runs reuse it
#   hack/promtool.sh bin     prints that directory, or fails if promtool is not built
#   hack/promtool.sh test    checks the alert rules and runs tests/alerts/*.yaml against them
#
# As hack/control-plane.sh does for the Kubernetes binaries: the build goes to
# ~/.cache/wetix-operator/promtool/<version>/ (WETIX_PROMTOOL_CACHE moves it), outside any
# checkout so that every clone shares it, and is redone only when go.mod, go.sum or the build
# command change. Built without the cloud providers' service discoveries (remove_all_sd, below)
# the first build took 91 s on 2 cores, right after the control plane's (which leaves some
# shared packages in Go's build cache), against 328 s with them; Go's module and build caches
# are reused too. A later `build` takes 0.05 s.
#
# The rules tested are those of deploy/overlays/alerts/prometheusrule.yaml: its spec is a
# Prometheus rule file (the Helm chart renders the same rules; tests/deploy checks that).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/hack/promtool"
RULES="$ROOT/deploy/overlays/alerts/prometheusrule.yaml"
TESTS="$ROOT/tests/alerts"

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

# The module's version v0.MMmmpp.x is Prometheus MM.mm.pp: v0.316.0 is Prometheus 3.16.0.
MODULE_VERSION="$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$MODULE/go.mod" | head -n1)"
CACHE="${WETIX_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wetix-operator/promtool}"
BIN="$CACHE/prometheus-$MODULE_VERSION"

log() { echo "promtool: $*" >&2; }
die() { log "$*"; exit 1; }

prometheus_version() {
  local minor="${MODULE_VERSION#v0.}"
  minor="${minor%%.*}"
  echo "$((minor / 100)).$((minor % 100)).${MODULE_VERSION##*.}"
}

build_inputs() {
  cat "$MODULE/go.mod" "$MODULE/go.sum"
  declare -f cmd_build prometheus_version
}

cmd_build() {
  local stamp
  stamp="$(build_inputs | sha256sum | cut -d' ' -f1)"
  if [[ -x "$BIN/promtool" && "$(cat "$BIN/.inputs" 2>/dev/null)" == "$stamp" ]]; then
    log "up to date in $BIN"
    echo "$BIN"
    return
  fi
  command -v go >/dev/null || die "go is not on PATH: promtool is built from its Go module (Go 1.26+)"
  mkdir -p "$BIN"
  local started=$SECONDS pkg=github.com/prometheus/common/version version
  version="$(prometheus_version)"
  local ldflags="-s -w -X $pkg.Version=$version -X $pkg.Branch=HEAD"
  ldflags+=" -X $pkg.BuildUser=wetix-operator -X $pkg.BuildDate=19700101-00:00:00"
  log "building promtool $version ($MODULE_VERSION) into $BIN"
  # remove_all_sd: without the service discoveries of the cloud providers (their SDKs are most
  # of the build); rule tests, rule checks and query parsing need none of them.
  (cd "$MODULE" && go build -trimpath -tags remove_all_sd -ldflags "$ldflags" -o "$BIN/promtool" \
    github.com/prometheus/prometheus/cmd/promtool)
  echo "$stamp" >"$BIN/.inputs"
  log "built in $((SECONDS - started)) s"
  echo "$BIN"
}

cmd_bin() {
  [[ -x "$BIN/promtool" ]] || die "not built yet: run hack/promtool.sh build"
  echo "$BIN"
}

# The PrometheusRule's spec as JSON, which promtool reads as YAML: kubectl decodes the object
# offline (no cluster is asked) and prints the one field.
rule_file() {
  kubectl label --local -f "$RULES" -o jsonpath='{.spec}' wetix.my/extracted=true
}

cmd_test() {
  local promtool
  promtool="$(cmd_bin)/promtool"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/wetix-promtool.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  local work="$WORK"
  # The tests name their rule file as "wetix-operator.rules.json", next to them.
  rule_file >"$work/wetix-operator.rules.json"
  [[ -s "$work/wetix-operator.rules.json" ]] || die "no spec in $RULES"
  cp "$TESTS"/*.yaml "$work/"
  "$promtool" check rules --lint=all --lint-fatal "$work/wetix-operator.rules.json"
  (cd "$work" && "$promtool" test rules ./*.yaml)
}

case "${1:-}" in
  build) cmd_build ;;
  bin) cmd_bin ;;
  test) cmd_test ;;
  *) die "usage: hack/promtool.sh build | bin | test" ;;
esac
