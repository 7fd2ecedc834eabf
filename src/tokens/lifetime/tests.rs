use super::*;
use crate::tokens::fixtures::{SENT, answer, jwt, seconds, ts};

/// A refresh of `token`, whose lifetime was known to be `lifetime` before the call.
fn known(token: &Sensitive, lifetime: Lifetime) -> Option<KnownRefresh<'_>> {
    Some(KnownRefresh { token, lifetime })
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
        let pair = token_pair_from_response(answer(&access, "refresh"), None, ts(SENT)).unwrap();
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
        let pair =
            token_pair_from_response(answer("access", &jwt(claims)), None, ts(SENT)).unwrap();
        assert_eq!(pair.refresh.issued_at, ts(expected), "{name}");
    }
}

#[test]
fn a_refresh_answered_with_the_same_refresh_token_keeps_its_known_lifetime() {
    let current = Lifetime {
        issued_at: ts("2026-09-01T00:00:00Z"),
        expires_at: ts("2027-09-01T00:00:00Z"),
    };
    let sent = Sensitive::from("same-refresh");
    let pair = token_pair_from_response(
        answer("new-access", "same-refresh"),
        known(&sent, current),
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
    let sent = Sensitive::from(token.as_str());
    let pair = token_pair_from_response(
        answer("new-access", &token),
        known(&sent, current),
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
    let pair = token_pair_from_response(answer("new-access", &token), None, ts(SENT)).unwrap();
    assert_eq!(pair.refresh.issued_at, ts("2026-03-01T00:00:00Z"));
    assert_eq!(pair.refresh.expires_at, ts("2027-03-01T00:00:00Z"));
}

#[test]
fn a_rotating_refresh_takes_the_new_token_and_its_new_lifetime() {
    let current = Lifetime {
        issued_at: ts("2026-09-01T00:00:00Z"),
        expires_at: ts("2027-09-01T00:00:00Z"),
    };
    let sent = Sensitive::from("old-refresh");
    let pair = token_pair_from_response(
        answer("new-access", "new-refresh"),
        known(&sent, current),
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
            token_pair_from_response(response, None, ts(SENT)).is_ok(),
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
        let err = token_pair_from_response(response, None, ts(SENT)).expect_err(name);
        assert_eq!(err, expected, "{name}");
        let message = format!("{err} {err:?}");
        assert!(!message.contains("VALUE"), "{name}: {message}");
        assert!(!message.contains("MAC"), "{name}: {message}");
        if let Some(field) = err.field() {
            assert!(message.contains(field), "{name}: {message}");
        }
    }
}
