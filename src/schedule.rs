//! When to renew a token and how long to wait after a failure: pure timing rules.
//!
//! Everything here is a function of its arguments. Nothing reads the clock, draws a random
//! number or touches the network; the caller asks the clock once and passes the answer in.
//!
//! Every result is defined for every input, however absurd (a lifetime spanning the whole
//! `Timestamp` range, a `renewBefore` beyond `i64` seconds, `u32::MAX` failures): the arithmetic
//! is checked and saturates at a bound that still means what the rule says, never a panic.

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
        let digest: [u8; 32] = Sha256::digest(uid.as_bytes()).into();
        let [b0, b1, b2, b3, b4, b5, b6, b7, ..] = digest;
        let bits = u64::from_be_bytes([b0, b1, b2, b3, b4, b5, b6, b7]) >> 11;
        // Both are below 2^53, so both convert to f64 exactly.
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
///
/// Defined for every lifetime, including one from `Timestamp::MIN` to `Timestamp::MAX`: a
/// renewal that would fall before the start of time is at `issued_at`.
pub fn renew_at(lifetime: Lifetime, policy: &RenewPolicy, jitter: Jitter) -> Timestamp {
    let length = lifetime.length();
    let window = renew_window(length, policy);
    let at = window
        .checked_add(jitter_shift(window, jitter))
        .and_then(|earlier| lifetime.expires_at.checked_sub(earlier).ok())
        .unwrap_or(lifetime.issued_at);
    let at = floor_to_second(at);
    // Never before issuance; and when issued_at and expires_at are out of order, the earlier
    // of the two, so a suspicious lifetime is renewed rather than waited for.
    at.max(lifetime.issued_at).min(lifetime.expires_at)
}

/// How much earlier than `expires_at - window` the jitter moves a renewal: `jitter.fraction()`
/// of [`RENEW_JITTER_SHARE`] of the window, so at most 5% of it. Zero for a window too long for
/// the float arithmetic (none that a `Timestamp` range holds).
fn jitter_shift(window: SignedDuration, jitter: Jitter) -> SignedDuration {
    let seconds = window.as_secs_f64() * jitter.fraction() * RENEW_JITTER_SHARE;
    SignedDuration::try_from_secs_f64(seconds).unwrap_or(SignedDuration::ZERO)
}

/// How long before expiry to renew a token that lives `length` (not negative).
///
/// A `renewBefore` beyond `SignedDuration`'s range is longer than any lifetime, so the
/// percentage rule applies, as for any `renewBefore` not shorter than the lifetime.
fn renew_window(length: SignedDuration, policy: &RenewPolicy) -> SignedDuration {
    if let Some(before) = policy.renew_before {
        match SignedDuration::try_from(before) {
            Ok(before) if before < length => return before,
            _ => {}
        }
    }
    let percentage = i128::from(policy.percentage.clamp(1, 99));
    // At most 99% of a SignedDuration: in i128 nanoseconds this is far from overflow, and the
    // result is shorter than `length`, so it converts back; the fallback is never taken.
    length
        .as_nanos()
        .checked_mul(percentage)
        .map(|nanos| nanos / 100)
        .and_then(SignedDuration::try_from_nanos_i128)
        .unwrap_or(length)
}

/// `at` rounded down to a whole second; `at` itself when that is before `Timestamp::MIN`.
fn floor_to_second(at: Timestamp) -> Timestamp {
    let seconds = at.as_second();
    let floored = if at.subsec_nanosecond() < 0 {
        seconds.saturating_sub(1)
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
///
/// Any `failed_attempts` (up to `u32::MAX`) and any `retry_after` (up to `Duration::MAX`) give
/// a wait within the cap.
pub fn retry_delay(
    failed_attempts: u32,
    retry_after: Option<Duration>,
    jitter: Jitter,
) -> Duration {
    let attempt = failed_attempts.max(1);
    // 5 s * 2^7 = 640 s is already past the cap; a larger exponent changes nothing.
    let doubling = 1u32 << attempt.saturating_sub(1).min(7);
    let exponential = BASE_RETRY_DELAY
        .checked_mul(doubling)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY);
    // The spread is in [-1, 1), so the factor is in [0.8, 1.2) and the product below 6 minutes.
    let factor = 1.0 + RETRY_JITTER_SHARE * jitter.retry_spread(attempt);
    let jittered =
        Duration::try_from_secs_f64(exponential.as_secs_f64() * factor).unwrap_or(exponential);
    // Whole milliseconds: the requeue timer resolves no finer, and the value logs cleanly.
    let millis = u64::try_from(jittered.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(millis)
        .max(retry_after.unwrap_or(Duration::ZERO))
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests;
