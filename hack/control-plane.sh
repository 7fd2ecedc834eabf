#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, built from the upstream Go modules pinned in
# hack/control-plane/: etcd, kube-apiserver, kube-controller-manager, kubectl and helm.
#
#   hack/control-plane.sh build     build (or reuse) the binaries; prints their directory
#   hack/control-plane.sh bin       prints that directory if the binaries are built, else fails
#   hack/control-plane.sh up DIR [MANIFEST...]
#                                   starts etcd, kube-apiserver and kube-controller-manager with
#                                   state in DIR, applies the MANIFESTs (CRDs, say), writes
#                                   DIR/kubeconfig (admin) and prints `ready`. With
#                                   WETIX_CONTROL_PLANE_OWNER_PID set, it goes down by itself
#                                   when that process ends, and DIR is removed.
#   hack/control-plane.sh down DIR  stops what `up DIR` started
#
# Nothing listens beyond 127.0.0.1. Binaries go to ~/.cache/wetix-operator/control-plane/
# <versions>/ (WETIX_CONTROL_PLANE_CACHE moves it), outside any checkout so that every clone
# shares them; Go's module and build caches are reused too, so a second build takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULES="$ROOT/hack/control-plane"

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

module_version() { # MODULE-DIR MODULE-PATH: the version go.mod pins
  awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$MODULES/$1/go.mod" | head -n1
}
KUBE_VERSION="$(module_version kubernetes k8s.io/kubernetes)"
ETCD_VERSION="$(module_version etcd go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(module_version helm helm.sh/helm/v3)"
CACHE="${WETIX_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wetix-operator/control-plane}"
BIN="$CACHE/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
BINARIES=(etcd kube-apiserver kube-controller-manager kubectl helm)

log() { echo "control-plane: $*" >&2; }
die() { log "$*"; exit 1; }

built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

# What the binaries are built from: the pinned modules and the build commands below.
build_inputs() {
  cat "$MODULES"/*/go.mod "$MODULES"/*/go.sum
  declare -f cmd_build
}

cmd_build() {
  local stamp
  stamp="$(build_inputs | sha256sum | cut -d' ' -f1)"
  if built && [[ "$(cat "$BIN/.inputs" 2>/dev/null)" == "$stamp" ]]; then
    log "up to date in $BIN"
    echo "$BIN"
    return
  fi
  command -v go >/dev/null || die "go is not on PATH: the real control plane is built from Go modules (Go 1.26+)"
  mkdir -p "$BIN"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  local kube_ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  kube_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  local started=$SECONDS
  log "building kube-apiserver, kube-controller-manager and kubectl $KUBE_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION into $BIN"
  (cd "$MODULES/kubernetes" && go build -trimpath -ldflags "$kube_ldflags" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
  (cd "$MODULES/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  # As helm's Makefile does: the Kubernetes version it assumes without a cluster (for
  # `helm template` and `lint`) is that of its client-go, not the placeholder v1.20.
  local helm_kube helm_minor
  helm_kube="$(cd "$MODULES/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)"
  helm_minor="${helm_kube#v0.}"; helm_minor="${helm_minor%%.*}"
  local helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_minor"
  done
  (cd "$MODULES/helm" && go build -trimpath -ldflags "$helm_ldflags" -o "$BIN/helm" helm.sh/helm/v3/cmd/helm)
  echo "$stamp" >"$BIN/.inputs"
  log "built in $((SECONDS - started)) s"
  echo "$BIN"
}

cmd_bin() {
  built || die "not built yet: run hack/control-plane.sh build"
  echo "$BIN"
}

# A free loopback port below the kernel's ephemeral range (net.ipv4.ip_local_port_range), so
# that no outgoing connection takes it between this check and the server's bind.
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for port in random.sample(range(20000, max(low, 20001)), min(500, max(low - 20000, 1))):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    raise SystemExit("no free loopback port below the ephemeral range")
PY
}

