use super::*;

pub(super) fn refresh_grant(token: &str, current: Option<Lifetime>) -> Grant {
    Grant::Refresh {
        refresh_token: token.into(),
        current,
    }
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

#[test]
fn only_a_refresh_with_a_known_lifetime_keeps_it() {
    let lifetime = Lifetime {
        issued_at: "2026-09-01T00:00:00Z".parse().unwrap(),
        expires_at: "2027-09-01T00:00:00Z".parse().unwrap(),
    };
    assert_eq!(Grant::ClientCredentials.known_refresh(), None);
    assert_eq!(refresh_grant("r", None).known_refresh(), None);
    let refresh = refresh_grant("r", Some(lifetime));
    let known = refresh.known_refresh().unwrap();
    assert_eq!(known.token.expose(), "r");
    assert_eq!(known.lifetime, lifetime);
}
