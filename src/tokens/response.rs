//! WeTix's token answer as it arrives: its JSON, read field by field with every token
//! [`Sensitive`] from the start, and [`InvalidResponse`], why an answer cannot be used. Nothing
//! here quotes a value of the answer.

use serde::{Deserialize, Deserializer};

use crate::sensitive::Sensitive;

/// The answer's JSON. Every field is optional, so a missing one becomes an
/// [`InvalidResponse`] naming it; the tokens are [`Sensitive`] from the moment they are parsed,
/// so `Debug` is safe.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct TokenResponse {
    #[serde(default, deserialize_with = "sensitive")]
    pub access_token: Option<Sensitive>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default, deserialize_with = "sensitive")]
    pub refresh_token: Option<Sensitive>,
    #[serde(default)]
    pub refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    pub token_type: Option<String>,
}

fn sensitive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Sensitive>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(Sensitive::from))
}

impl TokenResponse {
    /// Parses an answer body. A field of the wrong JSON type is named; serde's own message is
    /// not kept, since it may quote the value.
    pub fn from_json(body: &[u8]) -> Result<Self, InvalidResponse> {
        // Through a map: serde alone would also accept a JSON array, field by position.
        let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body) else {
            return Err(InvalidResponse::NotJson);
        };
        type TypeCheck = fn(&serde_json::Value) -> bool;
        let expected: [(&'static str, TypeCheck); 5] = [
            (ACCESS_TOKEN, serde_json::Value::is_string),
            (EXPIRES_IN, serde_json::Value::is_i64),
            (REFRESH_TOKEN, serde_json::Value::is_string),
            (REFRESH_TOKEN_EXPIRES_IN, serde_json::Value::is_i64),
            (TOKEN_TYPE, serde_json::Value::is_string),
        ];
        for (field, is_expected) in expected {
            match object.get(field) {
                Some(value) if !value.is_null() && !is_expected(value) => {
                    return Err(wrong_type(field, value));
                }
                _ => {}
            }
        }
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|_| InvalidResponse::NotJson)
    }
}

/// Why `value` cannot be the `field` it is in. A lifetime is a whole number of seconds that
/// fits in an `i64`: a number beyond that range (`1e300`, `99999999999999999999`, anything
/// from 2^63 up) is a lifetime too large to hold, and a non-positive one that is not an `i64`
/// (`-1e300`) is not positive; both are refused like their `i64` counterparts. Any other
/// number (`5184000.5`) or value is of the wrong type.
fn wrong_type(field: &'static str, value: &serde_json::Value) -> InvalidResponse {
    // 2^63, exactly: the first value an i64 cannot hold.
    const BEYOND_I64: f64 = 9_223_372_036_854_775_808.0;
    let is_lifetime = field == EXPIRES_IN || field == REFRESH_TOKEN_EXPIRES_IN;
    match value.as_f64() {
        Some(n) if is_lifetime && n >= BEYOND_I64 => InvalidResponse::LifetimeOutOfRange { field },
        Some(n) if is_lifetime && n <= 0.0 => InvalidResponse::NonPositiveLifetime { field },
        _ => InvalidResponse::WrongType { field },
    }
}

/// The answer's field names, as [`InvalidResponse`] names them.
pub(super) const ACCESS_TOKEN: &str = "access_token";
pub(super) const EXPIRES_IN: &str = "expires_in";
pub(super) const REFRESH_TOKEN: &str = "refresh_token";
pub(super) const REFRESH_TOKEN_EXPIRES_IN: &str = "refresh_token_expires_in";
pub(super) const TOKEN_TYPE: &str = "token_type";

/// Why a 2xx answer cannot be used. Names the field, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidResponse {
    #[error("the answer is not a JSON object")]
    NotJson,
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the answer has no `{field}`")]
    Missing { field: &'static str },
    #[error("`{field}` in the answer has the wrong JSON type")]
    WrongType { field: &'static str },
    #[error("`{field}` in the answer is empty")]
    Empty { field: &'static str },
    #[error("`{field}` in the answer is not a positive number of seconds")]
    NonPositiveLifetime { field: &'static str },
    #[error("`{field}` in the answer is too large to be a lifetime")]
    LifetimeOutOfRange { field: &'static str },
    #[error("the token in `{field}` has already expired by its own `exp` claim")]
    AlreadyExpired { field: &'static str },
    #[error("`token_type` in the answer is not Bearer")]
    UnsupportedTokenType,
}

impl InvalidResponse {
    /// The field of the answer at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::NotJson | Self::TooLarge { .. } => None,
            Self::Missing { field }
            | Self::WrongType { field }
            | Self::Empty { field }
            | Self::NonPositiveLifetime { field }
            | Self::LifetimeOutOfRange { field }
            | Self::AlreadyExpired { field } => Some(field),
            Self::UnsupportedTokenType => Some(TOKEN_TYPE),
        }
    }
}

#[cfg(test)]
mod tests;
