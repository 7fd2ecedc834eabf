//! When each credential is next looked at, and the hand-over to the controller: earliest due
//! first, and never more than there are reconcile slots free.
//!
//! A scheduler of delays such as kube-runtime's keeps every requeued credential twice (a
//! delay queue and a map, each with a copy of the full object reference), and starts those
//! that fall due while its slots are busy in hash order: in a busy renewal round a credential
//! due first could wait behind thousands due after it. So the operator keeps the times here,
//! one small entry per credential:
//! - a reconcile that ends with "look again in d" sets the credential's wake-up to now + d;
//! - the credentials of the first list are put here due now (an overdue renewal at its own
//!   time, so it goes first);
//! - [`Wakeups::hand_over`] gives the due ones to the controller in due order, ties in the
//!   order they were set, only while fewer than [`SLOTS`] reconciles run or wait to start.
//!
//! [`Queue`] is the plain data and every rule; [`Wakeups`] only adds the lock, the clock and
//! the channel to each controller.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::channel::mpsc::UnboundedSender;
use jiff::Timestamp;
use kube::ResourceExt;
use tokio::sync::Notify;

use crate::credential::WetixCredential;

/// Reconciles running at once. Bounds the burst of requests at start-up, when every
/// credential is looked at once; a renewal round of thousands goes through them in due order.
pub const SLOTS: usize = 16;

/// How long a credential handed to the controller may take to start before its slot counts
/// as free again (it was deleted meanwhile, say, and the controller dropped it).
pub const HANDED_FOR: Duration = Duration::from_secs(30);

/// Replaced or spent entries kept in the heap beyond half as many as there are wake-ups.
const STALE_KEPT: usize = 64;

/// The longest the hand-over sleeps without looking again, in case the clock jumped.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// A credential, by namespace and name, in one allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(format!("{namespace}/{name}").into())
    }

    pub fn of(credential: &WetixCredential) -> Self {
        Self::new(
            &credential.namespace().unwrap_or_default(),
            &credential.name_any(),
        )
    }

    /// Namespace and name. Neither may contain a slash.
    pub fn parts(&self) -> (&str, &str) {
        self.0.split_once('/').unwrap_or(("", &self.0))
    }
}

/// When a credential seen for the first time is due: its renewal time if that has passed,
/// else now.
pub fn first_look(credential: &WetixCredential, now: Timestamp) -> Timestamp {
    let renewal = credential
        .status
        .as_ref()
        .and_then(|s| s.next_refresh_time.as_ref())
        .map(|t| t.0);
    renewal.map_or(now, |at| at.min(now))
}

/// What [`Queue::hand_out`] decided.
#[derive(Debug, PartialEq)]
pub struct HandOut {
    /// To start now, earliest due first.
    pub keys: Vec<Key>,
    /// When to look again if nothing changes before: the next wake-up, or `None` when there is
    /// none or no slot is free (a finished reconcile is then the change to wait for).
    pub next: Option<Timestamp>,
}

/// Plain data: every wake-up, and the slots in use.
#[derive(Debug, Default)]
pub struct Queue {
    /// Each credential's wake-up: its time, and the order it was set in.
    at: HashMap<Key, (Timestamp, u64)>,
    /// The wake-ups, earliest first, and those replaced or spent since, passed over when they
    /// come first. A heap in one buffer rather than an ordered tree: a renewal round moves
    /// every credential's entry, and a tree's nodes, split and freed as it goes, would be
    /// left scattered among the reconciles' buffers.
    order: BinaryHeap<Reverse<(Timestamp, u64, Key)>>,
    next_set: u64,
    /// Handed to the controller and not started yet, with when.
    handed: HashMap<Key, Timestamp>,
    running: usize,
}

impl Queue {
    /// The credential's next look is at `at`, replacing any earlier wake-up.
    pub fn set(&mut self, key: Key, at: Timestamp) {
        let seq = self.next_set;
        self.next_set += 1;
        self.order.push(Reverse((at, seq, key.clone())));
        self.at.insert(key, (at, seq));
        self.drop_stale();
    }

    /// Keeps the passed-over entries at most half as many as the live ones (and a few).
    fn drop_stale(&mut self) {
        if self.order.len() > self.at.len() + self.at.len() / 2 + STALE_KEPT {
            let at = &self.at;
            self.order.retain(|Reverse(entry)| is_live(at, entry));
        }
    }

    /// The credential is gone: no wake-up, and no slot kept for it.
    pub fn remove(&mut self, key: &Key) {
        self.unset(key);
        self.handed.remove(key);
    }

    /// A reconcile of the credential starts, for whatever reason: it takes a slot, and its
    /// wake-up is spent (the reconcile sets the next one when it ends).
    pub fn start(&mut self, key: &Key) {
        self.unset(key);
        self.handed.remove(key);
        self.running += 1;
    }

