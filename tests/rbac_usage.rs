//! The RBAC shipped in deploy/ grants exactly what the operator uses: this test runs the
//! operator through every kind of call it makes (issue, refresh, repeated failures, a deleted
//! Secret restored, rollout restarts, leader election), records each request
//! it sent (the emulator's request log by User-Agent; on the real server, the audit log of the
//! operator's ServiceAccount token), and compares the verbs with the rendered ClusterRole and
//! Role. On the real server the operator runs with exactly that RBAC, so a verb used but not
//! granted fails there with a 403; a verb granted but never used is more privilege than
//! needed.

mod support;

use std::collections::BTreeSet;

use fake_wetix::{Endpoint, Fault};
use serde_json::{Value, json};
use support::*;

/// (API group, resource, verb), with resource names folded in as "resource/name" only for
/// the Lease, which the Role scopes by name.
type Grant = (String, String, String);

on_both!(deploy_rbac_grants_exactly_the_verbs_the_operator_uses);

async fn deploy_rbac_grants_exactly_the_verbs_the_operator_uses(server: Server) {
    let Some(rendered) = kustomize() else {
        println!("kubectl is not installed: skipping the RBAC comparison");
        return;
    };
    let granted = granted(&rendered);

    // Access tokens of 6 s: renewal at ~4 s, which fails twice before it succeeds.
    let mut stack = Stack::start(server, 6, 7200).await.with_args(&[
        "--leader-elect",
        "--lease-namespace",
        "wetix-operator",
        "--identity",
        "a",
    ]);
    if server == Server::Real {
        // A Lease left by an earlier suite's operator would keep this one waiting.
        let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
            kube::Api::namespaced(stack.client.clone(), "wetix-operator");
        let _ = leases.delete("wetix-operator", &Default::default()).await;
    }
    // Without the watch label, so that the client Secret is read (`get`) as such a Secret is.
    stack
        .put_client_secret_labelled("wetix-client", CLIENT_ID, CLIENT_SECRET, &[])
        .await;
    stack.wetix.inject(Endpoint::Refresh, Fault::Status(503), 2);
    // Targets that opted in, one of each kind, so that each restart (get, then patch) is part
    // of the run.
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
    use kube::api::{ApiResource, DynamicObject};
    let kinds = [
        (
            "Deployment",
            "checkout",
            ApiResource::erase::<Deployment>(&()),
        ),
        (
            "StatefulSet",
            "ledger",
            ApiResource::erase::<StatefulSet>(&()),
        ),
        ("DaemonSet", "agent", ApiResource::erase::<DaemonSet>(&())),
    ];
    for (kind, name, resource) in kinds {
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(stack.client.clone(), &stack.ns, &resource);
        let workload: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": stack.ns,
                "annotations": {"wetix.my/restart-on-token-change": "ticketing"}},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "checkout:1"}]}
                }
            }
        }))
        .unwrap();
        api.create(&Default::default(), &workload).await.unwrap();
    }
    stack.start_operator().await;
    stack
        .create_credential(
            "ticketing",
            json!({"rolloutRestartTargets": [
                {"kind": "Deployment", "name": "checkout"},
                {"kind": "StatefulSet", "name": "ledger"},
                {"kind": "DaemonSet", "name": "agent"}
            ]}),
        )
        .await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    // Two failures of the same kind, each with its own Event.
    stack
        .wait_for("ticketing", "two failed attempts", |c| {
            c.status.as_ref().is_some_and(|s| s.failed_attempts >= 2)
        })
        .await;
    stack.wait_ready("ticketing", "TokenRefreshed").await;

    // A deleted managed Secret is restored.
    stack
        .secrets()
        .delete("ticketing-token", &Default::default())
        .await
        .unwrap();
    stack
        .wait_for("ticketing", "a fresh pair after the deletion", |c| {
            ready_is(c, "True", "TokenIssued")
                && c.status
                    .as_ref()
                    .and_then(|s| s.last_refresh_time.as_ref())
                    .is_some()
        })
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack
        .secrets()
        .get_opt("ticketing-token")
        .await
        .unwrap()
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", stack.logs());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stack.stop_operator().await.success());

    let used = used(&stack).await;
    let implied: BTreeSet<Grant> = [grant("", "secrets", "create")].into();
    let missing: Vec<_> = used.difference(&granted).collect();
    assert!(missing.is_empty(), "used but not granted: {missing:?}");
    let unused: Vec<_> = granted
        .difference(&used)
        .filter(|g| !implied.contains(*g))
        .collect();
    assert!(
        unused.is_empty(),
        "granted but never used: {unused:?}\nused: {used:?}"
    );
}

fn grant(group: &str, resource: &str, verb: &str) -> Grant {
    (group.into(), resource.into(), verb.into())
}

/// What the operator asked the API server for, as RBAC sees it.
async fn used(stack: &Stack) -> BTreeSet<Grant> {
    let mut used = BTreeSet::new();
    for request in stack.cluster.operator_requests().await {
        let ours = request
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("wetix-operator/"));
        if !ours {
            continue;
        }
        let (group, resource, name) = parse_path(&request.path);
        let resource = if resource == "leases" {
            name.map_or(resource.clone(), |n| format!("leases/{n}"))
        } else {
            resource
        };
        let watching = request
            .query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1");
        let verb = match (request.method.as_str(), name.is_some(), watching) {
            ("GET", _, true) => "watch",
            ("GET", true, false) => "get",
            ("GET", false, false) => "list",
            ("POST", ..) => "create",
            ("PUT", ..) => "update",
            ("PATCH", ..) => "patch",
            ("DELETE", ..) => "delete",
            (other, ..) => panic!("unexpected method {other}"),
        };
        used.insert(grant(&group, &resource, verb));
    }
    used
}

/// (group, resource[/subresource], name) of an API path.
fn parse_path(path: &str) -> (String, String, Option<&str>) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => panic!("not an API path: {path}"),
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    match rest {
        [resource] => (group.into(), resource.to_string(), None),
        [resource, name] => (group.into(), resource.to_string(), Some(*name)),
        [resource, name, sub] => (group.into(), format!("{resource}/{sub}"), Some(*name)),
        _ => panic!("unexpected API path: {path}"),
    }
}

/// `kubectl kustomize deploy/`, or None without kubectl.
fn kustomize() -> Option<String> {
    let output = std::process::Command::new("kubectl")
        .args(["kustomize", concat!(env!("CARGO_MANIFEST_DIR"), "/deploy")])
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

/// Every (group, resource, verb) the rendered Roles and ClusterRoles grant.
fn granted(rendered: &str) -> BTreeSet<Grant> {
    let mut granted = BTreeSet::new();
    for doc in rendered.split("\n---\n") {
        let object: Value = serde_saphyr::from_str(doc).expect("rendered YAML parses");
        if !matches!(object["kind"].as_str(), Some("Role" | "ClusterRole")) {
            continue;
        }
        for rule in object["rules"].as_array().into_iter().flatten() {
            let names: Vec<&str> = strings(&rule["resourceNames"]);
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        assert!(
                            group != "*" && resource != "*" && verb != "*",
                            "wildcard in {rule}"
                        );
                        if names.is_empty() {
                            granted.insert(grant(group, resource, verb));
                        }
                        for name in &names {
                            granted.insert(grant(group, &format!("{resource}/{name}"), verb));
                        }
                    }
                }
            }
        }
    }
    granted
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}
