//! Fault injection and the request log that tests assert on.

use crate::http::Shared;
use std::sync::Arc;
use std::time::Duration;

/// One request as the server saw and answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    /// The `fieldManager` query parameter, if sent.
    pub field_manager: Option<String>,
    /// The `User-Agent` header, if sent (the operator sends `wetix-operator/<version>`).
    pub user_agent: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct WriteFault {
    plural: String,
    verb: Option<String>,
    remaining: usize,
    code: u16,
}

/// Faults currently armed.
#[derive(Debug, Default)]
pub struct FaultState {
    writes: Vec<WriteFault>,
    pub delay: Duration,
}

impl FaultState {
    /// Consumes one armed failure for a write of `verb` on `plural`, returning its code.
    pub fn take_write_fault(&mut self, plural: &str, verb: &str) -> Option<u16> {
        let f = self.writes.iter_mut().find(|f| {
            f.remaining > 0 && f.plural == plural && f.verb.as_deref().is_none_or(|v| v == verb)
        })?;
        f.remaining -= 1;
        let code = f.code;
        self.writes.retain(|f| f.remaining > 0);
        Some(code)
    }
}

/// Handle to arm faults on a running emulator; cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) shared: Arc<Shared>,
}

impl Faults {
    /// The next `count` writes (create, update, patch, delete) of resource `plural` fail with
    /// `code` (e.g. 409 Conflict or 500), answered as a proper `Status`.
    pub fn fail_next_writes(&self, plural: &str, count: usize, code: u16) {
        self.arm(plural, None, count, code);
    }

    /// Like [`Faults::fail_next_writes`] for one verb only: `create`, `update`, `patch` or `delete`.
    pub fn fail_next_writes_for(&self, plural: &str, verb: &str, count: usize, code: u16) {
        self.arm(plural, Some(verb), count, code);
    }

    fn arm(&self, plural: &str, verb: Option<&str>, count: usize, code: u16) {
        let mut f = self.shared.faults.lock().expect("fault lock");
        f.writes.push(WriteFault {
            plural: plural.into(),
            verb: verb.map(str::to_string),
            remaining: count,
            code,
        });
    }

    /// Ends every open watch stream, as a restarting API server or a proxy would.
    pub fn drop_watches(&self) {
        self.shared.store().drop_watches();
    }

    /// Delays every response by `delay` (zero turns it off).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.faults.lock().expect("fault lock").delay = delay;
    }

    /// Forgets the change history, so watches resuming from any earlier resourceVersion
    /// receive a 410 Expired ERROR event (as after etcd compaction).
    pub fn compact_history(&self) {
        self.shared.store().compact();
    }

    /// Disarms every fault and removes the delay.
    pub fn clear(&self) {
        *self.shared.faults.lock().expect("fault lock") = FaultState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_faults_count_down_per_resource_and_verb() {
        let mut s = FaultState::default();
        s.writes.push(WriteFault {
            plural: "secrets".into(),
            verb: Some("patch".into()),
            remaining: 2,
            code: 500,
        });
        assert_eq!(s.take_write_fault("secrets", "create"), None);
        assert_eq!(s.take_write_fault("leases", "patch"), None);
        assert_eq!(s.take_write_fault("secrets", "patch"), Some(500));
        assert_eq!(s.take_write_fault("secrets", "patch"), Some(500));
        assert_eq!(s.take_write_fault("secrets", "patch"), None);
    }
}
