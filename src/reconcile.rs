//! One reconcile, in order: resolve the server, read the managed Secret, read the client
//! Secret, decide, call WeTix if due, write the Secret, write the status, schedule the next
//! look. The only place the order lives; each step is a function of its own module.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
    },
};
use serde_json::json;
use tracing::{info, warn};

use crate::{
    client_secret,
    credential::WetixCredential,
    endpoint,
    managed_secret::{self, Existing, FIELD_MANAGER, StoredTokens},
    metrics::Metrics,
    oauth::{Grant, OAuthError, TokenIssuer, TokenRequest},
    plan::{self, FailureKind, LastFailure, Observed, Plan, Why},
    rollout,
    schedule::Jitter,
    secret_cache::{self, SecretCache, Written},
    status::{self, Outcome, reasons},
};

/// Annotation a user sets to a new value to ask for a refresh now.
pub const REFRESH_REQUESTED_AT: &str = "wetix.my/refresh-requested-at";

/// The longest the operator sleeps on a credential: a missed watch event is noticed within
/// the hour even when the next renewal is weeks away.
pub const MAX_REQUEUE: Duration = Duration::from_secs(3600);

/// How often a Secret write is retried, with the new tokens in hand, before the reconcile
/// gives up for now (keeping the tokens in memory for the next one).
const SECRET_WRITE_ATTEMPTS: u32 = 3;

/// Everything a reconcile needs besides the object.
pub struct Context {
    pub client: kube::Client,
    pub issuer: Arc<dyn TokenIssuer>,
    pub allowed_server_urls: Vec<String>,
    /// Who publishes the Events. Each Event is published by a fresh `Recorder`: its cache,
    /// which folds repeats into a series, keeps every Event for six minutes, and at start-up
    /// (every credential issued at once) that is several KiB per credential.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    /// What the operator remembers between reconciles of one credential, by UID.
    memory: Mutex<HashMap<String, Memory>>,
    /// Secrets known without asking again: see [`SecretCache`].
    pub secret_cache: SecretCache,
}

/// Facts not kept in the cluster: tokens obtained but not yet written, and details of the last
/// failure that status does not carry. Lost on restart, which is safe: see each field.
#[derive(Default)]
struct Memory {
    /// Tokens WeTix issued whose Secret write failed: written before any new request, since
    /// the refresh token they replace may already be spent. (Lost on restart: the old refresh
    /// token is then tried, and if rejected a fresh pair is obtained.)
    pending: Option<Box<Pending>>,
    /// `Retry-After` and the credentials of the last failure. (Lost on restart: the backoff
    /// then follows status alone.)
    retry_after: Option<Duration>,
    failed_issued_for: Option<String>,
    /// The resourceVersion our last status write replaced. The cache can still hand that old
    /// version to a reconcile after the write; acting on its stale status would undo the write.
    superseded_version: Option<String>,
}

/// Tokens obtained but not yet written, with the reason their Event and status will carry.
struct Pending {
    tokens: StoredTokens,
    reason: &'static str,
}

impl Context {
    pub fn new(
        client: kube::Client,
        issuer: Arc<dyn TokenIssuer>,
        allowed_server_urls: Vec<String>,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            issuer,
            allowed_server_urls,
            reporter,
            metrics,
            memory: Mutex::default(),
            secret_cache: SecretCache::default(),
        }
    }

    fn remember<T>(&self, uid: &str, f: impl FnOnce(&mut Memory) -> T) -> T {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        f(memory.entry(uid.to_owned()).or_default())
    }

    /// Forget a credential that no longer exists, and what is kept of its managed Secret.
    pub fn forget(&self, credential: &WetixCredential) {
        if let Some(namespace) = credential.namespace() {
            self.secret_cache
                .forget_written(&namespace, &credential.secret_name());
        }
        let Some(uid) = credential.uid() else {
            return;
        };
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        memory.remove(&uid);
    }
}

