//! wetix-operator keeps WeTix OAuth tokens fresh in Kubernetes Secrets.
//!
//! Read the modules in the order the data flows:
//!
//! - [`credential`]: the `WetixCredential` resource, its spec and status.
//! - [`duration`]: the Go-style duration of `spec.renewBefore`.
//! - [`sensitive`]: the wrapper that keeps tokens and client secrets out of every log.
//! - [`error_chain`]: an error and its causes on one line, for logs and messages.
//! - [`validate`]: the spec checked as the schema and the API server would, before any use.
//! - [`endpoint`]: which WeTix server a credential may call.
//! - [`secret_cache`]: Secrets known without asking again (two label-selected watches).
//! - [`client_secret`]: the client id and secret read from the referenced Secret.
//! - [`reason`]: every reason status, Events, metrics and logs give, and its failure class.
//! - [`tokens`]: the token pair and its lifetimes, as plain data.
//! - [`tokens::response`]: WeTix's token answer as it arrives, and why it may be unusable.
//! - [`tokens::jwt`]: the `exp` and `iat` a token carries when it is a JWT.
//! - [`tokens::lifetime`]: the rule that turns an answer into a token pair and its expiries.
//! - [`oauth`]: one token request as plain data, and the `TokenIssuer` that answers it.
//! - [`oauth::error`]: what a failed request means: its status, its `Retry-After`.
//! - [`oauth::http`]: the HTTP edge, the one call to WeTix.
//! - [`schedule`]: when to renew a token, and how long to wait after a failure.
//! - [`plan`]: keep, request or wait: the decision of one reconcile.
//! - [`managed_secret`]: the Secret workloads mount, built from the tokens and read back.
//! - [`status`]: what the credential's status says afterwards.
//! - [`rollout`]: restarting the workloads that opted in, when the token changes.
//! - [`step`]: one reconcile as a pure decision: what to read, ask, write and report next.
//! - [`context`]: what every reconcile shares, and each credential's memory.
//! - [`reconcile`]: carries out what the step decides, feeding each result back.
//! - [`cached_credential`]: what the credential cache keeps of each credential, packed.
//! - [`credential_cache`]: the credentials one controller reconciles, as the watch last showed
//!   them.
//! - [`runner`]: which reconciles start: one at a time per credential, as many as the slots.
//! - [`triggers`]: which credentials a Secret change concerns.
//! - [`wakeups`]: when each credential is next looked at, handed to the controller earliest
//!   due first as reconcile slots free up.
//! - [`controller`]: the watches feeding `reconcile`.
//! - [`api_client`]: the client of the Kubernetes API, over HTTP/2 where the server offers it.
//! - [`metrics`]: the Prometheus metrics.
//! - [`leader`]: with `--leader-elect`, the Lease that lets one replica run the controller.
//! - [`cli`] and [`run`]: the command line and the process around the controller.
//! - [`commands`]: the subcommands people run by hand, with exit codes shared by all.
//! - [`commands::status`]: `status`, the credentials as a table, a detailed view, JSON or YAML.
//! - [`commands::refresh`]: `refresh`, asking the operator for a refresh now and waiting for it.
//! - [`commands::token`]: `token`, a token pair from WeTix outside a cluster.

// No input may panic the operator: outside tests, every `unwrap`, `expect`, `panic!` and
// index that could fail is refused. An `#[allow]` stands only where a comment says why the
// value cannot be absent. Tests keep `unwrap`: a failed one is a failed test.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

/// The User-Agent of every request the operator sends, to WeTix and to the Kubernetes API, so
/// that either side can tell this operator's traffic apart.
pub const USER_AGENT: &str = concat!("wetix-operator/", env!("CARGO_PKG_VERSION"));

pub mod api_client;
pub mod cached_credential;
pub mod cli;
pub mod client_secret;
pub mod commands;
pub mod context;
pub mod controller;
pub mod credential;
pub mod credential_cache;
pub mod duration;
pub mod endpoint;
pub mod error_chain;
pub mod heap;
pub mod leader;
pub mod managed_secret;
pub mod metrics;
pub mod oauth;
pub mod plan;
pub mod reason;
pub mod reconcile;
pub mod rollout;
pub mod run;
pub mod runner;
pub mod schedule;
pub mod secret_cache;
pub mod sensitive;
pub mod status;
pub mod step;
pub mod tokens;
pub mod triggers;
pub mod validate;
pub mod wakeups;

#[cfg(test)]
mod fixtures;
