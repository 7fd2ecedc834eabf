"""The install outputs on a real Kubernetes API server (hack/control-plane.sh).

What a cluster admin would see: every kustomize output and the Helm chart accepted by the API
server's validation, the CRD's schema and Pod Security `restricted` admission, without a
warning; the CRD's own validation, defaults and printer columns; Helm install, upgrade and
uninstall through the helm CLI; and a WetixCredential going Ready with the operator running as
the ServiceAccount `deploy/` creates, with the container args of the rendered Deployment.

The control plane is the one in $WETIX_TEST_CONTROL_PLANE (a directory with `kubeconfig`,
shared with other suites: they use namespaces named after their tests and the `wetix-operator`
namespace with deploy/ applied by server-side apply, field manager `kubectl`), else one of our
own for the session. Without the binaries (`hack/control-plane.sh build`) these tests are
skipped, except with CI=true, where that is a failure. WETIX_TEST_CLUSTER=emulator skips them.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from conftest import CHART, KUSTOMIZE_OUTPUTS, REPO, parse_all

SCRIPT = REPO / "hack" / "control-plane.sh"
CRD_NAME = "wetixcredentials.wetix.my"
OPERATOR_NAMESPACE = "wetix-operator"
OPERATOR_SERVICE_ACCOUNT = "wetix-operator"
SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
# The README's keys of the managed Secret ("Install in a cluster", step 3).
TOKEN_SECRET_KEYS = {
    "access_token", "refresh_token", "token_type", "authorization", "expires_at", "refresh_token_expires_at",
}
PRINTER_COLUMNS = ["NAME", "READY", "REASON", "ACCESS EXPIRES", "NEXT REFRESH", "AGE"]


# --------------------------------------------------------------------------------------------
# The control plane and its own kubectl and helm


def warnings_in(stderr: str) -> list[str]:
    """What the API server warned about: kubectl prints each warning as `Warning: ...`."""
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class Plane:
    dir: Path
    bin: Path
    shared: bool
    helm_home: Path
    created_namespaces: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60,
                check: bool = True, kubeconfig: Path | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stderr}"
        return done

    def helm(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.helm_home),
            "HELM_CACHE_HOME": str(self.helm_home / "cache"),
            "HELM_CONFIG_HOME": str(self.helm_home / "config"),
            "HELM_DATA_HOME": str(self.helm_home / "data"),
            "KUBECONFIG": str(self.kubeconfig),
        }
        done = subprocess.run([str(self.bin / "helm"), *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
        if check:
            assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def exists(self, *args: str) -> bool:
        done = self.kubectl("get", *args, "--ignore-not-found", "-o", "name", check=False)
        assert done.returncode == 0, done.stderr
        return bool(done.stdout.strip())

    def apply(self, text: str, *extra: str) -> subprocess.CompletedProcess:
        return self.kubectl("apply", "--server-side", "--force-conflicts", *extra, "-f", "-",
                            input=text, check=False)

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        done = self.kubectl("apply", "--server-side", "--field-manager", "wetix-deploy-tests",
                            "-f", "-", input=json.dumps(ns))
        assert not warnings_in(done.stderr), done.stderr
        self.created_namespaces.append(name)
        return name

    def server_version(self) -> str:
        return json.loads(self.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]

    def kustomize(self, path: Path) -> str:
        return self.kubectl("kustomize", str(path)).stdout


def _binaries() -> Path:
    if os.environ.get("WETIX_TEST_CLUSTER") == "emulator":
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true runs the real install tests; WETIX_TEST_CLUSTER=emulator is refused", pytrace=False)
        pytest.skip("WETIX_TEST_CLUSTER=emulator: no real API server")
    done = subprocess.run([str(SCRIPT), "bin"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        reason = ("the real control plane is not built (hack/control-plane.sh bin: "
                  f"{done.stderr.strip()}); build it with: hack/control-plane.sh build (needs Go)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return Path(done.stdout.strip())


@pytest.fixture(scope="session")
def plane(tmp_path_factory):
    bin_dir = _binaries()
    helm_home = tmp_path_factory.mktemp("helm-home")
    shared_dir = os.environ.get("WETIX_TEST_CONTROL_PLANE")
    if shared_dir:
        the_plane = Plane(Path(shared_dir), bin_dir, shared=True, helm_home=helm_home)
        assert the_plane.kubeconfig.is_file(), f"WETIX_TEST_CONTROL_PLANE={shared_dir} has no kubeconfig"
        yield the_plane
        for ns in the_plane.created_namespaces:
            the_plane.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false", check=False)
        return
    own = Path(tempfile.mkdtemp(prefix="wetix-deploy-control-plane-"))
    env = {**os.environ, "WETIX_CONTROL_PLANE_OWNER_PID": str(os.getpid())}
    try:
        up = subprocess.run([str(SCRIPT), "up", str(own)], capture_output=True, text=True, timeout=180, env=env)
        assert up.returncode == 0 and "ready" in up.stdout, f"hack/control-plane.sh up failed:\n{up.stderr}"
        yield Plane(own, bin_dir, shared=False, helm_home=helm_home)
    finally:
        subprocess.run([str(SCRIPT), "down", str(own)], capture_output=True, timeout=60)
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session")
def rendered(plane) -> dict[str, str]:
    """`kubectl kustomize` of each output, by the control plane's own kubectl."""
    return {name: plane.kustomize(path) for name, path in KUSTOMIZE_OUTPUTS.items()}


