use super::*;
use crate::oauth::tests::refresh_grant;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn every_status_is_classified_per_grant() {
    let refresh = refresh_grant("r", None);
    // (status, reason for client credentials, reason for refresh); None = success.
    let cases = [
        (200, None, None),
        (201, None, None),
        (
            400,
            Some("ReauthorizationRequired"),
            Some("RefreshTokenRejected"),
        ),
        (401, Some("InvalidClient"), Some("RefreshTokenRejected")),
        (403, Some("InvalidClient"), Some("InvalidServerResponse")),
        (
            404,
            Some("InvalidServerResponse"),
            Some("InvalidServerResponse"),
        ),
        (
            302,
            Some("InvalidServerResponse"),
            Some("InvalidServerResponse"),
        ),
        (408, Some("ServerUnavailable"), Some("ServerUnavailable")),
        (429, Some("ServerUnavailable"), Some("ServerUnavailable")),
        (500, Some("ServerUnavailable"), Some("ServerUnavailable")),
        (502, Some("ServerUnavailable"), Some("ServerUnavailable")),
        (503, Some("ServerUnavailable"), Some("ServerUnavailable")),
    ];
    for (status, client_credentials, on_refresh) in cases {
        for (grant, expected) in [
            (&Grant::ClientCredentials, client_credentials),
            (&refresh, on_refresh),
        ] {
            let error = status_error(status, grant, None);
            assert_eq!(
                error.as_ref().map(|e| e.reason().as_str()),
                expected,
                "{status} {}",
                grant.label()
            );
            if let Some(error) = error {
                assert_eq!(error.status(), Some(status));
                assert_eq!(error.is_transient(), expected == Some("ServerUnavailable"));
            }
        }
    }
    let rejected = status_error(401, &Grant::ClientCredentials, None).unwrap();
    assert!(matches!(
        rejected,
        OAuthError::ClientRejected { status: 401 }
    ));
    let not_allowed = status_error(400, &Grant::ClientCredentials, None).unwrap();
    assert!(matches!(
        not_allowed,
        OAuthError::GrantNotAllowed { status: 400 }
    ));
}

#[test]
fn retry_after_travels_only_with_transient_statuses() {
    let wait = Some(Duration::from_secs(7));
    let cases = [
        (429, wait),
        (503, wait),
        (408, wait),
        (401, None),
        (400, None),
    ];
    for (status, expected) in cases {
        let error = status_error(status, &Grant::ClientCredentials, wait).unwrap();
        assert_eq!(error.retry_after(), expected, "{status}");
    }
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = ts("2026-11-25T10:00:00Z");
    let cases = [
        ("seconds", "120", Some(120)),
        ("seconds with spaces", " 5 ", Some(5)),
        ("zero", "0", Some(0)),
        ("capped", "86400", Some(3600)),
        ("beyond u64", "99999999999999999999999", Some(3600)),
        ("HTTP-date ahead", "Wed, 25 Nov 2026 10:01:30 GMT", Some(90)),
        (
            "HTTP-date with a wrong weekday",
            "Mon, 25 Nov 2026 10:01:30 GMT",
            Some(90),
        ),
        ("HTTP-date past", "Wed, 25 Nov 2026 09:00:00 GMT", Some(0)),
        (
            "HTTP-date far ahead",
            "Fri, 25 Nov 2039 10:00:00 GMT",
            Some(3600),
        ),
        ("negative", "-5", None),
        ("fraction", "1.5", None),
        ("empty", "", None),
        ("garbage", "soon", None),
    ];
    for (name, value, expected) in cases {
        assert_eq!(
            parse_retry_after(value, now),
            expected.map(Duration::from_secs),
            "{name}"
        );
    }
}

#[test]
fn reasons_match_the_contract() {
    let cases: [(OAuthError, &str); 7] = [
        (
            OAuthError::Transient {
                cause: TransientCause::Timeout,
                retry_after: None,
            },
            "ServerUnavailable",
        ),
        (OAuthError::ClientRejected { status: 401 }, "InvalidClient"),
        (
            OAuthError::RefreshTokenRejected { status: 400 },
            "RefreshTokenRejected",
        ),
        (
            OAuthError::GrantNotAllowed { status: 400 },
            "ReauthorizationRequired",
        ),
        (
            OAuthError::UnexpectedStatus { status: 404 },
            "InvalidServerResponse",
        ),
        (InvalidResponse::NotJson.into(), "InvalidServerResponse"),
        (
            OAuthError::Transient {
                cause: TransientCause::Status(503),
                retry_after: None,
            },
            "ServerUnavailable",
        ),
    ];
    for (error, reason) in cases {
        assert_eq!(error.reason(), reason, "{error}");
    }
}

#[test]
fn the_invalid_answer_travels_as_the_source_not_in_the_message() {
    let error = OAuthError::from(InvalidResponse::Missing {
        field: "expires_in",
    });
    assert!(!error.to_string().contains("expires_in"));
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("expires_in"));
}

#[test]
fn retry_after_at_the_extremes_is_capped_or_ignored() {
    let now = ts("2026-11-25T10:00:00Z");
    let cap = Some(MAX_RETRY_AFTER);
    let cases = [
        // (name, value, now, expected)
        ("twenty nines", "99999999999999999999", now, cap),
        ("u64::MAX", "18446744073709551615", now, cap),
        ("u64::MAX + 1", "18446744073709551616", now, cap),
        ("a thousand digits", &"9".repeat(1000), now, cap),
        (
            "leading zeros",
            "000000000000000000000000017",
            now,
            Some(Duration::from_secs(17)),
        ),
        (
            "the last HTTP-date",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            now,
            cap,
        ),
        (
            "an hour after the last Timestamp",
            "Thu, 30 Dec 9999 23:00:00 GMT",
            now,
            cap,
        ),
        (
            "the last Timestamp's own second",
            "Thu, 30 Dec 9999 22:00:00 GMT",
            now,
            cap,
        ),
        (
            "the first HTTP-date",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            now,
            Some(Duration::ZERO),
        ),
        (
            "a date measured from the start of time",
            "Wed, 25 Nov 2026 10:00:00 GMT",
            Timestamp::MIN,
            cap,
        ),
        (
            "a date measured from the end of time",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            Timestamp::MAX,
            Some(Duration::ZERO),
        ),
        (
            "a year beyond 9999",
            "Sat, 01 Jan 10000 00:00:00 GMT",
            now,
            None,
        ),
        ("negative", "-1", now, None),
        ("i64::MIN", "-9223372036854775808", now, None),
        ("plus sign", "+5", now, None),
        ("exponent", "1e3", now, None),
        ("hex", "0x10", now, None),
        ("non-ASCII digits", "\u{0661}\u{0662}", now, None),
        ("two numbers", "1 2", now, None),
        (
            "a date with garbage after it",
            "Wed, 25 Nov 2026 10:01:30 GMT x",
            now,
            None,
        ),
        (
            "an impossible date",
            "Wed, 31 Feb 2026 10:00:00 GMT",
            now,
            None,
        ),
        (
            "an impossible hour",
            "Wed, 25 Nov 2026 25:00:00 GMT",
            now,
            None,
        ),
        ("control characters", "\u{0}\u{7f}", now, None),
        ("only spaces", "   ", now, None),
    ];
    for (name, value, now, expected) in cases {
        assert_eq!(parse_retry_after(value, now), expected, "{name}");
    }
}
