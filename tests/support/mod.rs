//! A whole local stack for end-to-end tests: a Kubernetes API with the CRD (the emulator, or
//! the real control plane with `deploy/` applied, see [`cluster`]), the fake WeTix server, and
//! the real `wetix-operator` binary started against both. The pieces come from the workspace's
//! test kit (`dev/test-kit`), which the sandbox and the fleet benchmark start theirs with too.

#![allow(dead_code, unused_macros, unused_imports)]

pub mod cluster;

#[allow(unused_imports)]
pub(crate) use cluster::on_both;
pub use cluster::{Cluster, crd};
pub use wetix_test_kit::{Server, control_plane};

use std::{net::SocketAddr, path::Path, time::Duration};

use fake_wetix::FakeWetix;
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};
use wetix_operator::credential::WetixCredential;
use wetix_test_kit::{Process, TempDir, metrics, net, operator, standins};

pub const CLIENT_ID: &str = "shop-client";
pub const CLIENT_SECRET: &str = "cl1ent-s3cret-value";

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// The operator binary under test.
pub fn operator_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wetix-operator"))
}

pub struct Stack {
    pub cluster: Cluster,
    /// The test's namespace: everything the test creates goes here.
    pub ns: String,
    pub wetix: FakeWetix,
    pub client: Client,
    dir: TempDir,
    operator: Option<Process>,
    /// Operators stopped earlier, kept for their logs.
    stopped: Vec<Process>,
    extra_args: Vec<String>,
    /// Where the running operator serves /metrics, as its log said at start.
    metrics_address: Option<SocketAddr>,
}

impl Stack {
    /// A Kubernetes API with the CRD, fake WeTix with one client and the given lifetimes
    /// (seconds).
    pub async fn start(server: Server, access_secs: u64, refresh_secs: u64) -> Self {
        let cluster = Cluster::start(server).await;
        let lifetimes = standins::lifetimes(
            Duration::from_secs(access_secs),
            Duration::from_secs(refresh_secs),
        );
        let wetix = standins::start_wetix(lifetimes, CLIENT_ID, CLIENT_SECRET)
            .await
            .expect("fake WeTix starts");
        let client = cluster.client.clone();
        Self {
            ns: cluster.namespace.clone(),
            cluster,
            wetix,
            client,
            dir: TempDir::new("wetix-e2e"),
            operator: None,
            stopped: vec![],
            extra_args: vec![],
            metrics_address: None,
        }
    }

    /// A started stack with the client Secret in place and the operator running.
    pub async fn running(server: Server, access_secs: u64, refresh_secs: u64) -> Self {
        let mut stack = Self::start(server, access_secs, refresh_secs).await;
        stack
            .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
            .await;
        stack.start_operator().await;
        stack
    }

    /// Sets `wetix.my/refresh-requested-at`, as `wetix-operator refresh` does.
    pub async fn request_refresh(&self, name: &str, value: &str) {
        let patch = json!({"metadata": {"annotations": {"wetix.my/refresh-requested-at": value}}});
        self.credentials()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("annotation set");
    }

    /// How many calls the fake WeTix server answered on `endpoint`.
    pub fn calls_to(&self, endpoint: fake_wetix::Endpoint) -> usize {
        self.wetix
            .calls()
            .iter()
            .filter(|c| c.endpoint == endpoint)
            .count()
    }