@pytest.fixture(scope="session")
def installed(plane, rendered) -> subprocess.CompletedProcess:
    """deploy/ applied for real, as `kubectl apply --server-side` (field manager kubectl) does."""
    done = plane.apply(rendered["deploy"])
    assert done.returncode == 0, f"deploy/ was refused:\n{done.stderr}"
    plane.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s", timeout=40)
    return done


@pytest.fixture
def namespace(plane, request) -> str:
    """A namespace of the test's own, deleted afterwards."""
    short = re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_").lower())[:40].strip("-")
    name = plane.create_namespace(unique(f"wxd-{short}"))
    yield name
    plane.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false", check=False)


def docs_of(text: str) -> list[dict]:
    return parse_all(text)


def the(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def applied_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip()]


def ref(doc: dict) -> str:
    """How kubectl names an object in its output: `deployment.apps/wetix-operator`."""
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    kind = doc["kind"].lower()
    return f"{kind}.{group}/{doc['metadata']['name']}" if group else f"{kind}/{doc['metadata']['name']}"


def pod_from(deployment: dict, namespace: str, name: str) -> dict:
    """The Pod the Deployment's ReplicaSet would create (there is no controller to create it)."""
    template = copy.deepcopy(deployment["spec"]["template"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": template["metadata"].get("labels", {})},
        "spec": template["spec"],
    }


# A minimal Prometheus Operator ServiceMonitor CRD: the fields a ServiceMonitor of this project
# uses, with the upstream types and Duration pattern, and no unknown field kept, so that the
# object is really validated (the full upstream CRD is some 1,000 lines).
PROM_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SERVICE_MONITOR_CRD_DOC = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": SERVICE_MONITOR_CRD},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                  "singular": "servicemonitor", "shortNames": ["smon"]},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {
                        "type": "object",
                        "required": ["selector"],
                        "properties": {
                            "jobLabel": {"type": "string"},
                            "selector": {
                                "type": "object",
                                "x-kubernetes-map-type": "atomic",
                                "properties": {
                                    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "matchExpressions": {"type": "array", "items": {
                                        "type": "object", "required": ["key", "operator"],
                                        "properties": {"key": {"type": "string"}, "operator": {"type": "string"},
                                                       "values": {"type": "array", "items": {"type": "string"}}}}},
                                },
                            },
                            "namespaceSelector": {"type": "object", "properties": {
                                "any": {"type": "boolean"},
                                "matchNames": {"type": "array", "items": {"type": "string"}}}},
                            "endpoints": {"type": "array", "items": {
                                "type": "object",
                                "properties": {
                                    "port": {"type": "string"},
                                    "targetPort": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                                   "x-kubernetes-int-or-string": True},
                                    "path": {"type": "string"},
                                    "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
                                    "interval": {"type": "string", "pattern": PROM_DURATION},
                                    "scrapeTimeout": {"type": "string", "pattern": PROM_DURATION},
                                    "honorLabels": {"type": "boolean"},
                                },
                            }},
                        },
                    },
                },
            }},
        }],
    },
}


