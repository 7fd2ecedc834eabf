//! `spec.renewBefore`: any text parses as a Go duration or is refused, never a panic, and what
//! parses prints back exactly as written, through JSON too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wetix_operator::duration::GoDuration;

fuzz_target!(|text: &str| {
    let Ok(parsed) = text.parse::<GoDuration>() else {
        return;
    };
    assert_eq!(parsed.to_string(), text);
    let json = serde_json::to_string(&parsed).unwrap();
    let again: GoDuration = serde_json::from_str(&json).unwrap();
    assert_eq!(again.as_duration(), parsed.as_duration());
});
