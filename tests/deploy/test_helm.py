"""The Helm chart: lints clean with Helm's own linter and agrees with the kustomize install."""

from __future__ import annotations

import pytest
import yaml

from conftest import CHART, REPO, container, helm_render

SYNC_CRD = "cp crds/wetixcredentials.yaml deploy/helm/wetix-operator/crds/wetixcredentials.yaml"


def test_chart_crd_is_the_generated_crd_byte_for_byte():
    generated = (REPO / "crds" / "wetixcredentials.yaml").read_bytes()
    copied = (CHART / "crds" / "wetixcredentials.yaml").read_bytes()
    assert copied == generated, f"the chart's CRD differs from crds/; sync it with: {SYNC_CRD}"
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["wetixcredentials.yaml"]


@pytest.mark.parametrize("values", [{}, {"namespaces": ["shop", "billing"], "serviceMonitor": {"enabled": True}}])
def test_chart_lints_without_warnings_in_strict_mode(tmp_path, values):
    import helm_python as helm

    report = helm.lint(str(CHART), values, strict=True, namespace="wetix-operator")
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); 2 and up are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_chart_values_and_metadata_parse():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "wetix-operator"
    assert {"image", "replicas", "namespaces", "allowedServerUrls", "logFormat", "leaderElect", "resources",
            "serviceMonitor", "podSecurityContext", "securityContext"} <= set(values)
    assert values["image"].keys() >= {"repository", "tag", "pullPolicy"}


def test_chart_and_kustomize_run_the_same_operator_pod(kustomize_outputs, helm_outputs):
    from_kustomize = kustomize_outputs["deploy"].one("Deployment")
    from_helm = helm_outputs["helm-default"].one("Deployment")
    k_pod = from_kustomize["spec"]["template"]["spec"]
    h_pod = from_helm["spec"]["template"]["spec"]
    assert h_pod["securityContext"] == k_pod["securityContext"]
    assert h_pod["automountServiceAccountToken"] == k_pod["automountServiceAccountToken"]
    k_op, h_op = container(from_kustomize, "wetix-operator"), container(from_helm, "wetix-operator")
    for field in ("securityContext", "resources", "livenessProbe", "readinessProbe", "ports", "env"):
        assert h_op[field] == k_op[field], field
    assert sorted(h_op["args"]) == sorted(["run", "--log-format=json", "--leader-elect"])
    assert sorted(k_op["args"]) == sorted(["run", "--log-format", "json", "--leader-elect"])


def test_default_image_tag_is_the_chart_app_version(helm_outputs):
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    operator = container(helm_outputs["helm-default"].one("Deployment"), "wetix-operator")
    assert operator["image"] == f"wetix-operator:{app_version}"
    assert operator["imagePullPolicy"] == "IfNotPresent"


def test_values_become_flags_and_switch_parts_off(helm_outputs):
    rendered = helm_outputs["helm-options"]
    deployment = rendered.one("Deployment")
    operator = container(deployment, "wetix-operator")
    assert operator["args"] == [
        "run",
        "--log-format=text",
        "--allowed-server-urls=https://oauth.example,https://oauth2.example",
    ]
    assert operator["image"] == "registry.example/wetix-operator:1.2.3"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "system-cluster-critical"


def test_more_than_one_replica_without_leader_election_is_refused():
    import helm_python as helm

    with pytest.raises(helm.HelmError, match="leaderElect"):
        helm_render({"replicas": 2, "leaderElect": False})


@pytest.mark.parametrize(
    "values",
    [{"logFormat": "xml"}, {"namespaces": ["Not_A_Namespace"]}, {"allowedServerUrls": ["ftp://x"]}],
)
def test_values_schema_rejects_what_the_operator_would_reject(values):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError, match="schema"):
        helm_render(values)
