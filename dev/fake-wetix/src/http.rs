//! The HTTP face: routes, Basic credentials, request bodies, faults, and the call log entry
//! each call leaves behind.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
    TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::Deserialize;

use crate::authority::{GrantError, TokenAnswer};
use crate::server::{Shared, lock};
use crate::{Call, Endpoint, Fault, jwt};

/// WeTix's default paths for the two grants.
pub(crate) const TOKEN_PATH: &str = "/auth/token";
pub(crate) const REFRESH_PATH: &str = "/auth/refresh";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(REFRESH_PATH, post(refresh))
        // For readiness probes when the server runs in a cluster; not a WeTix call, not logged.
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared)
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve_call(shared, Endpoint::Token, headers, body).await
}

async fn refresh(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    serve_call(shared, Endpoint::Refresh, headers, body).await
}

/// Runs the call in its own task, so it is handled and logged to the end even when the client
/// hangs up (a timed-out refresh may still have spent the refresh token, as on a real server).
async fn serve_call(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tokio::spawn(handle(shared, endpoint, headers, body))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn handle(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = shared.clock.now();
    let credentials = basic_credentials(&headers);
    let client_id = credentials.as_ref().map(|c| c.id.clone());
    let fault = lock(&shared.faults).take(endpoint);
    if let Some(Fault::Delay(delay)) = fault {
        shared.delayed.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        shared.delayed.fetch_sub(1, Ordering::SeqCst);
    }
    let replaced = fault.and_then(|f| faulty_answer(&shared, f, client_id.as_deref(), arrived));
    let response = match replaced {
        Some(response) => response,
        None => answer(&shared, endpoint, credentials.as_ref(), &headers, &body),
    };
    let status = response.status().as_u16();
    tracing::info!(
        endpoint = endpoint.as_str(),
        client_id = client_id.as_deref().unwrap_or("-"),
        status,
        "call"
    );
    lock(&shared.calls).push(Call {
        endpoint,
        client_id,
        status,
        at: arrived,
    });
    response
}

/// The normal handling of a call: credentials, then body, then the grant.
fn answer(
    shared: &Shared,
    endpoint: Endpoint,
    credentials: Option<&BasicCredentials>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut authority = lock(&shared.authority);
    let Some(client) = credentials else {
        return refused(GrantError::InvalidClient);
    };
    if let Err(e) = authority.authenticate(&client.id, &client.secret) {
        return refused(e);
    }
    if !is_json(headers) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request");
    }
    let Ok(request) = serde_json::from_slice::<GrantRequest>(body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let now = shared.clock.now();
    match (endpoint, request.grant_type.as_str(), request.refresh_token) {
        (Endpoint::Token, "client_credentials", _) => {
            granted(authority.client_credentials(&client.id, now))
        }
        (Endpoint::Refresh, "refresh_token", Some(token)) => {
            match authority.refresh(&client.id, &token, now) {
                Ok(answer) => granted(answer),
                Err(e) => refused(e),
            }
        }
        (Endpoint::Refresh, "refresh_token", None) => {
            error(StatusCode::BAD_REQUEST, "invalid_request")
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// What an armed fault answers instead; `None` when the fault only delays the normal answer.
fn faulty_answer(
    shared: &Shared,
    fault: Fault,
    client_id: Option<&str>,
    now: Timestamp,
) -> Option<Response> {
    let pair = || lock(&shared.authority).unrecorded_pair(client_id.unwrap_or("unknown"), now);
    let response = match fault {
        Fault::Delay(_) => return None,
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|s| !s.is_informational())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(status, error_code(status))
        }
        Fault::RateLimited { retry_after_secs } => (
            [(RETRY_AFTER, retry_after_secs.to_string())],
            error(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        )
            .into_response(),
        Fault::MalformedJson => (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/json")],
            r#"{"access_token":"#,
        )
            .into_response(),
        Fault::MissingField(field) => {
            let mut body = serde_json::to_value(pair()).expect("token answers serialize");
            if let Some(fields) = body.as_object_mut() {
                fields.remove(field);
            }
            json(StatusCode::OK, &body)
        }
        Fault::WrongTokenType => granted(TokenAnswer {
            token_type: "MAC",
            ..pair()
        }),
        Fault::NonPositiveLifetime => granted(TokenAnswer {
            expires_in: 0,
            ..pair()
        }),

        // The fault matrix's answers.
        Fault::ConnectionReset => cut_connection(),
        Fault::DeclaredLifetime(seconds) => granted(TokenAnswer {
            expires_in: seconds,
            refresh_token_expires_in: seconds,
            ..pair()
        }),
        Fault::LifetimeBeyondI64 => {
            let mut body = serde_json::to_value(pair()).expect("token answers serialize");
            for field in ["expires_in", "refresh_token_expires_in"] {
                body[field] = serde_json::Value::from(u64::MAX);
            }
            json(StatusCode::OK, &body)
        }
        Fault::JwtExp(exp) => {
            let key = lock(&shared.authority).signing_key().to_vec();
            let mut answer = pair();
            for token in [&mut answer.access_token, &mut answer.refresh_token] {
                if let Some(claims) = jwt::verify(&key, token) {
                    *token = jwt::sign(&key, &jwt::Claims { exp, ..claims });
                }
            }
            granted(answer)
        }
        Fault::Redirect(to) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(LOCATION, format!("http://{to}{TOKEN_PATH}"))],
        )
            .into_response(),
        Fault::Oversized(bytes) => {
            let mut body = serde_json::to_value(pair()).expect("token answers serialize");
            body["padding"] = serde_json::Value::from("x".repeat(bytes));
            let body = serde_json::to_vec(&body).expect("answers serialize");
            // Through a stream, so the size is not known up front and no length is sent.
            let body =
                axum::body::Body::from_stream(axum::body::Body::from(body).into_data_stream());
            (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
    };
    Some(response)
}

/// An answer hyper refuses to send: `Transfer-Encoding` followed by `Content-Length` makes it
/// drop the connection before writing a byte, which is what a reset looks like to the client.
fn cut_connection() -> Response {
    (
        StatusCode::OK,
        [(TRANSFER_ENCODING, "chunked"), (CONTENT_LENGTH, "0")],
    )
        .into_response()
}

#[derive(Deserialize)]
struct GrantRequest {
    grant_type: String,
    refresh_token: Option<String>,
}

/// The id and secret from `Authorization: Basic base64(id:secret)`. Deliberately not `Debug`.
struct BasicCredentials {
    id: String,
    secret: String,
}

/// `None` when the header is missing, not Basic, not base64, not UTF-8, lacks the `:`, or
/// names an empty client id.
fn basic_credentials(headers: &HeaderMap) -> Option<BasicCredentials> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    if id.is_empty() {
        return None;
    }
    Some(BasicCredentials {
        id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn granted(answer: TokenAnswer) -> Response {
    json(StatusCode::OK, &answer)
}

fn refused(error: GrantError) -> Response {
    match error {
        GrantError::InvalidClient => (
            [(WWW_AUTHENTICATE, r#"Basic realm="wetix""#)],
            self::error(StatusCode::UNAUTHORIZED, "invalid_client"),
        )
            .into_response(),
        GrantError::InvalidGrant => self::error(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    json(status, &serde_json::json!({ "error": code }))
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(body).expect("answers serialize");
    (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The OAuth error code an injected status answers with.
fn error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "invalid_client",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
        s if s.is_server_error() => "server_error",
        _ => "injected_fault",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let c = basic_credentials(&headers(&basic("shop:a:b"))).unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("shop", "a:b"));
    }

    #[test]
    fn basic_scheme_is_case_insensitive() {
        let value = basic("shop:s").replacen("Basic", "basic", 1);
        assert!(basic_credentials(&headers(&value)).is_some());
    }

    #[test]
    fn malformed_authorization_gives_no_credentials() {
        let cases = [
            "Bearer abc".to_owned(),
            "Basic".to_owned(),
            "Basic !!!not-base64".to_owned(),
            basic("no-colon"),
            basic(":secret-without-id"),
        ];
        for value in cases {
            assert!(basic_credentials(&headers(&value)).is_none(), "{value}");
        }
        assert!(basic_credentials(&HeaderMap::new()).is_none());
    }

    #[test]
    fn json_content_type_allows_parameters_and_case() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
