//! The server's clock: the system clock plus an offset a test can move, or an instant it is
//! frozen at. Tokens are issued, expire and are logged by this clock; nothing else in the
//! crate reads the system clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// A handle on one server's clock (see [`crate::FakeWetix::clock`]); clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Nanoseconds added to the system clock.
    offset_nanos: Arc<AtomicI64>,
    /// While set, the clock stands at this instant whatever the offset.
    frozen_at: Arc<Mutex<Option<Timestamp>>>,
}

impl Clock {
    /// The server's now.
    pub fn now(&self) -> Timestamp {
        reading(Timestamp::now(), self.offset(), self.frozen_at())
    }

    /// Stops the clock at `at`: every call answered until [`Clock::thaw`] is issued and logged
    /// as if at that instant (a fleet issued over minutes gets tokens of one lifetime).
    pub fn freeze(&self, at: Timestamp) {
        *self
            .frozen_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(at);
    }

    /// Lets the clock run again: the system clock plus the offset, as before [`Clock::freeze`].
    pub fn thaw(&self) {
        *self
            .frozen_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The instant the clock is frozen at, if it is.
    pub fn frozen_at(&self) -> Option<Timestamp> {
        *self
            .frozen_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

/// What the clock reads when the system clock says `system`: the frozen instant if there is
/// one, else `system` moved by `offset`.
fn reading(system: Timestamp, offset: SignedDuration, frozen_at: Option<Timestamp>) -> Timestamp {
    frozen_at.unwrap_or_else(|| shifted(system, offset))
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
    fn a_frozen_clock_reads_its_instant_whatever_the_offset_until_thawed() {
        let system: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let frozen: Timestamp = "2026-11-25T11:59:00Z".parse().unwrap();
        let ahead = SignedDuration::from_secs(30);
        let cases = [
            (SignedDuration::ZERO, None, system),
            (ahead, None, "2026-11-25T12:00:30Z".parse().unwrap()),
            (SignedDuration::ZERO, Some(frozen), frozen),
            (ahead, Some(frozen), frozen),
        ];
        for (offset, frozen_at, want) in cases {
            assert_eq!(
                reading(system, offset, frozen_at),
                want,
                "{offset:?} {frozen_at:?}"
            );
        }
        let clock = Clock::default();
        let shared = clock.clone();
        clock.freeze(frozen);
        assert_eq!(shared.now(), frozen);
        assert_eq!(shared.frozen_at(), Some(frozen));
        shared.thaw();
        assert_eq!(clock.frozen_at(), None);
        assert!(clock.now() > frozen);
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