    /// A reconcile ended: its slot is free.
    pub fn finish(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// The due credentials that free slots allow, earliest first. A credential handed out
    /// longer than [`HANDED_FOR`] ago that never started gives its slot back.
    pub fn hand_out(&mut self, now: Timestamp, slots: usize) -> HandOut {
        self.handed
            .retain(|_, when| now.duration_since(*when).unsigned_abs() < HANDED_FOR);
        let mut keys = vec![];
        while self.running + self.handed.len() < slots {
            match self.earliest() {
                Some(at) if at <= now => {}
                _ => break,
            }
            let Some(Reverse((_, _, key))) = self.order.pop() else {
                break;
            };
            self.at.remove(&key);
            self.handed.insert(key.clone(), now);
            keys.push(key);
        }
        let room = self.running + self.handed.len() < slots;
        let next = if room { self.earliest() } else { None };
        HandOut { keys, next }
    }

    /// The earliest wake-up, once the replaced and spent entries before it are dropped.
    fn earliest(&mut self) -> Option<Timestamp> {
        while let Some(Reverse(entry)) = self.order.peek() {
            if is_live(&self.at, entry) {
                return Some(entry.0);
            }
            self.order.pop();
        }
        None
    }

    /// How many credentials have a wake-up.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// Its entry in `order` stays, passed over when it comes first.
    fn unset(&mut self, key: &Key) {
        if self.at.remove(key).is_some() {
            self.drop_stale();
        }
    }
}

/// Whether an entry of the heap is its credential's wake-up, not one replaced or spent.
fn is_live(at: &HashMap<Key, (Timestamp, u64)>, (when, seq, key): &(Timestamp, u64, Key)) -> bool {
    at.get(key) == Some(&(*when, *seq))
}

/// The wake-ups of every credential the operator watches, shared by its controllers.
#[derive(Default)]
pub struct Wakeups {
    queue: Mutex<Queue>,
    changed: Notify,
}

/// A started reconcile; its slot is freed when this is dropped, however the reconcile ends.
pub struct Running<'a> {
    wakeups: &'a Wakeups,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.wakeups.queue().finish();
        self.wakeups.changed.notify_one();
    }
}

