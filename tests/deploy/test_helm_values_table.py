"""The chart README's values table is the one tests/deploy/values_table.py makes from values.yaml
and values.schema.json, and it says what each value does."""

from __future__ import annotations

import json

import yaml

import values_table
from conftest import CHART

REGENERATE = ".venv-deploy/bin/python tests/deploy/values_table.py --write"


def test_the_readme_table_is_current():
    readme = values_table.README.read_text()
    assert values_table.table_in(readme) == values_table.current(), (
        f"deploy/helm/wetix-operator/README.md's values table is stale; regenerate it with: {REGENERATE}")


def test_every_value_has_a_row():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    paths = [row.path for row in values_table.rows((CHART / "values.yaml").read_text(),
                                                   json.loads((CHART / "values.schema.json").read_text()))]
    assert len(paths) == len(set(paths))
    for key in values:
        assert any(p == key or p.startswith(f"{key}.") for p in paths), key
    assert "prometheusRule.renewalFailureWindow" in paths and "image.tag" in paths


def test_the_monitoring_values_say_what_they_do():
    rows = values_table.rows((CHART / "values.yaml").read_text(),
                             json.loads((CHART / "values.schema.json").read_text()))
    for row in rows:
        if row.path.startswith(("prometheusRule.", "grafanaDashboard.")):
            assert row.description, f"{row.path} has no comment in values.yaml"


SAMPLE = """\
# The file's header, not a value's.

# A map of settings.
group:
  # First.
  one: 1
  two: [a, b]
# Passed to Kubernetes as it is.
resources:
  limits: {memory: 1Mi}
plain: x
"""


def test_comments_become_descriptions_and_settings_rows():
    rows = values_table.rows(SAMPLE, {"properties": {"group": {"properties": {}},
                                                     "plain": {"description": "From the schema."}}})
    assert [(r.path, r.default, r.description) for r in rows] == [
        ("group.one", 1, "A map of settings. First."),
        ("group.two", ["a", "b"], ""),
        ("resources", {"limits": {"memory": "1Mi"}}, "Passed to Kubernetes as it is."),
        ("plain", "x", "From the schema."),
    ]
    table = values_table.markdown(rows)
    assert '| `group.two` | `["a", "b"]` |  |' in table.splitlines()
