//! A fleet of credentials against the local stand-ins: how long the first issue takes, how
//! much memory the operator holds, and how many API requests one renewal costs. Prints
//! figures; asserts nothing.
//!
//!     cargo bench --bench fleet                      # 1000 credentials
//!     WETIX_BENCH_CREDENTIALS=10000 cargo bench --bench fleet
//!
//! The stack is the end-to-end tests' own (`tests/support`, built on the workspace's test kit
//! in `dev/test-kit`), on the emulator.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::*;
use wetix_operator::credential::WetixCredential;

/// Access tokens live long enough for the whole fleet to be issued, short enough that the
/// renewal round comes within a minute or two.
const ACCESS_SECS: u64 = 90;
/// How often the benchmark counts Ready credentials.
const POLL: Duration = Duration::from_secs(5);

fn main() {
    let credentials: usize = std::env::var("WETIX_BENCH_CREDENTIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fleet(credentials));
}

async fn fleet(n: usize) {
    let mut stack = Stack::start(Server::Emulator, ACCESS_SECS, 24 * 3600).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    let api = stack.credentials();
    for i in 0..n {
        let credential: WetixCredential = serde_json::from_value(json!({
            "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
            "metadata": {"name": format!("c{i:05}"), "namespace": stack.ns},
            "spec": {
                "server": {"environment": "Sandbox", "url": stack.wetix.url()},
                "clientSecretRef": {"name": "wetix-client"}
            }
        }))
        .unwrap();
        api.create(&PostParams::default(), &credential)
            .await
            .unwrap();
    }
    stack.cluster.clear_requests();

    let started = Instant::now();
    stack.start_operator().await;
    wait_all(&stack, n, "TokenIssued").await;
    let issued_in = started.elapsed();
    let issue_requests = operator_requests(&stack).await;
    let rss_after_issue = stack.operator_memory();
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();

    wait_all(&stack, n, "TokenRefreshed").await;
    let renew_requests = operator_requests(&stack).await;
    let wetix_calls = stack.wetix.calls().len();
    let rss_after_renewal = stack.operator_memory();

    println!("credentials                 {n}");
    println!(
        "first issue of all          {:.1} s",
        issued_in.as_secs_f64()
    );
    println!("operator memory after issue {}", rss_after_issue);
    println!("operator memory after round {}", rss_after_renewal);
    println!("requests per credential to the API server:");
    print_per(&issue_requests, n, "  issue  ");
    print_per(&renew_requests, n, "  renewal");
    println!(
        "WeTix calls per renewal     {:.2}",
        wetix_calls as f64 / n as f64
    );
    stack.stop_operator().await;
}

/// Waits (polling one list every few seconds: each is a copy of the whole fleet, which the
/// API server has to build while the operator waits) until every credential is Ready with
/// `reason`.
async fn wait_all(stack: &Stack, n: usize, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let list = stack
            .credentials()
            .list(&ListParams::default())
            .await
            .unwrap();
        let done = list
            .items
            .iter()
            .filter(|c| ready_is(c, "True", reason))
            .count();
        if done == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {done}/{n} reached {reason}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The operator's requests by "METHOD resource".
async fn operator_requests(stack: &Stack) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in stack.cluster.operator_requests().await {
        let resource = ["secrets", "status", "events", "leases", "wetixcredentials"]
            .into_iter()
            .find(|k| r.path.contains(k))
            .unwrap_or("other");
        let watch = if r.query.contains("watch=") {
            " (watch)"
        } else {
            ""
        };
        *counts
            .entry(format!("{} {resource}{watch}", r.method))
            .or_default() += 1;
    }
    counts
}

fn print_per(counts: &BTreeMap<String, usize>, n: usize, label: &str) {
    let total: usize = counts.values().sum();
    let detail: Vec<String> = counts
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", *v as f64 / n as f64))
        .collect();
    println!(
        "{label}  {:.2}  ({})",
        total as f64 / n as f64,
        detail.join(", ")
    );
}
