//! Timestamps in the formats the API uses. The only place that reads the clock.

/// RFC 3339 UTC with whole seconds, as in creationTimestamp and managedFields times (M2).
pub fn now_seconds() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The current time, for ages shown in tables.
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
