use super::*;
use crate::fixtures::pair;

const SECRET: &str = "s3cr3t-VALUE";

fn args(environment: Option<ServerEnvironment>, url: Option<&str>) -> TokenArgs {
    TokenArgs {
        environment,
        server_url: url.map(str::to_owned),
        token_path: "/auth/token".into(),
        refresh_path: "/auth/refresh".into(),
        refresh_token_file: None,
        client_secret_file: None,
    }
}

#[test]
fn the_client_secret_file_reads_env_file_lines() {
    let text =
        "# WeTix sandbox client\n\n client_id = shop-client \r\nclient_secret=s3cr3t-VALUE=x\r\n";
    let credentials = parse_client_secret_file(text).unwrap();
    assert_eq!(credentials.client_id, "shop-client");
    assert_eq!(credentials.client_secret.expose(), "s3cr3t-VALUE=x");
}

#[test]
fn a_bad_client_secret_file_names_the_line_or_key_never_the_value() {
    let cases = [
        (
            "client_id=a\ns3cr3t-VALUE\n",
            ClientSecretFileError::NotKeyValue { line: 2 },
        ),
        (
            "client_id=a\nclient-secret=s3cr3t-VALUE\n",
            ClientSecretFileError::UnknownKey { line: 2 },
        ),
        (
            "s3cr3t-VALUE=client_secret\n",
            ClientSecretFileError::UnknownKey { line: 1 },
        ),
        (
            "client_secret=s3cr3t-VALUE\nclient_id=a\nclient_secret=s3cr3t-VALUE\n",
            ClientSecretFileError::Duplicate {
                key: "client_secret",
                first: 1,
                again: 3,
            },
        ),
        (
            "client_secret=s3cr3t-VALUE\n",
            ClientSecretFileError::Missing { key: "client_id" },
        ),
        (
            "client_id=a\n",
            ClientSecretFileError::Missing {
                key: "client_secret",
            },
        ),
        (
            "client_id=a\nclient_secret=  \n",
            ClientSecretFileError::Empty {
                key: "client_secret",
            },
        ),
        ("", ClientSecretFileError::Missing { key: "client_id" }),
    ];
    for (text, expected) in cases {
        let err = parse_client_secret_file(text).unwrap_err();
        assert_eq!(err, expected, "{text:?}");
        assert!(!err.to_string().contains("VALUE"), "{err}");
        let wrapped = Error::ClientSecretFile {
            path: "/tmp/wetix-client.env".into(),
            source: err,
        };
        let chain = crate::error_chain::error_chain(&wrapped);
        assert!(
            chain.starts_with("--client-secret-file /tmp/wetix-client.env: "),
            "{chain}"
        );
        assert_eq!(wrapped.exit(), Exit::Usage);
    }
}

#[test]
fn missing_environment_variables_are_named() {
    let cases = [
        (ClientEnv::default(), "WETIX_CLIENT_ID"),
        (
            ClientEnv {
                client_id: Some("shop-client".into()),
                client_secret: None,
            },
            "WETIX_CLIENT_SECRET",
        ),
        (
            ClientEnv {
                client_id: Some("shop-client".into()),
                client_secret: Some(Sensitive::new(" ")),
            },
            "WETIX_CLIENT_SECRET",
        ),
        (
            ClientEnv {
                client_id: Some("".into()),
                client_secret: Some(Sensitive::new(SECRET)),
            },
            "WETIX_CLIENT_ID",
        ),
    ];
    for (env, var) in cases {
        let err = credentials_from_env(env).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(var), "{text}");
        assert!(text.contains("--client-secret-file"), "{text}");
        assert!(!text.contains("VALUE"), "{text}");
        assert_eq!(err.exit(), Exit::Usage);
    }
    let ok = credentials_from_env(ClientEnv {
        client_id: Some("shop-client".into()),
        client_secret: Some(Sensitive::new(SECRET)),
    })
    .unwrap();
    assert_eq!(ok.client_id, "shop-client");
    assert_eq!(ok.client_secret.expose(), SECRET);
}

#[test]
fn the_refresh_token_file_holds_one_token() {
    assert_eq!(
        parse_refresh_token("  r-1.2.3\n").unwrap().expose(),
        "r-1.2.3"
    );
    assert_eq!(parse_refresh_token("\n \n").unwrap_err(), "nothing");
    assert_eq!(
        parse_refresh_token("a b").unwrap_err(),
        "more than one word"
    );
    let err = Error::RefreshTokenFile {
        path: "rt".into(),
        found: "nothing",
    };
    assert_eq!(
        err.to_string(),
        "--refresh-token-file rt: expected exactly one refresh token, found nothing"
    );
}

#[test]
fn the_server_is_an_environment_or_a_checked_url() {
    let endpoint = endpoint_for(&args(Some(ServerEnvironment::Production), None)).unwrap();
    assert_eq!(endpoint.base_url, "https://oauth.wetix.my");
    assert_eq!(endpoint.token_path, "/auth/token");
    let endpoint = endpoint_for(&args(Some(ServerEnvironment::Sandbox), None)).unwrap();
    assert_eq!(endpoint.base_url, "https://sb-oauth.wetix.my");
    for url in [
        "http://127.0.0.1:8090",
        "http://localhost:1",
        "https://oauth.example/",
    ] {
        let endpoint = endpoint_for(&args(None, Some(url))).unwrap();
        assert_eq!(endpoint.base_url, url.trim_end_matches('/'));
    }
    let err = endpoint_for(&args(None, Some("http://oauth.example"))).unwrap_err();
    assert!(matches!(err, Error::InsecureServerUrl { .. }), "{err}");
    assert!(err.to_string().starts_with("--server-url"), "{err}");
    assert_eq!(err.exit(), Exit::Usage);
    let err = endpoint_for(&args(None, Some("oauth.example"))).unwrap_err();
    assert!(matches!(err, Error::MalformedServerUrl { .. }), "{err}");
    assert!(err.to_string().starts_with("--server-url"), "{err}");
}

#[test]
fn the_answer_prints_as_json_with_rfc3339_expiries() {
    let pair = pair("2026-11-25T10:00:00Z", 5_184_000, 31_536_000);
    let printed: serde_json::Value = serde_json::from_str(&render(&pair)).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({
            "access_token": pair.access_token.held().unwrap().expose(),
            "refresh_token": pair.refresh_token.expose(),
            "expires_at": "2027-01-24T10:00:00Z",
            "refresh_token_expires_at": "2027-11-25T10:00:00Z",
            "token_type": "Bearer",
        })
    );
}

#[test]
fn a_refused_request_exits_one_and_names_the_grant() {
    let err = Error::Request {
        grant: "client_credentials",
        source: OAuthError::ClientRejected { status: 401 },
    };
    assert_eq!(err.exit(), Exit::Failed);
    assert_eq!(
        crate::error_chain::error_chain(&err),
        "the client_credentials request to the WeTix OAuth server failed: \
         the WeTix OAuth server rejected the client credentials (HTTP 401)"
    );
}
