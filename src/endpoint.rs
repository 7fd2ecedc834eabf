//! Where a credential's calls go: the environment's base URL, or `spec.server.url` when the
//! operator allows it; and the one URL each grant is posted to, checked to go to that server.
//! Pure: the spec and the allow-list in, an endpoint or a refusal out.
//!
//! Messages show a URL without its user name, password, query or fragment ([`redacted`]).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use reqwest::Url;

use crate::{
    credential::ServerSpec,
    oauth::{Endpoint, Grant},
    validate,
};

/// Why `spec.server` cannot be used. Each `url` is [`redacted`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// The URL is not in `--allowed-server-urls`.
    #[error("spec.server.url {url:?} is not in the operator's --allowed-server-urls")]
    NotAllowed { url: String },
    /// Plain http to a host other than loopback would send the client secret in clear text.
    #[error(
        "spec.server.url {url:?} must use https (plain http is accepted only for a loopback host)"
    )]
    InsecureScheme { url: String },
    /// Not an absolute http(s) URL without query or fragment.
    #[error(
        "spec.server.url {url:?} is not an absolute http(s) URL with a host and without user \
         name, password, query, fragment, whitespace or '\\'"
    )]
    Malformed { url: String },
}

impl EndpointError {
    /// The Ready reason for this refusal.
    pub fn reason(&self) -> crate::reason::Reason {
        match self {
            Self::NotAllowed { .. } => crate::reason::Reason::ServerNotAllowed,
            Self::InsecureScheme { .. } | Self::Malformed { .. } => {
                crate::reason::Reason::InvalidSpec
            }
        }
    }
}

/// Resolves the endpoint for a credential's `spec.server`.
///
/// A custom URL is compared with the allow-list after removing a trailing `/` on both sides,
/// so `https://a.example/` and `https://a.example` are the same server. It is checked before
/// anything is sent: a refused URL is never called.
pub fn resolve(server: &ServerSpec, allowed: &[String]) -> Result<Endpoint, EndpointError> {
    let base_url = match &server.url {
        None => server.environment.base_url().to_owned(),
        Some(url) => {
            let url = url.trim_end_matches('/');
            check_scheme(url)?;
            if !allowed.iter().any(|a| a.trim_end_matches('/') == url) {
                return Err(EndpointError::NotAllowed { url: redacted(url) });
            }
            url.to_owned()
        }
    };
    Ok(Endpoint {
        base_url,
        token_path: server.token_path.clone(),
        refresh_path: server.refresh_path.clone(),
    })
}

fn check_scheme(url: &str) -> Result<(), EndpointError> {
    let malformed = || EndpointError::Malformed { url: redacted(url) };
    let (scheme, rest) = url.split_once("://").ok_or_else(malformed)?;
    let hostile = |c: char| "?#@\\".contains(c) || c.is_whitespace() || c.is_control();
    if rest.is_empty() || rest.starts_with('/') || rest.contains(hostile) {
        return Err(malformed());
    }
    let parsed = Url::parse(url).map_err(|_| malformed())?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(malformed());
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host_of(rest)) => Ok(()),
        "http" => Err(EndpointError::InsecureScheme { url: redacted(url) }),
        _ => Err(malformed()),
    }
}

/// The host of `host[:port][/path]`, without brackets for IPv6 literals.
fn host_of(authority_and_path: &str) -> &str {
    let authority = authority_and_path
        .split('/')
        .next()
        .unwrap_or(authority_and_path);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL as a message may show it: a query or fragment is cut (`…`), and everything before
/// the last `@` (a user name and password, however a parser would split them) becomes `…@`.
/// A URL without `?`, `#` or `@` is shown unchanged.
pub fn redacted(url: &str) -> String {
    let (head, cut) = match url.split_once(['?', '#']) {
        Some((head, _)) => (head, "…"),
        None => (url, ""),
    };
    let (scheme, rest) = match head.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), head),
    };
    let rest = match rest.rsplit_once('@') {
        Some((_, after)) => format!("…@{after}"),
        None => rest.to_owned(),
    };
    format!("{scheme}{rest}{cut}")
}

/// Why a grant's URL cannot be built so that it goes to the base URL's server.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsafeUrl {
    /// The base is not an absolute URL with a host (never so after [`resolve`]).
    #[error("the server URL {base:?} is not an absolute URL with a host")]
    Base { base: String },
    /// The path is refused by the same rule as in [`validate::spec`].
    #[error("spec.server.{field} {path} is not a plain URL path: {problem}")]
    Path {
        field: &'static str,
        path: String,
        problem: String,
    },
    /// Appended to the base, the path would change the scheme, host, port or user, add a query
    /// or fragment, or climb out of the base's path.
    #[error("spec.server.{field} {path} would send the request elsewhere than {base:?}")]
    Escapes {
        field: &'static str,
        path: String,
        base: String,
    },
}

impl UnsafeUrl {
    /// The Ready reason: the spec names somewhere the operator will not send credentials.
    pub fn reason(&self) -> crate::reason::Reason {
        crate::reason::Reason::InvalidSpec
    }
}

/// The URL `grant` is posted to: `{base}{path}` as [`Endpoint::url_for`] writes it, refused
/// unless the path passes [`validate::url_path`] and the joined URL still goes to the base's
/// server ([`join`]).
pub fn grant_url(endpoint: &Endpoint, grant: &Grant) -> Result<Url, UnsafeUrl> {
    let (field, path) = match grant {
        Grant::ClientCredentials => ("tokenPath", &endpoint.token_path),
        Grant::Refresh { .. } => ("refreshPath", &endpoint.refresh_path),
    };
    validate::url_path(path).map_err(|problem| UnsafeUrl::Path {
        field,
        path: validate::shown_path(path),
        problem,
    })?;
    join(&endpoint.base_url, field, path)
}

/// `base` (less a trailing `/`) followed by `path`, parsed, and accepted only when it has
/// exactly the base's scheme, host, port, user name and password, the base's query and
/// fragment (none), and a path at or below the base's path.
///
/// The check is on the parsed result, so whatever a URL parser makes of the text (`@` read as
/// userinfo, `\` as `/`, `%2e%2e` as `..`), the request cannot go anywhere else.
pub fn join(base: &str, field: &'static str, path: &str) -> Result<Url, UnsafeUrl> {
    let base_url = Url::parse(base)
        .ok()
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| UnsafeUrl::Base {
            base: redacted(base),
        })?;
    let escapes = || UnsafeUrl::Escapes {
        field,
        path: validate::shown_path(path),
        base: redacted(base),
    };
    let joined =
        Url::parse(&format!("{}{path}", base.trim_end_matches('/'))).map_err(|_| escapes())?;
    let base_path = base_url.path().trim_end_matches('/');
    let below_base = joined
        .path()
        .strip_prefix(base_path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    let same_server = joined.scheme() == base_url.scheme()
        && joined.host() == base_url.host()
        && joined.port() == base_url.port()
        && joined.username() == base_url.username()
        && joined.password() == base_url.password()
        && joined.query() == base_url.query()
        && joined.fragment() == base_url.fragment();
    if same_server && below_base {
        Ok(joined)
    } else {
        Err(escapes())
    }
}

#[cfg(test)]
mod tests;
