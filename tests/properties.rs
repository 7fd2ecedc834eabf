//! Generated inputs for the pure rules: the renewal and retry timing, the plan of one reconcile,
//! the token answer and JWT readers, `spec.renewBefore`, and the lenient reading of a stored
//! WetixCredential. Each property is what a user relies on whatever the input: a renewal inside
//! the token's life, a bounded retry, no request while backing off, no panic on hostile bytes.
//!
//! 256 cases per property by default, so the file runs in seconds; `PROPTEST_CASES=10000` for a
//! longer search. A failing case is printed, shrunk; it then belongs in the table test of the
//! module it breaks.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

use wetix_operator::{
    credential::WetixCredential,
    duration::GoDuration,
    managed_secret::StoredTokens,
    oauth::Grant,
    plan::{FailureKind, LastFailure, Observed, Plan, Why, plan, retry_at},
    schedule::{
        BASE_RETRY_DELAY, Jitter, MAX_RETRY_DELAY, RENEW_JITTER_SHARE, RenewPolicy, renew_at,
        retry_delay,
    },
    sensitive::Sensitive,
    tokens::{
        KnownRefresh, Lifetime, TokenPair, TokenResponse, jwt_times, token_pair_from_response,
    },
    validate,
};

/// A modest default (the whole file in a few seconds); `PROPTEST_CASES` overrides it. Failures
/// are not written next to the sources: a found case becomes a table test by hand.
fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Any instant jiff can hold, from year -9999 to 9999, to the nanosecond.
fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    (
        Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
        0..1_000_000_000i32,
    )
        .prop_filter_map("outside jiff's range", |(s, n)| Timestamp::new(s, n).ok())
}

/// An instant within a century of the contract's examples: where real clocks are.
fn plausible_timestamp() -> impl Strategy<Value = Timestamp> {
    around_2026(100)
}

/// An instant within `years` of 2026-11-25.
fn around_2026(years: i64) -> impl Strategy<Value = Timestamp> {
    let base = Timestamp::from_second(1_795_600_000).unwrap();
    let span = years * 31_557_600;
    (-span..span, 0..1_000_000_000i32).prop_map(move |(s, n)| base + SignedDuration::new(s, n))
}

/// Mostly plausible instants, with the extremes often enough to find an overflow.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        3 => plausible_timestamp(),
        1 => any_timestamp(),
        1 => Just(Timestamp::MIN),
        1 => Just(Timestamp::MAX),
    ]
}

/// Any lifetime, issued and expiry in either order.
fn any_lifetime() -> BoxedStrategy<Lifetime> {
    (timestamp(), timestamp())
        .prop_map(|(issued_at, expires_at)| Lifetime {
            issued_at,
            expires_at,
        })
        .boxed()
}

/// A lifetime in order: issued, then expiring a second to ten years later.
fn ordered_lifetime() -> BoxedStrategy<Lifetime> {
    (around_2026(5), 1i64..315_360_000, 0..1_000_000_000i32)
        .prop_map(|(issued_at, secs, nanos)| Lifetime {
            issued_at,
            expires_at: issued_at + SignedDuration::new(secs, nanos),
        })
        .boxed()
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..100_000_000, 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        1 => (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        1 => Just(Duration::MAX),
        1 => Just(Duration::ZERO),
    ]
}

/// Any policy, including percentages the schema refuses and durations no token lives.
fn any_policy() -> impl Strategy<Value = RenewPolicy> {
    (
        proptest::option::weighted(0.3, any_duration()),
        prop_oneof![3 => 1u8..=99, 1 => any::<u8>()],
    )
        .prop_map(|(renew_before, percentage)| RenewPolicy {
            renew_before,
            percentage,
        })
}

/// Any jitter: from a UID, or from any float (NaN and infinities included).
fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::none()),
        any::<String>().prop_map(|uid| Jitter::from_uid(&uid)),
        any::<f64>().prop_map(Jitter::from_fraction),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(1.0),
            Just(1.0 - f64::EPSILON)
        ]
        .prop_map(Jitter::from_fraction),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        any::<String>().prop_map(Value::from),
        "[a-zA-Z0-9_./:-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JWT-shaped token (header.payload.signature, base64url) whose claims are any JSON.
fn jwt_with(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// A claim as issuers write it, well or badly: seconds, fractional seconds, out of range, text.
fn claim() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (1_000_000_000i64..2_500_000_000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => any_json(),
    ]
}