@pytest.fixture(scope="session")
def service_monitor_crd(plane):
    """The ServiceMonitor CRD: the cluster's own if it has one, else the minimal one above."""
    if plane.exists("crd", SERVICE_MONITOR_CRD):
        yield
        return
    plane.kubectl("apply", "--server-side", "--field-manager", "wetix-deploy-tests", "-f", "-",
                  input=json.dumps(SERVICE_MONITOR_CRD_DOC))
    plane.kubectl("wait", "--for=condition=Established", f"crd/{SERVICE_MONITOR_CRD}", "--timeout=30s", timeout=40)
    yield
    if plane.shared:
        plane.kubectl("delete", "crd", SERVICE_MONITOR_CRD, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="session")
def example_namespaces(plane):
    """`shop` and `billing`, which deploy/overlays/namespaced needs (README: create them first)."""
    for name in ("shop", "billing"):
        if not plane.exists("namespace", name):
            plane.create_namespace(name)
    return ("shop", "billing")


# --------------------------------------------------------------------------------------------
# 1. Every kustomize output, through server-side apply


def test_deploy_applies_for_real_without_a_warning(plane, rendered, installed):
    docs = docs_of(rendered["deploy"])
    assert warnings_in(installed.stderr) == [], installed.stderr
    lines = applied_lines(installed.stdout)
    assert sorted(lines) == sorted(f"{ref(d)} serverside-applied" for d in docs), installed.stdout
    # What the server now holds is what was rendered.
    live = plane.get("deployment", "wetix-operator", "-n", OPERATOR_NAMESPACE)
    rendered_container = the(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert live["spec"]["template"]["spec"]["containers"][0]["args"] == rendered_container["args"]
    # The same Deployment created anew (the apply above may be an update on a shared server):
    # Pod Security `warn: restricted` has nothing to say about it either.
    fresh = copy.deepcopy(the(docs, "Deployment"))
    fresh["metadata"]["name"] = unique("wetix-operator")
    created = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(fresh), check=False)
    assert created.returncode == 0, created.stderr
    assert warnings_in(created.stderr) == [], created.stderr
    crd = plane.get("crd", CRD_NAME)
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert established.get("Established") == "True" and established.get("NamesAccepted") == "True"


def test_the_operator_namespace_enforces_pod_security_restricted(plane, rendered, installed):
    labels = plane.get("namespace", OPERATOR_NAMESPACE)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", labels
    assert labels.get("pod-security.kubernetes.io/warn") == "restricted", labels

    # The Deployment's pod passes restricted enforcement, without a warning...
    deployment = the(docs_of(rendered["deploy"]), "Deployment")
    pod = pod_from(deployment, OPERATOR_NAMESPACE, unique("wetix-operator-pod"))
    admitted = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert admitted.returncode == 0, f"the operator's pod was refused:\n{admitted.stderr}"
    assert warnings_in(admitted.stderr) == [], admitted.stderr

    # ...while a pod without the security context is refused there: the label is enforced.
    plain = copy.deepcopy(pod)
    plain["metadata"]["name"] = unique("plain-pod")
    plain["spec"].pop("securityContext", None)
    for c in plain["spec"]["containers"]:
        c.pop("securityContext", None)
    refused = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(plain), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr, refused.stderr

    # And kubectl does print the server's warnings for a workload (so "no warning" means none).
    deployment_plain = copy.deepcopy(deployment)
    deployment_plain["metadata"]["name"] = unique("plain-deployment")
    deployment_plain["spec"]["template"]["spec"] = plain["spec"]
    warned = plane.apply(json.dumps(deployment_plain), "--dry-run=server")
    assert warned.returncode == 0, warned.stderr
    assert any('would violate PodSecurity "restricted:latest"' in w for w in warnings_in(warned.stderr)), warned.stderr


