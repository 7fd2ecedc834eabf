//! The decision at the heart of every reconcile: given what is observed and the time, keep the
//! tokens, ask WeTix for new ones (and with which grant), or wait after a failure. Pure.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::{
    managed_secret::StoredTokens,
    oauth::Grant,
    schedule::{self, Jitter, RenewPolicy},
    sensitive::Sensitive,
};

/// Everything the decision depends on.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// Valid tokens read back from the managed Secret.
    pub stored: Option<&'a StoredTokens>,
    /// [`crate::managed_secret::issued_for`] of the current server and client credentials.
    pub issued_for: &'a str,
    /// A refresh token from `spec.refreshTokenSecretRef`, used when there are no tokens yet.
    pub bootstrap_refresh_token: Option<&'a Sensitive>,
    /// `wetix.my/refresh-requested-at` carries a value not handled yet.
    pub refresh_requested: bool,
    /// The last failed token request, if the last attempt failed.
    pub last_failure: Option<&'a LastFailure>,
    pub policy: &'a RenewPolicy,
    pub jitter: Jitter,
}

/// A failed token request, as status (and, while the process lives, memory) remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastFailure {
    /// Consecutive failed attempts, from `status.failedAttempts`.
    pub attempts: u32,
    pub at: Timestamp,
    pub kind: FailureKind,
    /// The server's `Retry-After`, when it sent one (not kept across restarts).
    pub retry_after: Option<Duration>,
    /// `issued_for` of the credentials that failed, when known; a change retries at once.
    pub issued_for: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Network, timeout, 408, 429, 5xx, or an unusable answer: exponential backoff.
    Transient,
    /// The server refused the client credentials: at most every five minutes.
    Rejected,
}

/// Why tokens are requested now; shown in Events and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// No usable tokens in the Secret (first issue, Secret deleted or damaged).
    NoTokens,
    /// The client Secret's values or `spec.server` changed since the tokens were issued.
    CredentialsChanged,
    /// `wetix.my/refresh-requested-at` was set to a new value.
    RefreshRequested,
    /// The refresh token reached its renewal time: a fresh pair is due.
    RefreshTokenDue,
    /// The access token reached its renewal time.
    AccessTokenDue,
}

impl Why {
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoTokens => "no usable tokens in the managed Secret",
            Self::CredentialsChanged => "the client credentials or server changed",
            Self::RefreshRequested => "a refresh was requested",
            Self::RefreshTokenDue => "the refresh token is due for replacement",
            Self::AccessTokenDue => "the access token is due for renewal",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The tokens are good until `next_refresh`.
    Keep { next_refresh: Timestamp },
    /// Ask WeTix now.
    Request { grant: Grant, why: Why },
    /// The last attempt failed; try again at `until`.
    Wait { until: Timestamp },
}

/// Decides what to do at `now`.
pub fn plan(observed: &Observed<'_>, now: Timestamp) -> Plan {
    if let Some(until) = backoff_until(observed, now) {
        return Plan::Wait { until };
    }
    let Some(stored) = observed.stored else {
        let grant = match observed.bootstrap_refresh_token {
            Some(token) => Grant::Refresh {
                refresh_token: token.clone(),
                current: None,
            },
            None => Grant::ClientCredentials,
        };
        return request(grant, Why::NoTokens);
    };
    if stored.issued_for != observed.issued_for {
        return request(Grant::ClientCredentials, Why::CredentialsChanged);
    }
    let (access_due, refresh_due) = renewal_times(stored, observed.policy, observed.jitter);
    if now >= refresh_due {
        return request(Grant::ClientCredentials, Why::RefreshTokenDue);
    }
    let refresh = || Grant::Refresh {
        refresh_token: stored.pair.refresh_token.clone(),
        current: Some(stored.pair.refresh),
    };
    if observed.refresh_requested {
        return request(refresh(), Why::RefreshRequested);
    }
    if now >= access_due {
        return request(refresh(), Why::AccessTokenDue);
    }
    Plan::Keep {
        next_refresh: access_due.min(refresh_due),
    }
}

/// When the access token and the refresh token each fall due.
fn renewal_times(
    stored: &StoredTokens,
    policy: &RenewPolicy,
    jitter: Jitter,
) -> (Timestamp, Timestamp) {
    (
        schedule::renew_at(stored.pair.access, policy, jitter),
        schedule::renew_at(stored.pair.refresh, policy, jitter),
    )
}

/// The next time either token of a pair falls due: when a fresh pair is next looked at.
pub fn next_renewal(stored: &StoredTokens, policy: &RenewPolicy, jitter: Jitter) -> Timestamp {
    let (access_due, refresh_due) = renewal_times(stored, policy, jitter);
    access_due.min(refresh_due)
}

fn request(grant: Grant, why: Why) -> Plan {
    Plan::Request { grant, why }
}

/// How far ahead of `now` a failure's time may be and still be believed: clocks of two
/// replicas differ by seconds, not by more than a whole retry wait.
pub const FAILURE_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(5 * 60);

/// When the last failure says to try again, if that is still ahead. A manual refresh request
/// or a change of credentials since the failure retries at once.
///
/// So does a failure more than [`FAILURE_CLOCK_SKEW`] in the future (an edited status, a clock
/// far off): its wait would end only after that time, up to the year 9999, and the credential
/// would never be renewed meanwhile. Retrying once is cheap, and records a failure at `now`.
fn backoff_until(observed: &Observed<'_>, now: Timestamp) -> Option<Timestamp> {
    let failure = observed.last_failure?;
    if observed.refresh_requested {
        return None;
    }
    let latest_believed = now
        .checked_add(FAILURE_CLOCK_SKEW)
        .unwrap_or(Timestamp::MAX);
    if failure.at > latest_believed {
        return None;
    }
    if failure
        .issued_for
        .as_deref()
        .is_some_and(|f| f != observed.issued_for)
    {
        return None;
    }
    let until = retry_at(failure, observed.jitter);
    (now < until).then_some(until)
}

/// When a failed request may be tried again: five minutes after rejected credentials,
/// exponential backoff (honouring `Retry-After`) after anything else.
///
/// A failure time so close to `Timestamp::MAX` (status can say anything) that the wait runs
/// past it retries at `Timestamp::MAX`: the latest time there is, never a panic.
pub fn retry_at(failure: &LastFailure, jitter: Jitter) -> Timestamp {
    let delay = match failure.kind {
        FailureKind::Rejected => schedule::CLIENT_REJECTED_RETRY,
        FailureKind::Transient => {
            schedule::retry_delay(failure.attempts.max(1), failure.retry_after, jitter)
        }
    };
    let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
    failure.at.checked_add(delay).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests;
