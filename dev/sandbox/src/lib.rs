//! The local sandbox: the Kubernetes API emulator, the fake WeTix server and the operator in one
//! process, with a live account of what the operator does to one credential.
//!
//! Modules, in the order a run meets them:
//!
//! - [`stack`]: starts the emulator (with the CRD), the fake WeTix server and the operator, and
//!   stops the operator the way a pod is stopped.
//! - [`manifests`]: the namespace, client Secret and WetixCredential a user would apply; applied
//!   through the API and written to disk as YAML.
//! - [`observe`]: what one look at the API and at the fake's call log shows, and what changed
//!   since the last look. Pure.
//! - [`report`]: the lines a person reads: timestamps, masked token values, the summary. Pure.
//! - [`operator_log`]: the operator's logs go to a file, not the terminal.
//!
//! [`run`] below is the order those steps happen in.

pub mod manifests;
pub mod observe;
pub mod operator_log;
pub mod report;
pub mod stack;

use std::{
    future::Future,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use wetix_operator::credential::WetixCredential;

use crate::{
    observe::{Change, Observer, Snapshot},
    stack::Stack,
};

/// How often the API and the call log are looked at: often enough that a line appears within a
/// blink of the change, rarely enough to stay out of the operator's way.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Slack on top of twice the access lifetime before a missing Ready or renewal counts as a
/// failure: room for a slow first build of caches and a retry or two after a transient error.
pub const PROGRESS_SLACK: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the kubeconfig, the applied manifests and the operator log are written.
    pub dir: PathBuf,
    /// Lifetime of access tokens the fake WeTix server issues.
    pub access_lifetime: Duration,
    /// Lifetime of refresh tokens the fake WeTix server issues.
    pub refresh_lifetime: Duration,
    /// Stop after this many renewals (0: once the first tokens are seen); `None` runs until
    /// `stop` completes.
    pub renewals: Option<u32>,
    /// Address of the Kubernetes API emulator; port 0 picks a free one.
    pub api_address: SocketAddr,
}

impl Options {
    /// How long the sandbox waits for the credential to become Ready, or for the next renewal,
    /// before it gives up: twice the access lifetime plus [`PROGRESS_SLACK`].
    pub fn progress_timeout(&self) -> Duration {
        self.access_lifetime * 2 + PROGRESS_SLACK
    }
}

/// What a run saw, counted from the fake WeTix server's call log and the credential's status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Calls to `/auth/token` (client-credentials grant), answered or not.
    pub token_requests: usize,
    /// Calls to `/auth/refresh` (refresh grant), answered or not.
    pub refresh_requests: usize,
    /// Calls of either kind answered with a non-2xx status.
    pub failed_requests: usize,
    /// Access-token changes after the first issue.
    pub renewals: u32,
}

