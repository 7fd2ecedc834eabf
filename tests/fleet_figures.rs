//! The fleet benchmark's figures are computed right: the `fleet-summary:` line carries every
//! key issue 11 names, in its order, and the lateness figures are what they say. The
//! benchmark itself (`benches/fleet/`) has no test harness, so its pure module is compiled
//! here.

#[path = "../benches/fleet/report.rs"]
mod report;

use std::collections::HashMap;

use jiff::Timestamp;
use report::{Figures, lateness, percentile, table};

/// The keys of the summary line, in the order of the issue's table.
const KEYS: [&str; 18] = [
    "credentials",
    "unrelated",
    "cluster",
    "rss_peak_mib",
    "rss_steady_mib",
    "unrelated_rss_increase_pct",
    "issue_seconds",
    "baseline_issue_seconds",
    "issue_throughput_vs_baseline",
    "renewal_lateness_p50_s",
    "renewal_lateness_p99_s",
    "renewal_lateness_max_s",
    "api_requests_per_renewal",
    "wetix_calls_per_renewal",
    "idle_cpu_pct",
    "restart_settle_s",
    "restart_wetix_calls",
    "restart_api_requests",
];

fn figures() -> Figures {
    Figures {
        credentials: 10_000,
        unrelated: 50_000,
        cluster: "real",
        rss_peak_mib: 76.34,
        rss_steady_mib: 61.8,
        unrelated_rss_increase_pct: -8.26,
        issue_seconds: 68.49,
        baseline_issue_seconds: 32.01,
        renewal_lateness_p50_s: 1.4741,
        renewal_lateness_p99_s: 3.192,
        renewal_lateness_max_s: 3.509,
        api_requests_per_renewal: 3.0,
        wetix_calls_per_renewal: 1.0,
        idle_cpu_pct: 0.004,
        restart_settle_s: 7.04,
        restart_wetix_calls: 0,
        restart_api_requests: 10_084,
    }
}

#[test]
fn the_summary_line_has_every_key_of_the_issue_once_in_its_order() {
    let line = figures().summary_line();
    let pairs = line
        .strip_prefix("fleet-summary: ")
        .unwrap_or_else(|| panic!("{line}"));
    let keys: Vec<&str> = pairs
        .split(' ')
        .map(|pair| pair.split_once('=').unwrap_or_else(|| panic!("{pair}")).0)
        .collect();
    assert_eq!(keys, KEYS, "{line}");
}

#[test]
fn the_summary_line_gives_each_figure_with_its_precision() {
    let line = figures().summary_line();
    let value = |key: &str| -> String {
        line.split(' ')
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {line}"))
            .to_owned()
    };
    for (key, want) in [
        ("credentials", "10000"),
        ("cluster", "real"),
        ("rss_peak_mib", "76.3"),
        ("unrelated_rss_increase_pct", "-8.3"),
        ("issue_seconds", "68.49"),
        // The baseline's time over the operator's: below 1, the operator is slower.
        ("issue_throughput_vs_baseline", "0.47"),
        ("renewal_lateness_p50_s", "1.474"),
        ("idle_cpu_pct", "0.00"),
        ("restart_settle_s", "7.0"),
        ("restart_wetix_calls", "0"),
        ("restart_api_requests", "10084"),
    ] {
        assert_eq!(value(key), want, "{key}");
    }
}

#[test]
fn percentiles_are_nearest_rank() {
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    for (values, p, want) in [
        (&hundred[..], 0.50, 50.0),
        (&hundred[..], 0.99, 99.0),
        (&hundred[..], 1.0, 100.0),
        (&hundred[..], 0.0, 1.0),
        (&hundred[..], 0.001, 1.0),
        (&[0.25][..], 0.99, 0.25),
        // Of ten values, the 99th percentile is the largest: one late renewal in ten shows.
        (
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0][..],
            0.99,
            9.0,
        ),
        (&[1.0, 2.0, 3.0][..], 0.50, 2.0),
    ] {
        assert_eq!(percentile(values, p), want, "p{p} of {values:?}");
    }
    assert!(percentile(&[], 0.5).is_nan());
}

fn at(second: i64, millis: i64) -> Timestamp {
    Timestamp::from_millisecond(1_800_000_000_000 + second * 1000 + millis).unwrap()
}

#[test]
fn lateness_is_from_each_due_time_to_the_first_call_of_that_credential() {
    let due: HashMap<String, Timestamp> = [
        ("a".to_owned(), at(10, 0)),
        ("b".to_owned(), at(10, 0)),
        ("c".to_owned(), at(20, 0)),
        ("never-called".to_owned(), at(10, 0)),
    ]
    .into();
    let calls = [
        ("b", at(10, 250)),
        ("a", at(11, 500)),
        // A retry of b after its first call: not lateness.
        ("b", at(15, 0)),
        // Called before it was due.
        ("c", at(19, 900)),
        // Not in the round.
        ("unknown", at(30, 0)),
    ];
    let late = lateness(&due, calls);
    assert_eq!(late.len(), 3, "{late:?}");
    for (got, want) in late.iter().zip([-0.1, 0.25, 1.5]) {
        assert!((got - want).abs() < 1e-9, "{late:?}");
    }
}

#[test]
fn the_table_pads_its_columns() {
    let rows = [
        (
            "peak RSS".to_owned(),
            "71.1 MiB".to_owned(),
            "/proc".to_owned(),
        ),
        ("p99".to_owned(), "0.279 s".to_owned(), "watch".to_owned()),
    ];
    assert_eq!(
        table(&rows),
        "peak RSS  71.1 MiB  /proc\np99        0.279 s  watch\n"
    );
}
