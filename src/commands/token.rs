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
        access_token: pair.access_token.expose(),
        refresh_token: pair.refresh_token.expose(),
        expires_at: rfc3339(pair.access.expires_at),
        refresh_token_expires_at: rfc3339(pair.refresh.expires_at),
        token_type: "Bearer",
    };
    serde_json::to_string_pretty(&printed).expect("strings always serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::pair;

    const SECRET: &str = "s3cr3t-VALUE";

    fn args(environment: Option<ServerEnvironment>, url: Option<&str>) -> TokenArgs {
        TokenArgs {
            environment,
            server_url: url.map(str::to_owned),
            token_path: "/auth/token".into(),
            refresh_path: "/auth/refresh".into(),
            refresh_token_file: None,
            client_secret_file: None,
        }
    }

    #[test]
    fn the_client_secret_file_reads_env_file_lines() {
        let text = "# WeTix sandbox client\n\n client_id = shop-client \r\nclient_secret=s3cr3t-VALUE=x\r\n";
        let credentials = parse_client_secret_file(text).unwrap();
        assert_eq!(credentials.client_id, "shop-client");
        assert_eq!(credentials.client_secret.expose(), "s3cr3t-VALUE=x");
    }

    #[test]
    fn a_bad_client_secret_file_names_the_line_or_key_never_the_value() {
        let cases = [
            (
                "client_id=a\ns3cr3t-VALUE\n",
                ClientSecretFileError::NotKeyValue { line: 2 },
            ),
            (
                "client_id=a\nclient-secret=s3cr3t-VALUE\n",
                ClientSecretFileError::UnknownKey { line: 2 },
            ),
            (
                "s3cr3t-VALUE=client_secret\n",
                ClientSecretFileError::UnknownKey { line: 1 },
            ),
            (
                "client_secret=s3cr3t-VALUE\nclient_id=a\nclient_secret=s3cr3t-VALUE\n",
                ClientSecretFileError::Duplicate {
                    key: "client_secret",
                    first: 1,
                    again: 3,
                },
            ),
            (
                "client_secret=s3cr3t-VALUE\n",
                ClientSecretFileError::Missing { key: "client_id" },
            ),
            (
                "client_id=a\n",
                ClientSecretFileError::Missing {
                    key: "client_secret",
                },
            ),
            (
                "client_id=a\nclient_secret=  \n",
                ClientSecretFileError::Empty {
                    key: "client_secret",
                },
            ),
            ("", ClientSecretFileError::Missing { key: "client_id" }),
        ];
        for (text, expected) in cases {
            let err = parse_client_secret_file(text).unwrap_err();
            assert_eq!(err, expected, "{text:?}");
            assert!(!err.to_string().contains("VALUE"), "{err}");
            let wrapped = Error::ClientSecretFile {
                path: "/tmp/wetix-client.env".into(),
                source: err,
            };
            let chain = crate::error_chain::error_chain(&wrapped);
            assert!(
                chain.starts_with("--client-secret-file /tmp/wetix-client.env: "),
                "{chain}"
            );
            assert_eq!(wrapped.exit(), Exit::Usage);
        }
    }

    #[test]
    fn missing_environment_variables_are_named() {
        let cases = [
            (ClientEnv::default(), "WETIX_CLIENT_ID"),
            (
                ClientEnv {
                    client_id: Some("shop-client".into()),
                    client_secret: None,
                },
                "WETIX_CLIENT_SECRET",
            ),
            (
                ClientEnv {
                    client_id: Some("shop-client".into()),
                    client_secret: Some(Sensitive::new(" ")),
                },
                "WETIX_CLIENT_SECRET",
            ),
            (
                ClientEnv {
                    client_id: Some("".into()),
                    client_secret: Some(Sensitive::new(SECRET)),
                },
                "WETIX_CLIENT_ID",
            ),
        ];
        for (env, var) in cases {
            let err = credentials_from_env(env).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(var), "{text}");
            assert!(text.contains("--client-secret-file"), "{text}");
            assert!(!text.contains("VALUE"), "{text}");
            assert_eq!(err.exit(), Exit::Usage);
        }
        let ok = credentials_from_env(ClientEnv {
            client_id: Some("shop-client".into()),
            client_secret: Some(Sensitive::new(SECRET)),
        })
        .unwrap();
        assert_eq!(ok.client_id, "shop-client");
        assert_eq!(ok.client_secret.expose(), SECRET);
    }

    #[test]
    fn the_refresh_token_file_holds_one_token() {
        assert_eq!(
            parse_refresh_token("  r-1.2.3\n").unwrap().expose(),
            "r-1.2.3"
        );
        assert_eq!(parse_refresh_token("\n \n").unwrap_err(), "nothing");
        assert_eq!(
            parse_refresh_token("a b").unwrap_err(),
            "more than one word"
        );
        let err = Error::RefreshTokenFile {
            path: "rt".into(),
            found: "nothing",
        };
        assert_eq!(
            err.to_string(),
            "--refresh-token-file rt: expected exactly one refresh token, found nothing"
        );
    }

    #[test]
    fn the_server_is_an_environment_or_a_checked_url() {
        let endpoint = endpoint_for(&args(Some(ServerEnvironment::Production), None)).unwrap();
        assert_eq!(endpoint.base_url, "https://oauth.wetix.my");
        assert_eq!(endpoint.token_path, "/auth/token");
        let endpoint = endpoint_for(&args(Some(ServerEnvironment::Sandbox), None)).unwrap();
        assert_eq!(endpoint.base_url, "https://sb-oauth.wetix.my");
        for url in [
            "http://127.0.0.1:8090",
            "http://localhost:1",
            "https://oauth.example/",
        ] {
            let endpoint = endpoint_for(&args(None, Some(url))).unwrap();
            assert_eq!(endpoint.base_url, url.trim_end_matches('/'));
        }
        let err = endpoint_for(&args(None, Some("http://oauth.example"))).unwrap_err();
        assert!(matches!(err, Error::InsecureServerUrl { .. }), "{err}");
        assert!(err.to_string().starts_with("--server-url"), "{err}");
        assert_eq!(err.exit(), Exit::Usage);
        let err = endpoint_for(&args(None, Some("oauth.example"))).unwrap_err();
        assert!(matches!(err, Error::MalformedServerUrl { .. }), "{err}");
        assert!(err.to_string().starts_with("--server-url"), "{err}");
    }

    #[test]
    fn the_answer_prints_as_json_with_rfc3339_expiries() {
        let pair = pair("2026-11-25T10:00:00Z", 5_184_000, 31_536_000);
        let printed: serde_json::Value = serde_json::from_str(&render(&pair)).unwrap();
        assert_eq!(
            printed,
            serde_json::json!({
                "access_token": pair.access_token.expose(),
                "refresh_token": pair.refresh_token.expose(),
                "expires_at": "2027-01-24T10:00:00Z",
                "refresh_token_expires_at": "2027-11-25T10:00:00Z",
                "token_type": "Bearer",
            })
        );
    }

    #[test]
    fn a_refused_request_exits_one_and_names_the_grant() {
        let err = Error::Request {
            grant: "client_credentials",
            source: OAuthError::ClientRejected { status: 401 },
        };
        assert_eq!(err.exit(), Exit::Failed);
        assert_eq!(
            crate::error_chain::error_chain(&err),
            "the client_credentials request to the WeTix OAuth server failed: \
             the WeTix OAuth server rejected the client credentials (HTTP 401)"
        );
    }
}
