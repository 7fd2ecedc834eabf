//! Two real operator processes with `--leader-elect` against a Kubernetes API (the real one
//! and the emulator, see `support::cluster`) and the fake WeTix server: only the Lease holder
//! reconciles; a standby takes over within the lease duration when the holder is killed, and
//! at once when the holder is stopped with SIGTERM; a holder that finds the Lease taken exits
//! non-zero, but only after writing the tokens WeTix already gave it.
//!
//! On the real server the Lease is the one `deploy/`'s Role allows, `wetix-operator` in the
//! namespace `wetix-operator`, so these tests take turns there.

mod support;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitStatus,
    time::{Duration, Instant},
};

use fake_wetix::{Endpoint, Fault};
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{Api, api::PostParams};
use serde_json::json;
use support::{CLIENT_ID, CLIENT_SECRET, Server, Stack, WAIT, on_both, operator_binary};
use wetix_test_kit::{Process, net, operator};

on_both!(
    only_the_holder_reconciles_and_a_standby_takes_over_within_the_lease_duration_after_kill_9,
    sigterm_releases_the_lease_and_the_standby_takes_over_at_once,
    a_holder_that_finds_the_lease_taken_exits_non_zero,
    tokens_obtained_after_the_lease_is_taken_away_are_still_written,
);
use wetix_operator::leader::{LEASE_DURATION, LEASE_NAME, RENEW_INTERVAL, RETRY_INTERVAL};

const LEASE_NS: &str = "wetix-operator";

/// One `wetix-operator run --leader-elect` process with its own log and metrics port.
struct Replica {
    identity: &'static str,
    process: Process,
    metrics: SocketAddr,
}

impl Replica {
    async fn start(stack: &Stack, kubeconfig: &std::path::Path, identity: &'static str) -> Self {
        let mut args = operator::run_args(&stack.wetix.url(), operator::ANY_LOOPBACK_PORT);
        args.extend(
            [
                "--leader-elect",
                "--identity",
                identity,
                "--lease-namespace",
                LEASE_NS,
                "--namespaces",
                &stack.ns,
            ]
            .map(str::to_owned),
        );
        let mut command = operator::command(operator_binary(), kubeconfig, &args);
        command.env("RUST_LOG", "info");
        let process = Process::spawn(command).expect("the operator binary starts");
        let metrics = operator::metrics_address(&process, WAIT).await;
        Self {
            identity,
            process,
            metrics,
        }
    }

    fn logs(&self) -> String {
        self.process.logs()
    }

    /// Waits until the log shows `needle`; the last lines of an exited process may still be
    /// on their way through the pipe.
    async fn wait_log(&self, needle: &str) {
        assert!(
            self.process.wait_log(needle, Duration::from_secs(5)).await,
            "{} never logged {needle:?}:\n{}",
            self.identity,
            self.logs()
        );
    }

    /// Waits until `path` answers with a text containing `needle`.
    async fn wait_http(&self, path: &str, needle: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = net::http_get(self.metrics, path).await.unwrap_or_default();
            if answer.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} {path} never showed {needle:?}; last answer:\n{answer}\nlog:\n{}",
                self.identity,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sigterm(&mut self) -> ExitStatus {
        let exit = self.process.terminate(WAIT).await;
        self.exited(exit, WAIT)
    }

    async fn kill_9(&mut self) {
        let exit = self.process.kill(WAIT).await;
        self.exited(exit, WAIT);
    }

    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let exit = self.process.wait_exit(within).await;
        self.exited(exit, within)
    }

    fn exited(&self, exit: Option<ExitStatus>, within: Duration) -> ExitStatus {
        exit.unwrap_or_else(|| {
            panic!(
                "{} did not exit within {within:?}; log:\n{}",
                self.identity,
                self.logs()
            )
        })
    }
}

fn leases(stack: &Stack) -> Api<Lease> {
    Api::namespaced(stack.client.clone(), LEASE_NS)
}

