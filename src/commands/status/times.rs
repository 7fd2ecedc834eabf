//! How times read in `status` (and `refresh --wait`) output: kubectl-style ages, "in …" /
//! "… ago" relative to `now`, and a cell with both the exact time and the relative one.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::managed_secret::rfc3339;

/// `d` the way kubectl prints ages: two significant units while short ("3h12m", "5d4h"),
/// one once long ("39d"). A negative duration reads as zero; every other one, up to
/// `SignedDuration::MAX`, as some number of its units (only divisions, nothing to overflow).
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs().max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_rest(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

fn with_rest(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// `t` relative to `now`: "in 39d", "3h ago", or "now" within a second. Any two times a
/// status can hold, `Timestamp::MIN` and `Timestamp::MAX` included, read as some number of
/// years.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let ahead = t.duration_since(now);
    if ahead.unsigned_abs() < std::time::Duration::from_secs(1) {
        "now".to_owned()
    } else if ahead.is_positive() {
        format!("in {}", human_duration(ahead))
    } else {
        let ago = ahead.checked_neg().unwrap_or(SignedDuration::MAX);
        format!("{} ago", human_duration(ago))
    }
}

/// A time as shown in a cell: "2027-01-24T10:00:00Z (in 39d)", or "-" when absent.
pub fn when(t: Option<&Time>, now: Timestamp) -> String {
    match t {
        Some(Time(t)) => format!("{} ({})", rfc3339(*t), relative(*t, now)),
        None => "-".to_owned(),
    }
}
