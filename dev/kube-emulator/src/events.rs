//! Events are one resource served through two APIs, core `v1` and `events.k8s.io/v1`, as on
//! the real server: the same objects (name, uid, resourceVersion) seen in two shapes.
//!
//! They are stored in the core `v1` shape and converted on the way in and out of
//! `events.k8s.io/v1` with the real server's field mapping (KK `pkg/apis/events/v1/conversion.go`):
//!
//! | events.k8s.io/v1 | core v1 |
//! |---|---|
//! | `note` | `message` |
//! | `regarding` | `involvedObject` |
//! | `reportingController` | `reportingComponent` |
//! | `deprecatedSource` | `source` |
//! | `deprecatedFirstTimestamp` | `firstTimestamp` |
//! | `deprecatedLastTimestamp` | `lastTimestamp` |
//! | `deprecatedCount` | `count` |
//!
//! `related`, `reportingInstance`, `eventTime`, `series`, `type`, `reason` and `action` have the
//! same name and shape in both. Like the real server, `series` is not folded into core
//! `count`/`lastTimestamp`: an Event published through events.k8s.io/v1 has no core `count`
//! unless it set `deprecatedCount`, and its repeats show as core `series`.

use serde_json::{Map, Value};

pub const CORE_API_VERSION: &str = "v1";
pub const EVENTS_API_VERSION: &str = "events.k8s.io/v1";

/// Pairs of (events.k8s.io/v1 field, core v1 field) that differ by name.
const RENAMED: &[(&str, &str)] = &[
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: Value, api_version: &str, from_events: bool) -> Value {
    let Value::Object(fields) = obj else {
        return obj;
    };
    let mut out = Map::with_capacity(fields.len());
    for (k, v) in fields {
        let key = RENAMED
            .iter()
            .find_map(|(events, core)| {
                let (from, to) = if from_events {
                    (events, core)
                } else {
                    (core, events)
                };
                (*from == k).then(|| to.to_string())
            })
            .unwrap_or(k);
        out.insert(key, v);
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

fn api_version_of(obj: &Value) -> Option<&str> {
    obj.get("apiVersion").and_then(Value::as_str)
}

/// An Event in the core `v1` shape; objects already in it (or not Events) pass unchanged.
pub fn to_core(obj: Value) -> Value {
    if api_version_of(&obj) == Some(EVENTS_API_VERSION) {
        rename(obj, CORE_API_VERSION, true)
    } else {
        obj
    }
}

/// An Event in the `events.k8s.io/v1` shape; objects already in it pass unchanged.
pub fn to_events(obj: Value) -> Value {
    if api_version_of(&obj) == Some(CORE_API_VERSION)
        && obj.get("kind").and_then(Value::as_str) == Some("Event")
    {
        rename(obj, EVENTS_API_VERSION, false)
    } else {
        obj
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events_shape() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "a.1", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
            "reportingController": "ctl", "reportingInstance": "ctl-0",
            "action": "Reconcile", "reason": "Ready", "type": "Normal", "note": "done",
            "regarding": {"kind": "Foo", "name": "a", "namespace": "ns", "uid": "x"},
            "related": {"kind": "Secret", "name": "s", "namespace": "ns"},
            "deprecatedSource": {"component": "c"},
            "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2026-01-01T00:02:00Z",
            "deprecatedCount": 3,
        })
    }

    #[test]
    fn events_fields_map_onto_core_fields() {
        let core = to_core(events_shape());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["message"], "done");
        assert_eq!(core["involvedObject"]["name"], "a");
        assert_eq!(core["related"]["name"], "s");
        assert_eq!(core["reportingComponent"], "ctl");
        assert_eq!(core["reportingInstance"], "ctl-0");
        assert_eq!(core["source"]["component"], "c");
        assert_eq!(core["firstTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(core["lastTimestamp"], "2026-01-01T00:02:00Z");
        assert_eq!(core["count"], 3);
        assert_eq!(core["series"]["count"], 2);
        assert_eq!(core["metadata"]["resourceVersion"], "7");
        for gone in [
            "note",
            "regarding",
            "reportingController",
            "deprecatedCount",
        ] {
            assert!(core.get(gone).is_none(), "{gone} left in {core}");
        }
    }

    #[test]
    fn conversion_round_trips_and_is_idempotent() {
        let core = to_core(events_shape());
        assert_eq!(to_core(core.clone()), core);
        let back = to_events(core);
        assert_eq!(back, events_shape());
        assert_eq!(to_events(back.clone()), back);
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        assert_eq!(to_events(secret.clone()), secret);
    }
}
