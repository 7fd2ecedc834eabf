//! Where a credential's calls go: the environment's base URL, or `spec.server.url` when the
//! operator allows it. Pure: the spec and the allow-list in, an endpoint or a refusal out.

use crate::{credential::ServerSpec, oauth::Endpoint};

/// Why `spec.server` cannot be used.
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
    #[error("spec.server.url {url:?} is not an absolute http(s) URL without query or fragment")]
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
                return Err(EndpointError::NotAllowed {
                    url: url.to_owned(),
                });
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
    let malformed = || EndpointError::Malformed {
        url: url.to_owned(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(malformed)?;
    if rest.is_empty() || rest.contains(['?', '#', ' ', '@']) {
        return Err(malformed());
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host_of(rest)) => Ok(()),
        "http" => Err(EndpointError::InsecureScheme {
            url: url.to_owned(),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Environment;

    fn server(url: Option<&str>) -> ServerSpec {
        ServerSpec {
            environment: Environment::Sandbox,
            url: url.map(str::to_owned),
            token_path: "/auth/token".into(),
            refresh_path: "/auth/refresh".into(),
        }
    }

    fn allowed(urls: &[&str]) -> Vec<String> {
        urls.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn environments_map_to_the_documented_base_urls() {
        let endpoint = resolve(&server(None), &[]).unwrap();
        assert_eq!(endpoint.base_url, "https://sb-oauth.wetix.my");
        assert_eq!(endpoint.token_path, "/auth/token");
        let mut production = server(None);
        production.environment = Environment::Production;
        assert_eq!(
            resolve(&production, &[]).unwrap().base_url,
            "https://oauth.wetix.my"
        );
    }

    #[test]
    fn a_custom_url_is_refused_unless_allowed() {
        let err = resolve(&server(Some("https://oauth.example")), &[]).unwrap_err();
        assert_eq!(
            err,
            EndpointError::NotAllowed {
                url: "https://oauth.example".into()
            }
        );
        assert_eq!(err.reason(), "ServerNotAllowed");
        let ok = resolve(
            &server(Some("https://oauth.example/")),
            &allowed(&["https://oauth.example"]),
        )
        .unwrap();
        assert_eq!(ok.base_url, "https://oauth.example");
    }

    #[test]
    fn plain_http_is_accepted_only_for_loopback_hosts() {
        for url in [
            "http://127.0.0.1:8090",
            "http://localhost:8090",
            "http://[::1]:8090",
            "http://127.0.0.2",
        ] {
            assert!(
                resolve(&server(Some(url)), &allowed(&[url])).is_ok(),
                "{url}"
            );
        }
        for url in [
            "http://oauth.example",
            "http://10.0.0.1:8090",
            "http://localhost.evil.example",
        ] {
            let err = resolve(&server(Some(url)), &allowed(&[url])).unwrap_err();
            assert!(
                matches!(err, EndpointError::InsecureScheme { .. }),
                "{url}: {err}"
            );
            assert_eq!(err.reason(), "InvalidSpec");
        }
    }

    #[test]
    fn malformed_urls_are_invalid_spec() {
        for url in [
            "ftp://x",
            "https://",
            "oauth.example",
            "https://a.example/?q=1",
            "https://user@a.example",
        ] {
            let err = resolve(&server(Some(url)), &allowed(&[url])).unwrap_err();
            assert!(
                matches!(err, EndpointError::Malformed { .. }),
                "{url}: {err}"
            );
        }
    }
}