/// A token: plain text, or a JWT whose `exp` and `iat` may be present, absent or malformed.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9._~+/=-]{1,40}",
        1 => Just(String::new()),
        1 => Just("   ".to_owned()),
        3 => (proptest::option::of(claim()), proptest::option::of(claim())).prop_map(|(exp, iat)| {
            let mut claims = serde_json::Map::new();
            claims.insert("sub".into(), json!("client"));
            if let Some(exp) = exp {
                claims.insert("exp".into(), exp);
            }
            if let Some(iat) = iat {
                claims.insert("iat".into(), iat);
            }
            jwt_with(&Value::Object(claims))
        }),
    ]
}

/// A field of a token answer: absent, null, of the expected shape, or any JSON at all.
fn field(expected: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        40 => expected.prop_map(Some),
        1 => any_json().prop_map(Some),
    ]
}

fn seconds() -> BoxedStrategy<Value> {
    prop_oneof![
        16 => 1i64..100_000_000,
        1 => Just(0i64),
        1 => any::<i64>(),
        1 => Just(i64::MAX),
    ]
    .prop_map(Value::from)
    .boxed()
}

/// A WeTix token answer, each field absent, null, plausible or wrong.
fn answer_json() -> impl Strategy<Value = Value> {
    let token = || token().prop_map(Value::from).boxed();
    let token_type = prop_oneof![
        6 => Just("Bearer".to_owned()),
        1 => Just(" bearer ".to_owned()),
        1 => Just("mac".to_owned()),
        1 => any::<String>()
    ]
    .prop_map(Value::from)
    .boxed();
    (
        field(token()),
        field(seconds()),
        field(token()),
        field(seconds()),
        field(token_type),
    )
        .prop_map(|(access, expires, refresh, refresh_expires, token_type)| {
            let mut answer = serde_json::Map::new();
            for (name, value) in [
                ("access_token", access),
                ("expires_in", expires),
                ("refresh_token", refresh),
                ("refresh_token_expires_in", refresh_expires),
                ("token_type", token_type),
            ] {
                if let Some(value) = value {
                    answer.insert(name.into(), value);
                }
            }
            Value::Object(answer)
        })
}

// ---------------------------------------------------------------------------------------------
// schedule: renew_at and retry_delay
// ---------------------------------------------------------------------------------------------

