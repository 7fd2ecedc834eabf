//! `refresh`: asks the operator to refresh a credential now, by setting the annotation
//! `wetix.my/refresh-requested-at` to the current time; with `--wait`, polls until the operator
//! records that value in `status.lastRefreshRequest`, then reports the outcome.
//!
//! Exit codes: 0 handled and Ready, 1 handled but not Ready, 2 timeout, not found or bad input.

use std::time::Duration;

use jiff::Timestamp;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;
use tokio::time::Instant;

use super::{CommandError, Exit, is_not_found, status::when};
use crate::{
    cli::RefreshArgs, credential::WetixCredential, managed_secret::rfc3339,
    reconcile::REFRESH_REQUESTED_AT,
};

/// How often `--wait` reads the credential. The operator handles a request within a second or
/// two of the annotation changing; one read a second costs the API server next to nothing.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often `--wait` says it is still waiting, so a long wait does not look like a hang.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Why `refresh` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to the Kubernetes API")]
    Connect(#[source] kube::Error),
    #[error("WetixCredential {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error("setting {REFRESH_REQUESTED_AT} on WetixCredential {namespace}/{name}")]
    Annotate {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading WetixCredential {namespace}/{name} while waiting")]
    Get {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the operator did not handle the refresh request of {namespace}/{name} within {timeout} \
         (is it running and watching namespace {namespace}?)"
    )]
    Timeout {
        namespace: String,
        name: String,
        timeout: String,
    },
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
}

