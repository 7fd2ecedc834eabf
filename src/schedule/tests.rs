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

/// Lifetimes at and next to the ends of `Timestamp`'s range, in and out of order.
fn extreme_lifetimes() -> Vec<(&'static str, Lifetime)> {
    let nanosecond = SignedDuration::from_nanos(1);
    let after_min = Timestamp::MIN.checked_add(nanosecond).unwrap();
    let before_max = Timestamp::MAX.checked_sub(nanosecond).unwrap();
    let now = ts("2026-11-25T10:00:00Z");
    let at = |issued_at, expires_at| Lifetime {
        issued_at,
        expires_at,
    };
    vec![
        ("the whole range", at(Timestamp::MIN, Timestamp::MAX)),
        (
            "the whole range reversed",
            at(Timestamp::MAX, Timestamp::MIN),
        ),
        ("one nanosecond at the start", at(Timestamp::MIN, after_min)),
        ("one nanosecond at the end", at(before_max, Timestamp::MAX)),
        ("both at the start", at(Timestamp::MIN, Timestamp::MIN)),
        ("both at the end", at(Timestamp::MAX, Timestamp::MAX)),
        ("now until the end of time", at(now, Timestamp::MAX)),
        ("the start of time until now", at(Timestamp::MIN, now)),
        ("epoch until now", at(Timestamp::UNIX_EPOCH, now)),
    ]
}

#[test]
fn every_lifetime_and_policy_gets_a_renewal_within_the_lifetime() {
    let renew_befores = [
        None,
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        Some(Duration::from_secs(i64::MAX as u64)),
        Some(Duration::from_secs(u64::MAX)),
        Some(Duration::MAX),
    ];
    let jitters = [
        Jitter::none(),
        Jitter::from_fraction(0.5),
        Jitter::from_fraction(1.0),
        Jitter::from_fraction(f64::INFINITY),
    ];
    for (name, lifetime) in extreme_lifetimes() {
        let earliest = lifetime.issued_at.min(lifetime.expires_at);
        for renew_before in renew_befores {
            for percentage in [0, 1, 33, 99, 100, u8::MAX] {
                for jitter in jitters {
                    let got = renew_at(lifetime, &policy(renew_before, percentage), jitter);
                    let case = format!("{name}, {renew_before:?}, {percentage}%, {jitter:?}");
                    assert!(got <= lifetime.expires_at, "{case}: {got} after expiry");
                    assert!(got >= earliest, "{case}: {got} before the lifetime");
                }
            }
        }
    }
}

#[test]
fn a_lifetime_spanning_all_of_time_renews_by_the_percentage() {
    let all = Lifetime {
        issued_at: Timestamp::MIN,
        expires_at: Timestamp::MAX,
    };
    // 1% of the 19998 years from -9999 to 9999: 200 years before the end of 9999.
    let got = renew_at(all, &policy(None, 1), Jitter::none());
    assert_eq!(got.strftime("%Y").to_string(), "9800");
    assert_eq!(got.subsec_nanosecond(), 0);
    // A renewBefore longer than any Duration a SignedDuration holds falls back the same way.
    let beyond = renew_at(all, &policy(Some(Duration::MAX), 1), Jitter::none());
    assert_eq!(beyond, got);
}

#[test]
fn retry_delay_is_capped_for_any_attempt_count_and_retry_after() {
    let retry_afters = [
        None,
        Some(Duration::ZERO),
        Some(Duration::from_secs(u64::MAX)),
        Some(Duration::MAX),
    ];
    let jitters = [
        Jitter::none(),
        Jitter::from_fraction(0.999_999),
        Jitter::from_uid("x"),
    ];
    for attempts in [0, 1, 7, 8, 31, 32, 33, 64, u32::MAX - 1, u32::MAX] {
        for retry_after in retry_afters {
            for jitter in jitters {
                let got = retry_delay(attempts, retry_after, jitter);
                let case = format!("{attempts} {retry_after:?} {jitter:?}");
                assert!(got <= MAX_RETRY_DELAY, "{case}: {got:?}");
                assert!(got >= Duration::from_secs(4), "{case}: {got:?}");
                if retry_after.is_some_and(|r| r >= MAX_RETRY_DELAY) {
                    assert_eq!(got, MAX_RETRY_DELAY, "{case}");
                }
            }
        }
    }
}
