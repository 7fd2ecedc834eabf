//! Leader election: with `--leader-elect`, only the replica holding the coordination.k8s.io/v1
//! Lease `wetix-operator` runs the controller; the others wait as healthy standbys.
//!
//! The protocol is client-go's, on plain reads and optimistic writes. Each round reads the
//! Lease, [`decide`]s from its spec and the current time, and writes the claim or renewal with
//! the resourceVersion it read: of two replicas writing at once, one gets 409 Conflict and stays
//! standby. The API server never expires a Lease; expiry is `renewTime + leaseDurationSeconds`,
//! judged by each reader.
//!
//! Why not kube-lease-manager (which targets kube 5): its standby sleeps until the expiry it
//! last read without reading again, so a released Lease is taken over only when the old lease
//! duration has passed; and its holder keeps reporting leadership while renewals fail. Here a
//! holder stopped by SIGTERM must hand over at once, and a holder that cannot renew must stop
//! before a standby may take over.
//!
//! Writes use get, create and update on the Lease only (the verbs of the leader-election Role).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use tracing::{info, warn};

use crate::reconcile::error_chain;

/// The Lease the replicas compete for (docs/reference.md, section 5).
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
/// take over: the margin covers clock skew between nodes and the time to stop.
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

/// Decides one round. A holder whose renewal time or duration is missing cannot be judged and
/// counts as expired; an empty holder identity counts as nobody.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let Some(spec) = lease.spec.as_ref() else {
        return Decision::Claim;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Claim,
        Some(holder) if holder == identity => Decision::Renew,
        Some(holder) => match expires_at(spec) {
            Some(expiry) if expiry > now => Decision::Wait {
                holder: holder.to_owned(),
            },
            _ => Decision::Claim,
        },
    }
}

/// When the current holder's claim runs out: `renewTime + leaseDurationSeconds`.
pub fn expires_at(spec: &LeaseSpec) -> Option<Timestamp> {
    let renewed = spec.renew_time.as_ref()?.0;
    let seconds = spec.lease_duration_seconds?;
    renewed
        .checked_add(jiff::SignedDuration::from_secs(i64::from(seconds)))
        .ok()
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

/// A failed call on the Lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("reading the Lease {namespace}/{LEASE_NAME}")]
    Read {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the Lease {namespace}/{LEASE_NAME}")]
    Write {
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

/// Why a holder stopped leading.
#[derive(Debug, thiserror::Error)]
pub enum LeadershipLost {
    #[error("the Lease {namespace}/{LEASE_NAME} is held by {holder} now")]
    TakenOver { namespace: String, holder: String },
    #[error("the Lease {namespace}/{LEASE_NAME} was not renewed within {RENEW_DEADLINE:?}")]
    NotRenewed {
        namespace: String,
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
pub struct Elector {
    api: Api<Lease>,
    namespace: String,
    identity: String,
}

impl Elector {
    pub fn new(client: kube::Client, namespace: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Waits until this replica holds the Lease, reading it every [`RETRY_INTERVAL`].
    pub async fn acquire(&self) {
        let mut seen_holder: Option<String> = None;
        loop {
            match self.round().await {
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
        loop {
            tokio::time::sleep(wait).await;
            let left = RENEW_DEADLINE.saturating_sub(last_renewed.elapsed());
            let round = tokio::time::timeout(left, self.round()).await;
            match round {
                Ok(Ok(Round::Leading)) => {
                    last_renewed = tokio::time::Instant::now();
                    last_error = None;
                    wait = RENEW_INTERVAL;
                    continue;
                }
                Ok(Ok(Round::Standby { holder })) => {
                    let lost = LeadershipLost::TakenOver {
                        namespace: self.namespace.clone(),
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
                    namespace: self.namespace.clone(),
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
        let Some(mut lease) =
            self.api
                .get_opt(LEASE_NAME)
                .await
                .map_err(|source| LeaderError::Read {
                    namespace: self.namespace.clone(),
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
            .replace(LEASE_NAME, &self.post_params(), &lease)
            .await
            .map_err(|source| LeaderError::Write {
                namespace: self.namespace.clone(),
                source,
            })?;
        info!(identity = %self.identity, lease = %self.lease(), "released leadership");
        Ok(())
    }

    /// Reads the Lease and claims, renews or waits, as [`decide`] says for the current time.
    async fn round(&self) -> Result<Round, LeaderError> {
        let current = self
            .api
            .get_opt(LEASE_NAME)
            .await
            .map_err(|source| LeaderError::Read {
                namespace: self.namespace.clone(),
                source,
            })?;
        let now = Timestamp::now();
        let written = match decide(current.as_ref(), &self.identity, now) {
            Decision::Wait { holder } => return Ok(Round::Standby { holder }),
            Decision::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(LEASE_NAME.to_owned()),
                        namespace: Some(self.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(claimed(&LeaseSpec::default(), &self.identity, now)),
                };
                self.api.create(&self.post_params(), &lease).await
            }
            Decision::Claim | Decision::Renew => {
                let mut lease = current.expect("decide returns Create when there is no Lease");
                let previous = lease.spec.take().unwrap_or_default();
                lease.spec = Some(claimed(&previous, &self.identity, now));
                lease.metadata.managed_fields = None;
                // The resourceVersion read above makes this write conditional.
                self.api
                    .replace(LEASE_NAME, &self.post_params(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => Ok(Round::Leading),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Round::Conflict),
            Err(source) => Err(LeaderError::Write {
                namespace: self.namespace.clone(),
                source,
            }),
        }
    }

    /// One field manager per identity, so the Lease's managed fields show who wrote last.
    fn post_params(&self) -> PostParams {
        PostParams {
            field_manager: Some(format!("wetix-operator-leader-{}", self.identity)),
            ..PostParams::default()
        }
    }

    fn lease(&self) -> String {
        format!("{}/{LEASE_NAME}", self.namespace)
    }
}

#[cfg(test)]
mod tests;
