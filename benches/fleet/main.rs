//! The fleet benchmark (issue 11, section 1): N credentials, each with its own client, next to
//! many unrelated Secrets, against a baseline client doing the same work in a straight line.
//! Prints figures; asserts only that the run could complete: every credential issued, the
//! operator settled after each restart and every credential renewed, each within a deadline
//! that grows with N, and the re-alignment of phase 5 over before the first renewal fell due.
//! A failure says which and how far it got.
//!
//! ```sh
//! cargo bench --bench fleet                              # 10,000 credentials, 50,000 Secrets
//! WETIX_BENCH_CREDENTIALS=200 WETIX_BENCH_UNRELATED_SECRETS=1000 cargo bench --bench fleet
//! WETIX_BENCH_CLUSTER=real cargo bench --bench fleet     # the real kube-apiserver and etcd
//! ```
//!
//! - `WETIX_BENCH_CREDENTIALS` (default 10000): N.
//! - `WETIX_BENCH_UNRELATED_SECRETS` (default 50000): Secrets of 4 KiB with a few labels and
//!   annotations, in the operator's namespace, that no credential refers to.
//! - `WETIX_BENCH_CLUSTER` (default `emulator`): `emulator`, or `real` for the control plane
//!   of the end-to-end tests (`dev/test-kit`'s `control_plane`: the binaries of
//!   `hack/control-plane.sh build`; started for the run and stopped with it, or the one up in
//!   `WETIX_TEST_CONTROL_PLANE`).
//! - `WETIX_BENCH_ALIGN_SECONDS` (default: twice the issue time, plus 10 s): how long the
//!   re-alignment of phase 5 may take. Longer for an operator slowed by a profiler, so that
//!   its tokens do not expire before it reads them.
//!
//! The stack is the end-to-end tests' own (`tests/support`): the real operator binary of
//! `target/release`, fake WeTix and the emulator in this process. The operator runs with
//! `--namespaces <the run's namespace>` on both servers. Each credential has its own client
//! id, registered with fake WeTix, and its own client Secret labelled `wetix.my/watch: "true"`.
//! Everything is created 32 requests at a time before the operator starts. The benchmark
//! follows the credentials with a watch of its own (`view`), never by listing them.
//!
//! Phases, one after the other, and the `fleet-summary:` keys they give:
//!
//! 1. **baseline**: in a namespace of its own, per credential one token POST, one Secret
//!    apply and one status apply, 16 at a time (the operator's reconcile concurrency).
//!    `baseline_issue_seconds` is its wall time; `issue_throughput_vs_baseline` is
//!    `baseline_issue_seconds / issue_seconds` (above 1: the operator is faster).
//! 2. **issue**: the operator starts; `issue_seconds` runs from its start until the watch has
//!    seen every credential Ready=True with TokenIssued (or a renewal after it). Access tokens
//!    live a day: nothing falls due until the renewal round.
//! 3. **idle**: once the operator's CPU time has stood still for 2 s (the issue's tail: the
//!    watch events of its last writes, printed as `issue tail` with its CPU time, at most
//!    30 s), `idle_cpu_pct` is its CPU time (utime + stime of `/proc/<pid>/stat`) over the
//!    next 60 s, in percent of one core. `rss_steady_mib` is its VmRSS at the end of that
//!    minute.
//! 4. **restart**: SIGTERM, then a new process with every token still valid.
//!    `restart_settle_s` runs from its start until `wetix_reconciliations_total` on its
//!    /metrics was at least N and then did not move for 2 s (the time of the last move, to
//!    within a 0.5 s scrape). `restart_wetix_calls` and `restart_api_requests` are the WeTix
//!    calls and the operator's API requests from its start until then.
//! 5. **renewal round**: the fleet is re-aligned so that all N fall due within one minute
//!    (see `renewal`), then renewed by the operator. `renewal_lateness_{p50,p99,max}_s`: per
//!    credential, the arrival of its WeTix call (fake WeTix's call log, by client id) minus
//!    the `status.nextRefreshTime` read before it fell due. `api_requests_per_renewal` and
//!    `wetix_calls_per_renewal`: the operator's API requests and WeTix calls over the round,
//!    divided by N.
//! 6. **without the unrelated Secrets**: they are deleted and the operator restarted as in 4.
//!    `unrelated_rss_increase_pct` = VmRSS settled after the restart of phase 4 (with them)
//!    over VmRSS settled after this restart (without), minus one, in percent.
//!
//! `rss_peak_mib` is the highest VmHWM of the operator processes that ran with the unrelated
//! Secrets present (phases 2 to 5). API requests are counted from the emulator's request log
//! (the operator's user agent) or, on the real server, from the audit log (the operator's
//! token), as the end-to-end tests count them; the audit log records a request when it
//! completes, so there a watch still open at the end of a window is not counted. Progress
//! goes to stderr; the table and the summary line, last, to stdout.

