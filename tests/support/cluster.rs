//! The Kubernetes API a test runs against: the emulator (one per test) or the real control
//! plane (one per test binary, a namespace per test). `WETIX_TEST_CLUSTER` chooses:
//! `emulator`, `real` or `both` (the default). A test written with [`on_both!`] runs once on
//! each chosen server.
//!
//! Where the real server is chosen but cannot be had (Go missing, the build failed), its
//! tests fail with the reason; `WETIX_TEST_CLUSTER=emulator` runs the emulator tier alone.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use kube_emulator::{Emulator, RequestRecord};
use wetix_operator::credential::WetixCredential;
use wetix_test_kit::{
    Server,
    control_plane::{self, ControlPlane},
    standins, tls,
};

pub struct Cluster {
    pub server: Server,
    /// The test's own namespace (created on the real server).
    pub namespace: String,
    /// A client with the admin's rights, defaulting to [`Cluster::namespace`].
    pub client: Client,
    emulator: Option<Emulator>,
    real: Option<Real>,
}

struct Real {
    plane: &'static ControlPlane,
    operator_kubeconfig: String,
    credential_id: String,
    audit_from: std::sync::atomic::AtomicU64,
}

impl Cluster {
    /// A fresh emulator, or the shared control plane with a new namespace, for the calling
    /// test.
    pub async fn start(server: Server) -> Self {
        tls::install_crypto_provider();
        let namespace = control_plane::namespace_for_this_test();
        match server {
            Server::Emulator => {
                let emulator = standins::start_emulator(loopback_any_port(), [crd()])
                    .await
                    .expect("emulator starts");
                let client = standins::emulator_client(&emulator, &namespace).expect("client");
                Self {
                    server,
                    namespace,
                    client,
                    emulator: Some(emulator),
                    real: None,
                }
            }
            Server::Real => {
                let plane = tokio::task::spawn_blocking(control_plane::with_operator)
                    .await
                    .expect("control plane start-up")
                    .unwrap_or_else(|why| panic!("the real control plane is not available: {why}\n(WETIX_TEST_CLUSTER=emulator runs the emulator tier alone)"));
                let client = client_from(&plane.admin_kubeconfig(&namespace)).await;
                Api::<Namespace>::all(client.clone())
                    .create(
                        &PostParams::default(),
                        &Namespace {
                            metadata: ObjectMeta {
                                name: Some(namespace.clone()),
                                ..ObjectMeta::default()
                            },
                            ..Namespace::default()
                        },
                    )
                    .await
                    .expect("test namespace created");
                let (operator_kubeconfig, credential_id) = tokio::task::spawn_blocking({
                    let namespace = namespace.clone();
                    move || plane.operator_kubeconfig(&namespace)
                })
                .await
                .expect("token request")
                .expect("a ServiceAccount token from the TokenRequest API");
                Self {
                    server,
                    namespace,
                    client,
                    emulator: None,
                    real: Some(Real {
                        plane,
                        operator_kubeconfig,
                        credential_id,
                        audit_from: plane.audit_offset().into(),
                    }),
                }
            }
        }
    }

    /// The emulator, for what only it can do (fault injection). Panics on the real server.
    pub fn emulator(&self) -> &Emulator {
        self.emulator
            .as_ref()
            .expect("this test needs the emulator's fault injection")
    }

    /// The kubeconfig the operator runs with: on the real server the ServiceAccount of
    /// `deploy/` with a TokenRequest token, so RBAC is what a cluster grants it.
    pub fn operator_kubeconfig(&self) -> String {
        match (&self.emulator, &self.real) {
            (Some(emulator), _) => emulator.kubeconfig_yaml(&self.namespace),
            (None, Some(real)) => real.operator_kubeconfig.clone(),
            (None, None) => unreachable!("a cluster is one or the other"),
        }
    }

    /// What the operator asked the API server for since the last [`Cluster::clear_requests`]:
    /// the emulator's request log, or the real server's audit log of the operator's token.
    pub async fn operator_requests(&self) -> Vec<RequestRecord> {
        match (&self.emulator, &self.real) {
            (Some(emulator), _) => emulator
                .requests()
                .into_iter()
                .filter(|r| {
                    r.user_agent
                        .as_deref()
                        .is_some_and(|ua| ua.starts_with("wetix-operator/"))
                })
                .collect(),
            (None, Some(real)) => {
                self.audit_log_caught_up(real.plane).await;
                real.plane.requests_since(
                    real.audit_from.load(std::sync::atomic::Ordering::SeqCst),
                    &real.credential_id,
                )
            }
            (None, None) => unreachable!("a cluster is one or the other"),
        }
    }

    /// Waits until the audit log holds a request of our own sent now. The server writes an
    /// entry as each request completes, so the requests that completed before this one are in
    /// the log by then.
    async fn audit_log_caught_up(&self, plane: &ControlPlane) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static MARKERS: AtomicU32 = AtomicU32::new(0);
        let marker = format!("audit-marker-{}", MARKERS.fetch_add(1, Ordering::SeqCst));
        let _ = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
            self.client.clone(),
            &self.namespace,
        )
        .get_opt(&marker)
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !plane.audit_log_has(&marker) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the audit log never recorded {marker}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn clear_requests(&self) {
        match (&self.emulator, &self.real) {
            (Some(emulator), _) => emulator.clear_requests(),
            (None, Some(real)) => real.audit_from.store(
                real.plane.audit_offset(),
                std::sync::atomic::Ordering::SeqCst,
            ),
            (None, None) => unreachable!("a cluster is one or the other"),
        }
    }
}

pub use standins::client_from;

/// The operator's CRD, as JSON.
pub fn crd() -> serde_json::Value {
    serde_json::to_value(<WetixCredential as kube::CustomResourceExt>::crd()).expect("CRD as JSON")
}

fn loopback_any_port() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs each named `async fn NAME(server: Server)` as two tests, `NAME::emulator` and
/// `NAME::real`, on the servers `WETIX_TEST_CLUSTER` selects.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn emulator() {
                    $crate::support::cluster::run_on($crate::support::Server::Emulator, super::$name).await
                }
                #[tokio::test(flavor = "multi_thread")]
                async fn real() {
                    $crate::support::cluster::run_on($crate::support::Server::Real, super::$name).await
                }
            }
        )+
    };
}
pub(crate) use on_both;

/// Runs `test` on `server` if `WETIX_TEST_CLUSTER` selects it.
pub async fn run_on<F: std::future::Future<Output = ()>>(server: Server, test: fn(Server) -> F) {
    if server.selected() {
        let started = std::time::Instant::now();
        test(server).await;
        println!(
            "ran on {server:?} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("skipped: WETIX_TEST_CLUSTER does not select {server:?}");
    }
}
