use super::*;
use crate::oauth::tests::refresh_grant;

#[test]
fn the_request_body_is_exactly_the_documented_json() {
    let cc = serde_json::to_string(&RequestBody::for_grant(&Grant::ClientCredentials)).unwrap();
    assert_eq!(cc, r#"{"grant_type":"client_credentials"}"#);
    let refresh = refresh_grant("r-1", None);
    let body = serde_json::to_string(&RequestBody::for_grant(&refresh)).unwrap();
    assert_eq!(
        body,
        r#"{"grant_type":"refresh_token","refresh_token":"r-1"}"#
    );
}
