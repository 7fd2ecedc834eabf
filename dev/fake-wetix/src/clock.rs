//! The server's clock: the system clock plus an offset a test can move. Tokens are issued,
//! expire and are logged by this clock; nothing else in the crate reads the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// A handle on one server's clock (see [`crate::FakeWetix::clock`]); clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Nanoseconds added to the system clock.
    offset_nanos: Arc<AtomicI64>,
}

impl Clock {
    /// The server's now.
    pub fn now(&self) -> Timestamp {
        shifted(Timestamp::now(), self.offset())
    }

    /// How far the clock is ahead of the system clock (negative: behind).
    pub fn offset(&self) -> SignedDuration {
        SignedDuration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    /// Puts the clock `offset` ahead of the system clock (negative: behind).
    pub fn set_offset(&self, offset: SignedDuration) {
        let nanos = i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX);
        self.offset_nanos.store(nanos, Ordering::SeqCst);
    }

    /// Moves the clock `by` forward.
    pub fn advance(&self, by: Duration) {
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        self.set_offset(self.offset().saturating_add(by));
    }
}

/// `at` moved by `offset`, saturating at the ends of time.
fn shifted(at: Timestamp, offset: SignedDuration) -> Timestamp {
    at.checked_add(offset).unwrap_or(if offset.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_moves_the_clock_and_saturates_at_the_ends_of_time() {
        let at: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let cases = [
            (SignedDuration::ZERO, at),
            (
                SignedDuration::from_secs(61),
                "2026-11-25T12:01:01Z".parse().unwrap(),
            ),
            (
                SignedDuration::from_hours(-24),
                "2026-11-24T12:00:00Z".parse().unwrap(),
            ),
            (SignedDuration::MAX, Timestamp::MAX),
            (SignedDuration::MIN, Timestamp::MIN),
        ];
        for (offset, want) in cases {
            assert_eq!(shifted(at, offset), want, "{offset:?}");
        }
    }

    #[test]
    fn advancing_adds_to_the_offset_and_clones_share_it() {
        let clock = Clock::default();
        let shared = clock.clone();
        clock.advance(Duration::from_secs(2));
        shared.advance(Duration::from_millis(500));
        assert_eq!(clock.offset(), SignedDuration::from_millis(2500));
        clock.set_offset(SignedDuration::from_secs(-3));
        assert_eq!(shared.offset(), SignedDuration::from_secs(-3));
    }
}