/// The managed Secret as this reconcile sees it.
enum Seen {
    /// Read from the API server (absent: `None`).
    Read(Option<Box<Secret>>),
    /// Unchanged since our own last write.
    Written(Written),
}

impl Seen {
    fn existing(&self, credential: &WetixCredential) -> Existing {
        match self {
            Self::Read(secret) => managed_secret::inspect(secret.as_deref(), credential),
            Self::Written(written) => Existing::Valid(written.tokens.clone()),
        }
    }

    fn exists(&self) -> bool {
        !matches!(self, Self::Read(None))
    }

    /// Whether `desired` differs from it in anything the operator owns.
    fn needs_update(&self, desired: &Secret) -> bool {
        match self {
            Self::Read(Some(existing)) => managed_secret::needs_update(existing, desired),
            Self::Read(None) => true,
            Self::Written(written) => written.body != secret_cache::body_hash(desired),
        }
    }
}

/// A step that failed on the Kubernetes side. Token failures are not errors here: they are
/// outcomes, reported in status and retried on schedule.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the WetixCredential has no namespace or uid")]
    MissingMetadata,
    #[error("reading Secret {name:?}")]
    ReadSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the managed Secret {name:?}")]
    WriteSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status")]
    WriteStatus(#[source] kube::Error),
}

impl Error {
    /// Short, bounded reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingMetadata => reasons::INVALID_SPEC,
            _ => reasons::KUBERNETES_API_ERROR,
        }
    }
}

pub async fn reconcile(
    credential: Arc<WetixCredential>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let now = Timestamp::now();
    let reconcile = Reconcile::new(&credential, &ctx, now)?;
    let superseded = ctx.remember(&reconcile.uid, |m| m.superseded_version.clone());
    if superseded.is_some() && superseded == credential.metadata.resource_version {
        return Ok(Action::requeue(STALE_RETRY));
    }
    reconcile.run().await
}

/// How soon a reconcile handed a superseded version looks again, should the newer version's
/// watch event (which triggers a reconcile by itself) be slow to arrive.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// One reconcile's inputs, gathered once.
struct Reconcile<'a> {
    credential: &'a WetixCredential,
    ctx: &'a Context,
    now: Timestamp,
    uid: String,
    secrets: Api<Secret>,
    secret_name: String,
    /// A new value of the refresh annotation, not handled yet.
    refresh_request: Option<String>,
}

/// What one reconcile learned and did, for status.
struct Report<'a> {
    outcome: Outcome<'a>,
    next_refresh: Option<Timestamp>,
    handled_request: bool,
}

impl<'a> Reconcile<'a> {
    fn new(
        credential: &'a WetixCredential,
        ctx: &'a Context,
        now: Timestamp,
    ) -> Result<Self, Error> {
        let namespace = credential.namespace().ok_or(Error::MissingMetadata)?;
        let uid = credential.uid().ok_or(Error::MissingMetadata)?;
        let handled = credential
            .status
            .as_ref()
            .map(|s| s.last_refresh_request.as_str())
            .unwrap_or_default();
        let refresh_request = credential
            .annotations()
            .get(REFRESH_REQUESTED_AT)
            .filter(|v| !v.is_empty() && v.as_str() != handled)
            .cloned();
        Ok(Self {
            credential,
            ctx,
            now,
            uid,
            secrets: Api::namespaced(ctx.client.clone(), &namespace),
            secret_name: credential.secret_name(),
            refresh_request,
        })
    }

