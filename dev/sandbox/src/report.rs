//! The lines a person reads. Pure: every function takes the time and zone it prints.
//!
//! Token values are never printed whole: [`mask`] keeps a few leading characters and the length,
//! and a Secret's keys are shown in full only when they are listed in [`PLAIN_KEYS`].

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use fake_wetix::{Call, Endpoint};
use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::api::core::v1::Secret;

use crate::{
    Summary,
    observe::{Change, Tokens},
};

/// Leading characters of a secret value that are shown: enough to tell a JWT (`eyJhbG`) from a
/// `Bearer` header, far too few to use.
pub const MASK_PREFIX: usize = 6;

/// Managed-Secret keys whose values are not secret and are printed as they are.
pub const PLAIN_KEYS: [&str; 3] = ["token_type", "expires_at", "refresh_token_expires_at"];

/// The managed Secret's keys in the contract's order; others follow alphabetically.
const KEY_ORDER: [&str; 6] = [
    "access_token",
    "refresh_token",
    "token_type",
    "authorization",
    "expires_at",
    "refresh_token_expires_at",
];

/// Width of the tag column, so the text lines up.
const TAG_WIDTH: usize = 8;

/// `eyJhbG…(219 chars)`: at most [`MASK_PREFIX`] leading characters, and never more than half
/// of a short value.
pub fn mask(value: &str) -> String {
    let length = value.chars().count();
    let head: String = value.chars().take(MASK_PREFIX.min(length / 2)).collect();
    format!("{head}…({length} chars)")
}

/// One timestamped line: `10:42:01.204  tag      text`.
pub fn line(now: Timestamp, tz: &TimeZone, tag: &str, text: &str) -> String {
    let clock = now.to_zoned(tz.clone()).strftime("%H:%M:%S%.3f");
    format!("{clock}  {tag:<TAG_WIDTH$} {text}")
}

/// `10:42:21 (in 20s)` or `10:41:58 (3s ago)`, in whole seconds.
pub fn when(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let clock = at.to_zoned(tz.clone()).strftime("%H:%M:%S");
    let seconds = (at.duration_since(now).as_secs_f64()).round() as i64;
    if seconds >= 0 {
        format!("{clock} (in {seconds}s)")
    } else {
        format!("{clock} ({}s ago)", -seconds)
    }
}

/// The WeTix path and grant a call used.
pub fn describe_endpoint(endpoint: Endpoint) -> (&'static str, &'static str) {
    match endpoint {
        Endpoint::Token => ("/auth/token", "client_credentials"),
        Endpoint::Refresh => ("/auth/refresh", "refresh_token"),
        Endpoint::Any => ("either endpoint", "unknown"),
    }
}

/// The lines for one change.
pub fn change_lines(change: &Change, now: Timestamp, tz: &TimeZone) -> Vec<String> {
    match change {
        Change::Call(call) => vec![line(now, tz, "wetix", &call_text(call))],
        Change::Ready(ready) => vec![line(now, tz, "ready", &ready.to_string())],
        Change::Issued(tokens) => tokens_lines(now, tz, "tokens", "issued", tokens),
        Change::Renewed { number, tokens } => {
            tokens_lines(now, tz, "renewal", &format!("#{number}"), tokens)
        }
    }
}

/// The indent of a line continuing the one above: past the time and the tag.
fn continuation() -> String {
    " ".repeat("00:00:00.000  ".len() + TAG_WIDTH + 1)
}

fn call_text(call: &Call) -> String {
    let (path, grant) = describe_endpoint(call.endpoint);
    let outcome = if (200..300).contains(&call.status) {
        "ok"
    } else {
        "failed"
    };
    format!("POST {path} -> {} {outcome} ({grant} grant)", call.status)
}

/// `issued via client_credentials: access expires …, next refresh …`, then the refresh token's
/// expiry and the fingerprint on a continuation line.
fn tokens_lines(
    now: Timestamp,
    tz: &TimeZone,
    tag: &str,
    what: &str,
    tokens: &Tokens,
) -> Vec<String> {
    let grant = tokens
        .grant
        .map_or("an unseen call", |endpoint| describe_endpoint(endpoint).1);
    let at = |t: Option<Timestamp>| t.map_or_else(|| "unknown".to_owned(), |t| when(t, now, tz));
    vec![
        line(
            now,
            tz,
            tag,
            &format!(
                "{what} via {grant}: access expires {}, next refresh {}",
                at(tokens.access_expires_at),
                at(tokens.next_refresh),
            ),
        ),
        format!(
            "{}refresh token expires {}, token fingerprint {}",
            continuation(),
            at(tokens.refresh_expires_at),
            tokens.fingerprint,
        ),
    ]
}

/// A Secret's data as text (lossy for bytes that are not UTF-8).
pub fn secret_strings(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), String::from_utf8_lossy(&value.0).into_owned()))
        .collect()
}

