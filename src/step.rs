//! One reconcile as a pure step: from what has been read so far (the credential, its managed
//! Secret, the referenced Secrets, WeTix's answers), what is remembered and the time, decide
//! what to do next. [`crate::reconcile`] carries the decision out and calls [`decide`] again
//! with what it learned, until the decision is to [`Act`]. Pure.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use crate::{
    client_secret,
    credential::{WetixCredential, WetixCredentialStatus},
    endpoint,
    managed_secret::{self, Existing, StoredTokens},
    oauth::{ClientCredentials, Endpoint, Grant, OAuthError, TokenRequest},
    plan::{self, FailureKind, LastFailure, Plan, Why},
    reason::{FailureClass, Notice, Reason},
    schedule::{self, Jitter},
    status::{self, Outcome},
    validate,
};

/// Annotation a user sets to a new value to ask for a refresh now.
pub const REFRESH_REQUESTED_AT: &str = "wetix.my/refresh-requested-at";

/// The longest the operator sleeps on a credential: a missed watch event is noticed within
/// the hour even when the next renewal is weeks away.
pub const MAX_REQUEUE: Duration = Duration::from_secs(3600);

/// How soon a reconcile handed a superseded version looks again, should the newer version's
/// watch event (which triggers a reconcile by itself) be slow to arrive.
pub const STALE_RETRY: Duration = Duration::from_secs(1);

/// The next thing to do.
#[derive(Debug)]
pub enum Decision {
    /// Read the managed Secret (from what was last written, if nobody changed it since),
    /// then decide again.
    ReadManaged,
    /// Read this Secret of the credential's namespace, then decide again.
    Read(String),
    /// Create the managed Secret as [`managed_secret::claim`] if it is still absent, then
    /// decide again with what is there.
    Claim,
    /// Ask WeTix, then decide again with the answer appended.
    Request(TokenRequest, Why),
    /// Carry these out in order; the reconcile ends.
    Act(Act),
}

/// The effects that end a reconcile, what to remember, and when to look again.
#[derive(Debug)]
pub struct Act {
    pub effects: Vec<Effect>,
    pub memory: Memory,
    /// `None`: only a change to the credential or its Secrets brings the next look.
    pub requeue: Option<Duration>,
}

/// A write of the managed Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Tokens just obtained (or still pending from a failed write). If the write fails, the
    /// rest is skipped and [`write_failed`] says what to remember.
    New(Pending),
    /// The tokens already there, restoring a Secret someone edited.
    Restore(StoredTokens),
}

#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Apply the managed Secret built from these tokens, if it is still at `version` (the
    /// one seen): a Secret changed meanwhile is read again rather than overwritten.
    WriteSecret {
        write: Write,
        version: Option<String>,
    },
    /// Publish an Event on the credential.
    Publish(Notice),
    /// Restart `spec.rolloutRestartTargets`.
    RestartWorkloads,
    /// Write this status (unless it equals the one read).
    WriteStatus(Box<WetixCredentialStatus>),
}

