//! The loops that carry out the election: [`Elector::acquire`] until this replica holds the
//! Lease, [`Elector::hold`] while it does, [`Elector::release`] on the way out. Each round
//! reads the Lease, updates what the loop has [`Seen`](super::Seen) of it, asks
//! [`decide`](super::decide), and writes what it says through a [`LeaseApi`].
//!
//! Intervals, deadlines and expiry are judged with `tokio::time`'s monotonic clock; only the
//! times written into the Lease come from the [`Clock`]. With a paused tokio clock, tests run
//! the loops in virtual time, and give each replica a wall clock of its own.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::ObjectMeta;
use tracing::{info, warn};

use super::{
    Decision, KubeLeaseApi, LeaseApi, RENEW_DEADLINE, RENEW_INTERVAL, RETRY_INTERVAL, Seen,
    claimed, decide, released,
};
use crate::error_chain::error_chain;

/// The wall-clock time written into the Lease (`acquireTime`, `renewTime`); never compared
/// with another replica's.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A failed call on the Lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("reading the Lease {lease}")]
    Read {
        /// `namespace/name`.
        lease: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the Lease {lease}")]
    Write {
        /// `namespace/name`.
        lease: String,
        #[source]
        source: kube::Error,
    },
}

/// Why a holder stopped leading.
#[derive(Debug, thiserror::Error)]
pub enum LeadershipLost {
    #[error("the Lease {lease} is held by {holder} now")]
    TakenOver { lease: String, holder: String },
    #[error("the Lease {lease} was not renewed within {RENEW_DEADLINE:?}")]
    NotRenewed {
        lease: String,
        #[source]
        last_error: Option<LeaderError>,
    },
}

/// The outcome of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Round {
    /// This replica holds the Lease, freshly written.
    Leading,
    /// Another replica holds a valid Lease.
    Standby { holder: String },
    /// Someone else wrote the Lease between our read and write; read again.
    Conflict,
}

/// Competes for the Lease as one identity.
#[derive(Clone)]
pub struct Elector<A = KubeLeaseApi> {
    api: A,
    clock: Clock,
    namespace: String,
    name: String,
    identity: String,
}

impl Elector {
    /// Competes for the Lease `namespace/name` on the Kubernetes API, with the system clock.
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self::with_api(
            KubeLeaseApi::new(client, namespace, name, identity),
            Arc::new(Timestamp::now),
            namespace,
            name,
            identity,
        )
    }
}

impl<A: LeaseApi> Elector<A> {
    /// Competes through `api`, for the Lease `namespace/name`, with the time from `clock`.
    pub fn with_api(api: A, clock: Clock, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api,
            clock,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Waits until this replica holds the Lease, reading it every [`RETRY_INTERVAL`].
    pub async fn acquire(&self) {
        let mut seen_holder: Option<String> = None;
        let mut seen = None;
        loop {
            match self.round(&mut seen).await {
                Ok(Round::Leading) => {
                    info!(
                        identity = %self.identity,
                        lease = %self.lease(),
                        "acquired leadership"
                    );
                    return;
                }
                Ok(Round::Standby { holder }) => {
                    if seen_holder.as_ref() != Some(&holder) {
                        info!(
                            identity = %self.identity,
                            lease = %self.lease(),
                            %holder,
                            "standing by: another replica leads"
                        );
                        seen_holder = Some(holder);
                    }
                }
                Ok(Round::Conflict) => {}
                Err(error) => warn!(error = %error_chain(&error), "leader election"),
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    /// Renews the Lease every [`RENEW_INTERVAL`] while this replica holds it; completes only
    /// when leadership is lost: another replica holds the Lease, or no renewal succeeded
    /// within [`RENEW_DEADLINE`].
    pub async fn hold(&self) -> LeadershipLost {
        let mut last_renewed = tokio::time::Instant::now();
        let mut last_error = None;
        let mut wait = RENEW_INTERVAL;
        let mut seen = None;
        loop {
            tokio::time::sleep(wait).await;
            let left = RENEW_DEADLINE.saturating_sub(last_renewed.elapsed());
            let round = tokio::time::timeout(left, self.round(&mut seen)).await;
            match round {
                Ok(Ok(Round::Leading)) => {
                    last_renewed = tokio::time::Instant::now();
                    last_error = None;
                    wait = RENEW_INTERVAL;
                    continue;
                }
                Ok(Ok(Round::Standby { holder })) => {
                    let lost = LeadershipLost::TakenOver {
                        lease: self.lease(),
                        holder,
                    };
                    warn!(identity = %self.identity, error = %error_chain(&lost), "lost leadership");
                    return lost;
                }
                Ok(Ok(Round::Conflict)) => {}
                Ok(Err(error)) => {
                    warn!(error = %error_chain(&error), "renewing the leader Lease");
                    last_error = Some(error);
                }
                Err(_elapsed) => {}
            }
            if last_renewed.elapsed() >= RENEW_DEADLINE {
                let lost = LeadershipLost::NotRenewed {
                    lease: self.lease(),
                    last_error,
                };
                warn!(identity = %self.identity, error = %error_chain(&lost), "lost leadership");
                return lost;
            }
            wait = RETRY_INTERVAL.min(RENEW_DEADLINE.saturating_sub(last_renewed.elapsed()));
        }
    }

    /// Gives the Lease up if this replica holds it, so a standby takes over at its next read
    /// instead of after the lease duration. Does nothing when another replica holds it.
    pub async fn release(&self) -> Result<(), LeaderError> {
        let Some(mut lease) = self.api.get().await.map_err(|source| LeaderError::Read {
            lease: self.lease(),
            source,
        })?
        else {
            return Ok(());
        };
        let spec = lease.spec.take().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        lease.spec = Some(released(&spec));
        lease.metadata.managed_fields = None;
        self.api
            .replace(&lease)
            .await
            .map_err(|source| LeaderError::Write {
                lease: self.lease(),
                source,
            })?;
        info!(identity = %self.identity, lease = %self.lease(), "released leadership");
        Ok(())
    }

    /// Reads the Lease, notes what is `seen` of it, and claims, renews or waits, as [`decide`]
    /// says for the current time.
    async fn round(&self, seen: &mut Option<Seen>) -> Result<Round, LeaderError> {
        let current = self.api.get().await.map_err(|source| LeaderError::Read {
            lease: self.lease(),
            source,
        })?;
        let read_at = tokio::time::Instant::now();
        let sighting = Seen::after(seen.take(), current.as_ref(), read_at);
        let changed_at = sighting.since;
        *seen = Some(sighting);
        let now = (self.clock)();
        let written = match decide(current.as_ref(), &self.identity, changed_at, read_at) {
            Decision::Wait { holder } => return Ok(Round::Standby { holder }),
            Decision::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        namespace: Some(self.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(claimed(&LeaseSpec::default(), &self.identity, now)),
                };
                self.api.create(&lease).await
            }
            Decision::Claim | Decision::Renew => {
                let Some(mut lease) = current else {
                    // decide returns Create when there is no Lease: nothing to claim yet.
                    return Ok(Round::Standby {
                        holder: String::new(),
                    });
                };
                let previous = lease.spec.take().unwrap_or_default();
                lease.spec = Some(claimed(&previous, &self.identity, now));
                lease.metadata.managed_fields = None;
                // The resourceVersion read above makes this write conditional.
                self.api.replace(&lease).await
            }
        };
        match written {
            Ok(()) => Ok(Round::Leading),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Round::Conflict),
            Err(source) => Err(LeaderError::Write {
                lease: self.lease(),
                source,
            }),
        }
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests;
