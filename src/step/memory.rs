//! What the operator remembers between reconciles of one credential, and the rule for tokens
//! whose Secret write failed. Pure.

use std::time::Duration;

use crate::{managed_secret::StoredTokens, reason::Reason};

/// How long after our status write an older revision still counts as its stale echo: the
/// watch shows the write within seconds.
pub const STALE_WINDOW: Duration = Duration::from_secs(120);

/// The first wait after a failed write of new tokens; it doubles up to [`MAX_WRITE_RETRY`].
pub const FIRST_WRITE_RETRY: Duration = Duration::from_millis(200);
/// As long as any retry waits: a write the API server keeps refusing (422, 403) must not be
/// tried every few seconds forever.
pub const MAX_WRITE_RETRY: Duration = Duration::from_secs(5 * 60);

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
    /// The resourceVersion our last status write made, when it is a number (an etcd
    /// revision), and when: for [`STALE_WINDOW`] after it, a version before it is stale too,
    /// such as one another write made between the version read and ours, which the watch has
    /// not yet shown as replaced.
    pub status_revision: Option<(u64, jiff::Timestamp)>,
    /// Reconciles in a row that the Kubernetes API failed: the backoff doubles with each.
    /// (Lost on restart: the backoff starts again from 5 s.)
    pub api_failures: u32,
    /// When this credential last restarted its rollout targets. (Lost on restart: one more
    /// restart may then come sooner than the interval.)
    pub last_restart: Option<jiff::Timestamp>,
    /// The reason of tokens written to the Secret whose status has not been written yet: the
    /// next reconcile reports them as renewed, not merely kept. (Lost on restart: the status
    /// then says the tokens were kept.)
    pub unreported: Option<Reason>,
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
    /// After a reconcile that carried out every effect: the API backoff starts again.
    pub fn reconciled(&mut self) {
        self.api_failures = 0;
        self.unreported = None;
    }

    /// Whether a credential at `version` is older than our last status write: the version
    /// it replaced, or, where versions are etcd revisions, any version before the one it made.
    /// The revision rule holds only for [`STALE_WINDOW`] after the write, so that revisions
    /// that went back (etcd restored from a backup) stall nothing for longer.
    pub fn is_stale(&self, version: Option<&str>, now: jiff::Timestamp) -> bool {
        let Some(version) = version else {
            return false;
        };
        if self.superseded_version.as_deref() == Some(version) {
            return true;
        }
        match (revision(version), self.status_revision) {
            (Some(seen), Some((made, at))) => {
                seen < made && now.duration_since(at).unsigned_abs() < STALE_WINDOW
            }
            _ => false,
        }
    }

    /// The watch shows the credential at `revision` (its version, when that is an etcd
    /// revision: see [`revision`]). Once that is at or after the revision our
    /// last status write made, no older version can reach a reconcile again (the cache
    /// follows the watch in order, and its lists are consistent reads), so the stale guard
    /// is dropped.
    pub fn settle(&mut self, revision: Option<u64>) {
        if let (Some(seen), Some((made, _))) = (revision, self.status_revision)
            && seen >= made
        {
            self.superseded_version = None;
            self.status_revision = None;
        }
    }

    /// Whether there is nothing to remember: then nothing is kept.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// After our status write, at `at`, moved the credential from `before` to `after`.
    pub fn status_written(
        &mut self,
        before: Option<String>,
        after: Option<String>,
        at: jiff::Timestamp,
    ) {
        if after != before {
            let made = after.as_deref().and_then(revision);
            self.status_revision = made.map(|made| (made, at));
            self.superseded_version = before;
        }
    }
}

/// A resourceVersion as an etcd revision, when it is a number: the API server's are, and
/// only then can two be ordered.
pub fn revision(version: &str) -> Option<u64> {
    version.parse().ok()
}

/// After a failed write of new tokens: the tokens are kept for the next reconcile, which
/// writes them before anything else, after [`write_wait`].
pub fn write_failed(pending: Pending, memory: Memory) -> Memory {
    let mut memory = memory;
    memory.pending = Some(Box::new(Pending {
        failed_writes: pending.failed_writes.saturating_add(1),
        ..pending
    }));
    memory
}

/// The wait before writing pending tokens again after `failed_writes` failures: 200 ms,
/// doubling to [`MAX_WRITE_RETRY`].
pub fn write_wait(failed_writes: u32) -> Duration {
    let doublings = failed_writes.saturating_sub(1).min(16);
    FIRST_WRITE_RETRY
        .saturating_mul(1 << doublings)
        .min(MAX_WRITE_RETRY)
}
