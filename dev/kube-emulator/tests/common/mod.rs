//! Shared set-up for the emulator's tests: a running emulator, a kube-rs client for it and
//! a small namespaced CRD with a status subresource.
#![allow(dead_code)]

use kube::api::{Api, ApiResource, DynamicObject};
use kube_emulator::Emulator;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// Upper bound for any single test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out")
}

pub fn client_for(emulator: &Emulator) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(emulator.url().parse().unwrap());
    config.default_namespace = "default".into();
    kube::Client::try_from(config).unwrap()
}

pub async fn start() -> (Emulator, kube::Client) {
    let emulator = Emulator::start().await.unwrap();
    let client = client_for(&emulator);
    (emulator, client)
}

/// `foos.example.com`, namespaced, with a status subresource, defaults and validation.
pub fn foo_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "x": {"type": "integer"},
                                "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 10},
                                "mode": {"type": "string", "enum": ["fast", "slow"]},
                                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8}
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "ok": {"type": "boolean"},
                                "observedGeneration": {"type": "integer"}
                            }
                        }
                    }
                }}
            }]
        }
    })
}

pub fn foo_resource() -> ApiResource {
    ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Foo".into(),
        plural: "foos".into(),
    }
}

pub fn foos(client: &kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), "default", &foo_resource())
}

pub fn foo(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Foo",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

/// The Status body of a kube-rs API error.
pub fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn rv(obj: &impl kube::ResourceExt) -> u64 {
    obj.resource_version().unwrap().parse().unwrap()
}
