//! The call log tests read back.

mod common;

use common::*;
use fake_wetix::{Endpoint, Fault};
use serde_json::json;

#[tokio::test]
async fn call_log_records_endpoint_client_status_and_time_in_order() {
    let wetix = wetix(short_lived()).await;
    let before = jiff::Timestamp::now();
    let first = first_pair(&wetix).await;
    refresh(
        &wetix,
        CLIENT_ID,
        CLIENT_SECRET,
        str_field(&first, "refresh_token"),
    )
    .await;
    token(&wetix, "stranger", "nope").await;
    let after = jiff::Timestamp::now();

    let calls = wetix.calls();
    let seen: Vec<(Endpoint, Option<&str>, u16)> = calls
        .iter()
        .map(|c| (c.endpoint, c.client_id.as_deref(), c.status))
        .collect();
    assert_eq!(
        seen,
        [
            (Endpoint::Token, Some(CLIENT_ID), 200),
            (Endpoint::Refresh, Some(CLIENT_ID), 200),
            (Endpoint::Token, Some("stranger"), 401),
        ]
    );
    assert!(calls.iter().all(|c| before <= c.at && c.at <= after));
    assert!(calls.windows(2).all(|w| w[0].at <= w[1].at));
}

#[tokio::test]
async fn call_without_parsable_basic_auth_is_logged_without_a_client_id() {
    let wetix = wetix(short_lived()).await;
    post(
        &wetix,
        "/auth/token",
        None,
        json!({"grant_type": "client_credentials"}),
    )
    .await;
    let calls = wetix.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].client_id.as_deref(), calls[0].status),
        (None, 401)
    );
}

#[tokio::test]
async fn faulted_calls_are_logged_with_the_status_they_answered() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(
        Endpoint::Token,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(wetix.calls()[0].status, 429);
}

#[tokio::test]
async fn cleared_call_log_starts_empty_and_health_checks_are_not_calls() {
    let wetix = wetix(short_lived()).await;
    first_pair(&wetix).await;
    wetix.clear_calls();
    assert!(wetix.calls().is_empty());
    let health = http()
        .get(format!("{}/healthz", wetix.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(wetix.calls().is_empty());
}

#[tokio::test]
async fn debug_output_never_shows_the_client_secret() {
    let wetix = wetix(short_lived()).await;
    token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
    let printed = format!("{wetix:?} {:?}", wetix.calls());
    assert!(!printed.contains(CLIENT_SECRET), "{printed}");
}
