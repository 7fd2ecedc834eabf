//! The WeTix OAuth call: one HTTP request per token pair, and the pure rules that turn the
//! answer into a [`TokenPair`] or into an error the reconciler can act on.
//!
//! The I/O lives in [`HttpTokenIssuer`] alone. What the answer means — its expiries
//! ([`token_pair_from_response`]), its status ([`status_error`]), its `Retry-After`
//! ([`parse_retry_after`]) — is decided by plain functions, table-tested below.
//!
//! Nothing here ever formats a token, the client secret, the Authorization header or a response
//! body into an error or a log line.

use std::{fmt, time::Duration};

use base64::{
    Engine as _,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};

use crate::USER_AGENT;
use crate::error_chain::ErrorChain;
use crate::sensitive::Sensitive;
use crate::tokens::{Lifetime, TokenPair};

/// The whole call, connection included, gives up after this long. WeTix answers in well under a
/// second; 30 s covers a slow network without holding a reconcile worker for minutes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Establishing the connection (TCP and TLS) gives up after this long: a server that cannot be
/// reached in 10 s is down or filtered, and the retry backoff takes over sooner.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a token answer that is read. A WeTix answer is two JWTs of a few hundred bytes
/// each; anything larger than 64 KiB is not a token answer, and is not kept in memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The longest `Retry-After` carried in an error. It only keeps absurd values (a date years
/// ahead) bounded; the schedule applies the contract's own, shorter cap to every retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// Where to send the calls: base URL (no trailing slash) plus the two paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub base_url: String,
    pub token_path: String,
    pub refresh_path: String,
}

impl Endpoint {
    /// The URL this grant is posted to: `{base}{path}`.
    pub fn url_for(&self, grant: &Grant) -> String {
        let path = match grant {
            Grant::ClientCredentials => &self.token_path,
            Grant::Refresh { .. } => &self.refresh_path,
        };
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }
}

/// The OAuth client's id and secret, read from the client Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Sensitive,
}

/// Which grant to ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum Grant {
    /// A fresh pair from the client's own credentials.
    ClientCredentials,
    /// A new access token in exchange for the refresh token.
    /// `current`: the refresh token's lifetime as known before this call, if known.
    Refresh {
        refresh_token: Sensitive,
        current: Option<Lifetime>,
    },
}

impl Grant {
    /// The OAuth `grant_type`, also the `grant` label of the request metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Refresh { .. } => "refresh_token",
        }
    }
}

/// One token request: where, as whom, for which grant.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub endpoint: Endpoint,
    pub credentials: ClientCredentials,
    pub grant: Grant,
}

/// What the reconciler calls; the real client and test fakes implement it.
pub trait TokenIssuer: Send + Sync + 'static {
    fn request(&self, request: TokenRequest) -> BoxFuture<'_, Result<TokenPair, OAuthError>>;
}

/// The JSON body of a call, exactly as WeTix documents it.
#[derive(Serialize)]
struct RequestBody<'a> {
    grant_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

impl<'a> RequestBody<'a> {
    fn for_grant(grant: &'a Grant) -> Self {
        Self {
            grant_type: grant.label(),
            refresh_token: match grant {
                Grant::ClientCredentials => None,
                Grant::Refresh { refresh_token, .. } => Some(refresh_token.expose()),
            },
        }
    }
}

/// The real client: reqwest over rustls (the process-wide ring provider), connect timeout
/// 10 s, total timeout 30 s, and no redirects — a redirect would carry the client's Basic
/// credentials to wherever the `Location` points.
#[derive(Clone, Debug)]
pub struct HttpTokenIssuer {
    client: reqwest::Client,
}

impl HttpTokenIssuer {
    /// A client with the default [`REQUEST_TIMEOUT`].
    pub fn new() -> Result<Self, OAuthError> {
        Self::with_timeout(REQUEST_TIMEOUT)
    }

    /// A client whose calls give up after `timeout` (connecting after at most
    /// [`CONNECT_TIMEOUT`]).
    pub fn with_timeout(timeout: Duration) -> Result<Self, OAuthError> {
        // `main` installs ring as the process provider; a client built before that (a test, a
        // subcommand) installs the same one instead of panicking inside reqwest.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| OAuthError::Setup(e.without_url()))?;
        Ok(Self { client })
    }

