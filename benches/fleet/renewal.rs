//! The renewal round: every credential due within a few seconds of the others, and how late
//! each renewal reached WeTix.
//!
//! Tokens issued at start-up are spread over the whole issue phase, and so would be their
//! renewals. To bring every renewal into one minute ([`WINDOW`]), the fleet is first
//! re-aligned: fake WeTix's clock is frozen, and the credentials are asked for a refresh (the
//! `wetix.my/refresh-requested-at` annotation) in [`BATCHES`] batches, the clock set for each
//! batch one step later, from a minute in the past to now. Every access token of a batch has
//! the same `iat` and `exp` (earlier than the operator's own reading of `expires_in`, so the
//! JWT's `exp` is what it renews by), with a lifetime chosen so that the renewals fall due
//! after the re-alignment is over. The operator renews with a third of the lifetime left,
//! moved earlier by at most 5 % of that by a per-credential jitter, so the renewals spread
//! evenly over the minute, plus `0.0165 × lifetime`; then the clock runs again. Each
//! credential's `status.nextRefreshTime` is read after the re-alignment, before any falls due;
//! its lateness is the arrival of its first WeTix call after that minus that time.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use fake_wetix::Call;
use jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::{
    observe::{self, Requests},
    progress, report, setup,
    support::Stack,
    view::FleetView,
};

/// The share of an access token's lifetime after which the earliest renewal falls due: the
/// operator renews with a third left (`DEFAULT_RENEW_BEFORE_PERCENTAGE`, 33 %), earlier by at
/// most 5 % of that window (`RENEW_JITTER_SHARE`).
const EARLIEST_DUE_SHARE: f64 = 1.0 - 0.33 - 0.33 * 0.05;
/// The share of the lifetime over which the renewals spread.
pub const SPREAD_SHARE: f64 = 0.33 * 0.05;
/// Kept between the end of the re-alignment and the first renewal.
const MARGIN: Duration = Duration::from_secs(15);
const SHORTEST_LIFETIME: u64 = 60;
/// The renewals of the round fall due within this window: "all N due within one minute".
pub const WINDOW: Duration = Duration::from_secs(60);
/// Steps of the clock over the window.
const BATCHES: usize = 60;

/// The access lifetime that brings the earliest renewal `MARGIN` after a re-alignment taking
/// `expected` (whole seconds), the earliest batch's clock set `WINDOW` back.
pub fn aligned_lifetime(expected: Duration) -> Duration {
    let need = (expected + MARGIN + WINDOW).as_secs_f64();
    Duration::from_secs(((need / EARLIEST_DUE_SHARE).ceil() as u64).max(SHORTEST_LIFETIME))
}

/// What the re-alignment left: when each credential falls due.
pub struct Aligned {
    pub lifetime: Duration,
    pub took: Duration,
    pub due: HashMap<String, Timestamp>,
}

/// Re-aligns the fleet (see the module doc) with tokens of `lifetime`, then puts fake WeTix
/// back to `long` lifetimes for the renewals.
pub async fn align(
    stack: &Stack,
    view: &FleetView,
    n: usize,
    lifetime: Duration,
    long: (Duration, Duration),
) -> Aligned {
    let started = Instant::now();
    let clock = stack.wetix.clock();
    stack.wetix.set_lifetimes(lifetime, long.1);
    let marker = format!("fleet-bench-align-{}", Timestamp::now().as_second());
    let api = stack.credentials();
    let patch = json!({"metadata": {"annotations": {"wetix.my/refresh-requested-at": marker}}});
    let within = lifetime.mul_f64(EARLIEST_DUE_SHARE);
    let window_start = Timestamp::now() - WINDOW;
    let batches = BATCHES.min(n).max(1);
    let per_batch = n.div_ceil(batches);
    for batch in 0..batches {
        let step = WINDOW.mul_f64(batch as f64 / batches as f64);
        clock.freeze(window_start + step);
        let names = batch * per_batch..((batch + 1) * per_batch).min(n);
        let count = names.end;
        setup::in_flight(names, setup::IN_FLIGHT, |i| {
            let (api, patch) = (&api, &patch);
            async move {
                api.patch(
                    &setup::credential_name(i),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
                .expect("refresh requested");
            }
        })
        .await;
        view.wait_for("re-aligned", count, within, |_, seen| {
            seen.last_refresh_request == marker
                && seen.ready_with(&["TokenRefreshed", "TokenIssued"])
        })
        .await;
    }
    clock.thaw();
    stack.wetix.set_lifetimes(long.0, long.1);
    let due: HashMap<String, Timestamp> = view
        .snapshot()
        .into_iter()
        .filter_map(|(name, seen)| Some((name, seen.next_refresh?)))
        .collect();
    let now = Timestamp::now();
    let earliest = due.values().min().copied().unwrap_or(now);
    assert!(
        due.len() == n && now < earliest,
        "the re-alignment ended at {now}, after the first renewal fell due ({earliest}), or left \
         credentials without nextRefreshTime ({} of {n} have one)",
        due.len()
    );
    Aligned {
        lifetime,
        took: started.elapsed(),
        due,
    }
}

pub struct Round {
    /// Seconds, sorted.
    pub lateness: Vec<f64>,
    pub requests: Requests,
    pub calls: Vec<Call>,
    /// From the earliest due time to the last renewal seen.
    pub spread: (Timestamp, Timestamp),
}

/// Waits for the renewal round of an aligned fleet and measures it.
pub async fn round(stack: &Stack, view: &FleetView, n: usize, aligned: &Aligned) -> Round {
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();
    let reconciles_before = stack.reconciles().await;
    let latest = aligned
        .due
        .values()
        .max()
        .copied()
        .unwrap_or_else(Timestamp::now);
    let earliest = aligned
        .due
        .values()
        .min()
        .copied()
        .unwrap_or_else(Timestamp::now);
    progress(&format!(
        "renewal round: {n} due from {earliest} to {latest}, in {:.0} s",
        earliest.duration_since(Timestamp::now()).as_secs_f64()
    ));
    let until_latest =
        Duration::try_from(latest.duration_since(Timestamp::now())).unwrap_or_default();
    let within = until_latest + Duration::from_secs(120) + aligned.took * 2;
    view.wait_for("renewed", n, within, |name, seen| {
        seen.ready_with(&["TokenRefreshed"]) && seen.next_refresh != aligned.due.get(name).copied()
    })
    .await;
    observe::wait_reconciles(
        stack,
        reconciles_before + n as u64,
        Duration::from_secs(120),
    )
    .await;
    let calls = stack.wetix.calls();
    let last = calls.iter().map(|c| c.at).max().unwrap_or(latest);
    Round {
        lateness: report::lateness(
            &aligned.due,
            calls.iter().filter_map(|call| {
                let credential = setup::credential_of_client(call.client_id.as_deref()?)?;
                Some((credential, call.at))
            }),
        ),
        requests: Requests::since_clear(stack).await,
        calls,
        spread: (earliest, last),
    }
}