/// Decides the next step of a reconcile at `observed.now`.
pub fn decide(observed: &Observed<'_>, memory: &Memory) -> Decision {
    let credential = observed.credential;
    if memory.superseded_version.is_some()
        && memory.superseded_version == credential.metadata.resource_version
    {
        return Decision::Act(Act {
            effects: vec![],
            memory: memory.clone(),
            requeue: Some(STALE_RETRY),
        });
    }
    let jitter = Jitter::from_uid(&credential.uid().unwrap_or_default());
    // A spec that cannot be read or is refused is reported before any request is made: its
    // names would go into request paths.
    let absent = Seen::Read(None);
    let unread = Step {
        observed,
        memory,
        managed: &absent,
        jitter,
    };
    if let Some(problem) = &credential.spec.unreadable {
        let message = format!("the spec cannot be read: {problem}");
        return unread.bad_input(Reason::InvalidSpec, message, None);
    }
    if let Err(invalid) = validate::spec(credential) {
        return unread.bad_input(invalid.reason(), invalid.to_string(), None);
    }
    let Some(managed) = observed.managed else {
        return Decision::ReadManaged;
    };
    let step = Step {
        observed,
        memory,
        managed,
        jitter,
    };
    let existing = managed.existing(credential);
    let stored = match &existing {
        Existing::Valid(tokens) => Some(tokens),
        _ => None,
    };
    if existing == Existing::Foreign {
        let message = format!(
            "Secret {:?} exists and is not managed by this WetixCredential; it is left untouched",
            credential.secret_name()
        );
        return step.bad_input(Reason::SecretConflict, message, None);
    }
    if let Some(pending) = &memory.pending {
        if !managed.exists() {
            return Decision::Claim;
        }
        let mut memory = memory.clone();
        memory.pending = None;
        return step.store((**pending).clone(), memory);
    }
    let spec = &credential.spec;
    if spec.suspend {
        return step.act(
            vec![],
            Outcome::Suspended { tokens: stored },
            None,
            false,
            memory.clone(),
        );
    }
    let endpoint = match endpoint::resolve(&spec.server, observed.allowed_server_urls) {
        Ok(endpoint) => endpoint,
        Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
    };
    for (field, path) in [
        ("tokenPath", &endpoint.token_path),
        ("refreshPath", &endpoint.refresh_path),
    ] {
        if let Err(e) = endpoint::join(&endpoint.base_url, field, path) {
            return step.bad_input(e.reason(), e.to_string(), stored);
        }
    }
    let Some(client_secret) = observed.client_secret else {
        return Decision::Read(spec.client_secret_ref.name.clone());
    };
    let credentials =
        match client_secret::client_credentials(client_secret, &spec.client_secret_ref) {
            Ok(credentials) => credentials,
            Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
        };
    let bootstrap = match (&spec.refresh_token_secret_ref, stored) {
        (Some(reference), None) => {
            let Some(secret) = observed.bootstrap_secret else {
                return Decision::Read(reference.name.clone());
            };
            match client_secret::bootstrap_refresh_token(secret, reference) {
                Ok(token) => Some(token),
                Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
            }
        }
        _ => None,
    };
    let issued_for = managed_secret::issued_for(&endpoint, &credentials);
    let policy = spec.renew_policy();
    let last_failure = observed.last_failure(memory);
    let plan_input = plan::Observed {
        stored,
        issued_for: &issued_for,
        bootstrap_refresh_token: bootstrap.as_ref(),
        refresh_requested: observed.refresh_request().is_some(),
        last_failure: last_failure.as_ref(),
        policy: &policy,
        jitter: step.jitter,
    };
    match plan::plan(&plan_input, observed.now) {
        Plan::Keep { next_refresh } => {
            let Some(tokens) = stored else {
                return step.act(
                    vec![],
                    Outcome::Waiting { tokens: None },
                    None,
                    false,
                    memory.clone(),
                );
            };
            let desired = managed_secret::desired(credential, tokens);
            let effects = if managed.needs_update(&desired) {
                vec![Effect::WriteSecret {
                    write: Write::Restore(tokens.clone()),
                    version: managed.version(),
                }]
            } else {
                vec![]
            };
            step.act(
                effects,
                Outcome::Kept { tokens },
                Some(next_refresh),
                false,
                memory.clone(),
            )
        }
        Plan::Wait { until } => step.act(
            vec![],
            Outcome::Waiting { tokens: stored },
            Some(until),
            false,
            memory.clone(),
        ),
        Plan::Request { grant, why } => step.answered(
            Asked {
                endpoint,
                credentials,
                grant,
                why,
                issued_for,
            },
            stored,
        ),
    }
}

