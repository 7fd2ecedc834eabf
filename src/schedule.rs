//! When to renew a token and how long to wait after a failure: pure timing rules.
//!
//! Everything here is a function of its arguments. Nothing reads the clock, draws a random
//! number or touches the network; the caller asks the clock once and passes the answer in.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::tokens::Lifetime;

/// Used when neither `renewBefore` nor `renewBeforePercentage` is set (contract §2): renewing
/// with a third of the lifetime left gives a 60-day access token 20 days of retries before it
/// expires.
pub const DEFAULT_RENEW_BEFORE_PERCENTAGE: u8 = 33;

/// The largest share of a renew window by which jitter moves a renewal earlier (contract §3:
/// "at most 5% of its renew window"). Small enough not to change what the user asked for in any
/// noticeable way, large enough to spread a fleet bootstrapped at once over hours
/// (5% of a 20-day window is a day).
pub const RENEW_JITTER_SHARE: f64 = 0.05;

/// The wait after the first transient failure. Long enough not to hammer a server that just
/// failed, short enough that a single dropped connection is healed within seconds.
pub const BASE_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The upper bound of every retry wait (contract §3: backoff "capped at 5 minutes"). Tokens live
/// for weeks, so waiting longer gains nothing but a later recovery after an outage.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);

/// Rejected client credentials are retried at most this often (contract §3: "at most every
/// 5 minutes, and at once when the client Secret changes"). A fix to the Secret is picked up by
/// its watch at once; this retry covers a fix made on the server side (e.g. a client re-enabled),
/// without a hot loop against a server that refuses us.
pub const CLIENT_REJECTED_RETRY: Duration = Duration::from_secs(5 * 60);

/// How far a retry wait may move from its exponential value, either way: ±20% spreads the
/// credentials that failed together during one outage over a wide enough band that they do not
/// come back as one burst, while keeping each wait recognisably "about twice the last".
pub const RETRY_JITTER_SHARE: f64 = 0.2;

/// How early to renew, as the user set it in the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewPolicy {
    /// `spec.renewBefore`: renew this long before expiry, when shorter than the lifetime.
    pub renew_before: Option<Duration>,
    /// `spec.renewBeforePercentage`: renew when this share of the lifetime is left. Values
    /// outside 1..=99 (refused by the schema) are treated as the nearest bound.
    pub percentage: u8,
}

impl Default for RenewPolicy {
    fn default() -> Self {
        Self {
            renew_before: None,
            percentage: DEFAULT_RENEW_BEFORE_PERCENTAGE,
        }
    }
}

/// A per-credential fraction in `[0, 1)` that spreads renewals and retries of different
/// credentials apart. Taken from the object's UID, never from a random source, so a restart of
/// the operator does not move any credential's renewal time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter(f64);

