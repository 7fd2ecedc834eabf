"""Every object of every install output is valid against Kubernetes' own OpenAPI schemas,
strictly (an unknown or misspelt field fails), at the oldest and newest supported versions."""

from __future__ import annotations

import pytest

# Kinds defined by CRDs that kubernetes-validate has no schema for. The ServiceMonitor's
# fields are checked by test_workload.py instead.
CRD_DEFINED = {"ServiceMonitor"}

# Chart.yaml says kubeVersion >= 1.29; 1.37 is the newest schema set shipped with the validator.
KUBERNETES_VERSIONS = ["1.29.0", "1.37.0"]

OUTPUTS = [
    "deploy", "namespaced", "servicemonitor", "kind-e2e",
    "helm-default", "helm-namespaced", "helm-servicemonitor", "helm-options",
]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_every_object_is_valid_for_kubernetes(all_outputs, output, version):
    import kubernetes_validate

    checked = 0
    for doc in all_outputs[output].docs:
        if doc["kind"] in CRD_DEFINED:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{output}: {doc['kind']}/{doc['metadata']['name']} invalid for {version}: {error.message} at {list(error.path)}")
        checked += 1
    assert checked >= 6


def test_schema_validation_catches_a_misspelt_field():
    """The check above is only worth something if a typo fails it."""
    import kubernetes_validate

    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"ports": [{"name": "metrics", "port": 8080, "targetPortt": "metrics"}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, "1.37.0", strict=True)
