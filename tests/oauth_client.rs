//! The real OAuth client against a local stand-in server: what goes on the wire, and what each
//! kind of answer (or silence) becomes.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use wetix_operator::oauth::{
    ClientCredentials, Endpoint, Grant, HttpTokenIssuer, InvalidResponse, OAuthError, TokenIssuer,
    TokenRequest, TransientCause,
};
use wetix_operator::tokens::Lifetime;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "shop-client";
const CLIENT_SECRET: &str = "cl1ent-s3cret-NEVER-LOG";
const ACCESS: &str = "acc3ss-t0ken-NEVER-LOG";
const REFRESH: &str = "refr3sh-t0ken-NEVER-LOG";
/// base64("shop-client:cl1ent-s3cret-NEVER-LOG")
const BASIC: &str = "Basic c2hvcC1jbGllbnQ6Y2wxZW50LXMzY3JldC1ORVZFUi1MT0c=";

fn issuer() -> HttpTokenIssuer {
    wetix_test_kit::tls::install_crypto_provider();
    HttpTokenIssuer::new().unwrap()
}

fn request(base_url: &str, grant: Grant) -> TokenRequest {
    TokenRequest {
        endpoint: Endpoint {
            base_url: base_url.to_string(),
            token_path: "/auth/token".into(),
            refresh_path: "/auth/refresh".into(),
        },
        credentials: ClientCredentials {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        },
        grant,
    }
}

fn refresh_grant() -> Grant {
    Grant::Refresh {
        refresh_token: REFRESH.into(),
        current: None,
    }
}

fn wetix_answer(access: &str, refresh: &str) -> serde_json::Value {
    json!({
        "access_token": access,
        "expires_in": 5_184_000,
        "refresh_token": refresh,
        "refresh_token_expires_in": 31_536_000,
        "token_type": "Bearer",
    })
}

async fn answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn client_credentials_posts_the_documented_request_and_returns_the_pair() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"grant_type": "client_credentials"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(wetix_answer(ACCESS, REFRESH)))
        .expect(1)
        .mount(&server)
        .await;

    let before = Timestamp::now();
    let pair = issuer()
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap();
    let after = Timestamp::now();

    assert_eq!(pair.access_token.held().map(|t| t.expose()), Some(ACCESS));
    assert_eq!(pair.refresh_token.expose(), REFRESH);
    let sixty_days = SignedDuration::from_hours(24 * 60);
    assert!(pair.access.issued_at >= before && pair.access.issued_at <= after);
    assert_eq!(pair.access.expires_at, pair.access.issued_at + sixty_days);
    assert_eq!(
        pair.refresh.expires_at,
        pair.refresh.issued_at + SignedDuration::from_hours(24 * 365)
    );

    let received = server.received_requests().await.unwrap();
    let sent = &received[0];
    assert_eq!(
        std::str::from_utf8(&sent.body).unwrap(),
        r#"{"grant_type":"client_credentials"}"#
    );
    let user_agent = sent.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(user_agent.starts_with("wetix-operator/"), "{user_agent}");
    assert_eq!(sent.url.query(), None);
}

#[tokio::test]
async fn refresh_posts_the_refresh_token_to_the_refresh_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/refresh"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"grant_type": "refresh_token", "refresh_token": REFRESH}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(wetix_answer("new-access", REFRESH)))
        .expect(1)
        .mount(&server)
        .await;

    let current = Lifetime {
        issued_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        expires_at: "2027-01-01T00:00:00Z".parse().unwrap(),
    };
    let grant = Grant::Refresh {
        refresh_token: REFRESH.into(),
        current: Some(current),
    };
    let pair = issuer()
        .request(request(&server.uri(), grant))
        .await
        .unwrap();

    assert_eq!(
        pair.access_token.held().map(|t| t.expose()),
        Some("new-access")
    );
    // The same refresh token came back: its known lifetime stands.
    assert_eq!(pair.refresh, current);
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        std::str::from_utf8(&received[0].body).unwrap(),
        format!(r#"{{"grant_type":"refresh_token","refresh_token":"{REFRESH}"}}"#)
    );
}

