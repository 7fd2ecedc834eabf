//! Sharding past one process: two real operator processes in one cluster (the real API server
//! and the emulator, see `support::cluster`), one started with `--credential-selector
//! shard=a`, the other with `shard=b`, each leader-elected on a Lease of its own. Each
//! credential is issued by the operator of its shard and by nobody else; a credential neither
//! selector picks is left alone; a credential relabelled into the other shard moves without a
//! new token; each operator holds its own Lease; and the API server is asked only for each
//! shard's credentials.
//!
//! The Leases live in the test's namespace, so that tests on a shared control plane cannot
//! meet; on the real server the test grants them with a Role naming both, as a shard's install
//! does (README.md, "Sharding past one process").

mod support;

use std::net::SocketAddr;

use fake_wetix::Endpoint;
use k8s_openapi::api::{
    coordination::v1::Lease,
    events::v1::Event,
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::json;
use support::{
    CLIENT_ID, CLIENT_SECRET, Server, Stack, WAIT, on_both, operator_binary, wait_metrics_at,
};
use wetix_operator::credential::WetixCredential;
use wetix_test_kit::{Process, control_plane, metrics, operator};

on_both!(two_operators_on_disjoint_selectors_each_issue_only_their_shard_on_their_own_lease);

/// One shard: its selector, Lease and the identity of its one replica.
struct Shard {
    label: &'static str,
    lease: &'static str,
    identity: &'static str,
}

const A: Shard = Shard {
    label: "a",
    lease: "wetix-operator-shard-a",
    identity: "shard-a-0",
};
const B: Shard = Shard {
    label: "b",
    lease: "wetix-operator-shard-b",
    identity: "shard-b-0",
};

/// Credentials by the `shard` label they carry (`None`: no label).
const CREDENTIALS: [(&str, Option<&str>); 5] = [
    ("alpha-one", Some("a")),
    ("alpha-two", Some("a")),
    ("bravo-one", Some("b")),
    ("charlie-one", Some("c")),
    ("unlabelled", None),
];

/// `wetix-operator run` for one shard, with its own metrics port and log.
struct Operator {
    shard: &'static Shard,
    process: Process,
    metrics: SocketAddr,
}

impl Operator {
    async fn start(stack: &Stack, kubeconfig: &std::path::Path, shard: &'static Shard) -> Self {
        let mut args = operator::run_args(&stack.wetix.url(), operator::ANY_LOOPBACK_PORT);
        let selector = format!("shard={}", shard.label);
        args.extend(
            [
                "--credential-selector",
                &selector,
                "--leader-elect",
                "--identity",
                shard.identity,
                "--lease-name",
                shard.lease,
                "--lease-namespace",
                &stack.ns,
                "--namespaces",
                &stack.ns,
            ]
            .map(str::to_owned),
        );
        let mut command = operator::command(operator_binary(), kubeconfig, &args);
        command.env("RUST_LOG", "info");
        let process = Process::spawn(command).expect("the operator binary starts");
        let metrics = operator::metrics_address(&process, WAIT).await;
        Self {
            shard,
            process,
            metrics,
        }
    }

    /// Scrapes /metrics until `ok` holds.
    async fn wait_metrics(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let failure = format!("{} never showed {what} on /metrics", self.shard.identity);
        wait_metrics_at(self.metrics, &failure, ok, || {
            format!("log:\n{}", self.process.logs())
        })
        .await
    }
}

/// The names of the credentials with a per-credential series on this /metrics text.
fn credentials_in_metrics(text: &str) -> Vec<&'static str> {
    CREDENTIALS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            text.lines().any(|line| {
                line.starts_with("wetix_credential_ready{")
                    && line.contains(&format!("name=\"{name}\""))
            })
        })
        .collect()
}

/// The credentials `shard` is meant to reconcile.
fn of_shard(shard: &Shard) -> Vec<&'static str> {
    CREDENTIALS
        .iter()
        .filter(|(_, label)| *label == Some(shard.label))
        .map(|(name, _)| *name)
        .collect()
}

