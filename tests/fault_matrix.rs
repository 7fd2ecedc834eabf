//! The fault matrix (docs/reliability.md, "Fault matrix"): each fault the WeTix OAuth server or
//! the Kubernetes API can throw, at each point where it hurts, against the real operator binary.
//!
//! A cell passes when a user would see four things: the managed Secret never holds a damaged
//! pair (both tokens signed by the server, the keys consistent with each other and with the
//! tokens' own `exp`), Ready names the fault while it lasts, the operator makes a bounded number
//! of attempts, and once the fault ends it is Ready again with new valid tokens. One row per
//! cell, then `fault-matrix: cells=… passed=…`.
//!
//! The OAuth cells share one namespace and one operator, each with its own fake WeTix server (a
//! fault is armed on the server, so cells never see each other's). The API cells arm faults on
//! the emulator, which are global to it: each has its own stack, on the emulator only.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fake_wetix::{Endpoint, FakeWetix, Fault, TokenType};
use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::{Api, api::ListParams};
use serde_json::json;
use support::*;
use tokio::sync::watch;
use wetix_operator::credential::WetixCredential;
use wetix_operator::sensitive::Sensitive;
use wetix_operator::tokens::fingerprint;
use wetix_test_kit::standins;

on_both!(fault_matrix);

/// How long a cell may take from arming its fault to recovery: the slowest is the timeout
/// cell, 30 s of client timeout after a renewal falls due plus one backoff.
const CELL_DEADLINE: Duration = Duration::from_secs(80);

/// The `Retry-After` the 429 cells send; the retry must not come sooner.
const RETRY_AFTER_SECS: u64 = 7;

async fn fault_matrix(server: Server) {
    let started = std::time::Instant::now();
    let api_cells = if server == Server::Emulator {
        API_FAULTS.to_vec()
    } else {
        vec![]
    };
    let (mut rows, api_rows) = tokio::join!(
        run_oauth_cells(server),
        join_all(api_cells.into_iter().map(run_api_cell)),
    );
    rows.extend(api_rows);

    let server_name = format!("{server:?}").to_lowercase();
    println!(
        "| server | point | fault | Ready while faulty | attempts | first retry after | recovered after | Secret | result |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("| {server_name} | {} |", row.cells());
    }
    let passed = rows.iter().filter(|r| r.verdict.counts_as_pass()).count();
    println!(
        "fault-matrix: server={server_name} cells={} passed={passed} (expected failures: {}) in {:.0} s",
        rows.len(),
        rows.iter()
            .filter(|r| matches!(r.verdict, Verdict::KnownGap(_)))
            .count(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| !r.verdict.counts_as_pass())
        .map(|r| format!("{} / {}: {}", r.point, r.fault, r.problems.join("; ")))
        .collect();
    assert!(failed.is_empty(), "cells failed:\n{}", failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The OAuth cells.

/// Where in a credential's life the fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The first client-credentials call, no tokens yet.
    Issue,
    /// The refresh grant when the access token falls due.
    Renewal,
    /// The client-credentials call when the refresh token falls due.
    Replacement,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Issue, Phase::Renewal, Phase::Replacement];

    fn name(self) -> &'static str {
        match self {
            Phase::Issue => "issue",
            Phase::Renewal => "renewal",
            Phase::Replacement => "replacement",
        }
    }

    fn endpoint(self) -> Endpoint {
        match self {
            Phase::Renewal => Endpoint::Refresh,
            Phase::Issue | Phase::Replacement => Endpoint::Token,
        }
    }

    /// Access and refresh lifetimes (s) that bring this phase's call within seconds.
    fn lifetimes(self) -> (u64, u64) {
        match self {
            Phase::Issue => (3600, 7200),
            Phase::Renewal => (9, 3600),
            Phase::Replacement => (3600, 9),
        }
    }

    /// The reason of a successful call of this phase.
    fn success(self) -> &'static str {
        match self {
            Phase::Renewal => "TokenRefreshed",
            Phase::Issue | Phase::Replacement => "TokenIssued",
        }
    }
}

