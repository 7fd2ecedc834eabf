//! Which reconcile runs next when every slot is busy: the one due earliest.
//!
//! kube-runtime's controller keeps requests that fall due while all its slots are taken in a
//! hash set, and starts them in hash order: in a busy renewal round a credential due first
//! could wait behind hundreds due after it. So the controller starts up to [`HANDED`] due
//! reconciles at once, and each waits here for one of [`SLOTS`] slots; a freed slot goes to
//! the one with the earliest due time, ties in arrival order. The waiting reconciles are
//! small (the reconcile proper is boxed only once it holds a slot), but not free: each is a
//! task of kube-runtime's with its span, about 2 KiB, so their number is bounded too. A round
//! whose backlog stays under `HANDED` runs in due order; beyond it, the overflow waits in
//! kube-runtime's set.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use jiff::Timestamp;
use tokio::sync::oneshot;

use crate::credential::WetixCredential;

/// Reconciles running at once. Bounds the burst of requests at start-up, when every
/// credential is looked at once; a renewal round of thousands goes through them in due order.
pub const SLOTS: usize = 16;

/// Reconciles kube-runtime's controller starts at once, to wait here for a slot.
pub const HANDED: u16 = 256;

/// When a reconcile of `credential` fell due: its renewal time if that has passed, else now
/// (a change to look at, or a renewal that is early).
pub fn due(credential: &WetixCredential, now: Timestamp) -> Timestamp {
    let renewal = credential
        .status
        .as_ref()
        .and_then(|s| s.next_refresh_time.as_ref())
        .map(|t| t.0);
    renewal.map_or(now, |at| at.min(now))
}

/// The slots and the queue of reconciles waiting for one.
pub struct Admission {
    inner: Mutex<Queue>,
}

/// Plain data: how many slots are free, and who waits, in the order they get one.
#[derive(Debug, Default)]
struct Queue {
    free: usize,
    next_arrival: u64,
    waiting: BTreeMap<(Timestamp, u64), oneshot::Sender<()>>,
}

impl Queue {
    /// A slot if one is free and nobody waits; otherwise the place in the queue to wait at.
    fn enter(&mut self, due: Timestamp) -> Result<(), oneshot::Receiver<()>> {
        if self.free > 0 && self.waiting.is_empty() {
            self.free -= 1;
            return Ok(());
        }
        let (send, receive) = oneshot::channel();
        self.waiting.insert((due, self.next_arrival), send);
        self.next_arrival += 1;
        Err(receive)
    }

    /// Hands a freed slot to the earliest waiter still waiting, or keeps it free.
    fn leave(&mut self) {
        while let Some((_, waiter)) = self.waiting.pop_first() {
            if waiter.send(()).is_ok() {
                return;
            }
        }
        self.free += 1;
    }
}

/// A slot, given back when dropped.
pub struct Slot {
    admission: Arc<Admission>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.queue().leave();
    }
}

impl Admission {
    pub fn new(slots: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Queue {
                free: slots,
                ..Queue::default()
            }),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot; among waiters, the earliest `due` gets the next one.
    pub async fn enter(self: &Arc<Self>, due: Timestamp) -> Slot {
        let entered = self.queue().enter(due);
        if let Err(receive) = entered {
            let mut waiting = Waiting {
                admission: self.clone(),
                receive: Some(receive),
            };
            if let Some(receive) = waiting.receive.as_mut() {
                // The sender is only dropped after a send, or with the whole queue.
                let _ = receive.await;
            }
            waiting.receive = None;
        }
        Slot {
            admission: self.clone(),
        }
    }

    /// How many reconciles wait for a slot.
    pub fn waiting(&self) -> usize {
        self.queue().waiting.len()
    }
}

