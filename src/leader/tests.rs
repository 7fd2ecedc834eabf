use std::time::Duration;

use kube::api::ObjectMeta;
use tokio::time::Instant;

use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn lease(spec: Option<LeaseSpec>) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.into()),
            ..ObjectMeta::default()
        },
        spec,
    }
}

fn held(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.into()),
        acquire_time: Some(MicroTime(at(-100))),
        renew_time: Some(MicroTime(at(renewed))),
        lease_duration_seconds: Some(duration),
        lease_transitions: Some(3),
        ..LeaseSpec::default()
    }
}

/// A point on this replica's monotonic clock, `seconds` after a fixed origin (100 s after the
/// first call, so that the cases can look back).
fn local(seconds: i64) -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| Instant::now() + Duration::from_secs(100));
    if seconds >= 0 {
        origin + Duration::from_secs(seconds as u64)
    } else {
        origin - Duration::from_secs(seconds.unsigned_abs())
    }
}

#[test]
fn decide_follows_the_holder_and_the_expiry() {
    let wait_b = Decision::Wait { holder: "b".into() };
    // (name, Lease, seconds since this replica saw it change, expected)
    let cases: [(&str, Option<Lease>, i64, Decision); 13] = [
        ("no Lease", None, 0, Decision::Create),
        ("empty spec", Some(lease(None)), 0, Decision::Claim),
        (
            "spec without holder",
            Some(lease(Some(LeaseSpec::default()))),
            0,
            Decision::Claim,
        ),
        (
            "released (empty holder)",
            Some(lease(Some(LeaseSpec {
                holder_identity: Some(String::new()),
                ..held("x", 0, 15)
            }))),
            0,
            Decision::Claim,
        ),
        (
            "ours, fresh",
            Some(lease(Some(held("a", 0, 15)))),
            0,
            Decision::Renew,
        ),
        (
            "ours, expired: still ours to renew",
            Some(lease(Some(held("a", -60, 15)))),
            60,
            Decision::Renew,
        ),
        (
            "other, fresh",
            Some(lease(Some(held("b", -14, 15)))),
            14,
            wait_b.clone(),
        ),
        (
            "other, expiring exactly now",
            Some(lease(Some(held("b", -15, 15)))),
            15,
            Decision::Claim,
        ),
        (
            "other, renewTime an hour old by our clock, just seen renewed",
            Some(lease(Some(held("b", -3600, 15)))),
            0,
            wait_b.clone(),
        ),
        (
            "other, renewTime an hour ahead of our clock, not seen renewed for 15 s",
            Some(lease(Some(held("b", 3600, 15)))),
            15,
            Decision::Claim,
        ),
        (
            "other, renewTime an hour ahead of our clock, seen renewed 14 s ago",
            Some(lease(Some(held("b", 3600, 15)))),
            14,
            wait_b,
        ),
        (
            "other, no renew time",
            Some(lease(Some(LeaseSpec {
                renew_time: None,
                ..held("b", 0, 15)
            }))),
            0,
            Decision::Claim,
        ),
        (
            "other, no duration",
            Some(lease(Some(LeaseSpec {
                lease_duration_seconds: None,
                ..held("b", 0, 15)
            }))),
            0,
            Decision::Claim,
        ),
    ];
    for (name, lease, seen_ago, expected) in cases {
        let decision = decide(lease.as_ref(), "a", local(-seen_ago), local(0));
        assert_eq!(decision, expected, "{name}");
    }
}

#[test]
fn expiry_is_the_duration_after_the_change_was_seen_whatever_the_renew_time() {
    for renewed in [-3600, 10, 3600] {
        assert_eq!(
            expires_at(&held("b", renewed, 15), local(10)),
            Some(local(25)),
            "{renewed}"
        );
    }
    assert_eq!(expires_at(&LeaseSpec::default(), local(10)), None);
    let negative = LeaseSpec {
        lease_duration_seconds: Some(-1),
        ..held("b", 0, 15)
    };
    assert_eq!(expires_at(&negative, local(10)), None);
}

#[test]
fn a_sighting_lasts_while_the_holder_and_renew_time_stay_the_same() {
    let first = Seen::after(None, Some(&lease(Some(held("b", 0, 15)))), local(0));
    assert_eq!(first.since, local(0));
    let cases: [(&str, LeaseSpec, Instant); 5] = [
        ("unchanged", held("b", 0, 15), local(0)),
        (
            "another field changed",
            LeaseSpec {
                lease_transitions: Some(9),
                ..held("b", 0, 15)
            },
            local(0),
        ),
        ("renewed", held("b", 5, 15), local(7)),
        (
            "renewed with a time from the past",
            held("b", -5, 15),
            local(7),
        ),
        ("another holder", held("c", 0, 15), local(7)),
    ];
    for (name, spec, since) in cases {
        let seen = Seen::after(Some(first.clone()), Some(&lease(Some(spec))), local(7));
        assert_eq!(seen.since, since, "{name}");
    }
    let first_read = Seen::after(None, None, local(3));
    assert_eq!(first_read.since, local(3));
    let created = Seen::after(
        Some(first_read),
        Some(&lease(Some(held("b", 0, 15)))),
        local(4),
    );
    assert_eq!(
        created.since,
        local(4),
        "a Lease created since the last read"
    );
}

#[test]
fn claiming_a_new_lease_starts_at_zero_transitions() {
    let spec = claimed(&LeaseSpec::default(), "a", at(0));
    assert_eq!(
        spec,
        LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(at(0))),
            renew_time: Some(MicroTime(at(0))),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }
    );
}

#[test]
fn renewing_keeps_acquire_time_and_transitions() {
    let spec = claimed(&held("a", -5, 15), "a", at(0));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(-100))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(0))));
    assert_eq!(spec.lease_transitions, Some(3));
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
}

#[test]
fn taking_over_counts_one_transition_and_resets_acquire_time() {
    for previous in [held("b", -60, 15), released(&held("b", -1, 15))] {
        let spec = claimed(&previous, "a", at(0));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.lease_duration_seconds, Some(15));
    }
}

#[test]
fn claiming_keeps_fields_it_does_not_manage() {
    let previous = LeaseSpec {
        strategy: Some("OldestEmulationVersion".into()),
        preferred_holder: Some("b".into()),
        ..LeaseSpec::default()
    };
    let spec = claimed(&previous, "a", at(0));
    assert_eq!(spec.strategy, previous.strategy);
    assert_eq!(spec.preferred_holder, previous.preferred_holder);
}

#[test]
fn a_released_lease_is_claimed_by_the_next_reader() {
    let spec = released(&held("a", 0, 15));
    assert_eq!(spec.holder_identity, None);
    assert_eq!(spec.renew_time, None);
    assert_eq!(spec.lease_transitions, Some(3));
    assert_eq!(
        decide(Some(&lease(Some(spec))), "b", local(0), local(1)),
        Decision::Claim
    );
}

#[test]
fn the_holder_gives_up_before_a_standby_may_take_over() {
    assert!(RENEW_INTERVAL + RETRY_INTERVAL < RENEW_DEADLINE);
    assert!(RENEW_DEADLINE < LEASE_DURATION);
    assert!(RETRY_INTERVAL < RENEW_INTERVAL);
}
