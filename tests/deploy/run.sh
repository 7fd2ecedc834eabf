#!/usr/bin/env bash
# Tests of everything a cluster admin installs: kustomize outputs, the Helm chart, RBAC,
# the Dockerfile, shell scripts, the e2e workflow and the Argo CD health check.
# Needs python3 (3.10+) and kubectl (for its built-in kustomize). Offline after pip install.
#
#   tests/deploy/run.sh [pytest args...]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${repo_root}/.venv-deploy"
requirements="${repo_root}/tests/deploy/requirements.txt"

command -v kubectl >/dev/null || { echo "kubectl is needed (kubectl kustomize)" >&2; exit 1; }

if [[ ! -x "${venv}/bin/python" ]]; then
  python3 -m venv "$venv"
fi
# Reinstall only when the pinned requirements changed.
stamp="${venv}/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  "${venv}/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi

cd "$repo_root"
exec "${venv}/bin/python" -m pytest tests/deploy "$@"