    async fn run(self) -> Result<Action, Error> {
        let spec = &self.credential.spec;

        let seen = self.see_managed_secret().await?;
        let existing = seen.existing(self.credential);
        let stored = match &existing {
            Existing::Valid(tokens) => Some(tokens),
            _ => None,
        };
        if existing == Existing::Foreign {
            let message = format!(
                "Secret {:?} exists and is not managed by this WetixCredential; it is left untouched",
                self.secret_name
            );
            return self
                .bad_input(reasons::SECRET_CONFLICT, &message, None)
                .await;
        }

        if let Some(pending) = self.ctx.remember(&self.uid, |m| m.pending.take()) {
            let Pending { tokens, reason } = *pending;
            return self.store(tokens, reason, &seen).await;
        }

        if spec.suspend {
            let report = Report {
                outcome: Outcome::Suspended { tokens: stored },
                next_refresh: None,
                handled_request: false,
            };
            self.write_status(report).await?;
            return Ok(Action::await_change());
        }

        let endpoint = match endpoint::resolve(&spec.server, &self.ctx.allowed_server_urls) {
            Ok(endpoint) => endpoint,
            Err(e) => return self.bad_input(e.reason(), &e.to_string(), stored).await,
        };
        let client_secret = self.read_secret(&spec.client_secret_ref.name).await?;
        let client_secret = client_secret.as_deref();
        let credentials =
            match client_secret::client_credentials(client_secret, &spec.client_secret_ref) {
                Ok(credentials) => credentials,
                Err(e) => return self.bad_input(e.reason(), &e.to_string(), stored).await,
            };
        let issued_for = managed_secret::issued_for(&endpoint, &credentials);

        let bootstrap = match (&spec.refresh_token_secret_ref, stored) {
            (Some(reference), None) => {
                let secret = self.read_secret(&reference.name).await?;
                match client_secret::bootstrap_refresh_token(secret.as_deref(), reference) {
                    Ok(token) => Some(token),
                    Err(e) => return self.bad_input(e.reason(), &e.to_string(), stored).await,
                }
            }
            _ => None,
        };

        let policy = spec.renew_policy();
        let last_failure = self.last_failure();
        let observed = Observed {
            stored,
            issued_for: &issued_for,
            bootstrap_refresh_token: bootstrap.as_ref(),
            refresh_requested: self.refresh_request.is_some(),
            last_failure: last_failure.as_ref(),
            policy: &policy,
            jitter: Jitter::from_uid(&self.uid),
        };

        match plan::plan(&observed, self.now) {
            Plan::Keep { next_refresh } => {
                let tokens = stored.expect("Keep is planned only with stored tokens");
                self.restore_if_edited(tokens, &seen).await?;
                self.finish(Report {
                    outcome: Outcome::Kept { tokens },
                    next_refresh: Some(next_refresh),
                    handled_request: false,
                })
                .await
            }
            Plan::Wait { until } => {
                self.finish(Report {
                    outcome: Outcome::Waiting { tokens: stored },
                    next_refresh: Some(until),
                    handled_request: false,
                })
                .await
            }
            Plan::Request { grant, why } => {
                let request = TokenRequest {
                    endpoint,
                    credentials,
                    grant,
                };
                self.request(request, why, issued_for, stored, &seen).await
            }
        }
    }

    /// Calls WeTix; a rejected refresh token is replaced through client credentials at once.
    async fn request(
        &self,
        request: TokenRequest,
        why: Why,
        issued_for: String,
        stored: Option<&StoredTokens>,
        seen: &Seen,
    ) -> Result<Action, Error> {
        let mut result = self.call(&request, why).await;
        if let Err(OAuthError::RefreshTokenRejected { .. }) = result {
            let fresh = TokenRequest {
                grant: Grant::ClientCredentials,
                ..request.clone()
            };
            result = self.call(&fresh, why).await;
        }
        match result {
            Ok((pair, reason)) => {
                let tokens = StoredTokens { pair, issued_for };
                self.ctx.remember(&self.uid, |m| {
                    m.retry_after = None;
                    m.failed_issued_for = None;
                });
                self.store(tokens, reason, seen).await
            }
            Err(error) => {
                warn!(reason = error.reason(), error = %error_chain(&error), "token request failed");
                self.ctx.remember(&self.uid, |m| {
                    m.retry_after = error.retry_after();
                    m.failed_issued_for = Some(issued_for);
                });
                let message = error.to_string();
                self.publish(EventType::Warning, error.reason(), &message, "RequestToken")
                    .await;
                let failure = LastFailure {
                    attempts: self.previous_attempts() + 1,
                    at: self.now,
                    kind: FailureKind::of(&error),
                    retry_after: error.retry_after(),
                    issued_for: None,
                };
                let retry = plan::retry_at(&failure, Jitter::from_uid(&self.uid));
                let report = Report {
                    outcome: Outcome::Failed {
                        reason: error.reason(),
                        message: &message,
                        tokens: stored,
                        attempt: true,
                    },
                    next_refresh: Some(retry),
                    handled_request: true,
                };
                self.finish(report).await
            }
        }
    }

