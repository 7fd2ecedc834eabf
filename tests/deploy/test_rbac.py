"""RBAC: every rendered Role and ClusterRole grants exactly the reviewed verbs, no more.

The tables below are the reviewed copy of what the operator calls on the API server.
Change them only together with the operator's calls, and say why in the commit.
"""

from __future__ import annotations

import pytest

from conftest import RELEASE_NAMESPACE

# (apiGroup, resource, resourceName or None) -> verbs. Granted where credentials live:
# cluster-wide by a ClusterRole, or per watched namespace by a Role.
CREDENTIAL_RULES = {
    ("wetix.my", "wetixcredentials", None): {"list", "watch"},
    ("wetix.my", "wetixcredentials/status", None): {"patch"},
    # get: referenced Secrets on demand; list/watch: metadata-only watch; patch: server-side
    # apply of the managed Secret; create: the claim of an absent managed Secret.
    ("", "secrets", None): {"get", "list", "watch", "create", "patch"},
    ("events.k8s.io", "events", None): {"create"},
    # get: the workload's opt-in annotation; patch: the restart, at the version read.
    ("apps", "deployments", None): {"get", "patch"},
    ("apps", "statefulsets", None): {"get", "patch"},
    ("apps", "daemonsets", None): {"get", "patch"},
}

# Leader election, a Role in the operator's own namespace only.
LEASE_RULES = {
    ("coordination.k8s.io", "leases", None): {"create"},
    ("coordination.k8s.io", "leases", "wetix-operator"): {"get", "update"},
}

CLUSTER_WIDE = ["deploy", "servicemonitor", "kind-e2e", "helm-default", "helm-servicemonitor", "helm-options"]
NAMESPACED = ["namespaced", "helm-namespaced"]
WATCHED = {"shop", "billing"}


def flatten(rules: list[dict]) -> dict[tuple, set[str]]:
    table: dict[tuple, set[str]] = {}
    for rule in rules:
        assert "nonResourceURLs" not in rule, rule
        names = rule.get("resourceNames") or [None]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for name in names:
                    table.setdefault((group, resource, name), set()).update(rule["verbs"])
    return table


def leader_election_expected(output: str) -> bool:
    return output != "helm-options"  # that values set turns leader election off


@pytest.mark.parametrize("output", CLUSTER_WIDE)
def test_cluster_wide_install_grants_exactly_the_reviewed_verbs(all_outputs, output):
    rendered = all_outputs[output]
    [cluster_role] = rendered.of_kind("ClusterRole")
    assert flatten(cluster_role["rules"]) == CREDENTIAL_RULES

    roles = rendered.of_kind("Role")
    if leader_election_expected(output):
        [role] = roles
        assert role["metadata"]["namespace"] == RELEASE_NAMESPACE
        assert flatten(role["rules"]) == LEASE_RULES
    else:
        assert roles == []


@pytest.mark.parametrize("output", NAMESPACED)
def test_namespaced_install_grants_per_namespace_and_nothing_cluster_wide(all_outputs, output):
    rendered = all_outputs[output]
    assert rendered.of_kind("ClusterRole") == []
    assert rendered.of_kind("ClusterRoleBinding") == []

    by_namespace = {r["metadata"]["namespace"]: r for r in rendered.of_kind("Role")}
    assert set(by_namespace) == WATCHED | {RELEASE_NAMESPACE}
    for namespace in WATCHED:
        assert flatten(by_namespace[namespace]["rules"]) == CREDENTIAL_RULES, namespace
    assert flatten(by_namespace[RELEASE_NAMESPACE]["rules"]) == LEASE_RULES


@pytest.mark.parametrize("output", CLUSTER_WIDE + NAMESPACED)
def test_no_rule_uses_a_wildcard(all_outputs, output):
    for role in all_outputs[output].of_kind("Role") + all_outputs[output].of_kind("ClusterRole"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], field, rule)
                assert not any("*" in value for value in rule.get(field, [])), (field, rule)


@pytest.mark.parametrize("output", CLUSTER_WIDE + NAMESPACED)
def test_every_binding_grants_a_rendered_role_to_the_operator_service_account(all_outputs, output):
    rendered = all_outputs[output]
    [account] = rendered.of_kind("ServiceAccount")
    bindings = rendered.of_kind("RoleBinding") + rendered.of_kind("ClusterRoleBinding")
    assert bindings
    for binding in bindings:
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": account["metadata"]["name"],
                "namespace": account["metadata"]["namespace"],
            }
        ]
        ref = binding["roleRef"]
        if ref["kind"] == "Role":
            namespace = binding["metadata"]["namespace"]
            assert any(
                r["metadata"]["name"] == ref["name"] and r["metadata"]["namespace"] == namespace
                for r in rendered.of_kind("Role")
            ), binding
        else:
            assert binding["kind"] == "ClusterRoleBinding"
            rendered.one("ClusterRole", ref["name"])
    # Every role is bound: a Role nobody holds is either dead weight or a forgotten binding.
    assert len(bindings) == len(rendered.of_kind("Role")) + len(rendered.of_kind("ClusterRole"))
