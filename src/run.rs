//! `wetix-operator run`: logging, the Kubernetes connection, the health and metrics server,
//! the controller, and a clean stop on SIGTERM or Ctrl-C.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use futures::{FutureExt, future::BoxFuture};
use kube::runtime::{events::Reporter, watcher};
use tracing::{info, warn};

use crate::{
    USER_AGENT,
    cli::{LogFormat, RunArgs},
    controller,
    error_chain::error_chain,
    leader::{Elector, LeadershipLost},
    metrics::Metrics,
    oauth::{HttpTokenIssuer, OAuthError, REQUEST_TIMEOUT, TokenIssuer},
    reconcile::Context,
};

/// Why the process could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no Kubernetes connection could be configured (in-cluster, KUBECONFIG or ~/.kube/config)"
    )]
    KubeConfig(#[source] kube::config::InferConfigError),
    #[error("connecting to the Kubernetes API")]
    KubeClient(#[source] kube::Error),
    #[error("building the WeTix HTTP client")]
    HttpClient(#[source] OAuthError),
    #[error("lost leadership; exiting so that this replica restarts as a standby")]
    LeadershipLost(#[source] LeadershipLost),
    #[error("binding --metrics-bind-address {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the operator until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    init_logging(args.log_format);
    // One TLS crypto provider for both kube and reqwest: with two installed, building a client
    // panics because rustls cannot choose.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::infer().await.map_err(RunError::KubeConfig)?;
    // Names the operator in the API server's audit log and in managedFields of plain writes.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    let clients = crate::api_client::Clients::new(config).map_err(RunError::KubeClient)?;
    let issuer = Arc::new(HttpTokenIssuer::new().map_err(RunError::HttpClient)?);
    run_with(args, clients, issuer, shutdown_signal().boxed()).await
}

/// Runs the operator with a given Kubernetes client and WeTix client until `shutdown`
/// completes. Logging is the caller's.
///
/// With `--leader-elect` the health server starts at once and the replica is ready as a
/// standby; the controller starts when this replica acquires the Lease. On shutdown the holder
/// stops the controller and releases the Lease, so a standby takes over at once. A holder that
/// loses the Lease starts no reconcile from then on, lets the ones already running finish for
/// up to [`LOST_LEADERSHIP_GRACE`], and returns [`RunError::LeadershipLost`]: the process exits
/// non-zero and Kubernetes restarts it as a standby, the simplest way to be sure nothing of the
/// old controller keeps running.
pub async fn run_with(
    args: RunArgs,
    clients: crate::api_client::Clients,
    issuer: Arc<dyn TokenIssuer>,
    shutdown: BoxFuture<'static, ()>,
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let readiness = Readiness::default();

    let listener = tokio::net::TcpListener::bind(args.metrics_bind_address)
        .await
        .map_err(|source| RunError::Bind {
            address: args.metrics_bind_address,
            source,
        })?;
    // Port 0 binds any free port; the log says which one it was.
    let address = listener.local_addr().unwrap_or(args.metrics_bind_address);
    info!(%address, "serving /metrics, /healthz and /readyz");
    let health = Health {
        readiness: readiness.clone(),
        metrics: metrics.clone(),
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, health.router()).await;
    });

    let reporter = Reporter {
        controller: "wetix-operator".into(),
        instance: Some(args.identity.clone()),
    };
    let ctx = Arc::new(Context::new(
        clients.clone(),
        issuer,
        args.allowed_server_urls.clone(),
        reporter,
        metrics.clone(),
    ));
    // Like the health server, it stops with the process.
    let finished = metrics.clone();
    tokio::spawn(crate::heap::trim_while_busy(move || {
        finished.reconciles_finished()
    }));
    let shutdown = shutdown.shared();
    let synced = readiness.synced.clone();
    let on_ready = move || {
        synced.store(true, Ordering::SeqCst);
        info!("caches synced; ready");
    };

    let credentials = credential_watch(&args);
    let selector = credentials.label_selector.clone().unwrap_or_default();
    if !args.leader_elect {
        info!(namespaces = ?args.namespaces, credential_selector = %selector, "starting");
        metrics.set_leader(true);
        controller::run(ctx, &args.namespaces, credentials, shutdown, on_ready).await;
        return Ok(());
    }

    let elector = Elector::new(
        clients.requests,
        &args.lease_namespace,
        &args.lease_name,
        &args.identity,
    );
    readiness.standby.store(true, Ordering::SeqCst);
    info!(
        identity = %args.identity,
        lease = %format!("{}/{}", args.lease_namespace, args.lease_name),
        "waiting for leadership"
    );
    let acquired = tokio::select! {
        () = elector.acquire() => true,
        () = shutdown.clone() => false,
    };
    if !acquired {
        // The shutdown may have interrupted a successful claim; give it back if so.
        release(&elector).await;
        return Ok(());
    }
    readiness.standby.store(false, Ordering::SeqCst);
    metrics.set_leader(true);
    info!(namespaces = ?args.namespaces, credential_selector = %selector, "starting");
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = lost_rx => {}
        }
    }
    .boxed()
    .shared();
    let controller = controller::run(ctx, &args.namespaces, credentials, stop, on_ready);
    tokio::pin!(controller);
    tokio::select! {
        () = &mut controller => {
            metrics.set_leader(false);
            release(&elector).await;
            Ok(())
        }
        lost = elector.hold() => {
            metrics.set_leader(false);
            let _ = lost_tx.send(());
            info!("letting the reconciles already running finish their writes");
            if tokio::time::timeout(LOST_LEADERSHIP_GRACE, controller).await.is_err() {
                warn!(
                    grace = ?LOST_LEADERSHIP_GRACE,
                    "reconciles still running after the grace period are dropped"
                );
            }
            Err(RunError::LeadershipLost(lost))
        }
    }
}

