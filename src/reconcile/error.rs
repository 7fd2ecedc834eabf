//! What can fail on the Kubernetes side of a reconcile.

use std::time::Duration;

use crate::reason::Reason;

/// A step that failed on the Kubernetes side. Token failures are not errors here: they are
/// outcomes, reported in status and retried on schedule.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the WetixCredential has no namespace or uid")]
    MissingMetadata,
    #[error("reading Secret {name:?}")]
    ReadSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the managed Secret {name:?}")]
    WriteSecret {
        name: String,
        /// How soon the tokens in hand are written again.
        retry_in: Option<Duration>,
        #[source]
        source: kube::Error,
    },
    #[error("the managed Secret {name:?} vanished each time it was claimed")]
    ClaimSecret { name: String },
    #[error("writing the status")]
    WriteStatus(#[source] kube::Error),
}

impl Error {
    /// Short, bounded reason for logs and metrics.
    pub fn reason(&self) -> Reason {
        match self {
            Self::MissingMetadata => Reason::InvalidSpec,
            Self::ReadSecret { .. }
            | Self::WriteSecret { .. }
            | Self::ClaimSecret { .. }
            | Self::WriteStatus(_) => Reason::KubernetesApiError,
        }
    }

    /// How soon to try again, when the step decided it.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            Self::WriteSecret { retry_in, .. } => *retry_in,
            _ => None,
        }
    }
}