/// The renew window the contract asks for: `renewBefore` when shorter than the lifetime,
/// otherwise the percentage (clamped to 1..=99) of it.
fn asked_window(lifetime: Lifetime, policy: &RenewPolicy) -> SignedDuration {
    let length = lifetime.length();
    match policy
        .renew_before
        .and_then(|d| SignedDuration::try_from(d).ok())
    {
        Some(before) if before < length => before,
        _ => SignedDuration::from_nanos_i128(
            length.as_nanos() * i128::from(policy.percentage.clamp(1, 99)) / 100,
        ),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the lifetime (extremes and reversed order included), policy and jitter: no
    /// panic, never after expiry, and never before issuance when the two are in order.
    #[test]
    fn a_renewal_is_never_outside_the_tokens_life(
        lifetime in any_lifetime(),
        policy in any_policy(),
        jitter in any_jitter(),
    ) {
        let at = renew_at(lifetime, &policy, jitter);
        prop_assert!(at <= lifetime.expires_at, "{at} after expiry {lifetime:?}");
        if lifetime.issued_at <= lifetime.expires_at {
            prop_assert!(at >= lifetime.issued_at, "{at} before issuance {lifetime:?}");
        }
        // Shown in status as it is used: a whole second, unless clamped to an end.
        prop_assert!(
            at.subsec_nanosecond() == 0 || at == lifetime.issued_at || at == lifetime.expires_at,
            "{at}"
        );
    }

    /// What the user asked is kept: renewed at least the window before expiry, and at most 5%
    /// of it (plus the rounding to a second) earlier, unless that falls before issuance.
    #[test]
    fn a_renewal_leaves_the_window_asked_for_moved_at_most_five_percent_earlier(
        lifetime in ordered_lifetime(),
        policy in any_policy(),
        jitter in any_jitter(),
    ) {
        let at = renew_at(lifetime, &policy, jitter);
        let window = asked_window(lifetime, &policy);
        let left = lifetime.expires_at.duration_since(at);
        prop_assert!(left >= window, "{left} left, {window} asked");
        let earliest = window
            + window.mul_f64(RENEW_JITTER_SHARE)
            + SignedDuration::from_secs(1);
        prop_assert!(
            left <= earliest || at == lifetime.issued_at,
            "{left} left, at most {earliest} allowed"
        );
    }

    /// Jitter only ever moves a renewal earlier, so a fleet spreads out without any credential
    /// renewing later than its policy says.
    #[test]
    fn jitter_never_moves_a_renewal_later(
        lifetime in any_lifetime(),
        policy in any_policy(),
        jitter in any_jitter(),
    ) {
        prop_assert!(renew_at(lifetime, &policy, jitter) <= renew_at(lifetime, &policy, Jitter::none()));
    }

    /// A larger percentage never renews later.
    #[test]
    fn a_larger_percentage_never_renews_later(
        lifetime in any_lifetime(),
        low in any::<u8>(),
        high in any::<u8>(),
        jitter in any_jitter(),
    ) {
        let (low, high) = (low.min(high), low.max(high));
        let at = |percentage| renew_at(lifetime, &RenewPolicy { renew_before: None, percentage }, jitter);
        prop_assert!(at(high) <= at(low));
    }

    /// Every retry waits between 5 s - 20% and the 5-minute cap, at least as long as the server
    /// asked (up to the cap), and within ±20% of the doubling from 5 s otherwise.
    #[test]
    fn a_retry_waits_within_the_cap_and_honours_retry_after(
        attempts in prop_oneof![0u32..12, any::<u32>()],
        retry_after in proptest::option::of(any_duration()),
        jitter in any_jitter(),
    ) {
        let delay = retry_delay(attempts, retry_after, jitter);
        prop_assert!(delay >= BASE_RETRY_DELAY.mul_f64(0.8), "{delay:?}");
        prop_assert!(delay <= MAX_RETRY_DELAY, "{delay:?}");
        if let Some(asked) = retry_after {
            prop_assert!(delay >= asked.min(MAX_RETRY_DELAY), "{delay:?} < {asked:?}");
        }
        let doubling = BASE_RETRY_DELAY
            .saturating_mul(1u32 << (attempts.max(1) - 1).min(10))
            .min(MAX_RETRY_DELAY);
        let plain = retry_delay(attempts, None, jitter);
        prop_assert!(plain >= doubling.mul_f64(0.8) && plain <= doubling.mul_f64(1.2).min(MAX_RETRY_DELAY),
            "attempt {attempts}: {plain:?} not within 20% of {doubling:?}");
        prop_assert_eq!(retry_delay(attempts, None, Jitter::none()), doubling);
        // A longer Retry-After never shortens the wait.
        prop_assert!(delay >= plain);
    }
}

// ---------------------------------------------------------------------------------------------
// plan
// ---------------------------------------------------------------------------------------------

/// Two sets of client credentials, so that "changed" and "unchanged" are both drawn often.
const ISSUED_FOR: [&str; 2] = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"];

#[derive(Debug, Clone)]
struct Situation {
    stored: Option<StoredTokens>,
    issued_for: &'static str,
    bootstrap: Option<Sensitive>,
    refresh_requested: bool,
    failure: Option<LastFailure>,
    policy: RenewPolicy,
    jitter: Jitter,
    now: Timestamp,
}

impl Situation {
    fn observed(&self) -> Observed<'_> {
        Observed {
            stored: self.stored.as_ref(),
            issued_for: self.issued_for,
            bootstrap_refresh_token: self.bootstrap.as_ref(),
            refresh_requested: self.refresh_requested,
            last_failure: self.failure.as_ref(),
            policy: &self.policy,
            jitter: self.jitter,
        }
    }

    /// When the last failure says to try again, if a backoff applies at all: not after a
    /// refresh request, nor once the credentials changed since the failure.
    fn backoff(&self) -> Option<Timestamp> {
        let failure = self.failure.as_ref()?;
        let changed = failure
            .issued_for
            .as_deref()
            .is_some_and(|f| f != self.issued_for);
        // A failure dated further ahead than clocks can disagree is not believed.
        let believable = self
            .now
            .checked_add(wetix_operator::plan::FAILURE_CLOCK_SKEW)
            .map_or(true, |limit| failure.at <= limit);
        if self.refresh_requested || changed || !believable {
            return None;
        }
        Some(retry_at(failure, self.jitter))
    }
}

