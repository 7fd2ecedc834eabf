//! The elector's loops on an in-memory Lease under a paused tokio clock: every interval and
//! deadline is virtual, so each test shows the exact times a replica reads, writes, takes over
//! and gives up, and runs in milliseconds.

use std::{future::Future, time::Duration};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::{api::coordination::v1::LeaseSpec, apimachinery::pkg::apis::meta::v1::MicroTime};

use super::*;
use crate::leader::{
    LEASE_DURATION, LEASE_NAME,
    fake::{EPOCH, FakeCluster, FakeLeaseApi, Fault},
};

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// How long a loop may run in virtual time before a test counts it as never finishing. Far
/// longer than any takeover or deadline; under the paused clock it passes in milliseconds.
const FOREVER: Duration = Duration::from_secs(600);

/// Awaits `future`, failing the test if it has not completed after [`FOREVER`].
async fn finishes<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(FOREVER, future)
        .await
        .unwrap_or_else(|_| panic!("still running after {FOREVER:?}"))
}

/// A replica of the cluster, and its connection (to switch faults on).
fn replica(cluster: &FakeCluster, identity: &str) -> (Elector<FakeLeaseApi>, FakeLeaseApi) {
    replica_skewed(cluster, identity, SignedDuration::ZERO)
}

/// A replica whose node's wall clock is `skew` ahead of the cluster's (behind if negative).
fn replica_skewed(
    cluster: &FakeCluster,
    identity: &str,
    skew: SignedDuration,
) -> (Elector<FakeLeaseApi>, FakeLeaseApi) {
    let api = cluster.api();
    let cluster_clock = cluster.clock();
    let clock: Clock = Arc::new(move || cluster_clock() + skew);
    let elector = Elector::with_api(api.clone(), clock, "wetix-operator", LEASE_NAME, identity);
    (elector, api)
}

const AN_HOUR: SignedDuration = SignedDuration::from_hours(1);

/// The Lease as a holder left it that renewed at `renewed` and then stopped.
fn held_by(holder: &str, renewed: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.into()),
        acquire_time: Some(MicroTime(renewed)),
        renew_time: Some(MicroTime(renewed)),
        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
        lease_transitions: Some(0),
        ..LeaseSpec::default()
    }
}

fn holder(cluster: &FakeCluster) -> Option<String> {
    cluster.spec().and_then(|s| s.holder_identity)
}

