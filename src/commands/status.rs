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
mod tests {
    use super::*;
    use crate::fixtures::{CredentialFixture, at, credential};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    const NOW: &str = "2026-12-16T10:00:00Z";

    fn time(text: &str) -> Option<Time> {
        Some(Time(at(text)))
    }

    fn ready(status: &str, reason: &str, message: &str) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: Time(at("2026-11-25T10:00:00Z")),
            observed_generation: Some(1),
        }
    }

    fn healthy() -> WetixCredential {
        let mut c = credential();
        c.status = Some(WetixCredentialStatus {
            observed_generation: Some(1),
            conditions: vec![ready("True", "TokenIssued", "tokens issued")],
            secret_name: Some("ticketing-token".into()),
            access_token_expires_at: time("2027-01-24T10:00:00Z"),
            refresh_token_expires_at: time("2027-11-25T10:00:00Z"),
            last_refresh_time: time("2026-11-25T10:00:00Z"),
            next_refresh_time: time("2027-01-04T08:31:12Z"),
            failed_attempts: 0,
            last_failure_time: None,
            last_refresh_request: String::new(),
            token_fingerprint: Some("3f9a1c0d2b7e4a61".into()),
            unreadable: None,
        });
        c
    }

    fn failing() -> WetixCredential {
        let mut c = healthy().named("billing");
        c.metadata.namespace = Some("pay".into());
        let status = c.status.as_mut().unwrap();
        status.conditions = vec![ready(
            "False",
            "InvalidClient",
            "the WeTix OAuth server rejected the client credentials (HTTP 401)",
        )];
        status.failed_attempts = 3;
        status.last_failure_time = time("2026-12-16T07:00:00Z");
        c
    }

    #[test]
    fn human_durations_follow_kubectl() {
        let cases = [
            (0, "0s"),
            (-5, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 12 * 60, "3h12m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (5 * 86400 + 4 * 3600, "5d4h"),
            (8 * 86400, "8d"),
            (39 * 86400 + 3600, "39d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400 + 10 * 86400, "9y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(seconds)),
                expected,
                "{seconds}s"
            );
        }
    }

    #[test]
    fn relative_times_say_in_or_ago() {
        let now = at(NOW);
        let cases = [
            ("2027-01-24T10:00:00Z", "in 39d"),
            ("2026-12-16T07:00:00Z", "3h ago"),
            ("2026-12-16T10:00:00.500Z", "now"),
            ("2026-12-16T09:59:59.500Z", "now"),
            ("2026-12-16T10:00:30Z", "in 30s"),
            ("2026-12-14T10:00:00Z", "2d ago"),
        ];
        for (t, expected) in cases {
            assert_eq!(relative(at(t), now), expected, "{t}");
        }
    }

    #[test]
    fn a_missing_time_is_a_dash() {
        assert_eq!(when(None, at(NOW)), "-");
        assert_eq!(
            when(time("2027-01-24T10:00:00Z").as_ref(), at(NOW)),
            "2027-01-24T10:00:00Z (in 39d)"
        );
    }

    #[test]
    fn the_table_aligns_columns_and_shows_namespace_only_with_all_namespaces() {
        let now = at(NOW);
        let credentials = [failing(), healthy()];
        let expected = "\
NAMESPACE   NAME        READY   REASON          ACCESS EXPIRES                  REFRESH EXPIRES                  NEXT REFRESH                    SECRET            FAILED   LAST FAILURE
pay         billing     False   InvalidClient   2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   3        2026-12-16T07:00:00Z (3h ago)
shop        ticketing   True    TokenIssued     2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   0        -
";
        assert_eq!(table(&credentials, true, now), expected);
        let one = table(&[healthy()], false, now);
        assert!(one.starts_with("NAME        READY"), "{one}");
        assert!(!one.contains("shop"), "{one}");
        assert!(one.lines().all(|l| !l.ends_with(' ')), "{one}");
    }

    #[test]
    fn a_credential_without_status_shows_dashes_and_its_default_secret() {
        let text = table(&[credential()], false, at(NOW));
        let row = text.lines().nth(1).unwrap();
        let cells: Vec<&str> = row
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "ticketing",
                "-",
                "-",
                "-",
                "-",
                "-",
                "ticketing-token",
                "0",
                "-"
            ]
        );
    }

    #[test]
    fn the_detail_view_has_the_message_and_every_time() {
        let text = detail(&failing(), at(NOW));
        let expected = "\
Name:                   billing
Namespace:              pay
Ready:                  False (InvalidClient)
Message:                the WeTix OAuth server rejected the client credentials (HTTP 401)
Ready since:            2026-11-25T10:00:00Z (21d ago)
Server:                 Sandbox (https://sb-oauth.wetix.my)
Suspended:              no
Managed Secret:         ticketing-token
Access token expires:   2027-01-24T10:00:00Z (in 39d)
Refresh token expires:  2027-11-25T10:00:00Z (in 344d)
Last refresh:           2026-11-25T10:00:00Z (21d ago)
Next refresh:           2027-01-04T08:31:12Z (in 18d)
Failed attempts:        3
Last failure:           2026-12-16T07:00:00Z (3h ago)
Last refresh request:   -
Token fingerprint:      3f9a1c0d2b7e4a61
Observed generation:    1 (current)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_detail_view_says_when_the_spec_is_not_yet_observed() {
        let mut c = healthy();
        c.metadata.generation = Some(2);
        c.spec.server.url = Some("https://oauth.example".into());
        let text = detail(&c, at(NOW));
        assert!(
            text.contains("Observed generation:    1 (current is 2)"),
            "{text}"
        );
        assert!(
            text.contains("Server:                 https://oauth.example\n"),
            "{text}"
        );
    }

    #[test]
    fn json_is_one_object_for_a_name_and_a_list_otherwise() {
        let one: serde_json::Value =
            serde_json::from_str(&json(&[healthy()], true).unwrap()).unwrap();
        assert_eq!(one["namespace"], "shop");
        assert_eq!(one["name"], "ticketing");
        assert_eq!(
            one["status"]["accessTokenExpiresAt"],
            "2027-01-24T10:00:00Z"
        );
        assert_eq!(one["status"]["conditions"][0]["reason"], "TokenIssued");

        let list: serde_json::Value =
            serde_json::from_str(&json(&[failing(), healthy()], false).unwrap()).unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["name"], "billing");
        assert_eq!(items[0]["status"]["failedAttempts"], 3);

        let empty: serde_json::Value = serde_json::from_str(&json(&[], false).unwrap()).unwrap();
        assert_eq!(empty, serde_json::json!({"items": []}));
        let no_status: serde_json::Value =
            serde_json::from_str(&json(&[credential()], true).unwrap()).unwrap();
        assert!(no_status["status"].is_null());
    }

    #[test]
    fn yaml_has_the_same_shape_as_json() {
        let text = yaml(&[healthy()], false).unwrap();
        let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let from_json: serde_json::Value =
            serde_json::from_str(&json(&[healthy()], false).unwrap()).unwrap();
        assert_eq!(parsed, from_json);
        assert!(text.contains("name: ticketing"), "{text}");
    }
}
