"""The install and GitOps guides point at files that exist and name the contract's keys."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

GUIDES = ["README.md", "docs/gitops.md"]
CONTRACT_KEYS = ["access_token", "refresh_token", "token_type", "authorization", "expires_at", "refresh_token_expires_at"]


@pytest.mark.parametrize("guide", GUIDES)
def test_every_repository_path_a_guide_names_exists(guide):
    text = (REPO / guide).read_text()
    paths = set(re.findall(r"\b((?:deploy|hack|crds|tests|docs)/[\w./-]*\w)", text))
    assert paths
    for path in sorted(paths):
        assert (REPO / path).exists() or (REPO / "docs" / path).exists(), f"{guide} names {path}"


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_names_every_key_of_the_managed_secret(guide):
    text = (REPO / guide).read_text()
    for key in CONTRACT_KEYS:
        assert f"`{key}`" in text, key


def test_install_guide_follows_the_e2e_script_steps():
    guide = (REPO / "README.md").read_text()
    script = (REPO / "hack" / "kind-e2e.sh").read_text()
    for step in ("--for=condition=Established crd/wetixcredentials.wetix.my",
                 "rollout status deployment/wetix-operator",
                 "--for=condition=Ready"):
        assert step in guide and step in script, step
