//! Every reason the operator gives: the Ready condition's, the Events', the metrics' and the
//! logs'. One enum, so a new reason is one variant and the compiler finds every place that must
//! say something about it; and the Event notice that carries one. Pure.

use std::fmt;

/// A reason, CamelCase as Kubernetes conditions and Events want it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A fresh pair came from the client-credentials grant.
    TokenIssued,
    /// The refresh grant renewed the pair.
    TokenRefreshed,
    /// Valid tokens are in place and nothing had to be requested (e.g. after a restart).
    TokenValid,
    ClientSecretNotFound,
    ClientSecretKeyMissing,
    InvalidSpec,
    ServerNotAllowed,
    /// WeTix refused the client id and secret.
    InvalidClient,
    ServerUnavailable,
    InvalidServerResponse,
    /// WeTix refused the client-credentials grant for this client.
    ReauthorizationRequired,
    /// WeTix refused the refresh token. Never reaches status: a fresh pair is requested with
    /// client credentials at once, and that request's outcome is what the user sees.
    RefreshTokenRejected,
    /// The request to WeTix could not be formed (e.g. a URL the HTTP client refuses).
    InternalError,
    SecretConflict,
    Suspended,
    /// Event: the workloads of `spec.rolloutRestartTargets` were restarted.
    RolloutRestarted,
    /// Event: a rollout target could not be restarted.
    RolloutRestartFailed,
    /// Event: the rollout targets were restarted less than a minute ago; not again yet.
    RolloutRestartSkipped,
    /// The Kubernetes API refused or failed a read or write; retried.
    KubernetesApiError,
}

/// How a failure is retried, and what the user has to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Not a failure.
    None,
    /// Network, timeout, 408, 429, 5xx, a request that could not be formed, an API error:
    /// exponential backoff.
    Transient,
    /// WeTix refused the client credentials or the grant: at most every five minutes.
    RejectedClient,
    /// WeTix refused the refresh token: a fresh pair with client credentials, at once.
    RejectedRefreshToken,
    /// The user's input (spec, referenced Secrets, the managed Secret's owner) must change:
    /// no retry until it does.
    BadInput,
    /// WeTix answered 2xx with something unusable, or an unexpected status: exponential backoff.
    InvalidAnswer,
}

impl Reason {
    /// Every reason, for tables and round-trip tests.
    pub const ALL: [Reason; 19] = [
        Self::TokenIssued,
        Self::TokenRefreshed,
        Self::TokenValid,
        Self::ClientSecretNotFound,
        Self::ClientSecretKeyMissing,
        Self::InvalidSpec,
        Self::ServerNotAllowed,
        Self::InvalidClient,
        Self::ServerUnavailable,
        Self::InvalidServerResponse,
        Self::ReauthorizationRequired,
        Self::RefreshTokenRejected,
        Self::InternalError,
        Self::SecretConflict,
        Self::Suspended,
        Self::RolloutRestarted,
        Self::RolloutRestartFailed,
        Self::RolloutRestartSkipped,
        Self::KubernetesApiError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenIssued => "TokenIssued",
            Self::TokenRefreshed => "TokenRefreshed",
            Self::TokenValid => "TokenValid",
            Self::ClientSecretNotFound => "ClientSecretNotFound",
            Self::ClientSecretKeyMissing => "ClientSecretKeyMissing",
            Self::InvalidSpec => "InvalidSpec",
            Self::ServerNotAllowed => "ServerNotAllowed",
            Self::InvalidClient => "InvalidClient",
            Self::ServerUnavailable => "ServerUnavailable",
            Self::InvalidServerResponse => "InvalidServerResponse",
            Self::ReauthorizationRequired => "ReauthorizationRequired",
            Self::RefreshTokenRejected => "RefreshTokenRejected",
            Self::InternalError => "InternalError",
            Self::SecretConflict => "SecretConflict",
            Self::Suspended => "Suspended",
            Self::RolloutRestarted => "RolloutRestarted",
            Self::RolloutRestartFailed => "RolloutRestartFailed",
            Self::RolloutRestartSkipped => "RolloutRestartSkipped",
            Self::KubernetesApiError => "KubernetesApiError",
        }
    }

    /// The reason a stored string names, e.g. the Ready condition read back from status.
    /// Anything else (written by someone else, or by another version) is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn class(self) -> FailureClass {
        match self {
            Self::TokenIssued
            | Self::TokenRefreshed
            | Self::TokenValid
            | Self::Suspended
            | Self::RolloutRestarted
            | Self::RolloutRestartSkipped => FailureClass::None,
            Self::ServerUnavailable
            | Self::InternalError
            | Self::KubernetesApiError
            | Self::RolloutRestartFailed => FailureClass::Transient,
            Self::InvalidClient | Self::ReauthorizationRequired => FailureClass::RejectedClient,
            Self::RefreshTokenRejected => FailureClass::RejectedRefreshToken,
            Self::ClientSecretNotFound
            | Self::ClientSecretKeyMissing
            | Self::InvalidSpec
            | Self::ServerNotAllowed
            | Self::SecretConflict => FailureClass::BadInput,
            Self::InvalidServerResponse => FailureClass::InvalidAnswer,
        }
    }

    /// Whether new tokens were written under this reason.
    pub fn renewed(self) -> bool {
        matches!(self, Self::TokenIssued | Self::TokenRefreshed)
    }

    /// The word an Event uses for the renewal this reason names.
    pub fn verb(self) -> &'static str {
        match self {
            Self::TokenIssued => "issued",
            _ => "refreshed",
        }
    }
}

