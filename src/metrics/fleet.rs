//! The per-credential series, rendered at scrape time from the credential cache.
//!
//! The four families of one series per credential (expiries, next renewal, readiness) hold no
//! state of their own: each scrape reads the summary of every cached credential's status (see
//! `cached_credential`), so ten thousand credentials cost no memory beyond the cache the
//! controller keeps anyway. A deleted credential leaves the cache, and its series with it. The text is written and sent a few
//! hundred series at a time ([`FleetText`]), never as a whole.

use std::sync::{Arc, RwLock};

use kube::{Resource, runtime::reflector::Store};

use crate::cached_credential::{CachedCredential, Summary};

use super::unix_seconds;

/// One family: its name, help, and the value a status gives (`None`: no series).
struct Family {
    name: &'static str,
    help: &'static str,
    value: fn(&Summary) -> Option<f64>,
}

fn time(t: Option<jiff::Timestamp>) -> Option<f64> {
    t.map(unix_seconds)
}

const FAMILIES: [Family; 4] = [
    Family {
        name: "wetix_credential_access_token_expiration_timestamp_seconds",
        help: "When the access token in the managed Secret expires (Unix time)",
        value: |s| time(s.access_token_expires_at),
    },
    Family {
        name: "wetix_credential_refresh_token_expiration_timestamp_seconds",
        help: "When the refresh token in the managed Secret expires (Unix time)",
        value: |s| time(s.refresh_token_expires_at),
    },
    Family {
        name: "wetix_credential_next_refresh_timestamp_seconds",
        help: "When the operator next renews or retries (Unix time)",
        value: |s| time(s.next_refresh_time),
    },
    Family {
        name: "wetix_credential_ready",
        help: "1 when the credential is Ready, else 0",
        value: |s| Some(if s.ready { 1.0 } else { 0.0 }),
    },
];

/// The credential caches of every watched scope.
#[derive(Debug, Default)]
pub struct Fleet {
    stores: RwLock<Vec<Store<CachedCredential>>>,
}

impl Fleet {
    pub fn watch(&self, store: Store<CachedCredential>) {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores.push(store);
    }

    /// The four families over the credentials cached now, as text in pieces.
    pub fn text(&self) -> FleetText {
        let stores = self.stores.read().unwrap_or_else(|e| e.into_inner());
        FleetText {
            credentials: stores.iter().flat_map(|s| s.state()).collect(),
            family: 0,
            next: 0,
        }
    }
}

/// Series per piece of [`FleetText`]: about 50 KiB of text.
pub const SERIES_PER_PIECE: usize = 500;

/// The per-credential families as OpenMetrics text, [`SERIES_PER_PIECE`] credentials at a
/// time, so that a scrape of ten thousand credentials never holds all of its text (4 MB and
/// more) at once. Holds a snapshot of the cache: one pointer per credential.
pub struct FleetText {
    credentials: Vec<Arc<CachedCredential>>,
    family: usize,
    next: usize,
}

impl Iterator for FleetText {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let family = FAMILIES.get(self.family)?;
        let mut text = String::new();
        if self.next == 0 {
            let Family { name, help, .. } = family;
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        }
        let end = (self.next + SERIES_PER_PIECE).min(self.credentials.len());
        for credential in self.credentials.get(self.next..end).unwrap_or_default() {
            let Some(value) = credential.summary.as_ref().and_then(family.value) else {
                continue;
            };
            text.push_str(family.name);
            text.push_str("{namespace=\"");
            push_escaped(
                &mut text,
                credential.meta().namespace.as_deref().unwrap_or_default(),
            );
            text.push_str("\",name=\"");
            push_escaped(
                &mut text,
                credential.meta().name.as_deref().unwrap_or_default(),
            );
            text.push_str("\"} ");
            text.push_str(dtoa::Buffer::new().format(value));
            text.push('\n');
        }
        if end == self.credentials.len() {
            self.family += 1;
            self.next = 0;
        } else {
            self.next = end;
        }
        Some(text)
    }
}

/// A label value as OpenMetrics writes it: backslash, double quote and newline escaped.
fn push_escaped(text: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '"' => text.push_str("\\\""),
            '\n' => text.push_str("\\n"),
            c => text.push(c),
        }
    }
}
