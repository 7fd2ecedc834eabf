//! The token pair as plain data: what WeTix issued, and when each token stops working.
//!
//! How an answer becomes a pair, in the order the data flows:
//! - [`response`]: the answer's JSON, parsed field by field, and why it may be unusable.
//! - [`jwt`]: the `exp` and `iat` a token carries, when it is a JWT.
//! - [`lifetime`]: the rule that turns an answer into a [`TokenPair`] with its expiries.

pub mod jwt;
pub mod lifetime;
pub mod response;

pub use jwt::{JwtTimes, jwt_times};
pub use lifetime::{KnownRefresh, token_pair_from_response};
pub use response::{InvalidResponse, TokenResponse};

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::sensitive::Sensitive;

/// When a token was issued and when it expires, both as the operator reckons them
/// (see the contract: expiry = min(sent + expires_in, the JWT's `exp`)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Lifetime {
    /// `expires_at - issued_at`; zero when the two are out of order.
    pub fn length(&self) -> SignedDuration {
        self.expires_at
            .duration_since(self.issued_at)
            .max(SignedDuration::ZERO)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

/// An access token and a refresh token with their lifetimes.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenPair {
    pub access_token: AccessToken,
    pub refresh_token: Sensitive,
    pub access: Lifetime,
    pub refresh: Lifetime,
}

impl TokenPair {
    /// The first 16 hex digits of SHA-256(access_token): identifies a token without revealing it.
    pub fn fingerprint(&self) -> String {
        self.access_token.fingerprint()
    }

    /// The pair without its access token, which only a write of the Secret needs.
    pub fn withheld(&self) -> Self {
        Self {
            access_token: self.access_token.withheld(),
            ..self.clone()
        }
    }
}

/// An access token, or only its fingerprint. What the operator keeps of the Secrets it wrote
/// holds the fingerprint alone: the token is needed again only to write the Secret once more,
/// and is read back from it then, while every renewal needs the refresh token.
#[derive(Clone, Debug, PartialEq)]
pub enum AccessToken {
    Held(Sensitive),
    /// The first 8 bytes of its SHA-256.
    Withheld(u64),
}

impl AccessToken {
    /// The token, if held.
    pub fn held(&self) -> Option<&Sensitive> {
        match self {
            Self::Held(token) => Some(token),
            Self::Withheld(_) => None,
        }
    }

    /// See [`TokenPair::fingerprint`].
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.digest())
    }

    /// The first 8 bytes of its SHA-256.
    pub fn digest(&self) -> u64 {
        match self {
            Self::Held(token) => digest(token),
            Self::Withheld(digest) => *digest,
        }
    }

    pub fn withheld(&self) -> Self {
        Self::Withheld(self.digest())
    }
}

impl From<Sensitive> for AccessToken {
    fn from(token: Sensitive) -> Self {
        Self::Held(token)
    }
}

/// The first 16 hex digits of SHA-256 of a secret value.
pub fn fingerprint(value: &Sensitive) -> String {
    format!("{:016x}", digest(value))
}

fn digest(value: &Sensitive) -> u64 {
    let digest = Sha256::digest(value.expose().as_bytes());
    digest.iter().take(8).fold(0, |n, b| n << 8 | u64::from(*b))
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
