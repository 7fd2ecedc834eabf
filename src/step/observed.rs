//! What one reconcile has read so far: the credential, its managed Secret, the referenced
//! Secrets and WeTix's answers. Plain data.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;

use crate::{
    credential::WetixCredential,
    managed_secret::{self, Existing},
    oauth::OAuthError,
    secret_cache::{self, Written},
    tokens::TokenPair,
};

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
    pub managed: &'a Seen,
    pub client_secret: Option<Option<&'a Secret>>,
    pub bootstrap_secret: Option<Option<&'a Secret>>,
    /// WeTix's answers to the requests decided so far, in order.
    pub answers: &'a [Result<TokenPair, OAuthError>],
    pub allowed_server_urls: &'a [String],
    pub now: Timestamp,
}
