use super::*;
use crate::fixtures::{at, pair};

fn stored() -> StoredTokens {
    StoredTokens {
        pair: pair("2026-11-25T10:00:00Z", 5_184_000, 31_536_000),
        issued_for: "aaaaaaaaaaaaaaaa".into(),
    }
}

fn context(previous: Option<&WetixCredentialStatus>) -> Context<'_> {
    Context {
        previous,
        generation: Some(4),
        secret_name: "ticketing-token".into(),
        next_refresh: Some(at("2027-01-04T08:31:12Z")),
        last_refresh_request: "".into(),
        now: at("2026-11-25T10:00:00Z"),
    }
}

fn ready(status: &WetixCredentialStatus) -> &Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
}

#[test]
fn after_an_issue_the_status_reads_like_the_contract() {
    let tokens = stored();
    let status = next_status(
        &context(None),
        Outcome::Renewed {
            tokens: &tokens,
            reason: Reason::TokenIssued,
        },
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["observedGeneration"], 4);
    assert_eq!(json["secretName"], "ticketing-token");
    assert_eq!(json["accessTokenExpiresAt"], "2027-01-24T10:00:00Z");
    assert_eq!(json["refreshTokenExpiresAt"], "2027-11-25T10:00:00Z");
    assert_eq!(json["lastRefreshTime"], "2026-11-25T10:00:00Z");
    assert_eq!(json["nextRefreshTime"], "2027-01-04T08:31:12Z");
    assert_eq!(json["failedAttempts"], 0);
    assert_eq!(json["tokenFingerprint"], tokens.pair.fingerprint());
    let c = ready(&status);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "TokenIssued")
    );
    assert_eq!(c.observed_generation, Some(4));
}

#[test]
fn failures_count_attempts_and_keep_the_known_expiry() {
    let tokens = stored();
    let ctx = context(None);
    let first = next_status(
        &ctx,
        Outcome::Failed {
            reason: Reason::ServerUnavailable,
            message: "WeTix answered 503",
            tokens: Some(&tokens),
            attempt: true,
        },
    );
    assert_eq!(first.failed_attempts, 1);
    assert_eq!(first.last_failure_time, Some(Time(ctx.now)));
    let c = ready(&first);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "ServerUnavailable")
    );
    assert!(
        c.message.contains("valid until 2027-01-24T10:00:00Z"),
        "{}",
        c.message
    );
    assert!(first.access_token_expires_at.is_some());

    let second = next_status(
        &context(Some(&first)),
        Outcome::Failed {
            reason: Reason::ServerUnavailable,
            message: "WeTix answered 503",
            tokens: Some(&tokens),
            attempt: true,
        },
    );
    assert_eq!(second.failed_attempts, 2);

    let recovered = next_status(
        &context(Some(&second)),
        Outcome::Renewed {
            tokens: &tokens,
            reason: Reason::TokenRefreshed,
        },
    );
    assert_eq!(recovered.failed_attempts, 0);
    assert_eq!(recovered.last_failure_time, None);
}

#[test]
fn bad_input_does_not_count_as_an_attempt() {
    let status = next_status(
        &context(None),
        Outcome::Failed {
            reason: Reason::ClientSecretNotFound,
            message: "Secret \"wetix-client\" not found",
            tokens: None,
            attempt: false,
        },
    );
    assert_eq!(status.failed_attempts, 0);
    assert_eq!(ready(&status).reason, "ClientSecretNotFound");
    assert_eq!(status.access_token_expires_at, None);
}

#[test]
fn the_transition_time_moves_only_when_ready_changes() {
    let tokens = stored();
    let first = next_status(
        &context(None),
        Outcome::Renewed {
            tokens: &tokens,
            reason: Reason::TokenIssued,
        },
    );
    let mut later = context(Some(&first));
    later.now = at("2026-12-01T00:00:00Z");
    let kept = next_status(&later, Outcome::Kept { tokens: &tokens });
    assert_eq!(
        ready(&kept).last_transition_time,
        ready(&first).last_transition_time
    );
    assert_eq!(ready(&kept).reason, "TokenIssued");
    assert_eq!(kept, next_status(&later, Outcome::Kept { tokens: &tokens }));

    let failed = next_status(
        &later,
        Outcome::Failed {
            reason: Reason::InvalidClient,
            message: "rejected",
            tokens: Some(&tokens),
            attempt: true,
        },
    );
    assert_eq!(ready(&failed).last_transition_time, Time(later.now));
}

#[test]
fn suspended_reports_why_and_keeps_what_the_secret_holds() {
    let tokens = stored();
    let status = next_status(
        &context(None),
        Outcome::Suspended {
            tokens: Some(&tokens),
        },
    );
    assert_eq!(ready(&status).reason, "Suspended");
    assert_eq!(ready(&status).status, "False");
    assert!(status.access_token_expires_at.is_some());
}

#[test]
fn no_token_value_appears_anywhere_in_the_status() {
    let tokens = stored();
    let status = next_status(
        &context(None),
        Outcome::Renewed {
            tokens: &tokens,
            reason: Reason::TokenIssued,
        },
    );
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains(tokens.pair.access_token.held().unwrap().expose()));
    assert!(!text.contains(tokens.pair.refresh_token.expose()));
}

#[test]
fn a_failure_is_recorded_at_the_next_whole_second_so_its_backoff_never_ends_early() {
    let table = [
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"),
        ("2026-11-25T10:00:00.001Z", "2026-11-25T10:00:01Z"),
        ("2026-11-25T10:00:00.999Z", "2026-11-25T10:00:01Z"),
        ("1969-12-31T23:59:59.5Z", "1970-01-01T00:00:00Z"),
    ];
    for (now, recorded) in table {
        assert_eq!(failure_time(at(now)), at(recorded), "{now}");
    }
}