    async fn send(&self, request: TokenRequest) -> Result<TokenPair, OAuthError> {
        let TokenRequest {
            endpoint,
            credentials,
            grant,
        } = request;
        let sent_at = Timestamp::now();
        let response = self
            .client
            .post(endpoint.url_for(&grant))
            .basic_auth(
                &credentials.client_id,
                Some(credentials.client_secret.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&RequestBody::for_grant(&grant))
            .send()
            .await
            .map_err(|e| transport_error(&grant, e))?;

        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Timestamp::now()));
        if let Some(error) = status_error(status, &grant, retry_after) {
            // The body of a refusal is never read: it may echo what was sent.
            return Err(error);
        }

        let body = read_limited(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => OAuthError::from(InvalidResponse::TooLarge {
                    limit: MAX_RESPONSE_BYTES,
                }),
                ReadError::Transport(e) => transport_error(&grant, e),
            })?;
        let answer = TokenResponse::from_json(&body)?;
        Ok(token_pair_from_response(answer, &grant, sent_at)?)
    }
}

impl TokenIssuer for HttpTokenIssuer {
    fn request(&self, request: TokenRequest) -> BoxFuture<'_, Result<TokenPair, OAuthError>> {
        Box::pin(self.send(request))
    }
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the body, refusing to hold more than `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request that got no HTTP answer. A request that could not even be formed (an unparsable
/// URL, which spec validation should have refused) is a setup error. Otherwise the reqwest error
/// is logged here, without its URL, as the only place its detail (refused, DNS, TLS) is known;
/// the returned error carries only the kind, so no URL or header can reach a status or Event.
fn transport_error(grant: &Grant, error: reqwest::Error) -> OAuthError {
    if error.is_builder() {
        return OAuthError::Setup(error.without_url());
    }
    let cause = if error.is_timeout() {
        TransientCause::Timeout
    } else if error.is_connect() {
        TransientCause::Connect
    } else {
        TransientCause::Other
    };
    let error = error.without_url();
    tracing::warn!(
        grant = grant.label(),
        cause = %cause,
        error = %ErrorChain(&error),
        "token request got no answer from the WeTix OAuth server"
    );
    OAuthError::Transient {
        cause,
        retry_after: None,
    }
}

/// What a non-2xx status means for this grant (contract §1 and §3); `None` for 2xx.
///
/// | status | client credentials | refresh |
/// |---|---|---|
/// | 408, 429, 5xx | `Transient` | `Transient` |
/// | 400 | `GrantNotAllowed` | `RefreshTokenRejected` |
/// | 401 | `ClientRejected` | `RefreshTokenRejected` |
/// | 403 | `ClientRejected` | `UnexpectedStatus` |
/// | other | `UnexpectedStatus` | `UnexpectedStatus` |
///
/// A 401 on refresh is taken as the refresh token's fault: the client-credentials call that
/// follows tells whether the client itself is refused. A 403 on refresh is not one the contract
/// names, so it is reported as unexpected rather than guessed at.
pub fn status_error(
    status: u16,
    grant: &Grant,
    retry_after: Option<Duration>,
) -> Option<OAuthError> {
    let refresh = matches!(grant, Grant::Refresh { .. });
    Some(match status {
        200..=299 => return None,
        408 | 429 | 500..=599 => OAuthError::Transient {
            cause: TransientCause::Status(status),
            retry_after,
        },
        400 | 401 if refresh => OAuthError::RefreshTokenRejected { status },
        401 | 403 if !refresh => OAuthError::ClientRejected { status },
        400 if !refresh => OAuthError::GrantNotAllowed { status },
        _ => OAuthError::UnexpectedStatus { status },
    })
}

/// The wait a `Retry-After` header asks for, in either of its forms: delay-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`, measured from `now`; a date already past asks for
/// no wait). Capped at [`MAX_RETRY_AFTER`]; `None` when the value is neither form.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still a number, and a very large one.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .relaxed_weekday(true)
            .parse_timestamp(value)
            .ok()?;
        let ahead = at.duration_since(now);
        Duration::try_from(ahead.max(SignedDuration::ZERO)).unwrap_or(MAX_RETRY_AFTER)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

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
                    return Err(InvalidResponse::WrongType { field });
                }
                _ => {}
            }
        }
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|_| InvalidResponse::NotJson)
    }
}