def test_the_readme_overlay_pins_the_image_and_is_accepted(plane, installed, tmp_path):
    # README step 2a: an overlay of one's own with deploy/ as its resource and an image pinned.
    mine = tmp_path / "my-wetix"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(REPO / "deploy", mine)],
        "images": [{"name": "wetix-operator", "newName": "registry.example/wetix-operator", "newTag": "0.1.0"}],
    }))
    text = plane.kustomize(mine)
    deployment = the(docs_of(text), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/wetix-operator:0.1.0"
    done = plane.apply(text, "--dry-run=server")
    assert done.returncode == 0, done.stderr
    assert warnings_in(done.stderr) == [], done.stderr


@pytest.mark.parametrize("output", ["namespaced", "servicemonitor", "kind-e2e"])
def test_each_overlay_is_accepted_without_a_warning(plane, rendered, installed, output,
                                                    example_namespaces, service_monitor_crd):
    # A dry run: a real apply would replace the Deployment deploy/ installed (one name, one
    # namespace). The server still runs its validation, the schemas and admission.
    docs = docs_of(rendered[output])
    done = plane.apply(rendered[output], "--dry-run=server")
    assert done.returncode == 0, f"{output} was refused:\n{done.stderr}"
    assert warnings_in(done.stderr) == [], done.stderr
    assert sorted(applied_lines(done.stdout)) == sorted(f"{ref(d)} serverside-applied (server dry run)" for d in docs)
    if output == "kind-e2e":
        # Two containers in the pod now: both must pass restricted enforcement.
        pod = pod_from(the(docs, "Deployment"), OPERATOR_NAMESPACE, unique("kind-e2e-pod"))
        assert len(pod["spec"]["containers"]) == 2
        admitted = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert admitted.returncode == 0 and warnings_in(admitted.stderr) == [], admitted.stderr


def test_the_service_monitor_crd_really_validates_the_service_monitor(plane, rendered, installed, service_monitor_crd):
    monitor = the(docs_of(rendered["servicemonitor"]), "ServiceMonitor")
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["interval"] = "30 seconds"
    done = plane.apply(json.dumps(broken), "--dry-run=server")
    assert done.returncode != 0
    assert "spec.endpoints[0].interval" in done.stderr and "should match" in done.stderr, done.stderr


# --------------------------------------------------------------------------------------------
# 2. The Helm chart through the helm CLI

NAMESPACED_MONITORED = {"namespaces": ["shop", "billing"], "serviceMonitor": {"enabled": True}}


@pytest.mark.parametrize("values", [{}, NAMESPACED_MONITORED], ids=["default", "namespaced-servicemonitor"])
def test_helm_lint_strict_passes(plane, tmp_path, values):
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    done = plane.helm("lint", "--strict", str(CHART), "-f", str(values_file), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout
    assert not re.search(r"\[(WARNING|ERROR)\]", done.stdout), done.stdout


@pytest.mark.parametrize("values", [{}, NAMESPACED_MONITORED], ids=["default", "namespaced-servicemonitor"])
def test_helm_template_is_accepted_by_the_server(plane, tmp_path, installed, service_monitor_crd, values, namespace):
    release = unique("wxt")
    if values.get("namespaces"):
        # Roles go into the listed namespaces: make them ours.
        values = {**values, "namespaces": [plane.create_namespace(unique(f"{namespace[:40]}-{n}")) for n in values["namespaces"]]}
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    # The server's version, as `helm install` would take from the cluster: `helm template`
    # offline assumes the version compiled into helm.
    done = plane.helm("template", release, str(CHART), "-n", namespace, "-f", str(values_file),
                      "--include-crds", "--kube-version", plane.server_version())
    docs = docs_of(done.stdout)
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds
    assert ("ServiceMonitor" in kinds) == bool(values.get("serviceMonitor", {}).get("enabled"))
    applied = plane.apply(done.stdout, "--dry-run=server")
    assert applied.returncode == 0, f"helm template output refused:\n{applied.stderr}"
    assert warnings_in(applied.stderr) == [], applied.stderr
    assert sorted(applied_lines(applied.stdout)) == sorted(f"{ref(d)} serverside-applied (server dry run)" for d in docs)


def chart_fullname(release: str) -> str:
    return release if "wetix-operator" in release else f"{release}-wetix-operator"


@pytest.fixture
def helm_release(plane):
    """A release name and namespace of the test's own (not `wetix-operator`: deploy/ owns the
    cluster-scoped ClusterRole `wetix-operator` there). Uninstalled and deleted afterwards."""
    release = unique("wxh")
    yield release, release
    if plane.helm("status", release, "-n", release, check=False).returncode == 0:
        plane.helm("uninstall", release, "-n", release, "--wait=false", check=False)
    plane.kubectl("delete", "namespace", release, "--ignore-not-found", "--wait=false", check=False)


def operator_args(deployment: dict) -> list[str]:
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"]


def test_helm_install_upgrade_uninstall_as_the_readme_does(plane, installed, helm_release, tmp_path):
    release, ns = helm_release
    name = chart_fullname(release)
    # README step 2b, in its order: install with --create-namespace, then label the namespace.
    done = plane.helm("install", release, str(CHART), "--namespace", ns, "--create-namespace",
                      "--set", "image.repository=registry.example/wetix-operator", "--set", "image.tag=0.1.0")
    assert "STATUS: deployed" in done.stdout
    assert not re.search(r"(?i)warning", done.stderr), done.stderr
    # The NOTES name the Deployment that is there and files of this repository that exist.
    notes = done.stdout.split("NOTES:", 1)[1]
    assert f"kubectl -n {ns} rollout status deployment/{name}\n" in notes, notes
    for path in re.findall(r"\b((?:docs/|deploy/)?[\w./-]+\.md)\b", notes):
        assert (REPO / path).is_file(), f"the chart's NOTES point at {path}, which does not exist"
    labelled = plane.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    assert warnings_in(labelled.stderr) == [], labelled.stderr

    deployment = plane.get("deployment", name, "-n", ns)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/wetix-operator:0.1.0"
    assert operator_args(deployment) == ["run", "--log-format=json", "--leader-elect"]
    assert deployment["spec"]["replicas"] == 2
    cluster_role = plane.get("clusterrole", name)
    assert cluster_role["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    binding = plane.get("clusterrolebinding", name)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
    # The pods its ReplicaSet would create pass the namespace's restricted enforcement.
    pod = pod_from(deployment, ns, unique("helm-pod"))
    admitted = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert admitted.returncode == 0, f"restricted refused the chart's pod:\n{admitted.stderr}"
    assert warnings_in(admitted.stderr) == [], admitted.stderr

    # Upgrade with another value: the Deployment's args follow.
    values_file = tmp_path / "upgrade.yaml"
    values_file.write_text(yaml.safe_dump({"allowedServerUrls": ["https://oauth.example", "https://oauth2.example"]}))
    done = plane.helm("upgrade", release, str(CHART), "--namespace", ns, "--reuse-values", "-f", str(values_file))
    assert "REVISION: 2" in done.stdout
    assert not re.search(r"(?i)warning", done.stderr), done.stderr
    upgraded = plane.get("deployment", name, "-n", ns)
    assert operator_args(upgraded) == [
        "run", "--log-format=json", "--leader-elect",
        "--allowed-server-urls=https://oauth.example,https://oauth2.example",
    ]
    assert upgraded["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/wetix-operator:0.1.0"
    assert upgraded["metadata"]["generation"] > deployment["metadata"]["generation"]

    # Uninstall: the release's objects go, the CRD and the credentials stay (README step 4).
    credential = {
        "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
        "metadata": {"name": "survivor", "namespace": ns},
        "spec": {"server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "wetix-client"}},
    }
    plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(credential))
    crd_uid = plane.get("crd", CRD_NAME)["metadata"]["uid"]
    done = plane.helm("uninstall", release, "--namespace", ns, "--wait", "--timeout", "60s")
    assert f'release "{release}" uninstalled' in done.stdout
    assert not plane.exists("deployment", name, "-n", ns)
    assert not plane.exists("clusterrole", name)
    assert not plane.exists("clusterrolebinding", name)
    assert plane.get("crd", CRD_NAME)["metadata"]["uid"] == crd_uid
    assert plane.exists("wxc", "survivor", "-n", ns)


# --------------------------------------------------------------------------------------------
# 3. The CRD on the real server

CRD_FILES = [REPO / "crds" / "wetixcredentials.yaml", CHART / "crds" / "wetixcredentials.yaml"]


def renamed_crd(crd: dict, group: str) -> dict:
    """The same CRD under another group: creating it is a create, which the server checks in
    full (on an update it warns only about what changed)."""
    crd = copy.deepcopy(crd)
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
    return crd


@pytest.mark.parametrize("path", CRD_FILES, ids=["crds", "chart-crds"])
def test_applying_the_crd_prints_no_warnings(plane, installed, path):
    crd = the(docs_of(path.read_text()), "CustomResourceDefinition")
    # As the README applies it (a dry run: the CRD is in use by other tests).
    done = plane.apply(path.read_text(), "--dry-run=server")
    assert done.returncode == 0, done.stderr
    assert warnings_in(done.stderr) == [], done.stderr
    # And as a fresh install: the same schema created anew is checked as a whole.
    fresh = renamed_crd(crd, f"{uuid.uuid4().hex[:8]}.wetix-crd.test")
    created = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(fresh), check=False)
    assert created.returncode == 0, created.stderr
    assert warnings_in(created.stderr) == [], created.stderr

    # The check sees what it looks for: an unknown format does draw a warning on create.
    odd = copy.deepcopy(fresh)
    odd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "renewBeforePercentage"]["format"] = "uint8"
    warned = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(odd), check=False)
    assert 'Warning: unrecognized format "uint8"' in warned.stderr, warned.stderr


def test_kubectl_explain_names_the_fields(plane, installed):
    done = plane.kubectl("explain", "wxc.spec")
    assert "KIND:       WetixCredential" in done.stdout and "VERSION:    v1alpha1" in done.stdout
    fields = set(re.findall(r"^  (\w+)\t", done.stdout, flags=re.M))
    assert {"server", "clientSecretRef", "refreshTokenSecretRef", "renewBefore", "renewBeforePercentage",
            "secretName", "secretTemplate", "deletionPolicy", "rolloutRestartTargets", "suspend"} <= fields, done.stdout
    assert re.search(r"^  server\t<Object> -required-", done.stdout, flags=re.M)
    assert re.search(r"^  clientSecretRef\t<Object> -required-", done.stdout, flags=re.M)
    server = plane.kubectl("explain", "wxc.spec.server").stdout
    assert re.search(r"^  environment\t<string> -required-\n  enum: Production, Sandbox", server, flags=re.M), server


def credential(namespace: str, name: str = "ticketing", **spec) -> dict:
    return {
        "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "wetix-client"}, **spec},
    }


BAD_SPECS = {
    "environment-not-in-enum": (
        {"server": {"environment": "Staging"}},
        'spec.server.environment: Unsupported value: "Staging": supported values: "Production", "Sandbox"'),
    "percentage-zero": (
        {"renewBeforePercentage": 0},
        "spec.renewBeforePercentage: Invalid value: 0: spec.renewBeforePercentage in body should be greater than or equal to 1"),
    "percentage-100": (
        {"renewBeforePercentage": 100},
        "spec.renewBeforePercentage: Invalid value: 100: spec.renewBeforePercentage in body should be less than or equal to 99"),
    "renew-before-not-a-duration": (
        {"renewBefore": "3 days"},
        'spec.renewBefore: Invalid value: "3 days": spec.renewBefore in body should match'),
    "url-not-http": (
        {"server": {"environment": "Sandbox", "url": "ftp://oauth.example"}},
        'spec.server.url: Invalid value: "ftp://oauth.example": spec.server.url in body should match'),
    "token-path-relative": (
        {"server": {"environment": "Sandbox", "tokenPath": "auth/token"}},
        'spec.server.tokenPath: Invalid value: "auth/token": spec.server.tokenPath in body should match'),
    "deletion-policy-not-in-enum": (
        {"deletionPolicy": "Orphan"},
        'spec.deletionPolicy: Unsupported value: "Orphan": supported values: "Delete", "Retain"'),
    "rollout-kind-not-in-enum": (
        {"rolloutRestartTargets": [{"kind": "Pod", "name": "checkout"}]},
        'spec.rolloutRestartTargets[0].kind: Unsupported value: "Pod"'),
    "client-secret-ref-without-name": (
        {"clientSecretRef": {}},
        "spec.clientSecretRef.name: Required value"),
    "percentage-not-an-integer": (
        {"renewBeforePercentage": "33"},
        'spec.renewBeforePercentage: Invalid value: "string": spec.renewBeforePercentage in body must be of type integer'),
}


def test_the_crd_schema_refuses_bad_values_with_the_servers_messages(plane, installed, namespace):
    failures = []
    for case, (spec, message) in BAD_SPECS.items():
        done = plane.kubectl("create", "--dry-run=server", "-f", "-",
                             input=json.dumps(credential(namespace, case, **spec)), check=False)
        if done.returncode == 0 or message not in done.stderr:
            failures.append(f"{case}: expected {message!r}, got rc={done.returncode}: {done.stderr.strip()}")
    assert failures == [], "\n".join(failures)
    # A good one passes the same way, so the refusals are the schema's.
    good = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(credential(namespace)))
    assert warnings_in(good.stderr) == []


