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
