//! What the credential's status says after a reconcile: built whole, as a value, from the
//! previous status and the outcome, then written in one call. Pure.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::{
    credential::WetixCredentialStatus,
    managed_secret::{StoredTokens, rfc3339},
    reason::{FailureClass, Reason},
};

pub const READY: &str = "Ready";

/// How this reconcile ended, as far as the status is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// New tokens were obtained and written. `reason` is TokenIssued or TokenRefreshed.
    Renewed {
        tokens: &'a StoredTokens,
        reason: Reason,
    },
    /// The tokens in the Secret are valid and were kept.
    Kept { tokens: &'a StoredTokens },
    /// Something failed. `tokens` are what the Secret still holds, untouched.
    Failed {
        reason: Reason,
        message: &'a str,
        tokens: Option<&'a StoredTokens>,
        /// A failed token request (counted for backoff), rather than bad input.
        attempt: bool,
    },
    /// Backing off after a failed request: the Ready condition stays as the failure left it.
    Waiting { tokens: Option<&'a StoredTokens> },
    /// `spec.suspend`: no calls; the Secret is left as it is.
    Suspended { tokens: Option<&'a StoredTokens> },
    /// The Kubernetes API refused or failed a read or write. What status said about the
    /// tokens stays: the Secret was not changed.
    ApiFailed { message: &'a str },
}

/// Everything the status needs besides the outcome.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub previous: Option<&'a WetixCredentialStatus>,
    pub generation: Option<i64>,
    pub secret_name: String,
    pub next_refresh: Option<Timestamp>,
    /// The value of `wetix.my/refresh-requested-at` handled so far.
    pub last_refresh_request: String,
    pub now: Timestamp,
}

/// The whole status after a reconcile.
pub fn next_status(context: &Context<'_>, outcome: Outcome<'_>) -> WetixCredentialStatus {
    // A status that could not be read is overwritten as if there were none.
    let previous = context
        .previous
        .filter(|p| p.unreadable.is_none())
        .cloned()
        .unwrap_or_default();
    let (ready, reason, message, tokens) = match outcome {
        Outcome::Renewed { tokens, reason } => {
            ("True", reason, valid_message(tokens), Some(tokens))
        }
        Outcome::Kept { tokens } => {
            let reason = match previous_ready(&previous) {
                Some(c) if c.status == "True" => reason_of(&c.reason),
                _ => Reason::TokenValid,
            };
            ("True", reason, valid_message(tokens), Some(tokens))
        }
        Outcome::Failed {
            reason,
            message,
            tokens,
            ..
        } => (
            "False",
            reason,
            failed_message(message, tokens, context.now),
            tokens,
        ),
        Outcome::Waiting { tokens } => match previous_ready(&previous) {
            Some(c) => (
                if c.status == "True" { "True" } else { "False" },
                failure_reason(&c.reason),
                c.message.clone(),
                tokens,
            ),
            None => ("Unknown", Reason::ServerUnavailable, String::new(), tokens),
        },
        Outcome::ApiFailed { message } => (
            "False",
            Reason::KubernetesApiError,
            message.to_owned(),
            None,
        ),
        Outcome::Suspended { tokens } => (
            "False",
            Reason::Suspended,
            "spec.suspend is true: no calls to WeTix, the Secret is left as it is".to_owned(),
            tokens,
        ),
    };

    let (failed_attempts, last_failure_time) = match outcome {
        Outcome::Failed { attempt: true, .. } => (
            previous.failed_attempts.saturating_add(1),
            Some(Time(failure_time(context.now))),
        ),
        Outcome::Failed { attempt: false, .. }
        | Outcome::ApiFailed { .. }
        | Outcome::Suspended { .. }
        | Outcome::Waiting { .. } => (previous.failed_attempts, previous.last_failure_time.clone()),
        Outcome::Renewed { .. } | Outcome::Kept { .. } => (0, None),
    };

    let last_refresh_time = match outcome {
        Outcome::Renewed { tokens, .. } => Some(Time(seconds(tokens.pair.access.issued_at))),
        _ => previous.last_refresh_time.clone(),
    };

    let keeps_tokens = matches!(outcome, Outcome::ApiFailed { .. });
    let token_time = |ours: Option<Time>, before: &Option<Time>| {
        if keeps_tokens { before.clone() } else { ours }
    };
    WetixCredentialStatus {
        observed_generation: context.generation,
        conditions: vec![ready_condition(
            previous_ready(&previous),
            ready,
            reason,
            message,
            context,
        )],
        secret_name: Some(context.secret_name.clone()),
        access_token_expires_at: token_time(
            tokens.map(|t| Time(seconds(t.pair.access.expires_at))),
            &previous.access_token_expires_at,
        ),
        refresh_token_expires_at: token_time(
            tokens.map(|t| Time(seconds(t.pair.refresh.expires_at))),
            &previous.refresh_token_expires_at,
        ),
        last_refresh_time,
        next_refresh_time: context.next_refresh.map(|t| Time(seconds(t))),
        failed_attempts,
        last_failure_time,
        last_refresh_request: context.last_refresh_request.clone(),
        unreadable: None,
        token_fingerprint: if keeps_tokens {
            previous.token_fingerprint.clone()
        } else {
            tokens.map(|t| t.pair.fingerprint())
        },
    }
}

/// The reason of a status's Ready condition, if it is one the operator gives.
pub fn ready_reason(status: &WetixCredentialStatus) -> Option<Reason> {
    previous_ready(status).and_then(|c| Reason::parse(&c.reason))
}

fn previous_ready(status: &WetixCredentialStatus) -> Option<&Condition> {
    status.conditions.iter().find(|c| c.type_ == READY)
}

/// A stored Ready reason read back for a kept token: a renewal's reason stays, anything else
/// (including what someone else wrote) becomes `TokenValid`.
fn reason_of(stored: &str) -> Reason {
    match Reason::parse(stored) {
        Some(reason) if reason.renewed() => reason,
        _ => Reason::TokenValid,
    }
}

/// A stored failure reason read back while waiting: a failed request's reason stays,
/// anything else becomes `ServerUnavailable`.
fn failure_reason(stored: &str) -> Reason {
    match Reason::parse(stored) {
        Some(reason)
            if matches!(
                reason.class(),
                FailureClass::RejectedClient | FailureClass::InvalidAnswer
            ) || reason == Reason::ServerUnavailable =>
        {
            reason
        }
        _ => Reason::ServerUnavailable,
    }
}

/// The Ready condition; its lastTransitionTime moves only when its status changes.
fn ready_condition(
    previous: Option<&Condition>,
    status: &str,
    reason: Reason,
    message: String,
    context: &Context<'_>,
) -> Condition {
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(seconds(context.now)),
    };
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: reason.as_str().into(),
        message,
        last_transition_time,
        observed_generation: context.generation,
    }
}

fn valid_message(tokens: &StoredTokens) -> String {
    format!(
        "access token valid until {}, refresh token until {}",
        rfc3339(tokens.pair.access.expires_at),
        rfc3339(tokens.pair.refresh.expires_at)
    )
}

fn failed_message(message: &str, tokens: Option<&StoredTokens>, now: Timestamp) -> String {
    match tokens {
        Some(t) if !t.pair.access.is_expired(now) => format!(
            "{message}; the Secret keeps the current access token, valid until {}",
            rfc3339(t.pair.access.expires_at)
        ),
        _ => message.to_owned(),
    }
}

/// When a failure is recorded as having happened: `now` rounded up to the whole second status
/// keeps, so that a backoff read back from status never ends early.
pub fn failure_time(now: Timestamp) -> Timestamp {
    let floored = seconds(now);
    if floored < now {
        floored
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap_or(floored)
    } else {
        floored
    }
}

/// Whole seconds: the precision of every time in status.
fn seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests;
