//! The two WeTix grants over HTTP, as the operator's client meets them.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use fake_wetix::{FakeWetix, Settings, TokenType};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Checks the HS256 signature with nothing but the key, as any JWT library would, and returns
/// the header and payload.
fn verify_hs256(key: &[u8], token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("signature verifies");
    let decode =
        |part: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

#[tokio::test]
async fn client_credentials_answers_a_bearer_pair_with_the_configured_lifetimes() {
    let wetix = wetix(short_lived()).await;
    let response = post(
        &wetix,
        "/auth/token",
        Some((CLIENT_ID, CLIENT_SECRET)),
        json!({"grant_type": "client_credentials"}),
    )
    .await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (status, body) = read(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 30);
    assert_eq!(body["refresh_token_expires_in"], 120);
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
}

#[tokio::test]
async fn default_settings_answer_wetix_production_lifetimes() {
    let wetix = wetix(Settings::default()).await;
    let body = first_pair(&wetix).await;
    assert_eq!(body["expires_in"], 5_184_000);
    assert_eq!(body["refresh_token_expires_in"], 31_536_000);
}

#[tokio::test]
async fn tokens_are_hs256_jwts_with_wetix_claims_and_a_verifiable_signature() {
    let wetix = wetix(short_lived()).await;
    let before = jiff::Timestamp::now().as_second();
    let body = first_pair(&wetix).await;
    let after = jiff::Timestamp::now().as_second();

    let (header, access) = verify_hs256(&wetix.signing_key(), str_field(&body, "access_token"));
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(access["tokenType"], "ACCESS_TOKEN");
    assert_eq!(access["iss"], "https://oauth.wetix.my");
    assert_eq!(access["aud"], "wetix-open-api");
    assert_eq!(access["client_key"], CLIENT_ID);
    let iat = access["iat"].as_i64().unwrap();
    assert!((before..=after).contains(&iat));
    assert_eq!(access["nbf"].as_i64(), Some(iat));
    assert_eq!(access["exp"].as_i64(), Some(iat + 30));
    assert!(access["jti"].is_string());

    let (_, refresh) = verify_hs256(&wetix.signing_key(), str_field(&body, "refresh_token"));
    assert_eq!(refresh["tokenType"], "REFRESH_TOKEN");
    assert_eq!(
        refresh["exp"].as_i64(),
        Some(refresh["iat"].as_i64().unwrap() + 120)
    );

    let claims = wetix
        .verify_token(str_field(&body, "refresh_token"))
        .unwrap();
    assert_eq!(claims.token_type, TokenType::RefreshToken);
}

#[tokio::test]
async fn issuer_and_audience_come_from_the_settings() {
    let wetix = wetix(Settings {
        issuer: "https://sb-oauth.wetix.my".into(),
        audience: "sandbox".into(),
        ..short_lived()
    })
    .await;
    let body = first_pair(&wetix).await;
    let claims = wetix
        .verify_token(str_field(&body, "access_token"))
        .unwrap();
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str()),
        ("https://sb-oauth.wetix.my", "sandbox")
    );
}

#[tokio::test]
async fn tokens_issued_back_to_back_all_differ() {
    let wetix = wetix(short_lived()).await;
    let a = first_pair(&wetix).await;
    let b = first_pair(&wetix).await;
    assert_ne!(a["access_token"], b["access_token"]);
    assert_ne!(a["refresh_token"], b["refresh_token"]);
}

#[tokio::test]
async fn another_servers_tokens_do_not_verify() {
    let one = wetix(short_lived()).await;
    let other = wetix(short_lived()).await;
    let body = first_pair(&one).await;
    assert!(
        other
            .verify_token(str_field(&body, "access_token"))
            .is_none()
    );
}