    /// One call to WeTix, measured.
    async fn call(
        &self,
        request: &TokenRequest,
        why: Why,
    ) -> Result<(crate::tokens::TokenPair, &'static str), OAuthError> {
        let grant = request.grant.label();
        info!(grant, why = why.describe(), "requesting tokens");
        let started = std::time::Instant::now();
        let result = self.ctx.issuer.request(request.clone()).await;
        self.ctx
            .metrics
            .token_request(grant, result.as_ref().err(), started.elapsed());
        let reason = match request.grant {
            Grant::ClientCredentials => reasons::TOKEN_ISSUED,
            Grant::Refresh { .. } => reasons::TOKEN_REFRESHED,
        };
        result.map(|pair| (pair, reason))
    }

    /// Writes new tokens, retrying with them in hand; then status and Events.
    async fn store(
        &self,
        tokens: StoredTokens,
        reason: &'static str,
        seen: &Seen,
    ) -> Result<Action, Error> {
        let desired = managed_secret::desired(self.credential, &tokens);
        if let Err(error) = self.write_secret(&tokens, &desired).await {
            self.ctx.remember(&self.uid, |m| {
                m.pending = Some(Box::new(Pending {
                    tokens: tokens.clone(),
                    reason,
                }))
            });
            return Err(error);
        }
        let replaced = seen.exists();
        let verb = if reason == reasons::TOKEN_ISSUED {
            "issued"
        } else {
            "refreshed"
        };
        let note = format!(
            "tokens {verb} and written to Secret {:?}{}; access token valid until {}",
            self.secret_name,
            if replaced { "" } else { " (created)" },
            managed_secret::rfc3339(tokens.pair.access.expires_at),
        );
        info!(secret = %self.secret_name, fingerprint = %tokens.pair.fingerprint(), "{note}");
        self.publish(EventType::Normal, reason, &note, "WriteSecret")
            .await;
        self.restart_workloads().await;
        let next_refresh = plan::next_renewal(
            &tokens,
            &self.credential.spec.renew_policy(),
            Jitter::from_uid(&self.uid),
        );
        self.finish(Report {
            outcome: Outcome::Renewed {
                tokens: &tokens,
                reason,
            },
            next_refresh: Some(next_refresh),
            handled_request: true,
        })
        .await
    }

    /// Restarts `spec.rolloutRestartTargets` after the access token changed. A target that
    /// cannot be restarted is reported; it never holds up the Secret or the status.
    async fn restart_workloads(&self) {
        let targets = &self.credential.spec.rollout_restart_targets;
        if targets.is_empty() {
            return;
        }
        let namespace = self.secrets.namespace().unwrap_or_default();
        let failures = rollout::restart_all(&self.ctx.client, namespace, targets, self.now).await;
        for failure in &failures {
            let message = if failure.not_found {
                format!("{failure}: not found in namespace {namespace:?}")
            } else {
                error_chain(failure)
            };
            warn!(kind = ?failure.kind, name = %failure.name, "{message}");
            self.publish(
                EventType::Warning,
                reasons::ROLLOUT_RESTART_FAILED,
                &message,
                "RestartWorkload",
            )
            .await;
        }
        let restarted = targets.len() - failures.len();
        if restarted > 0 {
            let note = format!("restarted {restarted} of {} rollout targets", targets.len());
            info!("{note}");
            self.publish(
                EventType::Normal,
                reasons::ROLLOUT_RESTARTED,
                &note,
                "RestartWorkload",
            )
            .await;
        }
    }