impl Jitter {
    /// The jitter of the object with this UID: the first 53 bits of SHA-256(uid) as a fraction.
    pub fn from_uid(uid: &str) -> Self {
        let digest = Sha256::digest(uid.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let bits = u64::from_be_bytes(first) >> 11;
        Self(bits as f64 / (1u64 << 53) as f64)
    }

    /// No jitter: renewals are not moved and retry waits are exactly exponential.
    pub fn none() -> Self {
        Self(0.0)
    }

    /// A given fraction, clamped into `[0, 1)`; NaN counts as none.
    pub fn from_fraction(fraction: f64) -> Self {
        if fraction.is_nan() || fraction <= 0.0 {
            Self(0.0)
        } else {
            Self(fraction.min(1.0 - f64::EPSILON))
        }
    }

    pub fn fraction(self) -> f64 {
        self.0
    }

    /// A value in `[-1, 1)` for the given retry attempt, zero for [`Jitter::none`]. A sawtooth
    /// of `fraction * attempt`: it differs from attempt to attempt and from credential to
    /// credential, and needs no random source.
    fn retry_spread(self, attempt: u32) -> f64 {
        let x = self.0 * f64::from(attempt) + 0.5;
        2.0 * (x - x.floor()) - 1.0
    }
}

/// When to renew a token with this lifetime (contract §3).
///
/// The renew window is `policy.renew_before` when it is shorter than the lifetime, otherwise
/// `lifetime * percentage / 100`. The renewal is at `expires_at - window`, moved earlier by
/// `jitter.fraction() * 5%` of the window, never before `issued_at` and never after `expires_at`.
/// The result is rounded down to a whole second, so the time shown in status is the time used.
///
/// A token that has already expired gets a time in the past: the caller renews at once.
pub fn renew_at(lifetime: Lifetime, policy: &RenewPolicy, jitter: Jitter) -> Timestamp {
    let length = lifetime.length();
    let window = renew_window(length, policy);
    let shift = window.mul_f64(jitter.fraction() * RENEW_JITTER_SHARE);
    let at = lifetime
        .expires_at
        .checked_sub(window + shift)
        .unwrap_or(lifetime.issued_at);
    let at = floor_to_second(at);
    // Never before issuance; and when issued_at and expires_at are out of order, the earlier
    // of the two, so a suspicious lifetime is renewed rather than waited for.
    at.max(lifetime.issued_at).min(lifetime.expires_at)
}

/// How long before expiry to renew a token that lives `length`.
fn renew_window(length: SignedDuration, policy: &RenewPolicy) -> SignedDuration {
    if let Some(before) = policy.renew_before {
        match SignedDuration::try_from(before) {
            Ok(before) if before < length => return before,
            _ => {}
        }
    }
    let percentage = i128::from(policy.percentage.clamp(1, 99));
    let nanos = length.as_nanos() * percentage / 100;
    // length fits in a SignedDuration and the percentage is below 100, so this cannot overflow.
    SignedDuration::from_nanos_i128(nanos)
}

fn floor_to_second(at: Timestamp) -> Timestamp {
    let seconds = at.as_second();
    let floored = if at.subsec_nanosecond() < 0 {
        seconds - 1
    } else {
        seconds
    };
    Timestamp::from_second(floored).unwrap_or(at)
}

/// How long to wait after `failed_attempts` transient failures in a row (0 counts as 1).
///
/// Doubles from [`BASE_RETRY_DELAY`] (5 s, 10 s, 20 s, …), moved by up to ±20% by the jitter and
/// the attempt number, at least `retry_after` when the server sent one, and at most
/// [`MAX_RETRY_DELAY`]. The cap wins over a longer `Retry-After`: the contract caps every retry
/// at 5 minutes, and a credential whose token is close to expiry must not go silent for as long
/// as a busy server may ask; one request every 5 minutes per credential is a light load.
pub fn retry_delay(
    failed_attempts: u32,
    retry_after: Option<Duration>,
    jitter: Jitter,
) -> Duration {
    let attempt = failed_attempts.max(1);
    // 5 s * 2^7 = 640 s is already past the cap; a larger exponent changes nothing.
    let exponential = BASE_RETRY_DELAY * (1u32 << (attempt - 1).min(7));
    let factor = 1.0 + RETRY_JITTER_SHARE * jitter.retry_spread(attempt);
    let jittered = exponential.min(MAX_RETRY_DELAY).mul_f64(factor);
    // Whole milliseconds: the requeue timer resolves no finer, and the value logs cleanly.
    let jittered = Duration::from_millis(jittered.as_millis() as u64);
    jittered
        .max(retry_after.unwrap_or(Duration::ZERO))
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn lifetime(issued_at: &str, expires_at: &str) -> Lifetime {
        Lifetime {
            issued_at: ts(issued_at),
            expires_at: ts(expires_at),
        }
    }

    fn policy(renew_before: Option<Duration>, percentage: u8) -> RenewPolicy {
        RenewPolicy {
            renew_before,
            percentage,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    /// A 100-hour lifetime makes percentages easy to read.
    fn hundred_hours() -> Lifetime {
        lifetime("2026-11-01T00:00:00Z", "2026-11-05T04:00:00Z")
    }

    #[test]
    fn renew_at_follows_renew_before_or_falls_back_to_the_percentage() {
        let cases = [
            // (name, renew_before, percentage, expected renewal)
            (
                "renewBefore shorter than the lifetime",
                Some(10 * HOUR),
                33,
                "2026-11-04T18:00:00Z",
            ),
            (
                "renewBefore equal to the lifetime falls back",
                Some(100 * HOUR),
                33,
                "2026-11-03T19:00:00Z",
            ),
            (
                "renewBefore longer than the lifetime falls back",
                Some(1000 * HOUR),
                33,
                "2026-11-03T19:00:00Z",
            ),
            (
                "renewBefore of zero renews at expiry",
                Some(Duration::ZERO),
                33,
                "2026-11-05T04:00:00Z",
            ),
            ("percentage 1", None, 1, "2026-11-05T03:00:00Z"),
            ("percentage 33", None, 33, "2026-11-03T19:00:00Z"),
            ("percentage 99", None, 99, "2026-11-01T01:00:00Z"),
            ("percentage 0 counts as 1", None, 0, "2026-11-05T03:00:00Z"),
            (
                "percentage 100 counts as 99",
                None,
                100,
                "2026-11-01T01:00:00Z",
            ),
        ];
        for (name, renew_before, percentage, expected) in cases {
            let got = renew_at(
                hundred_hours(),
                &policy(renew_before, percentage),
                Jitter::none(),
            );
            assert_eq!(got, ts(expected), "{name}");
        }
    }

    #[test]
    fn the_default_policy_renews_with_a_third_of_a_wetix_access_token_left() {
        // WeTix access tokens live 60 days; 33% of that is 19.8 days = 19 days 19h12m.
        let access = lifetime("2026-11-25T10:00:00Z", "2027-01-24T10:00:00Z");
        let got = renew_at(access, &RenewPolicy::default(), Jitter::none());
        assert_eq!(got, ts("2027-01-04T14:48:00Z"));
    }

    #[test]
    fn jitter_moves_renewal_earlier_by_at_most_five_percent_of_the_window() {
        // Window: 10 hours; 5% of it is 30 minutes.
        let policy = policy(Some(10 * HOUR), 33);
        let unjittered = ts("2026-11-04T18:00:00Z");
        let cases = [
            ("no jitter", Jitter::none(), "2026-11-04T18:00:00Z"),
            (
                "fraction 0",
                Jitter::from_fraction(0.0),
                "2026-11-04T18:00:00Z",
            ),
            (
                "fraction one half",
                Jitter::from_fraction(0.5),
                "2026-11-04T17:45:00Z",
            ),
            (
                "fraction near 1",
                Jitter::from_fraction(0.999_999),
                "2026-11-04T17:30:00Z",
            ),
            (
                "fraction 1 clamps below 1",
                Jitter::from_fraction(1.0),
                "2026-11-04T17:30:00Z",
            ),
        ];
        for (name, jitter, expected) in cases {
            let got = renew_at(hundred_hours(), &policy, jitter);
            assert_eq!(got, ts(expected), "{name}");
            let earlier = unjittered.duration_since(got);
            assert!(earlier >= SignedDuration::ZERO, "{name}");
            assert!(earlier <= SignedDuration::from_mins(30), "{name}");
        }
    }

    #[test]
    fn renewal_is_never_before_issuance_nor_after_expiry() {
        let cases = [
            (
                "zero-length lifetime renews at its single instant",
                lifetime("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
                "2026-11-01T00:00:00Z",
            ),
            (
                "out-of-order lifetime renews at the earlier time",
                lifetime("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z"),
                "2026-11-01T00:00:00Z",
            ),
            (
                "one-second lifetime with near-full jitter stays within it",
                lifetime("2026-11-01T00:00:00Z", "2026-11-01T00:00:01Z"),
                "2026-11-01T00:00:00Z",
            ),
        ];
        for (name, lifetime, expected) in cases {
            let got = renew_at(lifetime, &policy(None, 99), Jitter::from_fraction(0.99));
            assert_eq!(got, ts(expected), "{name}");
        }
    }

    #[test]
    fn an_expired_token_gets_a_renewal_time_in_the_past() {
        let expired = lifetime("2025-01-01T00:00:00Z", "2025-03-02T00:00:00Z");
        let now = ts("2026-11-25T10:00:00Z");
        let got = renew_at(
            expired,
            &RenewPolicy::default(),
            Jitter::from_uid("some-uid"),
        );
        assert!(got < now);
        assert!(got >= expired.issued_at);
    }

    #[test]
    fn renewal_times_are_whole_seconds() {
        let odd = lifetime("2026-11-01T00:00:00Z", "2026-11-01T00:00:07Z");
        let got = renew_at(odd, &policy(None, 33), Jitter::from_uid("abc"));
        assert_eq!(got.subsec_nanosecond(), 0);
        // 7 s * 33% = 2.31 s, plus up to 5% of that: rounded down to 00:00:04.
        assert_eq!(got, ts("2026-11-01T00:00:04Z"));
    }

    #[test]
    fn retry_delay_doubles_from_five_seconds_up_to_five_minutes() {
        let cases = [
            (0, 5),
            (1, 5),
            (2, 10),
            (3, 20),
            (4, 40),
            (5, 80),
            (6, 160),
            (7, 300),
            (8, 300),
            (40, 300),
            (u32::MAX, 300),
        ];
        for (attempts, seconds) in cases {
            assert_eq!(
                retry_delay(attempts, None, Jitter::none()),
                Duration::from_secs(seconds),
                "after {attempts} failures"
            );
        }
    }

    #[test]
    fn retry_delay_honours_retry_after_up_to_the_cap() {
        let cases = [
            ("shorter Retry-After changes nothing", 2, Some(2), 10),
            ("longer Retry-After wins", 2, Some(42), 42),
            ("Retry-After at the cap", 1, Some(300), 300),
            ("the cap wins over a longer Retry-After", 1, Some(3600), 300),
            ("zero Retry-After changes nothing", 1, Some(0), 5),
        ];
        for (name, attempts, retry_after, seconds) in cases {
            let got = retry_delay(
                attempts,
                retry_after.map(Duration::from_secs),
                Jitter::none(),
            );
            assert_eq!(got, Duration::from_secs(seconds), "{name}");
        }
    }

    #[test]
    fn retry_jitter_stays_within_twenty_percent_and_under_the_cap() {
        for uid in ["a", "b", "c", "4f1e7c2a-0000-4000-8000-000000000001", ""] {
            let jitter = Jitter::from_uid(uid);
            for attempts in 1..=12 {
                let exact = retry_delay(attempts, None, Jitter::none()).as_secs_f64();
                let got = retry_delay(attempts, None, jitter);
                assert!(got.as_secs_f64() >= exact * 0.8 - 0.001, "{uid} {attempts}");
                assert!(got.as_secs_f64() <= exact * 1.2, "{uid} {attempts}");
                assert!(got <= MAX_RETRY_DELAY, "{uid} {attempts}");
                assert_eq!(got, retry_delay(attempts, None, jitter), "deterministic");
            }
        }
    }

    #[test]
    fn retry_jitter_spreads_credentials_that_failed_together() {
        let delays: std::collections::BTreeSet<Duration> = (0..50)
            .map(|i| retry_delay(3, None, Jitter::from_uid(&format!("uid-{i}"))))
            .collect();
        assert!(delays.len() > 40, "only {} distinct delays", delays.len());
        let min = delays.first().unwrap().as_secs_f64();
        let max = delays.last().unwrap().as_secs_f64();
        assert!(
            max - min > 4.0,
            "spread {min}..{max} of a 20 s delay is too narrow"
        );
    }

    #[test]
    fn jitter_from_uid_is_stable_and_spread_across_uids() {
        let uid = "4f1e7c2a-9b3d-4e5f-8a6b-7c8d9e0f1a2b";
        assert_eq!(Jitter::from_uid(uid), Jitter::from_uid(uid));
        // SHA-256("abc") starts ba7816bf8f01cfea; its first 53 bits over 2^53.
        let expected = (0xba78_16bf_8f01_cfea_u64 >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(Jitter::from_uid("abc").fraction(), expected);

        let fractions: Vec<f64> = (0..1000)
            .map(|i| Jitter::from_uid(&format!("uid-{i}")).fraction())
            .collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        let mut buckets = [0usize; 10];
        for f in &fractions {
            buckets[(f * 10.0) as usize] += 1;
        }
        // 100 expected per tenth; a hash that clusters would leave some nearly empty.
        assert!(
            buckets.iter().all(|&n| (60..=140).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn jitter_none_has_fraction_zero() {
        assert_eq!(Jitter::none().fraction(), 0.0);
        assert_eq!(Jitter::from_fraction(f64::NAN), Jitter::none());
        assert_eq!(Jitter::from_fraction(-1.0), Jitter::none());
    }

    #[test]
    fn wait_constants_match_the_contract() {
        assert_eq!(CLIENT_REJECTED_RETRY, Duration::from_secs(300));
        assert_eq!(MAX_RETRY_DELAY, Duration::from_secs(300));
    }
}
