//! What one reconcile has read so far: the credential, its managed Secret, the referenced
//! Secrets and WeTix's answers. Plain data.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::{Memory, REFRESH_REQUESTED_AT, outcome::kind_of};
use crate::{
    credential::WetixCredential,
    managed_secret::{self, Existing},
    oauth::OAuthError,
    plan::LastFailure,
    reason::Reason,
    secret_cache::{self, Written},
    tokens::TokenPair,
};

/// The value of the credential's refresh annotation when it asks for a refresh not handled yet:
/// not empty, and not the last request its status says was handled.
pub fn pending_refresh_request(credential: &WetixCredential) -> Option<&str> {
    credential
        .annotations()
        .get(REFRESH_REQUESTED_AT)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && *v != last_handled_refresh_request(credential))
}

/// The refresh request the credential's status says was handled last (empty: none).
pub fn last_handled_refresh_request(credential: &WetixCredential) -> &str {
    credential
        .status
        .as_ref()
        .map(|s| s.last_refresh_request.as_str())
        .unwrap_or_default()
}

/// The managed Secret as this reconcile sees it.
#[derive(Clone, Debug)]
pub enum Seen {
    /// Read from the API server (absent: `None`).
    Read(Option<Box<Secret>>),
    /// Unchanged since our own last write.
    Written(Written),
}

impl Seen {
    pub fn existing(&self, credential: &WetixCredential) -> Existing {
        match self {
            Self::Read(secret) => managed_secret::inspect(secret.as_deref(), credential),
            Self::Written(written) => Existing::Valid(written.tokens.clone()),
        }
    }

    /// The resourceVersion seen, for a write's precondition.
    pub fn version(&self) -> Option<String> {
        match self {
            Self::Read(secret) => secret.as_ref()?.metadata.resource_version.clone(),
            Self::Written(written) => Some(written.resource_version.to_string()),
        }
    }

    /// Absent, or only claimed: no data written yet.
    pub(super) fn is_new(&self) -> bool {
        match self {
            Self::Read(None) => true,
            Self::Read(Some(secret)) => secret.data.as_ref().is_none_or(|d| d.is_empty()),
            Self::Written(_) => false,
        }
    }

    pub(super) fn exists(&self) -> bool {
        !matches!(self, Self::Read(None))
    }

    /// Whether `desired` differs from it in anything the operator owns.
    pub(super) fn needs_update(&self, desired: &Secret) -> bool {
        match self {
            Self::Read(Some(existing)) => managed_secret::needs_update(existing, desired),
            Self::Read(None) => true,
            Self::Written(written) => written.body != secret_cache::body_hash(desired),
        }
    }
}

/// Everything read so far in this reconcile. A referenced Secret is `None` until read, and
/// `Some(None)` when read and absent.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub credential: &'a WetixCredential,
    /// `None` until read.
    pub managed: Option<&'a Seen>,
    pub client_secret: Option<Option<&'a Secret>>,
    pub bootstrap_secret: Option<Option<&'a Secret>>,
    /// WeTix's answers to the requests decided so far, in order.
    pub answers: &'a [Result<TokenPair, OAuthError>],
    pub allowed_server_urls: &'a [String],
    pub now: Timestamp,
}

impl Observed<'_> {
    /// A new value of the refresh annotation, not handled yet.
    pub(super) fn refresh_request(&self) -> Option<&str> {
        pending_refresh_request(self.credential)
    }

    pub(super) fn previous_attempts(&self) -> u32 {
        self.credential
            .status
            .as_ref()
            .map_or(0, |s| s.failed_attempts)
    }

    /// The last failed token request, from status (its Ready reason and counters) and memory.
    pub(super) fn last_failure(&self, memory: &Memory) -> Option<LastFailure> {
        let credential = self.credential;
        let status = credential.status.as_ref()?;
        let at = status.last_failure_time.as_ref()?.0;
        if status.failed_attempts == 0 {
            return None;
        }
        let reason = Reason::parse(&credential.ready_condition()?.reason)?;
        Some(LastFailure {
            attempts: status.failed_attempts,
            at,
            kind: kind_of(reason.class())?,
            retry_after: memory.retry_after,
            issued_for: memory.failed_issued_for.clone(),
        })
    }
}