#[tokio::test]
async fn each_status_becomes_the_error_the_contract_names() {
    let cases = [
        (Grant::ClientCredentials, 400, "ReauthorizationRequired"),
        (Grant::ClientCredentials, 401, "InvalidClient"),
        (Grant::ClientCredentials, 403, "InvalidClient"),
        (Grant::ClientCredentials, 404, "InvalidServerResponse"),
        (Grant::ClientCredentials, 500, "ServerUnavailable"),
        (refresh_grant(), 400, "RefreshTokenRejected"),
        (refresh_grant(), 401, "RefreshTokenRejected"),
        (refresh_grant(), 502, "ServerUnavailable"),
        (refresh_grant(), 408, "ServerUnavailable"),
    ];
    let issuer = issuer();
    for (grant, status, reason) in cases {
        let server = answering(status).await;
        let label = grant.label();
        let err = issuer
            .request(request(&server.uri(), grant))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), reason, "{label} {status}");
        assert_eq!(err.status(), Some(status), "{label} {status}");
    }
}

#[tokio::test]
async fn a_429_carries_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "17"))
        .mount(&server)
        .await;

    let err = issuer()
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap_err();

    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
    assert!(matches!(
        err,
        OAuthError::Transient {
            cause: TransientCause::Status(429),
            ..
        }
    ));
}

#[tokio::test]
async fn a_503_with_an_http_date_retry_after_is_honoured() {
    let server = MockServer::start().await;
    let at = Timestamp::now() + SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", date.as_str()))
        .mount(&server)
        .await;

    let err = issuer()
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap_err();

    let wait = err.retry_after().expect("retry_after");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(wetix_answer(ACCESS, REFRESH))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    wetix_test_kit::tls::install_crypto_provider();
    let issuer = HttpTokenIssuer::with_timeout(Duration::from_millis(200)).unwrap();

    let started = std::time::Instant::now();
    let err = issuer
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            err,
            OAuthError::Transient {
                cause: TransientCause::Timeout,
                retry_after: None
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "ServerUnavailable");
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port that was just free and has nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = issuer()
        .request(request(
            &format!("http://127.0.0.1:{port}"),
            Grant::ClientCredentials,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Transient {
                cause: TransientCause::Connect,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_credentials_never_reach_another_host() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(wetix_answer(ACCESS, REFRESH)))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/auth/token", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;

    let err = issuer()
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap_err();

    assert!(
        matches!(err, OAuthError::UnexpectedStatus { status: 307 }),
        "{err:?}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unusable_2xx_answer_is_an_invalid_response_naming_the_field() {
    let cases = [
        (
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
            InvalidResponse::NotJson,
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": ACCESS, "expires_in": 5_184_000, "refresh_token": REFRESH,
                "refresh_token_expires_in": 31_536_000,
            })),
            InvalidResponse::Missing {
                field: "token_type",
            },
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": ACCESS, "expires_in": 0, "refresh_token": REFRESH,
                "refresh_token_expires_in": 31_536_000, "token_type": "Bearer",
            })),
            InvalidResponse::NonPositiveLifetime {
                field: "expires_in",
            },
        ),
        (
            ResponseTemplate::new(200).set_body_string("x".repeat(100 * 1024)),
            InvalidResponse::TooLarge { limit: 64 * 1024 },
        ),
    ];
    let issuer = issuer();
    for (template, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let err = issuer
            .request(request(&server.uri(), Grant::ClientCredentials))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "InvalidServerResponse");
        match err {
            OAuthError::InvalidResponse(invalid) => assert_eq!(invalid, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
}

/// Every error the client can produce, by way of the real client where possible.
async fn every_error() -> Vec<OAuthError> {
    let issuer = issuer();
    let mut errors = Vec::new();
    for status in [400, 401, 403, 404, 408, 429, 500, 503] {
        for grant in [Grant::ClientCredentials, refresh_grant()] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(status)
                        .insert_header("retry-after", "3")
                        // A server echoing what it was sent must not get it into our errors.
                        .set_body_string(format!("{CLIENT_SECRET} {REFRESH} {BASIC}")),
                )
                .mount(&server)
                .await;
            errors.push(
                issuer
                    .request(request(&server.uri(), grant))
                    .await
                    .unwrap_err(),
            );
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS, "expires_in": "not a number", "refresh_token": REFRESH,
        })))
        .mount(&server)
        .await;
    errors.push(
        issuer
            .request(request(&server.uri(), refresh_grant()))
            .await
            .unwrap_err(),
    );
    errors.push(
        issuer
            .request(request(
                "http://127.0.0.1:1/?secret=x",
                Grant::ClientCredentials,
            ))
            .await
            .unwrap_err(),
    );
    let unparsable = issuer
        .request(request("not a url?secret=x", Grant::ClientCredentials))
        .await
        .unwrap_err();
    assert_eq!(unparsable.reason(), "InternalError", "{unparsable:?}");
    errors.push(unparsable);
    errors
}

fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = format!("{error} | {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause} | {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn no_error_or_request_ever_shows_the_secret_or_a_token() {
    let forbidden = [
        CLIENT_SECRET,
        ACCESS,
        REFRESH,
        BASIC,
        "c2hvcC1jbGllbnQ6",
        "secret=x",
    ];
    let mut texts: Vec<String> = every_error()
        .await
        .iter()
        .map(|e| with_sources(e))
        .collect();
    for grant in [Grant::ClientCredentials, refresh_grant()] {
        let request = request("https://sb-oauth.wetix.my", grant);
        texts.push(format!("{request:?} {:?}", request.grant));
        texts.push(format!("{:?}", request.credentials));
    }
    assert!(texts.len() > 18);
    for text in &texts {
        for value in forbidden {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
    }
}

#[tokio::test]
async fn no_redirect_status_is_followed_to_another_host() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(wetix_answer(ACCESS, REFRESH)))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let issuer = issuer();
    for status in [300, 301, 302, 303, 304, 307, 308] {
        for grant in [Grant::ClientCredentials, refresh_grant()] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(status).insert_header(
                    "location",
                    format!("{}/auth/token", elsewhere.uri()).as_str(),
                ))
                .mount(&server)
                .await;
            let label = grant.label();
            let err = issuer
                .request(request(&server.uri(), grant))
                .await
                .unwrap_err();
            assert!(
                matches!(err, OAuthError::UnexpectedStatus { status: s } if s == status),
                "{label} {status}: {err:?}"
            );
            assert_eq!(err.reason(), "InvalidServerResponse", "{label} {status}");
        }
    }
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

/// What a 200 answer with this body becomes.
async fn answer_to(
    template: ResponseTemplate,
) -> Result<wetix_operator::tokens::TokenPair, OAuthError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    issuer()
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
}

fn invalid(result: Result<wetix_operator::tokens::TokenPair, OAuthError>) -> InvalidResponse {
    match result {
        Err(OAuthError::InvalidResponse(invalid)) => invalid,
        other => panic!("expected an invalid response, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() {
    let limit = wetix_operator::oauth::MAX_RESPONSE_BYTES;
    // A JSON object padded with spaces to exactly `limit` bytes: read and parsed.
    let body = serde_json::to_string(&wetix_answer(ACCESS, REFRESH)).unwrap();
    let padded = format!("{body}{}", " ".repeat(limit - body.len()));
    assert_eq!(padded.len(), limit);
    let pair =
        answer_to(ResponseTemplate::new(200).set_body_raw(padded.clone(), "application/json"))
            .await
            .unwrap();
    assert_eq!(pair.access_token.held().map(|t| t.expose()), Some(ACCESS));
    let over = format!("{padded} ");
    assert_eq!(
        invalid(answer_to(ResponseTemplate::new(200).set_body_raw(over, "application/json")).await),
        InvalidResponse::TooLarge { limit }
    );
}

/// A server speaking raw HTTP/1.1: answers every connection with `head` and then `body`
/// (as many times as `repeat` says), then closes.
async fn raw_server(head: &'static str, body: Vec<u8>, repeat: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..repeat {
                    if socket.write_all(&body).await.is_err() {
                        return;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn an_oversized_body_without_a_length_or_with_a_huge_one_is_refused() {
    let limit = wetix_operator::oauth::MAX_RESPONSE_BYTES;
    // Chunked, no Content-Length: 16 KiB chunks, 1 GiB in all, cut off past the limit.
    let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', 16 * 1024));
    chunk.extend_from_slice(b"\r\n");
    let chunked = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        64 * 1024,
    )
    .await;
    // A Content-Length of a petabyte, refused before a byte of it is read. (One beyond what
    // the HTTP library accepts at all, near u64::MAX, fails there, as a transport error.)
    let huge = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000000000000\r\n\r\n",
        b"{}".to_vec(),
        1,
    )
    .await;
    let issuer = issuer();
    for (url, which) in [(chunked, "chunked"), (huge, "huge")] {
        let started = std::time::Instant::now();
        let err = issuer
            .request(request(&url, Grant::ClientCredentials))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OAuthError::InvalidResponse(InvalidResponse::TooLarge { limit: l }) if *l == limit),
            "{which} {url}: {err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{url}");
    }
}

