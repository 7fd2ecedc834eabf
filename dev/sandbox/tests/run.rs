//! The whole sandbox, run as `cargo run -p wetix-sandbox` would, with lifetimes of seconds.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use wetix_sandbox::{Options, Summary, run};
use wetix_test_kit::TempDir;

/// The longest run of characters a token is made of (base64url and the JWT dots).
fn longest_token_like_run(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_shows_issue_and_one_renewal_with_masked_tokens_and_stops_cleanly() {
    let dir = TempDir::new("wetix-sandbox");
    let options = Options {
        dir: dir.path().to_owned(),
        // Renewal times are whole seconds, so a shorter access lifetime may renew within the
        // first second, before the issued state can be seen; 5 s renews 2-3 s after issue.
        access_lifetime: Duration::from_secs(5),
        refresh_lifetime: Duration::from_secs(30),
        renewals: Some(1),
        api_address: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    };
    let mut out = Vec::new();
    let summary = tokio::time::timeout(
        Duration::from_secs(20),
        run(&options, &mut out, std::future::pending()),
    )
    .await
    .expect("the run ends within 20s")
    .expect("the run succeeds");
    let text = String::from_utf8(out).unwrap();

    assert_eq!(
        summary,
        Summary {
            token_requests: 1,
            refresh_requests: 1,
            failed_requests: 0,
            renewals: 1,
        },
        "{text}"
    );
    for expected in [
        "POST /auth/token -> 200 ok (client_credentials grant)",
        // Not the reason: the operator may report TokenValid instead of TokenIssued when a
        // reconcile right after the issue reads a cached credential without the new status.
        "ready    Ready=True ",
        "tokens   issued via client_credentials",
        "Secret shop/ticketing-token:",
        "POST /auth/refresh -> 200 ok (refresh_token grant)",
        "renewal  #1 via refresh_token",
        "token_type                Bearer",
        "renewals seen     1",
        "operator          stopped cleanly",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for key in ["access_token", "refresh_token", "authorization"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in:\n{text}"));
        assert!(
            line.contains("…(") && line.ends_with(" chars)"),
            "{key} is not masked: {line}"
        );
    }
    assert!(
        longest_token_like_run(&text) < 40,
        "something token-sized was printed:\n{text}"
    );
    let credential = std::fs::read_to_string(dir.path().join("ticketing.yaml")).unwrap();
    assert!(credential.contains("kind: WetixCredential"), "{credential}");
    let kubeconfig = std::fs::read_to_string(dir.path().join("kubeconfig")).unwrap();
    assert!(kubeconfig.contains("namespace: shop"), "{kubeconfig}");
}
