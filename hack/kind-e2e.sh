#!/usr/bin/env bash
# End-to-end test on a throw-away kind cluster: the operator and a stand-in WeTix server
# (dev/fake-wetix) run in one pod; a WetixCredential must become Ready and its managed
# Secret must carry every key of the contract. Needs docker, kind and kubectl.
#
#   hack/kind-e2e.sh
#
# Environment:
#   KIND_CLUSTER   name of the cluster to create (default wetix-e2e); an existing cluster
#                  of that name is never touched, the script stops instead
#   KEEP_CLUSTER   1: leave the cluster running at the end, for a look around
#   SOURCE_URL     written into the image's org.opencontainers.image.source label
set -euo pipefail

cluster="${KIND_CLUSTER:-wetix-e2e}"
keep_cluster="${KEEP_CLUSTER:-0}"
context="kind-${cluster}"
test_ns="wetix-e2e"
operator_ns="wetix-operator"
credential="e2e"
managed_secret="${credential}-token"
created_cluster=0

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

log() { printf '\n==> %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
k() { kubectl --context "$context" "$@"; }

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

diagnostics() {
  log "diagnostics"
  k get pods -A -o wide || true
  k -n "$test_ns" get wetixcredentials -o yaml || true
  k -n "$test_ns" get events --sort-by=.lastTimestamp || true
  k -n "$operator_ns" describe pods || true
  k -n "$operator_ns" logs deployment/wetix-operator -c wetix-operator --tail=200 || true
  k -n "$operator_ns" logs deployment/wetix-operator -c fake-wetix --tail=200 || true
}

finish() {
  local rc=$?
  if [[ $rc -ne 0 && $created_cluster -eq 1 ]]; then
    diagnostics
  fi
  if [[ $created_cluster -eq 1 ]]; then
    if [[ "$keep_cluster" == "1" ]]; then
      log "keeping cluster ${cluster} (kubectl --context ${context} ...; kind delete cluster --name ${cluster})"
    else
      log "deleting cluster ${cluster}"
      kind delete cluster --name "$cluster" || true
    fi
  fi
  if [[ $rc -eq 0 ]]; then
    log "PASS"
  fi
  exit "$rc"
}
trap finish EXIT

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  fail "a kind cluster named ${cluster} exists already; delete it or set KIND_CLUSTER"
fi

log "building images wetix-operator:e2e and fake-wetix:e2e"
export DOCKER_BUILDKIT=1
docker build -t wetix-operator:e2e --build-arg "SOURCE_URL=${SOURCE_URL:-}" .
docker build -t fake-wetix:e2e -f dev/fake-wetix/Dockerfile .

log "creating kind cluster ${cluster}"
created_cluster=1
kind create cluster --name "$cluster" --wait 120s
kind load docker-image --name "$cluster" wetix-operator:e2e fake-wetix:e2e

log "installing the operator (deploy/overlays/kind-e2e)"
k apply -k deploy/overlays/kind-e2e
k wait --for=condition=Established crd/wetixcredentials.wetix.my --timeout=60s
k -n "$operator_ns" rollout status deployment/wetix-operator --timeout=180s

log "creating a client Secret and a WetixCredential in ${test_ns}"
k create namespace "$test_ns"
k apply -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: wetix-client
  namespace: ${test_ns}
  labels:
    wetix.my/watch: "true"
type: Opaque
stringData:
  client_id: e2e-client
  client_secret: e2e-client-secret
---
apiVersion: wetix.my/v1alpha1
kind: WetixCredential
metadata:
  name: ${credential}
  namespace: ${test_ns}
spec:
  server:
    environment: Sandbox
    url: http://127.0.0.1:8090
  clientSecretRef:
    name: wetix-client
YAML

k -n "$test_ns" wait --for=condition=Ready "wetixcredential/${credential}" --timeout=120s
k -n "$test_ns" get wetixcredentials

log "checking the managed Secret ${managed_secret}"
secret_value() {
  k -n "$test_ns" get secret "$managed_secret" -o "jsonpath={.data.$1}" | base64 -d
}
for key in access_token refresh_token token_type authorization expires_at refresh_token_expires_at; do
  [[ -n "$(secret_value "$key")" ]] || fail "key ${key} is missing or empty in Secret ${managed_secret}"
done
[[ "$(secret_value token_type)" == "Bearer" ]] || fail "token_type is not Bearer"
[[ "$(secret_value authorization)" == "Bearer $(secret_value access_token)" ]] \
  || fail "authorization is not 'Bearer <access_token>'"
rfc3339_utc='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
for key in expires_at refresh_token_expires_at; do
  [[ "$(secret_value "$key")" =~ $rfc3339_utc ]] || fail "${key} is not an RFC 3339 UTC time"
done
echo "Secret ${managed_secret} carries every key of the contract."

log "deleting the WetixCredential: its Secret (deletionPolicy Delete) goes with it"
k -n "$test_ns" delete "wetixcredential/${credential}" --wait=true --timeout=60s
k -n "$test_ns" wait --for=delete "secret/${managed_secret}" --timeout=90s

log "uninstalling"
k delete namespace "$test_ns" --wait=true --timeout=120s
k delete -k deploy/overlays/kind-e2e --wait=true --timeout=180s
