"""The Grafana dashboard (deploy/grafana/wetix-operator.json): every metric a panel queries is one
the operator documents and really serves on /metrics, every query parses (promtool), and the
chart and deploy/grafana ship the same file in a ConfigMap Grafana's sidecar picks up."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
import yaml

from conftest import CHART, REPO, Rendered, helm_render, kustomize
from promtool import check_rules
from test_real_install import cargo_binary

DASHBOARD = REPO / "deploy" / "grafana" / "wetix-operator.json"
CHART_COPY = CHART / "dashboards" / "wetix-operator.json"
SYNC = "cp deploy/grafana/wetix-operator.json deploy/helm/wetix-operator/dashboards/wetix-operator.json"
# Series Prometheus makes itself, not the operator.
PROMETHEUS_OWN = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# What Grafana replaces before a query reaches Prometheus, as Prometheus would then see it.
GRAFANA_VARIABLES = {"$__rate_interval": "2m", "$__interval": "1m", "$__range": "1d", "$job": ".*"}

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan", "Inf", "NaN", "atan2"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, label_replace arguments
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])[A-Za-z_:][\w:]*", text):
        if text[match.end():].lstrip().startswith("(") or match.group() in KEYWORDS:
            continue  # a function or an aggregation
        names.add(match.group())
    return names


@pytest.mark.parametrize("expr, names", [
    ('sum by (grant) (rate(wetix_token_requests_total{job=~"$job", outcome="success"}[$__rate_interval])) * 3600',
     {"wetix_token_requests_total"}),
    ('histogram_quantile(0.9, sum by (le, grant) (rate(wetix_token_request_duration_seconds_bucket[5m])))',
     {"wetix_token_request_duration_seconds_bucket"}),
    ('bottomk(20, label_replace(a_metric - time(), "namespace", "$1", "exported_namespace", "(.+)"))', {"a_metric"}),
    ("count(up == 1) or vector(0)", {"up"}),
    ("sum(x) without (pod) / on (job) group_left (name) y offset 5m > bool 1e3", {"x", "y"}),
    ("rate(x[5m:1m]) unless z", {"x", "z"}),
])
def test_metric_names_finds_what_a_query_selects(expr, names):
    assert metric_names(expr) == names


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict) -> list[dict]:
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(board: dict) -> dict[str, str]:
    """Every PromQL expression on the dashboard, by where it is."""
    found = {}
    for panel in panels(board):
        for target in panel.get("targets", []):
            found[f"panel {panel['id']} ({panel['title']}) {target['refId']}"] = target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found[f"variable {variable['name']}"] = re.sub(r"^label_values\((.*), \w+\)$", r"\1",
                                                           variable["query"]["query"])
    return found


def used_names() -> set[str]:
    return set().union(*(metric_names(expr) for expr in queries(dashboard()).values()))


def documented_names() -> set[str]:
    """The metric names docs/reference.md and README.md's "Metrics" section give."""
    reference = (REPO / "docs" / "reference.md").read_text()
    readme = (REPO / "README.md").read_text()
    sections = [reference.split("Metric names (Prometheus):", 1)[1].split("\n\n", 1)[0],
                readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]]
    return {name for text in sections for name in re.findall(r"`(wetix_\w+)`", text)}


def test_the_dashboard_shows_what_the_issue_asks_for():
    used = used_names()
    for name in ("wetix_credential_ready",
                 "wetix_credential_access_token_expiration_timestamp_seconds",
                 "wetix_credential_refresh_token_expiration_timestamp_seconds",
                 "wetix_token_requests_total",
                 "wetix_token_request_duration_seconds_bucket",
                 "wetix_reconciliations_total"):
        assert name in used, name
    exprs = queries(dashboard()).values()
    assert any("sum by (outcome)" in e and 'outcome!="success"' in e for e in exprs), "failures by outcome"
    assert any(e.startswith("bottomk(") for e in exprs), "the soonest expiries"


def test_every_metric_a_panel_queries_is_documented():
    documented = documented_names()
    assert "wetix_credential_ready" in documented  # the sections were found
    missing = sorted(name for name in used_names() - PROMETHEUS_OWN
                     if name not in documented and not
                     (name.endswith(HISTOGRAM_SUFFIXES) and name.rsplit("_", 1)[0] in documented))
    assert missing == [], f"the dashboard queries metrics docs/reference.md and README.md do not name: {missing}"


