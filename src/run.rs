//! `wetix-operator run`: logging, the Kubernetes connection, the health and metrics server,
//! the controller, and a clean stop on SIGTERM or Ctrl-C.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use futures::{FutureExt, future::BoxFuture};
use kube::runtime::events::{Recorder, Reporter};
use tracing::info;

use crate::{
    cli::{LogFormat, RunArgs},
    controller,
    metrics::Metrics,
    oauth::{HttpTokenIssuer, OAuthError, TokenIssuer},
    reconcile::Context,
};

pub use crate::reconcile::error_chain;

/// Why the process could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no Kubernetes connection could be configured (in-cluster, KUBECONFIG or ~/.kube/config)"
    )]
    KubeConfig(#[source] kube::Error),
    #[error("building the WeTix HTTP client")]
    HttpClient(#[source] OAuthError),
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
    // One TLS crypto provider for both kube and reqwest (see DEPENDENCIES: two panic).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube::Client::try_default()
        .await
        .map_err(RunError::KubeConfig)?;
    let issuer = Arc::new(HttpTokenIssuer::new().map_err(RunError::HttpClient)?);
    run_with(args, client, issuer, shutdown_signal().boxed()).await
}

/// Runs the operator with a given Kubernetes client and WeTix client until `shutdown`
/// completes. Logging is the caller's.
pub async fn run_with(
    args: RunArgs,
    client: kube::Client,
    issuer: Arc<dyn TokenIssuer>,
    shutdown: BoxFuture<'static, ()>,
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));

    let listener = tokio::net::TcpListener::bind(args.metrics_bind_address)
        .await
        .map_err(|source| RunError::Bind {
            address: args.metrics_bind_address,
            source,
        })?;
    info!(address = %args.metrics_bind_address, "serving /metrics, /healthz and /readyz");
    let health = Health {
        ready: ready.clone(),
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
        client.clone(),
        issuer,
        args.allowed_server_urls.clone(),
        Recorder::new(client, reporter),
        metrics,
    ));
    info!(namespaces = ?args.namespaces, "starting");
    controller::run(ctx, &args.namespaces, shutdown.shared(), move || {
        ready.store(true, Ordering::SeqCst);
        info!("caches synced; ready");
    })
    .await;
    Ok(())
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutdown requested; finishing in-flight reconciles");
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The health and metrics endpoints.
#[derive(Clone)]
struct Health {
    ready: Arc<AtomicBool>,
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
    if health.ready.load(Ordering::SeqCst) {
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
        health.metrics.render(),
    )
}
