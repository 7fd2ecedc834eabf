use super::*;
use crate::fixtures::{at, pair};

const FOR: &str = "aaaaaaaaaaaaaaaa";

/// A pair issued 2026-11-25T10:00:00Z: access 100 s, refresh 1000 s.
fn stored() -> StoredTokens {
    StoredTokens {
        pair: pair("2026-11-25T10:00:00Z", 100, 1000),
        issued_for: FOR.into(),
    }
}

fn observed<'a>(stored: Option<&'a StoredTokens>, policy: &'a RenewPolicy) -> Observed<'a> {
    Observed {
        stored,
        issued_for: FOR,
        bootstrap_refresh_token: None,
        refresh_requested: false,
        last_failure: None,
        policy,
        jitter: Jitter::none(),
    }
}

/// A failure at 2026-11-25T10:00:00Z without Retry-After, of unknown credentials.
fn failed(attempts: u32, kind: FailureKind) -> LastFailure {
    LastFailure {
        attempts,
        at: at("2026-11-25T10:00:00Z"),
        kind,
        retry_after: None,
        issued_for: None,
    }
}

fn is_refresh(plan: &Plan, why: Why) -> bool {
    matches!(plan, Plan::Request { grant: Grant::Refresh { .. }, why: w } if *w == why)
}

fn is_client_credentials(plan: &Plan, why: Why) -> bool {
    matches!(plan, Plan::Request { grant: Grant::ClientCredentials, why: w } if *w == why)
}

#[test]
fn without_tokens_a_fresh_pair_is_requested() {
    let policy = RenewPolicy::default();
    let plan = plan(&observed(None, &policy), at("2026-11-25T10:00:00Z"));
    assert!(is_client_credentials(&plan, Why::NoTokens), "{plan:?}");
}

