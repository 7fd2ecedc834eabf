//! Each way of installing the operator gives it enough rights, on the real API server: the
//! kustomize base, the namespaced overlay and the Helm chart (cluster-wide and namespaced) are
//! applied as they render, each to a control plane of its own, and the operator runs with the
//! rendered Deployment's own arguments as the ServiceAccount they create, with a TokenRequest
//! token. It must issue a credential's first tokens without one request refused (no 403).
//!
//! There is no kubelet, so the operator runs as a local process; only its metrics address and
//! the allowed WeTix URL (the fake, on loopback) are set here.

mod support;

use std::{process::Stdio, time::Duration};

use fake_wetix::{FakeWetix, Settings};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, Server, WAIT, control_plane, ready_is};
use wetix_operator::credential::WetixCredential;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test(flavor = "multi_thread")]
async fn the_kustomize_base_rbac_lets_the_operator_work_in_any_namespace() {
    let Some(plane) = bare_plane().await else {
        return;
    };
    let rendered = kustomize(&plane, "deploy");
    installed_operator_issues_tokens(&plane, &rendered, &[], "ticketing-space").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_namespaced_overlay_rbac_lets_the_operator_work_in_its_namespaces() {
    let Some(plane) = bare_plane().await else {
        return;
    };
    let rendered = kustomize(&plane, "deploy/overlays/namespaced");
    installed_operator_issues_tokens(&plane, &rendered, &["shop", "billing"], "billing").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_helm_chart_rbac_lets_the_operator_work_cluster_wide_and_namespaced() {
    for (values, namespaces, credential_namespace) in [
        (vec![], vec![], "ticketing-space"),
        (
            vec!["--set", "namespaces={shop,billing}"],
            vec!["shop", "billing"],
            "shop",
        ),
    ] {
        let Some(plane) = bare_plane().await else {
            return;
        };
        let mut args = vec![
            "template",
            "wetix-operator",
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/helm/wetix-operator"),
            "--namespace",
            "wetix-operator",
        ];
        args.extend(values);
        let rendered = tool(&plane, "helm", &args, None);
        installed_operator_issues_tokens(&plane, &rendered, &namespaces, credential_namespace)
            .await;
    }
}

async fn bare_plane() -> Option<control_plane::Bare> {
    if !Server::Real.selected() {
        println!("skipped: WETIX_TEST_CLUSTER does not select the real server");
        return None;
    }
    wetix_test_kit::tls::install_crypto_provider();
    Some(
        tokio::task::spawn_blocking(control_plane::Bare::start)
            .await
            .expect("start-up")
            .unwrap_or_else(|why| panic!("the real control plane is not available: {why}")),
    )
}

fn kustomize(plane: &control_plane::Bare, dir: &str) -> String {
    tool(
        plane,
        "kubectl",
        &["kustomize", &format!("{REPO}/{dir}")],
        None,
    )
}

/// Runs the control plane's kubectl or helm as the admin.
fn tool(plane: &control_plane::Bare, name: &str, args: &[&str], stdin: Option<&str>) -> String {
    if name == "kubectl" {
        return plane
            .0
            .kubectl(args, stdin)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let output = std::process::Command::new(plane.0.bin().join(name))
        .args(args)
        .env("KUBECONFIG", plane.0.dir.join("kubeconfig"))
        .env("HELM_CACHE_HOME", plane.0.dir.join("helm-cache"))
        .env("HELM_CONFIG_HOME", plane.0.dir.join("helm-config"))
        .env("HELM_DATA_HOME", plane.0.dir.join("helm-data"))
        .output()
        .expect("tool runs");
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Applies `rendered` as it is, runs the operator as its Deployment says, and waits for a
/// credential in `credential_namespace` to be issued.
async fn installed_operator_issues_tokens(
    plane: &control_plane::Bare,
    rendered: &str,
    namespaces: &[&str],
    credential_namespace: &str,
) {
    let admin = support::cluster::client_from(&plane.0.admin_kubeconfig("default")).await;
    for namespace in namespaces
        .iter()
        .copied()
        .chain(["wetix-operator", credential_namespace])
    {
        let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap(),
            )
            .await;
    }
    tool(
        plane,
        "kubectl",
        &["apply", "--server-side", "-f", "-"],
        Some(rendered),
    );

    let wetix = FakeWetix::start(Settings::default())
        .await
        .expect("fake WeTix starts");
    wetix.add_client(CLIENT_ID, CLIENT_SECRET);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(admin.clone(), credential_namespace);
    secrets
        .patch(
            "wetix-client",
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "wetix-client"},
                "stringData": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            })),
        )
        .await
        .expect("client Secret");

    let (kubeconfig, credential_id) = plane
        .0
        .operator_kubeconfig("wetix-operator")
        .expect("a ServiceAccount token");
    let kubeconfig_path = plane
        .0
        .dir
        .join(format!("operator-{credential_namespace}.kubeconfig"));
    std::fs::write(&kubeconfig_path, kubeconfig).unwrap();
    let audit_from = plane.0.audit_offset();
    let args = deployment_args(rendered);
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_wetix-operator"))
        .args(&args)
        .arg("--metrics-bind-address=127.0.0.1:0")
        .arg(format!("--allowed-server-urls={}", wetix.url()))
        .env("KUBECONFIG", &kubeconfig_path)
        .env("POD_NAME", "wetix-operator-test")
        .env("WETIX_LEASE_NAMESPACE", "wetix-operator")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator starts");

    let credentials: Api<WetixCredential> = Api::namespaced(admin.clone(), credential_namespace);
    let credential: WetixCredential = serde_json::from_value(json!({
        "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
        "metadata": {"name": "ticketing"},
        "spec": {
            "server": {"environment": "Sandbox", "url": wetix.url()},
            "clientSecretRef": {"name": "wetix-client"}
        }
    }))
    .unwrap();
    credentials
        .create(&PostParams::default(), &credential)
        .await
        .expect("credential created");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let current = credentials.get("ticketing").await.expect("get");
        if ready_is(&current, "True", "TokenIssued") {
            break;
        }
        if tokio::time::Instant::now() > deadline || operator.try_wait().ok().flatten().is_some() {
            let _ = operator.start_kill();
            let output = operator.wait_with_output().await.unwrap();
            panic!(
                "not issued with args {args:?}: {:?}\nlog:\n{}",
                current.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused: Vec<String> = plane
        .0
        .requests_since(audit_from, &credential_id)
        .into_iter()
        .filter(|r| r.status == 403)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(refused.is_empty(), "refused by RBAC: {refused:?}");
    let _ = operator.start_kill();
}

/// The operator container's arguments in the rendered Deployment.
fn deployment_args(rendered: &str) -> Vec<String> {
    for doc in rendered.split("\n---") {
        let Ok(object) = serde_saphyr::from_str::<Value>(doc) else {
            continue;
        };
        if object["kind"] == "Deployment" {
            let args = &object["spec"]["template"]["spec"]["containers"][0]["args"];
            return args
                .as_array()
                .expect("the Deployment gives args")
                .iter()
                .map(|a| a.as_str().expect("string args").to_owned())
                .collect();
        }
    }
    panic!("no Deployment rendered");
}
