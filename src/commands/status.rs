//! `status`: WetixCredentials as a table, one in detail, or their status as JSON/YAML.
//!
//! Everything shown is computed by pure functions of the objects and `now`
//! ([`table`], [`detail`], [`json`], [`yaml`], [`relative`]); [`run`] fetches and prints.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, ResourceExt, api::ListParams};
use serde::Serialize;

use super::{CommandError, Exit};
use crate::{
    cli::{OutputFormat, StatusArgs},
    credential::{WetixCredential, WetixCredentialStatus},
    managed_secret::rfc3339,
};

/// Why `status` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to the Kubernetes API")]
    Connect(#[source] kube::Error),
    #[error("WetixCredential {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error("reading WetixCredential {namespace}/{name}")]
    Get {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing WetixCredentials")]
    List(#[source] kube::Error),
    #[error("rendering the status as {format}")]
    Render {
        format: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
}

impl CommandError for Error {
    fn exit(&self) -> Exit {
        match self {
            Self::NotFound { .. } => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// Fetches the credential(s) the arguments name and prints them.
pub async fn run(args: StatusArgs) -> Result<Exit, Error> {
    let client = super::kube_client().await.map_err(Error::Connect)?;
    let now = args.now.unwrap_or_else(Timestamp::now);
    let namespace = args
        .namespace
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());

    let credentials = match &args.name {
        Some(name) => {
            let api = Api::<WetixCredential>::namespaced(client, &namespace);
            let found = api.get_opt(name).await.map_err(|source| Error::Get {
                namespace: namespace.clone(),
                name: name.clone(),
                source,
            })?;
            vec![found.ok_or_else(|| Error::NotFound {
                namespace: namespace.clone(),
                name: name.clone(),
            })?]
        }
        None => {
            let api = if args.all_namespaces {
                Api::<WetixCredential>::all(client)
            } else {
                Api::namespaced(client, &namespace)
            };
            let mut items = api
                .list(&ListParams::default())
                .await
                .map_err(Error::List)?
                .items;
            items.sort_by_key(|c| (c.namespace(), c.name_any()));
            items
        }
    };

    let single = args.name.is_some();
    let text = match args.output {
        OutputFormat::Table if single => detail(&credentials[0], now),
        OutputFormat::Table if credentials.is_empty() => {
            if args.all_namespaces {
                eprintln!("No WetixCredentials found.");
            } else {
                eprintln!("No WetixCredentials found in namespace {namespace}.");
            }
            return Ok(Exit::Success);
        }
        OutputFormat::Table => table(&credentials, args.all_namespaces, now),
        OutputFormat::Json => json(&credentials, single).map_err(|e| Error::Render {
            format: "JSON",
            source: e.into(),
        })?,
        OutputFormat::Yaml => yaml(&credentials, single).map_err(|e| Error::Render {
            format: "YAML",
            source: e.into(),
        })?,
    };
    super::print_stdout(&text).map_err(Error::Output)?;
    Ok(Exit::Success)
}

/// `d` the way kubectl prints ages: two significant units while short ("3h12m", "5d4h"),
/// one once long ("39d"). A negative duration reads as zero.
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs().max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_rest(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

fn with_rest(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// `t` relative to `now`: "in 39d", "3h ago", or "now" within a second.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let ahead = t.duration_since(now);
    if ahead.abs() < SignedDuration::from_secs(1) {
        "now".to_owned()
    } else if ahead.is_positive() {
        format!("in {}", human_duration(ahead))
    } else {
        format!("{} ago", human_duration(-ahead))
    }
}

/// A time as shown in a cell: "2027-01-24T10:00:00Z (in 39d)", or "-" when absent.
pub fn when(t: Option<&Time>, now: Timestamp) -> String {
    match t {
        Some(Time(t)) => format!("{} ({})", rfc3339(*t), relative(*t, now)),
        None => "-".to_owned(),
    }
}

/// One line of the table, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
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
    fn of(credential: &WetixCredential, now: Timestamp) -> Self {
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
                .map(|l| l[i].chars().count())
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
                let pad = widths[i] - cell.chars().count() + 3;
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

/// What `-o json|yaml` prints per credential: where it is and its status as stored.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub namespace: String,
    pub name: String,
    pub status: Option<&'a WetixCredentialStatus>,
}

/// The list form: `{"items": [...]}`, like a Kubernetes list.
#[derive(Debug, Serialize)]
struct Entries<'a> {
    items: Vec<Entry<'a>>,
}

fn entries(credentials: &[WetixCredential]) -> Vec<Entry<'_>> {
    credentials
        .iter()
        .map(|c| Entry {
            namespace: c.namespace().unwrap_or_default(),
            name: c.name_any(),
            status: c.status.as_ref(),
        })
        .collect()
}

/// JSON: one object for a single NAME, `{"items": [...]}` otherwise.
pub fn json(credentials: &[WetixCredential], single: bool) -> serde_json::Result<String> {
    let mut entries = entries(credentials);
    let text = match (single, entries.pop()) {
        (true, Some(entry)) => serde_json::to_string_pretty(&entry)?,
        (_, last) => {
            entries.extend(last);
            serde_json::to_string_pretty(&Entries { items: entries })?
        }
    };
    Ok(text + "\n")
}

/// YAML: the same shapes as [`json`].
pub fn yaml(
    credentials: &[WetixCredential],
    single: bool,
) -> Result<String, serde_saphyr::SerializeError> {
    let mut entries = entries(credentials);
    match (single, entries.pop()) {
        (true, Some(entry)) => serde_saphyr::to_string(&entry),
        (_, last) => {
            entries.extend(last);
            serde_saphyr::to_string(&Entries { items: entries })
        }
    }
}

#[cfg(test)]
mod tests;