#[path = "../../tests/support/mod.rs"]
mod support;

mod baseline;
mod observe;
mod renewal;
mod report;
mod setup;
mod view;

use std::time::{Duration, Instant};

use observe::{Requests, mib};
use report::Figures;
use support::{Server, Stack};

/// Access and refresh lifetimes outside the renewal round: nothing falls due during a run.
const LONG: (Duration, Duration) = (
    Duration::from_secs(24 * 3600),
    Duration::from_secs(7 * 24 * 3600),
);
/// The idle window.
const IDLE: Duration = Duration::from_secs(60);
/// How long the reconcile count must stand still for the operator to count as settled.
const QUIET: Duration = Duration::from_secs(2);

struct Config {
    credentials: usize,
    unrelated: usize,
    server: Server,
    /// How long the re-alignment may take, if not the default.
    align_seconds: Option<usize>,
}

impl Config {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| match std::env::var(name) {
            Ok(value) => value
                .parse()
                .unwrap_or_else(|_| panic!("{name}={value}: expected a number")),
            Err(_) => default,
        };
        let server = match std::env::var("WETIX_BENCH_CLUSTER").as_deref() {
            Ok("emulator") | Err(_) => Server::Emulator,
            Ok("real") => Server::Real,
            Ok(other) => panic!("WETIX_BENCH_CLUSTER={other}: expected emulator or real"),
        };
        Self {
            credentials: number("WETIX_BENCH_CREDENTIALS", 10_000).max(1),
            unrelated: number("WETIX_BENCH_UNRELATED_SECRETS", 50_000),
            server,
            align_seconds: std::env::var("WETIX_BENCH_ALIGN_SECONDS")
                .is_ok()
                .then(|| number("WETIX_BENCH_ALIGN_SECONDS", 0)),
        }
    }
}

fn main() {
    let config = Config::from_env();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
        .block_on(fleet(config));
}

/// One line of progress on stderr, after the time since the run began.
pub fn progress(line: &str) {
    use std::sync::OnceLock;
    static BEGAN: OnceLock<Instant> = OnceLock::new();
    let began = BEGAN.get_or_init(Instant::now);
    eprintln!("[{:7.1} s] {line}", began.elapsed().as_secs_f64());
}

