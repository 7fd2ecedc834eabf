//! The faults the operator's fault matrix adds, each as a client sees it on the wire.

mod common;

use std::time::Duration;

use common::*;
use fake_wetix::{Endpoint, Fault, TokenType};
use serde_json::json;

/// The client-credentials call, without following redirects.
async fn raw_token(wetix: &fake_wetix::FakeWetix) -> reqwest::Result<reqwest::Response> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/auth/token", wetix.url()))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
}

#[tokio::test]
async fn connection_reset_ends_the_call_without_an_answer_and_the_next_is_normal() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::ConnectionReset, 1);
    let error = raw_token(&wetix).await.expect_err("no answer at all");
    assert!(
        !error.is_timeout(),
        "cut at once, not left hanging: {error}"
    );
    assert_eq!(raw_token(&wetix).await.unwrap().status(), 200);
    assert_eq!(wetix.calls().len(), 2);
}

#[tokio::test]
async fn declared_lifetime_changes_only_the_numbers_not_the_jwts() {
    let wetix = wetix(short_lived()).await;
    for seconds in [-5, i64::MAX] {
        wetix.inject(Endpoint::Token, Fault::DeclaredLifetime(seconds), 1);
        let (status, body) = token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
        assert_eq!(status, 200);
        assert_eq!(body["expires_in"], json!(seconds));
        assert_eq!(body["refresh_token_expires_in"], json!(seconds));
        let access = wetix
            .verify_token(str_field(&body, "access_token"))
            .unwrap();
        assert_eq!(
            access.exp - access.iat,
            30,
            "the configured access lifetime"
        );
    }
}

#[tokio::test]
async fn lifetime_beyond_i64_is_an_integer_no_i64_holds() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::LifetimeBeyondI64, 1);
    let (status, body) = token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200);
    for field in ["expires_in", "refresh_token_expires_in"] {
        assert_eq!(body[field].as_u64(), Some(u64::MAX), "{body}");
        assert_eq!(body[field].as_i64(), None);
    }
}

#[tokio::test]
async fn jwt_exp_is_signed_into_both_tokens_and_the_lifetimes_stay() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::JwtExp(1_000), 1);
    let (status, body) = token(&wetix, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 30);
    let access = wetix
        .verify_token(str_field(&body, "access_token"))
        .unwrap();
    let refresh = wetix
        .verify_token(str_field(&body, "refresh_token"))
        .unwrap();
    assert_eq!(
        (access.exp, access.token_type),
        (1_000, TokenType::AccessToken)
    );
    assert_eq!(
        (refresh.exp, refresh.token_type),
        (1_000, TokenType::RefreshToken)
    );
}

#[tokio::test]
async fn redirect_points_at_the_other_hosts_token_path() {
    let wetix = wetix(short_lived()).await;
    let elsewhere = std::net::SocketAddr::from(([127, 0, 0, 2], 4321));
    wetix.inject(Endpoint::Token, Fault::Redirect(elsewhere), 1);
    let response = raw_token(&wetix).await.unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.2:4321/auth/token"
    );
}

#[tokio::test]
async fn oversized_answer_is_chunked_without_a_length_and_at_least_that_large() {
    let wetix = wetix(short_lived()).await;
    wetix.inject(Endpoint::Token, Fault::Oversized(70 * 1024), 1);
    let response = raw_token(&wetix).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let body = response.bytes().await.unwrap();
    assert!(body.len() > 70 * 1024, "{}", body.len());
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        wetix
            .verify_token(str_field(&body, "access_token"))
            .is_some()
    );
    // Not a delay: the next call is answered at once.
    tokio::time::timeout(Duration::from_secs(2), raw_token(&wetix))
        .await
        .expect("answered")
        .unwrap();
}