/// The virtual times of the writes so far.
fn write_times(cluster: &FakeCluster) -> Vec<Duration> {
    cluster.writes().iter().map(|w| w.at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_free_lease_is_acquired_at_once() {
    let cases = [
        ("no Lease yet", None),
        ("released", Some(released(&held_by("b", EPOCH)))),
    ];
    for (name, lease) in cases {
        let cluster = FakeCluster::new();
        if let Some(spec) = lease {
            cluster.put(spec);
        }
        let (a, _) = replica(&cluster, "a");
        finishes(a.acquire()).await;
        assert_eq!(cluster.elapsed(), Duration::ZERO, "{name}");
        let spec = cluster.spec().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("a"), "{name}");
        assert_eq!(spec.renew_time, Some(MicroTime(EPOCH)), "{name}");
        assert_eq!(spec.acquire_time, Some(MicroTime(EPOCH)), "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_held_lease_is_taken_over_only_once_it_has_expired() {
    let cluster = FakeCluster::new();
    cluster.put(held_by("b", EPOCH));
    let (a, _) = replica(&cluster, "a");
    finishes(a.acquire()).await;
    // The Lease expires at 15 s; the standby reads every 2 s, so the first read that finds
    // it expired is at 16 s. The reads before wrote nothing.
    let taken_at = cluster.elapsed();
    assert_eq!(taken_at, secs(16));
    assert!(taken_at >= LEASE_DURATION && taken_at < LEASE_DURATION + RETRY_INTERVAL);
    assert_eq!(write_times(&cluster), [secs(16)]);
    let spec = cluster.spec().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.acquire_time, Some(MicroTime(cluster.time(secs(16)))));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test(start_paused = true)]
async fn the_holder_renews_every_renew_interval_and_a_standby_stays_out() {
    let cluster = FakeCluster::new();
    let (a, _) = replica(&cluster, "a");
    let (b, _) = replica(&cluster, "b");
    finishes(a.acquire()).await;
    let outcome = tokio::time::timeout(secs(62), async {
        tokio::select! {
            lost = a.hold() => format!("a lost the Lease: {lost}"),
            () = b.acquire() => "b took the Lease over".to_owned(),
        }
    })
    .await;
    assert!(outcome.is_err(), "{outcome:?}");
    let expected: Vec<Duration> = (0..=12).map(|n| RENEW_INTERVAL * n).collect();
    assert_eq!(write_times(&cluster), expected);
    for write in cluster.writes() {
        assert_eq!(write.spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(
            write.spec.renew_time,
            Some(MicroTime(cluster.time(write.at)))
        );
        assert_eq!(write.spec.acquire_time, Some(MicroTime(EPOCH)));
        assert_eq!(write.spec.lease_transitions, Some(0));
    }
}

#[tokio::test(start_paused = true)]
async fn a_holder_that_cannot_renew_stops_before_a_standby_may_take_over() {
    for fault in [Fault::Unavailable, Fault::Conflicting, Fault::Unanswered] {
        let cluster = FakeCluster::new();
        let (a, a_api) = replica(&cluster, "a");
        let (b, _) = replica(&cluster, "b");
        finishes(a.acquire()).await;
        let ((lost, lost_at), (), taken_at) = finishes(async {
            tokio::join!(
                async { (a.hold().await, cluster.elapsed()) },
                async {
                    tokio::time::sleep(secs(12)).await;
                    a_api.set_fault(Some(fault));
                },
                async {
                    finishes(b.acquire()).await;
                    cluster.elapsed()
                },
            )
        })
        .await;
        let renewed_at = secs(10);
        assert_eq!(
            write_times(&cluster)[..3],
            [secs(0), secs(5), renewed_at],
            "{fault:?}"
        );
        let LeadershipLost::NotRenewed { last_error, .. } = lost else {
            panic!("{fault:?}: {lost}");
        };
        assert_eq!(
            matches!(last_error, Some(LeaderError::Read { .. })),
            fault == Fault::Unavailable,
            "{fault:?}: {last_error:?}"
        );
        assert!(
            lost_at <= renewed_at + RENEW_DEADLINE,
            "{fault:?}: {lost_at:?}"
        );
        assert!(
            taken_at >= renewed_at + LEASE_DURATION,
            "{fault:?}: {taken_at:?}"
        );
        assert!(lost_at < taken_at, "{fault:?}");
        assert_eq!(holder(&cluster).as_deref(), Some("b"), "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_fails_briefly_is_retried_and_keeps_the_lease() {
    let cluster = FakeCluster::new();
    let (a, a_api) = replica(&cluster, "a");
    finishes(a.acquire()).await;
    let (held, ()) = finishes(async {
        tokio::join!(tokio::time::timeout(secs(40), a.hold()), async {
            tokio::time::sleep(secs(12)).await;
            a_api.set_fault(Some(Fault::Unavailable));
            tokio::time::sleep(secs(4)).await;
            a_api.set_fault(None);
        })
    })
    .await;
    assert!(held.is_err(), "{held:?}");
    // The renewal due at 15 s fails; the retry 2 s later succeeds, and the interval starts
    // again from there.
    let expected = [0, 5, 10, 17, 22, 27, 32, 37].map(secs);
    assert_eq!(write_times(&cluster), expected);
}

#[tokio::test(start_paused = true)]
async fn a_holder_whose_lease_another_replica_holds_stops_at_its_next_renewal() {
    let cluster = FakeCluster::new();
    let (a, _) = replica(&cluster, "a");
    finishes(a.acquire()).await;
    let (lost, ()) = finishes(async {
        tokio::join!(a.hold(), async {
            tokio::time::sleep(secs(7)).await;
            cluster.put(held_by("b", cluster.time(secs(7))));
        })
    })
    .await;
    assert_eq!(cluster.elapsed(), RENEW_INTERVAL * 2);
    assert!(
        matches!(&lost, LeadershipLost::TakenOver { holder, .. } if holder == "b"),
        "{lost}"
    );
    assert_eq!(holder(&cluster).as_deref(), Some("b"));
}

#[tokio::test(start_paused = true)]
async fn release_lets_the_next_reader_claim_at_once() {
    let cluster = FakeCluster::new();
    let (a, _) = replica(&cluster, "a");
    let (c, _) = replica(&cluster, "c");
    finishes(a.acquire()).await;
    tokio::time::sleep(secs(3)).await;
    a.release().await.unwrap();
    assert_eq!(holder(&cluster), None);
    let released_at = cluster.elapsed();
    finishes(c.acquire()).await;
    assert_eq!(cluster.elapsed(), released_at);
    let spec = cluster.spec().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("c"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test(start_paused = true)]
async fn a_standby_takes_over_at_its_first_read_after_a_release() {
    let cluster = FakeCluster::new();
    let (a, _) = replica(&cluster, "a");
    let (b, _) = replica(&cluster, "b");
    finishes(a.acquire()).await;
    let (released_at, taken_at) = finishes(async {
        tokio::join!(
            async {
                // Stopped by SIGTERM at 7 s, after one renewal.
                let _ = tokio::time::timeout(secs(7), a.hold()).await;
                a.release().await.unwrap();
                cluster.elapsed()
            },
            async {
                finishes(b.acquire()).await;
                cluster.elapsed()
            },
        )
    })
    .await;
    assert_eq!(released_at, secs(7));
    // b reads at 0, 2, 4, 6 s and finds a holding; at 8 s the Lease is free. Without the
    // release it would have waited for the expiry at 5 + 15 s.
    assert_eq!(taken_at, secs(8));
    assert!(taken_at - released_at <= RETRY_INTERVAL);
    assert_eq!(holder(&cluster).as_deref(), Some("b"));
}

#[tokio::test(start_paused = true)]
async fn release_leaves_another_replicas_lease_alone() {
    let cluster = FakeCluster::new();
    cluster.put(held_by("b", EPOCH));
    let (a, _) = replica(&cluster, "a");
    a.release().await.unwrap();
    assert_eq!(cluster.spec(), Some(held_by("b", EPOCH)));
    assert!(cluster.writes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn of_two_replicas_claiming_at_once_one_leads_and_the_other_is_refused() {
    let cases = [
        ("no Lease yet: both create", None),
        (
            "released: both replace",
            Some(released(&held_by("x", EPOCH))),
        ),
    ];
    for (name, lease) in cases {
        let cluster = FakeCluster::new();
        if let Some(spec) = lease {
            cluster.put(spec);
        }
        let (a, _) = replica(&cluster, "a");
        let (b, _) = replica(&cluster, "b");
        // Both read the free Lease before either writes; b's write is refused, and b reads
        // again only after RETRY_INTERVAL, after the timeout.
        let ((), b_outcome) = finishes(async {
            tokio::join!(a.acquire(), tokio::time::timeout(secs(1), b.acquire()))
        })
        .await;
        assert!(b_outcome.is_err(), "{name}");
        assert_eq!(cluster.refused(), 1, "{name}");
        assert_eq!(write_times(&cluster), [Duration::ZERO], "{name}");
        assert_eq!(holder(&cluster).as_deref(), Some("a"), "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lease_renewed_long_ago_by_the_holders_clock_is_taken_over_only_a_lease_duration_after_it_was_first_seen()
 {
    for renewed in [
        EPOCH - AN_HOUR,
        EPOCH - SignedDuration::from_secs(60),
        EPOCH + AN_HOUR,
    ] {
        let cluster = FakeCluster::new();
        cluster.put(held_by("b", renewed));
        let (a, _) = replica(&cluster, "a");
        finishes(a.acquire()).await;
        // Whatever b's renewTime says, a has seen the Lease unchanged since its first read at
        // 0 s; it reads every 2 s, and the first read 15 s or more after that is at 16 s.
        assert_eq!(cluster.elapsed(), secs(16), "{renewed}");
        assert_eq!(write_times(&cluster), [secs(16)], "{renewed}");
        assert_eq!(holder(&cluster).as_deref(), Some("a"), "{renewed}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_holder_whose_clock_is_an_hour_off_keeps_the_lease_while_it_renews() {
    for skew in [-AN_HOUR, AN_HOUR] {
        let cluster = FakeCluster::new();
        let (a, _) = replica_skewed(&cluster, "a", skew);
        let (b, _) = replica(&cluster, "b");
        finishes(a.acquire()).await;
        let outcome = tokio::time::timeout(secs(62), async {
            tokio::select! {
                lost = a.hold() => format!("a lost the Lease: {lost}"),
                () = b.acquire() => "b took the Lease over".to_owned(),
            }
        })
        .await;
        assert!(outcome.is_err(), "{skew}: {outcome:?}");
        let expected: Vec<Duration> = (0..=12).map(|n| RENEW_INTERVAL * n).collect();
        assert_eq!(write_times(&cluster), expected, "{skew}");
        for write in cluster.writes() {
            assert_eq!(write.spec.holder_identity.as_deref(), Some("a"), "{skew}");
            // What a writes is its own clock's time, an hour off b's.
            assert_eq!(
                write.spec.renew_time,
                Some(MicroTime(cluster.time(write.at) + skew)),
                "{skew}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_standby_takes_over_a_lease_duration_after_it_last_saw_the_lease_change() {
    for skew in [-AN_HOUR, SignedDuration::ZERO, AN_HOUR] {
        let cluster = FakeCluster::new();
        let (a, _) = replica_skewed(&cluster, "a", skew);
        let (b, _) = replica(&cluster, "b");
        finishes(a.acquire()).await;
        let ((), taken_at) = finishes(async {
            tokio::join!(
                async {
                    // a renews at 5 and 10 s, then dies without releasing.
                    let _ = tokio::time::timeout(secs(12), a.hold()).await;
                },
                async {
                    // b reads at 0.5 s and every 2 s after: it sees the renewal of 10 s at
                    // 10.5 s.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    finishes(b.acquire()).await;
                    cluster.elapsed()
                },
            )
        })
        .await;
        assert_eq!(write_times(&cluster)[..3], [0, 5, 10].map(secs), "{skew}");
        let last_seen_change = Duration::from_millis(10_500);
        assert!(
            taken_at >= last_seen_change + LEASE_DURATION
                && taken_at < last_seen_change + LEASE_DURATION + RETRY_INTERVAL,
            "{skew}: taken over at {taken_at:?}"
        );
        assert_eq!(holder(&cluster).as_deref(), Some("b"), "{skew}");
    }
}