impl CommandError for Error {
    fn exit(&self) -> Exit {
        match self {
            Self::NotFound { .. } | Self::Timeout { .. } => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// Sets the annotation, then waits for the operator when asked to.
pub async fn run(args: RefreshArgs) -> Result<Exit, Error> {
    let client = super::kube_client().await.map_err(Error::Connect)?;
    let namespace = args
        .namespace
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let name = args.name.clone();
    let api = Api::<WetixCredential>::namespaced(client, &namespace);
    let not_found = || Error::NotFound {
        namespace: namespace.clone(),
        name: name.clone(),
    };

    let requested = rfc3339(Timestamp::now());
    let patched = api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(request_patch(&requested)),
        )
        .await
        .map_err(|source| {
            if is_not_found(&source) {
                not_found()
            } else {
                Error::Annotate {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                }
            }
        })?;
    eprintln!(
        "Requested a refresh of WetixCredential {namespace}/{name} \
         ({REFRESH_REQUESTED_AT}={requested})."
    );
    if patched.spec.suspend {
        eprintln!("Note: the credential is suspended (spec.suspend); WeTix will not be called.");
    }
    if !args.wait {
        return Ok(Exit::Success);
    }

    let timeout = args.timeout.as_duration();
    eprintln!(
        "Waiting up to {} for the operator to handle it...",
        args.timeout
    );
    let started = Instant::now();
    // `checked_add`: an Instant near the end of its range (never seen in practice) only stops
    // the progress lines, never the wait.
    let mut next_progress = started.checked_add(PROGRESS_INTERVAL);
    loop {
        let credential = api
            .get_opt(&name)
            .await
            .map_err(|source| Error::Get {
                namespace: namespace.clone(),
                name: name.clone(),
                source,
            })?
            .ok_or_else(not_found)?;
        if is_handled(&credential, &requested) {
            let (exit, text) = outcome(&credential, Timestamp::now());
            super::print_stdout(&text).map_err(Error::Output)?;
            return Ok(exit);
        }
        let now = Instant::now();
        if now.duration_since(started) >= timeout {
            return Err(Error::Timeout {
                namespace,
                name,
                timeout: args.timeout.to_string(),
            });
        }
        if let Some(due) = next_progress
            && now >= due
        {
            eprintln!(
                "Still waiting ({}s)...",
                now.duration_since(started).as_secs()
            );
            next_progress = due.checked_add(PROGRESS_INTERVAL);
        }
        let left = timeout.saturating_sub(now.duration_since(started));
        tokio::time::sleep(POLL_INTERVAL.min(left)).await;
    }
}

/// The merge patch that asks for a refresh: only the one annotation, so nothing else changes.
pub fn request_patch(requested: &str) -> serde_json::Value {
    json!({"metadata": {"annotations": {REFRESH_REQUESTED_AT: requested}}})
}

/// Whether the operator has handled the request with this value.
pub fn is_handled(credential: &WetixCredential, requested: &str) -> bool {
    credential
        .status
        .as_ref()
        .is_some_and(|s| s.last_refresh_request == requested)
}

/// What a handled request led to, and the exit code: 0 when Ready, 1 otherwise.
pub fn outcome(credential: &WetixCredential, now: Timestamp) -> (Exit, String) {
    let ready = credential.ready_condition();
    let is_ready = ready.is_some_and(|c| c.status == "True");
    let status = credential.status.clone().unwrap_or_default();
    let mut text = match ready {
        Some(c) if c.message.is_empty() => format!("Handled: Ready={} ({})\n", c.status, c.reason),
        Some(c) => format!(
            "Handled: Ready={} ({}): {}\n",
            c.status, c.reason, c.message
        ),
        None => "Handled: no Ready condition yet\n".to_owned(),
    };
    for (label, t) in [
        ("Access token expires:  ", &status.access_token_expires_at),
        ("Refresh token expires: ", &status.refresh_token_expires_at),
        ("Next refresh:          ", &status.next_refresh_time),
    ] {
        text.push_str(label);
        text.push_str(&when(t.as_ref(), now));
        text.push('\n');
    }
    let exit = if is_ready {
        Exit::Success
    } else {
        Exit::Failed
    };
    (exit, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        credential::WetixCredentialStatus,
        fixtures::{at, credential},
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn handled(value: &str, ready: &str, reason: &str, message: &str) -> WetixCredential {
        let mut c = credential();
        c.status = Some(WetixCredentialStatus {
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: reason.into(),
                message: message.into(),
                last_transition_time: Time(at("2026-12-16T10:00:00Z")),
                observed_generation: Some(1),
            }],
            access_token_expires_at: Some(Time(at("2027-02-14T10:00:00Z"))),
            last_refresh_request: value.into(),
            ..WetixCredentialStatus::default()
        });
        c
    }

    #[test]
    fn the_patch_sets_only_the_annotation() {
        assert_eq!(
            request_patch("2026-12-16T10:00:00Z"),
            json!({"metadata": {"annotations": {
                "wetix.my/refresh-requested-at": "2026-12-16T10:00:00Z"
            }}})
        );
    }

    #[test]
    fn a_request_is_handled_once_status_records_its_value() {
        let value = "2026-12-16T10:00:00Z";
        assert!(!is_handled(&credential(), value));
        assert!(!is_handled(
            &handled("2026-12-01T00:00:00Z", "True", "TokenRefreshed", ""),
            value
        ));
        assert!(is_handled(
            &handled(value, "True", "TokenRefreshed", ""),
            value
        ));
    }

    #[test]
    fn ready_exits_zero_and_not_ready_exits_one() {
        let now = at("2026-12-16T10:00:05Z");
        let (exit, text) = outcome(
            &handled("v", "True", "TokenRefreshed", "access token refreshed"),
            now,
        );
        assert_eq!(exit, Exit::Success);
        assert_eq!(
            text,
            "Handled: Ready=True (TokenRefreshed): access token refreshed\n\
             Access token expires:  2027-02-14T10:00:00Z (in 59d)\n\
             Refresh token expires: -\n\
             Next refresh:          -\n"
        );
        let (exit, text) = outcome(&handled("v", "False", "InvalidClient", ""), now);
        assert_eq!(exit, Exit::Failed);
        assert!(
            text.starts_with("Handled: Ready=False (InvalidClient)\n"),
            "{text}"
        );
        let (exit, _) = outcome(&credential(), now);
        assert_eq!(exit, Exit::Failed);
    }

    #[test]
    fn timeout_and_not_found_exit_two() {
        let timeout = Error::Timeout {
            namespace: "shop".into(),
            name: "ticketing".into(),
            timeout: "60s".into(),
        };
        assert_eq!(timeout.exit(), Exit::Usage);
        assert!(timeout.to_string().contains("within 60s"), "{timeout}");
        let missing = Error::NotFound {
            namespace: "shop".into(),
            name: "nope".into(),
        };
        assert_eq!(missing.exit(), Exit::Usage);
        assert_eq!(missing.to_string(), "WetixCredential shop/nope not found");
    }
}