    /// Re-applies the Secret when someone edited a field the operator owns, or the credential
    /// now wants other labels, annotations or ownership.
    async fn restore_if_edited(&self, tokens: &StoredTokens, seen: &Seen) -> Result<(), Error> {
        let desired = managed_secret::desired(self.credential, tokens);
        if !seen.needs_update(&desired) {
            return Ok(());
        }
        info!(secret = %self.secret_name, "restoring the managed Secret");
        self.write_secret(tokens, &desired).await
    }

    /// The managed Secret: as we wrote it when nobody changed it since, else read.
    async fn see_managed_secret(&self) -> Result<Seen, Error> {
        let namespace = self.secrets.namespace().unwrap_or_default();
        if let Some(written) = self.ctx.secret_cache.written(namespace, &self.secret_name) {
            return Ok(Seen::Written(written));
        }
        let secret = self
            .secrets
            .get_opt(&self.secret_name)
            .await
            .map_err(|source| Error::ReadSecret {
                name: self.secret_name.clone(),
                source,
            })?;
        Ok(Seen::Read(secret.map(Box::new)))
    }

    /// Applies `desired` (built from `tokens`), retrying with the same tokens.
    async fn write_secret(&self, tokens: &StoredTokens, desired: &Secret) -> Result<(), Error> {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut attempt = 1;
        loop {
            match self
                .secrets
                .patch(&self.secret_name, &params, &Patch::Apply(desired))
                .await
            {
                Ok(written) => {
                    if let Some(resource_version) = written.metadata.resource_version {
                        self.ctx.secret_cache.remember_written(
                            self.secrets.namespace().unwrap_or_default(),
                            &self.secret_name,
                            Written {
                                resource_version,
                                tokens: tokens.clone(),
                                body: secret_cache::body_hash(desired),
                            },
                        );
                    }
                    return Ok(());
                }
                Err(source) if attempt >= SECRET_WRITE_ATTEMPTS => {
                    return Err(Error::WriteSecret {
                        name: self.secret_name.clone(),
                        source,
                    });
                }
                Err(error) => {
                    warn!(attempt, error = %error_chain(&error), "writing the managed Secret failed; retrying with the same tokens");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    attempt += 1;
                }
            }
        }
    }

