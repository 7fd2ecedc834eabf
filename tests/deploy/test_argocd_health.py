"""docs/argocd/health.lua: Argo CD's view of a WetixCredential, run in a real Lua."""

from __future__ import annotations

import pytest

from conftest import REPO

SCRIPT = (REPO / "docs" / "argocd" / "health.lua").read_text()


def health(resource: dict) -> dict:
    from lupa import LuaRuntime

    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(resource, recursive=True)
    result = lua.execute(SCRIPT)
    return {"status": result["status"], "message": result["message"]}


def credential(generation=3, spec=None, status=None) -> dict:
    resource = {
        "apiVersion": "wetix.my/v1alpha1",
        "kind": "WetixCredential",
        "metadata": {"name": "ticketing", "namespace": "shop", "generation": generation},
        "spec": {"server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "wetix-client"}, **(spec or {})},
    }
    if status is not None:
        resource["status"] = status
    return resource


def ready(status, reason, message="", observed=3) -> dict:
    return {
        "observedGeneration": observed,
        "conditions": [
            {"type": "Ready", "status": status, "reason": reason, "message": message,
             "lastTransitionTime": "2026-11-25T10:00:00Z", "observedGeneration": observed}
        ],
    }


def test_ready_true_is_healthy():
    result = health(credential(status=ready("True", "TokenRefreshed", "access token valid until 2027-01-24T10:00:00Z")))
    assert result == {"status": "Healthy", "message": "TokenRefreshed: access token valid until 2027-01-24T10:00:00Z"}


@pytest.mark.parametrize("reason", ["InvalidClient", "ClientSecretNotFound", "ServerNotAllowed", "SecretConflict"])
def test_ready_false_is_degraded_and_names_the_reason(reason):
    result = health(credential(status=ready("False", reason, "the token call was refused")))
    assert result["status"] == "Degraded"
    assert result["message"].startswith(reason)


def test_no_status_yet_is_progressing():
    assert health(credential())["status"] == "Progressing"


def test_status_of_an_older_generation_is_progressing():
    result = health(credential(generation=4, status=ready("True", "TokenRefreshed", observed=3)))
    assert result["status"] == "Progressing"
    assert "generation 4" in result["message"]


def test_ready_condition_of_an_older_generation_is_progressing():
    status = ready("True", "TokenRefreshed", observed=3)
    status["observedGeneration"] = 4
    assert health(credential(generation=4, status=status))["status"] == "Progressing"


def test_ready_unknown_is_progressing():
    assert health(credential(status=ready("Unknown", "TokenRequested")))["status"] == "Progressing"


def test_status_without_ready_condition_is_progressing():
    assert health(credential(status={"observedGeneration": 3, "conditions": []}))["status"] == "Progressing"


def test_suspended_spec_is_suspended_even_before_the_operator_reports():
    assert health(credential(spec={"suspend": True}))["status"] == "Suspended"


def test_ready_condition_with_reason_suspended_is_suspended():
    assert health(credential(status=ready("False", "Suspended", "spec.suspend is true")))["status"] == "Suspended"
