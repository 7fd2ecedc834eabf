"""The operator image: hadolint-clean, built on bookworm, run on distroless as 65532."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

DOCKERFILE = REPO / "Dockerfile"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed; run tests/deploy/run.sh"
    return found


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def dockerfiles() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "Dockerfile", "*/Dockerfile"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    return sorted(set(listed))


def test_the_e2e_images_have_dockerfiles():
    assert {"Dockerfile", "dev/fake-wetix/Dockerfile"} <= set(dockerfiles())


@pytest.mark.parametrize("dockerfile", dockerfiles())
def test_dockerfile_passes_hadolint(dockerfile):
    done = subprocess.run([tool("hadolint"), dockerfile], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_builds_on_bookworm_and_runs_on_distroless_nonroot():
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert re.match(r"rust:1(\.\d+){0,2}-bookworm AS ", froms[0]), froms[0]
    assert froms[-1] == "gcr.io/distroless/cc-debian12:nonroot"
    [build] = [args for keyword, args in instructions() if keyword == "RUN"]
    assert "cargo build --release --locked -p wetix-operator" in build


def test_image_runs_the_operator_as_65532_with_run_as_default_command():
    final = instructions()[[k for k, _ in instructions()].index("FROM", 1):]
    keywords = dict((k, a) for k, a in final if k in {"USER", "ENTRYPOINT", "CMD"})
    assert keywords["USER"] == "65532:65532"
    assert json.loads(keywords["ENTRYPOINT"]) == ["/wetix-operator"]
    assert json.loads(keywords["CMD"]) == ["run"]


def test_image_carries_the_oci_labels():
    labels = " ".join(args for keyword, args in instructions() if keyword == "LABEL")
    for key in ("title", "description", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_build_context_leaves_out_build_output_and_history():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {"target/", ".git/", ".sandbox/"} <= ignored
