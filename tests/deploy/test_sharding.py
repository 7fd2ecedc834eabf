"""Sharding past one process: several installs in one cluster, each reconciling the credentials
its label selector picks (--credential-selector) and holding a Lease of its own (--lease-name).

Two Helm releases, or two copies of deploy/overlays/namespaced/shard-kustomization.yaml, must
coexist: no object of one is an object of the other, no selector of one picks the other's
pods, and each leader-election Role grants exactly its own Lease.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import CHART, REPO, RELEASE_NAMESPACE, container, kustomize, parse_all
from test_rbac import flatten

SHARD_EXAMPLE = REPO / "deploy" / "overlays" / "namespaced" / "shard-kustomization.yaml"


def lease_rules(lease: str) -> dict[tuple, set[str]]:
    return {
        ("coordination.k8s.io", "leases", None): {"create"},
        ("coordination.k8s.io", "leases", lease): {"get", "update"},
    }


def helm_release(values: dict, release: str = "wetix-operator") -> list[dict]:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name=release, namespace=RELEASE_NAMESPACE)
    return [d for path, text in sorted(manifests.items()) if not path.endswith(".txt") for d in parse_all(text)]


def one(docs: list[dict], kind: str, name_part: str = "") -> dict:
    found = [d for d in docs if d["kind"] == kind and name_part in d["metadata"]["name"]]
    assert len(found) == 1, (kind, name_part, [d["metadata"]["name"] for d in found])
    return found[0]


def identities(docs: list[dict]) -> set[tuple]:
    return {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs}


def pod_selectors(docs: list[dict]) -> list[dict]:
    """Every label selector that picks the operator's pods."""
    found = []
    for d in docs:
        spec = d.get("spec", {})
        if d["kind"] == "Deployment":
            found.append(spec["selector"]["matchLabels"])
            found += [t["labelSelector"]["matchLabels"] for t in spec["template"]["spec"].get("topologySpreadConstraints", [])]
        elif d["kind"] == "PodDisruptionBudget":
            found.append(spec["selector"]["matchLabels"])
        elif d["kind"] == "NetworkPolicy":
            found.append(spec["podSelector"]["matchLabels"])
        elif d["kind"] == "Service":
            found.append(spec["selector"])
    return found


def assert_shards_coexist(shards: dict[str, list[dict]]) -> None:
    (name_a, a), (name_b, b) = shards.items()
    assert identities(a).isdisjoint(identities(b)), identities(a) & identities(b)
    pods = {name: one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"] for name, docs in shards.items()}
    for name, docs in shards.items():
        other = pods[name_b if name == name_a else name_a]
        for selector in pod_selectors(docs):
            assert selector.items() <= pods[name].items(), (name, selector)
            assert not selector.items() <= other.items(), (name, "selects the other shard's pods", selector)


def test_a_helm_shard_passes_its_selector_and_lease_and_its_role_grants_that_lease():
    docs = helm_release({"credentialSelector": "shard in (a,b),!legacy", "leaseName": "wetix-operator-shard-a"})
    args = container(one(docs, "Deployment"), "wetix-operator")["args"]
    assert args == [
        "run",
        "--log-format=json",
        "--leader-elect",
        "--credential-selector=shard in (a,b),!legacy",
        "--lease-name=wetix-operator-shard-a",
    ]
    role = one(docs, "Role", "leader-election")
    assert flatten(role["rules"]) == lease_rules("wetix-operator-shard-a")


def test_a_helm_shard_on_the_default_lease_is_refused_as_the_operator_would_refuse_it():
    import helm_python as helm

    with pytest.raises(helm.HelmError, match="credentialSelector with leaderElect needs a leaseName of its own"):
        helm_release({"credentialSelector": "shard=a"})
    # Without leader election there is no Lease to share: one replica, selector only.
    docs = helm_release({"credentialSelector": "shard=a", "replicas": 1, "leaderElect": False})
    args = container(one(docs, "Deployment"), "wetix-operator")["args"]
    assert args == ["run", "--log-format=json", "--credential-selector=shard=a"]
    assert [d for d in docs if d["kind"] == "Role"] == []


@pytest.mark.parametrize("lease", ["Shard_A", "-shard", "", "a" * 254])
def test_the_values_schema_refuses_a_lease_name_the_api_server_would(lease):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError, match="schema"):
        helm_release({"credentialSelector": "shard=a", "leaseName": lease})