#[tokio::test]
async fn retry_after_extremes_from_the_server_are_capped_or_ignored() {
    let cap = Some(wetix_operator::oauth::MAX_RETRY_AFTER);
    let cases = [
        ("99999999999999999999", cap),
        ("18446744073709551616", cap),
        ("Fri, 31 Dec 9999 23:59:59 GMT", cap),
        ("Mon, 01 Jan 0001 00:00:00 GMT", Some(Duration::ZERO)),
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
    ];
    let issuer = issuer();
    for (value, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", value))
            .mount(&server)
            .await;
        let err = issuer
            .request(request(&server.uri(), Grant::ClientCredentials))
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{value:?}: {err:?}");
        assert_eq!(err.retry_after(), expected, "{value:?}");
    }
    // Bytes that are not text are no header value at all.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header(
            "retry-after",
            http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        ))
        .mount(&server)
        .await;
    let err = issuer
        .request(request(&server.uri(), Grant::ClientCredentials))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn lifetimes_and_claims_beyond_range_are_refused_or_ignored_never_a_panic() {
    let jwt = |claims: serde_json::Value| {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.c2ln")
    };
    let with = |field: &str, value: serde_json::Value| {
        let mut answer = wetix_answer(ACCESS, REFRESH);
        answer[field] = value;
        answer
    };
    let refused = [
        (
            with("expires_in", json!(i64::MAX)),
            InvalidResponse::LifetimeOutOfRange {
                field: "expires_in",
            },
        ),
        (
            with("expires_in", json!(u64::MAX)),
            InvalidResponse::LifetimeOutOfRange {
                field: "expires_in",
            },
        ),
        (
            with("refresh_token_expires_in", json!(1e300)),
            InvalidResponse::LifetimeOutOfRange {
                field: "refresh_token_expires_in",
            },
        ),
        (
            with("expires_in", json!(i64::MIN)),
            InvalidResponse::NonPositiveLifetime {
                field: "expires_in",
            },
        ),
        (
            with("access_token", json!(jwt(json!({"exp": -1})))),
            InvalidResponse::AlreadyExpired {
                field: "access_token",
            },
        ),
    ];
    for (answer, expected) in refused {
        let got = invalid(answer_to(ResponseTemplate::new(200).set_body_json(answer)).await);
        assert_eq!(got, expected);
        assert!(!got.to_string().contains("9223372036854775807"), "{got}");
    }
    // Absurd claims are not believed; expires_in (60 days) decides.
    for exp in [json!(1e300), json!(u64::MAX), json!("x"), json!(i64::MIN)] {
        let answer = with("access_token", json!(jwt(json!({"exp": exp, "iat": exp}))));
        let pair = answer_to(ResponseTemplate::new(200).set_body_json(answer))
            .await
            .unwrap();
        assert_eq!(
            pair.access.expires_at,
            pair.access.issued_at + SignedDuration::from_hours(24 * 60),
            "{exp}"
        );
    }
}
