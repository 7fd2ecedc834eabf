//! `token`: obtains a token pair from WeTix outside a cluster and prints WeTix's answer as JSON
//! on stdout. The one place tokens are printed on purpose; errors name the flag, file line or
//! variable at fault and never quote a value read from a file or the environment.
//!
//! The client id and secret come from `--client-secret-file` (env-file lines `client_id=...`
//! and `client_secret=...`, the format `kubectl create secret generic --from-env-file` reads,
//! so one file serves both) or else from `WETIX_CLIENT_ID` / `WETIX_CLIENT_SECRET`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CommandError, Exit};
use crate::{
    cli::{CLIENT_ID_ENV, CLIENT_SECRET_ENV, ClientEnv, ServerEnvironment, TokenArgs},
    credential::{Environment, ServerSpec},
    endpoint::{self, EndpointError},
    managed_secret::rfc3339,
    oauth::{
        ClientCredentials, Endpoint, Grant, HttpTokenIssuer, OAuthError, TokenIssuer, TokenRequest,
    },
    sensitive::Sensitive,
    tokens::TokenPair,
};

/// The keys of `--client-secret-file`, the same as a WetixCredential's default Secret keys.
pub const CLIENT_ID_KEY: &str = "client_id";
pub const CLIENT_SECRET_KEY: &str = "client_secret";

/// Why `token` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--client-secret-file {}: cannot read it", .path.display())]
    ReadClientSecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--client-secret-file {}", .path.display())]
    ClientSecretFile {
        path: PathBuf,
        #[source]
        source: ClientSecretFileError,
    },
    #[error(
        "{var} is not set or empty: set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}, or pass --client-secret-file"
    )]
    MissingEnv { var: &'static str },
    #[error("--refresh-token-file {}: cannot read it", .path.display())]
    ReadRefreshTokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--refresh-token-file {}: expected exactly one refresh token, found {found}", .path.display())]
    RefreshTokenFile { path: PathBuf, found: &'static str },
    #[error(
        "--server-url {url:?} must use https (plain http is accepted only for a loopback host)"
    )]
    InsecureServerUrl { url: String },
    #[error("--server-url {url:?} is not an absolute http(s) URL without query or fragment")]
    MalformedServerUrl { url: String },
    #[error("the {grant} request to the WeTix OAuth server failed")]
    Request {
        grant: &'static str,
        #[source]
        source: OAuthError,
    },
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
}

impl CommandError for Error {
    fn exit(&self) -> Exit {
        match self {
            Self::Request { .. } | Self::Output(_) => Exit::Failed,
            _ => Exit::Usage,
        }
    }
}

/// Why the content of `--client-secret-file` is not usable. Names lines and keys, never values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientSecretFileError {
    #[error("line {line} is not `key=value`")]
    NotKeyValue { line: usize },
    #[error("line {line} has an unknown key (expected {CLIENT_ID_KEY} or {CLIENT_SECRET_KEY})")]
    UnknownKey { line: usize },
    #[error("{key} appears twice (lines {first} and {again})")]
    Duplicate {
        key: &'static str,
        first: usize,
        again: usize,
    },
    #[error("no {key} line")]
    Missing { key: &'static str },
    #[error("{key} is empty")]
    Empty { key: &'static str },
}

/// Reads the credentials and the refresh token, calls WeTix once, prints the answer.
pub async fn run(args: TokenArgs, env: ClientEnv) -> Result<Exit, Error> {
    let credentials = match &args.client_secret_file {
        Some(path) => read_client_secret_file(path)?,
        None => credentials_from_env(env)?,
    };
    let endpoint = endpoint_for(&args)?;
    let grant = match &args.refresh_token_file {
        Some(path) => Grant::Refresh {
            refresh_token: read_refresh_token_file(path)?,
            current: None,
        },
        None => Grant::ClientCredentials,
    };
    let label = grant.label();
    let request_failed = |source| Error::Request {
        grant: label,
        source,
    };
    let issuer = HttpTokenIssuer::new().map_err(request_failed)?;
    let pair = issuer
        .request(TokenRequest {
            endpoint,
            credentials,
            grant,
        })
        .await
        .map_err(request_failed)?;
    super::print_stdout(&render(&pair)).map_err(Error::Output)?;
    Ok(Exit::Success)
}

fn read_client_secret_file(path: &Path) -> Result<ClientCredentials, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadClientSecretFile {
        path: path.to_owned(),
        source,
    })?;
    parse_client_secret_file(&text).map_err(|source| Error::ClientSecretFile {
        path: path.to_owned(),
        source,
    })
}

