//! The token pair as plain data: what WeTix issued, and when each token stops working.

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
    pub access_token: Sensitive,
    pub refresh_token: Sensitive,
    pub access: Lifetime,
    pub refresh: Lifetime,
}

impl TokenPair {
    /// The first 16 hex digits of SHA-256(access_token): identifies a token without revealing it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.access_token)
    }
}

/// The first 16 hex digits of SHA-256 of a secret value.
pub fn fingerprint(value: &Sensitive) -> String {
    let digest = Sha256::digest(value.expose().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sixteen_hex_digits_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(fingerprint(&Sensitive::new("abc")), "ba7816bf8f01cfea");
    }

    #[test]
    fn a_lifetime_is_expired_from_its_expiry_on() {
        let issued_at: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let expires_at: Timestamp = "2026-11-25T11:00:00Z".parse().unwrap();
        let lifetime = Lifetime {
            issued_at,
            expires_at,
        };
        assert_eq!(lifetime.length(), SignedDuration::from_hours(1));
        assert!(!lifetime.is_expired(issued_at));
        assert!(lifetime.is_expired(expires_at));
    }
}