#[test]
fn without_tokens_a_bootstrap_refresh_token_is_used_first() {
    let policy = RenewPolicy::default();
    let token = Sensitive::new("bootstrap");
    let mut o = observed(None, &policy);
    o.bootstrap_refresh_token = Some(&token);
    match plan(&o, at("2026-11-25T10:00:00Z")) {
        Plan::Request {
            grant:
                Grant::Refresh {
                    refresh_token,
                    current: None,
                },
            why: Why::NoTokens,
        } => assert_eq!(refresh_token.expose(), "bootstrap"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn valid_tokens_are_kept_until_the_access_renewal_time() {
    // 33 % of 100 s = 33 s before expiry: renew at 10:01:07.
    let policy = RenewPolicy::default();
    let s = stored();
    let plan_at = |t| plan(&observed(Some(&s), &policy), at(t));
    assert_eq!(
        plan_at("2026-11-25T10:00:00Z"),
        Plan::Keep {
            next_refresh: at("2026-11-25T10:01:07Z")
        }
    );
    assert!(is_refresh(
        &plan_at("2026-11-25T10:01:07Z"),
        Why::AccessTokenDue
    ));
}

#[test]
fn an_expired_access_token_is_refreshed_with_the_stored_refresh_token() {
    let policy = RenewPolicy::default();
    let s = stored();
    match plan(&observed(Some(&s), &policy), at("2026-11-25T10:05:00Z")) {
        Plan::Request {
            grant:
                Grant::Refresh {
                    refresh_token,
                    current,
                },
            why: Why::AccessTokenDue,
        } => {
            assert_eq!(refresh_token.expose(), s.pair.refresh_token.expose());
            assert_eq!(current, Some(s.pair.refresh));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refresh_token_near_its_end_is_replaced_through_client_credentials() {
    // Refresh token: 1000 s, renew 330 s before: at 10:11:10.
    let policy = RenewPolicy::default();
    let s = stored();
    let plan = plan(&observed(Some(&s), &policy), at("2026-11-25T10:11:10Z"));
    assert!(
        is_client_credentials(&plan, Why::RefreshTokenDue),
        "{plan:?}"
    );
}

#[test]
fn the_next_refresh_is_the_earlier_of_both_renewal_times() {
    // A non-rotating refresh token that outlives the access token only briefly.
    let policy = RenewPolicy::default();
    let mut s = stored();
    s.pair.refresh.expires_at = at("2026-11-25T10:01:30Z"); // 90 s: renew at 10:01:00
    assert_eq!(
        plan(&observed(Some(&s), &policy), at("2026-11-25T10:00:10Z")),
        Plan::Keep {
            next_refresh: at("2026-11-25T10:01:00Z")
        }
    );
}

#[test]
fn changed_credentials_get_a_fresh_pair_at_once() {
    let policy = RenewPolicy::default();
    let s = stored();
    let mut o = observed(Some(&s), &policy);
    o.issued_for = "bbbbbbbbbbbbbbbb";
    assert!(is_client_credentials(
        &plan(&o, at("2026-11-25T10:00:01Z")),
        Why::CredentialsChanged
    ));
}

#[test]
fn a_manual_request_refreshes_now_even_while_backing_off() {
    let policy = RenewPolicy::default();
    let s = stored();
    let failure = failed(3, FailureKind::Transient);
    let mut o = observed(Some(&s), &policy);
    o.refresh_requested = true;
    o.last_failure = Some(&failure);
    assert!(is_refresh(
        &plan(&o, at("2026-11-25T10:00:01Z")),
        Why::RefreshRequested
    ));
}

#[test]
fn after_a_transient_failure_it_waits_with_growing_backoff() {
    let policy = RenewPolicy::default();
    let mut waits = vec![];
    for attempts in 1..=8 {
        let failure = failed(attempts, FailureKind::Transient);
        let mut o = observed(None, &policy);
        o.last_failure = Some(&failure);
        match plan(&o, at("2026-11-25T10:00:00Z")) {
            Plan::Wait { until } => waits.push(until.duration_since(failure.at).as_secs()),
            other => panic!("{other:?}"),
        }
    }
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
    assert!(*waits.last().unwrap() <= 300, "{waits:?}");
    assert!(waits[0] >= 4, "{waits:?}");
}

#[test]
fn a_backoff_that_has_passed_lets_the_request_go_out() {
    let policy = RenewPolicy::default();
    let failure = failed(1, FailureKind::Transient);
    let mut o = observed(None, &policy);
    o.last_failure = Some(&failure);
    assert!(is_client_credentials(
        &plan(&o, at("2026-11-25T10:10:00Z")),
        Why::NoTokens
    ));
}

#[test]
fn retry_after_is_honoured() {
    let policy = RenewPolicy::default();
    let failure = LastFailure {
        retry_after: Some(Duration::from_secs(120)),
        ..failed(1, FailureKind::Transient)
    };
    let mut o = observed(None, &policy);
    o.last_failure = Some(&failure);
    assert_eq!(
        plan(&o, at("2026-11-25T10:00:00Z")),
        Plan::Wait {
            until: at("2026-11-25T10:02:00Z")
        }
    );
}

#[test]
fn rejected_credentials_wait_five_minutes_unless_the_client_secret_changes() {
    let policy = RenewPolicy::default();
    let failure = LastFailure {
        issued_for: Some(FOR.into()),
        ..failed(1, FailureKind::Rejected)
    };
    let mut o = observed(None, &policy);
    o.last_failure = Some(&failure);
    assert_eq!(
        plan(&o, at("2026-11-25T10:04:59Z")),
        Plan::Wait {
            until: at("2026-11-25T10:05:00Z")
        }
    );
    assert!(is_client_credentials(
        &plan(&o, at("2026-11-25T10:05:00Z")),
        Why::NoTokens
    ));
    o.issued_for = "cccccccccccccccc";
    assert!(is_client_credentials(
        &plan(&o, at("2026-11-25T10:00:01Z")),
        Why::NoTokens
    ));
}

#[test]
fn a_clock_that_jumps_back_keeps_the_tokens_and_one_that_jumps_ahead_renews() {
    let policy = RenewPolicy::default();
    let s = stored();
    let o = observed(Some(&s), &policy);
    assert!(matches!(
        plan(&o, at("2026-11-25T09:00:00Z")),
        Plan::Keep { .. }
    ));
    assert!(is_client_credentials(
        &plan(&o, at("2027-11-25T10:00:00Z")),
        Why::RefreshTokenDue
    ));
}

#[test]
fn renew_before_longer_than_the_lifetime_falls_back_to_the_percentage() {
    let policy = RenewPolicy {
        renew_before: Some(Duration::from_secs(3600)),
        percentage: 50,
    };
    let s = stored();
    assert_eq!(
        plan(&observed(Some(&s), &policy), at("2026-11-25T10:00:00Z")),
        Plan::Keep {
            next_refresh: at("2026-11-25T10:00:50Z")
        }
    );
}

#[test]
fn retry_at_saturates_at_the_end_of_time() {
    let second = SignedDuration::from_secs(1);
    let cases = [
        // (name, failed at, kind, attempts, Retry-After, expected)
        (
            "at the end of time",
            Timestamp::MAX,
            FailureKind::Transient,
            1,
            None,
            Timestamp::MAX,
        ),
        (
            "a second before the end, rejected",
            Timestamp::MAX.checked_sub(second).unwrap(),
            FailureKind::Rejected,
            1,
            None,
            Timestamp::MAX,
        ),
        (
            "the most attempts and the longest Retry-After",
            Timestamp::MAX.checked_sub(second).unwrap(),
            FailureKind::Transient,
            u32::MAX,
            Some(Duration::MAX),
            Timestamp::MAX,
        ),
        (
            "at the start of time",
            Timestamp::MIN,
            FailureKind::Transient,
            u32::MAX,
            Some(Duration::MAX),
            Timestamp::MIN
                .checked_add(SignedDuration::from_mins(5))
                .unwrap(),
        ),
        (
            "zero attempts counts as one",
            at("2026-11-25T10:00:00Z"),
            FailureKind::Transient,
            0,
            None,
            at("2026-11-25T10:00:05Z"),
        ),
    ];
    for (name, failed_at, kind, attempts, retry_after, expected) in cases {
        let failure = LastFailure {
            at: failed_at,
            retry_after,
            ..failed(attempts, kind)
        };
        assert_eq!(retry_at(&failure, Jitter::none()), expected, "{name}");
    }
}

#[test]
fn a_failure_dated_beyond_the_clock_skew_is_not_believed_and_retries_at_once() {
    let policy = RenewPolicy::default();
    let now = at("2026-11-25T10:00:00Z");
    let cases = [
        ("a second ago", at("2026-11-25T09:59:59Z"), true),
        (
            "a minute ahead (another replica's clock)",
            at("2026-11-25T10:01:00Z"),
            true,
        ),
        ("exactly the skew ahead", at("2026-11-25T10:05:00Z"), true),
        (
            "a second beyond the skew",
            at("2026-11-25T10:05:01Z"),
            false,
        ),
        ("the last day of 9999", at("9999-12-30T00:00:00Z"), false),
        ("the end of time", Timestamp::MAX, false),
    ];
    for (name, failed_at, waits) in cases {
        let failure = LastFailure {
            at: failed_at,
            ..failed(8, FailureKind::Transient)
        };
        let mut o = observed(None, &policy);
        o.last_failure = Some(&failure);
        let got = plan(&o, now);
        if waits {
            assert!(matches!(got, Plan::Wait { .. }), "{name}: {got:?}");
        } else {
            assert!(
                is_client_credentials(&got, Why::NoTokens),
                "{name}: {got:?}"
            );
        }
    }
}

#[test]
fn stored_lifetimes_at_the_ends_of_time_give_a_plan_at_any_time() {
    let policy = RenewPolicy {
        renew_before: Some(Duration::MAX),
        percentage: u8::MAX,
    };
    let ends = [Timestamp::MIN, Timestamp::UNIX_EPOCH, Timestamp::MAX];
    for issued_at in ends {
        for expires_at in ends {
            let lifetime = crate::tokens::Lifetime {
                issued_at,
                expires_at,
            };
            let mut s = stored();
            s.pair.access = lifetime;
            s.pair.refresh = lifetime;
            for now in ends {
                let failure = LastFailure {
                    at: now,
                    retry_after: Some(Duration::MAX),
                    ..failed(u32::MAX, FailureKind::Transient)
                };
                for last_failure in [None, Some(&failure)] {
                    let mut o = observed(Some(&s), &policy);
                    o.last_failure = last_failure;
                    o.jitter = Jitter::from_fraction(0.999);
                    let got = plan(&o, now);
                    let case = format!("{issued_at}..{expires_at} at {now}: {got:?}");
                    let due = next_renewal(&s, &policy, o.jitter);
                    assert!(due <= expires_at, "{case}: due {due}");
                    match got {
                        Plan::Keep { next_refresh } => {
                            assert_eq!(next_refresh, due, "{case}");
                            assert!(next_refresh > now, "{case}");
                        }
                        Plan::Wait { until } => assert!(until > now, "{case}"),
                        Plan::Request { .. } => assert!(due <= now, "{case}"),
                    }
                }
            }
        }
    }
}
