//! The HTTP edge of the OAuth call: [`HttpTokenIssuer`] posts one request, reads at most
//! [`MAX_RESPONSE_BYTES`] of the answer, and hands status, `Retry-After` and body to the pure
//! rules ([`status_error`], [`parse_retry_after`], [`token_pair_from_response`]). The only
//! file that speaks HTTP to WeTix.

use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use serde::Serialize;

use super::{
    Grant, TokenIssuer, TokenRequest,
    error::{OAuthError, TransientCause, parse_retry_after, status_error},
};
use crate::{
    USER_AGENT,
    error_chain::ErrorChain,
    tokens::{InvalidResponse, TokenPair, TokenResponse, token_pair_from_response},
};

/// The whole call, connection included, gives up after this long. WeTix answers in well under a
/// second; 30 s covers a slow network without holding a reconcile worker for minutes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Establishing the connection (TCP and TLS) gives up after this long: a server that cannot be
/// reached in 10 s is down or filtered, and the retry backoff takes over sooner.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a token answer that is read. A WeTix answer is two JWTs of a few hundred bytes
/// each; anything larger than 64 KiB is not a token answer, and is not kept in memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

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
            .map_err(|e| OAuthError::Setup(Box::new(e.without_url())))?;
        Ok(Self { client })
    }

    async fn send(&self, request: TokenRequest) -> Result<TokenPair, OAuthError> {
        let TokenRequest {
            endpoint,
            credentials,
            grant,
        } = request;
        // Checked again here, at the edge: whatever the caller checked, the request goes to
        // the base's server or not at all.
        let url = crate::endpoint::grant_url(&endpoint, &grant)
            .map_err(|e| OAuthError::Setup(Box::new(e)))?;
        let sent_at = Timestamp::now();
        let response = self
            .client
            .post(url)
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
        Ok(token_pair_from_response(
            answer,
            grant.known_refresh(),
            sent_at,
        )?)
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

/// Reads the body, refusing to hold more than `limit` bytes: a declared `Content-Length` above
/// it is refused before reading, and a body without one (or longer than it said) as soon as
/// the chunks read add up to more.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if response.content_length().is_some_and(|n| n > limit_u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
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
        return OAuthError::Setup(Box::new(error.without_url()));
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

#[cfg(test)]
mod tests;