#[tokio::test]
async fn non_rotating_refresh_returns_the_same_refresh_token_with_the_full_lifetime() {
    let wetix = wetix(short_lived()).await;
    let first = first_pair(&wetix).await;
    let refresh_token = str_field(&first, "refresh_token");

    for _ in 0..2 {
        let (status, body) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, refresh_token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], refresh_token);
        assert_eq!(body["refresh_token_expires_in"], 120);
        assert_eq!(body["expires_in"], 30);
        assert_eq!(body["token_type"], "Bearer");
        assert_ne!(body["access_token"], first["access_token"]);
    }
}

#[tokio::test]
async fn rotating_refresh_spends_the_old_refresh_token() {
    let wetix = wetix(Settings {
        rotate_refresh_tokens: true,
        ..short_lived()
    })
    .await;
    let first = first_pair(&wetix).await;
    let old = str_field(&first, "refresh_token");

    let (status, rotated) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, old).await;
    assert_eq!(status, 200);
    let new = str_field(&rotated, "refresh_token");
    assert_ne!(new, old);

    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, old).await,
        (400, json!({"error": "invalid_grant"}))
    );
    assert_eq!(refresh(&wetix, CLIENT_ID, CLIENT_SECRET, new).await.0, 200);
}

#[tokio::test]
async fn rotation_switched_on_later_applies_to_the_next_refresh() {
    let wetix = wetix(short_lived()).await;
    let first = first_pair(&wetix).await;
    let old = str_field(&first, "refresh_token");
    wetix.set_rotation(true);
    let (_, body) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, old).await;
    assert_ne!(body["refresh_token"], old);
    assert_eq!(refresh(&wetix, CLIENT_ID, CLIENT_SECRET, old).await.0, 400);
}

#[tokio::test]
async fn expired_refresh_token_is_rejected_with_invalid_grant() {
    let wetix = wetix(Settings {
        refresh_lifetime: Duration::from_secs(1),
        ..short_lived()
    })
    .await;
    let first = first_pair(&wetix).await;
    let refresh_token = str_field(&first, "refresh_token");
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, refresh_token)
            .await
            .0,
        200
    );

    wetix.clock().advance(Duration::from_millis(1_200));

    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, refresh_token).await,
        (400, json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn new_lifetimes_apply_to_tokens_issued_afterwards() {
    let wetix = wetix(short_lived()).await;
    wetix.set_lifetimes(Duration::from_secs(7), Duration::from_secs(9));
    let body = first_pair(&wetix).await;
    assert_eq!(
        (
            body["expires_in"].as_i64(),
            body["refresh_token_expires_in"].as_i64()
        ),
        (Some(7), Some(9))
    );
}

#[tokio::test]
async fn refresh_token_of_another_client_is_rejected_with_invalid_grant() {
    let wetix = wetix(short_lived()).await;
    wetix.add_client("other", "other-secret");
    let theirs = wetix.mint_refresh_token("other");
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &theirs).await,
        (400, json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn unknown_refresh_token_is_rejected_with_invalid_grant() {
    let wetix = wetix(short_lived()).await;
    assert_eq!(
        refresh(&wetix, CLIENT_ID, CLIENT_SECRET, "not-a-token").await,
        (400, json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn minted_refresh_token_is_accepted_without_a_prior_call() {
    let wetix = wetix(short_lived()).await;
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    assert!(wetix.calls().is_empty(), "minting is not a call");
    let (status, body) = refresh(&wetix, CLIENT_ID, CLIENT_SECRET, &minted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], minted.as_str());
}

#[tokio::test]
async fn revoked_refresh_tokens_are_rejected_and_client_credentials_still_work() {
    let wetix = wetix(short_lived()).await;
    let first = first_pair(&wetix).await;
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    wetix.revoke_refresh_tokens(CLIENT_ID);
    for token in [str_field(&first, "refresh_token"), minted.as_str()] {
        assert_eq!(
            refresh(&wetix, CLIENT_ID, CLIENT_SECRET, token).await.0,
            400
        );
    }
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 200);
}

#[tokio::test]
async fn wrong_secret_or_unknown_client_gets_401_invalid_client() {
    let wetix = wetix(short_lived()).await;
    let invalid_client = (401, json!({"error": "invalid_client"}));
    assert_eq!(token(&wetix, CLIENT_ID, "wrong").await, invalid_client);
    assert_eq!(
        token(&wetix, "stranger", CLIENT_SECRET).await,
        invalid_client
    );
    let minted = wetix.mint_refresh_token(CLIENT_ID);
    assert_eq!(
        refresh(&wetix, CLIENT_ID, "wrong", &minted).await,
        invalid_client
    );
}

#[tokio::test]
async fn removed_client_gets_401_and_readding_it_with_a_new_secret_works() {
    let wetix = wetix(short_lived()).await;
    wetix.remove_client(CLIENT_ID);
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 401);
    wetix.add_client(CLIENT_ID, "rotated");
    assert_eq!(token(&wetix, CLIENT_ID, CLIENT_SECRET).await.0, 401);
    assert_eq!(token(&wetix, CLIENT_ID, "rotated").await.0, 200);
}

#[tokio::test]
async fn missing_or_malformed_basic_auth_gets_401_invalid_client() {
    let wetix = wetix(short_lived()).await;
    let body = json!({"grant_type": "client_credentials"});
    let missing = post(&wetix, "/auth/token", None, body.clone()).await;
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Basic realm="wetix""#
    );
    assert_eq!(
        read(missing).await,
        (401, json!({"error": "invalid_client"}))
    );

    for authorization in ["Bearer abc", "Basic %%%", "Basic c2hvcA=="] {
        let response = http()
            .post(format!("{}/auth/token", wetix.url()))
            .header("authorization", authorization)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization}");
    }
}

