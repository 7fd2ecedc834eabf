//! What the benchmark reads off the operator while it runs: its memory and CPU time from
//! /proc, its finished reconciles from /metrics, its API requests from the server's log (the
//! emulator's request log, or the real server's audit log, as the end-to-end tests count
//! them) and its WeTix calls from fake WeTix's call log. The audit log records a request when
//! it completes, so on the real server a watch still open is not counted yet; the emulator
//! logs it as it arrives.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use wetix_test_kit::procfs;

use crate::support::Stack;

/// The running operator's memory now.
pub fn memory(stack: &Stack) -> procfs::Memory {
    stack
        .operator_pid()
        .and_then(procfs::memory)
        .expect("the operator's /proc/<pid>/status")
}

/// Waits until the running operator's CPU time has not moved for `quiet` (the kernel counts
/// it in ticks of 10 ms), at most `within`; how long that took, until its last move.
pub async fn wait_quiet_cpu(stack: &Stack, quiet: Duration, within: Duration) -> Duration {
    let from = Instant::now();
    let mut last = (cpu_seconds(stack), from);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        let cpu = cpu_seconds(stack);
        if cpu != last.0 {
            last = (cpu, now);
        }
        if now - last.1 >= quiet || now - from >= within {
            return last.1 - from;
        }
    }
}

/// The CPU time the running operator has used so far, in seconds.
pub fn cpu_seconds(stack: &Stack) -> f64 {
    stack
        .operator_pid()
        .and_then(procfs::cpu_seconds)
        .expect("the operator's /proc/<pid>/stat")
}

/// None for a whole number, four decimals below 0.1 (one list among 10,000 credentials),
/// else two.
fn round(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value < 0.1 {
        format!("{value:.4}")
    } else {
        format!("{value:.2}")
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The operator's API requests since the log was last cleared, by "METHOD resource".
#[derive(Debug, Default, Clone)]
pub struct Requests(pub BTreeMap<String, usize>);

impl Requests {
    pub async fn since_clear(stack: &Stack) -> Self {
        let mut counts = BTreeMap::new();
        for r in stack.cluster.operator_requests().await {
            let resource = ["status", "secrets", "events", "leases", "wetixcredentials"]
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
        Self(counts)
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// The total divided by `per`.
    pub fn per(&self, per: usize) -> String {
        format!("{:.2}", self.total() as f64 / per.max(1) as f64)
    }

    /// `kind count, ...`, each divided by `per`.
    pub fn detail(&self, per: usize) -> String {
        let per = per.max(1) as f64;
        let detail: Vec<String> = self
            .0
            .iter()
            .map(|(kind, count)| format!("{kind} {}", round(*count as f64 / per)))
            .collect();
        detail.join(", ")
    }
}

/// How often the settle wait scrapes /metrics (each scrape renders every series of the fleet).
const SCRAPE: Duration = Duration::from_millis(500);

/// Waits until the operator has settled: `wetix_reconciliations_total` is at least `n` and
/// has not moved for `quiet`. Returns the first instant it was seen at that final value (to
/// within one scrape), i.e. when its last reconcile had finished.
pub async fn wait_settled(stack: &Stack, n: usize, quiet: Duration, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    let mut last = u64::MAX;
    let mut since = Instant::now();
    loop {
        let reconciles = stack.reconciles().await;
        if reconciles != last {
            last = reconciles;
            since = Instant::now();
        } else if reconciles >= n as u64 && since.elapsed() >= quiet {
            return since;
        }
        assert!(
            Instant::now() < deadline,
            "the operator did not settle within {} s: {reconciles} reconciles of {n}",
            within.as_secs()
        );
        tokio::time::sleep(SCRAPE).await;
    }
}

/// Waits until the operator has finished `count` reconciles in all: whatever they sent has
/// been answered by then.
pub async fn wait_reconciles(stack: &Stack, count: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let done = stack.reconciles().await;
        if done >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {count} reconciles within {} s",
            within.as_secs()
        );
        tokio::time::sleep(SCRAPE).await;
    }
}
