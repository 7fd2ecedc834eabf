//! The WeTix OAuth call: what one token request is ([`TokenRequest`]: where, as whom, for
//! which grant), and the [`TokenIssuer`] the reconciler sends it to.
//!
//! In the order the data flows:
//! - this file: the request as plain data, and the trait.
//! - [`error`]: what a failure means — its status ([`status_error`]), its `Retry-After`
//!   ([`parse_retry_after`]) — as an [`OAuthError`] the reconciler can act on. Pure.
//! - [`http`]: [`HttpTokenIssuer`], the only I/O: one HTTP request per token pair, whose
//!   status goes to [`error`] and whose 2xx body goes to [`crate::tokens`] (what the answer's
//!   tokens are and when they expire).
//!
//! Nothing here ever formats a token, the client secret, the Authorization header or a response
//! body into an error or a log line.

use futures::future::BoxFuture;

use crate::sensitive::Sensitive;
use crate::tokens::{KnownRefresh, Lifetime, TokenPair};

pub mod error;
pub mod http;

pub use crate::tokens::{InvalidResponse, TokenResponse};
pub use error::{MAX_RETRY_AFTER, OAuthError, TransientCause, parse_retry_after, status_error};
pub use http::{CONNECT_TIMEOUT, HttpTokenIssuer, MAX_RESPONSE_BYTES, REQUEST_TIMEOUT};

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

    /// The refresh token this grant exchanges, when its lifetime is known: what
    /// [`token_pair_from_response`](crate::tokens::token_pair_from_response) needs so that a refresh token WeTix returns unchanged keeps
    /// the lifetime it had.
    pub fn known_refresh(&self) -> Option<KnownRefresh<'_>> {
        match self {
            Self::Refresh {
                refresh_token,
                current: Some(lifetime),
            } => Some(KnownRefresh {
                token: refresh_token,
                lifetime: *lifetime,
            }),
            _ => None,
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

#[cfg(test)]
mod tests;
