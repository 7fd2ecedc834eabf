//! The benchmark's own watch of the fleet's WetixCredentials (kube-runtime's `watcher`, one
//! list and then events, never a list per check): for each credential what its status says and
//! when the benchmark first saw it issued. Waits are checks of this view in memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use wetix_operator::credential::WetixCredential;

/// What the status of one credential says, as last seen.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The Ready condition's status and reason.
    pub ready: Option<(String, String)>,
    pub next_refresh: Option<Timestamp>,
    pub last_refresh: Option<Timestamp>,
    /// The `wetix.my/refresh-requested-at` value the operator last acted on.
    pub last_refresh_request: String,
    /// When the benchmark first saw it issued (see [`Seen::issued`]).
    pub issued_seen_at: Option<Instant>,
}

impl Seen {
    /// Ready=True with a reason that follows an issue: TokenIssued, or a renewal that came
    /// after it (at 10,000 credentials the first renewals can start before the last issue).
    pub fn issued(&self) -> bool {
        self.ready_with(&["TokenIssued", "TokenRefreshed"])
    }

    /// Ready=True with one of `reasons`.
    pub fn ready_with(&self, reasons: &[&str]) -> bool {
        self.ready
            .as_ref()
            .is_some_and(|(status, reason)| status == "True" && reasons.contains(&reason.as_str()))
    }
}

pub type Fleet = HashMap<String, Seen>;

pub struct FleetView {
    fleet: Arc<Mutex<Fleet>>,
    watch: tokio::task::JoinHandle<()>,
}

/// How often a wait looks at the view: a figure comes from the instants in [`Seen`], not from
/// this.
const LOOK: Duration = Duration::from_millis(100);

impl FleetView {
    /// Starts watching `api`; returns once the initial list is in.
    pub async fn start(api: Api<WetixCredential>) -> Self {
        let fleet = Arc::new(Mutex::new(Fleet::new()));
        let (listed, is_listed) = tokio::sync::oneshot::channel();
        let watch = tokio::spawn({
            let fleet = fleet.clone();
            async move {
                let mut listed = Some(listed);
                let mut events = watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::Apply(c) | watcher::Event::InitApply(c)) => {
                            see(&mut fleet.lock().unwrap(), &c);
                        }
                        Ok(watcher::Event::Delete(c)) => {
                            fleet.lock().unwrap().remove(&c.name_any());
                        }
                        Ok(watcher::Event::InitDone) => {
                            if let Some(listed) = listed.take() {
                                let _ = listed.send(());
                            }
                        }
                        Ok(watcher::Event::Init) => {}
                        Err(error) => eprintln!("fleet watch: {error} (retrying)"),
                    }
                }
            }
        });
        is_listed
            .await
            .expect("the fleet watch lists the credentials");
        Self { fleet, watch }
    }

    /// A copy of the view now.
    pub fn snapshot(&self) -> Fleet {
        self.fleet.lock().unwrap().clone()
    }

    /// How many credentials satisfy `ok` now.
    pub fn count(&self, ok: impl Fn(&str, &Seen) -> bool) -> usize {
        let fleet = self.fleet.lock().unwrap();
        fleet.iter().filter(|(name, seen)| ok(name, seen)).count()
    }

    /// Waits until `n` credentials satisfy `ok`, printing progress every few seconds; panics
    /// with `what` and the count after `within`.
    pub async fn wait_for(
        &self,
        what: &str,
        n: usize,
        within: Duration,
        ok: impl Fn(&str, &Seen) -> bool,
    ) {
        let deadline = Instant::now() + within;
        let mut report = Instant::now();
        loop {
            let done = self.count(&ok);
            if done >= n {
                return;
            }
            if report.elapsed() >= Duration::from_secs(10) {
                crate::progress(&format!("{what}: {done}/{n}"));
                report = Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: only {done} of {n} within {} s; Ready reasons: {:?}",
                within.as_secs(),
                self.reasons()
            );
            tokio::time::sleep(LOOK).await;
        }
    }

    /// How many credentials have each Ready reason, for failure messages.
    fn reasons(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for seen in self.fleet.lock().unwrap().values() {
            let key = seen
                .ready
                .as_ref()
                .map_or("no Ready".to_owned(), |(s, r)| format!("{s}/{r}"));
            *counts.entry(key).or_default() += 1;
        }
        counts
    }
}

impl Drop for FleetView {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

fn see(fleet: &mut Fleet, credential: &WetixCredential) {
    let status = credential.status.as_ref();
    let seen = fleet.entry(credential.name_any()).or_default();
    seen.ready = credential
        .ready_condition()
        .map(|c| (c.status.clone(), c.reason.clone()));
    seen.next_refresh = status
        .and_then(|s| s.next_refresh_time.as_ref())
        .map(|t| t.0);
    seen.last_refresh = status
        .and_then(|s| s.last_refresh_time.as_ref())
        .map(|t| t.0);
    seen.last_refresh_request = status
        .map(|s| s.last_refresh_request.clone())
        .unwrap_or_default();
    if seen.issued_seen_at.is_none() && seen.issued() {
        seen.issued_seen_at = Some(Instant::now());
    }
}