def test_every_query_parses(tmp_path):
    rules = []
    for i, expr in enumerate(queries(dashboard()).values()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr.replace('"$1"', ""), f"a Grafana variable the test does not know: {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    checked = check_rules([{"name": "dashboard", "rules": rules}], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --------------------------------------------------------------------------------------------
# What the operator really serves: a scrape of the sandbox's operator (the real operator against
# the in-memory Kubernetes API and the fake WeTix server) once its credential is Ready.


def sample_names(exposition: str) -> set[str]:
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in exposition.splitlines()
            if line and not line.startswith("#")}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> str:
    # Built by the Rust tests before this suite runs (as test_real_install.py's operator is), or
    # here if missing.
    sandbox_bin = cargo_binary("wetix-sandbox", ["-p", "wetix-sandbox"])
    work = tmp_path_factory.mktemp("sandbox")
    log = work / "sandbox.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WETIX_", "KUBECONFIG"))}
    with open(log, "wb") as out:
        sandbox = subprocess.Popen([str(sandbox_bin), "--forever",
                                    "--dir", str(work / "dir")], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        url, text = None, ""
        while time.monotonic() < deadline:
            assert sandbox.poll() is None, f"the sandbox exited:\n{log.read_text(errors='replace')[-3000:]}"
            if url is None:
                found = re.search(r"operator\s+(http://127\.0\.0\.1:\d+/metrics)", log.read_text(errors="replace"))
                url = found and found.group(1)
            if url:
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        text = answer.read().decode()
                except OSError:
                    text = ""
                served = sample_names(text)
                if {"wetix_credential_ready", "wetix_token_requests_total", "wetix_reconciliations_total"} <= served:
                    return text
            time.sleep(0.2)
        raise AssertionError(f"no complete /metrics within 90 s:\n{text}\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        if sandbox.poll() is None:
            os.killpg(sandbox.pid, signal.SIGINT)
            try:
                sandbox.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(sandbox.pid, signal.SIGKILL)
                sandbox.wait(timeout=10)


def test_every_metric_a_panel_queries_is_served_on_metrics(scraped):
    served = sample_names(scraped)
    missing = sorted(used_names() - PROMETHEUS_OWN - served)
    assert missing == [], f"the dashboard queries metrics the operator does not serve: {missing}\n{scraped}"


def test_every_metric_an_alert_uses_is_served_on_metrics(scraped):
    rule = yaml.safe_load((REPO / "deploy" / "overlays" / "alerts" / "prometheusrule.yaml").read_text())
    used = set().union(*(metric_names(r["expr"]) for g in rule["spec"]["groups"] for r in g["rules"]))
    assert "wetix_leader" in used
    assert sorted(used - PROMETHEUS_OWN - sample_names(scraped)) == []


# --------------------------------------------------------------------------------------------
# The dashboard as Grafana gets it


def test_panels_do_not_overlap_and_use_the_chosen_data_source():
    board = dashboard()
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "job"]
    cells: dict[tuple[int, int], int] = {}
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"] and panel.get("description"), panel["title"]


def test_the_chart_copy_is_the_dashboard_byte_for_byte():
    assert CHART_COPY.read_bytes() == DASHBOARD.read_bytes(), f"the chart's dashboard differs; sync it with: {SYNC}"


def test_the_chart_ships_the_dashboard_for_grafanas_sidecar():
    assert "ConfigMap" not in Rendered("default", helm_render({})).kinds()
    rendered = Rendered("dashboard", helm_render({"grafanaDashboard": {
        "enabled": True, "annotations": {"grafana_folder": "Operators"}}}))
    config_map = rendered.one("ConfigMap")
    assert config_map["metadata"]["name"] == "wetix-operator-dashboard"
    assert config_map["metadata"]["namespace"] == "wetix-operator"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    assert config_map["data"] == {"wetix-operator.json": DASHBOARD.read_text()}
    elsewhere = Rendered("elsewhere", helm_render({"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}}))
    assert elsewhere.one("ConfigMap")["metadata"]["namespace"] == "monitoring"


def test_deploy_grafana_ships_the_same_dashboard():
    config_map = Rendered("grafana", kustomize(REPO / "deploy" / "grafana")).one("ConfigMap")
    assert config_map["metadata"]["name"] == "wetix-operator-dashboard"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"] == {"wetix-operator.json": DASHBOARD.read_text()}
