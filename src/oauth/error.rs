//! Why a token request failed, as plain data: [`OAuthError`], with what an HTTP status
//! ([`status_error`]) and a `Retry-After` header ([`parse_retry_after`]) mean for it. Pure; the
//! HTTP edge only reads the status and the header and hands them over.

use std::{fmt, time::Duration};

use jiff::{SignedDuration, Timestamp};

use super::Grant;
use crate::{reason::Reason, tokens::InvalidResponse};

/// The longest `Retry-After` carried in an error. It only keeps absurd values (a date years
/// ahead) bounded; the schedule applies the contract's own, shorter cap to every retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// What kind of transient failure happened. Carries no URL, header or body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransientCause {
    /// No complete answer within the timeout.
    Timeout,
    /// No connection (refused, DNS, TLS handshake).
    Connect,
    /// The server answered 408, 429 or 5xx.
    Status(u16),
    /// Any other transport failure.
    Other,
}

impl fmt::Display for TransientCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Connect => f.write_str("could not connect"),
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::Other => f.write_str("transport error"),
        }
    }
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Network error, timeout, 408, 429, 5xx: retry with backoff.
    #[error("the WeTix OAuth server is unavailable ({cause})")]
    Transient {
        cause: TransientCause,
        retry_after: Option<Duration>,
    },
    /// 401/403 on the client-credentials call.
    #[error("the WeTix OAuth server rejected the client credentials (HTTP {status})")]
    ClientRejected { status: u16 },
    /// 400/401 on the refresh call: the refresh token is unusable.
    #[error("the WeTix OAuth server rejected the refresh token (HTTP {status})")]
    RefreshTokenRejected { status: u16 },
    /// 400 on the client-credentials call (e.g. the grant is not allowed for this client).
    #[error(
        "the WeTix OAuth server refused the client-credentials grant for this client (HTTP {status})"
    )]
    GrantNotAllowed { status: u16 },
    /// Any other non-2xx status.
    #[error("the WeTix OAuth server answered with unexpected HTTP status {status}")]
    UnexpectedStatus { status: u16 },
    /// 2xx with an unusable body.
    #[error("the WeTix OAuth server sent an unusable token answer")]
    InvalidResponse(#[from] InvalidResponse),
    /// The HTTP client could not be built, or the request not formed (e.g. an unparsable URL).
    /// The source is the HTTP client's own error, without the URL.
    #[error("could not set up the request to the WeTix OAuth server")]
    Setup(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl OAuthError {
    /// Short, bounded CamelCase reason shared by the status condition, the Event and the
    /// metric label.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Transient { .. } => Reason::ServerUnavailable,
            Self::ClientRejected { .. } => Reason::InvalidClient,
            Self::RefreshTokenRejected { .. } => Reason::RefreshTokenRejected,
            Self::GrantNotAllowed { .. } => Reason::ReauthorizationRequired,
            Self::UnexpectedStatus { .. } | Self::InvalidResponse(_) => {
                Reason::InvalidServerResponse
            }
            Self::Setup(_) => Reason::InternalError,
        }
    }

    /// The wait the server asked for, on a transient failure.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether retrying with backoff may succeed without anything changing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transient {
                cause: TransientCause::Status(status),
                ..
            }
            | Self::ClientRejected { status }
            | Self::RefreshTokenRejected { status }
            | Self::GrantNotAllowed { status }
            | Self::UnexpectedStatus { status } => Some(*status),
            _ => None,
        }
    }
}

/// What a non-2xx status means for this grant (contract §1 and §3); `None` for 2xx.
///
/// | status | client credentials | refresh |
/// |---|---|---|
/// | 408, 429, 5xx | `Transient` | `Transient` |
/// | 400 | `GrantNotAllowed` | `RefreshTokenRejected` |
/// | 401 | `ClientRejected` | `RefreshTokenRejected` |
/// | 403 | `ClientRejected` | `UnexpectedStatus` |
/// | other | `UnexpectedStatus` | `UnexpectedStatus` |
///
/// A 401 on refresh is taken as the refresh token's fault: the client-credentials call that
/// follows tells whether the client itself is refused. A 403 on refresh is not one the contract
/// names, so it is reported as unexpected rather than guessed at.
pub fn status_error(
    status: u16,
    grant: &Grant,
    retry_after: Option<Duration>,
) -> Option<OAuthError> {
    let refresh = matches!(grant, Grant::Refresh { .. });
    Some(match status {
        200..=299 => return None,
        408 | 429 | 500..=599 => OAuthError::Transient {
            cause: TransientCause::Status(status),
            retry_after,
        },
        400 | 401 if refresh => OAuthError::RefreshTokenRejected { status },
        401 | 403 if !refresh => OAuthError::ClientRejected { status },
        400 if !refresh => OAuthError::GrantNotAllowed { status },
        _ => OAuthError::UnexpectedStatus { status },
    })
}

/// The wait a `Retry-After` header asks for, in either of its forms: delay-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`, measured from `now`; a date already past asks for
/// no wait). Capped at [`MAX_RETRY_AFTER`]; `None` when the value is neither form.
///
/// Any header value gives an answer: a number of any length (`99999999999999999999`) is a very
/// long wait, so the cap; a date after the last `Timestamp` (`Fri, 31 Dec 9999 23:59:59 GMT`)
/// too; a sign, a fraction, a year past 9999 or anything else is neither form.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still a number, and a very large one.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let ahead = http_date(value)?.duration_since(now);
        Duration::try_from(ahead.max(SignedDuration::ZERO)).unwrap_or(MAX_RETRY_AFTER)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP-date (RFC 9110's IMF-fixdate, or the RFC 2822 dates it grew from). A well-formed
/// date in the last hours of 9999, after the last `Timestamp` (9999-12-30T22:00:00Z), is read
/// as that last `Timestamp`: it asks for a wait longer than any cap.
fn http_date(value: &str) -> Option<Timestamp> {
    if let Ok(at) = jiff::fmt::rfc2822::DateTimeParser::new()
        .relaxed_weekday(true)
        .parse_timestamp(value)
    {
        return Some(at);
    }
    let date = jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", value)
        .ok()?
        .to_datetime()
        .ok()?;
    let last = Timestamp::MAX.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    (date > last).then_some(Timestamp::MAX)
}

#[cfg(test)]
mod tests;
