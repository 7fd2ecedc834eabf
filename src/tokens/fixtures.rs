//! Token answers and JWTs for the tests of [`crate::tokens`]: an answer as WeTix sends it, sent
//! at [`SENT`], with tokens that may carry `exp` and `iat`.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;

use super::TokenResponse;

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub const SENT: &str = "2026-11-25T10:00:00Z";
pub const SIXTY_DAYS: i64 = 5_184_000;
pub const YEAR: i64 = 31_536_000;

/// An HS256-shaped JWT with the given claims and a dummy signature, unpadded as JWTs are.
pub fn jwt(claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

pub fn seconds(s: &str) -> i64 {
    ts(s).as_second()
}

/// A WeTix answer: `access` for 60 days, `refresh` for a year, Bearer.
pub fn answer(access: &str, refresh: &str) -> TokenResponse {
    TokenResponse {
        access_token: Some(access.into()),
        expires_in: Some(SIXTY_DAYS),
        refresh_token: Some(refresh.into()),
        refresh_token_expires_in: Some(YEAR),
        token_type: Some("Bearer".into()),
    }
}