# Defaults docs/reference.md (section 2) documents, and the CRD schema must write.
DOCUMENTED_DEFAULTS = {
    ("server", "tokenPath"): "/auth/token",
    ("server", "refreshPath"): "/auth/refresh",
    ("clientSecretRef", "clientIdKey"): "client_id",
    ("clientSecretRef", "clientSecretKey"): "client_secret",
    ("renewBeforePercentage",): 33,
    ("deletionPolicy",): "Delete",
    ("suspend",): False,
}


def test_the_server_writes_the_documented_defaults(plane, installed, namespace):
    reference = (REPO / "docs" / "reference.md").read_text()
    for path, value in DOCUMENTED_DEFAULTS.items():
        shown = json.dumps(value) if not isinstance(value, str) else value
        assert re.search(rf"^\s+{path[-1]}: {re.escape(shown)}\s", reference, flags=re.M), (path, "not in the docs")
    plane.kubectl("create", "-f", "-", input=json.dumps(credential(namespace)))
    stored = plane.get("wxc", "ticketing", "-n", namespace)["spec"]
    for path, value in DOCUMENTED_DEFAULTS.items():
        node = stored
        for key in path:
            node = node[key]
        assert node == value, (path, node)
    assert "secretName" not in stored and "renewBefore" not in stored  # no default: <name>-token, the percentage