/// An Event to publish on the credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub reason: Reason,
    /// At most [`Notice::MAX_NOTE`] characters.
    pub note: String,
    /// What the operator was doing, e.g. `WriteSecret`.
    pub action: &'static str,
}

impl Notice {
    /// Kubernetes refuses longer Event notes.
    pub const MAX_NOTE: usize = 1000;

    pub fn normal(reason: Reason, note: &str, action: &'static str) -> Self {
        Self::new(false, reason, note, action)
    }

    pub fn warning(reason: Reason, note: &str, action: &'static str) -> Self {
        Self::new(true, reason, note, action)
    }

    fn new(warning: bool, reason: Reason, note: &str, action: &'static str) -> Self {
        Self {
            warning,
            reason,
            note: note.chars().take(Self::MAX_NOTE).collect(),
            action,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_through_its_string() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            assert_eq!(reason.to_string(), reason.as_str());
        }
        assert_eq!(Reason::parse("tokenissued"), None);
        assert_eq!(Reason::parse("Something someone else wrote"), None);
        assert_eq!(Reason::parse(""), None);
    }

    #[test]
    fn reasons_are_camel_case_and_distinct() {
        let mut names: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 19, "{names:?}");
        for name in names {
            assert!(name.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
        }
    }

    #[test]
    fn every_reason_is_documented_in_the_reference() {
        let reference = include_str!("../docs/reference.md");
        for reason in Reason::ALL {
            assert!(
                reference.contains(&format!("`{reason}`"))
                    || reference.contains(&format!(" {reason},")),
                "{reason} is not in docs/reference.md"
            );
        }
    }

    #[test]
    fn each_reason_has_its_failure_class() {
        let table = [
            (Reason::TokenIssued, FailureClass::None),
            (Reason::TokenValid, FailureClass::None),
            (Reason::Suspended, FailureClass::None),
            (Reason::ServerUnavailable, FailureClass::Transient),
            (Reason::InternalError, FailureClass::Transient),
            (Reason::InvalidClient, FailureClass::RejectedClient),
            (
                Reason::ReauthorizationRequired,
                FailureClass::RejectedClient,
            ),
            (
                Reason::RefreshTokenRejected,
                FailureClass::RejectedRefreshToken,
            ),
            (Reason::ClientSecretNotFound, FailureClass::BadInput),
            (Reason::ServerNotAllowed, FailureClass::BadInput),
            (Reason::SecretConflict, FailureClass::BadInput),
            (Reason::InvalidServerResponse, FailureClass::InvalidAnswer),
        ];
        for (reason, class) in table {
            assert_eq!(reason.class(), class, "{reason}");
        }
    }
}
