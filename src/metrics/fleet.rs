//! The per-credential series, rendered at scrape time from the credential cache.
//!
//! The four families of one series per credential (expiries, next renewal, readiness) hold no
//! state of their own: each scrape reads the summary of every cached credential's status (see
//! `cached_credential`), so ten thousand credentials cost no memory beyond the cache the
//! controller keeps anyway. A deleted credential leaves the cache, and its series with it. The text is written and sent a few
//! hundred series at a time ([`FleetText`]), never as a whole.

use std::sync::{Arc, RwLock};

use crate::{cached_credential::Summary, credential_cache::CredentialCache, wakeups::Key};

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
    caches: RwLock<Vec<Arc<CredentialCache>>>,
}

impl Fleet {
    pub fn watch(&self, cache: Arc<CredentialCache>) {
        let mut caches = self.caches.write().unwrap_or_else(|e| e.into_inner());
        caches.push(cache);
    }

    /// The four families over the credentials cached now, as text in pieces.
    pub fn text(&self) -> FleetText {
        let caches = self.caches.read().unwrap_or_else(|e| e.into_inner());
        FleetText {
            caches: caches.clone(),
            family: 0,
            cache: 0,
            after: None,
            started: false,
        }
    }
}

/// Series per piece of [`FleetText`]: about 50 KiB of text.
pub const SERIES_PER_PIECE: usize = 500;

/// The per-credential families as OpenMetrics text, [`SERIES_PER_PIECE`] credentials at a
/// time, so that a scrape of ten thousand credentials never holds all of its text (4 MB and
/// more) at once, nor a copy of the cache: each piece reads the next credentials of the cache
/// as it is then.
pub struct FleetText {
    caches: Vec<Arc<CredentialCache>>,
    family: usize,
    /// The cache being read, and the last credential of it read.
    cache: usize,
    after: Option<Key>,
    /// Whether the family's header is written.
    started: bool,
}

impl Iterator for FleetText {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let family = FAMILIES.get(self.family)?;
        let mut text = String::new();
        if !self.started {
            let Family { name, help, .. } = family;
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            self.started = true;
        }
        let piece = match self.caches.get(self.cache) {
            Some(cache) => cache.summaries(self.after.as_ref(), SERIES_PER_PIECE),
            None => vec![],
        };
        for (key, summary) in &piece {
            let Some(value) = (family.value)(summary) else {
                continue;
            };
            let (namespace, name) = key.parts();
            text.push_str(family.name);
            text.push_str("{namespace=\"");
            push_escaped(&mut text, namespace);
            text.push_str("\",name=\"");
            push_escaped(&mut text, name);
            text.push_str("\"} ");
            text.push_str(dtoa::Buffer::new().format(value));
            text.push('\n');
        }
        if piece.len() == SERIES_PER_PIECE {
            self.after = piece.into_iter().next_back().map(|(key, _)| key);
        } else if self.cache + 1 < self.caches.len() {
            self.cache += 1;
            self.after = None;
        } else {
            self.family += 1;
            self.cache = 0;
            self.after = None;
            self.started = false;
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
