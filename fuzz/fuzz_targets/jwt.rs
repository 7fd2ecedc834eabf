//! The time claims of a JWT: any text reads as claims or as "not a JWT", never a panic. The
//! input is tried as a whole token and as the JSON payload of an otherwise well-formed one, so
//! the fuzzer reaches the claim reading without having to find base64 first.

#![no_main]

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use wetix_operator::tokens::jwt_times;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jwt_times(text);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let token = format!("{header}.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(data));
    let times = jwt_times(&token);
    // A payload that is a JSON object always makes a JWT, whatever its claims say.
    if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice(data) {
        assert!(
            times.is_some(),
            "a JSON object payload was not read as a JWT"
        );
    }
});