fn issued_for() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(ISSUED_FOR[0]), 1 => Just(ISSUED_FOR[1])]
}

/// Tokens for either credentials; the refresh token mostly issued with the access token and
/// living 1 to 20 times as long, as WeTix issues them, or with a lifetime of its own.
fn stored_tokens(lifetime: BoxedStrategy<Lifetime>) -> impl Strategy<Value = StoredTokens> {
    let refresh = (
        lifetime.clone(),
        prop_oneof![3 => (2.0..20.0f64).prop_map(Some), 1 => Just(None)],
    );
    (lifetime, refresh, issued_for()).prop_map(|(access, (own, longer), issued_for)| StoredTokens {
        pair: TokenPair {
            access_token: Sensitive::new("access").into(),
            refresh_token: Sensitive::new("refresh"),
            access,
            refresh: match longer {
                Some(times) => Lifetime {
                    issued_at: access.issued_at,
                    expires_at: access
                        .issued_at
                        .checked_add(access.length().mul_f64(times))
                        .unwrap_or(access.expires_at),
                },
                None => own,
            },
        },
        issued_for: issued_for.to_owned(),
    })
}

fn last_failure(at: impl Strategy<Value = Timestamp>) -> impl Strategy<Value = LastFailure> {
    (
        prop_oneof![1u32..12, any::<u32>()],
        at,
        prop_oneof![Just(FailureKind::Transient), Just(FailureKind::Rejected)],
        proptest::option::of(any_duration()),
        proptest::option::of(issued_for().prop_map(str::to_owned)),
    )
        .prop_map(
            |(attempts, at, kind, retry_after, issued_for)| LastFailure {
                attempts,
                at,
                kind,
                retry_after,
                issued_for,
            },
        )
}

/// A reconcile's inputs, with `now` near the tokens and the failure so that every branch is
/// drawn: tokens fresh, due or expired; a failure recent or long past.
fn situation(
    lifetime: BoxedStrategy<Lifetime>,
    failure_at: impl Strategy<Value = Timestamp>,
) -> impl Strategy<Value = Situation> {
    (
        proptest::option::of(stored_tokens(lifetime)),
        issued_for(),
        proptest::option::of(Just(Sensitive::new("bootstrap"))),
        prop::bool::weighted(0.2),
        proptest::option::of(last_failure(failure_at)),
        any_policy(),
        any_jitter(),
        -400i64..400,
        prop_oneof![Just(0.0), 0.0..1.2f64],
    )
        .prop_map(
            |(
                stored,
                issued_for,
                bootstrap,
                refresh_requested,
                failure,
                policy,
                jitter,
                offset,
                share,
            )| {
                // Near the failure (to land on either side of its retry), or somewhere in the
                // access token's life.
                let now = match (&failure, &stored) {
                    (Some(f), _) if offset % 2 == 0 => {
                        f.at.checked_add(SignedDuration::from_secs(offset))
                            .unwrap_or(f.at)
                    }
                    (_, Some(s)) => s
                        .pair
                        .access
                        .issued_at
                        .checked_add(s.pair.access.length().mul_f64(share))
                        .unwrap_or(s.pair.access.issued_at),
                    _ => Timestamp::from_second(1_795_600_000).unwrap(),
                };
                Situation {
                    stored,
                    issued_for,
                    bootstrap,
                    refresh_requested,
                    failure,
                    policy,
                    jitter,
                    now,
                }
            },
        )
}

fn plausible_situation() -> impl Strategy<Value = Situation> {
    situation(ordered_lifetime(), plausible_timestamp())
}

