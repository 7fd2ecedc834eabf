use kube::api::ObjectMeta;

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

#[test]
fn decide_follows_the_holder_and_the_expiry() {
    let wait_b = Decision::Wait { holder: "b".into() };
    let cases: [(&str, Option<Lease>, Decision); 10] = [
        ("no Lease", None, Decision::Create),
        ("empty spec", Some(lease(None)), Decision::Claim),
        (
            "spec without holder",
            Some(lease(Some(LeaseSpec::default()))),
            Decision::Claim,
        ),
        (
            "released (empty holder)",
            Some(lease(Some(LeaseSpec {
                holder_identity: Some(String::new()),
                ..held("x", 0, 15)
            }))),
            Decision::Claim,
        ),
        (
            "ours, fresh",
            Some(lease(Some(held("a", 0, 15)))),
            Decision::Renew,
        ),
        (
            "ours, expired: still ours to renew",
            Some(lease(Some(held("a", -60, 15)))),
            Decision::Renew,
        ),
        (
            "other, fresh",
            Some(lease(Some(held("b", -14, 15)))),
            wait_b,
        ),
        (
            "other, expiring exactly now",
            Some(lease(Some(held("b", -15, 15)))),
            Decision::Claim,
        ),
        (
            "other, no renew time",
            Some(lease(Some(LeaseSpec {
                renew_time: None,
                ..held("b", 0, 15)
            }))),
            Decision::Claim,
        ),
        (
            "other, no duration",
            Some(lease(Some(LeaseSpec {
                lease_duration_seconds: None,
                ..held("b", 0, 15)
            }))),
            Decision::Claim,
        ),
    ];
    for (name, lease, expected) in cases {
        assert_eq!(decide(lease.as_ref(), "a", at(0)), expected, "{name}");
    }
}

#[test]
fn expiry_is_renew_time_plus_duration() {
    assert_eq!(expires_at(&held("b", 10, 15)), Some(at(25)));
    assert_eq!(expires_at(&LeaseSpec::default()), None);
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
        decide(Some(&lease(Some(spec))), "b", at(1)),
        Decision::Claim
    );
}

#[test]
fn the_holder_gives_up_before_a_standby_may_take_over() {
    assert!(RENEW_INTERVAL + RETRY_INTERVAL < RENEW_DEADLINE);
    assert!(RENEW_DEADLINE < LEASE_DURATION);
    assert!(RETRY_INTERVAL < RENEW_INTERVAL);
}