/// The Secret's name and its keys, one per line, secret values masked.
pub fn secret_lines(namespace: &str, name: &str, data: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort_by_key(|key| {
        (
            KEY_ORDER
                .iter()
                .position(|known| known == key)
                .unwrap_or(KEY_ORDER.len()),
            key.as_str(),
        )
    });
    let width = keys.iter().map(|key| key.len()).max().unwrap_or(0);
    let indent = continuation();
    let mut lines = vec![format!("{indent}Secret {namespace}/{name}:")];
    for key in keys {
        let value = &data[key];
        let shown = if PLAIN_KEYS.contains(&key.as_str()) {
            value.clone()
        } else {
            mask(value)
        };
        lines.push(format!("{indent}  {key:<width$}  {shown}"));
    }
    lines
}

/// What is running and where, printed once at the start.
#[derive(Debug, Clone)]
pub struct Intro {
    pub api_url: String,
    pub wetix_url: String,
    pub metrics_address: SocketAddr,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    pub kubeconfig: PathBuf,
    pub operator_log: PathBuf,
    pub manifests: Vec<PathBuf>,
    pub renewals: Option<u32>,
}

pub fn intro_lines(intro: &Intro) -> Vec<String> {
    let manifests: Vec<String> = intro
        .manifests
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let until = match intro.renewals {
        Some(1) => "Stops after 1 renewal (Ctrl-C stops it sooner).".to_owned(),
        Some(n) => format!("Stops after {n} renewals (Ctrl-C stops it sooner)."),
        None => "Runs until Ctrl-C.".to_owned(),
    };
    vec![
        "wetix sandbox: an in-memory Kubernetes API, a fake WeTix server and the operator, in this process".to_owned(),
        String::new(),
        format!("  Kubernetes API  {}", intro.api_url),
        format!(
            "  WeTix (fake)    {}  access tokens live {}s, refresh tokens {}s",
            intro.wetix_url,
            intro.access_lifetime.as_secs(),
            intro.refresh_lifetime.as_secs()
        ),
        format!(
            "  operator        http://{}/metrics, log in {}",
            intro.metrics_address,
            intro.operator_log.display()
        ),
        format!("  applied         {}", manifests.join(", ")),
        String::new(),
        "Look for yourself while it runs:".to_owned(),
        format!(
            "  kubectl --kubeconfig {} get wxc -n {}",
            intro.kubeconfig.display(),
            crate::manifests::NAMESPACE
        ),
        String::new(),
        until,
        String::new(),
    ]
}

pub fn summary_lines(summary: &Summary) -> Vec<String> {
    vec![
        String::new(),
        "Summary".to_owned(),
        format!(
            "  token requests    /auth/token {}, /auth/refresh {} ({} failed)",
            summary.token_requests, summary.refresh_requests, summary.failed_requests
        ),
        format!("  renewals seen     {}", summary.renewals),
        "  operator          stopped cleanly".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_six_characters_and_the_length() {
        assert_eq!(mask("eyJhbGciOiJIUzI1NiJ9.payload"), "eyJhbG…(28 chars)");
    }

    #[test]
    fn mask_never_shows_more_than_half_of_a_short_value() {
        assert_eq!(mask("abcd"), "ab…(4 chars)");
        assert_eq!(mask("a"), "…(1 chars)");
        assert_eq!(mask(""), "…(0 chars)");
    }

    #[test]
    fn secret_lines_mask_tokens_and_show_plain_keys_in_contract_order() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl";
        let data: BTreeMap<String, String> = [
            ("authorization", format!("Bearer {token}")),
            ("expires_at", "2026-01-01T00:00:20Z".to_owned()),
            ("access_token", token.to_owned()),
            ("refresh_token", token.to_owned()),
            ("token_type", "Bearer".to_owned()),
            (
                "refresh_token_expires_at",
                "2026-01-01T00:01:00Z".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let lines = secret_lines("shop", "ticketing-token", &data);
        let text = lines.join("\n");
        assert!(!text.contains(token), "{text}");
        assert!(lines[0].ends_with("Secret shop/ticketing-token:"));
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(keys, KEY_ORDER);
        assert!(lines[1].ends_with("eyJhbG…(46 chars)"), "{}", lines[1]);
        assert!(lines[4].ends_with("Bearer…(53 chars)"), "{}", lines[4]);
        assert!(lines[5].ends_with("2026-01-01T00:00:20Z"));
    }

    #[test]
    fn when_counts_whole_seconds_either_way() {
        let now = Timestamp::from_second(1_000).unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(
            when(Timestamp::from_second(1_020).unwrap(), now, &utc),
            "00:17:00 (in 20s)"
        );
        assert_eq!(
            when(Timestamp::from_second(997).unwrap(), now, &utc),
            "00:16:37 (3s ago)"
        );
    }

    #[test]
    fn a_failed_call_says_so() {
        let call = Call {
            endpoint: Endpoint::Refresh,
            client_id: None,
            status: 503,
            at: Timestamp::UNIX_EPOCH,
        };
        let text = change_lines(&Change::Call(call), Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        assert_eq!(
            text,
            ["00:00:00.000  wetix    POST /auth/refresh -> 503 failed (refresh_token grant)"]
        );
    }
}