proptest! {
    #![proptest_config(config())]

    /// While a backoff is ahead, nothing is requested (a failing server is not hammered); once
    /// it is over, or after a refresh request or a change of credentials, no Wait.
    #[test]
    fn nothing_is_requested_while_a_backoff_is_ahead(s in plausible_situation()) {
        let decided = plan(&s.observed(), s.now);
        match s.backoff() {
            Some(until) if s.now < until => prop_assert_eq!(decided, Plan::Wait { until }),
            _ => prop_assert!(!matches!(decided, Plan::Wait { .. }), "{decided:?}"),
        }
    }

    /// Without a backoff ahead: tokens past their renewal time are renewed (the access token by
    /// a refresh, a refresh token by a fresh pair), tokens for other credentials are replaced,
    /// and kept tokens are next looked at when the first of them falls due, after now.
    #[test]
    fn due_tokens_are_renewed_and_fresh_ones_kept_until_the_first_is_due(
        s in plausible_situation(),
    ) {
        if s.backoff().is_some_and(|until| s.now < until) {
            return Ok(());
        }
        let decided = plan(&s.observed(), s.now);
        let Some(stored) = &s.stored else {
            prop_assert!(matches!(decided, Plan::Request { why: Why::NoTokens, .. }), "{decided:?}");
            return Ok(());
        };
        let access_due = renew_at(stored.pair.access, &s.policy, s.jitter);
        let refresh_due = renew_at(stored.pair.refresh, &s.policy, s.jitter);
        let expected = if stored.issued_for != s.issued_for {
            Some((true, Why::CredentialsChanged))
        } else if s.now >= refresh_due {
            Some((true, Why::RefreshTokenDue))
        } else if s.refresh_requested {
            Some((false, Why::RefreshRequested))
        } else if s.now >= access_due {
            Some((false, Why::AccessTokenDue))
        } else {
            None
        };
        match (expected, &decided) {
            (Some((fresh, why)), Plan::Request { grant, why: w }) => {
                prop_assert_eq!(*w, why);
                prop_assert_eq!(matches!(grant, Grant::ClientCredentials), fresh, "{:?}", grant);
            }
            (None, Plan::Keep { next_refresh }) => {
                prop_assert_eq!(*next_refresh, access_due.min(refresh_due));
                prop_assert!(*next_refresh > s.now);
            }
            _ => prop_assert!(false, "expected {expected:?}, planned {decided:?}"),
        }
    }

    /// A status may say anything about the last failure (anyone allowed the status subresource
    /// can write it): its time must not make the reconcile panic.
    #[test]
    fn no_failure_time_makes_the_plan_panic(s in situation(any_lifetime(), timestamp())) {
        let _ = plan(&s.observed(), s.now);
    }
}

/// The smallest case the property above found before `retry_at` saturated: a transient failure
/// recorded a second before jiff's last instant, retried 5 s later.
#[test]
fn a_failure_at_the_end_of_time_waits_instead_of_panicking() {
    let failure = LastFailure {
        attempts: 1,
        at: Timestamp::MAX - SignedDuration::from_secs(1),
        kind: FailureKind::Transient,
        retry_after: None,
        issued_for: None,
    };
    let policy = RenewPolicy::default();
    let observed = Observed {
        stored: None,
        issued_for: ISSUED_FOR[0],
        bootstrap_refresh_token: None,
        refresh_requested: false,
        last_failure: Some(&failure),
        policy: &policy,
        jitter: Jitter::none(),
    };
    let decided = plan(&observed, failure.at);
    assert!(matches!(decided, Plan::Wait { .. }), "{decided:?}");
}

// ---------------------------------------------------------------------------------------------
// tokens: the answer, its JWTs and the lifetime rule
// ---------------------------------------------------------------------------------------------

