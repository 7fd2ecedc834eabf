#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

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

#[test]
fn messages_never_show_a_user_name_password_query_or_fragment() {
    for url in [
        "https://user:hunter2@a.example",
        "https://hunter2@a.example/x",
        "https://a.example/?k=hunter2",
        "https://a.example#hunter2",
        "http://hunter2@localhost",
        "https://hunter2\\@a.example",
        "hunter2@a.example",
    ] {
        let err = resolve(&server(Some(url)), &allowed(&[url])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    assert_eq!(
        redacted("https://u:p@a.example/x?q#f"),
        "https://…@a.example/x…"
    );
    assert_eq!(redacted("https://a.example/x"), "https://a.example/x");
}

#[test]
fn urls_a_parser_would_read_otherwise_are_malformed() {
    for url in [
        "https://a.example\\evil",
        "https://a b.example",
        "https://a.example\t",
        "https://a.exa\nmple",
        "https://:443",
        "https:///x",
    ] {
        let err = resolve(&server(Some(url)), &allowed(&[url])).unwrap_err();
        assert!(
            matches!(err, EndpointError::Malformed { .. }),
            "{url:?}: {err}"
        );
        assert_eq!(err.reason(), "InvalidSpec");
    }
}

const BASE: &str = "https://sb-oauth.wetix.my";

#[test]
fn a_joined_url_keeps_the_base_scheme_host_port_and_user_or_is_refused() {
    // (base, path, the URL posted to, or None: refused)
    let cases = [
        (
            BASE,
            "/auth/token",
            Some("https://sb-oauth.wetix.my/auth/token"),
        ),
        (
            "https://x.example/",
            "/auth/token",
            Some("https://x.example/auth/token"),
        ),
        (
            "http://127.0.0.1:8090/api",
            "/auth/token",
            Some("http://127.0.0.1:8090/api/auth/token"),
        ),
        ("http://[::1]:8090", "/t", Some("http://[::1]:8090/t")),
        // What parsers make of the path moves nothing, even where it looks alarming.
        (
            BASE,
            "//evil.example",
            Some("https://sb-oauth.wetix.my//evil.example"),
        ),
        (BASE, "/\\evil", Some("https://sb-oauth.wetix.my//evil")),
        (
            BASE,
            "\\\\evil.example",
            Some("https://sb-oauth.wetix.my//evil.example"),
        ),
        (BASE, "/%2e%2e/", Some("https://sb-oauth.wetix.my/")),
        // Read as "user@host", "host.suffix", ":port", or beyond the base's query or path.
        (BASE, "@evil.example/x", None),
        (BASE, ":@evil.example/x", None),
        (BASE, ".evil.example/x", None),
        (BASE, "evil/x", None),
        (BASE, ":8443/x", None),
        (BASE, "?x=1", None),
        (BASE, "/x?x=1", None),
        (BASE, "#x", None),
        ("http://127.0.0.1:8090", "@evil.example", None),
        ("http://127.0.0.1:8090/api", "/%2e%2e/x", None),
        ("http://127.0.0.1:8090/api", "/../x", None),
        ("http://127.0.0.1:8090/api", "/../apix", None),
        ("not a url", "/x", None),
    ];
    for (base, path, want) in cases {
        let got = join(base, "tokenPath", path);
        assert_eq!(
            got.as_ref().ok().map(Url::as_str),
            want,
            "{base} + {path:?}: {got:?}"
        );
        let base_url = Url::parse(base);
        if let (Ok(url), Ok(base_url)) = (&got, base_url) {
            assert_eq!(url.host(), base_url.host());
            assert_eq!(url.port(), base_url.port());
        }
    }
}

#[test]
fn the_grant_url_is_the_one_url_for_gave_for_a_plain_path() {
    use crate::oauth::Grant;
    let mut endpoint = resolve(&server(None), &[]).unwrap();
    let refresh = Grant::Refresh {
        refresh_token: "r".into(),
        current: None,
    };
    for grant in [Grant::ClientCredentials, refresh.clone()] {
        assert_eq!(
            grant_url(&endpoint, &grant).unwrap().as_str(),
            endpoint.url_for(&grant)
        );
    }
    // A path validation refuses is refused here too, naming its field; the URL itself
    // would have stayed on the host, but is not what the user wrote.
    endpoint.refresh_path = "/%2e%2e/x".into();
    let err = grant_url(&endpoint, &refresh).unwrap_err();
    assert!(
        matches!(
            err,
            UnsafeUrl::Path {
                field: "refreshPath",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.reason(), "InvalidSpec");
    endpoint.token_path = "@evil.example/x?k=hunter2".into();
    let err = grant_url(&endpoint, &Grant::ClientCredentials).unwrap_err();
    assert!(
        err.to_string().starts_with("spec.server.tokenPath"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
