"""The krew manifest of `kubectl wetix` (plugins/wetix.yaml, rendered by hack/krew-manifest.sh
as the release workflow does) against krew's own validation of a Plugin, and the layout krew
installs: an archive with `wetix-operator`, linked as `kubectl-wetix` where kubectl finds it.

The rules are those of krew's internal/index/validation (ValidatePlugin, validatePlatform,
validateSelector, validateFiles) and of its semver parsing; krew publishes no JSON schema of
its Plugin type. Unknown fields are refused here too (krew ignores them, so a misspelt field
would silently be dropped)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

RENDER = REPO / "hack" / "krew-manifest.sh"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
RELEASE_URL = "https://example.invalid/wetix-operator/releases/download"
HOMEPAGE = "https://example.invalid/wetix-operator"

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
SAFE_NAME = re.compile(r"^[\w-]+$")
WINDOWS_FORBIDDEN = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
SHA256 = re.compile(r"^[a-f0-9]{64}$")
# k8s.io/apimachinery's ParseSemantic, behind krew's leading "v".
SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
# The fields of krew's pkg/index types.
PLUGIN_FIELDS = {"apiVersion", "kind", "metadata", "spec"}
SPEC_FIELDS = {"version", "shortDescription", "description", "caveats", "homepage", "platforms"}
PLATFORM_FIELDS = {"uri", "sha256", "selector", "files", "license", "bin"}


def krew_problems(name: str, plugin: dict) -> list[str]:
    """What krew's validation refuses in the manifest of plugin `name` (its file's stem)."""
    problems = []
    unknown = set(plugin) - PLUGIN_FIELDS
    spec = plugin.get("spec") or {}
    unknown |= {f"spec.{k}" for k in set(spec) - SPEC_FIELDS}
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    if plugin.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion {plugin.get('apiVersion')!r} is not {API_VERSION}")
    if plugin.get("kind") != "Plugin":
        problems.append(f"kind {plugin.get('kind')!r} is not Plugin")
    if not SAFE_NAME.match(name) or name.upper() in WINDOWS_FORBIDDEN:
        problems.append(f"the plugin name {name!r} is not allowed")
    if (plugin.get("metadata") or {}).get("name") != name:
        problems.append(f"plugin should be named {name!r}")
    short = spec.get("shortDescription") or ""
    if not short:
        problems.append("should have a short description")
    if "\n" in short or "\r" in short:
        problems.append("should not have line breaks in short description")
    platforms = spec.get("platforms") or []
    if not platforms:
        problems.append("should have a platform specified")
    version = spec.get("version") or ""
    if not version:
        problems.append("should have a version specified")
    elif not SEMVER.match(str(version)):
        problems.append(f"version {version!r} is not v<semver>")
    for i, platform in enumerate(platforms):
        problems += [f"platforms[{i}]: {p}" for p in platform_problems(platform)]
    return problems


def platform_problems(platform: dict) -> list[str]:
    problems = []
    if set(platform) - PLATFORM_FIELDS:
        problems.append(f"unknown fields {sorted(set(platform) - PLATFORM_FIELDS)}")
    if not platform.get("uri"):
        problems.append("`uri` has to be set")
    sha = platform.get("sha256")
    if not sha:
        problems.append("`sha256` sum has to be set")
    elif not SHA256.match(str(sha)):
        problems.append(f"`sha256` value {sha} is not valid")
    if not platform.get("bin"):
        problems.append("`bin` has to be set")
    files = platform.get("files")
    if files is not None:
        if not files:
            problems.append("`files` has to be unspecified or non-empty")
        for op in files:
            if not op.get("from") or not op.get("to"):
                problems.append("`from` and `to` have to be set")
    selector = platform.get("selector")
    if selector is None:
        problems.append("nil selector is not supported")
    else:
        labels, expressions = selector.get("matchLabels"), selector.get("matchExpressions")
        if labels is None and not expressions:
            problems.append("empty selector is not supported")
        keys = list(labels or {}) + [e.get("key") for e in expressions or []]
        problems += [f"selector key {k!r} not supported" for k in keys if k not in ("os", "arch")]
        if labels is not None and not labels:
            problems.append("`matchLabels` specified but empty")
        if expressions is not None and not expressions:
            problems.append("`matchExpressions` specified but empty")
    return problems


def crate_version() -> str:
    return tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]


def archive_name(tag: str, arch: str) -> str:
    return f"wetix-operator_{tag}_linux_{arch}.tar.gz"


def render(tmp_path: Path, tag: str, sums: dict[str, str]) -> subprocess.CompletedProcess:
    sums_file = tmp_path / "SHA256SUMS"
    sums_file.write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return subprocess.run([str(RENDER), tag, f"{RELEASE_URL}/{tag}", HOMEPAGE, str(sums_file)],
                          capture_output=True, text=True, timeout=30)


def digests(tag: str) -> dict[str, str]:
    return {archive_name(tag, arch): hashlib.sha256(arch.encode()).hexdigest() for arch in ("amd64", "arm64")}


@pytest.fixture
def rendered(tmp_path) -> dict:
    tag = f"v{crate_version()}"
    done = render(tmp_path, tag, digests(tag))
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_release_manifest_passes_krews_validation(rendered):
    assert krew_problems(Path("plugins/wetix.yaml").stem, rendered) == []


def test_the_manifest_is_for_this_version_with_each_archives_checksum(rendered):
    tag = f"v{crate_version()}"
    assert rendered["spec"]["version"] == tag
    assert rendered["spec"]["homepage"] == HOMEPAGE
    by_arch = {p["selector"]["matchLabels"]["arch"]: p for p in rendered["spec"]["platforms"]}
    assert set(by_arch) == {"amd64", "arm64"}
    for arch, platform in by_arch.items():
        assert platform["selector"]["matchLabels"]["os"] == "linux"
        assert platform["uri"] == f"{RELEASE_URL}/{tag}/{archive_name(tag, arch)}"
        assert platform["sha256"] == digests(tag)[archive_name(tag, arch)]


def test_krew_links_the_binary_under_the_name_kubectl_looks_for(rendered):
    for platform in rendered["spec"]["platforms"]:
        assert platform["bin"] == "kubectl-wetix"
        assert {"from": "wetix-operator", "to": "kubectl-wetix"} in platform["files"]


def test_the_release_workflow_packages_the_archives_the_manifest_names():
    workflow = yaml.safe_load(RELEASE.read_text())
    package = next(s["run"] for s in workflow["jobs"]["binaries"]["steps"] if s.get("name") == "Package")
    assert 'archive="wetix-operator_${GITHUB_REF_NAME}_linux_${ARCH}.tar.gz"' in package
    assert re.search(r"tar .*\"\$archive\" .*\bwetix-operator\b", package)
    arches = {m["arch"] for m in workflow["jobs"]["binaries"]["strategy"]["matrix"]["include"]}
    assert arches == {"amd64", "arm64"}
    publish = "\n".join(s.get("run", "") for s in workflow["jobs"]["release"]["steps"])
    assert "hack/krew-manifest.sh" in publish


@pytest.mark.parametrize("broken, complaint", [
    ({"spec": {"shortDescription": "two\nlines"}}, "line breaks"),
    ({"spec": {"version": "0.1.0"}}, "v<semver>"),
    ({"metadata": {"name": "kubectl-wetix"}}, "should be named"),
    ({"platform": {"sha256": "abc"}}, "is not valid"),
    ({"platform": {"selector": {"matchLabels": {"os": "linux", "cpu": "x86"}}}}, "'cpu' not supported"),
    ({"platform": {"files": []}}, "unspecified or non-empty"),
    ({"platform": {"bin": ""}}, "`bin` has to be set"),
    ({"spec": {"shortDesc": "typo"}}, "unknown fields"),
])
def test_the_check_refuses_what_krew_refuses(rendered, broken, complaint):
    plugin = yaml.safe_load(yaml.safe_dump(rendered))
    for key, value in broken.get("spec", {}).items():
        plugin["spec"][key] = value
    plugin["metadata"].update(broken.get("metadata", {}))
    plugin["spec"]["platforms"][0].update(broken.get("platform", {}))
    assert any(complaint in p for p in krew_problems("wetix", plugin)), krew_problems("wetix", plugin)


def test_rendering_fails_on_a_tag_without_v_or_an_archive_missing_from_the_checksums(tmp_path):
    tag = f"v{crate_version()}"
    no_v = render(tmp_path, crate_version(), digests(crate_version()))
    assert no_v.returncode != 0 and "leading v" in no_v.stderr
    only_amd64 = {k: v for k, v in digests(tag).items() if "amd64" in k}
    missing = render(tmp_path, tag, only_amd64)
    assert missing.returncode != 0 and archive_name(tag, "arm64") in missing.stderr


def test_installed_as_krew_does_kubectl_runs_it_as_kubectl_wetix(rendered, tmp_path):
    """The archive as the release packs it, unpacked and linked as krew does, then found by
    kubectl on PATH: `kubectl wetix` answers under its plugin name."""
    binary = REPO / "target" / "debug" / "wetix-operator"
    if not binary.exists():
        pytest.skip("target/debug/wetix-operator is not built (cargo build; hack/test.sh builds it first)")
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(binary, arcname="wetix-operator")
    platform = next(p for p in rendered["spec"]["platforms"] if p["selector"]["matchLabels"]["arch"] == "amd64")
    unpacked, install, bin_dir = tmp_path / "unpacked", tmp_path / "store", tmp_path / "bin"
    for d in (unpacked, install, bin_dir):
        d.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    for op in platform["files"]:
        (unpacked / op["from"]).rename(install / op["to"])
    (bin_dir / "kubectl-wetix").symlink_to(install / platform["bin"])
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed"
    listed = subprocess.run([kubectl, "plugin", "list"], env=env, capture_output=True, text=True, timeout=30)
    assert str(bin_dir / "kubectl-wetix") in listed.stdout, listed.stdout + listed.stderr
    helped = subprocess.run([kubectl, "wetix", "--help"], env=env, capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0, helped.stderr
    assert "Usage: kubectl wetix <COMMAND>" in helped.stdout, helped.stdout