# Waits up to $2 seconds for command $3... to succeed while the process in pid file $1 lives.
wait_for() {
  local pidfile="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    alive "$pidfile" || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

start() { # NAME DIR COMMAND...: runs COMMAND in its own session, log and pid in DIR
  local name="$1" dir="$2"; shift 2
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

cmd_up() {
  local dir="${1:?usage: hack/control-plane.sh up DIR}"
  BIN="$(cmd_bin)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local started=$SECONDS
  for name in etcd kube-apiserver kube-controller-manager; do
    alive "$dir/$name.pid" && die "$name already runs for $dir (pid $(cat "$dir/$name.pid")): down it first"
  done
  rm -rf "$dir/etcd-data" "$dir/pki"
  mkdir -p "$dir/pki"

  # Identities: the admin (system:masters) by bearer token; the tests mint ServiceAccount
  # tokens through the TokenRequest API, signed with this key.
  local admin_token
  admin_token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  echo "$admin_token,admin,admin-uid,\"system:masters\"" >"$dir/pki/tokens.csv"
  openssl genrsa -out "$dir/pki/service-account.key" 2048 2>/dev/null
  # Every request, at metadata level, one JSON line each in DIR/audit.log: the tests read
  # from it what a client asked the server for.
  cat >"$dir/pki/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF

  local etcd_port peer_port api_port
  etcd_port="$(free_port)"; peer_port="$(free_port)"; api_port="$(free_port)"
  start etcd "$dir" "$BIN/etcd" \
    --name default --data-dir "$dir/etcd-data" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --listen-metrics-urls "" \
    --log-level warn
  wait_for "$dir/etcd.pid" 30 curl -fsS "http://127.0.0.1:$etcd_port/health" ||
    { tail -n 20 "$dir/etcd.log" >&2; cmd_down "$dir"; die "etcd did not become healthy (log: $dir/etcd.log)"; }

  start kube-apiserver "$dir" "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$dir/pki" --token-auth-file "$dir/pki/tokens.csv" \
    --authorization-mode RBAC --allow-privileged \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/service-account.key" \
    --service-account-signing-key-file "$dir/pki/service-account.key" \
    --audit-policy-file "$dir/pki/audit-policy.yaml" --audit-log-path "$dir/audit.log" \
    --audit-log-format json --audit-log-mode blocking \
    --profiling=false -v=1
  local url="https://127.0.0.1:$api_port"
  wait_for "$dir/kube-apiserver.pid" 90 curl -fsS --cacert "$dir/pki/apiserver.crt" -H "Authorization: Bearer $admin_token" "$url/readyz" ||
    { tail -n 30 "$dir/kube-apiserver.log" >&2; cmd_down "$dir"; die "kube-apiserver did not become ready (log: $dir/kube-apiserver.log)"; }

  local ca
  ca="$(base64 -w0 <"$dir/pki/apiserver.crt")"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: control-plane
  cluster:
    server: $url
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $admin_token
contexts:
- name: admin
  context: {cluster: control-plane, user: admin, namespace: default}
current-context: admin
EOF
  chmod 600 "$dir/kubeconfig"

  # Manifests given after DIR (CRDs, say) go in before the garbage collector starts, so it
  # knows their kinds from its first discovery instead of after its 30 s refresh.
  local manifest
  for manifest in "${@:2}"; do
    "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" apply --server-side --field-manager control-plane -f "$manifest" >/dev/null ||
      { cmd_down "$dir"; die "could not apply $manifest"; }
  done
  if (($# > 1)); then
    # `kubectl wait` fails at once, rather than waiting, on a CRD whose status has no
    # conditions yet (seen on a loaded machine): ask again until the deadline.
    local established_by=$((SECONDS + 30))
    until "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" wait --for condition=Established crd --all --timeout 5s >/dev/null 2>&1; do
      ((SECONDS < established_by)) || { cmd_down "$dir"; die "CRDs not Established within 30 s"; }
      sleep 0.5
    done
  fi

  start kube-controller-manager "$dir" "$BIN/kube-controller-manager" \
    --kubeconfig "$dir/kubeconfig" --authentication-kubeconfig "" --authorization-kubeconfig "" \
    --controllers garbage-collector-controller,namespace-controller \
    --leader-elect=false --secure-port 0 -v=1
  sleep 0.5
  alive "$dir/kube-controller-manager.pid" ||
    { tail -n 30 "$dir/kube-controller-manager.log" >&2; cmd_down "$dir"; die "kube-controller-manager exited at start"; }

  # With an owner, the control plane goes down when that process ends, however it ends.
  if [[ -n "${WETIX_CONTROL_PLANE_OWNER_PID:-}" ]]; then
    local owner="$WETIX_CONTROL_PLANE_OWNER_PID" self="$ROOT/hack/control-plane.sh"
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; "$2" down "$3" && rm -rf "$3"' \
      watch "$owner" "$self" "$dir" >"$dir/watch.log" 2>&1 </dev/null &
    echo $! >"$dir/watch.pid"
  fi
  echo "$url" >"$dir/url"
  log "etcd, kube-apiserver and kube-controller-manager up in $((SECONDS - started)) s at $url (kubeconfig $dir/kubeconfig)"
  echo ready
}

cmd_down() {
  local dir="${1:?usage: hack/control-plane.sh down DIR}" name
  for name in kube-controller-manager kube-apiserver etcd; do
    alive "$dir/$name.pid" && kill -TERM "$(cat "$dir/$name.pid")" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 15))
  for name in kube-controller-manager kube-apiserver etcd; do
    while alive "$dir/$name.pid" && ((SECONDS < deadline)); do sleep 0.2; done
    alive "$dir/$name.pid" && kill -KILL "$(cat "$dir/$name.pid")" 2>/dev/null || true
    rm -f "$dir/$name.pid"
  done
  # Not when the watch itself (our parent) brings the control plane down.
  if alive "$dir/watch.pid" && [[ "$(cat "$dir/watch.pid")" != "$PPID" ]]; then
    kill "$(cat "$dir/watch.pid")" 2>/dev/null || true
  fi
  rm -f "$dir/watch.pid"
}

case "${1:-}" in
  build) cmd_build ;;
  bin) cmd_bin ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  *) die "usage: hack/control-plane.sh build | bin | up DIR | down DIR" ;;
esac
