//! End to end: the real operator binary against the Kubernetes API emulator and the fake
//! WeTix server, with token lifetimes of seconds.

mod support;

use std::time::Duration;

use fake_wetix::{Endpoint, Fault};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_credential_gets_a_managed_secret_with_working_tokens_and_ready_status() {
    let mut stack = Stack::start(3600, 7200).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;

    let credential = stack.wait_ready("ticketing", "TokenIssued").await;
    let data = stack.secret_data("ticketing-token").await;
    let claims = stack
        .wetix
        .verify_token(&data["access_token"])
        .expect("the Secret holds a token WeTix issued");
    assert_eq!(claims.client_key, CLIENT_ID);
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(
        data["authorization"],
        format!("Bearer {}", data["access_token"])
    );
    assert!(!data["refresh_token"].is_empty());

    let status = credential.status.unwrap();
    assert_eq!(status.secret_name.as_deref(), Some("ticketing-token"));
    assert_eq!(status.observed_generation, credential.metadata.generation);
    let expires = status.access_token_expires_at.unwrap().0;
    assert_eq!(
        data["expires_at"],
        wetix_operator::managed_secret::rfc3339(expires)
    );
    assert!(status.next_refresh_time.unwrap().0 < expires);
    assert_eq!(status.failed_attempts, 0);
    assert_eq!(status.token_fingerprint.unwrap().len(), 16);
    assert_eq!(stack.wetix.calls().len(), 1);
    assert!(stack.events_text().await.contains("TokenIssued"));
}
