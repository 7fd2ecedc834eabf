//! Free memory handed back to the system while reconciles run.
//!
//! glibc's allocator returns memory to the system only from the top of its heap. In a burst of
//! reconciles (the first issue of a fleet, a renewal round) the buffers of thousands of
//! requests and watch events are allocated and freed in between what stays (new tokens, the
//! credentials packed again), so whole pages freed inside the heap stay resident.
//! `malloc_trim` returns every whole free page; the operator calls it once a [`TRIM_EVERY`]
//! while reconciles finish, and not at all when none do. At 10,000 credentials that is 1 MiB
//! less steady RSS (docs/performance.md).

use std::time::Duration;

/// How often free memory is handed back while reconciles finish.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Runs forever: every [`TRIM_EVERY`], if `finished` (a count of finished reconciles) moved
/// since the last look, hands free memory back.
pub async fn trim_while_busy(finished: impl Fn() -> u64) {
    after_work(finished, hand_back).await;
}

/// Every [`TRIM_EVERY`], `act` if `finished` moved since the last look.
async fn after_work(finished: impl Fn() -> u64, mut act: impl FnMut()) {
    let mut ticks = tokio::time::interval(TRIM_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = finished();
    loop {
        ticks.tick().await;
        let now = finished();
        if now != seen {
            seen = now;
            act();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn hand_back() {
    // SAFETY: `malloc_trim` takes the allocator's own locks and only releases pages no
    // allocation holds; it has no precondition on its caller, and its argument (the space to
    // keep at the top of the heap) may be any value.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl's, say) return free memory themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn hand_back() {}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn memory_is_handed_back_once_a_second_while_reconciles_finish_and_never_when_idle() {
        let finished = Arc::new(AtomicU64::new(0));
        let trims = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(after_work(
            {
                let finished = finished.clone();
                move || finished.load(Ordering::Relaxed)
            },
            {
                let trims = trims.clone();
                move || {
                    trims.fetch_add(1, Ordering::Relaxed);
                }
            },
        ));
        let trimmed = || trims.load(Ordering::Relaxed);
        // The clock is paused: each wait below is virtual time, passed at once.
        let half = TRIM_EVERY / 2;
        tokio::time::sleep(TRIM_EVERY * 10 + half).await;
        assert_eq!(trimmed(), 0, "idle: nothing to hand back");
        // A burst of 300 reconciles over 3 s: one trim a second, not one a reconcile.
        for _ in 0..3 {
            finished.fetch_add(100, Ordering::Relaxed);
            tokio::time::sleep(TRIM_EVERY).await;
        }
        assert_eq!(trimmed(), 3);
        tokio::time::sleep(TRIM_EVERY * 10).await;
        assert_eq!(trimmed(), 3, "idle again");
        task.abort();
    }
}
