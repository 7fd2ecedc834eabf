//! Shared set-up for the emulator's tests: the server a test runs against (the emulator, or
//! the real control plane that `hack/control-plane.sh` builds), a kube-rs client for it, raw
//! HTTP requests, kubectl, and a small namespaced CRD with a status subresource.
//!
//! A test about how the API server behaves is an `async fn NAME(t: Target)` listed in
//! [`on_both!`]: it runs as `NAME::emulator` and `NAME::real`, on the servers
//! `WETIX_TEST_CLUSTER` selects (`emulator`, `real` or `both`, the default). A test of what
//! only the emulator has (fault injection, the request log) is listed in [`on_emulator!`].
//!
//! The real server is one control plane per test binary, each test in a namespace of its own
//! and the binary's CRDs in an API group of its own ([`group`]). With
//! `WETIX_TEST_CONTROL_PLANE=DIR` the tests use the control plane already up in DIR; otherwise
//! the first test that needs one starts it, owned by this process (it goes down when the test
//! binary ends). Where it cannot be had (not built), its tests fail with `CI=true` and are
//! skipped with a message otherwise.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube_emulator::Emulator;
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

// The operator's tests start and open the control plane with the same code, and choose
// servers by the same rule.
use control_plane::ControlPlane;
pub use wetix_test_kit::{Server, control_plane};
use wetix_test_kit::{standins, tls};

/// Upper bound for any single test, once its server is up.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out")
}

/// Runs each named `async fn NAME(t: Target)` as two tests, `NAME::emulator` and `NAME::real`.
#[allow(unused_macros)]
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn emulator() {
                    $crate::common::run($crate::common::Server::Emulator, super::$name).await
                }
                #[tokio::test(flavor = "multi_thread")]
                async fn real() {
                    $crate::common::run($crate::common::Server::Real, super::$name).await
                }
            }
        )+
    };
}

/// Runs each named `async fn NAME(t: Target)` as `NAME::emulator` only: tests of what the
/// real server has no counterpart for.
#[allow(unused_macros)]
macro_rules! on_emulator {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn emulator() {
                    $crate::common::run($crate::common::Server::Emulator, super::$name).await
                }
            }
        )+
    };
}

#[allow(unused_imports)]
pub(crate) use on_both;
#[allow(unused_imports)]
pub(crate) use on_emulator;

/// Runs `test` on `server` if `WETIX_TEST_CLUSTER` selects it.
pub async fn run<F: Future<Output = ()>>(server: Server, test: fn(Target) -> F) {
    if !server.selected() {
        println!("skipped: WETIX_TEST_CLUSTER does not select {server:?}");
        return;
    }
    let namespace = control_plane::namespace_for_this_test();
    let Some(target) = Target::start(server, namespace).await else {
        return;
    };
    bounded(test(target)).await
}

/// The server one test runs against.
pub struct Target {
    pub server: Server,
    /// The test's namespace: `default` on the emulator, a fresh one on the real server.
    pub ns: String,
    /// An admin client defaulting to [`Target::ns`].
    pub client: kube::Client,
    emulator: Option<Emulator>,
    plane: Option<&'static ControlPlane>,
}

impl Target {
    async fn start(server: Server, namespace: String) -> Option<Target> {
        tls::install_crypto_provider();
        match server {
            Server::Emulator => {
                let emulator = Emulator::start().await.expect("emulator starts");
                let client = client_for(&emulator);
                Some(Target {
                    server,
                    ns: "default".into(),
                    client,
                    emulator: Some(emulator),
                    plane: None,
                })
            }
            Server::Real => {
                let plane = match tokio::task::spawn_blocking(control_plane::shared)
                    .await
                    .expect("control plane start-up")
                {
                    Ok(plane) => plane,
                    Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                        panic!("the real control plane is not available: {why}")
                    }
                    Err(why) => {
                        eprintln!(
                            "SKIPPED on the real server, not available: {why}\n(with CI=true this fails; WETIX_TEST_CLUSTER=emulator runs the emulator tier alone)"
                        );
                        return None;
                    }
                };
                let client = client_from(&plane.admin_kubeconfig(&namespace)).await;
                Api::<Namespace>::all(client.clone())
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap(),
                    )
                    .await
                    .expect("test namespace created");
                Some(Target {
                    server,
                    ns: namespace,
                    client,
                    emulator: None,
                    plane: Some(plane),
                })
            }
        }
    }

    pub fn is_real(&self) -> bool {
        self.server == Server::Real
    }

    /// The emulator, for what only it has (faults, the request log). Panics on the real server.
    pub fn emulator(&self) -> &Emulator {
        self.emulator
            .as_ref()
            .expect("this test needs the emulator")
    }

    /// An admin kubeconfig whose context defaults to [`Target::ns`].
    pub fn kubeconfig_yaml(&self) -> String {
        match (&self.emulator, self.plane) {
            (Some(emulator), _) => emulator.kubeconfig_yaml(&self.ns),
            (None, Some(plane)) => plane.admin_kubeconfig(&self.ns),
            (None, None) => unreachable!("a target is one or the other"),
        }
    }

    /// A client like [`Target::client`] that does not retry (kube-rs retries 429, 503, 504).
    pub async fn client_without_retries(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml()).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    }

    /// Installs a CRD and waits until it is served: at once on the emulator, by server-side
    /// apply and its Established condition on the real server.
    pub async fn install_crd(&self, crd: Value) {
        if let Some(emulator) = &self.emulator {
            emulator.install_crd(crd);
            return;
        }
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        crds.patch(
            &name,
            &PatchParams::apply("kube-emulator-tests").force(),
            &Patch::Apply(crd),
        )
        .await
        .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        wait_established(&crds, &name).await;
    }

    /// One request through [`Target::client`] (so with the real server's TLS and token):
    /// `path` is relative to the server, `headers` go as given.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(kube::client::Body::from(body.to_vec())).unwrap();
        let res = self.client.send(req).await.unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = res.into_body().collect_bytes().await.unwrap().to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// kubectl with an admin kubeconfig for this target: the control plane's kubectl if it is
    /// built, else the one on PATH; `None` (after saying so) if there is neither.
    pub fn kubectl(&self) -> Option<Kubectl> {
        let bin = match self.plane {
            Some(plane) => plane.bin().join("kubectl"),
            None => built_kubectl().or_else(path_kubectl)?,
        };
        Some(Kubectl::new(bin, &self.kubeconfig_yaml()))
    }
}

