"""`helm template` of the chart, by the real helm CLI, against the checked-in output under
tests/deploy/snapshots/: any change to what the chart renders shows up as a diff to review; and
`helm lint --strict` of each values set, the monitoring switches included.

After an intended change, regenerate them and review the diff:

    WETIX_UPDATE_SNAPSHOTS=1 tests/deploy/run.sh -k snapshot

The CRD (crds/, checked byte for byte elsewhere) is left out. The dashboard's JSON, checked here
to be deploy/grafana/wetix-operator.json, stands as one line in the snapshot, so that a change to
the dashboard does not need new snapshots.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CHART, HELM_VALUES, REPO, RELEASE_NAMESPACE
from promtool import helm

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("WETIX_UPDATE_SNAPSHOTS") == "1"
DASHBOARD = REPO / "deploy" / "grafana" / "wetix-operator.json"
DASHBOARD_LINE = "    <deploy/grafana/wetix-operator.json>"

VALUES = {
    **HELM_VALUES,
    "helm-monitoring": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "additionalAlertLabels": {"team": "platform"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Operators"}},
    },
}


def run_helm(command: str, values: dict, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    home = tmp_path / "helm-home"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data")}
    return subprocess.run([str(helm()), command, *args, str(CHART), "--namespace", RELEASE_NAMESPACE,
                           "-f", str(values_file)], capture_output=True, text=True, timeout=60, env=env)


def helm_template(values: dict, tmp_path: Path) -> str:
    done = run_helm("template", values, tmp_path, "wetix-operator")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


def without_dashboard(text: str) -> str:
    """The output with the dashboard's JSON as one placeholder line, once it is checked to be
    the file."""
    match = re.search(r"^  wetix-operator\.json: \|\n((?:    .*\n|\n)+)", text, flags=re.M)
    if not match:
        return text
    body = "".join(line[4:] + "\n" for line in match.group(1).splitlines())
    assert body == DASHBOARD.read_text(), "the ConfigMap's dashboard is not deploy/grafana/wetix-operator.json"
    return text[:match.start(1)] + DASHBOARD_LINE + "\n" + text[match.end(1):]


@pytest.mark.parametrize("name", sorted(VALUES))
def test_helm_template_matches_its_snapshot(name, tmp_path):
    rendered = without_dashboard(helm_template(VALUES[name], tmp_path))
    snapshot = SNAPSHOTS / f"{name}.yaml"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(rendered)
    assert snapshot.is_file(), f"no snapshot {snapshot.name}: WETIX_UPDATE_SNAPSHOTS=1 tests/deploy/run.sh -k snapshot"
    expected = snapshot.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), rendered.splitlines(True),
                                        f"snapshots/{name}.yaml", "helm template"))
    assert rendered == expected, (
        f"helm template differs from its snapshot (if intended: WETIX_UPDATE_SNAPSHOTS=1 tests/deploy/run.sh "
        f"-k snapshot, and review the diff):\n{diff}")


def test_every_snapshot_belongs_to_a_values_set():
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.yaml")) == sorted(VALUES)


def test_the_monitoring_snapshot_has_the_monitoring_objects():
    docs = [d for d in yaml.safe_load_all((SNAPSHOTS / "helm-monitoring.yaml").read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    assert config_map["data"]["wetix-operator.json"] == DASHBOARD_LINE.strip() + "\n"


@pytest.mark.parametrize("name", sorted(VALUES))
def test_helm_lint_strict_passes_with_each_values_set(name, tmp_path):
    done = run_helm("lint", VALUES[name], tmp_path, "--strict")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout
    assert not re.search(r"\[(WARNING|ERROR)\]", done.stdout), done.stdout