def test_kubectl_get_wxc_prints_the_printer_columns(plane, installed, namespace):
    plane.kubectl("create", "-f", "-", input=json.dumps(credential(namespace)))
    done = plane.kubectl("get", "wxc", "-n", namespace)
    header, *rows = done.stdout.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == PRINTER_COLUMNS, header
    assert len(rows) == 1 and rows[0].split()[0] == "ticketing"
    # The same through the full resource name.
    assert plane.kubectl("get", CRD_NAME, "-n", namespace).stdout.splitlines()[0] == header


# --------------------------------------------------------------------------------------------
# 4. kubectl wait --for=condition=Ready, end to end, as deploy/'s ServiceAccount


def cargo_binary(name: str, build: list[str]) -> Path:
    path = REPO / "target" / "debug" / name
    if not path.exists():
        done = subprocess.run(["cargo", "build", *build], cwd=REPO, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"cargo build {' '.join(build)} failed:\n{done.stderr[-4000:]}"
    assert path.exists(), path
    return path


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


@pytest.fixture
def processes():
    """Starts processes in their own session, each logging to a file; all stopped at the end."""
    started: list[Process] = []

    def start(name: str, argv: list[str], env: dict[str, str], log: Path) -> Process:
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        process = Process(name, popen, log)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


def wait_until(what: str, check, timeout: float, process: Process | None = None):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process is not None and process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited ({process.popen.returncode}) before {what}:\n{process.text()[-3000:]}")
        if time.monotonic() > deadline:
            log = f":\n{process.text()[-3000:]}" if process else ""
            raise AssertionError(f"no {what} within {timeout} s{log}")
        time.sleep(0.1)


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("WETIX_", "FAKE_WETIX_", "KUBECONFIG", "POD_NAME"))}
    return {**keep, **extra}


