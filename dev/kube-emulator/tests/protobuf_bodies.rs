//! Protobuf request bodies, as kubectl sends them for built-in kinds: raw requests encoded
//! with the k8s-pb message types, and the real kubectl end to end.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::events::v1 as events;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use kube::api::Api;
use kube_emulator::protobuf::encode;
use serde_json::json;
use std::path::PathBuf;

const KUBECTL_ACCEPT: &str = "application/vnd.kubernetes.protobuf,application/json";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// One request with a body of `content_type`, answered in JSON.
async fn raw(t: &Target, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
    raw_accepting(t, method, path, content_type, body, "application/json").await
}

async fn raw_accepting(
    t: &Target,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    accept: &str,
) -> Answer {
    let mut headers = vec![("accept", accept)];
    if !content_type.is_empty() {
        headers.push(("content-type", content_type));
    }
    t.raw(method, path, &headers, body).await
}

fn object_meta(name: &str) -> Option<meta::ObjectMeta> {
    // Go's protobuf encoder writes every non-pointer field, zero values included.
    Some(meta::ObjectMeta {
        name: Some(name.into()),
        generate_name: Some(String::new()),
        namespace: Some(String::new()),
        self_link: Some(String::new()),
        uid: Some(String::new()),
        resource_version: Some(String::new()),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        labels: [("app".to_string(), "wetix".to_string())].into(),
        ..Default::default()
    })
}

async fn a_protobuf_secret_is_stored_like_its_json_twin_and_answered_in_json(t: Target) {
    let client = t.client.clone();
    let pb = core::Secret {
        metadata: object_meta("wetix-client"),
        data: [("client_id".to_string(), b"x\xff".to_vec())].into(),
        string_data: [("extra".to_string(), "y".to_string())].into(),
        r#type: Some(String::new()),
        ..Default::default()
    };
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/secrets", t.ns),
        PROTOBUF,
        &encode("v1", "Secret", &pb),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.content_type, "application/json");
    let created = a.json();
    assert_eq!(
        created["data"],
        json!({"client_id": "eP8=", "extra": "eQ=="})
    );
    assert_eq!(created["type"], "Opaque");
    assert_eq!(created["metadata"]["labels"], json!({"app": "wetix"}));
    assert!(created.get("stringData").is_none());
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );

    let stored = Api::<Secret>::default_namespaced(client)
        .get("wetix-client")
        .await
        .unwrap();
    assert_eq!(stored.data.unwrap()["client_id"].0, b"x\xff");

    // Replacing with protobuf works the same way.
    let mut update = pb.clone();
    update.data = [("client_id".to_string(), b"z".to_vec())].into();
    update.string_data.clear();
    if let Some(m) = update.metadata.as_mut() {
        m.resource_version = created["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
    }
    let a = raw(
        &t,
        "PUT",
        &format!("/api/v1/namespaces/{}/secrets/wetix-client", t.ns),
        PROTOBUF,
        &encode("v1", "Secret", &update),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["data"], json!({"client_id": "eg=="}));

    // Reads with kubectl's Accept header: the real server answers protobuf, the emulator
    // JSON labelled as JSON (a difference its README lists).
    for path in [
        format!("/api/v1/namespaces/{}/secrets/wetix-client", t.ns),
        format!("/api/v1/namespaces/{}/secrets", t.ns),
    ] {
        let a = raw_accepting(&t, "GET", &path, "", b"", KUBECTL_ACCEPT).await;
        assert_eq!(a.status, 200);
        if t.is_real() {
            assert_eq!(a.content_type, PROTOBUF);
            assert!(a.body.starts_with(b"k8s\0"));
        } else {
            assert_eq!(a.content_type, "application/json");
            assert!(a.json()["kind"].as_str().unwrap().starts_with("Secret"));
        }
    }
}

async fn yaml_bodies_are_accepted_for_create_and_replace(t: Target) {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: \"1\"\n";
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/configmaps", t.ns),
        "application/yaml",
        yaml.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["data"], json!({"a": "1"}));
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/configmaps", t.ns),
        "application/yaml",
        b"metadata: [unclosed",
    )
    .await;
    assert_eq!(a.status, 400);
}