/// After the Kubernetes API refused or failed a read or write (`message` says which, in the
/// API server's words): Ready=False `KubernetesApiError` (its Event once), the token facts in
/// status kept, and a backoff: exponential from 5 s to 5 minutes, or sooner for tokens
/// waiting to be written ([`write_wait`]).
pub fn api_failed(
    credential: &WetixCredential,
    memory: Memory,
    message: &str,
    now: Timestamp,
) -> Act {
    let mut memory = memory;
    memory.api_failures = memory.api_failures.saturating_add(1);
    let jitter = Jitter::from_uid(&credential.uid().unwrap_or_default());
    let wait = match &memory.pending {
        Some(pending) => write_wait(pending.failed_writes),
        None => schedule::retry_delay(memory.api_failures, None, jitter),
    };
    let previous = credential.ready_condition().map(|c| c.reason.as_str());
    let mut effects = vec![];
    if previous != Some(Reason::KubernetesApiError.as_str()) {
        effects.push(Effect::Publish(Notice::warning(
            Reason::KubernetesApiError,
            message,
            "WriteSecret",
        )));
    }
    let previous_status = credential.status.as_ref();
    let context = status::Context {
        previous: previous_status,
        generation: credential.metadata.generation,
        secret_name: credential.secret_name(),
        next_refresh: jiff::SignedDuration::try_from(wait)
            .ok()
            .and_then(|w| now.checked_add(w).ok()),
        last_refresh_request: previous_status
            .map(|s| s.last_refresh_request.clone())
            .unwrap_or_default(),
        now,
    };
    let status = status::next_status(&context, Outcome::ApiFailed { message });
    effects.push(Effect::WriteStatus(Box::new(status)));
    Act {
        effects,
        memory,
        requeue: Some(wait),
    }
}

/// When to look again after a reconcile that says the next renewal (or retry) is at `next`.
/// A time already past means now.
pub fn requeue_after(next: Option<Timestamp>, failed_attempts: u32, now: Timestamp) -> Duration {
    let wait = match next {
        Some(at) => Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO),
        None if failed_attempts > 0 => schedule::MAX_RETRY_DELAY,
        None => MAX_REQUEUE,
    };
    wait.min(MAX_REQUEUE)
}

/// A request decided by the plan, with what its answer is stored under.
struct Asked {
    endpoint: Endpoint,
    credentials: ClientCredentials,
    grant: Grant,
    why: Why,
    issued_for: String,
}

/// One decision's view, shared by its branches.
struct Step<'o, 'a> {
    observed: &'o Observed<'a>,
    memory: &'o Memory,
    managed: &'o Seen,
    jitter: Jitter,
}

impl Step<'_, '_> {
    /// Asks WeTix, or acts on its answer. A rejected refresh token is replaced through
    /// client credentials at once.
    fn answered(&self, asked: Asked, stored: Option<&StoredTokens>) -> Decision {
        let request = |grant: Grant| {
            Decision::Request(
                TokenRequest {
                    endpoint: asked.endpoint.clone(),
                    credentials: asked.credentials.clone(),
                    grant,
                },
                asked.why,
            )
        };
        let answers = self.observed.answers;
        let (grant, answer) = match answers {
            [] if !self.managed.exists() => return Decision::Claim,
            [] => return request(asked.grant),
            [Err(OAuthError::RefreshTokenRejected { .. })]
                if matches!(asked.grant, Grant::Refresh { .. }) =>
            {
                return request(Grant::ClientCredentials);
            }
            [answer] => (&asked.grant, answer),
            [.., answer] => (&Grant::ClientCredentials, answer),
        };
        let mut memory = self.memory.clone();
        match answer {
            Ok(pair) => {
                memory.retry_after = None;
                memory.failed_issued_for = None;
                let reason = if matches!(grant, Grant::Refresh { .. }) {
                    Reason::TokenRefreshed
                } else {
                    Reason::TokenIssued
                };
                let tokens = StoredTokens {
                    pair: pair.clone(),
                    issued_for: asked.issued_for,
                };
                let pending = Pending {
                    tokens,
                    reason,
                    failed_writes: 0,
                };
                self.store(pending, memory)
            }
            Err(error) => {
                memory.retry_after = error.retry_after();
                memory.failed_issued_for = Some(asked.issued_for);
                let reason = error.reason();
                let message = error.to_string();
                let failure = LastFailure {
                    attempts: self.observed.previous_attempts().saturating_add(1),
                    at: self.observed.now,
                    kind: kind_of(reason.class()).unwrap_or(FailureKind::Transient),
                    retry_after: error.retry_after(),
                    issued_for: None,
                };
                let retry = plan::retry_at(&failure, self.jitter);
                let notice = Notice::warning(reason, &message, "RequestToken");
                let outcome = Outcome::Failed {
                    reason,
                    message: &message,
                    tokens: stored,
                    attempt: true,
                };
                self.act(
                    vec![Effect::Publish(notice)],
                    outcome,
                    Some(retry),
                    true,
                    memory,
                )
            }
        }
    }

