//! An in-memory [`LeaseApi`] for the elector's tests: one Lease shared by every replica's
//! handle, kept with the API server's rules (resourceVersion preconditions, 409 on a stale
//! replace or a second create), a record of every write with the virtual time it happened,
//! and faults a test switches on for one replica's handle.
//!
//! Time is tokio's: under a paused runtime [`FakeCluster::clock`] is a wall clock that starts
//! at [`EPOCH`] and moves with `tokio::time`, so the times the elector writes into the Lease
//! and the intervals it sleeps agree.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::{api::ObjectMeta, core::Status};
use tokio::time::Instant;

use super::{Clock, LEASE_NAME, LeaseApi};

/// The wall-clock time at which a [`FakeCluster`] starts.
pub const EPOCH: Timestamp = Timestamp::constant(1_800_000_000, 0);

/// How one replica's requests fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every request fails with 503, as when the API server cannot be reached.
    Unavailable,
    /// Reads work; every write gets 409 Conflict, as when someone else keeps writing.
    Conflicting,
    /// No request is ever answered, as when packets are dropped.
    Unanswered,
}

/// A successful write, as the fake recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Virtual time since the cluster started.
    pub at: Duration,
    pub spec: LeaseSpec,
}

#[derive(Default)]
struct Stored {
    lease: Option<Lease>,
    version: u64,
    writes: Vec<Write>,
    refused: usize,
}

/// The API server with its one Lease.
#[derive(Clone)]
pub struct FakeCluster {
    stored: Arc<Mutex<Stored>>,
    start: Instant,
}

impl FakeCluster {
    /// No Lease yet; time starts now.
    pub fn new() -> Self {
        Self {
            stored: Arc::default(),
            start: Instant::now(),
        }
    }

    /// The wall clock of this cluster's nodes: [`EPOCH`] plus the virtual time elapsed.
    pub fn clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.time(this.elapsed()))
    }

    /// The wall-clock time `at` after the start.
    pub fn time(&self, at: Duration) -> Timestamp {
        EPOCH + SignedDuration::try_from(at).expect("test durations are short")
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A replica's connection, without faults.
    pub fn api(&self) -> FakeLeaseApi {
        FakeLeaseApi {
            cluster: self.clone(),
            fault: Arc::default(),
        }
    }

    /// Writes `spec` as someone outside the test's electors would (a replica that then
    /// died, or `kubectl edit`), creating the Lease if need be. Not recorded as a write.
    pub fn put(&self, spec: LeaseSpec) {
        let mut stored = self.lock();
        stored.version += 1;
        let metadata = ObjectMeta {
            name: Some(LEASE_NAME.into()),
            resource_version: Some(stored.version.to_string()),
            ..ObjectMeta::default()
        };
        stored.lease = Some(Lease {
            metadata,
            spec: Some(spec),
        });
    }

    /// The Lease's spec as stored.
    pub fn spec(&self) -> Option<LeaseSpec> {
        self.lock().lease.as_ref().and_then(|l| l.spec.clone())
    }

    /// Every write made through an [`FakeLeaseApi`], in order.
    pub fn writes(&self) -> Vec<Write> {
        self.lock().writes.clone()
    }

    /// How many creates and replaces were refused because someone else wrote first.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    fn lock(&self) -> MutexGuard<'_, Stored> {
        self.stored
            .lock()
            .expect("no test panics while holding the lock")
    }

    fn store(&self, stored: &mut Stored, lease: &Lease) {
        stored.version += 1;
        let mut lease = lease.clone();
        lease.metadata.resource_version = Some(stored.version.to_string());
        stored.writes.push(Write {
            at: self.elapsed(),
            spec: lease.spec.clone().unwrap_or_default(),
        });
        stored.lease = Some(lease);
    }
}

/// One replica's connection to a [`FakeCluster`].
#[derive(Clone)]
pub struct FakeLeaseApi {
    cluster: FakeCluster,
    fault: Arc<Mutex<Option<Fault>>>,
}

impl FakeLeaseApi {
    /// From now on this replica's requests fail as `fault` says (or not, for `None`).
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.fault.lock().expect("not poisoned") = fault;
    }

    /// Waits forever for [`Fault::Unanswered`]; fails for [`Fault::Unavailable`]. Yields
    /// first, as a request on the network would, so that replicas run concurrently interleave
    /// their reads and writes.
    async fn answer(&self) -> Result<Option<Fault>, kube::Error> {
        tokio::task::yield_now().await;
        let fault = *self.fault.lock().expect("not poisoned");
        match fault {
            Some(Fault::Unanswered) => std::future::pending().await,
            Some(Fault::Unavailable) => Err(api_error(503, "ServiceUnavailable")),
            other => Ok(other),
        }
    }
}

fn api_error(code: u16, reason: &str) -> kube::Error {
    kube::Error::Api(Status::failure(reason, reason).with_code(code).boxed())
}

impl LeaseApi for FakeLeaseApi {
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        self.answer().await?;
        Ok(self.cluster.lock().lease.clone())
    }

    async fn create(&self, lease: &Lease) -> Result<(), kube::Error> {
        if self.answer().await? == Some(Fault::Conflicting) {
            return Err(api_error(409, "AlreadyExists"));
        }
        let mut stored = self.cluster.lock();
        if stored.lease.is_some() {
            stored.refused += 1;
            return Err(api_error(409, "AlreadyExists"));
        }
        self.cluster.store(&mut stored, lease);
        Ok(())
    }

    async fn replace(&self, lease: &Lease) -> Result<(), kube::Error> {
        if self.answer().await? == Some(Fault::Conflicting) {
            return Err(api_error(409, "Conflict"));
        }
        let mut stored = self.cluster.lock();
        let Some(current) = stored.lease.as_ref() else {
            return Err(api_error(404, "NotFound"));
        };
        // Like the API server for Leases: no resourceVersion means unconditional.
        let expected = lease.metadata.resource_version.as_ref();
        if expected.is_some_and(|v| Some(v) != current.metadata.resource_version.as_ref()) {
            stored.refused += 1;
            return Err(api_error(409, "Conflict"));
        }
        self.cluster.store(&mut stored, lease);
        Ok(())
    }
}
