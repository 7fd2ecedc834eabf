#!/usr/bin/env bash
# actionlint over .github/workflows/ (expressions, job graph, runner labels, action inputs),
# with shellcheck on every `run:` script when shellcheck is on PATH or in tests/deploy's venv.
# actionlint is built from its Go module on first use (hack/tools.sh).
#
#   hack/lint-workflows.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

actionlint="$(hack/tools.sh actionlint)"
shellcheck="$(command -v shellcheck || true)"
[[ -n "$shellcheck" || ! -x .venv-deploy/bin/shellcheck ]] || shellcheck="$PWD/.venv-deploy/bin/shellcheck"
if [[ -z "$shellcheck" ]]; then
  echo "lint-workflows: shellcheck not found: the run: scripts are NOT shellchecked (tests/deploy/run.sh installs it)"
fi
workflows=(.github/workflows/*.y*ml)
"$actionlint" -shellcheck="$shellcheck" "${workflows[@]}"
echo "lint-workflows: ${#workflows[@]} workflows pass actionlint"
