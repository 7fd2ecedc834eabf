//! How a decision ends: a token answer, new tokens to write, input the user must fix, or an
//! API failure, each turned into its effects, the status that follows and when to look again.
//! Pure.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

/// At most one rollout restart per credential in this time: requested refreshes cannot
/// become a restart storm of the workloads that opted in.
pub const ROLLOUT_MIN_INTERVAL: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

use super::{
    Act, Decision, Effect, MAX_REQUEUE, Memory, Observed, Pending, Seen, Write, write_wait,
};
use crate::{
    credential::WetixCredential,
    managed_secret::{self, StoredTokens},
    oauth::{ClientCredentials, Endpoint, Grant, OAuthError, TokenRequest},
    plan::{self, FailureKind, LastFailure, Why},
    reason::{FailureClass, Notice, Reason},
    schedule::{self, Jitter},
    status::{self, Outcome},
};

/// After the Kubernetes API refused or failed a read or write (`message` says which, in the
/// API server's words): Ready=False `KubernetesApiError` (its Event once), the token facts in
/// status kept, and a backoff: exponential from 5 s to 5 minutes, or sooner for tokens
/// waiting to be written ([`write_wait`]).
pub fn api_failed(
    credential: &WetixCredential,
    memory: Memory,
    message: &str,
    action: &'static str,
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
            action,
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
pub(super) struct Asked {
    pub(super) endpoint: Endpoint,
    pub(super) credentials: ClientCredentials,
    pub(super) grant: Grant,
    pub(super) why: Why,
    pub(super) issued_for: String,
}

/// One decision's view, shared by its branches.
pub(super) struct Step<'o, 'a> {
    pub(super) observed: &'o Observed<'a>,
    pub(super) memory: &'o Memory,
    pub(super) managed: &'o Seen,
    pub(super) jitter: Jitter,
}

impl Step<'_, '_> {
    /// Asks WeTix, or acts on its answer. A rejected refresh token is replaced through
    /// client credentials at once.
    pub(super) fn answered(&self, asked: Asked, stored: Option<&StoredTokens>) -> Decision {
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
                    at: status::failure_time(self.observed.now),
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
    pub(super) fn store(&self, pending: Pending, mut memory: Memory) -> Decision {
        let credential = self.observed.credential;
        let reason = pending.reason;
        let tokens = pending.tokens.clone();
        memory.unreported = Some(reason);
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
            let now = self.observed.now;
            match memory.last_restart {
                Some(last) if now < last.saturating_add(ROLLOUT_MIN_INTERVAL).unwrap_or(last) => {
                    let note = format!(
                        "rollout targets not restarted: the last restart was at {}, less than {} s ago",
                        managed_secret::rfc3339(last),
                        ROLLOUT_MIN_INTERVAL.as_secs()
                    );
                    effects.push(Effect::Publish(Notice::normal(
                        Reason::RolloutRestartSkipped,
                        &note,
                        "RestartWorkload",
                    )));
                }
                _ => {
                    memory.last_restart = Some(now);
                    effects.push(Effect::RestartWorkloads);
                }
            }
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
    pub(super) fn bad_input(
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
    pub(super) fn act(
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
pub(super) fn kind_of(class: FailureClass) -> Option<FailureKind> {
    match class {
        FailureClass::RejectedClient => Some(FailureKind::Rejected),
        FailureClass::Transient | FailureClass::InvalidAnswer => Some(FailureKind::Transient),
        FailureClass::None | FailureClass::RejectedRefreshToken | FailureClass::BadInput => None,
    }
}