/// Parses env-file lines: `key=value`, blank lines and `#` comments ignored, spaces around
/// keys and values trimmed (so a file saved with CRLF line ends works). Both keys are required
/// once each; any other key is refused, since a misspelt key would otherwise go unnoticed.
pub fn parse_client_secret_file(text: &str) -> Result<ClientCredentials, ClientSecretFileError> {
    let mut client_id: Option<(usize, &str)> = None;
    let mut client_secret: Option<(usize, &str)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .ok_or(ClientSecretFileError::NotKeyValue { line })?;
        let (slot, key) = match key.trim() {
            CLIENT_ID_KEY => (&mut client_id, CLIENT_ID_KEY),
            CLIENT_SECRET_KEY => (&mut client_secret, CLIENT_SECRET_KEY),
            _ => return Err(ClientSecretFileError::UnknownKey { line }),
        };
        if let Some((first, _)) = slot {
            return Err(ClientSecretFileError::Duplicate {
                key,
                first: *first,
                again: line,
            });
        }
        *slot = Some((line, value.trim()));
    }
    let value = |slot: Option<(usize, &str)>, key| match slot {
        None => Err(ClientSecretFileError::Missing { key }),
        Some((_, "")) => Err(ClientSecretFileError::Empty { key }),
        Some((_, value)) => Ok(value.to_owned()),
    };
    Ok(ClientCredentials {
        client_id: value(client_id, CLIENT_ID_KEY)?,
        client_secret: Sensitive::new(value(client_secret, CLIENT_SECRET_KEY)?),
    })
}

/// The credentials from `WETIX_CLIENT_ID` and `WETIX_CLIENT_SECRET`; an empty value is missing.
pub fn credentials_from_env(env: ClientEnv) -> Result<ClientCredentials, Error> {
    let client_id = env
        .client_id
        .filter(|id| !id.trim().is_empty())
        .ok_or(Error::MissingEnv { var: CLIENT_ID_ENV })?;
    let client_secret = env
        .client_secret
        .filter(|secret| !secret.expose().trim().is_empty())
        .ok_or(Error::MissingEnv {
            var: CLIENT_SECRET_ENV,
        })?;
    Ok(ClientCredentials {
        client_id: client_id.trim().to_owned(),
        client_secret,
    })
}

fn read_refresh_token_file(path: &Path) -> Result<Sensitive, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadRefreshTokenFile {
        path: path.to_owned(),
        source,
    })?;
    parse_refresh_token(&text).map_err(|found| Error::RefreshTokenFile {
        path: path.to_owned(),
        found,
    })
}

/// The refresh token in a file: its whole content, trimmed, which must be one word. The error
/// says what was found instead, never the content.
pub fn parse_refresh_token(text: &str) -> Result<Sensitive, &'static str> {
    let token = text.trim();
    if token.is_empty() {
        Err("nothing")
    } else if token.contains(char::is_whitespace) {
        Err("more than one word")
    } else {
        Ok(Sensitive::new(token))
    }
}

/// Where the call goes. A `--server-url` passes the same scheme check as `spec.server.url`
/// (https, or http for a loopback host); typing it is what allows it.
pub fn endpoint_for(args: &TokenArgs) -> Result<Endpoint, Error> {
    let environment = match args.environment {
        Some(ServerEnvironment::Production) => Environment::Production,
        Some(ServerEnvironment::Sandbox) | None => Environment::Sandbox,
    };
    let server = ServerSpec {
        environment,
        url: args.server_url.clone(),
        token_path: args.token_path.clone(),
        refresh_path: args.refresh_path.clone(),
    };
    let allowed: Vec<String> = args.server_url.iter().cloned().collect();
    endpoint::resolve(&server, &allowed).map_err(|e| match e {
        EndpointError::InsecureScheme { url } => Error::InsecureServerUrl { url },
        EndpointError::Malformed { url } | EndpointError::NotAllowed { url } => {
            Error::MalformedServerUrl { url }
        }
    })
}

/// What `token` prints: WeTix's fields, with the expiries as the operator reckons them.
#[derive(Debug, Serialize)]
struct Printed<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    expires_at: String,
    refresh_token_expires_at: String,
    token_type: &'static str,
}

/// The token pair as pretty JSON, expiries in RFC 3339 UTC as in the managed Secret.
pub fn render(pair: &TokenPair) -> String {
    let printed = Printed {
        // A pair WeTix has just issued: its access token is held.
        access_token: pair.access_token.held().map_or("", Sensitive::expose),
        refresh_token: pair.refresh_token.expose(),
        expires_at: rfc3339(pair.access.expires_at),
        refresh_token_expires_at: rfc3339(pair.refresh.expires_at),
        token_type: "Bearer",
    };
    // serde_json fails only on a map with non-string keys or a `Serialize` impl that errors;
    // `Printed` is five string fields.
    #[allow(clippy::expect_used, reason = "a struct of strings always serializes")]
    let json = serde_json::to_string_pretty(&printed).expect("strings always serialize");
    json + "\n"
}

#[cfg(test)]
mod tests;
