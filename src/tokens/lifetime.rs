//! The lifetime rule: how a 2xx answer becomes a [`TokenPair`], and when each of its tokens
//! expires (contract §1). Pure: the time the request was sent comes in as `sent_at`.

use jiff::{SignedDuration, Timestamp};

use super::{
    Lifetime, TokenPair,
    jwt::jwt_times,
    response::{
        ACCESS_TOKEN, EXPIRES_IN, InvalidResponse, REFRESH_TOKEN, REFRESH_TOKEN_EXPIRES_IN,
        TOKEN_TYPE, TokenResponse,
    },
};
use crate::sensitive::Sensitive;

/// The refresh token a refresh call sent, with its lifetime as known before the call. A refresh
/// answered with this same token keeps that lifetime (see [`token_pair_from_response`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnownRefresh<'a> {
    pub token: &'a Sensitive,
    pub lifetime: Lifetime,
}

/// Turns a 2xx answer into a [`TokenPair`]; `sent_at` is when the request was sent.
///
/// - expiry = `min(sent_at + *_expires_in, the JWT's exp)`, the JWT part only when the token
///   decodes as a JWT with a numeric `exp` (contract §1). An expiry not after `sent_at` makes
///   the answer invalid: that token is of no use.
/// - issued_at = `sent_at`, or the JWT's `iat` when it is earlier and within the lifetime the
///   answer declares (`sent_at - *_expires_in ..= sent_at`). That matters for a refresh token
///   obtained elsewhere and returned unchanged by its first refresh: its lifetime is measured
///   from its issue, so the percentage rule applies to its whole lifetime, not to what is left.
///   An `iat` outside that range is a clock error and is ignored.
/// - A refresh of a [`KnownRefresh`] answered with the *same* refresh token keeps its
///   `lifetime.issued_at`, and its expiry never moves later than `lifetime.expires_at` (WeTix
///   repeats the full `refresh_token_expires_in` without extending the token).
///
/// Out of range, refused or ignored, never clamped into a made-up lifetime: a `*_expires_in`
/// whose end (`sent_at +` it) lies past the last `Timestamp` is refused as
/// [`InvalidResponse::LifetimeOutOfRange`] naming the field (a server that says so is broken,
/// and no renewal could be scheduled by it); a JWT claim that is not a number or not a
/// `Timestamp` is ignored, as if absent, since the claims only ever shorten what `expires_in`
/// declares.
pub fn token_pair_from_response(
    response: TokenResponse,
    known_refresh: Option<KnownRefresh<'_>>,
    sent_at: Timestamp,
) -> Result<TokenPair, InvalidResponse> {
    let access_token = required_token(response.access_token, ACCESS_TOKEN)?;
    let access_seconds = positive_seconds(response.expires_in, EXPIRES_IN)?;
    let refresh_token = required_token(response.refresh_token, REFRESH_TOKEN)?;
    let refresh_seconds =
        positive_seconds(response.refresh_token_expires_in, REFRESH_TOKEN_EXPIRES_IN)?;
    match response.token_type {
        None => return Err(InvalidResponse::Missing { field: TOKEN_TYPE }),
        Some(t) if !t.trim().eq_ignore_ascii_case("bearer") => {
            return Err(InvalidResponse::UnsupportedTokenType);
        }
        Some(_) => {}
    }

    let access = lifetime_of(
        &access_token,
        access_seconds,
        sent_at,
        EXPIRES_IN,
        ACCESS_TOKEN,
    )?;
    let mut refresh = lifetime_of(
        &refresh_token,
        refresh_seconds,
        sent_at,
        REFRESH_TOKEN_EXPIRES_IN,
        REFRESH_TOKEN,
    )?;
    if let Some(KnownRefresh {
        token: sent,
        lifetime: current,
    }) = known_refresh
        && *sent == refresh_token
    {
        refresh = Lifetime {
            issued_at: current.issued_at,
            expires_at: refresh.expires_at.min(current.expires_at),
        };
    }

    Ok(TokenPair {
        access_token: access_token.into(),
        refresh_token,
        access,
        refresh,
    })
}

fn required_token(
    token: Option<Sensitive>,
    field: &'static str,
) -> Result<Sensitive, InvalidResponse> {
    match token {
        None => Err(InvalidResponse::Missing { field }),
        Some(t) if t.expose().trim().is_empty() => Err(InvalidResponse::Empty { field }),
        Some(t) => Ok(t),
    }
}

fn positive_seconds(seconds: Option<i64>, field: &'static str) -> Result<i64, InvalidResponse> {
    match seconds {
        None => Err(InvalidResponse::Missing { field }),
        Some(s) if s <= 0 => Err(InvalidResponse::NonPositiveLifetime { field }),
        Some(s) => Ok(s),
    }
}

/// The lifetime of one token by the min rule; see [`token_pair_from_response`].
fn lifetime_of(
    token: &Sensitive,
    seconds: i64,
    sent_at: Timestamp,
    seconds_field: &'static str,
    token_field: &'static str,
) -> Result<Lifetime, InvalidResponse> {
    let declared = SignedDuration::from_secs(seconds);
    let declared_expiry =
        sent_at
            .checked_add(declared)
            .map_err(|_| InvalidResponse::LifetimeOutOfRange {
                field: seconds_field,
            })?;
    let claims = jwt_times(token.expose()).unwrap_or_default();
    let expires_at = match claims.exp {
        Some(exp) => declared_expiry.min(exp),
        None => declared_expiry,
    };
    if expires_at <= sent_at {
        return Err(InvalidResponse::AlreadyExpired { field: token_field });
    }
    let earliest_plausible = sent_at.checked_sub(declared).unwrap_or(Timestamp::MIN);
    let issued_at = match claims.iat {
        Some(iat) if iat < sent_at && iat >= earliest_plausible => iat,
        _ => sent_at,
    };
    Ok(Lifetime {
        issued_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests;
