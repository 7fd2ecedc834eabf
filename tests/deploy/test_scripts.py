"""Shell scripts and the end-to-end workflow: lint-clean and wired to each other."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from conftest import REPO
from test_image import tool


def shell_scripts() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.sh", ".ci/*"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    scripts = []
    for path in sorted(set(listed)):
        full = REPO / path
        if full.is_file() and (path.endswith(".sh") or full.read_text(errors="replace").startswith("#!/usr/bin/env bash")):
            scripts.append(path)
    return scripts


def test_the_repository_has_the_scripts_this_suite_knows_about():
    assert {"hack/kind-e2e.sh", "tests/deploy/run.sh"} <= set(shell_scripts())


@pytest.mark.parametrize("script", shell_scripts())
def test_shell_script_passes_shellcheck(script):
    done = subprocess.run([tool("shellcheck"), "--external-sources", script], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", ["hack/kind-e2e.sh", "tests/deploy/run.sh"])
def test_entry_scripts_are_executable(script):
    assert (REPO / script).stat().st_mode & 0o111


def test_workflow_runs_the_same_e2e_script_anyone_can_run_by_hand():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "kind-e2e.yaml").read_text())
    steps = workflow["jobs"]["kind-e2e"]["steps"]
    assert [s["run"] for s in steps if "run" in s] == ["hack/kind-e2e.sh"]
    assert workflow["jobs"]["kind-e2e"]["timeout-minutes"] <= 60
    assert workflow["permissions"] == {"contents": "read"}


def test_workflow_pins_every_action_to_a_release_tag():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "kind-e2e.yaml").read_text())
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", action), action
