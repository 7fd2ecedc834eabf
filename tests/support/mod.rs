//! A whole local stack for end-to-end tests: a Kubernetes API with the CRD (the emulator, or
//! the real control plane with `deploy/` applied, see [`cluster`]), the fake WeTix server, and
//! the real `wetix-operator` binary started against both.

#![allow(dead_code, unused_macros)]

pub mod cluster;
pub mod control_plane;

#[allow(unused_imports)]
pub(crate) use cluster::on_both;
pub use cluster::{Cluster, Server};

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use fake_wetix::{FakeWetix, Settings};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use wetix_operator::credential::WetixCredential;

pub const CLIENT_ID: &str = "shop-client";
pub const CLIENT_SECRET: &str = "cl1ent-s3cret-value";

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct Stack {
    pub cluster: Cluster,
    /// The test's namespace: everything the test creates goes here.
    pub ns: String,
    pub wetix: FakeWetix,
    pub client: Client,
    dir: tempdir::Dir,
    operator: Option<Operator>,
    logs: Arc<Mutex<String>>,
    extra_args: Vec<String>,
    pub metrics_port: u16,
}

struct Operator {
    child: tokio::process::Child,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("wetix-e2e-{}", uuid()));
            std::fs::create_dir_all(&path).expect("creating a temp dir");
            Self(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn uuid() -> String {
        use std::time::{SystemTime, UNIX_EPOCH};
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{}-{nanos}", std::process::id())
    }
}

impl Stack {
    /// A Kubernetes API with the CRD, fake WeTix with one client and the given lifetimes
    /// (seconds).
    pub async fn start(server: Server, access_secs: u64, refresh_secs: u64) -> Self {
        let cluster = Cluster::start(server).await;
        let wetix = FakeWetix::start(Settings {
            access_lifetime: Duration::from_secs(access_secs),
            refresh_lifetime: Duration::from_secs(refresh_secs),
            ..Settings::default()
        })
        .await
        .expect("fake WeTix starts");
        wetix.add_client(CLIENT_ID, CLIENT_SECRET);
        let client = cluster.client.clone();
        Self {
            ns: cluster.namespace.clone(),
            cluster,
            wetix,
            client,
            dir: tempdir::Dir::new(),
            operator: None,
            logs: Arc::default(),
            extra_args: vec![],
            metrics_port: 0,
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
        let port = free_port();
        // WETIX_OPERATOR_WRAPPER runs the operator under another program (a profiler).
        let wrapper = std::env::var("WETIX_OPERATOR_WRAPPER").ok();
        let mut command = match wrapper.as_deref() {
            Some(wrapper) => {
                let mut parts = wrapper.split_whitespace();
                let mut command = tokio::process::Command::new(parts.next().unwrap());
                command
                    .args(parts)
                    .arg(env!("CARGO_BIN_EXE_wetix-operator"));
                command
            }
            None => tokio::process::Command::new(env!("CARGO_BIN_EXE_wetix-operator")),
        };
        let mut child = command
            .arg("run")
            .arg("--allowed-server-urls")
            .arg(self.wetix.url())
            .arg("--metrics-bind-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(&self.extra_args)
            .args(&namespaces)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,wetix_operator=debug")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the operator binary starts");
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let logs = self.logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().unwrap().push_str(&line);
                    logs.lock().unwrap().push('\n');
                }
            });
        }
        self.operator = Some(Operator { child });
        self.metrics_port = port;
    }

    /// The operator's kubeconfig (see [`Cluster::operator_kubeconfig`]) in the stack's
    /// directory.
    pub fn write_operator_kubeconfig(&self) -> std::path::PathBuf {
        let path = self.dir.0.join("kubeconfig");
        std::fs::write(&path, self.cluster.operator_kubeconfig()).expect("kubeconfig written");
        path
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop_operator(&mut self) -> std::process::ExitStatus {
        let mut operator = self.operator.take().expect("operator running");
        let pid = operator.child.id().expect("pid") as i32;
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc_kill(pid, 15) };
        tokio::time::timeout(WAIT, operator.child.wait())
            .await
            .expect("operator stops within the wait")
            .expect("wait")
    }

    /// Scrapes /metrics until it contains `needle`.
    pub async fn wait_metrics(&self, needle: &str) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = scrape(&url).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "metrics never showed {needle}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The operator process's resident memory now and at its peak, from /proc.
    pub fn operator_memory(&self) -> String {
        let pid = self
            .operator
            .as_ref()
            .and_then(|o| o.child.id())
            .expect("operator running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l[name.len()..].trim().to_owned())
                .unwrap_or_else(|| "?".into())
        };
        format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn credentials(&self) -> Api<WetixCredential> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates or replaces the client Secret.
    pub async fn put_client_secret(&self, name: &str, id: &str, secret: &str) {
        let body = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(self.ns.clone()),
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

/// A plain HTTP GET over loopback.
async fn scrape(url: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/')?;
    let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await.ok()?;
    Some(body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}
