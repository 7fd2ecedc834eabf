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

/// What an answer with these lifetimes, sent at `sent_at`, becomes: `Ok` with the access and
/// refresh expiries, or the refusal.
fn lifetimes(
    expires_in: i64,
    refresh_expires_in: i64,
    sent_at: Timestamp,
) -> Result<(Timestamp, Timestamp), InvalidResponse> {
    let mut response = answer("opaque-access", "opaque-refresh");
    response.expires_in = Some(expires_in);
    response.refresh_token_expires_in = Some(refresh_expires_in);
    let pair = token_pair_from_response(response, None, sent_at)?;
    Ok((pair.access.expires_at, pair.refresh.expires_at))
}

#[test]
fn lifetimes_at_and_beyond_the_i64_range_are_refused_naming_the_field() {
    let sent = ts(SENT);
    let out_of_range = |field| Err(InvalidResponse::LifetimeOutOfRange { field });
    let not_positive = |field| Err(InvalidResponse::NonPositiveLifetime { field });
    let second = SignedDuration::from_secs(1);
    let to_the_end = Timestamp::MAX.duration_since(sent).as_secs();
    let cases = [
        // (name, expires_in, refresh_token_expires_in, sent at, expected)
        ("i64::MAX", i64::MAX, 60, sent, out_of_range("expires_in")),
        ("i64::MIN", i64::MIN, 60, sent, not_positive("expires_in")),
        ("zero", 0, 60, sent, not_positive("expires_in")),
        ("minus one", -1, 60, sent, not_positive("expires_in")),
        (
            "refresh i64::MAX",
            60,
            i64::MAX,
            sent,
            out_of_range("refresh_token_expires_in"),
        ),
        (
            "refresh i64::MIN",
            60,
            i64::MIN,
            sent,
            not_positive("refresh_token_expires_in"),
        ),
        (
            "one second past the end of time",
            to_the_end + 1,
            60,
            sent,
            out_of_range("expires_in"),
        ),
        (
            "up to the last whole second there is",
            to_the_end,
            to_the_end,
            sent,
            Ok((
                sent.checked_add(SignedDuration::from_secs(to_the_end))
                    .unwrap(),
                sent.checked_add(SignedDuration::from_secs(to_the_end))
                    .unwrap(),
            )),
        ),
        (
            "sent at the last second, for one second",
            1,
            1,
            Timestamp::MAX.checked_sub(second).unwrap(),
            Ok((Timestamp::MAX, Timestamp::MAX)),
        ),
        (
            "sent at the end of time, for one second",
            1,
            1,
            Timestamp::MAX,
            out_of_range("expires_in"),
        ),
        (
            "sent at the start of time, for a long time",
            600_000_000_000,
            60,
            Timestamp::MIN,
            Ok((
                Timestamp::MIN
                    .checked_add(SignedDuration::from_secs(600_000_000_000))
                    .unwrap(),
                Timestamp::MIN
                    .checked_add(SignedDuration::from_mins(1))
                    .unwrap(),
            )),
        ),
    ];
    for (name, expires_in, refresh_expires_in, sent_at, expected) in cases {
        let got = lifetimes(expires_in, refresh_expires_in, sent_at);
        assert_eq!(got, expected, "{name}");
        if let Err(err) = got {
            let message = format!("{err} {err:?}");
            for value in [expires_in, refresh_expires_in] {
                assert!(!message.contains(&value.to_string()), "{name}: {message}");
            }
        }
    }
}

#[test]
fn absurd_jwt_claims_never_make_a_token_live_longer_nor_panic() {
    let sixty_days = "2027-01-24T10:00:00Z";
    let cases = [
        // (name, claims, expected access expiry or refusal, expected issued_at)
        (
            "exp 1e300",
            serde_json::json!({"exp": 1e300}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp -1e300",
            serde_json::json!({"exp": -1e300}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp u64::MAX",
            serde_json::json!({"exp": u64::MAX}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp i64::MAX",
            serde_json::json!({"exp": i64::MAX}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp i64::MIN",
            serde_json::json!({"exp": i64::MIN}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp \"x\"",
            serde_json::json!({"exp": "x"}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp true",
            serde_json::json!({"exp": true}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp an object",
            serde_json::json!({"exp": {"a": 1}}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "exp -1, before the epoch: already expired",
            serde_json::json!({"exp": -1}),
            Err(InvalidResponse::AlreadyExpired {
                field: "access_token",
            }),
            SENT,
        ),
        (
            "exp 0: already expired",
            serde_json::json!({"exp": 0}),
            Err(InvalidResponse::AlreadyExpired {
                field: "access_token",
            }),
            SENT,
        ),
        (
            "exp at the earliest Timestamp: already expired",
            serde_json::json!({"exp": Timestamp::MIN.as_second()}),
            Err(InvalidResponse::AlreadyExpired {
                field: "access_token",
            }),
            SENT,
        ),
        (
            "exp at the latest Timestamp: expires_in wins",
            serde_json::json!({"exp": Timestamp::MAX.as_second()}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat 1e300",
            serde_json::json!({"iat": 1e300}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat -1",
            serde_json::json!({"iat": -1}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat i64::MIN",
            serde_json::json!({"iat": i64::MIN}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat u64::MAX",
            serde_json::json!({"iat": u64::MAX}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat at the latest Timestamp",
            serde_json::json!({"iat": Timestamp::MAX.as_second()}),
            Ok(sixty_days),
            SENT,
        ),
        (
            "iat \"x\"",
            serde_json::json!({"iat": "x"}),
            Ok(sixty_days),
            SENT,
        ),
    ];
    for (name, claims, expected, issued_at) in cases {
        let token = jwt(claims);
        let got = token_pair_from_response(answer(&token, "refresh"), None, ts(SENT));
        match (got, expected) {
            (Ok(pair), Ok(expires_at)) => {
                assert_eq!(pair.access.expires_at, ts(expires_at), "{name}");
                assert_eq!(pair.access.issued_at, ts(issued_at), "{name}");
            }
            (Err(err), Err(expected)) => assert_eq!(err, expected, "{name}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
}
