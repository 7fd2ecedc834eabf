//! What every integration test needs: a started server with one client, and the two calls.
#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fake_wetix::{FakeWetix, Settings};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "shop";
pub const CLIENT_SECRET: &str = "s3cret";

/// Every request gives up after this long, so no test can hang on the server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A server with short lifetimes and the client `shop` registered.
pub async fn wetix(settings: Settings) -> FakeWetix {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let wetix = FakeWetix::start(settings).await.expect("server starts");
    wetix.add_client(CLIENT_ID, CLIENT_SECRET);
    wetix
}

pub fn short_lived() -> Settings {
    Settings {
        access_lifetime: Duration::from_secs(30),
        refresh_lifetime: Duration::from_secs(120),
        ..Settings::default()
    }
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client builds")
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The status and JSON body of a response (`Value::Null` when the body is not JSON).
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body arrives");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// `POST path` with JSON `body` and, when given, Basic credentials.
pub async fn post(
    wetix: &FakeWetix,
    path: &str,
    credentials: Option<(&str, &str)>,
    body: Value,
) -> reqwest::Response {
    let mut request = http().post(format!("{}{path}", wetix.url())).json(&body);
    if let Some((id, secret)) = credentials {
        request = request.header("authorization", basic(id, secret));
    }
    request.send().await.expect("request answered")
}

/// The client-credentials grant as the operator sends it.
pub async fn token(wetix: &FakeWetix, id: &str, secret: &str) -> (u16, Value) {
    let body = json!({"grant_type": "client_credentials"});
    read(post(wetix, "/auth/token", Some((id, secret)), body).await).await
}

/// The refresh grant as the operator sends it.
pub async fn refresh(
    wetix: &FakeWetix,
    id: &str,
    secret: &str,
    refresh_token: &str,
) -> (u16, Value) {
    let body = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
    read(post(wetix, "/auth/refresh", Some((id, secret)), body).await).await
}

/// The shop client's first token pair; panics unless it is a 200.
pub async fn first_pair(wetix: &FakeWetix) -> Value {
    let (status, body) = token(wetix, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub fn str_field<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {body}"))
}
