//! What can fail on the Kubernetes side of a reconcile, and how it is told on the credential's
//! status: briefly, with the API server's own words, never a request or response body.

use std::time::Duration;

use crate::{error_chain::error_chain, reason::Reason};

/// The longest message an API failure puts on the status.
const MAX_MESSAGE: usize = 600;

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
        #[source]
        source: kube::Error,
    },
    #[error("the managed Secret {name:?} vanished each time it was claimed")]
    ClaimSecret { name: String },
    #[error("writing the status")]
    WriteStatus(#[source] kube::Error),
    /// Any of the above, with the wait the step decided before the next try.
    #[error("next try in {:.1} s", retry_in.as_secs_f64())]
    BackingOff {
        #[source]
        error: Box<Error>,
        retry_in: Duration,
    },
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
            Self::BackingOff { error, .. } => error.reason(),
        }
    }

    /// How soon to try again, when the step decided it.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            Self::BackingOff { retry_in, .. } => Some(*retry_in),
            _ => None,
        }
    }

    /// What the operator was doing, as the Event says it.
    pub fn action(&self) -> &'static str {
        match self {
            Self::ReadSecret { .. } => "ReadSecret",
            Self::WriteSecret { .. } | Self::ClaimSecret { .. } => "WriteSecret",
            Self::WriteStatus(_) => "WriteStatus",
            Self::MissingMetadata => "ReadInput",
            Self::BackingOff { error, .. } => error.action(),
        }
    }

    /// Whether the status can be written to say so: not when writing it is what failed.
    pub fn status_writable(&self) -> bool {
        match self {
            Self::WriteStatus(_) | Self::MissingMetadata => false,
            Self::BackingOff { error, .. } => error.status_writable(),
            _ => true,
        }
    }

    /// What the status says: the step, then the API server's code, reason and message.
    pub fn message(&self) -> String {
        let source = match self {
            Self::ReadSecret { source, .. } | Self::WriteSecret { source, .. } => Some(source),
            Self::WriteStatus(source) => Some(source),
            Self::BackingOff { error, .. } => return error.message(),
            Self::MissingMetadata | Self::ClaimSecret { .. } => None,
        };
        let text = match source {
            Some(kube::Error::Api(status)) => format!(
                "{self}: the API server answered {} {}: {}",
                status.code, status.reason, status.message
            ),
            Some(other) => format!("{self}: {}", error_chain(other)),
            None => self.to_string(),
        };
        text.chars().take(MAX_MESSAGE).collect()
    }
}
