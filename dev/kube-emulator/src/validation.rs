//! Validation rules of built-in kinds and of object metadata (M1, G1, X7, E1, E2, E4).

use crate::status::Cause;
use serde_json::Value;

/// Rules every object follows: owner references (G1) and, on update, an unchanged uid (M1).
pub fn metadata(new: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(refs) = new
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if refs.iter().any(|r| {
                r.get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            }) {
                causes.push(Cause::required(format!("metadata.ownerReferences.{field}")));
            }
        }
        let controllers = refs
            .iter()
            .filter(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            .count();
        if controllers > 1 {
            causes.push(Cause::invalid(
                "metadata.ownerReferences",
                "Invalid value: []: Only one reference can have Controller set to true",
            ));
        }
    }
    if let Some(old) = old {
        let old_uid = old.pointer("/metadata/uid");
        if let Some(uid) = new.pointer("/metadata/uid").and_then(Value::as_str)
            && !uid.is_empty()
            && old_uid.and_then(Value::as_str) != Some(uid)
        {
            causes.push(Cause::invalid(
                "metadata.uid",
                format!("Invalid value: {uid:?}: field is immutable"),
            ));
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            let fins = |o: &Value| -> Vec<String> {
                o.pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let before = fins(old);
            if fins(new).iter().any(|f| !before.contains(f)) {
                causes.push(Cause::forbidden(
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted",
                ));
            }
        }
    }
    causes
}

fn str_at<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// Rules of one built-in kind, by `(group, plural)`.
pub fn builtin(group: &str, plural: &str, new: &Value, old: Option<&Value>) -> Vec<Cause> {
    match (group, plural) {
        ("", "secrets") => secret(new, old),
        ("events.k8s.io", "events") => event(new, old),
        ("coordination.k8s.io", "leases") => lease(new),
        _ => vec![],
    }
}

fn secret(new: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(data) = new.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            if !v.is_string() {
                causes.push(Cause::invalid(
                    format!("data[{k}]"),
                    "Invalid value: must be a base64 string",
                ));
            }
        }
    }
    let Some(old) = old else { return causes };
    if str_at(new, "type") != str_at(old, "type") {
        causes.push(Cause::invalid(
            "type",
            format!(
                "Invalid value: {:?}: field is immutable",
                str_at(new, "type").unwrap_or("")
            ),
        ));
    }
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("data") != old.get("data") {
            causes.push(Cause::forbidden(
                "data",
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            causes.push(Cause::forbidden(
                "immutable",
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
    }
    causes
}

const EVENT_IMMUTABLE: &[&str] = &[
    "regarding",
    "related",
    "reason",
    "note",
    "type",
    "eventTime",
    "action",
    "reportingController",
    "reportingInstance",
    "deprecatedSource",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
    "deprecatedCount",
];

fn event(new: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(old) = old {
        for f in EVENT_IMMUTABLE {
            if new.get(*f) != old.get(*f) {
                causes.push(Cause::invalid(*f, "Invalid value: field is immutable"));
            }
        }
    } else {
        if str_at(new, "eventTime").is_none() {
            causes.push(Cause::required("eventTime"));
        }
        match str_at(new, "type") {
            Some("Normal" | "Warning") => {}
            Some(t) => causes.push(Cause::not_supported(
                "type",
                format!("Unsupported value: {t:?}: supported values: \"Normal\", \"Warning\""),
            )),
            None => causes.push(Cause::required("type")),
        }
        for f in [
            "reportingController",
            "reportingInstance",
            "action",
            "reason",
        ] {
            match str_at(new, f) {
                None | Some("") => causes.push(Cause::required(f)),
                Some(s) if f != "reportingController" && s.len() > 128 => causes.push(
                    Cause::invalid(f, "Invalid value: can have at most 128 characters"),
                ),
                _ => {}
            }
        }
        for f in EVENT_IMMUTABLE
            .iter()
            .filter(|f| f.starts_with("deprecated"))
        {
            if new.get(*f).is_some_and(|v| !v.is_null()) {
                causes.push(Cause::invalid(*f, "Invalid value: needs to be unset"));
            }
        }
        let regarding_ns = new
            .pointer("/regarding/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = new
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if new.get("regarding").is_some()
            && regarding_ns.is_empty()
            && !matches!(ns, "default" | "kube-system")
        {
            causes.push(Cause::invalid(
                "involvedObject.namespace",
                "Invalid value: does not match event.namespace",
            ));
        }
    }
    if str_at(new, "note").is_some_and(|n| n.len() > 1024) {
        causes.push(Cause::invalid(
            "note",
            "Invalid value: can have at most 1024 characters",
        ));
    }
    if let Some(series) = new.get("series").filter(|s| !s.is_null()) {
        if series
            .get("count")
            .and_then(Value::as_i64)
            .is_none_or(|c| c < 2)
        {
            causes.push(Cause::invalid(
                "series.count",
                "Invalid value: should be at least 2",
            ));
        }
        if series.get("lastObservedTime").is_none() {
            causes.push(Cause::required("series.lastObservedTime"));
        }
    }
    causes
}

fn lease(new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = new.get("spec") else {
        return causes;
    };
    if let Some(d) = spec.get("leaseDurationSeconds").filter(|v| !v.is_null())
        && d.as_i64().is_none_or(|d| d <= 0)
    {
        causes.push(Cause::invalid(
            "spec.leaseDurationSeconds",
            format!("Invalid value: {d}: must be greater than 0"),
        ));
    }
    if let Some(t) = spec.get("leaseTransitions").filter(|v| !v.is_null())
        && t.as_i64().is_none_or(|t| t < 0)
    {
        causes.push(Cause::invalid(
            "spec.leaseTransitions",
            format!("Invalid value: {t}: must be greater than or equal to 0"),
        ));
    }
    if spec.get("preferredHolder").is_some_and(|v| !v.is_null())
        && spec.get("strategy").is_none_or(Value::is_null)
    {
        causes.push(Cause::forbidden(
            "spec.preferredHolder",
            "Forbidden: may only be specified if `strategy` is defined",
        ));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn two_controller_owner_references_are_invalid() {
        let r =
            json!({"apiVersion": "v1", "kind": "K", "name": "a", "uid": "u", "controller": true});
        let obj = json!({"metadata": {"ownerReferences": [r, r]}});
        assert_eq!(metadata(&obj, None)[0].field, "metadata.ownerReferences");
    }

    #[test]
    fn lease_duration_must_be_positive() {
        assert_eq!(
            lease(&json!({"spec": {"leaseDurationSeconds": 0}})).len(),
            1
        );
        assert!(lease(&json!({"spec": {"leaseDurationSeconds": 15}})).is_empty());
    }

    #[test]
    fn event_without_event_time_is_invalid() {
        let ev = json!({"metadata": {"namespace": "default"}, "type": "Normal", "reportingController": "c",
            "reportingInstance": "i", "action": "a", "reason": "r"});
        let causes = event(&ev, None);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "eventTime");
    }
}
