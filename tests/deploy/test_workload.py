"""The operator's workload in every install output: what runs, with which rights and limits."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, RELEASE_NAMESPACE, Rendered, container, kustomize

BASE = {
    "Namespace": 1,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 1,
    "Role": 1,
    "RoleBinding": 1,
    "ClusterRole": 1,
    "ClusterRoleBinding": 1,
    "Service": 1,
    "Deployment": 1,
    "PodDisruptionBudget": 1,
    "NetworkPolicy": 1,
}
NAMESPACED = {**BASE, "Role": 3, "RoleBinding": 3, "ClusterRole": 0, "ClusterRoleBinding": 0}
# Helm installs into an existing namespace (helm install --create-namespace), so no Namespace.
HELM = {**BASE, "Namespace": 0}

EXPECTED_KINDS = {
    "deploy": BASE,
    "namespaced": NAMESPACED,
    "servicemonitor": {**BASE, "ServiceMonitor": 1},
    "kind-e2e": BASE,
    "helm-default": HELM,
    "helm-namespaced": {**NAMESPACED, "Namespace": 0},
    "helm-servicemonitor": {**HELM, "ServiceMonitor": 1},
    "helm-options": {
        **HELM,
        "Role": 0,
        "RoleBinding": 0,
        "NetworkPolicy": 0,
        "PodDisruptionBudget": 0,
    },
}

ALL = list(EXPECTED_KINDS)


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of `--flag value` or `--flag=value` in a container's args."""
    for i, arg in enumerate(args):
        if arg == flag:
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None
PRODUCTION = ["deploy", "namespaced", "servicemonitor", "helm-default", "helm-namespaced", "helm-servicemonitor"]


@pytest.mark.parametrize("output", ALL)
def test_each_output_renders_exactly_the_expected_kinds(all_outputs, output):
    expected = {kind: n for kind, n in EXPECTED_KINDS[output].items() if n}
    assert all_outputs[output].kinds() == expected


@pytest.mark.parametrize("output", ALL)
def test_the_crd_in_each_output_is_the_generated_one(all_outputs, output):
    generated = yaml.safe_load((REPO / "crds" / "wetixcredentials.yaml").read_text())
    assert all_outputs[output].one("CustomResourceDefinition") == generated


@pytest.mark.parametrize("output", ALL)
def test_every_namespaced_object_lives_in_the_operator_namespace_or_a_watched_one(all_outputs, output):
    for doc in all_outputs[output].docs:
        if doc["kind"] in {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}:
            assert "namespace" not in doc["metadata"], doc["kind"]
            continue
        namespace = doc["metadata"]["namespace"]
        if doc["kind"] in {"Role", "RoleBinding"}:
            assert namespace in {RELEASE_NAMESPACE, "shop", "billing"}
        else:
            assert namespace == RELEASE_NAMESPACE, (doc["kind"], namespace)


@pytest.mark.parametrize("output", ALL)
def test_every_container_meets_the_restricted_pod_security_standard(all_outputs, output):
    pod = all_outputs[output].one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    assert "volumes" not in pod
    for c in pod["containers"]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False, c["name"]
        assert ctx["readOnlyRootFilesystem"] is True, c["name"]
        assert ctx["runAsNonRoot"] is True, c["name"]
        assert ctx["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        assert "privileged" not in ctx


@pytest.mark.parametrize("output", ALL)
def test_only_the_operator_pod_mounts_an_api_token(all_outputs, output):
    rendered = all_outputs[output]
    assert rendered.one("ServiceAccount")["automountServiceAccountToken"] is False
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == rendered.one("ServiceAccount")["metadata"]["name"]


@pytest.mark.parametrize("output", ALL)
def test_operator_container_serves_metrics_and_probes_on_8080(all_outputs, output):
    operator = container(all_outputs[output].one("Deployment"), "wetix-operator")
    assert operator["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert operator["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert operator["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"},
    }


@pytest.mark.parametrize("output", ALL)
def test_lease_identity_and_namespace_come_from_the_downward_api(all_outputs, output):
    operator = container(all_outputs[output].one("Deployment"), "wetix-operator")
    env = {e["name"]: e for e in operator["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["WETIX_LEASE_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


@pytest.mark.parametrize("output", PRODUCTION)
def test_two_replicas_elect_a_leader_log_json_and_spread_across_nodes(all_outputs, output):
    deployment = all_outputs[output].one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    args = container(deployment, "wetix-operator")["args"]
    assert args[0] == "run"
    assert "--leader-elect" in args
    assert flag_value(args, "--log-format") == "json"
    assert "priorityClassName" not in pod
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("output", [o for o in ALL if o != "helm-options"])
def test_disruption_budget_lets_one_replica_go_at_a_time(all_outputs, output):
    rendered = all_outputs[output]
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": rendered.one("Deployment")["spec"]["selector"]["matchLabels"]},
    }


@pytest.mark.parametrize("output", [o for o in ALL if o != "helm-options"])
def test_network_policy_admits_metrics_only_and_lets_out_dns_api_server_and_https(all_outputs, output):
    rendered = all_outputs[output]
    policy = rendered.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    allowed_out = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert allowed_out == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")}
    assert all(set(rule) == {"ports"} for rule in policy["egress"])


@pytest.mark.parametrize("output", ALL)
def test_metrics_service_selects_the_operator_pods_on_port_8080(all_outputs, output):
    rendered = all_outputs[output]
    service = rendered.one("Service")
    deployment = rendered.one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]


@pytest.mark.parametrize("output", ["servicemonitor", "helm-servicemonitor"])
def test_service_monitor_scrapes_the_metrics_port_of_the_service(all_outputs, output):
    rendered = all_outputs[output]
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= rendered.one("Service")["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}


@pytest.mark.parametrize("output", ["namespaced", "helm-namespaced"])
def test_namespaced_install_starts_the_operator_with_its_namespaces(all_outputs, output):
    args = container(all_outputs[output].one("Deployment"), "wetix-operator")["args"]
    assert "--namespaces=shop,billing" in args


def test_operator_namespace_enforces_the_restricted_pod_security_standard(kustomize_outputs):
    labels = kustomize_outputs["deploy"].one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_base_image_is_wetix_operator_latest(kustomize_outputs):
    operator = container(kustomize_outputs["deploy"].one("Deployment"), "wetix-operator")
    assert operator["image"] == "wetix-operator:latest"
    # :latest would default to Always and defeat `kind load` and air-gapped nodes.
    assert operator["imagePullPolicy"] == "IfNotPresent"


def test_an_overlay_can_pick_another_image_with_kustomize_images(tmp_path: Path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(REPO / "deploy", overlay)],
                "images": [
                    {"name": "wetix-operator", "newName": "registry.example/wetix-operator", "newTag": "0.1.0"}
                ],
            }
        )
    )
    deployment = Rendered("overlay", kustomize(overlay)).one("Deployment")
    assert container(deployment, "wetix-operator")["image"] == "registry.example/wetix-operator:0.1.0"


