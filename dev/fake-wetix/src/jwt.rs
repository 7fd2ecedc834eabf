//! The tokens WeTix hands out: HS256 JWTs with WeTix's own claim names.
//!
//! Small enough to write out: a JWT is `base64url(header).base64url(payload).base64url(mac)`,
//! where `mac` is HMAC-SHA256 over the first two parts. The signing key never leaves the server
//! except through [`crate::FakeWetix::signing_key`], so tests can check signatures.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The fixed JOSE header of every token: `{"alg":"HS256","typ":"JWT"}`.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Which of the pair a token is, as WeTix writes it in the `tokenType` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenType {
    AccessToken,
    RefreshToken,
}

/// The payload of a WeTix token. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    #[serde(rename = "tokenType")]
    pub token_type: TokenType,
    pub iss: String,
    pub aud: String,
    pub client_key: String,
    /// Unique per token, so two tokens issued in the same second still differ.
    pub jti: String,
}

/// Signs `claims` with `key` into a compact HS256 JWT.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims always serialize");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = mac(key, signing_input.as_bytes()).finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Returns the claims of `token` when it is an HS256 JWT signed with `key`; `None` otherwise.
/// Says nothing about expiry: that is the caller's decision, made against its own `now`.
pub fn verify(key: &[u8], token: &str) -> Option<Claims> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, signing_input.as_bytes())
        .verify_slice(&signature)
        .ok()?;
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn mac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            exp: 1_700_000_060,
            iat: 1_700_000_000,
            nbf: 1_700_000_000,
            token_type: TokenType::AccessToken,
            iss: "https://oauth.wetix.my".into(),
            aud: "wetix-open-api".into(),
            client_key: "shop".into(),
            jti: "0f5b".into(),
        }
    }

    #[test]
    fn signed_token_verifies_with_the_same_key_and_returns_its_claims() {
        let token = sign(b"key", &claims());
        assert_eq!(verify(b"key", &token), Some(claims()));
    }

    #[test]
    fn token_from_another_key_does_not_verify() {
        let token = sign(b"key", &claims());
        assert_eq!(verify(b"other", &token), None);
    }

    #[test]
    fn tampered_payload_does_not_verify() {
        let token = sign(b"key", &claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                exp: i64::MAX,
                ..claims()
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(verify(b"key", &parts.join(".")), None);
    }

    #[test]
    fn garbage_does_not_verify() {
        for token in ["", "a", "a.b", "a.b.c", "..."] {
            assert_eq!(verify(b"key", token), None, "{token:?}");
        }
    }

    #[test]
    fn header_and_claim_names_match_wetix() {
        let token = sign(b"key", &claims());
        let mut parts = token.split('.');
        let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        assert_eq!(header, HEADER.as_bytes());
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(payload["tokenType"], "ACCESS_TOKEN");
        for claim in ["exp", "iat", "nbf", "iss", "aud", "client_key", "jti"] {
            assert!(payload.get(claim).is_some(), "missing {claim}");
        }
    }
}