/// What the user should see.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Ready=False with this reason while the fault lasts, then Ready=True with new tokens,
    /// after a retry on the operator's own schedule.
    Fails(&'static str),
    /// Like `Fails`, but the reference retries at most every 5 minutes; the user's fix (a
    /// refresh request, as after correcting the client) retries at once.
    FailsUntilFixed(&'static str),
    /// The operator works around the fault at once (a refused refresh token is replaced through
    /// client credentials): Ready stays True, with this reason and new tokens.
    WorkedAround(&'static str),
    /// The answer is usable as it stands (the JWT's own `exp` is believed over the number):
    /// Ready stays True with the phase's reason.
    Accepted,
}

/// Values a fault is built from at arming time.
struct Context {
    /// Another host, for the redirect.
    elsewhere: SocketAddr,
    now: i64,
}

#[derive(Clone, Copy)]
struct OAuthFault {
    name: &'static str,
    fault: fn(&Context) -> Fault,
    times: usize,
    expect: fn(Phase) -> Expect,
    /// The timeout cell waits out the operator's 30 s client timeout; run once, on the emulator.
    emulator_only: bool,
}

const HUNDRED_YEARS: i64 = 100 * 365 * 24 * 60 * 60;

fn unavailable(_: Phase) -> Expect {
    Expect::Fails("ServerUnavailable")
}

fn invalid_answer(_: Phase) -> Expect {
    Expect::Fails("InvalidServerResponse")
}

fn accepted(_: Phase) -> Expect {
    Expect::Accepted
}

const fn fault(
    name: &'static str,
    fault: fn(&Context) -> Fault,
    expect: fn(Phase) -> Expect,
) -> OAuthFault {
    OAuthFault {
        name,
        fault,
        times: 1,
        expect,
        emulator_only: false,
    }
}

const OAUTH_FAULTS: [OAuthFault; 18] = [
    OAuthFault {
        emulator_only: true,
        ..fault(
            "timeout (31 s)",
            |_| Fault::Delay(Duration::from_secs(31)),
            unavailable,
        )
    },
    fault("connection reset", |_| Fault::ConnectionReset, unavailable),
    fault("503", |_| Fault::Status(503), unavailable),
    fault(
        "429 Retry-After 7",
        |_| Fault::RateLimited {
            retry_after_secs: RETRY_AFTER_SECS,
        },
        unavailable,
    ),
    fault("malformed JSON", |_| Fault::MalformedJson, invalid_answer),
    fault(
        "missing access_token",
        |_| Fault::MissingField("access_token"),
        invalid_answer,
    ),
    fault("token_type MAC", |_| Fault::WrongTokenType, invalid_answer),
    fault(
        "expires_in 0",
        |_| Fault::NonPositiveLifetime,
        invalid_answer,
    ),
    fault(
        "expires_in -5",
        |_| Fault::DeclaredLifetime(-5),
        invalid_answer,
    ),
    fault(
        "expires_in > i64",
        |_| Fault::LifetimeBeyondI64,
        invalid_answer,
    ),
    fault(
        "expires_in i64::MAX",
        |_| Fault::DeclaredLifetime(i64::MAX),
        invalid_answer,
    ),
    fault(
        "expires_in 100 y, JWT short",
        |_| Fault::DeclaredLifetime(HUNDRED_YEARS),
        accepted,
    ),
    fault(
        "JWT exp 1 h ago",
        |c| Fault::JwtExp(c.now - 3600),
        invalid_answer,
    ),
    fault("JWT exp i64::MAX", |_| Fault::JwtExp(i64::MAX), accepted),
    fault(
        "401",
        |_| Fault::Status(401),
        |phase| match phase {
            Phase::Renewal => Expect::WorkedAround("TokenIssued"),
            _ => Expect::FailsUntilFixed("InvalidClient"),
        },
    ),
    fault(
        "400",
        |_| Fault::Status(400),
        |phase| match phase {
            Phase::Renewal => Expect::WorkedAround("TokenIssued"),
            _ => Expect::FailsUntilFixed("ReauthorizationRequired"),
        },
    ),
    fault(
        "307 to another host",
        |c| Fault::Redirect(c.elsewhere),
        invalid_answer,
    ),
    fault(
        "80 KiB answer",
        |_| Fault::Oversized(80 * 1024),
        invalid_answer,
    ),
];

/// Cells the operator is known to fail, with the reason (docs/reliability.md). None today: the
/// two the first runs found are fixed. A known gap that passes counts as a pass.
fn known_gap(_phase: Phase, _fault: &str) -> Option<&'static str> {
    None
}

struct OAuthCell {
    phase: Phase,
    fault: OAuthFault,
    name: String,
    wetix: FakeWetix,
    /// The host a redirect points at; it must never be called.
    elsewhere: FakeWetix,
}

async fn run_oauth_cells(server: Server) -> Vec<Row> {
    let mut cells = Vec::new();
    for phase in Phase::ALL {
        for (index, fault) in OAUTH_FAULTS.iter().enumerate() {
            if fault.emulator_only && server != Server::Emulator {
                continue;
            }
            let (access, refresh) = phase.lifetimes();
            let lifetimes =
                standins::lifetimes(Duration::from_secs(access), Duration::from_secs(refresh));
            let wetix = standins::start_wetix(lifetimes, CLIENT_ID, CLIENT_SECRET)
                .await
                .expect("fake WeTix starts");
            let elsewhere = FakeWetix::start_on(
                SocketAddr::from(([127, 0, 0, 2], 0)),
                fake_wetix::Settings::default(),
            )
            .await
            .expect("the other host starts");
            elsewhere.add_client(CLIENT_ID, CLIENT_SECRET);
            cells.push(OAuthCell {
                phase,
                fault: *fault,
                name: format!("{}-{index}", phase.name()),
                wetix,
                elsewhere,
            });
        }
    }
    let urls: Vec<String> = cells.iter().map(|c| c.wetix.url()).collect();
    let mut stack = Stack::start(server, 3600, 7200)
        .await
        .with_args(&["--allowed-server-urls", &urls.join(",")]);
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.start_operator().await;
    let observer = Observer::start(&stack.client, &stack.ns);
    let rows = join_all(
        cells
            .iter()
            .map(|cell| run_oauth_cell(&stack, &observer, cell)),
    )
    .await;
    observer.stop();
    rows
}

async fn run_oauth_cell(stack: &Stack, observer: &Observer, cell: &OAuthCell) -> Row {
    let OAuthCell {
        phase,
        fault,
        name,
        wetix,
        elsewhere,
    } = cell;
    let expect = (fault.expect)(*phase);
    let mut row = Row::new(phase.name(), fault.name);
    let secret_name = format!("{name}-token");
    let create = || stack.create_credential(name, json!({"server": {"url": wetix.url()}}));
    let arm = || {
        let context = Context {
            elsewhere: elsewhere.addr(),
            now: Timestamp::now().as_second(),
        };
        wetix.inject(phase.endpoint(), (fault.fault)(&context), fault.times);
    };

    let (before, calls_before) = if *phase == Phase::Issue {
        arm();
        create().await;
        (None, 0)
    } else {
        create().await;
        let issued = observer
            .until(
                name,
                |c| ready_is(c, "True", "TokenIssued"),
                Duration::from_secs(30),
            )
            .await;
        if issued.is_none() {
            row.problems.push("never issued before the fault".into());
            return row.finish(known_gap(*phase, fault.name));
        }
        let data = observer.secret(&secret_name);
        let calls_before = wetix.calls().len();
        arm();
        (
            data.and_then(|d| d.get("access_token").cloned()),
            calls_before,
        )
    };

    let (healthy_reason, failure) = match expect {
        Expect::Fails(reason) | Expect::FailsUntilFixed(reason) => (phase.success(), Some(reason)),
        Expect::WorkedAround(reason) => (reason, None),
        Expect::Accepted => (phase.success(), None),
    };
    // A call is logged once answered: a delayed one after the retry that overtook it.
    let want_calls = match expect {
        Expect::Accepted => fault.times,
        _ => fault.times + 1,
    };
    let mut seen_failures: Vec<String> = Vec::new();
    let mut fixed = false;
    let mut damage: Option<String> = None;
    let deadline = tokio::time::Instant::now() + CELL_DEADLINE;
    let mut rx = observer.subscribe();
    let recovered = loop {
        let snapshot = rx.borrow_and_update().clone();
        if let Some(data) = snapshot.secrets.get(&secret_name)
            && damage.is_none()
        {
            damage = damaged(data, wetix).err();
        }
        if let Some(credential) = snapshot.credentials.get(name.as_str())
            && let Some(ready) = credential.ready_condition()
        {
            if ready.status == "False" && !seen_failures.contains(&ready.reason) {
                seen_failures.push(ready.reason.clone());
            }
            if matches!(expect, Expect::FailsUntilFixed(reason) if ready.reason == reason) && !fixed
            {
                stack.request_refresh(name, "fix-1").await;
                fixed = true;
            }
            let new_tokens = snapshot.secrets.get(&secret_name).is_some_and(|d| {
                d.contains_key("access_token") && d.get("access_token") != before.as_ref()
            });
            // A failure shown for less than a poll is still found, in the Events, below.
            if ready.status == "True"
                && ready.reason == healthy_reason
                && new_tokens
                && wetix.calls().len() >= calls_before + want_calls
            {
                break Some(Timestamp::now());
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            break None;
        }
    };

    for reason in warning_reasons(stack, name).await {
        if !seen_failures.contains(&reason) {
            seen_failures.push(reason);
        }
    }
    let mut calls = wetix.calls()[calls_before..].to_vec();
    calls.sort_by_key(|c| c.at);
    row.attempts = Some(calls.len());
    if let Some(retry) = calls.get(fault.times) {
        row.retry_after = Some(retry.at.duration_since(calls[fault.times - 1].at));
    }
    if let (Some(first), Some(at)) = (calls.first(), recovered) {
        row.recovered_after = Some(at.duration_since(first.at));
    }
    row.ready_while_faulty = if seen_failures.is_empty() {
        "stays True".into()
    } else {
        format!("False/{}", seen_failures.join(","))
    };
    row.secret_ok = damage.is_none();

    if recovered.is_none() {
        let last = observer.credential(name).and_then(|c| c.status);
        row.problems.push(format!(
            "no recovery to Ready=True/{healthy_reason} with new tokens within {} s; last status {}",
            CELL_DEADLINE.as_secs(),
            serde_json::to_string(&last).unwrap_or_default()
        ));
    }
    if let Some(damage) = damage {
        row.problems.push(format!("damaged Secret: {damage}"));
    }
    match failure {
        Some(reason) if seen_failures != [reason] => row.problems.push(format!(
            "Ready=False reasons {seen_failures:?}, want [{reason}]"
        )),
        None if !seen_failures.is_empty() => row
            .problems
            .push(format!("Ready=False reasons {seen_failures:?}, want none")),
        _ => {}
    }
    if calls.len() != want_calls {
        row.problems
            .push(format!("{} WeTix calls, want {want_calls}", calls.len()));
    }
    if fault.name.starts_with("429")
        && row
            .retry_after
            .is_some_and(|gap| gap < SignedDuration::from_secs(RETRY_AFTER_SECS as i64))
    {
        row.problems
            .push("retried before the server's Retry-After".into());
    }
    if !elsewhere.calls().is_empty() {
        row.problems.push(format!(
            "{} calls reached the host a redirect named",
            elsewhere.calls().len()
        ));
    }
    row.finish(known_gap(*phase, fault.name))
}

// ---------------------------------------------------------------------------------------------
// The API cells.

#[derive(Clone, Copy, Debug)]
enum ApiFault {
    /// The next write of the managed Secret answers this code.
    SecretWrite(u16),
    /// The next patch of the credential (its status) answers this code.
    StatusWrite(u16),
    /// Every open watch ends; a change made right after must still be seen.
    DroppedWatch,
    /// The change history is compacted and every watch ends: resuming answers 410 Gone.
    ResourceVersionTooOld,
}

const API_FAULTS: [ApiFault; 6] = [
    ApiFault::SecretWrite(409),
    ApiFault::StatusWrite(409),
    ApiFault::SecretWrite(422),
    ApiFault::SecretWrite(500),
    ApiFault::DroppedWatch,
    ApiFault::ResourceVersionTooOld,
];

impl ApiFault {
    fn name(self) -> String {
        match self {
            ApiFault::SecretWrite(code) => format!("{code} on the Secret write"),
            ApiFault::StatusWrite(code) => format!("{code} on the status write"),
            ApiFault::DroppedWatch => "dropped watches".into(),
            ApiFault::ResourceVersionTooOld => "410 resourceVersion too old".into(),
        }
    }

    /// Why the operator is known to fail this cell (docs/reliability.md). None today.
    fn known_gap(self) -> Option<&'static str> {
        None
    }

    /// The Ready=False reason the user sees while it lasts; `None`: Ready stays True.
    fn reason(self) -> Option<&'static str> {
        match self {
            ApiFault::SecretWrite(_) => Some("KubernetesApiError"),
            ApiFault::StatusWrite(_) | ApiFault::DroppedWatch | ApiFault::ResourceVersionTooOld => {
                None
            }
        }
    }
}