#[tokio::test]
async fn wrong_grant_type_gets_400_unsupported_grant_type() {
    let wetix = wetix(short_lived()).await;
    let creds = Some((CLIENT_ID, CLIENT_SECRET));
    let cases = [
        ("/auth/token", json!({"grant_type": "password"})),
        (
            "/auth/token",
            json!({"grant_type": "refresh_token", "refresh_token": "x"}),
        ),
        ("/auth/refresh", json!({"grant_type": "client_credentials"})),
    ];
    for (path, body) in cases {
        assert_eq!(
            read(post(&wetix, path, creds, body.clone()).await).await,
            (400, json!({"error": "unsupported_grant_type"})),
            "{path} {body}"
        );
    }
}

#[tokio::test]
async fn malformed_body_gets_400_invalid_request() {
    let wetix = wetix(short_lived()).await;
    let creds = Some((CLIENT_ID, CLIENT_SECRET));
    let cases = [
        ("/auth/token", json!({})),
        ("/auth/token", json!("client_credentials")),
        ("/auth/refresh", json!({"grant_type": "refresh_token"})),
        (
            "/auth/refresh",
            json!({"grant_type": "refresh_token", "refresh_token": 7}),
        ),
    ];
    for (path, body) in cases {
        assert_eq!(
            read(post(&wetix, path, creds, body.clone()).await).await,
            (400, json!({"error": "invalid_request"})),
            "{path} {body}"
        );
    }
    let not_json = http()
        .post(format!("{}/auth/token", wetix.url()))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .header("content-type", "application/json")
        .body("{grant_type")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
}

#[tokio::test]
async fn body_without_json_content_type_gets_415() {
    let wetix = wetix(short_lived()).await;
    let response = http()
        .post(format!("{}/auth/token", wetix.url()))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn url_has_no_trailing_slash_and_shutdown_stops_accepting() {
    let wetix = FakeWetix::start(short_lived()).await.unwrap();
    let url = wetix.url();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with('/'),
        "{url}"
    );
    assert_eq!(
        http()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    wetix.shutdown();

    // A fresh client each time: a pooled keep-alive connection would hide the closed listener.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        if client.get(format!("{url}/healthz")).send().await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server still answers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