/// How the WetixCredentials are watched: every one in scope, or those `--credential-selector`
/// picks, filtered by the API server: the others never reach the cache, so they are never
/// reconciled, and a credential relabelled out of the selector is dropped as if deleted.
///
/// Lists are consistent reads (the API server serves them from its cache once it has caught
/// up with etcd), never "any version": a list from a lagging server could show a credential
/// as it was before our own status write, after the watch had shown the write.
fn credential_watch(args: &RunArgs) -> watcher::Config {
    let config = crate::controller::listed_in_pages(watcher::Config::default());
    match args.credential_selector() {
        Some(selector) => config.labels_from(selector),
        None => config,
    }
}

/// How long a holder that lost the Lease lets the reconciles already running finish before
/// the process exits. Such a reconcile may be waiting for WeTix: its answer comes within
/// [`REQUEST_TIMEOUT`], and with single-use refresh tokens it is the only copy of the new
/// refresh token, lost for good unless it reaches the Secret. So the old holder writes what
/// it obtained (the Secret write is conditional on the version it read, so it never overwrites
/// a newer leader's write unseen) rather than leave the new leader a spent refresh token.
/// No reconcile starts after the loss; a reconcile that had not asked WeTix yet may still ask.
pub const LOST_LEADERSHIP_GRACE: Duration = REQUEST_TIMEOUT.saturating_add(Duration::from_secs(5));

/// How long the way out waits for the Lease to be given back. An API server that takes the
/// request and never answers would otherwise hold the exit for the client's read timeout
/// (minutes); an unreleased Lease only makes the standby wait for its expiry.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Releases the Lease on the way out; a failure only delays the standby's takeover.
async fn release(elector: &Elector) {
    let error = match tokio::time::timeout(RELEASE_TIMEOUT, elector.release()).await {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error_chain(&error),
        Err(_) => format!("no answer within {RELEASE_TIMEOUT:?}"),
    };
    warn!(
        %error,
        "releasing the leader Lease; a standby takes over when it expires"
    );
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            },
            Err(error) => {
                warn!(error = %error_chain(&error), "no SIGTERM handler; stopping on Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutdown requested; finishing in-flight reconciles");
}

fn init_logging(format: LogFormat) {
    let filter = log_filter(tracing_subscriber::EnvFilter::try_from_default_env().ok());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// What is logged: `RUST_LOG` or `info`, and never the Kubernetes client's own messages, which
/// include whole response bodies (a Secret's data among them) when one fails to decode.
fn log_filter(from_env: Option<tracing_subscriber::EnvFilter>) -> tracing_subscriber::EnvFilter {
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    match "kube_client::client=off".parse() {
        Ok(silenced) => filter.add_directive(silenced),
        Err(_) => filter,
    }
}

/// What /readyz answers from.
#[derive(Clone, Default)]
struct Readiness {
    /// Waiting for the Lease (with `--leader-elect`): healthy, and nothing to sync yet.
    standby: Arc<AtomicBool>,
    /// The controller's caches have synced.
    synced: Arc<AtomicBool>,
}

impl Readiness {
    /// A standby counts as ready: otherwise a 2-replica rollout would wait forever for the
    /// replica that cannot lead while the other holds the Lease.
    fn is_ready(&self) -> bool {
        self.standby.load(Ordering::SeqCst) || self.synced.load(Ordering::SeqCst)
    }
}

/// The health and metrics endpoints.
#[derive(Clone)]
struct Health {
    readiness: Readiness,
    metrics: Arc<Metrics>,
}

impl Health {
    fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    if health.readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        // Sent piece by piece: the text of every credential's series is never held at once.
        axum::body::Body::from_stream(futures::stream::iter(
            health
                .metrics
                .exposition()
                .map(Ok::<_, std::convert::Infallible>),
        )),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer keeping what was logged.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_credential_watch_asks_the_api_server_for_the_selected_credentials_only() {
        let watch = |flags: &[&str]| {
            let argv = ["wetix-operator", "run"].iter().chain(flags);
            let (_, cli) = crate::cli::Cli::try_parse_invoked(argv).unwrap();
            let crate::cli::Command::Run(args) = cli.command else {
                panic!("expected run")
            };
            credential_watch(&args)
        };
        let cases: [(&[&str], Option<&str>); 4] = [
            (&[], None),
            (&["--credential-selector", ""], None),
            (&["--credential-selector", "shard = a"], Some("shard=a")),
            (
                &["--credential-selector", "shard notin (b,c),!legacy"],
                Some("shard notin (b,c),!legacy"),
            ),
        ];
        for (flags, want) in cases {
            let config = watch(flags);
            assert_eq!(config.label_selector.as_deref(), want, "{flags:?}");
            assert_eq!(config.field_selector, None, "{flags:?}");
        }
    }

    #[test]
    fn the_kubernetes_clients_messages_with_bodies_are_never_logged_whatever_rust_log_says() {
        for rust_log in [
            None,
            Some("trace"),
            Some("info,kube_client=trace,kube_client::client=debug"),
        ] {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(log_filter(rust_log.map(tracing_subscriber::EnvFilter::new)))
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(target: "kube_client::client", "{{\"data\":{{\"access_token\":\"c2VjcmV0\"}}}}, Error");
                tracing::warn!(target: "wetix_operator::reconcile", "an operator message");
            });
            let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            assert!(!text.contains("c2VjcmV0"), "{rust_log:?}: {text}");
            assert!(text.contains("an operator message"), "{rust_log:?}: {text}");
        }
    }
}
