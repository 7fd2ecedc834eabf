"""promtool (hack/promtool.sh) and helm (hack/control-plane.sh) for the tests that run them.

Without the binaries these tests are skipped, except with CI=true, where that is a failure, as
for the real control plane.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO


def built_binary(script: str, name: str, build_hint: str) -> Path:
    done = subprocess.run([str(REPO / "hack" / script), "bin"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        reason = f"{name} is not built (hack/{script} bin: {done.stderr.strip()}); build it with: {build_hint}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return Path(done.stdout.strip()) / name


def promtool() -> Path:
    return built_binary("promtool.sh", "promtool", "hack/promtool.sh build (needs Go)")


def helm() -> Path:
    return built_binary("control-plane.sh", "helm", "hack/control-plane.sh build (needs Go)")


def check_rules(groups: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    """`promtool check rules` of a rule file made of `groups`, lints fatal."""
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return subprocess.run([str(promtool()), "check", "rules", "--lint=all", "--lint-fatal", str(path)],
                          capture_output=True, text=True, timeout=60)