    /// A referenced Secret, from memory while its version is current, else read.
    async fn read_secret(&self, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        let namespace = self.secrets.namespace().unwrap_or_default();
        if let Some(secret) = self.ctx.secret_cache.read(namespace, name) {
            return Ok(Some(secret));
        }
        let secret = self
            .secrets
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadSecret {
                name: name.to_owned(),
                source,
            })?;
        Ok(secret.map(|secret| {
            self.ctx
                .secret_cache
                .remember_read(namespace, name, secret.clone());
            Arc::new(secret)
        }))
    }

    /// Input the user must fix: reported, not retried in a loop; a change to the credential or
    /// its Secrets triggers the next look.
    async fn bad_input(
        &self,
        reason: &'static str,
        message: &str,
        stored: Option<&StoredTokens>,
    ) -> Result<Action, Error> {
        let previous_reason = self.credential.ready_condition().map(|c| c.reason.as_str());
        if previous_reason != Some(reason) {
            warn!(reason, "{message}");
            self.publish(EventType::Warning, reason, message, "ReadInput")
                .await;
        }
        self.finish(Report {
            outcome: Outcome::Failed {
                reason,
                message,
                tokens: stored,
                attempt: false,
            },
            next_refresh: None,
            handled_request: false,
        })
        .await
    }

    /// Writes the status and says when to look again.
    async fn finish(&self, report: Report<'_>) -> Result<Action, Error> {
        let next = report.next_refresh;
        let status = self.write_status(report).await?;
        let requeue = match next {
            Some(at) => at.duration_since(self.now).unsigned_abs(),
            None if status.failed_attempts > 0 => crate::schedule::MAX_RETRY_DELAY,
            None => MAX_REQUEUE,
        };
        Ok(Action::requeue(
            requeue.clamp(Duration::from_millis(100), MAX_REQUEUE),
        ))
    }

    async fn write_status(
        &self,
        report: Report<'_>,
    ) -> Result<crate::credential::WetixCredentialStatus, Error> {
        let previous = self.credential.status.as_ref();
        let handled = match (&self.refresh_request, report.handled_request) {
            (Some(value), true) => value.clone(),
            _ => previous
                .map(|s| s.last_refresh_request.clone())
                .unwrap_or_default(),
        };
        let context = status::Context {
            previous,
            generation: self.credential.metadata.generation,
            secret_name: self.secret_name.clone(),
            next_refresh: report.next_refresh,
            last_refresh_request: handled,
            now: self.now,
        };
        let status = status::next_status(&context, report.outcome);
        self.ctx.metrics.credential(self.credential, &status);
        if previous == Some(&status) {
            return Ok(status);
        }
        let api: Api<WetixCredential> = Api::namespaced(
            self.ctx.client.clone(),
            self.credential
                .metadata
                .namespace
                .as_deref()
                .unwrap_or_default(),
        );
        let body = json!({
            "apiVersion": WetixCredential::api_version(&()),
            "kind": WetixCredential::kind(&()),
            "status": status,
        });
        let written = api
            .patch_status(
                &self.credential.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(Error::WriteStatus)?;
        let before = self.credential.metadata.resource_version.clone();
        if written.metadata.resource_version != before {
            self.ctx
                .remember(&self.uid, |m| m.superseded_version = before);
        }
        Ok(status)
    }

    fn previous_attempts(&self) -> u32 {
        self.credential
            .status
            .as_ref()
            .map_or(0, |s| s.failed_attempts)
    }

    /// The last failed token request, from status and memory.
    fn last_failure(&self) -> Option<LastFailure> {
        let status = self.credential.status.as_ref()?;
        let at = status.last_failure_time.as_ref()?.0;
        if status.failed_attempts == 0 {
            return None;
        }
        let kind = match self.credential.ready_condition().map(|c| c.reason.as_str()) {
            Some(reasons::INVALID_CLIENT | reasons::REAUTHORIZATION_REQUIRED) => {
                FailureKind::Rejected
            }
            Some(reasons::SERVER_UNAVAILABLE | reasons::INVALID_SERVER_RESPONSE) => {
                FailureKind::Transient
            }
            _ => return None,
        };
        let (retry_after, issued_for) = self
            .ctx
            .remember(&self.uid, |m| (m.retry_after, m.failed_issued_for.clone()));
        Some(LastFailure {
            attempts: status.failed_attempts,
            at,
            kind,
            retry_after,
            issued_for,
        })
    }

    /// Publishes an Event on the credential; a failure to publish is logged, never fatal.
    async fn publish(&self, type_: EventType, reason: &str, note: &str, action: &str) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note.chars().take(1000).collect()),
            action: action.to_owned(),
            secondary: None,
        };
        let reference = self.credential.object_ref(&());
        let recorder = Recorder::new(self.ctx.client.clone(), self.ctx.reporter.clone());
        if let Err(error) = recorder.publish(&event, &reference).await {
            warn!(error = %error_chain(&error), "publishing an Event failed");
        }
    }
}

/// An error and its causes, each once: "writing the status: ApiError: ...".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
