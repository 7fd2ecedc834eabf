//! An in-memory Kubernetes API server for the operator's tests and the local sandbox.
//!
//! It speaks plain HTTP on loopback, so a kube-rs `Client` or kubectl can use it through an
//! ordinary kubeconfig. It behaves like the real API server wherever a controller depends on it:
//! metadata, writes, server-side apply, list and watch semantics, error bodies, garbage collection.
//!
//! Module map, following a request:
//! - [`http`]: routing of API paths, request bodies (JSON, YAML, or [`protobuf`] for
//!   built-in kinds), the request log and fault checks.
//! - [`discovery`]: `/version`, `/api`, `/apis` and resource lists.
//! - [`resources`]: the kinds served, built-in and from CRDs; [`events`]: the two shapes of
//!   Events (core v1 and events.k8s.io/v1) over one stored resource.
//! - [`store`]: objects, the resourceVersion counter, change history and watch channels.
//! - [`write`]: create, replace, patch, apply and delete with server-maintained metadata.
//! - [`apply`]: managedFields and server-side apply; [`patch`]: the other patch types.
//! - [`schema`]: CRD defaulting, pruning and validation; [`validation`]: built-in rules and
//!   ObjectMeta syntax (names, labels, annotations).
//! - [`selectors`]: label and field selectors; [`watch`]: watch streams.
//! - [`table`]: the `Table` form for kubectl (server-side printing); [`jsonpath`]: the
//!   JSONPath subset its printer columns use.
//! - [`gc`]: ownerReference garbage collection; [`faults`]: fault injection.
//! - [`status`]: errors in the `Status` shape; [`clock`]: the emulator's movable clock and
//!   timestamps.

pub mod apply;
pub mod clock;
pub mod discovery;
pub mod events;
pub mod faults;
pub mod gc;
pub mod http;
pub mod jsonpath;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod store;
pub mod table;
pub mod validation;
pub mod watch;
pub mod write;

pub use clock::Clock;
pub use faults::{Faults, RequestRecord};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Pause after a write before the garbage collector looks, so collection never happens
/// inside the request that removed an owner (G2).
const GC_DELAY: Duration = Duration::from_millis(20);

/// A running emulator. Stops on [`Emulator::shutdown`] or when dropped.
pub struct Emulator {
    shared: Arc<http::Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    gc: JoinHandle<()>,
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves in a background tokio task.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` and serves in a background tokio task.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(http::Shared::new(addr));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let gc_shared = shared.clone();
        let gc = tokio::spawn(async move {
            loop {
                gc_shared.gc.notified().await;
                tokio::time::sleep(GC_DELAY).await;
                let writes = gc::collect(&mut gc_shared.store());
                if writes > 0 {
                    tracing::debug!(writes, "garbage collection");
                }
            }
        });
        Ok(Emulator {
            shared,
            addr,
            stop: Some(stop),
            gc,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose cluster, user and context are all named `kube-emulator`.
    pub fn kubeconfig_yaml(&self, namespace: &str) -> String {
        kubeconfig(&self.url(), namespace)
    }

    /// Stores an apiextensions.k8s.io/v1 CRD (created or replaced); its resources are served at once.
    ///
    /// # Panics
    /// If the CRD is malformed, since that is a mistake in the calling test.
    pub fn install_crd(&self, crd: serde_json::Value) {
        install_crd(&self.shared, crd).unwrap_or_else(|e| panic!("install_crd: {}", e.body));
    }

    /// The emulator's clock, the system clock by default: move it to see what the emulator
    /// stamps and shows later (ages in tables, creation and deletion times of new writes).
    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops serving and ends open watches.
    pub fn shutdown(self) {}
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.store().drop_watches();
        self.gc.abort();
    }
}

/// Creates or replaces a CRD through the ordinary write path.
fn install_crd(shared: &http::Shared, mut crd: serde_json::Value) -> Result<(), status::ApiError> {
    let rt = resources::builtins()
        .into_iter()
        .find(|t| t.plural == "customresourcedefinitions")
        .expect("CRDs are a built-in resource");
    let name = crd
        .pointer("/metadata/name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let ctx = write::Ctx {
        rt: &rt,
        ns: "",
        manager: "kube-emulator",
        subresource: None,
    };
    let mut store = shared.store();
    match store
        .get(&rt.storage_key(), &(String::new(), name.clone()))
        .cloned()
    {
        None => write::create(&mut store, &ctx, crd).map(|_| ()),
        Some(old) => {
            crd["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            write::replace(&mut store, &ctx, &name, crd).map(|_| ())
        }
    }
}

/// A kubeconfig for `server` with a context named `kube-emulator`.
pub fn kubeconfig(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-emulator
  cluster:
    server: {server}
users:
- name: kube-emulator
  user:
    token: kube-emulator
contexts:
- name: kube-emulator
  context:
    cluster: kube-emulator
    user: kube-emulator
    namespace: {namespace}
current-context: kube-emulator
"
    )
}