/// A place in the queue. Dropped while waiting (the reconcile was cancelled), it gives back a
/// slot that was handed to it but not yet taken.
struct Waiting {
    admission: Arc<Admission>,
    receive: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut receive) = self.receive.take()
            && receive.try_recv().is_ok()
        {
            self.admission.queue().leave();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::at;

    fn queue(free: usize) -> Queue {
        Queue {
            free,
            ..Queue::default()
        }
    }

    #[test]
    fn a_renewal_is_due_at_its_time_and_anything_else_now() {
        use crate::fixtures::credential;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let now = at("2026-11-25T10:00:00Z");
        let with_renewal = |time: &str| {
            let mut c = credential();
            c.status = Some(crate::credential::WetixCredentialStatus {
                next_refresh_time: Some(Time(at(time))),
                ..Default::default()
            });
            c
        };
        assert_eq!(due(&credential(), now), now);
        let late = with_renewal("2026-11-25T09:59:50Z");
        assert_eq!(due(&late, now), at("2026-11-25T09:59:50Z"));
        let early = with_renewal("2026-11-25T10:30:00Z");
        assert_eq!(due(&early, now), now);
    }

    #[test]
    fn a_free_slot_is_taken_at_once() {
        let mut q = queue(1);
        assert!(q.enter(at("2026-11-25T10:00:00Z")).is_ok());
        assert!(q.enter(at("2026-11-25T10:00:00Z")).is_err());
    }

    #[test]
    fn a_freed_slot_goes_to_the_earliest_due_then_the_first_to_arrive() {
        let mut q = queue(0);
        let mut late = q.enter(at("2026-11-25T10:00:30Z")).unwrap_err();
        let mut first = q.enter(at("2026-11-25T10:00:10Z")).unwrap_err();
        let mut second = q.enter(at("2026-11-25T10:00:10Z")).unwrap_err();
        q.leave();
        assert!(first.try_recv().is_ok());
        assert!(second.try_recv().is_err() && late.try_recv().is_err());
        q.leave();
        assert!(second.try_recv().is_ok());
        q.leave();
        assert!(late.try_recv().is_ok());
        q.leave();
        assert_eq!(q.free, 1);
    }

    #[test]
    fn a_slot_is_not_handed_to_a_waiter_that_gave_up() {
        let mut q = queue(0);
        drop(q.enter(at("2026-11-25T10:00:00Z")).unwrap_err());
        let mut still_waiting = q.enter(at("2026-11-25T10:00:05Z")).unwrap_err();
        q.leave();
        assert!(still_waiting.try_recv().is_ok());
        assert_eq!(q.free, 0);
    }

    #[test]
    fn nobody_jumps_the_queue_while_others_wait() {
        let mut q = queue(0);
        let _waiting = q.enter(at("2026-11-25T10:00:05Z")).unwrap_err();
        q.free = 1;
        assert!(q.enter(at("2026-11-25T10:00:00Z")).is_err());
    }

    #[tokio::test]
    async fn reconciles_run_in_due_order_when_slots_are_scarce() {
        let admission = Admission::new(1);
        let held = admission.enter(at("2026-11-25T10:00:00Z")).await;
        let order = Arc::new(Mutex::new(vec![]));
        let mut tasks = vec![];
        for (name, due) in [
            ("late", "2026-11-25T10:00:30Z"),
            ("early", "2026-11-25T10:00:01Z"),
            ("middle", "2026-11-25T10:00:20Z"),
        ] {
            let queue = admission.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _slot = queue.enter(at(due)).await;
                order.lock().unwrap().push(name);
            }));
            while admission.waiting() < tasks.len() {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["early", "middle", "late"]);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_that_was_handed_a_slot_gives_it_back() {
        let admission = Admission::new(1);
        let held = admission.enter(at("2026-11-25T10:00:00Z")).await;
        let cancelled = {
            let queue = admission.clone();
            tokio::spawn(async move {
                let _slot = queue.enter(at("2026-11-25T10:00:01Z")).await;
                std::future::pending::<()>().await;
            })
        };
        while admission.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        // The slot is handed over, and the waiter is cancelled before it runs again.
        drop(held);
        cancelled.abort();
        let _ = cancelled.await;
        let next = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            admission.enter(at("2026-11-25T10:00:02Z")),
        )
        .await;
        assert!(next.is_ok(), "the slot came back");
    }
}
