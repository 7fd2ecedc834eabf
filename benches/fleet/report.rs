//! The figures of one run, the table printed for a reader and the `fleet-summary:` line
//! printed last for scripts (the keys of issue 11), and the arithmetic of the lateness
//! figures. Pure; `tests/fleet_figures.rs` tests it.

use std::collections::HashMap;

use jiff::Timestamp;

/// Every figure of the summary line; times in seconds, memory in MiB.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub credentials: usize,
    pub unrelated: usize,
    pub cluster: &'static str,
    pub rss_peak_mib: f64,
    pub rss_steady_mib: f64,
    pub unrelated_rss_increase_pct: f64,
    pub issue_seconds: f64,
    pub baseline_issue_seconds: f64,
    pub renewal_lateness_p50_s: f64,
    pub renewal_lateness_p99_s: f64,
    pub renewal_lateness_max_s: f64,
    pub api_requests_per_renewal: f64,
    pub wetix_calls_per_renewal: f64,
    pub idle_cpu_pct: f64,
    pub restart_settle_s: f64,
    pub restart_wetix_calls: usize,
    pub restart_api_requests: usize,
}

impl Figures {
    /// The baseline's time over the operator's: above 1, the operator issues faster.
    pub fn issue_throughput_vs_baseline(&self) -> f64 {
        self.baseline_issue_seconds / self.issue_seconds
    }

    /// `fleet-summary: key=value ...`, every key, in the issue's order.
    pub fn summary_line(&self) -> String {
        let pairs = [
            ("credentials", self.credentials.to_string()),
            ("unrelated", self.unrelated.to_string()),
            ("cluster", self.cluster.to_owned()),
            ("rss_peak_mib", format!("{:.1}", self.rss_peak_mib)),
            ("rss_steady_mib", format!("{:.1}", self.rss_steady_mib)),
            (
                "unrelated_rss_increase_pct",
                format!("{:.1}", self.unrelated_rss_increase_pct),
            ),
            ("issue_seconds", format!("{:.2}", self.issue_seconds)),
            (
                "baseline_issue_seconds",
                format!("{:.2}", self.baseline_issue_seconds),
            ),
            (
                "issue_throughput_vs_baseline",
                format!("{:.2}", self.issue_throughput_vs_baseline()),
            ),
            (
                "renewal_lateness_p50_s",
                format!("{:.3}", self.renewal_lateness_p50_s),
            ),
            (
                "renewal_lateness_p99_s",
                format!("{:.3}", self.renewal_lateness_p99_s),
            ),
            (
                "renewal_lateness_max_s",
                format!("{:.3}", self.renewal_lateness_max_s),
            ),
            (
                "api_requests_per_renewal",
                format!("{:.2}", self.api_requests_per_renewal),
            ),
            (
                "wetix_calls_per_renewal",
                format!("{:.2}", self.wetix_calls_per_renewal),
            ),
            ("idle_cpu_pct", format!("{:.2}", self.idle_cpu_pct)),
            ("restart_settle_s", format!("{:.1}", self.restart_settle_s)),
            ("restart_wetix_calls", self.restart_wetix_calls.to_string()),
            (
                "restart_api_requests",
                self.restart_api_requests.to_string(),
            ),
        ];
        let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("fleet-summary: {}", pairs.join(" "))
    }
}

/// A table of `(figure, value, how it was measured)` rows, columns padded.
pub fn table(rows: &[(String, String, String)]) -> String {
    let width = |column: fn(&(String, String, String)) -> &String| {
        rows.iter()
            .map(|r| column(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(|r| &r.0), width(|r| &r.1));
    rows.iter()
        .map(|(figure, value, how)| format!("{figure:<w0$}  {value:>w1$}  {how}\n"))
        .collect()
}

/// Seconds from each credential's due time to its first WeTix call, sorted. `calls` are
/// `(credential, arrival)`, oldest first, as fake WeTix logs them; a credential's later calls
/// (retries) and credentials without a due time or without a call are left out. An early call
/// counts as negative lateness.
pub fn lateness<'a>(
    due: &HashMap<String, Timestamp>,
    calls: impl IntoIterator<Item = (&'a str, Timestamp)>,
) -> Vec<f64> {
    let mut first: HashMap<&str, Timestamp> = HashMap::new();
    for (credential, at) in calls {
        first.entry(credential).or_insert(at);
    }
    let mut late: Vec<f64> = first
        .into_iter()
        .filter_map(|(name, at)| Some(at.duration_since(*due.get(name)?).as_secs_f64()))
        .collect();
    late.sort_by(f64::total_cmp);
    late
}

/// The nearest-rank `p`-quantile (0 < p ≤ 1) of sorted values, the least for `p` = 0; NaN
/// for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
