//! The time claims of a JWT, read without its signature: what the token itself says about when
//! it was issued and when it expires.

use base64::{
    Engine as _,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use jiff::{SignedDuration, Timestamp};

/// The time claims of a JWT, read without checking its signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JwtTimes {
    pub exp: Option<Timestamp>,
    pub iat: Option<Timestamp>,
}

/// base64url as JWTs use it: no padding, though tolerated when present.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `exp` and `iat` claims of a JWT, without a signature check (the operator does not have
/// WeTix's key, and uses the claims only to never believe a token lives longer than it says).
/// `None` when the token is not a JWT: not three dot-separated parts whose header and payload
/// are base64url JSON objects. A claim that is not a number, or out of range, reads as absent.
pub fn jwt_times(token: &str) -> Option<JwtTimes> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = JWT_BASE64.decode(part).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    decode(header)?;
    let claims = decode(payload)?;
    let time = |name: &str| -> Option<Timestamp> {
        let value = claims.get(name)?;
        if let Some(seconds) = value.as_i64() {
            return Timestamp::from_second(seconds).ok();
        }
        let seconds = SignedDuration::try_from_secs_f64(value.as_f64()?).ok()?;
        Timestamp::from_duration(seconds).ok()
    };
    Some(JwtTimes {
        exp: time("exp"),
        iat: time("iat"),
    })
}

#[cfg(test)]
mod tests;