async fn fleet(config: Config) {
    let Config {
        credentials: n,
        unrelated,
        server,
        align_seconds,
    } = config;
    let cluster = match server {
        Server::Emulator => "emulator",
        Server::Real => "real",
    };
    progress(&format!(
        "{n} credentials, {unrelated} unrelated Secrets, on the {cluster} API server"
    ));
    let stack = Stack::start(server, LONG.0.as_secs(), LONG.1.as_secs()).await;
    let ns = stack.ns.clone();
    let mut stack = stack.with_args(&["--namespaces", &ns]);
    let mut rows: Vec<(String, String, String)> = vec![];
    let mut row = |figure: &str, value: String, how: &str| {
        rows.push((figure.to_owned(), value, how.to_owned()));
    };

    // Set-up, before the operator starts.
    let started = Instant::now();
    setup::register_clients(&stack.wetix, n);
    setup::create_client_secrets(&stack.secrets(), n).await;
    setup::create_credentials(&stack.credentials(), n, &stack.wetix.url()).await;
    setup::create_unrelated(&stack.secrets(), unrelated).await;
    let baseline_ns = format!("{ns}-baseline");
    create_namespace(&stack, &baseline_ns).await;
    let baseline_api = kube::Api::namespaced(stack.client.clone(), &baseline_ns);
    setup::create_credentials(&baseline_api, n, &stack.wetix.url()).await;
    progress(&format!(
        "set up in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    // 1. The baseline.
    let baseline_took = baseline::run(&stack.client, &baseline_ns, &stack.wetix.url(), n).await;
    progress(&format!(
        "baseline: {n} issued in {:.2} s",
        baseline_took.as_secs_f64()
    ));
    row(
        "baseline issue",
        format!("{:.2} s", baseline_took.as_secs_f64()),
        "token POST + Secret apply + status apply per credential, as many at a time as the operator",
    );

    // 2. Issue.
    let view = view::FleetView::start(stack.credentials()).await;
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();
    let spawned = Instant::now();
    stack.start_operator().await;
    let deadline = Duration::from_secs(600) + Duration::from_millis(60) * n as u32;
    view.wait_for("issued", n, deadline, |_, seen| seen.issued())
        .await;
    let issued_at = view
        .snapshot()
        .values()
        .filter_map(|seen| seen.issued_seen_at)
        .max()
        .expect("every credential issued");
    let issue_seconds = issued_at.duration_since(spawned).as_secs_f64();
    observe::wait_reconciles(&stack, n as u64, Duration::from_secs(300)).await;
    let issue_requests = Requests::since_clear(&stack).await;
    let issue_calls = stack.wetix.calls().len();
    let after_issue = observe::memory(&stack);
    progress(&format!("issue: {n} issued in {issue_seconds:.2} s"));
    row(
        "issue",
        format!("{issue_seconds:.2} s"),
        "operator start to the last Ready=True/TokenIssued seen by the watch",
    );
    row(
        "  throughput vs baseline",
        format!("{:.2}x", baseline_took.as_secs_f64() / issue_seconds),
        "baseline time / issue time",
    );
    row(
        "  API requests per issue",
        issue_requests.per(n),
        &issue_requests.detail(n),
    );
    row(
        "  WeTix calls per issue",
        format!("{:.2}", issue_calls as f64 / n as f64),
        "",
    );
    row(
        "  RSS after issue",
        format!("{:.1} MiB", mib(after_issue.rss_kib)),
        &format!("VmRSS; VmHWM {:.1} MiB", mib(after_issue.peak_kib)),
    );

    // 3. Idle, once the operator has gone quiet: the watch events of the issue's last writes
    // reach it after the benchmark's watch has seen the last Ready.
    let tail_cpu_from = observe::cpu_seconds(&stack);
    let tail = observe::wait_quiet_cpu(&stack, QUIET, Duration::from_secs(30)).await;
    let tail_cpu = observe::cpu_seconds(&stack) - tail_cpu_from;
    row(
        "  issue tail",
        format!("{:.1} s", tail.as_secs_f64()),
        &format!(
            "after the reconciles until the operator's CPU time stood still for {} s; {tail_cpu:.2} s of CPU",
            QUIET.as_secs()
        ),
    );
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();
    let cpu_before = observe::cpu_seconds(&stack);
    let idle_from = Instant::now();
    progress(&format!("idle: {} s", IDLE.as_secs()));
    tokio::time::sleep(IDLE).await;
    let idle_cpu = observe::cpu_seconds(&stack) - cpu_before;
    let idle_cpu_pct = idle_cpu / idle_from.elapsed().as_secs_f64() * 100.0;
    let idle_requests = Requests::since_clear(&stack).await;
    let idle_calls = stack.wetix.calls().len();
    let steady = observe::memory(&stack);
    row(
        "idle CPU",
        format!("{idle_cpu_pct:.2} %"),
        &format!(
            "utime+stime over {} s, of one core; {} API requests, {idle_calls} WeTix calls meanwhile",
            IDLE.as_secs(),
            idle_requests.total()
        ),
    );
    row(
        "steady RSS",
        format!("{:.1} MiB", mib(steady.rss_kib)),
        "VmRSS at the end of the idle minute",
    );

    // 4. Restart with valid tokens.
    stack.stop_operator().await;
    let restart = restarted(&mut stack, n).await;
    progress(&format!("restart: settled in {:.1} s", restart.settle_s));
    row(
        "restart settle",
        format!("{:.1} s", restart.settle_s),
        "start until wetix_reconciliations_total >= N and still for 2 s",
    );
    row(
        "  WeTix calls",
        restart.wetix_calls.to_string(),
        "start until settled",
    );
    row(
        "  API requests",
        restart.requests.total().to_string(),
        &restart.requests.detail(1),
    );
    row(
        "  RSS settled",
        format!("{:.1} MiB", mib(restart.memory.rss_kib)),
        "VmRSS once settled",
    );

    // 5. The renewal round.
    // A forced refresh costs less than an issue, but the benchmark's own annotation patches
    // come first: on the real server at 200 it took 1.5 times the issue.
    // A profiled operator is slower: `WETIX_BENCH_ALIGN_SECONDS` gives it longer tokens.
    let expected = align_seconds.map_or(issue_seconds * 2.0 + 10.0, |s| s as f64);
    let lifetime = renewal::aligned_lifetime(Duration::from_secs_f64(expected));
    progress(&format!(
        "re-aligning: access tokens of {} s for all {n}",
        lifetime.as_secs()
    ));
    let aligned = renewal::align(&stack, &view, n, lifetime, LONG).await;
    let round = renewal::round(&stack, &view, n, &aligned).await;
    let after_round = observe::memory(&stack);
    let late = &round.lateness;
    progress(&format!("renewal round: {} renewals", late.len()));
    row(
        "re-alignment",
        format!("{:.1} s", aligned.took.as_secs_f64()),
        &format!(
            "forced refresh of all N, tokens of {} s: due over {:.1} s",
            aligned.lifetime.as_secs(),
            renewal::WINDOW.as_secs_f64() + aligned.lifetime.as_secs_f64() * renewal::SPREAD_SHARE
        ),
    );
    row(
        "renewal lateness p50",
        format!("{:.3} s", report::percentile(late, 0.50)),
        "WeTix call arrival - status.nextRefreshTime",
    );
    row(
        "renewal lateness p99",
        format!("{:.3} s", report::percentile(late, 0.99)),
        "",
    );
    row(
        "renewal lateness max",
        format!("{:.3} s", report::percentile(late, 1.0)),
        &format!(
            "min {:.3} s; round from {} to {}",
            report::percentile(late, 0.0),
            round.spread.0,
            round.spread.1
        ),
    );
    row(
        "API requests per renewal",
        round.requests.per(n),
        &round.requests.detail(n),
    );
    row(
        "WeTix calls per renewal",
        format!("{:.2}", round.calls.len() as f64 / n as f64),
        "over the round",
    );
    row(
        "  RSS after the round",
        format!("{:.1} MiB", mib(after_round.rss_kib)),
        &format!("VmRSS; VmHWM {:.1} MiB", mib(after_round.peak_kib)),
    );
    let rss_peak_kib = after_issue
        .peak_kib
        .max(steady.peak_kib)
        .max(after_round.peak_kib);
    row(
        "peak RSS",
        format!("{:.1} MiB", mib(rss_peak_kib)),
        "highest VmHWM of the processes of phases 2-5",
    );

    // 6. The same restart without the unrelated Secrets.
    stack.stop_operator().await;
    let unrelated_rss_increase_pct = if unrelated > 0 {
        setup::delete_unrelated(&stack.secrets()).await;
        let without = restarted(&mut stack, n).await;
        stack.stop_operator().await;
        let with_kib = restart.memory.rss_kib as f64;
        let without_kib = without.memory.rss_kib as f64;
        let pct = (with_kib / without_kib - 1.0) * 100.0;
        row(
            "RSS added by unrelated",
            format!("{pct:.1} %"),
            &format!(
                "settled VmRSS after a restart: {:.1} MiB with them, {:.1} MiB after deleting them",
                mib(restart.memory.rss_kib),
                mib(without.memory.rss_kib)
            ),
        );
        pct
    } else {
        row(
            "RSS added by unrelated",
            "0.0 %".to_owned(),
            "no unrelated Secrets in this run",
        );
        0.0
    };

    let figures = Figures {
        credentials: n,
        unrelated,
        cluster,
        rss_peak_mib: mib(rss_peak_kib),
        rss_steady_mib: mib(steady.rss_kib),
        unrelated_rss_increase_pct,
        issue_seconds,
        baseline_issue_seconds: baseline_took.as_secs_f64(),
        renewal_lateness_p50_s: report::percentile(late, 0.50),
        renewal_lateness_p99_s: report::percentile(late, 0.99),
        renewal_lateness_max_s: report::percentile(late, 1.0),
        api_requests_per_renewal: round.requests.total() as f64 / n as f64,
        wetix_calls_per_renewal: round.calls.len() as f64 / n as f64,
        idle_cpu_pct,
        restart_settle_s: restart.settle_s,
        restart_wetix_calls: restart.wetix_calls,
        restart_api_requests: restart.requests.total(),
    };
    println!();
    println!(
        "fleet benchmark: {n} credentials, {unrelated} unrelated Secrets, {cluster} API server"
    );
    print!("{}", report::table(&rows));
    println!("{}", figures.summary_line());
}

/// What a restart with valid tokens cost.
struct Restart {
    settle_s: f64,
    wetix_calls: usize,
    requests: Requests,
    memory: wetix_test_kit::procfs::Memory,
}

/// Starts the operator again (it must be stopped) and measures it until it settles.
async fn restarted(stack: &mut Stack, n: usize) -> Restart {
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();
    let spawned = Instant::now();
    stack.start_operator().await;
    let within = Duration::from_secs(300) + Duration::from_millis(20) * n as u32;
    let settled = observe::wait_settled(stack, n, QUIET, within).await;
    Restart {
        settle_s: settled.duration_since(spawned).as_secs_f64(),
        wetix_calls: stack.wetix.calls().len(),
        requests: Requests::since_clear(stack).await,
        memory: observe::memory(stack),
    }
}

/// Creates a namespace (the emulator accepts objects in any namespace, the real server only in
/// one that exists).
async fn create_namespace(stack: &Stack, name: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Namespace::default()
    };
    kube::Api::<Namespace>::all(stack.client.clone())
        .create(&Default::default(), &namespace)
        .await
        .expect("the baseline's namespace created");
}
