#!/usr/bin/env bash
# The krew manifest of a release: plugins/wetix.yaml with its ${...} values filled in.
#
#   hack/krew-manifest.sh TAG RELEASE_URL HOMEPAGE SHA256SUMS > wetix.yaml
#
# TAG is the release tag (v0.1.0), RELEASE_URL where its files are downloaded from (a GitHub
# release: <repository>/releases/download/<tag>), SHA256SUMS the `sha256sum` output listing the
# release archives wetix-operator_<tag>_linux_{amd64,arm64}.tar.gz. Fails on a value missing
# from the template's list or an archive missing from SHA256SUMS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if (($# != 4)); then
  echo "usage: hack/krew-manifest.sh TAG RELEASE_URL HOMEPAGE SHA256SUMS" >&2
  exit 2
fi
python3 - "$root/plugins/wetix.yaml" "$@" <<'RENDER'
import re, string, sys
template_path, tag, release_url, homepage, sums = sys.argv[1:]
if not re.fullmatch(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", tag):
    sys.exit(f"krew-manifest: tag {tag!r} is not v<semver> (krew needs a leading v)")
checksums = {}
with open(sums) as f:
    for line in f:
        if line.strip():
            digest, name = line.split(maxsplit=1)
            checksums[name.strip().lstrip("*")] = digest
values = {"VERSION": tag, "RELEASE_URL": release_url.rstrip("/"), "HOMEPAGE": homepage}
for arch in ("amd64", "arm64"):
    archive = f"wetix-operator_{tag}_linux_{arch}.tar.gz"
    if archive not in checksums:
        sys.exit(f"krew-manifest: {sums} lists no {archive}")
    values[f"SHA256_LINUX_{arch.upper()}"] = checksums[archive]
with open(template_path) as f:
    template = string.Template(f.read())
try:
    sys.stdout.write(template.substitute(values))
except (KeyError, ValueError) as e:
    sys.exit(f"krew-manifest: plugins/wetix.yaml has a value this script does not fill: {e}")
RENDER
