#!/usr/bin/env bash
# cargo-deny over the workspace's dependency tree, as deny.toml says: licenses, bans (duplicate
# versions are warnings) and sources (crates.io only), from Cargo.lock alone, offline.
#
#   hack/deny.sh                            licenses, bans, sources
#   WETIX_DENY_ADVISORIES=1 hack/deny.sh    also the RustSec advisories
#
# The advisory database is a git repository on GitHub, fetched on every run with advisories:
# where GitHub cannot be reached (this project's CI machines), leave WETIX_DENY_ADVISORIES
# unset and the check is skipped, saying so. The release workflow sets it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deny="$(hack/tools.sh cargo-deny)"
checks=(licenses bans sources)
if [[ "${WETIX_DENY_ADVISORIES:-}" == 1 ]]; then
  checks+=(advisories)
else
  echo "deny: advisories NOT checked (their database is fetched from GitHub; WETIX_DENY_ADVISORIES=1 checks them)"
fi
exec "$deny" --locked check --hide-inclusion-graph "${checks[@]}"