pub async fn wait_established(crds: &Api<CustomResourceDefinition>, name: &str) {
    use kube::runtime::wait::{await_condition, conditions};
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(crds.clone(), name, conditions::is_crd_established()),
    )
    .await
    .unwrap_or_else(|_| panic!("CRD {name} not Established within 20 s"))
    .unwrap();
}

/// An HTTP answer: status, Content-Type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn client_for(emulator: &Emulator) -> kube::Client {
    tls::install_crypto_provider();
    standins::emulator_client(emulator, "default").unwrap()
}

pub use standins::client_from;

/// An emulator of the test's own and a client for it.
pub async fn start() -> (Emulator, kube::Client) {
    let emulator = Emulator::start().await.unwrap();
    let client = client_for(&emulator);
    (emulator, client)
}

/// The API group of this test binary's CRDs, unique on the control plane (CRDs are
/// cluster-scoped and a control plane may be shared between test binaries and runs).
pub fn group() -> &'static str {
    static GROUP: OnceLock<String> = OnceLock::new();
    GROUP.get_or_init(|| {
        format!(
            "t{:x}{:x}.example.com",
            std::process::id(),
            control_plane::nanos() % 0xfffff
        )
    })
}

/// `foos.<group>`, namespaced, with a status subresource, defaults and validation.
pub fn foo_crd() -> Value {
    crd_of("foos", "Foo")
}

/// A CRD like [`foo_crd`] for `plural`/`kind` in [`group`].
pub fn crd_of(plural: &str, kind: &str) -> Value {
    let group = group();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
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

pub fn api_version() -> String {
    format!("{}/v1", group())
}

pub fn foo_resource() -> ApiResource {
    resource_of("foos", "Foo")
}

pub fn resource_of(plural: &str, kind: &str) -> ApiResource {
    ApiResource {
        group: group().into(),
        version: "v1".into(),
        api_version: api_version(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Foos in the client's default namespace.
pub fn foos(client: &kube::Client) -> Api<DynamicObject> {
    Api::default_namespaced_with(client.clone(), &foo_resource())
}

pub fn foo(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": api_version(), "kind": "Foo",
        "metadata": {"name": name},
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

/// kubectl with a throwaway kubeconfig and discovery cache.
pub struct Kubectl {
    bin: PathBuf,
    dir: PathBuf,
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    pub fn new(bin: PathBuf, kubeconfig_yaml: &str) -> Kubectl {
        let dir = std::env::temp_dir().join(format!(
            "kube-emulator-kubectl-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kubeconfig"), kubeconfig_yaml).unwrap();
        Kubectl { bin, dir }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A scratch directory removed with this value.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(self.dir.join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args);
        cmd
    }

    /// A run off the async runtime's thread.
    pub async fn try_run(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Stdout of a run that must succeed.
    pub async fn run(&self, args: &[&str]) -> String {
        let run = self.try_run(args).await;
        assert!(run.ok, "kubectl {args:?}: {}\n{}", run.stderr, run.stdout);
        run.stdout
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// kubectl on PATH, if any.
pub fn path_kubectl() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// The control plane's kubectl, if `hack/control-plane.sh` has built it.
pub fn built_kubectl() -> Option<PathBuf> {
    Some(control_plane::built_bin()?.join("kubectl")).filter(|p| p.is_file())
}