/// A pair accepted from an answer sent at `sent`: each token lives after `sent`, no longer
/// than the answer declares, no longer than its JWT says, and was issued no later than `sent`.
fn check_accepted(answer: &Value, pair: &TokenPair, sent: Timestamp) -> Result<(), TestCaseError> {
    for (lifetime, token, seconds) in [
        (pair.access, "access_token", "expires_in"),
        (pair.refresh, "refresh_token", "refresh_token_expires_in"),
    ] {
        let declared = answer[seconds].as_i64().unwrap();
        prop_assert!(declared > 0, "{seconds} = {declared} accepted");
        prop_assert!(
            lifetime.expires_at > sent,
            "{token} expired on arrival: {lifetime:?}"
        );
        prop_assert!(
            lifetime.issued_at <= sent,
            "{token} issued in the future: {lifetime:?}"
        );
        prop_assert!(
            lifetime.length() > SignedDuration::ZERO,
            "{token}: {lifetime:?}"
        );
        prop_assert!(lifetime.expires_at <= sent + SignedDuration::from_secs(declared));
        if let Some(exp) = jwt_times(answer[token].as_str().unwrap()).and_then(|t| t.exp) {
            prop_assert!(lifetime.expires_at <= exp, "{token} outlives its exp {exp}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes are an error, never a panic.
    #[test]
    fn any_bytes_as_a_token_answer_are_read_or_refused(
        body in prop::collection::vec(any::<u8>(), 0..512),
        sent in timestamp(),
    ) {
        if let Ok(answer) = TokenResponse::from_json(&body) {
            let _ = token_pair_from_response(answer, None, sent);
        }
    }

    /// Any JSON, and any answer-shaped object: an accepted pair always has a positive lifetime
    /// that starts by the send time and ends no later than the answer and the JWT say.
    #[test]
    fn an_accepted_answer_never_has_a_lifetime_of_zero_or_less(
        answer in prop_oneof![1 => any_json(), 4 => answer_json()],
        sent in prop_oneof![3 => around_2026(5).boxed(), 1 => timestamp().boxed()],
    ) {
        let body = serde_json::to_vec(&answer).unwrap();
        let Ok(response) = TokenResponse::from_json(&body) else { return Ok(()) };
        if let Ok(pair) = token_pair_from_response(response, None, sent) {
            check_accepted(&answer, &pair, sent)?;
        }
    }

    /// A refresh answered with the same refresh token keeps that token's known life: it starts
    /// when it was first issued and never ends later than known. Any other token is new.
    #[test]
    fn a_repeated_refresh_token_never_lives_longer_than_known(
        answer in answer_json(),
        known in ordered_lifetime(),
        into_life in 0.0..1.0f64,
        same in any::<bool>(),
    ) {
        let sent = known.issued_at + known.length().mul_f64(into_life);
        let body = serde_json::to_vec(&answer).unwrap();
        let Ok(response) = TokenResponse::from_json(&body) else { return Ok(()) };
        let token = match (&answer["refresh_token"], same) {
            (Value::String(t), true) => Sensitive::new(t.clone()),
            _ => Sensitive::new("another refresh token"),
        };
        let known_refresh = KnownRefresh { token: &token, lifetime: known };
        let Ok(pair) = token_pair_from_response(response, Some(known_refresh), sent) else {
            return Ok(());
        };
        if pair.refresh_token == token {
            prop_assert_eq!(pair.refresh.issued_at, known.issued_at);
            prop_assert!(pair.refresh.expires_at <= known.expires_at);
        } else {
            check_accepted(&answer, &pair, sent)?;
        }
    }

    /// Any text, and any JWT-shaped text, reads as claims or as "not a JWT", never a panic.
    #[test]
    fn any_text_as_a_jwt_is_read_or_refused(
        text in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_=-]{0,12}\\.[A-Za-z0-9_=-]{0,24}\\.[A-Za-z0-9_=-]{0,8}",
            any_json().prop_map(|claims| jwt_with(&claims)),
        ],
    ) {
        let _ = jwt_times(&text);
    }

    /// Whole-second claims in jiff's range read exactly; a claim out of range reads as absent.
    #[test]
    fn whole_second_claims_read_exactly(exp in any::<i64>(), iat in any::<i64>()) {
        let times = jwt_times(&jwt_with(&json!({"exp": exp, "iat": iat}))).unwrap();
        prop_assert_eq!(times.exp, Timestamp::from_second(exp).ok());
        prop_assert_eq!(times.iat, Timestamp::from_second(iat).ok());
    }
}

// ---------------------------------------------------------------------------------------------
// duration: spec.renewBefore
// ---------------------------------------------------------------------------------------------

/// The units of a Go duration with their length in nanoseconds.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A duration as the schema pattern allows it: up to six `<digits>[.<digits>]<unit>` parts,
/// each number small enough that the sum fits; with its exact length in nanoseconds.
fn well_formed_duration() -> impl Strategy<Value = (String, u128)> {
    let part = (
        "[0-9]{1,9}",
        proptest::option::of("[0-9]{1,9}"),
        0..UNITS.len(),
    );
    prop::collection::vec(part, 1..6).prop_map(|parts| {
        let mut text = String::new();
        let mut nanos = 0u128;
        for (whole, fraction, unit) in parts {
            let (name, length) = UNITS[unit];
            nanos += whole.parse::<u128>().unwrap() * length;
            text.push_str(&whole);
            if let Some(fraction) = fraction {
                let scale = 10u128.pow(fraction.len() as u32);
                nanos += fraction.parse::<u128>().unwrap() * length / scale;
                text.push('.');
                text.push_str(&fraction);
            }
            text.push_str(name);
        }
        (text, nanos)
    })
}

proptest! {
    #![proptest_config(config())]

    /// Any text, and text made of the grammar's own characters, parses or is refused naming
    /// it, never a panic; what parses prints back exactly as written, through JSON too.
    #[test]
    fn a_duration_parses_or_is_refused_and_prints_back_as_written(
        text in prop_oneof![
            any::<String>(),
            "[0-9.hmsun\u{b5}\u{3bc}+-]{0,24}",
            well_formed_duration().prop_map(|(text, _)| text),
            "[0-9]{15,40}(h|s|ns)",
        ],
    ) {
        match text.parse::<GoDuration>() {
            Ok(parsed) => {
                prop_assert_eq!(parsed.to_string(), text.clone());
                let json = serde_json::to_value(&parsed).unwrap();
                prop_assert_eq!(&json, &Value::from(text.clone()));
                let again: GoDuration = serde_json::from_value(json).unwrap();
                prop_assert_eq!(again.as_duration(), parsed.as_duration());
            }
            Err(error) => {
                let shown: String = text.chars().take(64).collect();
                prop_assert!(error.to_string().contains(&format!("{shown:?}")), "{error}");
            }
        }
    }

    /// Every value the schema's pattern lets through (within range) is accepted, to the
    /// nanosecond, so `kubectl apply` and the operator never disagree on a plain value.
    #[test]
    fn every_well_formed_duration_is_accepted_exactly((text, nanos) in well_formed_duration()) {
        let parsed: GoDuration = text.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(parsed.as_duration().as_nanos(), nanos, "{}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// credential: reading a stored WetixCredential
// ---------------------------------------------------------------------------------------------

fn valid_spec() -> Value {
    json!({
        "server": {"environment": "Sandbox", "tokenPath": "/auth/token"},
        "clientSecretRef": {"name": "wetix-client", "clientIdKey": "id"},
        "refreshTokenSecretRef": {"name": "bootstrap"},
        "renewBefore": "72h",
        "renewBeforePercentage": 20,
        "secretName": "ticketing-token",
        "secretTemplate": {"labels": {"app": "shop"}, "annotations": {"team": "a"}},
        "deletionPolicy": "Retain",
        "rolloutRestartTargets": [{"kind": "Deployment", "name": "web"}],
        "suspend": false
    })
}

fn valid_status() -> Value {
    json!({
        "observedGeneration": 3,
        "conditions": [{
            "type": "Ready", "status": "False", "reason": "ServerUnavailable", "message": "",
            "lastTransitionTime": "2026-11-25T10:00:00Z"
        }],
        "secretName": "ticketing-token",
        "accessTokenExpiresAt": "2027-01-24T10:00:00Z",
        "nextRefreshTime": "2027-01-04T10:00:00Z",
        "failedAttempts": 2,
        "lastFailureTime": "2026-11-25T10:00:00Z",
        "lastRefreshRequest": "",
        "tokenFingerprint": "ba7816bf8f01cfea"
    })
}

/// Every path a stored spec or status may carry, down to nested fields.
const SPEC_PATHS: &[&[&str]] = &[
    &["server"],
    &["server", "environment"],
    &["server", "url"],
    &["server", "tokenPath"],
    &["server", "refreshPath"],
    &["clientSecretRef"],
    &["clientSecretRef", "name"],
    &["clientSecretRef", "clientSecretKey"],
    &["refreshTokenSecretRef"],
    &["refreshTokenSecretRef", "key"],
    &["renewBefore"],
    &["renewBeforePercentage"],
    &["secretName"],
    &["secretTemplate"],
    &["secretTemplate", "labels"],
    &["deletionPolicy"],
    &["rolloutRestartTargets"],
    &["suspend"],
    &["unreadable"],
];
const STATUS_PATHS: &[&[&str]] = &[
    &["observedGeneration"],
    &["conditions"],
    &["secretName"],
    &["accessTokenExpiresAt"],
    &["lastRefreshTime"],
    &["failedAttempts"],
    &["lastFailureTime"],
    &["lastRefreshRequest"],
    &["tokenFingerprint"],
];

/// A plausible value for a field, of the right type or nearly: what a hand edit writes.
fn nearly_right() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_json(),
        "[0-9]{1,25}(h|m|s|ms)".prop_map(Value::from),
        (-5i64..300).prop_map(Value::from),
        prop_oneof![
            Just("Production"),
            Just("Sandbox"),
            Just("Delete"),
            Just("sandbox")
        ]
        .prop_map(Value::from),
        "9999-12-3[01]T2[0-3]:59:59(\\.9{1,9})?Z".prop_map(Value::from),
    ]
}

/// A valid document with some fields replaced or removed.
fn edited(
    valid: fn() -> Value,
    paths: &'static [&'static [&'static str]],
) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(paths),
            proptest::option::of(nearly_right()),
        ),
        0..4,
    )
    .prop_map(move |edits| {
        let mut doc = valid();
        for (path, value) in edits {
            let (last, parents) = path.split_last().unwrap();
            let mut at = &mut doc;
            for key in parents {
                at = &mut at[*key];
            }
            if let Value::Object(map) = at {
                match value {
                    Some(value) => map.insert((*last).to_owned(), value),
                    None => map.remove(*last),
                };
            }
        }
        doc
    })
}

