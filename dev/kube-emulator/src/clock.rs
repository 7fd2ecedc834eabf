//! The emulator's clock: the system clock plus an offset a test can move, and timestamps in
//! the formats the API uses. The only place that reads the system clock.
//!
//! Each emulator has its own [`Clock`] (see `Emulator::clock`); moving it changes what the
//! emulator stamps on objects from then on (creationTimestamp, deletionTimestamp,
//! managedFields times) and the ages its tables show, never what is already stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// A handle on one emulator's clock; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Nanoseconds added to the system clock.
    offset_nanos: Arc<AtomicI64>,
}

impl Clock {
    /// The emulator's now.
    pub fn now(&self) -> Timestamp {
        shifted(Timestamp::now(), self.offset())
    }

    /// [`Clock::now`] in the API's format for metadata times.
    pub fn now_seconds(&self) -> String {
        rfc3339_seconds(self.now())
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

/// RFC 3339 UTC with whole seconds, as in creationTimestamp and managedFields times (M2).
pub fn rfc3339_seconds(at: Timestamp) -> String {
    at.round(jiff::Unit::Second)
        .unwrap_or(at)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_times_are_whole_seconds_in_utc() {
        let cases = [
            ("2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z"),
            ("2026-11-25T12:00:00.4Z", "2026-11-25T12:00:00Z"),
            ("2026-11-25T12:00:00.6Z", "2026-11-25T12:00:01Z"),
            ("2026-11-25T13:00:00+01:00", "2026-11-25T12:00:00Z"),
        ];
        for (at, want) in cases {
            assert_eq!(rfc3339_seconds(at.parse().unwrap()), want, "{at}");
        }
    }

    #[test]
    fn an_offset_moves_the_clock_and_saturates_at_the_ends_of_time() {
        let at: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let cases = [
            (SignedDuration::ZERO, at),
            (
                SignedDuration::from_hours(3),
                "2026-11-25T15:00:00Z".parse().unwrap(),
            ),
            (
                SignedDuration::from_secs(-90),
                "2026-11-25T11:58:30Z".parse().unwrap(),
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
        clock.advance(Duration::from_secs(60));
        shared.advance(Duration::from_secs(30));
        assert_eq!(clock.offset(), SignedDuration::from_secs(90));
        clock.set_offset(SignedDuration::from_secs(-5));
        assert_eq!(shared.offset(), SignedDuration::from_secs(-5));
    }
}
