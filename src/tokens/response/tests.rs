use super::*;
use crate::tokens::fixtures::answer;

#[test]
fn a_body_of_the_wrong_shape_names_the_field_without_quoting_it() {
    let cases = [
        (
            "not JSON",
            "<html>tok-VALUE</html>",
            InvalidResponse::NotJson,
        ),
        ("a JSON array", r#"["tok-VALUE"]"#, InvalidResponse::NotJson),
        ("empty", "", InvalidResponse::NotJson),
        (
            "expires_in as a string",
            r#"{"access_token":"tok-VALUE","expires_in":"5184000"}"#,
            InvalidResponse::WrongType {
                field: "expires_in",
            },
        ),
        (
            "expires_in as a float",
            r#"{"expires_in":5184000.5}"#,
            InvalidResponse::WrongType {
                field: "expires_in",
            },
        ),
        (
            "access_token as a number",
            r#"{"access_token":12345}"#,
            InvalidResponse::WrongType {
                field: "access_token",
            },
        ),
    ];
    for (name, body, expected) in cases {
        let err = TokenResponse::from_json(body.as_bytes()).expect_err(name);
        assert_eq!(err, expected, "{name}");
        assert!(!format!("{err} {err:?}").contains("VALUE"), "{name}");
    }
}

#[test]
fn a_wetix_answer_parses_with_extra_fields_and_nulls() {
    let body = br#"{"access_token":"a","expires_in":5184000,"refresh_token":"r",
        "refresh_token_expires_in":31536000,"token_type":"Bearer","scope":null,"extra":1}"#;
    let response = TokenResponse::from_json(body).unwrap();
    assert_eq!(response, answer("a", "r"));
    let nulls = TokenResponse::from_json(br#"{"access_token":null}"#).unwrap();
    assert_eq!(nulls, TokenResponse::default());
    assert!(!format!("{response:?}").contains("\"a\""));
}

#[test]
fn a_lifetime_beyond_i64_in_the_json_is_too_large_and_a_negative_one_not_positive() {
    let out_of_range = |field| InvalidResponse::LifetimeOutOfRange { field };
    let not_positive = |field| InvalidResponse::NonPositiveLifetime { field };
    let cases = [
        (
            "twenty nines",
            r#"{"expires_in":99999999999999999999}"#,
            out_of_range("expires_in"),
        ),
        (
            "u64::MAX",
            r#"{"expires_in":18446744073709551615}"#,
            out_of_range("expires_in"),
        ),
        (
            "i64::MAX + 1",
            r#"{"expires_in":9223372036854775808}"#,
            out_of_range("expires_in"),
        ),
        (
            "1e300",
            r#"{"expires_in":1e300}"#,
            out_of_range("expires_in"),
        ),
        (
            "refresh 1e300",
            r#"{"refresh_token_expires_in":1e300}"#,
            out_of_range("refresh_token_expires_in"),
        ),
        (
            "below i64::MIN",
            r#"{"expires_in":-99999999999999999999}"#,
            not_positive("expires_in"),
        ),
        (
            "-1e300",
            r#"{"expires_in":-1e300}"#,
            not_positive("expires_in"),
        ),
        (
            "refresh -0.5",
            r#"{"refresh_token_expires_in":-0.5}"#,
            not_positive("refresh_token_expires_in"),
        ),
        (
            "a fraction is still the wrong type",
            r#"{"expires_in":0.5}"#,
            InvalidResponse::WrongType {
                field: "expires_in",
            },
        ),
        (
            "a huge number where a token belongs is the wrong type",
            r#"{"access_token":1e300}"#,
            InvalidResponse::WrongType {
                field: "access_token",
            },
        ),
    ];
    for (name, body, expected) in cases {
        let err = TokenResponse::from_json(body.as_bytes()).expect_err(name);
        assert_eq!(err, expected, "{name}");
        assert!(!err.to_string().contains("999"), "{name}: {err}");
    }
    // The edges of i64 themselves parse; the lifetime rule judges them.
    let edges = TokenResponse::from_json(
        br#"{"expires_in":9223372036854775807,"refresh_token_expires_in":-9223372036854775808}"#,
    )
    .unwrap();
    assert_eq!(edges.expires_in, Some(i64::MAX));
    assert_eq!(edges.refresh_token_expires_in, Some(i64::MIN));
}

#[test]
fn deeply_nested_json_is_refused_not_a_stack_overflow() {
    let depth = 100_000;
    let nested = format!(
        r#"{{"access_token":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert_eq!(
        TokenResponse::from_json(nested.as_bytes()),
        Err(InvalidResponse::NotJson)
    );
}
