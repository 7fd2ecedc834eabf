//! The table `status` prints for a namespace (or all of them), and the detailed view of one
//! credential: text built from the objects and `now`, nothing fetched.

use std::fmt::Write as _;

use jiff::Timestamp;
use kube::ResourceExt;

use super::times::when;
use crate::credential::WetixCredential;

/// One line of the table, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    namespace: String,
    name: String,
    ready: String,
    reason: String,
    access_expires: String,
    refresh_expires: String,
    next_refresh: String,
    secret: String,
    failed_attempts: String,
    last_failure: String,
}

impl Row {
    pub(super) fn of(credential: &WetixCredential, now: Timestamp) -> Self {
        let status = credential.status.clone().unwrap_or_default();
        let ready = credential.ready_condition();
        Self {
            namespace: credential.namespace().unwrap_or_default(),
            name: credential.name_any(),
            ready: ready.map_or("-".to_owned(), |c| c.status.clone()),
            reason: ready
                .map(|c| c.reason.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "-".to_owned()),
            access_expires: when(status.access_token_expires_at.as_ref(), now),
            refresh_expires: when(status.refresh_token_expires_at.as_ref(), now),
            next_refresh: when(status.next_refresh_time.as_ref(), now),
            secret: status
                .secret_name
                .clone()
                .unwrap_or_else(|| credential.secret_name()),
            failed_attempts: status.failed_attempts.to_string(),
            last_failure: when(status.last_failure_time.as_ref(), now),
        }
    }
}

/// The table, one credential per line in the order given, columns padded with three spaces
/// as kubectl does. `all_namespaces` adds the NAMESPACE column.
pub fn table(credentials: &[WetixCredential], all_namespaces: bool, now: Timestamp) -> String {
    let mut header = vec![
        "NAME",
        "READY",
        "REASON",
        "ACCESS EXPIRES",
        "REFRESH EXPIRES",
        "NEXT REFRESH",
        "SECRET",
        "FAILED",
        "LAST FAILURE",
    ];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for credential in credentials {
        let row = Row::of(credential, now);
        let mut cells = vec![
            row.name,
            row.ready,
            row.reason,
            row.access_expires,
            row.refresh_expires,
            row.next_refresh,
            row.secret,
            row.failed_attempts,
            row.last_failure,
        ];
        if all_namespaces {
            cells.insert(0, row.namespace);
        }
        lines.push(cells);
    }
    align(&lines)
}

/// Left-aligned columns, three spaces apart, no trailing spaces.
fn align(lines: &[Vec<String>]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < line.len() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count()) + 3;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// Everything known about one credential, one fact per line, like `cmctl status certificate`.
pub fn detail(credential: &WetixCredential, now: Timestamp) -> String {
    let row = Row::of(credential, now);
    let status = credential.status.clone().unwrap_or_default();
    let ready = credential.ready_condition();
    let server = &credential.spec.server;
    let server_text = match &server.url {
        Some(url) => url.clone(),
        None => format!(
            "{:?} ({})",
            server.environment,
            server.environment.base_url()
        ),
    };
    let generation = match (status.observed_generation, credential.metadata.generation) {
        (Some(observed), Some(current)) if observed == current => format!("{observed} (current)"),
        (Some(observed), Some(current)) => format!("{observed} (current is {current})"),
        (Some(observed), None) => observed.to_string(),
        (None, _) => "-".to_owned(),
    };
    let fields: Vec<(&str, String)> = vec![
        ("Name", row.name),
        ("Namespace", row.namespace),
        ("Ready", format!("{} ({})", row.ready, row.reason)),
        (
            "Message",
            ready
                .map(|c| c.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Ready since",
            when(ready.map(|c| &c.last_transition_time), now),
        ),
        ("Server", server_text),
        (
            "Suspended",
            if credential.spec.suspend { "yes" } else { "no" }.to_owned(),
        ),
        ("Managed Secret", row.secret),
        ("Access token expires", row.access_expires),
        ("Refresh token expires", row.refresh_expires),
        ("Last refresh", when(status.last_refresh_time.as_ref(), now)),
        ("Next refresh", row.next_refresh),
        ("Failed attempts", row.failed_attempts),
        ("Last failure", row.last_failure),
        (
            "Last refresh request",
            Some(status.last_refresh_request.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Token fingerprint",
            status
                .token_fingerprint
                .clone()
                .unwrap_or_else(|| "-".to_owned()),
        ),
        ("Observed generation", generation),
    ];
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 3;
    let mut out = String::new();
    for (key, value) in fields {
        let label = format!("{key}:");
        let _ = writeln!(out, "{label:width$}{value}");
    }
    out
}
