//! The operator's clients of the Kubernetes API: one for its requests, over HTTP/2 when the
//! server offers it, and kube's default one (HTTP/1.1) for its watches.
//!
//! kube's default client speaks HTTP/1.1: each request in flight holds a connection of its
//! own. At the operator's 16 reconcile slots that is 16 TLS connections to the API server,
//! each with its TLS state and its buffers, for as long as the pool keeps them. Over HTTP/2
//! the requests share one connection (docs/performance.md). The watches stay on connections
//! of their own: with them on the same HTTP/2 connection as the requests, their stream of
//! events (one for each of the operator's writes, and for everyone else's) shared it with the
//! answers, and the renewal round fell behind (p99 3.5 and 3.6 s, against 1.2 s with the
//! watches apart, on control planes as fast). A server that does not offer `h2` (or plain
//! `http://`, as the emulator is served) is spoken to over HTTP/1.1 throughout.

use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use kube::client::{ConfigExt, retry::RetryPolicy};
use tower::{ServiceBuilder, retry::RetryLayer};

/// The operator's two clients of one API server.
#[derive(Clone)]
pub struct Clients {
    /// Reads and writes: HTTP/2 where the server offers it ([`requests`]).
    pub requests: kube::Client,
    /// The long-lived watches: one HTTP/1.1 connection each.
    pub watches: kube::Client,
}

impl Clients {
    /// Both clients for `config`.
    pub fn new(config: kube::Config) -> Result<Self, kube::Error> {
        Ok(Self {
            watches: kube::Client::try_from(config.clone())?,
            requests: requests(config)?,
        })
    }

    /// One client for everything: the sandbox's, on the emulator.
    pub fn one(client: kube::Client) -> Self {
        Self {
            requests: client.clone(),
            watches: client,
        }
    }
}

/// A client for `config`, as [`kube::Client::try_from`] would build it (its connector and
/// timeouts, its retries of 429, 503 and 504, the credentials and the extra headers; not its
/// debug-level spans), over HTTP/2 where the server offers it.
pub fn requests(config: kube::Config) -> Result<kube::Client, kube::Error> {
    // kube's own client refuses a proxy this build has no support for; so does this one.
    if let Some(proxy_url) = &config.proxy_url {
        return Err(kube::Error::ProxyProtocolUnsupported {
            proxy_url: Box::new(proxy_url.clone()),
        });
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let tls = match config.tls_server_name.as_deref() {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| {
                kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e))
            })?;
            tls.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => tls,
    };
    let https = tls.enable_all_versions().wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http = HttpClient::builder(TokioExecutor::new()).build(connector);
    let retry = config
        .default_retry
        .then(|| RetryLayer::new(RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}
