//! Leader election: with `--leader-elect`, only the replica holding the coordination.k8s.io/v1
//! Lease (`wetix-operator`, or the `--lease-name` of a shard) runs the controller; the others
//! wait as healthy standbys.
//!
//! The rules are here, as pure functions of the Lease and the time: what a replica has [`Seen`]
//! of the Lease and since when, [`decide`] what a round does, and the spec it writes
//! ([`claimed`], [`released`]). The loops that carry them out are in `elector` ([`Elector`]),
//! and its reads and writes go through `lease_api` ([`LeaseApi`]), so that tests run the loops
//! on an in-memory Lease under a paused clock.
//!
//! Each round reads the Lease, decides from its spec and the current time, and writes the
//! claim or renewal with the resourceVersion it read: of two replicas writing at once, one gets
//! 409 Conflict and stays standby. The API server never expires a Lease; each reader judges
//! expiry by its own monotonic clock, as client-go does: a holder has expired once
//! `leaseDurationSeconds` have passed since this reader first saw the Lease as it is (holder
//! and `renewTime`). The holder's `renewTime` is only compared with the last one seen, never
//! with the reader's clock, so skewed clocks between nodes neither cost nor give a Lease early;
//! a replica that has just started waits a whole lease duration before it takes a Lease over,
//! however old its `renewTime`.
//!
//! The Lease's fields are written as client-go's leader election writes them, so `kubectl`
//! and tools that read them understand it, but the loop differs from client-go's:
//! - client-go's holder renews every retry period (2 s) and updates without reading first
//!   while its lease is valid; here it reads and renews every [`RENEW_INTERVAL`] and retries
//!   every [`RETRY_INTERVAL`] after a failure.
//! - client-go's standby retries at a jittered period; here every [`RETRY_INTERVAL`] exactly.
//! - client-go counts any change of the Lease's record as a sign of life; here a change of the
//!   holder or of its `renewTime` (what a renewal writes), so an edit of another field does
//!   not keep a dead holder's Lease alive.
//! - client-go releases by writing an empty holder with a 1 s duration; here the holder and
//!   its times are cleared and the duration kept. Either way the next reader claims it.
//!
//! Why not kube-lease-manager (which targets kube 5): its standby sleeps until the expiry it
//! last read without reading again, so a released Lease is taken over only when the old lease
//! duration has passed; and its holder keeps reporting leadership while renewals fail. Here a
//! holder stopped by SIGTERM must hand over at once, and a holder that cannot renew must stop
//! before a standby may take over.
//!
//! Writes use get, create and update on the Lease only (the verbs of the leader-election Role).

mod elector;
#[cfg(test)]
mod fake;
mod lease_api;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use tokio::time::Instant;

pub use self::{
    elector::{Clock, Elector, LeaderError, LeadershipLost},
    lease_api::{KubeLeaseApi, LeaseApi},
};

/// The Lease the replicas compete for unless `--lease-name` names another (docs/reference.md,
/// section 5).
pub const LEASE_NAME: &str = "wetix-operator";

/// How long a Lease stays valid after its last renewal. A standby takes over at most this long
/// (plus one [`RETRY_INTERVAL`]) after the holder died without releasing: long enough to ride
/// out a few failed renewals, short enough that tokens near expiry are still renewed in time.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);

/// How often the holder renews. A third of [`LEASE_DURATION`]: a failed renewal is retried
/// every [`RETRY_INTERVAL`] until [`RENEW_DEADLINE`], so a brief API server outage or a slow
/// request does not cost the leadership.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(5);

