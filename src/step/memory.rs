//! What the operator remembers between reconciles of one credential, and the rule for tokens
//! whose Secret write failed. Pure.

use std::time::Duration;

use crate::{managed_secret::StoredTokens, reason::Reason};

/// The first wait after a failed write of new tokens; it doubles up to [`MAX_WRITE_RETRY`].
pub const FIRST_WRITE_RETRY: Duration = Duration::from_millis(200);
pub const MAX_WRITE_RETRY: Duration = Duration::from_secs(5);

/// What the operator remembers between reconciles of one credential. Lost on restart, which
/// is safe: see each field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// Tokens WeTix issued whose Secret write failed: written before any new request, since
    /// the refresh token they replace may already be spent. (Lost on restart: the old refresh
    /// token is then tried, and if rejected a fresh pair is obtained.)
    pub pending: Option<Box<Pending>>,
    /// `Retry-After` and the credentials of the last failure. (Lost on restart: the backoff
    /// then follows status alone.)
    pub retry_after: Option<Duration>,
    pub failed_issued_for: Option<String>,
    /// The resourceVersion our last status write replaced. The cache can still hand that old
    /// version to a reconcile after the write; acting on its stale status would undo the write.
    pub superseded_version: Option<String>,
}

/// Tokens obtained but not yet written, with the reason their Event and status will carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub tokens: StoredTokens,
    pub reason: Reason,
    /// Failed writes so far: the wait before the next one doubles with each.
    pub failed_writes: u32,
}

impl Memory {
    /// After our status write moved the credential from `before` to `after`.
    pub fn status_written(&mut self, before: Option<String>, after: Option<String>) {
        if after != before {
            self.superseded_version = before;
        }
    }
}

/// After a failed write of new tokens: what to remember, and how soon to try again. The
/// tokens are kept for the next reconcile, which writes them before anything else.
pub fn write_failed(pending: Pending, memory: Memory) -> (Memory, Duration) {
    let failed_writes = pending.failed_writes.saturating_add(1);
    let doublings = failed_writes.saturating_sub(1).min(16);
    let wait = FIRST_WRITE_RETRY
        .saturating_mul(1 << doublings)
        .min(MAX_WRITE_RETRY);
    let mut memory = memory;
    memory.pending = Some(Box::new(Pending {
        failed_writes,
        ..pending
    }));
    (memory, wait)
}