async fn configmaps_namespaces_service_accounts_and_leases_decode_from_protobuf(t: Target) {
    let client = t.client.clone();
    // A namespace of this test's own: namespaces are cluster-wide.
    let team = format!("{}-a", t.ns);
    let ns = core::Namespace {
        metadata: object_meta(&team),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: Some(String::new()),
            conditions: vec![],
        }),
    };
    let a = raw(
        &t,
        "POST",
        "/api/v1/namespaces",
        PROTOBUF,
        &encode("v1", "Namespace", &ns),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    Api::<Namespace>::all(client.clone())
        .get(&team)
        .await
        .unwrap();

    let cm = core::ConfigMap {
        metadata: object_meta("settings"),
        immutable: None,
        data: [("a".to_string(), "b".to_string())].into(),
        binary_data: [("bin".to_string(), vec![0, 159, 146, 150])].into(),
    };
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{team}/configmaps"),
        PROTOBUF,
        &encode("v1", "ConfigMap", &cm),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let got = Api::<ConfigMap>::namespaced(client.clone(), &team)
        .get("settings")
        .await
        .unwrap();
    assert_eq!(got.data.unwrap()["a"], "b");
    assert_eq!(got.binary_data.unwrap()["bin"].0, vec![0, 159, 146, 150]);

    let sa = core::ServiceAccount {
        metadata: object_meta("robot"),
        automount_service_account_token: Some(false),
        image_pull_secrets: vec![core::LocalObjectReference {
            name: Some("pull".into()),
        }],
        ..Default::default()
    };
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{team}/serviceaccounts"),
        PROTOBUF,
        &encode("v1", "ServiceAccount", &sa),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let got = Api::<ServiceAccount>::namespaced(client.clone(), &team)
        .get("robot")
        .await
        .unwrap();
    assert_eq!(got.automount_service_account_token, Some(false));
    assert_eq!(got.image_pull_secrets.unwrap()[0].name, "pull");

    let lease = coordination::Lease {
        metadata: object_meta("leader"),
        spec: Some(coordination::LeaseSpec {
            holder_identity: Some("pod-a".into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_000),
            }),
            ..Default::default()
        }),
    };
    let a = raw(
        &t,
        "POST",
        &format!("/apis/coordination.k8s.io/v1/namespaces/{}/leases", t.ns),
        PROTOBUF,
        &encode("coordination.k8s.io/v1", "Lease", &lease),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        a.json()["spec"],
        json!({"holderIdentity": "pod-a", "leaseDurationSeconds": 15,
            "renewTime": "2023-11-14T22:13:20.123456Z"})
    );

    // Go writes non-pointer structs even when empty (deprecatedSource here); they must
    // read as unset, as the real server's decoder sees them.
    let event = events::Event {
        metadata: object_meta("e1"),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(0),
        }),
        reporting_controller: Some("example.com/op".into()),
        reporting_instance: Some("op-1".into()),
        action: Some("Sync".into()),
        reason: Some("Synced".into()),
        note: Some("done".into()),
        r#type: Some("Normal".into()),
        regarding: Some(core::ObjectReference {
            kind: Some("Secret".into()),
            namespace: Some(t.ns.clone()),
            name: Some("s".into()),
            ..Default::default()
        }),
        deprecated_source: Some(core::EventSource {
            component: Some(String::new()),
            host: Some(String::new()),
        }),
        deprecated_first_timestamp: Some(meta::Time::default()),
        deprecated_last_timestamp: Some(meta::Time::default()),
        deprecated_count: Some(0),
        ..Default::default()
    };
    let a = raw(
        &t,
        "POST",
        &format!("/apis/events.k8s.io/v1/namespaces/{}/events", t.ns),
        PROTOBUF,
        &encode("events.k8s.io/v1", "Event", &event),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let e = a.json();
    assert_eq!(e["eventTime"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(
        e["regarding"],
        json!({"kind": "Secret", "namespace": t.ns, "name": "s"})
    );
    // Unset: the real server writes it as `{}` (and the timestamps as null) in every
    // events.k8s.io Event, the emulator leaves it out.
    assert!(
        e.get("deprecatedSource").is_none_or(|v| v == &json!({})),
        "{e}"
    );
    for f in [
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "deprecatedCount",
    ] {
        assert!(e.get(f).is_none_or(|v| v.is_null()), "{e}");
    }
}

async fn protobuf_bodies_that_cannot_be_decoded_are_refused_with_a_status(t: Target) {
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/secrets", t.ns),
        PROTOBUF,
        b"k8s\0\x0a\xff",
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["reason"], "BadRequest");
    // A ConfigMap sent to the Secret endpoint.
    let cm = core::ConfigMap {
        metadata: object_meta("x"),
        ..Default::default()
    };
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/secrets", t.ns),
        PROTOBUF,
        &encode("v1", "ConfigMap", &cm),
    )
    .await;
    assert_eq!(a.status, 400);
    // Protobuf names are validated like JSON ones.
    let bad = core::Secret {
        metadata: object_meta("Bad_Name"),
        ..Default::default()
    };
    let a = raw(
        &t,
        "POST",
        &format!("/api/v1/namespaces/{}/secrets", t.ns),
        PROTOBUF,
        &encode("v1", "Secret", &bad),
    )
    .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["details"]["causes"][0]["field"], "metadata.name");
}