    /// Writes new tokens; then their Event, the restarts and the status.
    fn store(&self, pending: Pending, memory: Memory) -> Decision {
        let credential = self.observed.credential;
        let reason = pending.reason;
        let tokens = pending.tokens.clone();
        let note = format!(
            "tokens {} and written to Secret {:?}{}; access token valid until {}",
            reason.verb(),
            credential.secret_name(),
            if self.managed.is_new() {
                " (created)"
            } else {
                ""
            },
            managed_secret::rfc3339(tokens.pair.access.expires_at),
        );
        let mut effects = vec![
            Effect::WriteSecret {
                write: Write::New(pending),
                version: self.managed.version(),
            },
            Effect::Publish(Notice::normal(reason, &note, "WriteSecret")),
        ];
        if !credential.spec.rollout_restart_targets.is_empty() {
            effects.push(Effect::RestartWorkloads);
        }
        let next = plan::next_renewal(&tokens, &credential.spec.renew_policy(), self.jitter);
        let outcome = Outcome::Renewed {
            tokens: &tokens,
            reason,
        };
        self.act(effects, outcome, Some(next), true, memory)
    }

    /// Input the user must fix: reported (its Event once per reason), not retried in a loop;
    /// a change to the credential or its Secrets triggers the next look.
    fn bad_input(
        &self,
        reason: Reason,
        message: String,
        stored: Option<&StoredTokens>,
    ) -> Decision {
        let previous = self.observed.credential.ready_condition();
        let effects = if previous.map(|c| c.reason.as_str()) == Some(reason.as_str()) {
            vec![]
        } else {
            vec![Effect::Publish(Notice::warning(
                reason,
                &message,
                "ReadInput",
            ))]
        };
        let outcome = Outcome::Failed {
            reason,
            message: &message,
            tokens: stored,
            attempt: false,
        };
        self.act(effects, outcome, None, false, self.memory.clone())
    }

    /// Ends the reconcile with `effects`, then the status for `outcome`.
    fn act(
        &self,
        mut effects: Vec<Effect>,
        outcome: Outcome<'_>,
        next_refresh: Option<Timestamp>,
        handles_request: bool,
        memory: Memory,
    ) -> Decision {
        let credential = self.observed.credential;
        let previous = credential.status.as_ref();
        let last_refresh_request = match (self.observed.refresh_request(), handles_request) {
            (Some(value), true) => value.to_owned(),
            _ => previous
                .map(|s| s.last_refresh_request.clone())
                .unwrap_or_default(),
        };
        let context = status::Context {
            previous,
            generation: credential.metadata.generation,
            secret_name: credential.secret_name(),
            next_refresh,
            last_refresh_request,
            now: self.observed.now,
        };
        let suspended = matches!(outcome, Outcome::Suspended { .. });
        let status = status::next_status(&context, outcome);
        let requeue = (!suspended)
            .then(|| requeue_after(next_refresh, status.failed_attempts, self.observed.now));
        effects.push(Effect::WriteStatus(Box::new(status)));
        Decision::Act(Act {
            effects,
            memory,
            requeue,
        })
    }
}

/// How a failed request of this class is retried; `None` for what is not a failed request.
fn kind_of(class: FailureClass) -> Option<FailureKind> {
    match class {
        FailureClass::RejectedClient => Some(FailureKind::Rejected),
        FailureClass::Transient | FailureClass::InvalidAnswer => Some(FailureKind::Transient),
        FailureClass::None | FailureClass::RejectedRefreshToken | FailureClass::BadInput => None,
    }
}

mod memory;
mod observed;

pub use memory::{FIRST_WRITE_RETRY, MAX_WRITE_RETRY, Memory, Pending, write_failed, write_wait};
pub use observed::{Observed, Seen};

#[cfg(test)]
mod tests;
