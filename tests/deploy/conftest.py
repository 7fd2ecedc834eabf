"""Shared fixtures: every install output the project ships, rendered once per session."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "wetix-operator"
RELEASE_NAMESPACE = "wetix-operator"

KUSTOMIZE_OUTPUTS = {
    "deploy": REPO / "deploy",
    "namespaced": REPO / "deploy" / "overlays" / "namespaced",
    "servicemonitor": REPO / "deploy" / "overlays" / "servicemonitor",
    "kind-e2e": REPO / "deploy" / "overlays" / "kind-e2e",
}

# Values sets the chart is rendered with in tests: the defaults, and each switch a user flips.
HELM_VALUES = {
    "helm-default": {},
    "helm-namespaced": {"namespaces": ["shop", "billing"]},
    "helm-servicemonitor": {"serviceMonitor": {"enabled": True}},
    "helm-options": {
        "replicas": 1,
        "leaderElect": False,
        "allowedServerUrls": ["https://oauth.example", "https://oauth2.example"],
        "logFormat": "text",
        "image": {"repository": "registry.example/wetix-operator", "tag": "1.2.3"},
        "priorityClassName": "system-cluster-critical",
        "networkPolicy": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
    },
}


@dataclass(frozen=True)
class Rendered:
    name: str
    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [d for d in self.of_kind(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.docs:
            counts[d["kind"]] = counts.get(d["kind"], 0) + 1
        return counts


def parse_all(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path: Path) -> list[dict]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return parse_all(done.stdout)


def helm_render(values: dict) -> list[dict]:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="wetix-operator", namespace=RELEASE_NAMESPACE)
    docs: list[dict] = []
    for path, text in sorted(manifests.items()):
        if path.endswith(".txt"):
            continue
        docs.extend(parse_all(text))
    # Helm installs crds/ itself, before the templates; the output an admin gets has it too.
    docs.extend(parse_all((CHART / "crds" / "wetixcredentials.yaml").read_text()))
    return docs


@pytest.fixture(scope="session")
def kustomize_outputs() -> dict[str, Rendered]:
    return {name: Rendered(name, kustomize(path)) for name, path in KUSTOMIZE_OUTPUTS.items()}


@pytest.fixture(scope="session")
def helm_outputs() -> dict[str, Rendered]:
    return {name: Rendered(name, helm_render(values)) for name, values in HELM_VALUES.items()}


@pytest.fixture(scope="session")
def all_outputs(kustomize_outputs, helm_outputs) -> dict[str, Rendered]:
    return {**kustomize_outputs, **helm_outputs}


def container(deployment: dict, name: str) -> dict:
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")