def test_two_helm_releases_of_shards_coexist_in_one_namespace():
    shards = {
        shard: helm_release({"credentialSelector": f"shard={shard}", "leaseName": f"wetix-operator-shard-{shard}"},
                            release=f"wetix-{shard}")
        for shard in ("a", "b")
    }
    assert_shards_coexist(shards)
    for shard, docs in shards.items():
        assert flatten(one(docs, "Role", "leader-election")["rules"]) == lease_rules(f"wetix-operator-shard-{shard}")


def shard_overlay(root: Path, shard: str) -> list[dict]:
    """The shard example as the README says to use it: copied to my-wetix/shard-<x>/, next to
    the repository's deploy/ (and crds/, which deploy/ reads)."""
    text = SHARD_EXAMPLE.read_text()
    if shard != "a":
        text = re.sub(r"shard-a\b", f"shard-{shard}", text)
        text = text.replace("shard=a", f"shard={shard}").replace("wetix.my/shard: a", f"wetix.my/shard: {shard}")
    overlay = root / "my-wetix" / f"shard-{shard}"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(text)
    return kustomize(overlay)


@pytest.fixture(scope="module")
def kustomize_shards(tmp_path_factory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("shards")
    shutil.copytree(REPO / "deploy", root / "deploy")
    shutil.copytree(REPO / "crds", root / "crds")
    return {shard: shard_overlay(root, shard) for shard in ("a", "b")}


def test_the_kustomize_shard_example_passes_its_selector_and_lease(kustomize_shards):
    for shard, docs in kustomize_shards.items():
        args = container(one(docs, "Deployment"), "wetix-operator")["args"]
        assert args[:4] == ["run", "--leader-elect", "--log-format", "json"]
        assert args[4:] == [
            "--namespaces=shop,billing",
            f"--credential-selector=shard={shard}",
            f"--lease-name=wetix-operator-shard-{shard}",
        ]
        assert flatten(one(docs, "Role", "leader-election")["rules"]) == lease_rules(f"wetix-operator-shard-{shard}")


def test_two_kustomize_shards_coexist_and_neither_owns_the_shared_crd_or_namespace(kustomize_shards):
    assert_shards_coexist(kustomize_shards)
    for shard, docs in kustomize_shards.items():
        kinds = {d["kind"] for d in docs}
        assert "CustomResourceDefinition" not in kinds and "Namespace" not in kinds, shard
        [account] = [d for d in docs if d["kind"] == "ServiceAccount"]
        for binding in (d for d in docs if d["kind"] == "RoleBinding"):
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": RELEASE_NAMESPACE}
            ]
            assert any(r["metadata"]["name"] == binding["roleRef"]["name"]
                       and r["metadata"]["namespace"] == binding["metadata"]["namespace"]
                       for r in docs if r["kind"] == "Role"), binding


def test_the_shard_example_is_not_part_of_the_namespaced_overlay(kustomize_outputs):
    args = container(kustomize_outputs["namespaced"].one("Deployment"), "wetix-operator")["args"]
    assert not any(a.startswith(("--credential-selector", "--lease-name")) for a in args)


def test_a_helm_shard_lints_without_warnings_in_strict_mode():
    import helm_python as helm

    values = {"credentialSelector": "shard=a", "leaseName": "wetix-operator-shard-a"}
    report = helm.lint(str(CHART), values, strict=True, namespace=RELEASE_NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
