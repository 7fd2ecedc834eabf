//! A WeTix token answer as it arrives: any body is read or refused, never a panic, and an
//! answer that is accepted always gives both tokens a life that starts by the send time and
//! ends after it, no later than the answer declares.

#![no_main]

use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use wetix_operator::{
    sensitive::Sensitive,
    tokens::{KnownRefresh, Lifetime, TokenPair, TokenResponse, token_pair_from_response},
};

/// When the request was sent: fixed, so a crash reproduces from its input alone.
const SENT: i64 = 1_795_600_000; // 2026-11-25T10:00:00Z

fn check(pair: &TokenPair, response: &TokenResponse, sent: Timestamp) {
    for (lifetime, declared) in [
        (pair.access, response.expires_in),
        (pair.refresh, response.refresh_token_expires_in),
    ] {
        let declared = declared.expect("accepted without a lifetime");
        assert!(declared > 0, "accepted a lifetime of {declared} s");
        assert!(
            lifetime.expires_at > sent,
            "expired on arrival: {lifetime:?}"
        );
        assert!(
            lifetime.issued_at <= sent,
            "issued after sending: {lifetime:?}"
        );
        assert!(lifetime.expires_at <= sent + SignedDuration::from_secs(declared));
    }
}

fuzz_target!(|body: &[u8]| {
    let sent = Timestamp::from_second(SENT).unwrap();
    let Ok(response) = TokenResponse::from_json(body) else {
        return;
    };
    if let Ok(pair) = token_pair_from_response(response.clone(), None, sent) {
        check(&pair, &response, sent);
    }
    // The same answer to a refresh of its own refresh token, known to live a year from a month
    // ago: the known life is kept, never extended.
    if let Some(token) = response.refresh_token.clone() {
        let known = Lifetime {
            issued_at: sent - SignedDuration::from_hours(24 * 30),
            expires_at: sent + SignedDuration::from_hours(24 * 335),
        };
        let token: Sensitive = token;
        let refresh = KnownRefresh {
            token: &token,
            lifetime: known,
        };
        if let Ok(pair) = token_pair_from_response(response, Some(refresh), sent) {
            assert_eq!(pair.refresh.issued_at, known.issued_at);
            assert!(pair.refresh.expires_at <= known.expires_at);
        }
    }
});
