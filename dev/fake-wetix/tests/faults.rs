//! Armed faults, each as the operator's client would see it.

mod common;

use std::time::Duration;

use common::*;
use fake_wetix::{Endpoint, Fault};
use serde_json::json;

#[tokio::test]
async fn injected_status_answers_that_many_calls_then_the_server_recovers() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Status(503), 2);
    for _ in 0..2 {
        assert_eq!(
            token(&wetix, CLIENT_ID, CLIENT_SECRET).await,
            (503, json!({"error": "temporarily_unavailable"}))
        );
    }
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
}

#[tokio::test]
async fn injected_500_answers_server_error() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Status(500), 1);
    assert_eq!(
        token(&wetix, CLIENT_ID, CLIENT_SECRET).await,
        (500, json!({"error": "server_error"}))
    );
}

#[tokio::test]
async fn token_fault_leaves_refresh_alone_and_refresh_fault_leaves_token_alone() {
    let wetix = wetix(short_lived()).await;
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    wetix.inject(Endpoint::Token, Fault::Status(500), 1);
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await.0,
        200
    );
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 500);

    wetix.inject(Endpoint::Refresh, Fault::Status(502), 1);
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await.0,
        502
    );
}

#[tokio::test]
async fn fault_for_any_endpoint_counts_calls_to_both() {
    let wetix = wetix(short_lived()).await;
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    wetix.inject(Endpoint::Any, Fault::Status(500), 2);
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 500);
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await.0,
        500
    );
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
}

#[tokio::test]
async fn cleared_faults_no_longer_apply() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Any, Fault::Status(500), 10);
    wetix.clear_faults();
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
}

#[tokio::test]
async fn rate_limited_answers_429_with_retry_after_seconds() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(
        Endpoint::Token,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let response = post(
        &wetix,
        "/auth/token",
        Some((CLIENT_ID, CLIENT_SECRET)),
        json!({"grant_type": "client_credentials"}),
    )
    .await;
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        read(response).await,
        (429, json!({"error": "rate_limited"}))
    );
}

#[tokio::test]
async fn delay_makes_an_impatient_client_time_out_and_the_call_is_still_handled() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Delay(Duration::from_millis(600)), 1);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let outcome = impatient
        .post(format!("{}/auth/token", wetix.url()))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await;
    assert!(outcome.unwrap_err().is_timeout());

    // The server finishes the call after the delay and logs it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while wetix.calls().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delayed call never logged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(wetix.calls()[0].status, 200);
}

#[tokio::test]
async fn delay_then_answers_normally_to_a_patient_client() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Delay(Duration::from_millis(300)), 1);
    let started = std::time::Instant::now();
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn malformed_json_is_a_2xx_whose_body_does_not_parse() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::MalformedJson, 1);
    let response = post(
        &wetix,
        "/auth/token",
        Some((CLIENT_ID, CLIENT_SECRET)),
        json!({"grant_type": "client_credentials"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.bytes().await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
}

#[tokio::test]
async fn missing_field_is_a_2xx_without_exactly_that_field() {
    let wetix = wetix(short_lived()).await;
    let fields = [
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "token_type",
    ];
    for field in fields {
        wetix.inject(Endpoint::Token, Fault::MissingField(field), 1);
        let (status, body) = token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
        assert_eq!(status, 200);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(!keys.contains(&field), "{field} still in {body}");
        assert_eq!(keys.len(), fields.len() - 1, "{body}");
    }
}

#[tokio::test]
async fn wrong_token_type_is_a_2xx_that_is_not_bearer() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::WrongTokenType, 1);
    let (status, body) = token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200);
    assert_ne!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn non_positive_lifetime_is_a_2xx_with_expires_in_zero() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Refresh, Fault::NonPositiveLifetime, 1);
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    let (status, body) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 0);
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn faulty_answer_does_not_spend_the_refresh_token_and_its_tokens_are_unknown() {
    let wetix = wetix(fake_wetix::Settings {
        rotate_refresh_tokens: true,
        ..short_lived()
    })
    .await;
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    wetix.inject(Endpoint::Refresh, Fault::WrongTokenType, 1);
    let (_, faulty) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await;

    let unknown = str_field(&faulty, "refresh_token");
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, unknown).await.0,
        400
    );
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await.0,
        200
    );
}

#[tokio::test]
async fn faults_apply_before_credentials_are_checked() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Status(503), 1);
    assert_eq!(token(&wetix, "stranger", "nope").await.0, 503);
}