fn stored_credential() -> impl Strategy<Value = Value> {
    (
        prop_oneof![1 => any_json(), 3 => edited(valid_spec, SPEC_PATHS)],
        proptest::option::of(prop_oneof![1 => any_json(), 3 => edited(valid_status, STATUS_PATHS)]),
    )
        .prop_map(|(spec, status)| {
            let mut object = json!({
                "apiVersion": "wetix.my/v1alpha1",
                "kind": "WetixCredential",
                "metadata": {"name": "ticketing", "namespace": "shop", "uid": "0b5e3c1e"},
                "spec": spec,
            });
            if let Some(status) = status {
                object["status"] = status;
            }
            object
        })
}

proptest! {
    #![proptest_config(config())]

    /// With well-formed metadata, any spec and status read: one hand-edited object never fails
    /// the list or watch of every credential. What does not read says which field, briefly;
    /// what reads is validated, renewed and named without a panic, and what it stores reads back as stored.
    #[test]
    fn any_stored_spec_and_status_read_as_one_object(object in stored_credential()) {
        let credential: WetixCredential = serde_json::from_value(object.clone())
            .map_err(|e| TestCaseError::fail(format!("the whole object failed: {e}")))?;
        match &credential.spec.unreadable {
            Some(problem) => {
                prop_assert!(problem.starts_with("spec"), "{problem}");
                prop_assert!(problem.chars().count() <= 300);
            }
            None => {
                let _ = validate::spec(&credential);
                let policy = credential.spec.renew_policy();
                let issued = Timestamp::from_second(1_795_600_000).unwrap();
                let lifetime = Lifetime {
                    issued_at: issued,
                    expires_at: issued + SignedDuration::from_hours(24 * 60),
                };
                let _ = renew_at(lifetime, &policy, Jitter::from_uid("0b5e3c1e"));
                prop_assert!(!credential.secret_name().is_empty());
                let stored = serde_json::to_value(&credential.spec).unwrap();
                let again: WetixCredential = serde_json::from_value(json!({
                    "apiVersion": "wetix.my/v1alpha1",
                    "kind": "WetixCredential",
                    "metadata": object["metadata"],
                    "spec": stored.clone(),
                }))
                .unwrap();
                prop_assert_eq!(serde_json::to_value(&again.spec).unwrap(), stored);
            }
        }
        if let Some(status) = &credential.status {
            match &status.unreadable {
                Some(problem) => {
                    prop_assert!(problem.starts_with("status"), "{problem}");
                    prop_assert_eq!(status.failed_attempts, 0, "an unreadable status is absent");
                }
                None => {
                    let stored = serde_json::to_value(status).unwrap();
                    let again: WetixCredential = serde_json::from_value(json!({
                        "apiVersion": "wetix.my/v1alpha1",
                        "kind": "WetixCredential",
                        "metadata": object["metadata"],
                        "spec": valid_spec(),
                        "status": stored.clone(),
                    }))
                    .unwrap();
                    // Times store to the second, as the API server keeps them.
                    prop_assert_eq!(serde_json::to_value(again.status).unwrap(), stored);
                }
            }
        }
    }
}