/// Every kubectl this machine has: the one on PATH and the control plane's, once built.
fn kubectls() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(k) = std::env::split_paths(&path)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    {
        found.push(k);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if let Ok(dirs) = std::fs::read_dir(target.join("control-plane")) {
        let mut built: Vec<PathBuf> = dirs
            .filter_map(Result::ok)
            .map(|d| d.path().join("kubectl"))
            .filter(|p| p.is_file())
            .collect();
        built.sort();
        found.extend(built);
    }
    found
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn kubectl(bin: &PathBuf, dir: &std::path::Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .output()
        .await
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

async fn kubectl_creates_secrets_namespaces_configmaps_and_service_accounts(t: Target) {
    // The emulator against every kubectl at hand; the real server against its own.
    let bins = match t.kubectl() {
        Some(k) if t.is_real() => vec![k.bin().to_path_buf()],
        _ => kubectls(),
    };
    if bins.is_empty() {
        assert!(
            std::env::var_os("KUBE_EMULATOR_REQUIRE_KUBECTL").is_none(),
            "KUBE_EMULATOR_REQUIRE_KUBECTL is set but no kubectl was found"
        );
        eprintln!(
            "SKIPPED kubectl end-to-end test: no kubectl on PATH or under target/control-plane"
        );
        return;
    }
    let team = format!("{}-a", t.ns);
    for (i, bin) in bins.into_iter().enumerate() {
        eprintln!("kubectl end-to-end with {}", bin.display());
        let team = format!("{team}{i}");
        let team = team.as_str();
        {
            let client = t.client.clone();
            let dir = std::env::temp_dir().join(format!("kube-emulator-kubectl-{}", uuid_like()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("kubeconfig"), t.kubeconfig_yaml()).unwrap();
            std::fs::write(dir.join("blob"), [0u8, 159, 146, 150]).unwrap();
            let blob = format!("--from-file=blob={}", dir.join("blob").display());

            let run = kubectl(
                &bin,
                &dir,
                &[
                    "create",
                    "secret",
                    "generic",
                    "wetix-client",
                    "--from-literal=client_id=x",
                ],
            )
            .await;
            assert!(run.ok, "{}", run.stderr);
            assert_eq!(run.stdout.trim(), "secret/wetix-client created");
            let s = Api::<Secret>::default_namespaced(client.clone())
                .get("wetix-client")
                .await
                .unwrap();
            assert_eq!(s.data.unwrap()["client_id"].0, b"x");
            assert_eq!(s.type_.as_deref(), Some("Opaque"));
            let run = kubectl(
                &bin,
                &dir,
                &[
                    "get",
                    "secret",
                    "wetix-client",
                    "-o",
                    "jsonpath={.data.client_id}",
                ],
            )
            .await;
            assert_eq!(
                (run.ok, run.stdout.as_str()),
                (true, "eA=="),
                "{}",
                run.stderr
            );

            let run = kubectl(&bin, &dir, &["create", "namespace", team]).await;
            assert!(run.ok, "{}", run.stderr);
            Api::<Namespace>::all(client.clone())
                .get(team)
                .await
                .unwrap();

            let run = kubectl(
                &bin,
                &dir,
                &[
                    "-n",
                    team,
                    "create",
                    "configmap",
                    "settings",
                    "--from-literal=a=b",
                    &blob,
                ],
            )
            .await;
            assert!(run.ok, "{}", run.stderr);
            let cm = Api::<ConfigMap>::namespaced(client.clone(), team)
                .get("settings")
                .await
                .unwrap();
            assert_eq!(cm.data.unwrap()["a"], "b");
            assert_eq!(cm.binary_data.unwrap()["blob"].0, vec![0, 159, 146, 150]);

            let run = kubectl(
                &bin,
                &dir,
                &["-n", team, "create", "serviceaccount", "robot"],
            )
            .await;
            assert!(run.ok, "{}", run.stderr);
            Api::<ServiceAccount>::namespaced(client.clone(), team)
                .get("robot")
                .await
                .unwrap();
            let run = kubectl(
                &bin,
                &dir,
                &["-n", team, "get", "configmaps,serviceaccounts"],
            )
            .await;
            assert!(run.ok, "{}", run.stderr);
            assert!(
                run.stdout.contains("settings") && run.stdout.contains("robot"),
                "{}",
                run.stdout
            );

            let run = kubectl(
                &bin,
                &dir,
                &[
                    "create",
                    "secret",
                    "generic",
                    "Bad_Name",
                    "--from-literal=a=b",
                ],
            )
            .await;
            assert!(!run.ok);
            assert!(
                run.stderr.contains("Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
                "{}",
                run.stderr
            );

            let run = kubectl(&bin, &dir, &["delete", "secret", "wetix-client"]).await;
            assert!(run.ok, "{}", run.stderr);
            assert!(
                Api::<Secret>::default_namespaced(client.clone())
                    .get_opt("wetix-client")
                    .await
                    .unwrap()
                    .is_none()
            );
            let _ = std::fs::remove_dir_all(&dir);
            let run = kubectl(&bin, &dir, &["delete", "secret", "wetix-client-gone"]).await;
            assert!(!run.ok);
        }
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

on_both!(
    a_protobuf_secret_is_stored_like_its_json_twin_and_answered_in_json,
    yaml_bodies_are_accepted_for_create_and_replace,
    configmaps_namespaces_service_accounts_and_leases_decode_from_protobuf,
    protobuf_bodies_that_cannot_be_decoded_are_refused_with_a_status,
    kubectl_creates_secrets_namespaces_configmaps_and_service_accounts,
);