def test_kind_e2e_runs_the_fake_wetix_server_as_a_loopback_sidecar(kustomize_outputs):
    deployment = kustomize_outputs["kind-e2e"].one("Deployment")
    operator = container(deployment, "wetix-operator")
    fake = container(deployment, "fake-wetix")
    assert operator["image"] == "wetix-operator:e2e"
    assert fake["image"] == "fake-wetix:e2e"
    assert "--listen=127.0.0.1:8090" in fake["args"]
    env = {e["name"]: e.get("value") for e in operator["env"]}
    assert env["WETIX_ALLOWED_SERVER_URLS"] == "http://127.0.0.1:8090"
    # One stand-in per pod: a second replica would talk to a server that never issued its tokens.
    assert deployment["spec"]["replicas"] == 1


def test_kind_e2e_script_uses_the_client_the_fake_server_accepts(kustomize_outputs):
    fake = container(kustomize_outputs["kind-e2e"].one("Deployment"), "fake-wetix")
    client_id = next(a.split("=", 1)[1] for a in fake["args"] if a.startswith("--client="))
    secret = next(e["value"] for e in fake["env"] if e["name"] == "FAKE_WETIX_CLIENT_SECRET")
    script = (REPO / "hack" / "kind-e2e.sh").read_text()
    assert f"client_id: {client_id}\n" in script
    assert f"client_secret: {secret}\n" in script
    assert "url: http://127.0.0.1:8090\n" in script
    assert "kubectl apply -k deploy/overlays/kind-e2e" in script or "k apply -k deploy/overlays/kind-e2e" in script


def test_kind_e2e_script_checks_every_key_of_the_managed_secret():
    contract_keys = ["access_token", "refresh_token", "token_type", "authorization", "expires_at", "refresh_token_expires_at"]
    script = (REPO / "hack" / "kind-e2e.sh").read_text()
    assert f"for key in {' '.join(contract_keys)}; do" in script
    assert "--for=condition=Ready" in script and "--timeout=120s" in script


def test_kubectl_kustomize_builds_the_top_level_deploy_directory():
    done = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def declares_flag(rust_source: str, flag: str) -> bool:
    """Whether a clap derive in `rust_source` declares `--flag` (by field name or long = ...)."""
    name = flag.removeprefix("--").split("=", 1)[0]
    return f'long = "{name}"' in rust_source or re.search(rf"\b{name.replace('-', '_')}:", rust_source) is not None


@pytest.mark.parametrize("output", ALL)
def test_operator_flags_and_env_vars_exist_in_the_command_line(all_outputs, output):
    cli = (REPO / "src" / "cli.rs").read_text()
    operator = container(all_outputs[output].one("Deployment"), "wetix-operator")
    assert operator["args"][0] == "run"
    for arg in operator["args"][1:]:
        if arg.startswith("--"):
            assert declares_flag(cli, arg), arg
    for env in operator["env"]:
        assert f'env = "{env["name"]}"' in cli, env["name"]


def test_fake_wetix_sidecar_flags_exist_in_its_command_line(kustomize_outputs):
    main = (REPO / "dev" / "fake-wetix" / "src" / "main.rs").read_text()
    fake = container(kustomize_outputs["kind-e2e"].one("Deployment"), "fake-wetix")
    for arg in fake["args"]:
        assert declares_flag(main, arg), arg
    for env in fake["env"]:
        assert env["name"] in main, env["name"]