async fn holder(stack: &Stack) -> Option<String> {
    leases(stack)
        .get_opt(LEASE_NAME)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// Waits until the Lease names `identity` as holder; returns how long that took.
async fn wait_holder(
    stack: &Stack,
    identity: &str,
    within: Duration,
    logs: &[&Replica],
) -> Duration {
    let start = Instant::now();
    loop {
        if holder(stack).await.as_deref() == Some(identity) {
            return start.elapsed();
        }
        if start.elapsed() > within {
            let logs: Vec<String> = logs
                .iter()
                .map(|r| format!("--- {}:\n{}", r.identity, r.logs()))
                .collect();
            panic!(
                "{identity} did not hold the Lease within {within:?} (holder: {:?})\n{}",
                holder(stack).await,
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The operator requests since the last clear, once they hold a renewal of the Lease and two
/// reads by the standby. Each round of the holder is a read and a write of the Lease, each
/// round of the standby a read; one read of the holder may be on its way to its write.
async fn wait_for_lease_rounds(stack: &Stack) -> Vec<kube_emulator::RequestRecord> {
    let deadline = Instant::now() + WAIT;
    loop {
        let requests = stack.cluster.operator_requests().await;
        let on_lease = |get: bool| {
            requests
                .iter()
                .filter(|r| r.path.contains("/leases/") && (r.method == "GET") == get)
                .count()
        };
        let (reads, writes) = (on_lease(true), on_lease(false));
        if writes >= 1 && reads >= writes + 3 {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "{reads} reads and {writes} writes of the Lease within {WAIT:?}: {requests:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `reportingInstance` of every Event in the test namespace.
async fn event_reporters(stack: &Stack) -> Vec<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(stack.client.clone(), &stack.ns);
    let list = api.list(&Default::default()).await.expect("events list");
    list.items
        .into_iter()
        .map(|e| e.reporting_instance.unwrap_or_default())
        .collect()
}

/// Another party takes the Lease as a valid holder would.
async fn take_lease(stack: &Stack, holder: &str) {
    let mut lease = leases(stack).get(LEASE_NAME).await.unwrap();
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(holder.into()),
        renew_time: Some(MicroTime(jiff::Timestamp::now())),
        lease_duration_seconds: Some(60),
        ..lease.spec.unwrap_or_default()
    });
    lease.metadata.managed_fields = None;
    leases(stack)
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
        .expect("Lease taken over");
}

/// On the real server, one test at a time holds the shared Lease.
static REAL_LEASE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The stack, the operator's kubeconfig, and on the real server the turn at the Lease, which
/// starts with no Lease at all.
async fn stack(server: Server) -> (Stack, PathBuf, Option<tokio::sync::MutexGuard<'static, ()>>) {
    let turn = match server {
        Server::Real => Some(REAL_LEASE.lock().await),
        Server::Emulator => None,
    };
    let stack = Stack::start(server, 3600, 86_400).await;
    if turn.is_some() {
        let _ = leases(&stack).delete(LEASE_NAME, &Default::default()).await;
    }
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    let kubeconfig = stack.write_operator_kubeconfig();
    (stack, kubeconfig, turn)
}

async fn only_the_holder_reconciles_and_a_standby_takes_over_within_the_lease_duration_after_kill_9(
    server: Server,
) {
    let (stack, kubeconfig, _turn) = stack(server).await;
    let mut a = Replica::start(&stack, &kubeconfig, "a").await;
    wait_holder(&stack, "a", WAIT, &[&a]).await;
    a.wait_http("/metrics", "wetix_leader 1").await;
    let b = Replica::start(&stack, &kubeconfig, "b").await;
    // A standby is ready (a rollout must not wait for it) and does not lead.
    b.wait_http("/readyz", "200 OK").await;
    b.wait_http("/metrics", "wetix_leader 0").await;
    b.wait_http("/healthz", "200 OK").await;

    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    assert_eq!(
        stack.wetix.calls().len(),
        1,
        "one token request, by one replica"
    );

    // While a leads, b writes nothing: every write is a's Lease renewal. Watched until a has
    // renewed and b has read the Lease twice, so b's decision on its first read is carried out.
    stack.cluster.clear_requests();
    let requests = wait_for_lease_rounds(&stack).await;
    let writes: Vec<_> = requests.iter().filter(|r| r.method != "GET").collect();
    assert!(
        !writes.is_empty()
            && writes.iter().all(|r| {
                r.method == "PUT"
                    && r.path
                        .ends_with(&format!("/namespaces/{LEASE_NS}/leases/{LEASE_NAME}"))
                    && r.field_manager.as_deref() == Some("wetix-operator-leader-a")
            }),
        "writes while a leads: {writes:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/leases/")),
        "the standby reads the Lease"
    );
    let reporters = event_reporters(&stack).await;
    assert!(
        !reporters.is_empty() && reporters.iter().all(|r| r == "a"),
        "Events come from the holder only: {reporters:?}"
    );
    assert!(
        !b.logs().contains("caches synced"),
        "b never started its controller"
    );

    // kill -9: no release; b takes over once the Lease expires.
    let killed = Instant::now();
    a.kill_9().await;
    let bound = LEASE_DURATION + RETRY_INTERVAL + Duration::from_secs(3);
    wait_holder(&stack, "b", bound, &[&a, &b]).await;
    let failover = killed.elapsed();
    println!(
        "failover after kill -9 of the holder: {:.1} s (lease duration {} s, renew every {} s)",
        failover.as_secs_f64(),
        LEASE_DURATION.as_secs(),
        RENEW_INTERVAL.as_secs()
    );
    // a renewed at most RENEW_INTERVAL before it died: b must not have taken a valid Lease.
    assert!(
        failover + Duration::from_millis(500) >= LEASE_DURATION - RENEW_INTERVAL,
        "b took the Lease before it expired: {failover:?}"
    );
    b.wait_http("/metrics", "wetix_leader 1").await;

    // b now reconciles.
    stack.create_credential("billing", json!({})).await;
    stack.wait_ready("billing", "TokenIssued").await;
    assert_eq!(stack.wetix.calls().len(), 2);
    assert!(event_reporters(&stack).await.iter().any(|r| r == "b"));
}

async fn sigterm_releases_the_lease_and_the_standby_takes_over_at_once(server: Server) {
    let (stack, kubeconfig, _turn) = stack(server).await;
    let mut a = Replica::start(&stack, &kubeconfig, "a").await;
    wait_holder(&stack, "a", WAIT, &[&a]).await;
    a.wait_http("/readyz", "200 OK").await;
    let b = Replica::start(&stack, &kubeconfig, "b").await;
    b.wait_http("/readyz", "200 OK").await;
    b.wait_http("/metrics", "wetix_leader 0").await;

    let stopped = Instant::now();
    let status = a.sigterm().await;
    assert!(
        status.success(),
        "a clean stop exits 0: {status}\n{}",
        a.logs()
    );
    a.wait_log("released leadership").await;
    let bound = RETRY_INTERVAL + Duration::from_secs(2);
    wait_holder(&stack, "b", bound, &[&a, &b]).await;
    let failover = stopped.elapsed();
    println!(
        "failover after SIGTERM of the holder: {:.1} s (standby reads the Lease every {} s)",
        failover.as_secs_f64(),
        RETRY_INTERVAL.as_secs()
    );
    assert!(failover < LEASE_DURATION - RENEW_INTERVAL);
    b.wait_http("/metrics", "wetix_leader 1").await;

    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let reporters = event_reporters(&stack).await;
    assert!(reporters.iter().all(|r| r == "b"), "{reporters:?}");
}

async fn a_holder_that_finds_the_lease_taken_exits_non_zero(server: Server) {
    let (stack, kubeconfig, _turn) = stack(server).await;
    let mut a = Replica::start(&stack, &kubeconfig, "a").await;
    wait_holder(&stack, "a", WAIT, &[&a]).await;

    take_lease(&stack, "intruder").await;

    let status = a
        .wait_exit(RENEW_INTERVAL + RETRY_INTERVAL + Duration::from_secs(3))
        .await;
    assert!(!status.success(), "lost leadership exits non-zero");
    a.wait_log("lost leadership").await;
    a.wait_log("intruder").await;
    assert_eq!(holder(&stack).await.as_deref(), Some("intruder"));
}

/// How long WeTix takes to answer the refresh during which the Lease is taken away: longer
/// than the holder takes to notice (its next renewal, within [`RENEW_INTERVAL`]).
const SLOW_ANSWER: Duration = Duration::from_secs(9);

async fn tokens_obtained_after_the_lease_is_taken_away_are_still_written(server: Server) {
    let (stack, kubeconfig, _turn) = stack(server).await;
    // Single-use refresh tokens: the answer to a refresh is the only copy of the next one.
    stack.wetix.set_rotation(true);
    let mut a = Replica::start(&stack, &kubeconfig, "a").await;
    wait_holder(&stack, "a", WAIT, &[&a]).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let before = stack.secret_data("ticketing-token").await;

    // a asks WeTix for a refresh; while WeTix has not answered, the Lease is taken away.
    stack
        .wetix
        .inject(Endpoint::Refresh, Fault::Delay(SLOW_ANSWER), 1);
    stack.request_refresh("ticketing", "now-1").await;
    let deadline = Instant::now() + WAIT;
    while stack.wetix.delayed_calls() == 0 {
        assert!(
            Instant::now() < deadline,
            "a never asked for the refresh:\n{}",
            a.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    take_lease(&stack, "intruder").await;
    assert!(
        a.process
            .wait_log("lost leadership", RENEW_INTERVAL + RETRY_INTERVAL)
            .await,
        "a never noticed:\n{}",
        a.logs()
    );
    assert_eq!(
        stack.wetix.delayed_calls(),
        1,
        "a lost the Lease before WeTix answered"
    );

    // a still writes what WeTix answered, then exits as a holder that lost the Lease does.
    let status = a.wait_exit(SLOW_ANSWER + Duration::from_secs(5)).await;
    assert!(!status.success(), "lost leadership exits non-zero");
    let refreshed: Vec<u16> = stack
        .wetix
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::Refresh)
        .map(|c| c.status)
        .collect();
    assert_eq!(refreshed, [200], "WeTix answered the refresh");
    let after = stack.secret_data("ticketing-token").await;
    assert_ne!(after["access_token"], before["access_token"]);
    assert!(
        stack.wetix.refresh_token_is_live(&after["refresh_token"]),
        "the Secret holds the refresh token WeTix issued last:\n{}",
        a.logs()
    );
    assert!(!stack.wetix.refresh_token_is_live(&before["refresh_token"]));

    // The next leader goes on from those tokens: a refresh, no new client-credentials grant.
    leases(&stack)
        .delete(LEASE_NAME, &Default::default())
        .await
        .expect("the intruder gives the Lease up");
    let b = Replica::start(&stack, &kubeconfig, "b").await;
    wait_holder(&stack, "b", WAIT, &[&a, &b]).await;
    stack.request_refresh("ticketing", "now-2").await;
    let done = stack
        .wait_for("ticketing", "the second refresh", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.last_refresh_request == "now-2")
        })
        .await;
    assert!(
        support::ready_is(&done, "True", "TokenRefreshed"),
        "{:?}\n{}",
        done.status,
        b.logs()
    );
    assert_eq!(stack.calls_to(Endpoint::Token), 1, "no re-bootstrap");
    assert_eq!(stack.calls_to(Endpoint::Refresh), 2);
}