async fn create_labelled(stack: &Stack, name: &str, shard: Option<&str>) {
    let labels = shard.map_or_else(|| json!({}), |s| json!({ "shard": s }));
    let body = json!({
        "apiVersion": "wetix.my/v1alpha1",
        "kind": "WetixCredential",
        "metadata": {"name": name, "namespace": stack.ns, "labels": labels},
        "spec": {
            "server": {"environment": "Sandbox", "url": stack.wetix.url()},
            "clientSecretRef": {"name": "wetix-client"},
        }
    });
    let credential: WetixCredential = serde_json::from_value(body).unwrap();
    stack
        .credentials()
        .create(&PostParams::default(), &credential)
        .await
        .expect("credential created");
}

/// On the real server the operator's ServiceAccount may use the Leases `deploy/` names only;
/// a shard's install grants its own, as this Role does for both shards' Leases.
async fn grant_the_shard_leases(stack: &Stack) {
    let ns = stack.ns.clone();
    let meta = ObjectMeta {
        name: Some("wetix-operator-shards-leader-election".into()),
        namespace: Some(ns.clone()),
        ..ObjectMeta::default()
    };
    let rule = |names: Option<Vec<String>>, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec!["coordination.k8s.io".into()]),
        resources: Some(vec!["leases".into()]),
        resource_names: names,
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    };
    let role = Role {
        metadata: meta.clone(),
        rules: Some(vec![
            rule(None, &["create"]),
            rule(
                Some(vec![A.lease.into(), B.lease.into()]),
                &["get", "update"],
            ),
        ]),
    };
    Api::<Role>::namespaced(stack.client.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("the shards' Lease Role");
    let binding = RoleBinding {
        metadata: meta.clone(),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: meta.name.clone().unwrap(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: control_plane::OPERATOR_SERVICE_ACCOUNT.into(),
            namespace: Some(control_plane::OPERATOR_NAMESPACE.into()),
            ..Subject::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(stack.client.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("the shards' Lease RoleBinding");
}

async fn holder(stack: &Stack, lease: &str) -> Option<String> {
    Api::<Lease>::namespaced(stack.client.clone(), &stack.ns)
        .get_opt(lease)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// The value of `key` in a URL query, with `%XX` and `+` decoded.
fn query_param(query: &str, key: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?;
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(byte) = bytes.next() {
        out.push(match byte {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
            }
            b'+' => b' ',
            other => other,
        });
    }
    String::from_utf8(out).ok()
}

async fn two_operators_on_disjoint_selectors_each_issue_only_their_shard_on_their_own_lease(
    server: Server,
) {
    let stack = Stack::start(server, 3600, 86_400).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    if server == Server::Real {
        grant_the_shard_leases(&stack).await;
    }
    // Every credential exists before the operators start: an operator that listed them all
    // would reconcile them all in its first round.
    for (name, shard) in CREDENTIALS {
        create_labelled(&stack, name, shard).await;
    }
    let kubeconfig = stack.write_operator_kubeconfig();
    let a = Operator::start(&stack, &kubeconfig, &A).await;
    let b = Operator::start(&stack, &kubeconfig, &B).await;
    let logs = || {
        format!(
            "--- {}:\n{}\n--- {}:\n{}",
            a.shard.identity,
            a.process.logs(),
            b.shard.identity,
            b.process.logs()
        )
    };

    for (name, shard) in CREDENTIALS {
        if shard == Some("a") || shard == Some("b") {
            stack.wait_ready(name, "TokenIssued").await;
        }
    }

    // Each holds its own Lease, and leads.
    for operator in [&a, &b] {
        let shard = operator.shard;
        assert_eq!(
            holder(&stack, shard.lease).await.as_deref(),
            Some(shard.identity),
            "{}",
            logs()
        );
        operator
            .wait_metrics("wetix_leader 1", |text| {
                metrics::value(text, "wetix_leader") == Some(1.0)
            })
            .await;
    }

    // Each knows its own credentials only, and asked WeTix once for each of them.
    for operator in [&a, &b] {
        let own = of_shard(operator.shard);
        let text = operator
            .wait_metrics("a series for each of its credentials", |text| {
                credentials_in_metrics(text).len() >= own.len()
            })
            .await;
        assert_eq!(
            credentials_in_metrics(&text),
            own,
            "{}",
            operator.shard.identity
        );
        assert_eq!(
            metrics::sum(&text, "wetix_token_requests_total"),
            own.len() as f64,
            "{}: {text}",
            operator.shard.identity
        );
    }
    assert_eq!(stack.calls_to(Endpoint::Token), 3, "{}", logs());
    assert_eq!(stack.calls_to(Endpoint::Refresh), 0);

    // Every Event on a credential comes from the operator of its shard.
    let events = Api::<Event>::namespaced(stack.client.clone(), &stack.ns)
        .list(&Default::default())
        .await
        .expect("events list");
    let mut reported: Vec<(String, String)> = events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("WetixCredential"))
        .map(|e| {
            (
                e.regarding.and_then(|r| r.name).unwrap_or_default(),
                e.reporting_instance.unwrap_or_default(),
            )
        })
        .collect();
    reported.sort();
    reported.dedup();
    assert_eq!(
        reported,
        [
            ("alpha-one".to_owned(), A.identity.to_owned()),
            ("alpha-two".to_owned(), A.identity.to_owned()),
            ("bravo-one".to_owned(), B.identity.to_owned()),
        ],
        "{}",
        logs()
    );

    // The credentials neither selector picks have no status and no Secret.
    for name in ["charlie-one", "unlabelled"] {
        let credential = stack.credentials().get(name).await.unwrap();
        assert!(
            credential.status.is_none(),
            "{name}: {:?}",
            credential.status
        );
        let secret = stack.secrets().get_opt(&format!("{name}-token")).await;
        assert!(secret.unwrap().is_none(), "{name}-token");
    }

    // The API server was asked for each shard's credentials only: every list and watch of
    // WetixCredentials carries one of the two selectors, and each selector was used.
    let requests = stack.cluster.operator_requests().await;
    let selectors: Vec<Option<String>> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/wetixcredentials"))
        .map(|r| query_param(&r.query, "labelSelector"))
        .collect();
    assert!(!selectors.is_empty(), "{requests:#?}");
    for want in ["shard=a", "shard=b"] {
        assert!(
            selectors.iter().any(|s| s.as_deref() == Some(want)),
            "no list or watch with {want}: {selectors:?}"
        );
    }
    assert!(
        selectors
            .iter()
            .all(|s| matches!(s.as_deref(), Some("shard=a" | "shard=b"))),
        "{selectors:?}"
    );

    // A credential relabelled into the other shard moves: the first operator drops it, the
    // second takes it over from the Secret as it is, without asking WeTix again.
    let before = stack.secret_data("bravo-one-token").await;
    let patch = json!({"metadata": {"labels": {"shard": "a"}}});
    stack
        .credentials()
        .patch("bravo-one", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("relabelled");
    a.wait_metrics("bravo-one", |text| {
        credentials_in_metrics(text).contains(&"bravo-one")
    })
    .await;
    b.wait_metrics("bravo-one gone", |text| {
        !credentials_in_metrics(text).contains(&"bravo-one")
    })
    .await;
    assert_eq!(stack.calls_to(Endpoint::Token), 3, "{}", logs());
    assert_eq!(stack.calls_to(Endpoint::Refresh), 0);
    assert_eq!(stack.secret_data("bravo-one-token").await, before);

    // Each Lease is written by its own shard only (a create names no Lease in its path).
    let manager = |shard: &Shard| format!("wetix-operator-leader-{}", shard.identity);
    for shard in [&A, &B] {
        let own = requests
            .iter()
            .filter(|r| r.method != "GET" && r.path.contains("/leases"))
            .filter(|r| r.field_manager.as_deref() == Some(manager(shard).as_str()))
            .count();
        assert!(own > 0, "{} wrote its Lease: {requests:#?}", shard.identity);
        let foreign: Vec<_> = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/leases/{}", shard.lease)))
            .filter(|r| r.field_manager.as_deref() != Some(manager(shard).as_str()))
            .collect();
        assert!(
            foreign.is_empty(),
            "{} written by another: {foreign:#?}",
            shard.lease
        );
    }
}
