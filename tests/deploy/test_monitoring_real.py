"""The alerts and the dashboard on the real API server (hack/control-plane.sh), as the install
tests in test_real_install.py do it and with their control plane: deploy/overlays/alerts and
deploy/grafana accepted without a warning, and a Helm release with the PrometheusRule and the
dashboard installed, upgraded (a threshold changed, the dashboard switched off) and uninstalled
by the helm CLI."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import CHART, REPO
from test_real_install import (  # noqa: F401 (pytest fixtures, used by name)
    applied_lines, chart_fullname, docs_of, helm_release, installed, plane, ref, rendered, service_monitor_crd,
    warnings_in,
)

PROMETHEUS_RULE_CRD = "prometheusrules.monitoring.coreos.com"
PROM_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
# A minimal Prometheus Operator PrometheusRule CRD: the fields these rules use, with the upstream
# types, required fields and Duration pattern, and no unknown field kept, so that the object is
# really validated (the upstream CRD has more fields, none of which the chart sets).
PROMETHEUS_RULE_CRD_DOC = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": PROMETHEUS_RULE_CRD},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {"kind": "PrometheusRule", "listKind": "PrometheusRuleList", "plural": "prometheusrules",
                  "singular": "prometheusrule", "shortNames": ["promrule"]},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object", "properties": {"groups": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": {"type": "string", "pattern": PROM_DURATION},
                                "rules": {"type": "array", "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "properties": {
                                        "alert": {"type": "string"},
                                        "record": {"type": "string"},
                                        "expr": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                                 "x-kubernetes-int-or-string": True},
                                        "for": {"type": "string", "pattern": PROM_DURATION},
                                        "keep_firing_for": {"type": "string", "minLength": 1,
                                                            "pattern": PROM_DURATION},
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "annotations": {"type": "object",
                                                        "additionalProperties": {"type": "string"}},
                                    },
                                }},
                            },
                        },
                    }}},
                },
            }},
        }],
    },
}


@pytest.fixture(scope="module")
def prometheus_rule_crd(plane):
    """The PrometheusRule CRD: the cluster's own if it has one, else the minimal one above."""
    if plane.exists("crd", PROMETHEUS_RULE_CRD):
        yield
        return
    plane.kubectl("apply", "--server-side", "--field-manager", "wetix-deploy-tests", "-f", "-",
                  input=json.dumps(PROMETHEUS_RULE_CRD_DOC))
    plane.kubectl("wait", "--for=condition=Established", f"crd/{PROMETHEUS_RULE_CRD}", "--timeout=30s", timeout=40)
    yield
    if plane.shared:
        plane.kubectl("delete", "crd", PROMETHEUS_RULE_CRD, "--ignore-not-found", "--wait=false", check=False)


def test_the_alerts_overlay_and_the_dashboard_are_accepted_without_a_warning(
        plane, installed, service_monitor_crd, prometheus_rule_crd):
    for path in (REPO / "deploy" / "overlays" / "alerts", REPO / "deploy" / "grafana"):
        text = plane.kustomize(path)
        done = plane.apply(text, "--dry-run=server")
        assert done.returncode == 0, f"{path} was refused:\n{done.stderr}"
        assert warnings_in(done.stderr) == [], done.stderr
        assert sorted(applied_lines(done.stdout)) == sorted(
            f"{ref(d)} serverside-applied (server dry run)" for d in docs_of(text))


def test_the_prometheus_rule_crd_really_validates_the_rule(plane, installed, prometheus_rule_crd):
    rule = yaml.safe_load((REPO / "deploy" / "overlays" / "alerts" / "prometheusrule.yaml").read_text())
    rule["spec"]["groups"][0]["rules"][0]["for"] = "15 minutes"
    done = plane.apply(json.dumps(rule), "--dry-run=server")
    assert done.returncode != 0
    assert "spec.groups[0].rules[0].for" in done.stderr and "should match" in done.stderr, done.stderr


def rules_by_alert(rule: dict) -> dict[str, dict]:
    return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}


def test_helm_installs_upgrades_and_uninstalls_the_alerts_and_the_dashboard(
        plane, installed, helm_release, service_monitor_crd, prometheus_rule_crd, tmp_path):
    release, ns = helm_release
    name = chart_fullname(release)
    values = tmp_path / "monitoring.yaml"
    values.write_text(yaml.safe_dump({
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "labels": {"prometheus": "main"}},
        "grafanaDashboard": {"enabled": True},
    }))
    done = plane.helm("install", release, str(CHART), "--namespace", ns, "--create-namespace", "-f", str(values))
    assert "STATUS: deployed" in done.stdout
    assert not re.search(r"(?i)warning", done.stderr), done.stderr

    rule = plane.get("prometheusrule", name, "-n", ns)
    assert rule["metadata"]["labels"]["prometheus"] == "main"
    alerts = rules_by_alert(rule)
    assert f'up{{job="{name}-metrics", namespace="{ns}"}}' in alerts["WetixOperatorDown"]["expr"]
    assert alerts["WetixAccessTokenExpiringSoon"]["expr"].rstrip().endswith("< 7 * 86400")
    # The job the rules select is the ServiceMonitor's: the Service's name.
    assert plane.exists("servicemonitor", name, "-n", ns) and plane.exists("service", f"{name}-metrics", "-n", ns)
    dashboard = plane.get("configmap", f"{name}-dashboard", "-n", ns)
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["wetix-operator.json"] == (REPO / "deploy" / "grafana" / "wetix-operator.json").read_text()

    # A threshold changed and the dashboard switched off: the live rule follows, the ConfigMap goes.
    upgrade = tmp_path / "upgrade.yaml"
    upgrade.write_text(yaml.safe_dump({"prometheusRule": {"accessTokenExpiringDays": 3, "notReadyFor": "30m"},
                                       "grafanaDashboard": {"enabled": False}}))
    done = plane.helm("upgrade", release, str(CHART), "--namespace", ns, "--reuse-values", "-f", str(upgrade))
    assert "REVISION: 2" in done.stdout
    assert not re.search(r"(?i)warning", done.stderr), done.stderr
    alerts = rules_by_alert(plane.get("prometheusrule", name, "-n", ns))
    assert alerts["WetixAccessTokenExpiringSoon"]["expr"].rstrip().endswith("< 3 * 86400")
    assert alerts["WetixCredentialNotReady"]["for"] == "30m"
    assert not plane.exists("configmap", f"{name}-dashboard", "-n", ns)

    done = plane.helm("uninstall", release, "--namespace", ns, "--wait", "--timeout", "60s")
    assert f'release "{release}" uninstalled' in done.stdout
    assert not plane.exists("prometheusrule", name, "-n", ns)
    assert not plane.exists("servicemonitor", name, "-n", ns)
