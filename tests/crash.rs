//! Crashes lose nothing a person has to restore: the real operator binary, killed with SIGKILL
//! at random points and restarted each time, keeps every credential Ready with single-use
//! refresh tokens (fake WeTix rotates them, so the answer to a refresh is the only copy of the
//! next refresh token).
//!
//! Twenty credentials, each with a WeTix client of its own and access tokens of a few seconds,
//! renew about ten times a second together. The operator is killed, at points a seeded
//! generator picks, in one of three ways: after a random time; while fake WeTix holds a
//! delayed refresh answer; or right after WeTix logs an answer, before the operator can write
//! it. A refresh token lost that way is replaced through the client-credentials grant: the
//! test counts those re-bootstraps, the renewals done and the kills, and asserts that once the
//! kills stop, every credential is Ready with a refresh token WeTix accepts. The figures are
//! printed as one `crash-summary:` line per server.
//!
//! `WETIX_CRASH_RENEWALS` sets how many renewals the run lasts (200 by default);
//! `WETIX_CRASH_SEED` repeats a run's choices (the seed is printed).

mod support;

use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant},
};

use fake_wetix::{Call, Endpoint, Fault};
use serde_json::json;
use support::{Server, Stack, WAIT, on_both, operator_binary, ready_is};
use wetix_test_kit::{Process, operator};

on_both!(killing_the_operator_at_random_points_leaves_no_credential_needing_a_person);

/// Credentials (and WeTix clients) in the run.
const CREDENTIALS: usize = 20;

/// Lifetime of the access tokens; renewed at half of it, so about every 2 s per credential.
const ACCESS_SECS: u64 = 4;

/// Renewals the run lasts unless `WETIX_CRASH_RENEWALS` says otherwise.
const DEFAULT_RENEWALS: usize = 200;

/// The kills stop once this much time has passed, whatever the renewals: the run stays
/// bounded on a slow machine (and fails if the renewals were not reached).
const KILLING_BUDGET: Duration = Duration::from_secs(100);

/// How long every credential has, once the kills stop, to be Ready again with a refresh token
/// WeTix accepts: a few renewal periods, time for a lost refresh token to be found out and
/// replaced.
const SETTLE: Duration = Duration::from_secs(30);

/// Where a kill lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kill {
    /// After a random time from the start (during start-up, a read, a write, or idle).
    AtRandom,
    /// While WeTix holds the answer to a refresh: WeTix spends the refresh token the operator
    /// sent and issues the next one to nobody.
    DuringDelayedAnswer,
    /// Right after WeTix logs an answer, before the operator can have written it.
    RightAfterAnswer,
}