def service_account_kubeconfig(plane: Plane, path: Path, namespace: str) -> Path:
    token = plane.kubectl("create", "token", OPERATOR_SERVICE_ACCOUNT, "-n", OPERATOR_NAMESPACE,
                          "--duration=1h").stdout.strip()
    admin = yaml.safe_load(plane.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "control-plane", "cluster": cluster}],
        "users": [{"name": OPERATOR_SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": OPERATOR_SERVICE_ACCOUNT, "context": {
            "cluster": "control-plane", "user": OPERATOR_SERVICE_ACCOUNT, "namespace": namespace}}],
        "current-context": OPERATOR_SERVICE_ACCOUNT,
    }))
    path.chmod(0o600)
    return path


def test_a_credential_goes_ready_with_the_operator_as_deploys_service_account(
        plane, rendered, installed, namespace, processes, tmp_path):
    operator_bin = cargo_binary("wetix-operator", ["--bin", "wetix-operator", "-p", "wetix-operator"])
    fake_bin = cargo_binary("fake-wetix", ["-p", "fake-wetix"])
    docs = docs_of(rendered["deploy"])
    deployment = the(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]

    # Leader election as rendered, but on a Lease in this test's namespace: the Lease
    # `wetix-operator` in wetix-operator belongs to the other suites sharing the control plane.
    # deploy/'s own leader-election Role and RoleBinding, moved to this namespace.
    for kind in ("Role", "RoleBinding"):
        doc = copy.deepcopy(the(docs, kind, "wetix-operator-leader-election"))
        doc["metadata"]["namespace"] = namespace
        plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(doc))

    kubeconfig = service_account_kubeconfig(plane, tmp_path / "operator.kubeconfig", namespace)
    whoami = json.loads(plane.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig).stdout)
    assert whoami["status"]["userInfo"]["username"] == "system:serviceaccount:wetix-operator:wetix-operator"

    # The WeTix stand-in, on a port of its own choosing, knowing one client.
    client_id, client_secret = "ticketing-client", f"s3cret-{uuid.uuid4().hex}"
    fake = processes("fake-wetix", [str(fake_bin), "--listen", "127.0.0.1:0", "--client", client_id],
                     clean_env(FAKE_WETIX_CLIENT_SECRET=client_secret, RUST_LOG="info"), tmp_path / "fake-wetix.log")
    fake_url = wait_until("fake-wetix listening", lambda: (m := re.search(r"url=(http://127\.0\.0\.1:\d+)", fake.text()))
                          and m.group(1), 30, fake)

    # The operator with the rendered container's args; only what must point at loopback or
    # keep it to this test's namespace is added. Metrics go on a port of the operator's own
    # choosing, read back from its (JSON) log: one picked free beforehand can be taken first.
    args = list(container["args"]) + [
        "--metrics-bind-address", "127.0.0.1:0",
        "--allowed-server-urls", fake_url,
        "--namespaces", namespace,
    ]
    env = {}
    for var in container.get("env", []):
        field_path = var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        value = {"metadata.name": unique("wetix-operator"), "metadata.namespace": namespace}.get(field_path, var.get("value"))
        assert value is not None, f"cannot stand in for env {var}"
        env[var["name"]] = value
    operator = processes("wetix-operator", [str(operator_bin), *args],
                         clean_env(KUBECONFIG=str(kubeconfig), **env), tmp_path / "operator.log")
    metrics = wait_until("operator metrics address",
                         lambda: (m := re.search(r'"address":"(127\.0\.0\.1:\d+)"', operator.text())) and m.group(1),
                         60, operator)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{metrics}/readyz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    wait_until("operator /readyz", ready, 60, operator)

    # README step 3, against the stand-in's URL.
    plane.kubectl("-n", namespace, "create", "secret", "generic", "wetix-client",
                  f"--from-literal=client_id={client_id}", f"--from-literal=client_secret={client_secret}")
    wxc = credential(namespace)
    wxc["spec"]["server"]["url"] = fake_url
    plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(wxc))
    started = time.monotonic()
    waited = plane.kubectl("-n", namespace, "wait", "--for=condition=Ready", "wxc/ticketing", "--timeout=60s",
                           timeout=75, check=False)
    assert waited.returncode == 0, (
        f"not Ready: {waited.stderr}\nstatus: {plane.get('wxc', 'ticketing', '-n', namespace).get('status')}\n"
        f"operator log:\n{operator.text()[-3000:]}")
    assert waited.stdout.strip() == "wetixcredential.wetix.my/ticketing condition met"
    took = time.monotonic() - started

    table = plane.kubectl("-n", namespace, "get", "wxc").stdout.splitlines()
    assert re.split(r"\s{2,}", table[0].strip()) == PRINTER_COLUMNS
    row = re.split(r"\s{2,}", table[1].strip())
    assert row[:3] == ["ticketing", "True", "TokenIssued"], table

    status = plane.get("wxc", "ticketing", "-n", namespace)["status"]
    secret = plane.get("secret", "ticketing-token", "-n", namespace)
    assert secret["type"] == "Opaque"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == TOKEN_SECRET_KEYS
    assert data["token_type"] == "Bearer"
    assert data["authorization"] == f"Bearer {data['access_token']}"
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    # fake-wetix's default lifetime is WeTix's: 60 days.
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=60))) < timedelta(minutes=5)
    assert data["expires_at"] == status["accessTokenExpiresAt"]
    assert data["refresh_token_expires_at"] == status["refreshTokenExpiresAt"]
    owners = secret["metadata"].get("ownerReferences", [])
    assert [(o["kind"], o["name"], o.get("controller")) for o in owners] == [("WetixCredential", "ticketing", True)]
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "wetix-operator"

    # The Lease of the rendered --leader-elect, taken by this operator in this namespace.
    lease = plane.get("lease", "wetix-operator", "-n", namespace)
    assert lease["spec"]["holderIdentity"] == env["POD_NAME"]

    operator.stop()
    fake.stop()
    log = operator.text()
    for secret_value in (client_secret, data["access_token"], data["refresh_token"]):
        assert secret_value not in log, "a secret value appears in the operator's log"
    assert "ticketing" in log and took < 60