const ACCESS_TOKEN: &str = "access_token";
const EXPIRES_IN: &str = "expires_in";
const REFRESH_TOKEN: &str = "refresh_token";
const REFRESH_TOKEN_EXPIRES_IN: &str = "refresh_token_expires_in";
const TOKEN_TYPE: &str = "token_type";

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
/// - A [`Grant::Refresh`] answered with the *same* refresh token keeps `current.issued_at`, and
///   its expiry never moves later than `current.expires_at` (WeTix repeats the full
///   `refresh_token_expires_in` without extending the token).
pub fn token_pair_from_response(
    response: TokenResponse,
    grant: &Grant,
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
    if let Grant::Refresh {
        refresh_token: sent,
        current: Some(current),
    } = grant
        && *sent == refresh_token
    {
        refresh = Lifetime {
            issued_at: current.issued_at,
            expires_at: refresh.expires_at.min(current.expires_at),
        };
    }

    Ok(TokenPair {
        access_token,
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

/// What kind of transient failure happened. Carries no URL, header or body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransientCause {
    /// No complete answer within the timeout.
    Timeout,
    /// No connection (refused, DNS, TLS handshake).
    Connect,
    /// The server answered 408, 429 or 5xx.
    Status(u16),
    /// Any other transport failure.
    Other,
}

impl fmt::Display for TransientCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Connect => f.write_str("could not connect"),
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::Other => f.write_str("transport error"),
        }
    }
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Network error, timeout, 408, 429, 5xx: retry with backoff.
    #[error("the WeTix OAuth server is unavailable ({cause})")]
    Transient {
        cause: TransientCause,
        retry_after: Option<Duration>,
    },
    /// 401/403 on the client-credentials call.
    #[error("the WeTix OAuth server rejected the client credentials (HTTP {status})")]
    ClientRejected { status: u16 },
    /// 400/401 on the refresh call: the refresh token is unusable.
    #[error("the WeTix OAuth server rejected the refresh token (HTTP {status})")]
    RefreshTokenRejected { status: u16 },
    /// 400 on the client-credentials call (e.g. the grant is not allowed for this client).
    #[error(
        "the WeTix OAuth server refused the client-credentials grant for this client (HTTP {status})"
    )]
    GrantNotAllowed { status: u16 },
    /// Any other non-2xx status.
    #[error("the WeTix OAuth server answered with unexpected HTTP status {status}")]
    UnexpectedStatus { status: u16 },
    /// 2xx with an unusable body.
    #[error("the WeTix OAuth server sent an unusable token answer")]
    InvalidResponse(#[from] InvalidResponse),
    /// The HTTP client could not be built, or the request not formed (e.g. an unparsable URL).
    #[error("could not set up the request to the WeTix OAuth server")]
    Setup(#[source] reqwest::Error),
}

impl OAuthError {
    /// Short, bounded CamelCase reason shared by the status condition, the Event and the
    /// metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Transient { .. } => "ServerUnavailable",
            Self::ClientRejected { .. } => "InvalidClient",
            Self::RefreshTokenRejected { .. } => "RefreshTokenRejected",
            Self::GrantNotAllowed { .. } => "ReauthorizationRequired",
            Self::UnexpectedStatus { .. } | Self::InvalidResponse(_) => "InvalidServerResponse",
            Self::Setup(_) => "InternalError",
        }
    }

    /// The wait the server asked for, on a transient failure.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether retrying with backoff may succeed without anything changing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transient {
                cause: TransientCause::Status(status),
                ..
            }
            | Self::ClientRejected { status }
            | Self::RefreshTokenRejected { status }
            | Self::GrantNotAllowed { status }
            | Self::UnexpectedStatus { status } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const SENT: &str = "2026-11-25T10:00:00Z";
    const SIXTY_DAYS: i64 = 5_184_000;
    const YEAR: i64 = 31_536_000;

    /// An HS256-shaped JWT with the given claims and a dummy signature.
    fn jwt(claims: serde_json::Value) -> String {
        let header = JWT_BASE64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = JWT_BASE64.encode(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    fn seconds(s: &str) -> i64 {
        ts(s).as_second()
    }

    fn answer(access: &str, refresh: &str) -> TokenResponse {
        TokenResponse {
            access_token: Some(access.into()),
            expires_in: Some(SIXTY_DAYS),
            refresh_token: Some(refresh.into()),
            refresh_token_expires_in: Some(YEAR),
            token_type: Some("Bearer".into()),
        }
    }

    fn refresh_grant(token: &str, current: Option<Lifetime>) -> Grant {
        Grant::Refresh {
            refresh_token: token.into(),
            current,
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_expires_in_and_the_jwt_exp() {
        let cases = [
            // (name, access token, expected access expiry)
            (
                "opaque token: expires_in alone",
                "opaque".to_string(),
                "2027-01-24T10:00:00Z",
            ),
            (
                "JWT exp earlier than expires_in wins",
                jwt(serde_json::json!({"exp": seconds("2027-01-01T00:00:00Z")})),
                "2027-01-01T00:00:00Z",
            ),
            (
                "JWT exp later than expires_in loses",
                jwt(serde_json::json!({"exp": seconds("2027-06-01T00:00:00Z")})),
                "2027-01-24T10:00:00Z",
            ),
            (
                "JWT without exp: expires_in alone",
                jwt(serde_json::json!({"tokenType": "ACCESS_TOKEN"})),
                "2027-01-24T10:00:00Z",
            ),
            (
                "JWT with a string exp: expires_in alone",
                jwt(serde_json::json!({"exp": "soon"})),
                "2027-01-24T10:00:00Z",
            ),
            (
                "JWT with a fractional exp",
                jwt(serde_json::json!({"exp": seconds("2027-01-01T00:00:00Z") as f64 + 0.5})),
                "2027-01-01T00:00:00.5Z",
            ),
        ];
        for (name, access, expected) in cases {
            let pair = token_pair_from_response(
                answer(&access, "refresh"),
                &Grant::ClientCredentials,
                ts(SENT),
            )
            .unwrap();
            assert_eq!(pair.access.expires_at, ts(expected), "{name}");
            assert_eq!(pair.access.issued_at, ts(SENT), "{name}");
            assert_eq!(
                pair.refresh.expires_at,
                ts("2027-11-25T10:00:00Z"),
                "{name}"
            );
        }
    }

    #[test]
    fn issued_at_is_the_send_time_or_an_earlier_plausible_jwt_iat() {
        let cases = [
            ("no iat", serde_json::json!({}), SENT),
            (
                "iat earlier, within the lifetime",
                serde_json::json!({"iat": seconds("2026-06-01T00:00:00Z")}),
                "2026-06-01T00:00:00Z",
            ),
            (
                "iat later than the send (server clock ahead)",
                serde_json::json!({"iat": seconds("2026-11-25T10:05:00Z")}),
                SENT,
            ),
            (
                "iat before the declared lifetime could start",
                serde_json::json!({"iat": 0}),
                SENT,
            ),
        ];
        for (name, claims, expected) in cases {
            let pair = token_pair_from_response(
                answer("access", &jwt(claims)),
                &Grant::ClientCredentials,
                ts(SENT),
            )
            .unwrap();
            assert_eq!(pair.refresh.issued_at, ts(expected), "{name}");
        }
    }

    #[test]
    fn a_refresh_answered_with_the_same_refresh_token_keeps_its_known_lifetime() {
        let current = Lifetime {
            issued_at: ts("2026-09-01T00:00:00Z"),
            expires_at: ts("2027-09-01T00:00:00Z"),
        };
        let pair = token_pair_from_response(
            answer("new-access", "same-refresh"),
            &refresh_grant("same-refresh", Some(current)),
            ts(SENT),
        )
        .unwrap();
        // WeTix repeats refresh_token_expires_in = 1 year; the token does not live longer for it.
        assert_eq!(pair.refresh, current);
        assert_eq!(pair.access.issued_at, ts(SENT));
        assert_eq!(pair.access.expires_at, ts("2027-01-24T10:00:00Z"));
    }

    #[test]
    fn a_non_rotating_refresh_may_still_move_the_expiry_earlier() {
        let current = Lifetime {
            issued_at: ts("2026-09-01T00:00:00Z"),
            expires_at: ts("2027-09-01T00:00:00Z"),
        };
        let token = jwt(serde_json::json!({"exp": seconds("2027-03-01T00:00:00Z")}));
        let pair = token_pair_from_response(
            answer("new-access", &token),
            &refresh_grant(&token, Some(current)),
            ts(SENT),
        )
        .unwrap();
        assert_eq!(pair.refresh.issued_at, current.issued_at);
        assert_eq!(pair.refresh.expires_at, ts("2027-03-01T00:00:00Z"));
    }

    #[test]
    fn a_non_rotating_refresh_without_a_known_lifetime_uses_the_jwt_claims() {
        // A refresh token obtained elsewhere: its first refresh is the first time we see it.
        let token = jwt(serde_json::json!({
            "iat": seconds("2026-03-01T00:00:00Z"),
            "exp": seconds("2027-03-01T00:00:00Z"),
        }));
        let pair = token_pair_from_response(
            answer("new-access", &token),
            &refresh_grant(&token, None),
            ts(SENT),
        )
        .unwrap();
        assert_eq!(pair.refresh.issued_at, ts("2026-03-01T00:00:00Z"));
        assert_eq!(pair.refresh.expires_at, ts("2027-03-01T00:00:00Z"));
    }

    #[test]
    fn a_rotating_refresh_takes_the_new_token_and_its_new_lifetime() {
        let current = Lifetime {
            issued_at: ts("2026-09-01T00:00:00Z"),
            expires_at: ts("2027-09-01T00:00:00Z"),
        };
        let pair = token_pair_from_response(
            answer("new-access", "new-refresh"),
            &refresh_grant("old-refresh", Some(current)),
            ts(SENT),
        )
        .unwrap();
        assert_eq!(pair.refresh_token.expose(), "new-refresh");
        assert_eq!(pair.refresh.issued_at, ts(SENT));
        assert_eq!(pair.refresh.expires_at, ts("2027-11-25T10:00:00Z"));
    }

    #[test]
    fn token_type_is_compared_case_insensitively() {
        for token_type in ["Bearer", "bearer", "BEARER", " Bearer "] {
            let mut response = answer("a", "r");
            response.token_type = Some(token_type.into());
            assert!(
                token_pair_from_response(response, &Grant::ClientCredentials, ts(SENT)).is_ok(),
                "{token_type:?}"
            );
        }
    }

    #[test]
    fn each_invalid_answer_names_its_field_and_never_its_value() {
        let expired = jwt(serde_json::json!({"exp": seconds("2026-01-01T00:00:00Z")}));
        type Edit = Box<dyn Fn(&mut TokenResponse)>;
        let cases: Vec<(&str, Edit, InvalidResponse)> = vec![
            (
                "no access_token",
                Box::new(|r| r.access_token = None),
                InvalidResponse::Missing {
                    field: "access_token",
                },
            ),
            (
                "empty access_token",
                Box::new(|r| r.access_token = Some("".into())),
                InvalidResponse::Empty {
                    field: "access_token",
                },
            ),
            (
                "blank access_token",
                Box::new(|r| r.access_token = Some("  ".into())),
                InvalidResponse::Empty {
                    field: "access_token",
                },
            ),
            (
                "no expires_in",
                Box::new(|r| r.expires_in = None),
                InvalidResponse::Missing {
                    field: "expires_in",
                },
            ),
            (
                "zero expires_in",
                Box::new(|r| r.expires_in = Some(0)),
                InvalidResponse::NonPositiveLifetime {
                    field: "expires_in",
                },
            ),
            (
                "negative expires_in",
                Box::new(|r| r.expires_in = Some(-5)),
                InvalidResponse::NonPositiveLifetime {
                    field: "expires_in",
                },
            ),
            (
                "huge expires_in",
                Box::new(|r| r.expires_in = Some(i64::MAX)),
                InvalidResponse::LifetimeOutOfRange {
                    field: "expires_in",
                },
            ),
            (
                "no refresh_token",
                Box::new(|r| r.refresh_token = None),
                InvalidResponse::Missing {
                    field: "refresh_token",
                },
            ),
            (
                "empty refresh_token",
                Box::new(|r| r.refresh_token = Some("".into())),
                InvalidResponse::Empty {
                    field: "refresh_token",
                },
            ),
            (
                "no refresh_token_expires_in",
                Box::new(|r| r.refresh_token_expires_in = None),
                InvalidResponse::Missing {
                    field: "refresh_token_expires_in",
                },
            ),
            (
                "negative refresh_token_expires_in",
                Box::new(|r| r.refresh_token_expires_in = Some(-1)),
                InvalidResponse::NonPositiveLifetime {
                    field: "refresh_token_expires_in",
                },
            ),
            (
                "no token_type",
                Box::new(|r| r.token_type = None),
                InvalidResponse::Missing {
                    field: "token_type",
                },
            ),
            (
                "token_type MAC",
                Box::new(|r| r.token_type = Some("MAC".into())),
                InvalidResponse::UnsupportedTokenType,
            ),
            (
                "access token expired by its exp",
                Box::new(move |r| r.access_token = Some(expired.as_str().into())),
                InvalidResponse::AlreadyExpired {
                    field: "access_token",
                },
            ),
        ];
        for (name, edit, expected) in cases {
            let mut response = answer("tok-access-VALUE", "tok-refresh-VALUE");
            edit(&mut response);
            let err = token_pair_from_response(response, &Grant::ClientCredentials, ts(SENT))
                .expect_err(name);
            assert_eq!(err, expected, "{name}");
            let message = format!("{err} {err:?}");
            assert!(!message.contains("VALUE"), "{name}: {message}");
            assert!(!message.contains("MAC"), "{name}: {message}");
            if let Some(field) = err.field() {
                assert!(message.contains(field), "{name}: {message}");
            }
        }
    }

    #[test]
    fn a_body_of_the_wrong_shape_names_the_field_without_quoting_it() {
        let cases = [
            (
                "not JSON",
                "<html>tok-VALUE</html>",
                InvalidResponse::NotJson,
            ),
            ("a JSON array", r#"["tok-VALUE"]"#, InvalidResponse::NotJson),
            ("empty", "", InvalidResponse::NotJson),
            (
                "expires_in as a string",
                r#"{"access_token":"tok-VALUE","expires_in":"5184000"}"#,
                InvalidResponse::WrongType {
                    field: "expires_in",
                },
            ),
            (
                "expires_in as a float",
                r#"{"expires_in":5184000.5}"#,
                InvalidResponse::WrongType {
                    field: "expires_in",
                },
            ),
            (
                "access_token as a number",
                r#"{"access_token":12345}"#,
                InvalidResponse::WrongType {
                    field: "access_token",
                },
            ),
        ];
        for (name, body, expected) in cases {
            let err = TokenResponse::from_json(body.as_bytes()).expect_err(name);
            assert_eq!(err, expected, "{name}");
            assert!(!format!("{err} {err:?}").contains("VALUE"), "{name}");
        }
    }

    #[test]
    fn a_wetix_answer_parses_with_extra_fields_and_nulls() {
        let body = br#"{"access_token":"a","expires_in":5184000,"refresh_token":"r",
            "refresh_token_expires_in":31536000,"token_type":"Bearer","scope":null,"extra":1}"#;
        let response = TokenResponse::from_json(body).unwrap();
        assert_eq!(response, answer("a", "r"));
        let nulls = TokenResponse::from_json(br#"{"access_token":null}"#).unwrap();
        assert_eq!(nulls, TokenResponse::default());
        assert!(!format!("{response:?}").contains("\"a\""));
    }

    #[test]
    fn jwt_times_reads_exp_and_iat_or_nothing() {
        let exp = seconds("2027-01-24T10:00:00Z");
        let iat = seconds(SENT);
        let with_both =
            jwt(serde_json::json!({"exp": exp, "iat": iat, "tokenType": "ACCESS_TOKEN"}));
        let padded = {
            let mut parts: Vec<String> = with_both.split('.').map(String::from).collect();
            while !parts[1].len().is_multiple_of(4) {
                parts[1].push('=');
            }
            parts.join(".")
        };
        let cases = [
            (
                "exp and iat",
                with_both.clone(),
                Some(JwtTimes {
                    exp: Some(ts("2027-01-24T10:00:00Z")),
                    iat: Some(ts(SENT)),
                }),
            ),
            (
                "padded base64",
                padded,
                Some(JwtTimes {
                    exp: Some(ts("2027-01-24T10:00:00Z")),
                    iat: Some(ts(SENT)),
                }),
            ),
            (
                "no claims",
                jwt(serde_json::json!({})),
                Some(JwtTimes::default()),
            ),
            (
                "exp out of range",
                jwt(serde_json::json!({"exp": i64::MAX})),
                Some(JwtTimes::default()),
            ),
            ("opaque token", "9f8e7d6c5b4a".to_string(), None),
            ("two parts", "abc.def".to_string(), None),
            ("four parts", format!("{with_both}.x"), None),
            (
                "payload not base64",
                "eyJhbGciOiJIUzI1NiJ9.!!!.sig".to_string(),
                None,
            ),
            (
                "payload not an object",
                format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", JWT_BASE64.encode("[1]")),
                None,
            ),
            (
                "header not JSON",
                format!("bm9wZQ.{}.sig", JWT_BASE64.encode("{}")),
                None,
            ),
            ("empty", String::new(), None),
        ];
        for (name, token, expected) in cases {
            assert_eq!(jwt_times(&token), expected, "{name}");
        }
    }

    #[test]
    fn every_status_is_classified_per_grant() {
        let refresh = refresh_grant("r", None);
        // (status, reason for client credentials, reason for refresh); None = success.
        let cases = [
            (200, None, None),
            (201, None, None),
            (
                400,
                Some("ReauthorizationRequired"),
                Some("RefreshTokenRejected"),
            ),
            (401, Some("InvalidClient"), Some("RefreshTokenRejected")),
            (403, Some("InvalidClient"), Some("InvalidServerResponse")),
            (
                404,
                Some("InvalidServerResponse"),
                Some("InvalidServerResponse"),
            ),
            (
                302,
                Some("InvalidServerResponse"),
                Some("InvalidServerResponse"),
            ),
            (408, Some("ServerUnavailable"), Some("ServerUnavailable")),
            (429, Some("ServerUnavailable"), Some("ServerUnavailable")),
            (500, Some("ServerUnavailable"), Some("ServerUnavailable")),
            (502, Some("ServerUnavailable"), Some("ServerUnavailable")),
            (503, Some("ServerUnavailable"), Some("ServerUnavailable")),
        ];
        for (status, client_credentials, on_refresh) in cases {
            for (grant, expected) in [
                (&Grant::ClientCredentials, client_credentials),
                (&refresh, on_refresh),
            ] {
                let error = status_error(status, grant, None);
                assert_eq!(
                    error.as_ref().map(OAuthError::reason),
                    expected,
                    "{status} {}",
                    grant.label()
                );
                if let Some(error) = error {
                    assert_eq!(error.status(), Some(status));
                    assert_eq!(error.is_transient(), expected == Some("ServerUnavailable"));
                }
            }
        }
        let rejected = status_error(401, &Grant::ClientCredentials, None).unwrap();
        assert!(matches!(
            rejected,
            OAuthError::ClientRejected { status: 401 }
        ));
        let not_allowed = status_error(400, &Grant::ClientCredentials, None).unwrap();
        assert!(matches!(
            not_allowed,
            OAuthError::GrantNotAllowed { status: 400 }
        ));
    }

    #[test]
    fn retry_after_travels_only_with_transient_statuses() {
        let wait = Some(Duration::from_secs(7));
        let cases = [
            (429, wait),
            (503, wait),
            (408, wait),
            (401, None),
            (400, None),
        ];
        for (status, expected) in cases {
            let error = status_error(status, &Grant::ClientCredentials, wait).unwrap();
            assert_eq!(error.retry_after(), expected, "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = ts("2026-11-25T10:00:00Z");
        let cases = [
            ("seconds", "120", Some(120)),
            ("seconds with spaces", " 5 ", Some(5)),
            ("zero", "0", Some(0)),
            ("capped", "86400", Some(3600)),
            ("beyond u64", "99999999999999999999999", Some(3600)),
            ("HTTP-date ahead", "Wed, 25 Nov 2026 10:01:30 GMT", Some(90)),
            (
                "HTTP-date with a wrong weekday",
                "Mon, 25 Nov 2026 10:01:30 GMT",
                Some(90),
            ),
            ("HTTP-date past", "Wed, 25 Nov 2026 09:00:00 GMT", Some(0)),
            (
                "HTTP-date far ahead",
                "Fri, 25 Nov 2039 10:00:00 GMT",
                Some(3600),
            ),
            ("negative", "-5", None),
            ("fraction", "1.5", None),
            ("empty", "", None),
            ("garbage", "soon", None),
        ];
        for (name, value, expected) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                expected.map(Duration::from_secs),
                "{name}"
            );
        }
    }

    #[test]
    fn reasons_match_the_contract() {
        let cases: [(OAuthError, &str); 7] = [
            (
                OAuthError::Transient {
                    cause: TransientCause::Timeout,
                    retry_after: None,
                },
                "ServerUnavailable",
            ),
            (OAuthError::ClientRejected { status: 401 }, "InvalidClient"),
            (
                OAuthError::RefreshTokenRejected { status: 400 },
                "RefreshTokenRejected",
            ),
            (
                OAuthError::GrantNotAllowed { status: 400 },
                "ReauthorizationRequired",
            ),
            (
                OAuthError::UnexpectedStatus { status: 404 },
                "InvalidServerResponse",
            ),
            (InvalidResponse::NotJson.into(), "InvalidServerResponse"),
            (
                OAuthError::Transient {
                    cause: TransientCause::Status(503),
                    retry_after: None,
                },
                "ServerUnavailable",
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(error.reason(), reason, "{error}");
        }
    }

    #[test]
    fn the_invalid_answer_travels_as_the_source_not_in_the_message() {
        let error = OAuthError::from(InvalidResponse::Missing {
            field: "expires_in",
        });
        assert!(!error.to_string().contains("expires_in"));
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("expires_in"));
    }

    #[test]
    fn the_request_body_is_exactly_the_documented_json() {
        let cc = serde_json::to_string(&RequestBody::for_grant(&Grant::ClientCredentials)).unwrap();
        assert_eq!(cc, r#"{"grant_type":"client_credentials"}"#);
        let refresh = refresh_grant("r-1", None);
        let body = serde_json::to_string(&RequestBody::for_grant(&refresh)).unwrap();
        assert_eq!(
            body,
            r#"{"grant_type":"refresh_token","refresh_token":"r-1"}"#
        );
    }

    #[test]
    fn urls_join_the_base_and_the_grant_path() {
        let endpoint = Endpoint {
            base_url: "https://sb-oauth.wetix.my".into(),
            token_path: "/auth/token".into(),
            refresh_path: "/auth/refresh".into(),
        };
        assert_eq!(
            endpoint.url_for(&Grant::ClientCredentials),
            "https://sb-oauth.wetix.my/auth/token"
        );
        assert_eq!(
            endpoint.url_for(&refresh_grant("r", None)),
            "https://sb-oauth.wetix.my/auth/refresh"
        );
        let trailing = Endpoint {
            base_url: "https://x.example/".into(),
            ..endpoint
        };
        assert_eq!(
            trailing.url_for(&Grant::ClientCredentials),
            "https://x.example/auth/token"
        );
    }
}
