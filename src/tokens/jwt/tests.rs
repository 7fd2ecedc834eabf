use base64::Engine as _;

use super::*;
use crate::tokens::fixtures::{SENT, jwt, seconds, ts};

#[test]
fn jwt_times_reads_exp_and_iat_or_nothing() {
    let exp = seconds("2027-01-24T10:00:00Z");
    let iat = seconds(SENT);
    let with_both = jwt(serde_json::json!({"exp": exp, "iat": iat, "tokenType": "ACCESS_TOKEN"}));
    let padded = {
        let mut parts: Vec<String> = with_both.split('.').map(String::from).collect();
        while !parts[1].len().is_multiple_of(4) {
            parts[1].push('=');
        }
        parts.join(".")
    };
    let cases = [
        (
            "exp and iat",
            with_both.clone(),
            Some(JwtTimes {
                exp: Some(ts("2027-01-24T10:00:00Z")),
                iat: Some(ts(SENT)),
            }),
        ),
        (
            "padded base64",
            padded,
            Some(JwtTimes {
                exp: Some(ts("2027-01-24T10:00:00Z")),
                iat: Some(ts(SENT)),
            }),
        ),
        (
            "no claims",
            jwt(serde_json::json!({})),
            Some(JwtTimes::default()),
        ),
        (
            "exp out of range",
            jwt(serde_json::json!({"exp": i64::MAX})),
            Some(JwtTimes::default()),
        ),
        ("opaque token", "9f8e7d6c5b4a".to_string(), None),
        ("two parts", "abc.def".to_string(), None),
        ("four parts", format!("{with_both}.x"), None),
        (
            "payload not base64",
            "eyJhbGciOiJIUzI1NiJ9.!!!.sig".to_string(),
            None,
        ),
        (
            "payload not an object",
            format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", JWT_BASE64.encode("[1]")),
            None,
        ),
        (
            "header not JSON",
            format!("bm9wZQ.{}.sig", JWT_BASE64.encode("{}")),
            None,
        ),
        ("empty", String::new(), None),
    ];
    for (name, token, expected) in cases {
        assert_eq!(jwt_times(&token), expected, "{name}");
    }
}

#[test]
fn absurd_claims_read_as_absent_or_as_the_time_they_name() {
    let none = JwtTimes::default();
    let exp = |t: Timestamp| JwtTimes {
        exp: Some(t),
        iat: None,
    };
    let cases = [
        ("1e300", serde_json::json!({"exp": 1e300}), none),
        ("-1e300", serde_json::json!({"exp": -1e300}), none),
        ("u64::MAX", serde_json::json!({"exp": u64::MAX}), none),
        ("i64::MIN", serde_json::json!({"exp": i64::MIN}), none),
        ("a string", serde_json::json!({"exp": "x"}), none),
        (
            "a numeric string",
            serde_json::json!({"exp": "1800000000"}),
            none,
        ),
        ("null", serde_json::json!({"exp": null}), none),
        ("an array", serde_json::json!({"exp": [1]}), none),
        (
            "minus one",
            serde_json::json!({"exp": -1}),
            exp(ts("1969-12-31T23:59:59Z")),
        ),
        (
            "-0.5",
            serde_json::json!({"exp": -0.5}),
            exp(ts("1969-12-31T23:59:59.5Z")),
        ),
        (
            "the earliest second",
            serde_json::json!({"exp": Timestamp::MIN.as_second()}),
            exp(Timestamp::MIN),
        ),
        (
            "one second before the earliest",
            serde_json::json!({"exp": Timestamp::MIN.as_second() - 1}),
            none,
        ),
        (
            "one second after the latest",
            serde_json::json!({"exp": Timestamp::MAX.as_second() + 1}),
            none,
        ),
        (
            "iat 1e300 and a sane exp",
            serde_json::json!({"exp": seconds(SENT), "iat": 1e300}),
            exp(ts(SENT)),
        ),
    ];
    for (name, claims, expected) in cases {
        assert_eq!(jwt_times(&jwt(claims)), Some(expected), "{name}");
    }
}

#[test]
fn a_deeply_nested_payload_is_not_a_jwt() {
    let depth = 100_000;
    let payload = format!(r#"{{"exp":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let token = format!(
        "{}.{}.sig",
        JWT_BASE64.encode(r#"{"alg":"HS256"}"#),
        JWT_BASE64.encode(payload)
    );
    assert_eq!(jwt_times(&token), None);
}