/// A holder that has not renewed for this long stops leading (and the process exits). It is
/// 5 s shorter than [`LEASE_DURATION`], so the old holder has stopped before any standby may
/// take over: a standby times the Lease from when it read the last renewal, which is after the
/// renewal reached the API server; the margin covers the time from there until the holder
/// heard back, and the time to stop. Stopping means starting no more reconciles: the ones
/// already running may finish their writes after it (`run::LOST_LEADERSHIP_GRACE`), each
/// conditional on the version of the Secret it read.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// How often a standby reads the Lease, and how soon a failed renewal is tried again. Bounds
/// the takeover after a release, and adds at most this much to a takeover after a crash.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// What one round does, from the Lease as read and the current time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is no Lease yet: create it, held by this replica.
    Create,
    /// Nobody holds the Lease, or its holder let it expire: claim it.
    Claim,
    /// This replica holds the Lease: renew it.
    Renew,
    /// Another replica holds the Lease and it is still valid.
    Wait { holder: String },
}

/// What a replica has seen of the Lease: its holder and `renewTime`, and when by the
/// replica's own monotonic clock it first read them as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    /// When this replica first read the Lease with this holder and `renewTime`.
    pub since: Instant,
}

impl Seen {
    /// What is seen after reading `lease` at `now`: the `previous` sighting while the holder
    /// and its `renewTime` are unchanged (the holder has not renewed since), else a new one
    /// starting `now`.
    pub fn after(previous: Option<Seen>, lease: Option<&Lease>, now: Instant) -> Seen {
        let spec = lease.and_then(|l| l.spec.as_ref());
        let holder = spec.and_then(|s| s.holder_identity.clone());
        let renew_time = spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0);
        match previous {
            Some(seen) if seen.holder == holder && seen.renew_time == renew_time => seen,
            _ => Seen {
                holder,
                renew_time,
                since: now,
            },
        }
    }
}

/// Decides one round, `now` by this replica's monotonic clock, `changed_at` being when it
/// first saw the Lease as it is ([`Seen::since`]). A holder whose renewal time or duration is
/// missing cannot be judged and counts as expired; an empty holder identity counts as nobody.
pub fn decide(
    lease: Option<&Lease>,
    identity: &str,
    changed_at: Instant,
    now: Instant,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let Some(spec) = lease.spec.as_ref() else {
        return Decision::Claim;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Claim,
        Some(holder) if holder == identity => Decision::Renew,
        Some(holder) => match expires_at(spec, changed_at) {
            Some(expiry) if expiry > now => Decision::Wait {
                holder: holder.to_owned(),
            },
            _ => Decision::Claim,
        },
    }
}

/// When the current holder's claim runs out for a reader that saw it renewed at `changed_at`
/// (by the reader's clock): `changed_at + leaseDurationSeconds`. `None` when the Lease has no
/// `renewTime` or no duration (or a negative one).
pub fn expires_at(spec: &LeaseSpec, changed_at: Instant) -> Option<Instant> {
    spec.renew_time.as_ref()?;
    let seconds = u64::try_from(spec.lease_duration_seconds?).ok()?;
    changed_at.checked_add(Duration::from_secs(seconds))
}

/// The spec that makes `identity` the holder as of `now`: a renewal keeps the acquire time and
/// the transition count; taking over from anyone else (or nobody) counts one transition.
/// Fields this replica does not manage (`strategy`, `preferredHolder`) are kept.
pub fn claimed(previous: &LeaseSpec, identity: &str, now: Timestamp) -> LeaseSpec {
    let renewal = previous.holder_identity.as_deref() == Some(identity);
    let (acquire_time, transitions) = if renewal {
        (
            previous.acquire_time.clone().or(Some(MicroTime(now))),
            previous.lease_transitions.unwrap_or(0),
        )
    } else {
        (
            Some(MicroTime(now)),
            previous
                .lease_transitions
                .map_or(0, |n| n.saturating_add(1)),
        )
    };
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
        acquire_time,
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..previous.clone()
    }
}

/// The spec after the holder gives the Lease up: no holder, so the next reader claims it.
/// The duration and transition count stay for the record.
pub fn released(previous: &LeaseSpec) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        acquire_time: None,
        renew_time: None,
        ..previous.clone()
    }
}

#[cfg(test)]
mod tests;