async fn killing_the_operator_at_random_points_leaves_no_credential_needing_a_person(
    server: Server,
) {
    let wanted = renewals_wanted();
    let seed = std::env::var("WETIX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash seed: {seed} (WETIX_CRASH_SEED={seed} repeats the choices); {wanted} renewals");
    let mut rng = SplitMix64(seed);

    let stack = Stack::start(server, ACCESS_SECS, 3600).await;
    stack.wetix.set_rotation(true);
    let names: Vec<String> = (0..CREDENTIALS).map(|i| format!("crash-{i:02}")).collect();
    for name in &names {
        let (client_id, client_secret) = (format!("{name}-client"), format!("{name}-s3cret"));
        stack.wetix.add_client(&client_id, &client_secret);
        stack
            .put_client_secret(&format!("{name}-client"), &client_id, &client_secret)
            .await;
        stack
            .create_credential(
                name,
                json!({
                    "clientSecretRef": {"name": format!("{name}-client")},
                    "renewBeforePercentage": 50,
                }),
            )
            .await;
    }

    let kubeconfig = stack.write_operator_kubeconfig();
    let mut operator = start_operator(&stack, &kubeconfig);
    let mut kills: BTreeMap<Kill, usize> = BTreeMap::new();
    let started = Instant::now();
    while renewals(&stack.wetix.calls()) < wanted {
        assert!(
            started.elapsed() < KILLING_BUDGET,
            "only {} of {wanted} renewals within {KILLING_BUDGET:?} ({kills:?}); last operator:\n{}",
            renewals(&stack.wetix.calls()),
            operator.logs()
        );
        let kill = match rng.below(3) {
            0 => Kill::AtRandom,
            1 => Kill::DuringDelayedAnswer,
            _ => Kill::RightAfterAnswer,
        };
        let landed = match kill {
            Kill::AtRandom => {
                tokio::time::sleep(rng.between(Duration::from_millis(50), RANDOM_KILL_WITHIN))
                    .await;
                true
            }
            Kill::DuringDelayedAnswer => {
                let delay = rng.between(Duration::from_millis(300), Duration::from_secs(2));
                stack
                    .wetix
                    .inject(Endpoint::Refresh, Fault::Delay(delay), 1);
                let held = until(Duration::from_secs(10), || stack.wetix.delayed_calls() > 0).await;
                if held {
                    tokio::time::sleep(rng.between(Duration::ZERO, delay / 2)).await;
                }
                stack.wetix.clear_faults();
                held
            }
            Kill::RightAfterAnswer => {
                let answered = stack.wetix.calls().len();
                until(Duration::from_secs(10), || {
                    stack.wetix.calls().len() > answered
                })
                .await
            }
        };
        assert!(
            landed,
            "{kill:?}: the operator asked WeTix for nothing for 10 s:\n{}",
            operator.logs()
        );
        let exit = operator.kill(WAIT).await;
        assert!(exit.is_some(), "SIGKILL ends the operator");
        *kills.entry(kill).or_default() += 1;
        operator = start_operator(&stack, &kubeconfig);
    }
    let killing = started.elapsed();

    // The last operator runs on, undisturbed: every credential must come back on its own.
    let settle_deadline = Instant::now() + SETTLE;
    let mut needing = needing_a_person(&stack, &names).await;
    while !needing.is_empty() && Instant::now() < settle_deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        needing = needing_a_person(&stack, &names).await;
    }

    let calls = stack.wetix.calls();
    let rebootstraps: usize = names
        .iter()
        .map(|name| {
            let issued = calls
                .iter()
                .filter(|c| c.endpoint == Endpoint::Token && c.status == 200)
                .filter(|c| c.client_id.as_deref() == Some(&format!("{name}-client")))
                .count();
            issued.saturating_sub(1)
        })
        .sum();
    let total_kills: usize = kills.values().sum();
    println!(
        "crash-summary: renewals={} kills={total_kills} needing_a_person={} rebootstraps={rebootstraps}",
        renewals(&calls),
        needing.len(),
    );
    let spent_presented = calls
        .iter()
        .filter(|c| c.endpoint == Endpoint::Refresh && c.status == 400)
        .count();
    println!(
        "crash-detail: server={server:?} credentials={CREDENTIALS} access_secs={ACCESS_SECS} \
         kills={kills:?} refreshes_refused={spent_presented} killing_for={:.1}s seed={seed}",
        killing.as_secs_f64()
    );
    assert!(
        needing.is_empty(),
        "after {total_kills} kills, {SETTLE:?} later, still not Ready with a live refresh \
         token: {needing:?}\nlast operator:\n{}",
        operator.logs()
    );
}

/// The longest a random kill waits after the start: under a renewal period, so that start-up
/// (cache sync, the first look at every credential) is hit often.
const RANDOM_KILL_WITHIN: Duration = Duration::from_millis(1500);

fn renewals_wanted() -> usize {
    std::env::var("WETIX_CRASH_RENEWALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RENEWALS)
}

/// Refreshes WeTix granted.
fn renewals(calls: &[Call]) -> usize {
    calls
        .iter()
        .filter(|c| c.endpoint == Endpoint::Refresh && c.status == 200)
        .count()
}

/// The credentials a person would have to look at now: not Ready=True, or whose Secret holds
/// no refresh token WeTix would accept.
async fn needing_a_person(stack: &Stack, names: &[String]) -> Vec<String> {
    let mut needing = vec![];
    for name in names {
        let ready = stack
            .credentials()
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| {
                ready_is(&c, "True", "TokenIssued") || ready_is(&c, "True", "TokenRefreshed")
            });
        let live = match stack.secrets().get_opt(&format!("{name}-token")).await {
            Ok(Some(secret)) => secret
                .data
                .as_ref()
                .and_then(|d| d.get("refresh_token"))
                .and_then(|t| std::str::from_utf8(&t.0).ok())
                .is_some_and(|t| stack.wetix.refresh_token_is_live(t)),
            _ => false,
        };
        if !(ready && live) {
            needing.push(name.clone());
        }
    }
    needing
}

/// The operator binary against the stack, as `Stack::start_operator` starts it, with a
/// handle this test can kill.
fn start_operator(stack: &Stack, kubeconfig: &Path) -> Process {
    let mut args = operator::run_args(&stack.wetix.url(), operator::ANY_LOOPBACK_PORT);
    if stack.cluster.server == Server::Real {
        args.extend(["--namespaces".to_owned(), stack.ns.clone()]);
    }
    let mut command = operator::command(operator_binary(), kubeconfig, &args);
    command.env("RUST_LOG", "info");
    Process::spawn(command).expect("the operator binary starts")
}

/// Polls `ok` every 5 ms for up to `within`; whether it held.
async fn until(within: Duration, ok: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !ok() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// A small seeded generator (SplitMix64): the same seed gives the same choices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_micros() as u64;
        low + Duration::from_micros(self.next() % span.max(1))
    }
}
