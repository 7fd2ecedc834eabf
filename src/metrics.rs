//! Prometheus metrics: typed families, registered in one place. Labels come from small enums
//! and object names, never from error text or secrets.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, text::encode_registry},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::{
    credential_cache::CredentialCache,
    reason::{FailureClass, Reason},
};
use fleet::Fleet;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub grant: &'static str,
    pub outcome: RequestOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    pub grant: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub result: ReconcileResult,
}

/// How a token request ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RequestOutcome {
    success,
    transient_error,
    client_rejected,
    refresh_token_rejected,
    invalid_response,
    error,
}

impl RequestOutcome {
    /// The label of a request that succeeded (`None`) or failed for `reason`.
    pub fn of(failure: Option<Reason>) -> Self {
        let Some(reason) = failure else {
            return Self::success;
        };
        match reason.class() {
            FailureClass::Transient if reason == Reason::ServerUnavailable => Self::transient_error,
            FailureClass::RejectedClient => Self::client_rejected,
            FailureClass::RejectedRefreshToken => Self::refresh_token_rejected,
            FailureClass::InvalidAnswer => Self::invalid_response,
            FailureClass::None | FailureClass::Transient | FailureClass::BadInput => Self::error,
        }
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ReconcileResult {
    success,
    error,
}

pub struct Metrics {
    registry: Registry,
    /// The per-credential series, read from the credential caches at each scrape.
    fleet: Arc<Fleet>,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<GrantLabels, Histogram, fn() -> Histogram>,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Histogram,
    leader: Gauge,
}

fn request_histogram() -> Histogram {
    // 25 ms .. ~50 s: WeTix answers in well under a second; the client times out at 30 s.
    Histogram::new(exponential_buckets(0.025, 2.0, 12))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            fleet: Arc::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(request_histogram),
            reconciles: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            leader: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "wetix_token_requests",
            "Token requests sent to WeTix, by grant and outcome",
            metrics.requests.clone(),
        );
        registry.register(
            "wetix_token_request_duration_seconds",
            "Duration of token requests to WeTix",
            metrics.request_duration.clone(),
        );
        registry.register(
            "wetix_reconciliations",
            "Reconciles of WetixCredentials, by result",
            metrics.reconciles.clone(),
        );
        registry.register(
            "wetix_reconcile_duration_seconds",
            "Duration of one reconcile",
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "wetix_leader",
            "1 while this replica runs the controller (holds the Lease, with --leader-elect), else 0",
            metrics.leader.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Records one token request.
    pub fn token_request(&self, grant: &'static str, failure: Option<Reason>, took: Duration) {
        let outcome = RequestOutcome::of(failure);
        self.requests
            .get_or_create(&RequestLabels { grant, outcome })
            .inc();
        self.request_duration
            .get_or_create(&GrantLabels { grant })
            .observe(took.as_secs_f64());
    }

    /// Reconciles finished so far, successful or not.
    pub fn reconciles_finished(&self) -> u64 {
        [ReconcileResult::success, ReconcileResult::error]
            .into_iter()
            .filter_map(|result| self.reconciles.get(&ReconcileLabels { result }))
            .map(|counter| counter.get())
            .sum()
    }

    /// Records one reconcile.
    pub fn reconciled(&self, ok: bool, took: Duration) {
        let result = if ok {
            ReconcileResult::success
        } else {
            ReconcileResult::error
        };
        self.reconciles
            .get_or_create(&ReconcileLabels { result })
            .inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    /// Records whether this replica runs the controller.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Adds one watched scope's credential cache: its statuses are the per-credential series.
    pub fn watch_credentials(&self, cache: Arc<CredentialCache>) {
        self.fleet.watch(cache);
    }

    /// The OpenMetrics text exposition in pieces, to be sent as they come: the operator's own
    /// families, then the per-credential series a few hundred credentials at a time, then the
    /// end marker.
    pub fn exposition(&self) -> impl Iterator<Item = String> + Send + 'static {
        let mut own = String::new();
        // The encoder fails only when its writer does, and writing to a String never fails.
        #[allow(clippy::expect_used, reason = "writing to a String cannot fail")]
        encode_registry(&mut own, &self.registry).expect("writing to a String cannot fail");
        std::iter::once(own)
            .chain(self.fleet.text())
            .chain(std::iter::once("# EOF\n".to_owned()))
    }

    /// The whole exposition as one text (the endpoint sends [`Self::exposition`] as it comes).
    #[cfg(test)]
    pub fn render(&self) -> String {
        self.exposition().collect()
    }
}

/// A time as the gauges publish it: Unix seconds as a float. Exact for every `Timestamp`: its
/// seconds lie within ±2^39, and an f64 holds every integer up to 2^53.
pub fn unix_seconds(t: jiff::Timestamp) -> f64 {
    t.as_second() as f64
}

mod fleet;
#[cfg(test)]
mod tests;