/// Why a sandbox run failed. Each variant names the step.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("creating directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {file} as YAML")]
    Yaml {
        file: &'static str,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    #[error("writing to the terminal")]
    Output(#[source] std::io::Error),
    #[error("starting the Kubernetes API emulator on {address}")]
    StartEmulator {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the fake WeTix server")]
    StartWetix(#[source] std::io::Error),
    #[error("finding a free loopback port for the operator's metrics")]
    FreePort(#[source] std::io::Error),
    #[error("building a Kubernetes client for the emulator")]
    KubeClient(#[source] kube::Error),
    #[error("building the operator's WeTix HTTP client")]
    Issuer(#[source] wetix_operator::oauth::OAuthError),
    #[error("applying {kind} {name}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the operator stopped with an error")]
    OperatorFailed(#[source] wetix_operator::run::RunError),
    #[error("the operator stopped before it was asked to")]
    OperatorExitedQuietly,
    #[error("the operator task panicked")]
    OperatorPanicked,
    #[error("the operator did not stop within {}s of being asked", .0.as_secs())]
    OperatorStuck(Duration),
    #[error(
        "credential {credential} did not become Ready within {}s; last Ready condition: {last}",
        waited.as_secs()
    )]
    NotReady {
        credential: String,
        waited: Duration,
        last: String,
    },
    #[error(
        "credential {credential} was not renewed within {}s (renewals so far: {renewals}); last Ready condition: {last}",
        waited.as_secs()
    )]
    NoRenewal {
        credential: String,
        waited: Duration,
        renewals: u32,
        last: String,
    },
}

/// Starts everything, applies the manifests, narrates what happens to `out`, and stops the
/// operator after `options.renewals` renewals or when `stop` completes, whichever is first.
///
/// The operator is stopped cleanly whatever the outcome; its logs go wherever the caller's
/// tracing subscriber sends them (see [`operator_log`]).
pub async fn run<W: Write>(
    options: &Options,
    out: &mut W,
    stop: impl Future<Output = ()>,
) -> Result<Summary, SandboxError> {
    create_dir(&options.dir)?;
    let tz = TimeZone::system();
    let mut stack = Stack::start(options).await?;

    let kubeconfig = options.dir.join("kubeconfig");
    write_file(
        &kubeconfig,
        &stack.emulator.kubeconfig_yaml(manifests::NAMESPACE),
    )?;
    let applied = manifests::manifests(&stack.wetix.url());
    let files = manifests::write(&options.dir, &applied)?;
    manifests::apply(&stack.client, &applied).await?;

    let intro = report::Intro {
        api_url: stack.emulator.url(),
        wetix_url: stack.wetix.url(),
        metrics_address: stack.metrics_address,
        access_lifetime: options.access_lifetime,
        refresh_lifetime: options.refresh_lifetime,
        kubeconfig: kubeconfig.clone(),
        operator_log: options.dir.join(operator_log::FILE),
        manifests: files,
        renewals: options.renewals,
    };
    emit(out, &report::intro_lines(&intro))?;

    let watched = watch(options, &stack, out, &tz, stop).await;
    let stopped = stack.stop().await;
    let renewals = watched?;
    stopped?;

    let summary = summarize(&stack.wetix.calls(), renewals);
    emit(out, &report::summary_lines(&summary))?;
    Ok(summary)
}

/// Polls the credential, its Secret and the call log, printing each change, until enough
/// renewals were seen or `stop` completes. Returns the renewals seen.
async fn watch<W: Write>(
    options: &Options,
    stack: &Stack,
    out: &mut W,
    tz: &TimeZone,
    stop: impl Future<Output = ()>,
) -> Result<u32, SandboxError> {
    let credentials: Api<WetixCredential> =
        Api::namespaced(stack.client.clone(), manifests::NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(stack.client.clone(), manifests::NAMESPACE);
    let timeout = options.progress_timeout();
    let mut observer = Observer::default();
    let mut deadline = tokio::time::Instant::now() + timeout;
    let mut stop = std::pin::pin!(stop);

    loop {
        if stack.operator_exited() {
            // `Stack::stop` collects the operator's own error.
            return Ok(observer.renewals());
        }
        // A failed look (the API busy for a moment) is simply retried at the next tick; the
        // deadline below bounds how long that may go on.
        if let Ok(credential) = credentials.get_opt(manifests::CREDENTIAL_NAME).await {
            let snapshot = credential.as_ref().map(Snapshot::of).unwrap_or_default();
            let changes = observer.observe(snapshot, &stack.wetix.calls());
            for change in &changes {
                let now = Timestamp::now();
                let mut lines = report::change_lines(change, now, tz);
                if let Change::Issued { .. } = change
                    && let Ok(Some(secret)) = secrets.get_opt(manifests::MANAGED_SECRET_NAME).await
                {
                    lines.extend(report::secret_lines(
                        manifests::NAMESPACE,
                        manifests::MANAGED_SECRET_NAME,
                        &report::secret_strings(&secret),
                    ));
                }
                if matches!(change, Change::Issued { .. } | Change::Renewed { .. }) {
                    deadline = tokio::time::Instant::now() + timeout;
                }
                emit(out, &lines)?;
            }
            if observer.issued()
                && options
                    .renewals
                    .is_some_and(|wanted| observer.renewals() >= wanted)
            {
                return Ok(observer.renewals());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let error = stalled(&observer, timeout);
            if options.renewals.is_some() {
                return Err(error);
            }
            // Running until Ctrl-C: someone may be experimenting (suspend, a deleted client
            // Secret); say so and keep watching.
            emit(
                out,
                &[report::line(
                    Timestamp::now(),
                    tz,
                    "warning",
                    &error.to_string(),
                )],
            )?;
            deadline = tokio::time::Instant::now() + timeout;
        }
        tokio::select! {
            () = &mut stop => return Ok(observer.renewals()),
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

fn stalled(observer: &Observer, waited: Duration) -> SandboxError {
    let credential = format!("{}/{}", manifests::NAMESPACE, manifests::CREDENTIAL_NAME);
    let last = observer
        .ready()
        .map_or_else(|| "none yet".to_owned(), ToString::to_string);
    if observer.issued() {
        SandboxError::NoRenewal {
            credential,
            waited,
            renewals: observer.renewals(),
            last,
        }
    } else {
        SandboxError::NotReady {
            credential,
            waited,
            last,
        }
    }
}

/// Counts the fake server's calls by endpoint and outcome.
pub fn summarize(calls: &[fake_wetix::Call], renewals: u32) -> Summary {
    let count = |endpoint| calls.iter().filter(|c| c.endpoint == endpoint).count();
    Summary {
        token_requests: count(fake_wetix::Endpoint::Token),
        refresh_requests: count(fake_wetix::Endpoint::Refresh),
        failed_requests: calls
            .iter()
            .filter(|c| !(200..300).contains(&c.status))
            .count(),
        renewals,
    }
}

fn emit<W: Write>(out: &mut W, lines: &[String]) -> Result<(), SandboxError> {
    for line in lines {
        writeln!(out, "{line}").map_err(SandboxError::Output)?;
    }
    out.flush().map_err(SandboxError::Output)
}

fn create_dir(path: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(path).map_err(|source| SandboxError::CreateDir {
        path: path.to_owned(),
        source,
    })
}

fn write_file(path: &Path, contents: &str) -> Result<(), SandboxError> {
    std::fs::write(path, contents).map_err(|source| SandboxError::WriteFile {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_never_ready_says_so_with_the_last_condition() {
        let error = stalled(&Observer::default(), Duration::from_secs(70));
        assert_eq!(
            error.to_string(),
            "credential shop/ticketing did not become Ready within 70s; last Ready condition: none yet"
        );
    }

    #[test]
    fn a_credential_that_stops_renewing_says_how_far_it_got() {
        let mut observer = Observer::default();
        let snapshot = Snapshot {
            ready: Some(observe::ReadyCondition {
                status: "False".into(),
                reason: "ServerUnavailable".into(),
                message: "WeTix answered 503".into(),
            }),
            fingerprint: Some("aaaa".into()),
            ..Snapshot::default()
        };
        observer.observe(snapshot, &[]);
        let error = stalled(&observer, Duration::from_secs(70));
        assert_eq!(
            error.to_string(),
            "credential shop/ticketing was not renewed within 70s (renewals so far: 0); \
             last Ready condition: Ready=False ServerUnavailable: WeTix answered 503"
        );
    }

    #[test]
    fn the_progress_timeout_is_twice_the_access_lifetime_plus_slack() {
        let options = Options {
            dir: PathBuf::from(".sandbox"),
            access_lifetime: Duration::from_secs(20),
            refresh_lifetime: Duration::from_secs(60),
            renewals: Some(2),
            api_address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        assert_eq!(options.progress_timeout(), Duration::from_secs(70));
    }
}
