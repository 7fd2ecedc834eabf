//! SIGTERM stops the operator binary within seconds whatever its API server does: Kubernetes
//! kills a pod that has not exited after its grace period (30 s by default), and a rollout or
//! a node drain waits on every pod that takes that long.
//!
//! The API servers here are two TCP servers started by the test on loopback: one closes every
//! connection at once, one takes every connection and never answers. Neither ever lists the
//! credentials, so the operator is stopped before its first list, with and without
//! `--leader-elect`. (Stopping with reconciles in flight is `tests/e2e.rs` and
//! `tests/leader_election.rs`.)

mod support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use support::operator_binary;
use tokio::net::TcpListener;
use wetix_test_kit::{Process, TempDir, operator};

/// How long a stop may take when nothing has to be waited for.
const PROMPT: Duration = Duration::from_secs(2);

/// How long a stop may take when a Lease release must be given up: the operator's 5 s bound
/// on it, and some margin.
const RELEASE_GIVEN_UP: Duration = Duration::from_secs(8);

/// What the fake API server does with each connection.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Closes it before reading anything.
    HangsUp,
    /// Keeps it open and never sends a byte.
    Silence,
}

/// Accepts connections on a loopback port until dropped.
async fn api_server(answer: Answer) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let serve = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((connection, _)) = listener.accept().await {
            match answer {
                Answer::HangsUp => drop(connection),
                Answer::Silence => held.push(connection),
            }
        }
    });
    (address, serve)
}

/// Starts the operator against `answer`, waits until it has tried the API server, sends
/// SIGTERM and returns how long the exit took.
async fn stop_time(answer: Answer, extra: &[&str]) -> Duration {
    let (address, serve) = api_server(answer).await;
    let dir = TempDir::new("wetix-shutdown");
    let kubeconfig = dir.write(
        "kubeconfig",
        &kube_emulator::kubeconfig(&format!("http://{address}"), "default"),
    );
    let mut args = operator::run_args("http://127.0.0.1:9", operator::ANY_LOOPBACK_PORT);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut command = operator::command(operator_binary(), &kubeconfig, &args);
    command.env("RUST_LOG", "info");
    let mut process = Process::spawn(command).expect("the operator binary starts");
    let tried = if extra.contains(&"--leader-elect") {
        "waiting for leadership"
    } else {
        "starting"
    };
    assert!(
        process.wait_log(tried, Duration::from_secs(30)).await,
        "the operator never logged {tried:?}:\n{}",
        process.logs()
    );
    let asked = Instant::now();
    let exit = process.terminate(Duration::from_secs(30)).await;
    let took = asked.elapsed();
    serve.abort();
    let exit = exit.unwrap_or_else(|| {
        panic!(
            "{answer:?} {extra:?}: no exit 30 s after SIGTERM:\n{}",
            process.logs()
        )
    });
    assert!(
        exit.success(),
        "{answer:?} {extra:?}: {exit}:\n{}",
        process.logs()
    );
    took
}

const LEADER: &[&str] = &[
    "--leader-elect",
    "--identity",
    "a",
    "--lease-namespace",
    "wetix-operator",
];

#[tokio::test]
async fn sigterm_stops_at_once_an_operator_whose_api_server_hangs_up() {
    for extra in [&[][..], LEADER] {
        let took = stop_time(Answer::HangsUp, extra).await;
        assert!(took < PROMPT, "{extra:?}: exit {took:?} after SIGTERM");
    }
}

#[tokio::test]
async fn sigterm_stops_at_once_an_operator_whose_api_server_never_answers() {
    let took = stop_time(Answer::Silence, &[]).await;
    assert!(took < PROMPT, "exit {took:?} after SIGTERM");
}

#[tokio::test]
async fn a_standby_whose_api_server_never_answers_gives_up_the_release_and_exits() {
    let took = stop_time(Answer::Silence, LEADER).await;
    assert!(took < RELEASE_GIVEN_UP, "exit {took:?} after SIGTERM");
}