async fn run_api_cell(fault: ApiFault) -> Row {
    let mut row = Row::new("api", &fault.name());
    // Write faults strike the renewal the operator schedules itself (the access token lives
    // 20 s: renewed after about 13 s, and not again before a retry 5 s later), so no write of the test's own meets them; watch faults strike a refresh request,
    // which only a watch brings in. Rotation makes the renewed tokens single-use.
    let (access, refresh) = match fault {
        ApiFault::SecretWrite(_) | ApiFault::StatusWrite(_) => (20, 3600),
        ApiFault::DroppedWatch | ApiFault::ResourceVersionTooOld => (3600, 7200),
    };
    let mut stack = Stack::start(Server::Emulator, access, refresh).await;
    stack.wetix.set_rotation(true);
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.start_operator().await;
    stack.create_credential("api", json!({})).await;
    stack.wait_ready("api", "TokenIssued").await;
    let observer = Observer::start(&stack.client, &stack.ns);
    let before = stack.secret_data("api-token").await["access_token"].clone();
    let calls_before = stack.wetix.calls().len();
    stack.cluster.clear_requests();
    let faults = stack.cluster.emulator().faults();
    let (times, request) = match fault {
        ApiFault::SecretWrite(code) => {
            faults.fail_next_writes_for("secrets", "patch", 1, code);
            (1, "")
        }
        ApiFault::StatusWrite(code) => {
            faults.fail_next_writes_for("wetixcredentials", "patch", 1, code);
            (1, "")
        }
        ApiFault::DroppedWatch => {
            faults.drop_watches();
            stack.request_refresh("api", "after-the-drop").await;
            (0, "after-the-drop")
        }
        ApiFault::ResourceVersionTooOld => {
            faults.compact_history();
            faults.drop_watches();
            stack.request_refresh("api", "after-the-compaction").await;
            (0, "after-the-compaction")
        }
    };
    let armed_at = Timestamp::now();

    let mut seen_failures: Vec<String> = Vec::new();
    let mut damage = None;
    let deadline = tokio::time::Instant::now() + CELL_DEADLINE;
    let mut rx = observer.subscribe();
    // Recovered: Ready=True, and status speaks of the tokens in the Secret (fingerprint and
    // expiry) and of the refresh request that was made.
    let recovered = loop {
        let snapshot = rx.borrow_and_update().clone();
        let data = snapshot.secrets.get("api-token");
        if let Some(data) = data
            && damage.is_none()
        {
            damage = damaged(data, &stack.wetix).err();
        }
        if let Some(credential) = snapshot.credentials.get("api")
            && let Some(ready) = credential.ready_condition()
        {
            if ready.status == "False" && !seen_failures.contains(&ready.reason) {
                seen_failures.push(ready.reason.clone());
            }
            let status = credential.status.clone().unwrap_or_default();
            let access = data.and_then(|d| d.get("access_token"));
            let current = access.is_some_and(|t| *t != before)
                && status.token_fingerprint == access.map(|t| fingerprint(&Sensitive::new(t)))
                && status.access_token_expires_at.map(|t| t.0)
                    == data.and_then(|d| d.get("expires_at")?.parse().ok())
                && (request.is_empty() || status.last_refresh_request == request);
            if ready.status == "True" && current {
                break Some((
                    Timestamp::now(),
                    ready.reason.clone(),
                    status.last_refresh_time,
                ));
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            break None;
        }
    };
    observer.stop();
    for reason in warning_reasons(&stack, "api").await {
        if !seen_failures.contains(&reason) {
            seen_failures.push(reason);
        }
    }

    let calls = stack.wetix.calls()[calls_before..].to_vec();
    row.attempts = Some(calls.len());
    let requests = stack.cluster.operator_requests().await;
    let writes = |part: &str| {
        requests
            .iter()
            .filter(|r| r.method != "GET" && r.path.contains(part))
            .count()
    };
    row.api_writes = Some((writes("/secrets/"), writes("/wetixcredentials/")));
    if let Some((at, reason, refreshed_at)) = &recovered {
        // From the refresh a write fault struck, or from the request a watch fault hid.
        let start = match calls.first() {
            Some(call) if times > 0 => call.at,
            _ => armed_at,
        };
        row.recovered_after = Some(at.duration_since(start));
        if reason != "TokenRefreshed" {
            row.problems.push(format!(
                "Ready=True/{reason} once recovered, want TokenRefreshed"
            ));
        }
        // Whole seconds, as status keeps them. Status keeps when the request was sent; the
        // call arrives a few milliseconds later, the next second if a second began between.
        let refreshed = calls.first().map(|c| c.at.as_second() - 1);
        if refreshed_at.as_ref().map(|t| t.0.as_second()) < refreshed {
            row.problems
                .push("lastRefreshTime is from before the refresh".into());
        }
    }
    row.ready_while_faulty = if seen_failures.is_empty() {
        "stays True".into()
    } else {
        format!("False/{}", seen_failures.join(","))
    };
    row.secret_ok = damage.is_none();
    if recovered.is_none() {
        row.problems.push(format!(
            "no Ready=True with status on the new tokens within {} s: {}",
            CELL_DEADLINE.as_secs(),
            stack.logs()
        ));
    }
    if let Some(damage) = damage {
        row.problems.push(format!("damaged Secret: {damage}"));
    }
    let want: Vec<String> = fault.reason().into_iter().map(String::from).collect();
    if seen_failures != want {
        row.problems.push(format!(
            "Ready=False reasons {seen_failures:?}, want {want:?}"
        ));
    }
    if calls.len() != 1 {
        row.problems.push(format!(
            "{} WeTix calls, want 1: the tokens in hand are written again, not requested again",
            calls.len()
        ));
    }
    let (secret_writes, _) = row.api_writes.unwrap_or_default();
    if secret_writes > times + 1 {
        row.problems.push(format!(
            "{secret_writes} Secret writes for {times} refused, want at most {}",
            times + 1
        ));
    }
    row.finish(fault.known_gap())
}

// ---------------------------------------------------------------------------------------------
// What every cell looks at.

/// The namespace's credentials and Secrets, listed together a few times a second: one pair of
/// list calls serves every cell, so fifty cells do not poll the API server fifty times over.
#[derive(Default)]
struct Snapshot {
    credentials: HashMap<String, WetixCredential>,
    secrets: HashMap<String, BTreeMap<String, String>>,
}

struct Observer {
    rx: watch::Receiver<Arc<Snapshot>>,
    task: tokio::task::JoinHandle<()>,
}

impl Observer {
    fn start(client: &kube::Client, ns: &str) -> Self {
        let credentials: Api<WetixCredential> = Api::namespaced(client.clone(), ns);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let task = tokio::spawn(async move {
            loop {
                let all = ListParams::default();
                let lists = tokio::join!(credentials.list(&all), secrets.list(&all));
                if let (Ok(credentials), Ok(secrets)) = lists {
                    let snapshot = Snapshot {
                        credentials: credentials
                            .items
                            .into_iter()
                            .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
                            .collect(),
                        secrets: secrets
                            .items
                            .into_iter()
                            .map(|s| {
                                let data = s
                                    .data
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                                    .collect();
                                (s.metadata.name.unwrap_or_default(), data)
                            })
                            .collect(),
                    };
                    if tx.send(Arc::new(snapshot)).is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
        Self { rx, task }
    }

    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    fn secret(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.rx.borrow().secrets.get(name).cloned()
    }

    fn credential(&self, name: &str) -> Option<WetixCredential> {
        self.rx.borrow().credentials.get(name).cloned()
    }

    /// Waits until the credential satisfies `ok`, at most `wait`.
    async fn until(
        &self,
        name: &str,
        ok: impl Fn(&WetixCredential) -> bool,
        wait: Duration,
    ) -> Option<WetixCredential> {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let snapshot = rx.borrow_and_update().clone();
                if let Some(c) = snapshot.credentials.get(name)
                    && ok(c)
                {
                    return Some(c.clone());
                }
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    fn stop(&self) {
        self.task.abort();
    }
}

/// The reasons of the Warning Events on the credential `name`: every failure makes one, so a
/// Ready=False shorter than a poll is still seen.
async fn warning_reasons(stack: &Stack, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(stack.client.clone(), &stack.ns);
    let Ok(list) = events.list(&ListParams::default()).await else {
        return vec![];
    };
    let mut reasons: Vec<String> = list
        .items
        .into_iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .filter_map(|e| e.reason)
        .collect();
    reasons.dedup();
    reasons
}

/// Why the managed Secret's data is not a usable pair from `wetix`, if it is not. A Secret
/// without data is the claim made before the first request (reference, "Two credentials naming
/// one Secret"), not damage.
fn damaged(data: &BTreeMap<String, String>, wetix: &FakeWetix) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let field = |key: &str| data.get(key).ok_or_else(|| format!("no {key}"));
    let access = field("access_token")?;
    let refresh = field("refresh_token")?;
    let access_claims = wetix
        .verify_token(access)
        .filter(|c| c.token_type == TokenType::AccessToken && c.client_key == CLIENT_ID)
        .ok_or("access_token is not an access token the server signed")?;
    let refresh_claims = wetix
        .verify_token(refresh)
        .filter(|c| c.token_type == TokenType::RefreshToken && c.client_key == CLIENT_ID)
        .ok_or("refresh_token is not a refresh token the server signed")?;
    if field("token_type")? != "Bearer" {
        return Err("token_type is not Bearer".into());
    }
    if *field("authorization")? != format!("Bearer {access}") {
        return Err("authorization does not carry access_token".into());
    }
    for (key, claims) in [
        ("expires_at", &access_claims),
        ("refresh_token_expires_at", &refresh_claims),
    ] {
        let at: Timestamp = field(key)?
            .parse()
            .map_err(|_| format!("{key} is not a time"))?;
        if at.as_second() > claims.exp {
            return Err(format!("{key} is later than the token's own exp"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table.

enum Verdict {
    Pass,
    Fail,
    /// Fails for a reason written down in docs/reliability.md.
    KnownGap(&'static str),
}

impl Verdict {
    fn counts_as_pass(&self) -> bool {
        !matches!(self, Verdict::Fail)
    }
}

struct Row {
    point: String,
    fault: String,
    ready_while_faulty: String,
    attempts: Option<usize>,
    /// Secret writes and credential writes, for the API cells.
    api_writes: Option<(usize, usize)>,
    retry_after: Option<SignedDuration>,
    recovered_after: Option<SignedDuration>,
    secret_ok: bool,
    problems: Vec<String>,
    verdict: Verdict,
}

impl Row {
    fn new(point: &str, fault: &str) -> Self {
        Self {
            point: point.into(),
            fault: fault.into(),
            ready_while_faulty: "-".into(),
            attempts: None,
            api_writes: None,
            retry_after: None,
            recovered_after: None,
            secret_ok: false,
            problems: vec![],
            verdict: Verdict::Fail,
        }
    }

    fn finish(mut self, gap: Option<&'static str>) -> Self {
        self.verdict = match (self.problems.is_empty(), gap) {
            (true, _) => Verdict::Pass,
            (false, Some(why)) => Verdict::KnownGap(why),
            (false, None) => Verdict::Fail,
        };
        self
    }

    fn cells(&self) -> String {
        let seconds = |d: Option<SignedDuration>| {
            d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
        };
        let attempts = match (self.attempts, self.api_writes) {
            (Some(calls), Some((secret, credential))) => {
                format!("{calls} WeTix, {secret} Secret + {credential} credential writes")
            }
            (Some(calls), None) => format!("{calls} WeTix"),
            _ => "-".into(),
        };
        let result = match &self.verdict {
            Verdict::Pass => "pass".to_string(),
            Verdict::Fail => format!("FAIL: {}", self.problems.join("; ")),
            Verdict::KnownGap(why) => {
                format!("expected failure ({why}): {}", self.problems.join("; "))
            }
        };
        format!(
            "{} | {} | {} | {attempts} | {} | {} | {} | {result}",
            self.point,
            self.fault,
            self.ready_while_faulty,
            seconds(self.retry_after),
            seconds(self.recovered_after),
            if self.secret_ok { "intact" } else { "DAMAGED" },
        )
    }
}