    /// Extra flags for the operator process.
    pub fn with_args(mut self, args: &[&str]) -> Self {
        self.extra_args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Starts the real binary with the operator's kubeconfig. On the real server it watches
    /// only the test's namespace, as other tests share the control plane.
    pub async fn start_operator(&mut self) {
        let kubeconfig = self.write_operator_kubeconfig();
        let namespaces = match self.cluster.server {
            Server::Real if !self.extra_args.iter().any(|a| a == "--namespaces") => {
                vec!["--namespaces".to_owned(), self.ns.clone()]
            }
            _ => vec![],
        };
        let mut args = operator::run_args(&self.wetix.url(), operator::ANY_LOOPBACK_PORT);
        args.extend(self.extra_args.iter().cloned());
        args.extend(namespaces);
        let mut command = operator::command(operator_binary(), &kubeconfig, &args);
        command.env("RUST_LOG", "info,wetix_operator=debug");
        let process = Process::spawn(command).expect("the operator binary starts");
        self.metrics_address = Some(operator::metrics_address(&process, WAIT).await);
        self.operator = Some(process);
    }

    /// The operator's kubeconfig (see [`Cluster::operator_kubeconfig`]) in the stack's
    /// directory.
    pub fn write_operator_kubeconfig(&self) -> std::path::PathBuf {
        self.dir
            .write("kubeconfig", &self.cluster.operator_kubeconfig())
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop_operator(&mut self) -> std::process::ExitStatus {
        let mut operator = self.operator.take().expect("operator running");
        self.metrics_address = None;
        let exit = operator.terminate(WAIT).await;
        self.stopped.push(operator);
        exit.unwrap_or_else(|| panic!("operator stops within the wait:\n{}", self.logs()))
    }

    /// The operator's /metrics now; empty while it does not answer.
    pub async fn metrics(&self) -> String {
        match self.metrics_address {
            Some(at) => net::http_get(at, "/metrics").await.unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Scrapes /metrics until it contains `needle`.
    pub async fn wait_metrics(&self, needle: &str) -> String {
        self.wait_metrics_until(needle, |text| text.contains(needle))
            .await
    }

    /// Scrapes /metrics until `ok` holds for it; `what` says what for the failure message.
    pub async fn wait_metrics_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let at = self.metrics_address.expect("the operator was started");
        wait_metrics_at(at, &format!("metrics never showed {what}"), ok, || {
            format!("operator log:\n{}", self.logs())
        })
        .await
    }

    /// How many reconciles this operator process has finished, whatever their result.
    pub async fn reconciles(&self) -> u64 {
        metrics::sum(&self.metrics().await, RECONCILES) as u64
    }

    /// Waits until this operator process has finished at least `count` reconciles: whatever
    /// those reconciles sent (token requests, writes, Events) has been answered by then.
    pub async fn wait_reconciles(&self, count: u64) -> u64 {
        let text = self
            .wait_metrics_until(&format!("{count} reconciles"), |text| {
                metrics::sum(text, RECONCILES) as u64 >= count
            })
            .await;
        metrics::sum(&text, RECONCILES) as u64
    }

    /// The operator process's resident memory now and at its peak, from /proc.
    pub fn operator_memory(&self) -> String {
        self.operator.as_ref().expect("operator running").memory()
    }

    /// The running operator's process id, for reading its figures from /proc.
    pub fn operator_pid(&self) -> Option<u32> {
        self.operator.as_ref().and_then(Process::id)
    }

    /// What the operator processes wrote so far, the stopped ones first.
    /// Whether the log of the operator stopped last shows `needle` within 5 s: its last lines
    /// may still be on their way through the pipe when it has exited.
    pub async fn stopped_log_shows(&self, needle: &str) -> bool {
        match self.stopped.last() {
            Some(process) => process.wait_log(needle, Duration::from_secs(5)).await,
            None => false,
        }
    }

    pub fn logs(&self) -> String {
        self.stopped
            .iter()
            .chain(&self.operator)
            .map(Process::logs)
            .collect()
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn credentials(&self) -> Api<WetixCredential> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates or replaces the client Secret, labelled for the operator to watch it, as the
    /// install guide says.
    pub async fn put_client_secret(&self, name: &str, id: &str, secret: &str) {
        self.put_client_secret_labelled(name, id, secret, &[("wetix.my/watch", "true")])
            .await;
    }

    /// Creates or replaces the client Secret with these labels only.
    pub async fn put_client_secret_labelled(
        &self,
        name: &str,
        id: &str,
        secret: &str,
        labels: &[(&str, &str)],
    ) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(self.ns.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data: Some(
                [
                    ("client_id".to_string(), ByteString(id.as_bytes().to_vec())),
                    (
                        "client_secret".to_string(),
                        ByteString(secret.as_bytes().to_vec()),
                    ),
                ]
                .into(),
            ),
            ..Secret::default()
        };
        self.secrets()
            .patch(
                name,
                &PatchParams::apply("e2e-test").force(),
                &Patch::Apply(&body),
            )
            .await
            .expect("client Secret written");
    }

    /// Sets a label on a Secret, leaving its data alone.
    pub async fn label_secret(&self, name: &str, key: &str, value: &str) {
        let patch = json!({"metadata": {"labels": {key: value}}});
        self.secrets()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("Secret labelled");
    }

    /// Creates a WetixCredential pointing at the fake WeTix server; `spec` is merged over a
    /// minimal spec.
    pub async fn create_credential(&self, name: &str, spec: Value) -> WetixCredential {
        let mut body = json!({
            "apiVersion": "wetix.my/v1alpha1",
            "kind": "WetixCredential",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {
                "server": {"environment": "Sandbox", "url": self.wetix.url()},
                "clientSecretRef": {"name": "wetix-client"},
            }
        });
        merge(&mut body["spec"], spec);
        let credential: WetixCredential = serde_json::from_value(body).unwrap();
        self.credentials()
            .create(&PostParams::default(), &credential)
            .await
            .expect("credential created")
    }

    /// Waits until the credential satisfies `ok`, returning it.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&WetixCredential) -> bool,
    ) -> WetixCredential {
        let api = self.credentials();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(credential)) = api.get_opt(name).await
                && ok(&credential)
            {
                return credential;
            }
            if tokio::time::Instant::now() > deadline {
                let last = api.get_opt(name).await.ok().flatten();
                panic!(
                    "timed out waiting for {name}: {what}\nlast status: {}\noperator log:\n{}",
                    serde_json::to_string_pretty(&last.and_then(|c| c.status)).unwrap(),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_ready(&self, name: &str, reason: &str) -> WetixCredential {
        self.wait_for(name, &format!("Ready=True/{reason}"), |c| {
            ready_is(c, "True", reason)
        })
        .await
    }

    pub async fn wait_not_ready(&self, name: &str, reason: &str) -> WetixCredential {
        self.wait_for(name, &format!("Ready=False/{reason}"), |c| {
            ready_is(c, "False", reason)
        })
        .await
    }

    /// The managed Secret's data as text.
    pub async fn secret_data(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        let secret = self
            .secrets()
            .get(name)
            .await
            .expect("managed Secret exists");
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
            .collect()
    }

    /// All Events in the namespace, as JSON text.
    pub async fn events_text(&self) -> String {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &self.ns);
        let list = api.list(&Default::default()).await.expect("events list");
        serde_json::to_string(&list.items).unwrap()
    }
}

/// Scrapes the /metrics at `at` until `ok` holds for it; on time out fails with `failure`, the
/// last scrape and `context()` (an operator's log, say).
pub async fn wait_metrics_at(
    at: SocketAddr,
    failure: &str,
    ok: impl Fn(&str) -> bool,
    context: impl Fn() -> String,
) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = net::http_get(at, "/metrics").await.unwrap_or_default();
        if ok(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{failure}:\n{text}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn ready_is(credential: &WetixCredential, status: &str, reason: &str) -> bool {
    credential
        .ready_condition()
        .is_some_and(|c| c.status == status && c.reason == reason)
}

pub fn annotation(credential: &WetixCredential, key: &str) -> Option<String> {
    credential.annotations().get(key).cloned()
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (k, v) in patch {
                merge(base.entry(k).or_insert(Value::Null), v);
            }
        }
        (base, patch) => *base = patch,
    }
}

/// The counter of finished reconciles on the operator's /metrics.
const RECONCILES: &str = "wetix_reconciliations_total";
