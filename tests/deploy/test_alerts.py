"""The alerts: deploy/overlays/alerts and the chart's prometheusRule render the same rules, the
chart's thresholds reach them, every alert has promtool cases (run by hack/promtool.sh test) and
is documented with its thresholds in docs/alerts.md."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from conftest import CHART, REPO, Rendered, helm_render, kustomize
from promtool import check_rules

OVERLAY = REPO / "deploy" / "overlays" / "alerts"
RULE_FILE = OVERLAY / "prometheusrule.yaml"
DOCS = REPO / "docs" / "alerts.md"
ALERTS = ["WetixAccessTokenExpiringSoon", "WetixRefreshTokenExpiringSoon", "WetixCredentialNotReady",
          "WetixTokenRenewalsFailing", "WetixOperatorDown", "WetixOperatorNoLeader"]


def rules_of(rule: dict) -> dict[str, dict]:
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def chart_rule(values: dict) -> dict:
    docs = Rendered("chart", helm_render({"prometheusRule": {"enabled": True, **values}}))
    return docs.one("PrometheusRule")


@pytest.fixture(scope="module")
def overlay() -> Rendered:
    return Rendered("alerts", kustomize(OVERLAY))


def test_the_overlay_is_the_servicemonitor_install_and_the_rule(overlay, kustomize_outputs):
    monitored = kustomize_outputs["servicemonitor"].docs
    rule = overlay.one("PrometheusRule")
    assert [d for d in overlay.docs if d is not rule] == monitored
    assert rule == yaml.safe_load(RULE_FILE.read_text())
    assert rule["metadata"]["namespace"] == "wetix-operator"
    assert sorted(rules_of(rule)) == sorted(ALERTS)


def test_the_rules_select_the_target_deploy_scrapes(overlay):
    # The job a ServiceMonitor gives the operator's pods is the Service's name.
    service = overlay.one("Service")
    target = f'job="{service["metadata"]["name"]}", namespace="{service["metadata"]["namespace"]}"'
    rules = rules_of(overlay.one("PrometheusRule"))
    assert f"up{{{target}}}" in rules["WetixOperatorDown"]["expr"]
    assert f"wetix_leader{{{target}}}" in rules["WetixOperatorNoLeader"]["expr"]


def test_the_chart_renders_the_overlays_rules_at_its_defaults(overlay):
    assert "PrometheusRule" not in Rendered("default", helm_render({})).kinds()
    from_chart = chart_rule({})
    assert from_chart["spec"] == overlay.one("PrometheusRule")["spec"]
    assert from_chart["metadata"]["namespace"] == "wetix-operator"


THRESHOLDS = {
    "accessTokenExpiringDays": 3,
    "refreshTokenExpiringDays": 14,
    "expiringFor": "1h",
    "notReadyFor": "30m",
    "renewalFailureRatio": 0.25,
    "renewalFailureWindow": "20m",
    "renewalFailingFor": "45m",
    "operatorDownFor": "10m",
    "noLeaderFor": "2m",
}


def test_the_thresholds_are_values(tmp_path):
    rule = chart_rule({**THRESHOLDS, "job": "wetix", "labels": {"prometheus": "main"},
                       "additionalAlertLabels": {"team": "platform", "severity": "page"}})
    rules = rules_of(rule)
    assert rule["metadata"]["labels"]["prometheus"] == "main"
    assert rules["WetixAccessTokenExpiringSoon"]["expr"].rstrip().endswith(") < 3 * 86400")
    assert rules["WetixRefreshTokenExpiringSoon"]["expr"].rstrip().endswith(") < 14 * 86400")
    assert rules["WetixAccessTokenExpiringSoon"]["for"] == rules["WetixRefreshTokenExpiringSoon"]["for"] == "1h"
    assert rules["WetixCredentialNotReady"]["for"] == "30m"
    assert "for 30m" in rules["WetixCredentialNotReady"]["annotations"]["summary"]
    failing = rules["WetixTokenRenewalsFailing"]
    assert failing["expr"].count("[20m]") == 2 and failing["expr"].rstrip().endswith("> 0.25")
    assert failing["for"] == "45m"
    assert rules["WetixOperatorDown"]["for"] == "10m" and rules["WetixOperatorNoLeader"]["for"] == "2m"
    assert 'up{job="wetix", namespace="wetix-operator"}' in rules["WetixOperatorDown"]["expr"]
    assert 'wetix_leader{job="wetix", namespace="wetix-operator"}' in rules["WetixOperatorNoLeader"]["expr"]
    for name, r in rules.items():
        # Added labels reach every alert; the severity stays the rule's own.
        assert r["labels"]["team"] == "platform", name
        assert r["labels"]["severity"] in ("warning", "critical"), name
    # And what they make is still a rule file promtool accepts.
    checked = check_rules(rule["spec"]["groups"], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_job_follows_the_release_name():
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render({"prometheusRule": {"enabled": True}}, name="wx", namespace="tokens")
    docs = Rendered("wx", [d for path, text in manifests.items() if path.endswith("prometheusrule.yaml")
                           for d in yaml.safe_load_all(text) if d])
    rules = rules_of(docs.one("PrometheusRule"))
    service = "wx-wetix-operator-metrics"
    assert f'up{{job="{service}", namespace="tokens"}}' in rules["WetixOperatorDown"]["expr"]
    assert "wx-wetix-operator in tokens" in rules["WetixOperatorDown"]["annotations"]["description"]


@pytest.mark.parametrize("values", [
    {"renewalFailureRatio": 1.5},
    {"accessTokenExpiringDays": 0},
    {"expiringFor": "15 minutes"},
    {"renewalFailureWindow": ""},
    {"thresholdDays": 7},
])
def test_the_schema_refuses_thresholds_prometheus_would_not_take(values):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError, match="schema"):
        chart_rule(values)


def test_a_broken_expression_fails_promtool(tmp_path):
    # The check the two tests above rely on does fail on a rule Prometheus would refuse.
    broken = copy.deepcopy(yaml.safe_load(RULE_FILE.read_text())["spec"]["groups"])
    broken[0]["rules"][0]["expr"] = "wetix_credential_ready ==="
    checked = check_rules(broken, tmp_path)
    assert checked.returncode != 0
    assert '"WetixAccessTokenExpiringSoon": could not parse expression' in checked.stderr, checked.stderr


def alerts_tested() -> dict[str, int]:
    """Each alert, by the number of promtool cases that expect it to fire."""
    fired: dict[str, int] = {}
    for path in sorted((REPO / "tests" / "alerts").glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        assert suite["rule_files"] == ["wetix-operator.rules.json"], path
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired[check["alertname"]] = fired.get(check["alertname"], 0) + 1
    return fired


def test_every_alert_has_a_promtool_case_that_fires_it():
    fired = alerts_tested()
    assert sorted(fired) == sorted(ALERTS), fired


def test_every_alert_and_threshold_is_documented():
    text = DOCS.read_text()
    headings = re.findall(r"^### `(\w+)`", text, flags=re.M)
    assert headings == ALERTS
    values = yaml.safe_load((CHART / "values.yaml").read_text())["prometheusRule"]
    for key in THRESHOLDS:
        shown = values[key]
        assert re.search(rf"`{key}`[^\n]*`{re.escape(str(shown))}`", text), f"docs/alerts.md: {key} ({shown})"