impl Wakeups {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, key: Key, at: Timestamp) {
        self.queue().set(key, at);
        self.changed.notify_one();
    }

    pub fn remove(&self, key: &Key) {
        self.queue().remove(key);
        self.changed.notify_one();
    }

    pub fn start(&self, key: &Key) -> Running<'_> {
        self.queue().start(key);
        Running { wakeups: self }
    }

    /// Whether no credential has a wake-up.
    pub fn is_empty(&self) -> bool {
        self.queue().is_empty()
    }

    /// Hands due credentials to the controller of their namespace (`route`) for as long as
    /// it runs. A credential no controller takes is dropped.
    pub async fn hand_over(&self, route: impl Fn(&str) -> Option<UnboundedSender<Key>>) {
        loop {
            let now = Timestamp::now();
            let out = self.queue().hand_out(now, SLOTS);
            for key in out.keys {
                let (namespace, _) = key.parts();
                if let Some(send) = route(namespace) {
                    let _ = send.unbounded_send(key);
                }
            }
            let sleep = out.next.map_or(LONGEST_SLEEP, |at| {
                let until = at.duration_since(now);
                if until.is_negative() {
                    Duration::ZERO
                } else {
                    until.unsigned_abs().min(LONGEST_SLEEP)
                }
            });
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::at;

    fn key(name: &str) -> Key {
        Key::new("shop", name)
    }

    fn names(out: &HandOut) -> Vec<&str> {
        out.keys.iter().map(|k| k.parts().1).collect()
    }

    const NOW: &str = "2026-11-25T10:00:00Z";

    #[test]
    fn a_key_gives_back_its_namespace_and_name() {
        let k = Key::new("shop", "wetix");
        assert_eq!(k.parts(), ("shop", "wetix"));
    }

    #[test]
    fn a_renewal_is_first_looked_at_at_its_time_and_anything_else_now() {
        use crate::fixtures::credential;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let now = at(NOW);
        let with_renewal = |time: &str| {
            let mut c = credential();
            c.status = Some(crate::credential::WetixCredentialStatus {
                next_refresh_time: Some(Time(at(time))),
                ..Default::default()
            });
            c
        };
        assert_eq!(first_look(&credential(), now), now);
        let late = with_renewal("2026-11-25T09:59:50Z");
        assert_eq!(first_look(&late, now), at("2026-11-25T09:59:50Z"));
        let early = with_renewal("2026-11-25T10:30:00Z");
        assert_eq!(first_look(&early, now), now);
    }

    #[test]
    fn due_credentials_are_handed_out_earliest_first_ties_in_the_order_set() {
        let mut q = Queue::default();
        q.set(key("late"), at("2026-11-25T09:59:30Z"));
        q.set(key("tie-first"), at("2026-11-25T09:59:10Z"));
        q.set(key("tie-second"), at("2026-11-25T09:59:10Z"));
        q.set(key("early"), at("2026-11-25T09:58:00Z"));
        q.set(key("not-yet"), at("2026-11-25T10:00:01Z"));
        let out = q.hand_out(at(NOW), 16);
        assert_eq!(names(&out), ["early", "tie-first", "tie-second", "late"]);
        assert_eq!(out.next, Some(at("2026-11-25T10:00:01Z")));
    }

    #[test]
    fn replaced_wake_ups_are_passed_over_and_do_not_pile_up() {
        let mut q = Queue::default();
        let credentials: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
        // Each credential's wake-up set 50 times, each later than the last but the final
        // one, which is the earliest of all.
        for round in 1..=50 {
            for name in &credentials {
                let seconds = if round == 50 { 0 } else { 1000 + round };
                q.set(
                    key(name),
                    at(NOW) + jiff::SignedDuration::from_secs(seconds),
                );
            }
            assert!(q.order.len() <= 100 + 50 + STALE_KEPT, "{}", q.order.len());
        }
        for gone in &credentials[..90] {
            q.remove(&key(gone));
        }
        assert!(q.order.len() <= 10 + 5 + STALE_KEPT, "{}", q.order.len());
        let out = q.hand_out(at(NOW), 1000);
        assert_eq!(
            names(&out),
            credentials[90..],
            "each left once, at its last wake-up"
        );
        assert_eq!(out.next, None);
        assert!(q.is_empty());
    }

    #[test]
    fn no_more_are_handed_out_than_slots_are_free() {
        let mut q = Queue::default();
        for (name, time) in [
            ("a", "2026-11-25T09:59:01Z"),
            ("b", "2026-11-25T09:59:02Z"),
            ("c", "2026-11-25T09:59:03Z"),
        ] {
            q.set(key(name), at(time));
        }
        q.start(&key("elsewhere"));
        let out = q.hand_out(at(NOW), 2);
        assert_eq!(names(&out), ["a"]);
        assert_eq!(out.next, None, "no slot free: wait for one");
        // Handed out but not started: the slot stays taken.
        assert!(q.hand_out(at(NOW), 2).keys.is_empty());
        q.start(&key("a"));
        q.finish();
        assert_eq!(names(&q.hand_out(at(NOW), 2)), ["b"]);
    }

    #[test]
    fn a_later_wake_up_replaces_the_earlier_one() {
        let mut q = Queue::default();
        q.set(key("a"), at("2026-11-25T09:59:00Z"));
        q.set(key("a"), at("2026-11-25T10:05:00Z"));
        assert_eq!(q.len(), 1);
        let out = q.hand_out(at(NOW), 16);
        assert!(out.keys.is_empty());
        assert_eq!(out.next, Some(at("2026-11-25T10:05:00Z")));
    }

    #[test]
    fn a_reconcile_that_starts_spends_the_wake_up() {
        let mut q = Queue::default();
        q.set(key("a"), at("2026-11-25T09:59:00Z"));
        q.start(&key("a"));
        assert!(q.is_empty());
        q.finish();
        assert!(q.hand_out(at(NOW), 16).keys.is_empty());
    }

    #[test]
    fn a_removed_credential_has_no_wake_up_and_keeps_no_slot() {
        let mut q = Queue::default();
        q.set(key("gone"), at("2026-11-25T09:59:00Z"));
        q.set(key("kept"), at("2026-11-25T09:59:30Z"));
        assert_eq!(names(&q.hand_out(at(NOW), 1)), ["gone"]);
        q.remove(&key("gone"));
        assert_eq!(names(&q.hand_out(at(NOW), 1)), ["kept"]);
        q.remove(&key("never-there"));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_credential_handed_out_that_never_starts_frees_its_slot_in_time() {
        let mut q = Queue::default();
        q.set(key("dropped"), at("2026-11-25T09:59:00Z"));
        q.set(key("next"), at("2026-11-25T09:59:30Z"));
        assert_eq!(names(&q.hand_out(at(NOW), 1)), ["dropped"]);
        let before = at(NOW) + (HANDED_FOR - Duration::from_secs(1));
        assert!(q.hand_out(before, 1).keys.is_empty());
        let after = at(NOW) + HANDED_FOR;
        assert_eq!(names(&q.hand_out(after, 1)), ["next"]);
    }

    #[tokio::test]
    async fn hand_over_sends_each_due_credential_to_its_namespace_s_controller() {
        let wakeups = Arc::new(Wakeups::default());
        let past = Timestamp::now() - Duration::from_secs(60);
        wakeups.set(Key::new("shop", "late"), past + Duration::from_secs(1));
        wakeups.set(Key::new("billing", "early"), past);
        wakeups.set(Key::new("nobody-watches", "x"), past);
        let (shop, mut to_shop) = futures::channel::mpsc::unbounded();
        let (billing, mut to_billing) = futures::channel::mpsc::unbounded();
        let running = wakeups.clone();
        let feeder = tokio::spawn(async move {
            running
                .hand_over(|namespace| match namespace {
                    "shop" => Some(shop.clone()),
                    "billing" => Some(billing.clone()),
                    _ => None,
                })
                .await
        });
        use futures::StreamExt;
        let wait = |s| tokio::time::timeout(Duration::from_secs(5), s);
        let first = wait(to_billing.next()).await.unwrap().unwrap();
        assert_eq!(first.parts(), ("billing", "early"));
        let second = wait(to_shop.next()).await.unwrap().unwrap();
        assert_eq!(second.parts(), ("shop", "late"));
        assert!(wakeups.is_empty());
        feeder.abort();
    }
}
