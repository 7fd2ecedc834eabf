#!/usr/bin/env bash
# The CycloneDX SBOM (JSON, spec 1.5) of the operator as it ships: the wetix-operator crate
# and every crate it links on Linux, without dev- and build-only dependencies, each with its
# version, licence, purl and crates.io checksum. Made by cargo-cyclonedx (hack/tools.sh builds
# it on first use), then checked: CycloneDX JSON, describing wetix-operator at Cargo.toml's
# version, listing components, each of the crate's direct dependencies among them.
#
#   hack/sbom.sh [OUT]          default target/sbom/wetix-operator.cdx.json
#
# The timestamp is the last commit's, so the same commit gives the same SBOM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:-target/sbom/wetix-operator.cdx.json}"
target="${WETIX_SBOM_TARGET:-x86_64-unknown-linux-gnu}"
cyclonedx="$(hack/tools.sh cargo-cyclonedx)"

# cargo-cyclonedx writes one file next to each workspace member's Cargo.toml: keep the
# operator's, remove the others (the dev/ crates are never shipped).
name=".sbom-$$"
members=(Cargo.toml dev/*/Cargo.toml)
cleanup() { local m; for m in "${members[@]}"; do rm -f "$(dirname "$m")/$name.json"; done; }
trap cleanup EXIT
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
  "$cyclonedx" cyclonedx --manifest-path Cargo.toml --format json --spec-version 1.5 \
  --target "$target" --no-build-deps --override-filename "$name" --quiet
mkdir -p "$(dirname "$out")"
mv "$name.json" "$out"

metadata="$(cargo metadata --format-version 1 --no-deps --locked)"
python3 - "$out" "$metadata" <<'CHECK'
import json, sys
path, metadata = sys.argv[1], json.loads(sys.argv[2])
crate = next(p for p in metadata["packages"] if p["name"] == "wetix-operator")
try:
    with open(path) as f:
        bom = json.load(f)
except ValueError as e:
    sys.exit(f"sbom: {path} is not JSON: {e}")
problems = []
if bom.get("bomFormat") != "CycloneDX" or bom.get("specVersion") != "1.5":
    problems.append(f"not CycloneDX 1.5: {bom.get('bomFormat')} {bom.get('specVersion')}")
described = bom.get("metadata", {}).get("component", {})
if (described.get("name"), described.get("version")) != ("wetix-operator", crate["version"]):
    problems.append(f"describes {described.get('name')} {described.get('version')}, not wetix-operator {crate['version']}")
components = bom.get("components") or []
if not components:
    problems.append("lists no components")
for c in components:
    if not (c.get("name") and c.get("version") and c.get("purl")):
        problems.append(f"a component without name, version or purl: {c.get('bom-ref')}")
listed = {c.get("name") for c in components}
direct = {d["name"] for d in crate["dependencies"] if d["kind"] is None and not d.get("target")}
problems += [f"direct dependency {d} is missing" for d in sorted(direct - listed)]
if problems:
    sys.exit(f"sbom: {path}: " + "; ".join(problems))
print(f"sbom: {path}: wetix-operator {crate['version']}, {len(components)} components "
      f"({len(direct)} direct dependencies among them)")
CHECK
