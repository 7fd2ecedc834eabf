//! Validation rules of built-in kinds and of object metadata (M1, G1, X7, E1, E2, E4): names,
//! label and annotation syntax as in k8s.io/apimachinery, owner references, immutable fields.

use crate::status::Cause;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
/// Total size of keys and values of one object's annotations.
pub const ANNOTATIONS_SIZE_LIMIT: usize = 256 * 1024;

fn anchored(fmt: &str) -> Regex {
    Regex::new(&format!("^(?:{fmt})$")).expect("valid regex")
}

static DNS1123_LABEL: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_LABEL_FMT));
static DNS1123_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_SUBDOMAIN_FMT));
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(QUALIFIED_NAME_FMT));
static LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_VALUE_FMT));

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// What the real server says of label keys' name parts and label values that are too long.
fn max_bytes_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    // As `RegexError` builds it, double space before "or" included.
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

/// `IsDNS1123Subdomain`: the rule for most object names.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !DNS1123_SUBDOMAIN.is_match(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1123Label`: the rule for Namespace names.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !DNS1123_LABEL.is_match(value) && DNS1123_SUBDOMAIN.is_match(value) {
        // A valid subdomain but for its dots.
        errs.push("must not contain dots".to_string());
    } else if !DNS1123_LABEL.is_match(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `IsQualifiedName`: label keys, annotation keys, finalizers.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_bytes_error(63)));
    }
    if !QUALIFIED_NAME.is_match(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_bytes_error(63));
    }
    if !LABEL_VALUE.is_match(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `NameIsDNSSubdomain`/`NameIsDNSLabel` with `prefix`: a generateName may end in '-'.
fn name_errors(value: &str, namespace_kind: bool, prefix: bool) -> Vec<String> {
    let masked;
    let value = match value.strip_suffix('-') {
        Some(v) if prefix => {
            masked = format!("{v}a");
            masked.as_str()
        }
        _ => value,
    };
    if namespace_kind {
        dns1123_label(value)
    } else {
        dns1123_subdomain(value)
    }
}

fn invalid_value(field: &str, value: &str, msg: &str) -> Cause {
    Cause::invalid(field, format!("Invalid value: {value:?}: {msg}"))
}

fn string_map<'a>(obj: &'a Value, pointer: &str) -> Vec<(&'a str, &'a str)> {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}

/// ObjectMeta syntax (`ValidateObjectMetaAccessor`): generateName, name (a DNS-1123 label for
/// Namespaces, a subdomain for everything else), namespace, labels, annotations, finalizers.
pub fn object_meta(new: &Value, namespace_kind: bool) -> Vec<Cause> {
    let mut causes = Vec::new();
    let text = |p: &str| new.pointer(p).and_then(Value::as_str).unwrap_or("");
    let generate_name = text("/metadata/generateName");
    if !generate_name.is_empty() {
        for m in name_errors(generate_name, namespace_kind, true) {
            causes.push(invalid_value("metadata.generateName", generate_name, &m));
        }
    }
    let name = text("/metadata/name");
    if !name.is_empty() {
        for m in name_errors(name, namespace_kind, false) {
            causes.push(invalid_value("metadata.name", name, &m));
        }
    }
    let namespace = text("/metadata/namespace");
    if !namespace.is_empty() {
        for m in dns1123_label(namespace) {
            causes.push(invalid_value("metadata.namespace", namespace, &m));
        }
    }
    for (k, v) in string_map(new, "/metadata/labels") {
        for m in qualified_name(k) {
            causes.push(invalid_value("metadata.labels", k, &m));
        }
        for m in label_value(v) {
            causes.push(invalid_value("metadata.labels", v, &m));
        }
    }
    let annotations = string_map(new, "/metadata/annotations");
    for (k, _) in &annotations {
        for m in qualified_name(&k.to_lowercase()) {
            causes.push(invalid_value("metadata.annotations", k, &m));
        }
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > ANNOTATIONS_SIZE_LIMIT {
        causes.push(Cause::too_long(
            "metadata.annotations",
            format!("Too long: may not be more than {ANNOTATIONS_SIZE_LIMIT} bytes"),
        ));
    }
    if let Some(fins) = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
    {
        for f in fins {
            let f = f.as_str().unwrap_or("");
            for m in qualified_name(f) {
                causes.push(invalid_value("metadata.finalizers", f, &m));
            }
        }
    }
    causes
}

/// Rules every object follows: ObjectMeta syntax, owner references (G1) and, on update, an
/// unchanged uid (M1).
pub fn metadata(new: &Value, old: Option<&Value>, namespace_kind: bool) -> Vec<Cause> {
    let mut causes = object_meta(new, namespace_kind);
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
        ("", "configmaps") => old.map_or_else(Vec::new, |old| {
            immutable_data(new, old, &["data", "binaryData"])
        }),
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
    causes.extend(immutable_data(new, old, &["data"]));
    causes
}

/// Secrets and ConfigMaps marked `immutable: true` keep their data and the mark.
fn immutable_data(new: &Value, old: &Value, fields: &[&str]) -> Vec<Cause> {
    let mut causes = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return causes;
    }
    for f in fields {
        if new.get(*f) != old.get(*f) {
            causes.push(Cause::forbidden(
                *f,
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        causes.push(Cause::forbidden(
            "immutable",
            "Forbidden: field is immutable when `immutable` is set",
        ));
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
        // The rule kept from core v1 Events, checked first: the regarded object's namespace
        // matches the Event's, where an empty one is accepted only in `default` (and, for
        // Events with an eventTime, `kube-system`).
        let regarding_ns = new
            .pointer("/regarding/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = new
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let has_time = str_at(new, "eventTime").is_some();
        let mismatch = match (regarding_ns.is_empty(), has_time) {
            (true, false) => !matches!(ns, "" | "default"),
            (true, true) => !matches!(ns, "default" | "kube-system"),
            (false, false) => ns != regarding_ns,
            (false, true) => false,
        };
        if mismatch {
            causes.push(Cause::invalid(
                "involvedObject.namespace",
                format!("Invalid value: {regarding_ns:?}: does not match event.namespace"),
            ));
        }
        if !has_time {
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
        assert_eq!(
            metadata(&obj, None, false)[0].field,
            "metadata.ownerReferences"
        );
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let causes = builtin(
            "",
            "configmaps",
            &json!({"immutable": true, "data": {"a": "2"}}),
            Some(&old),
        );
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "data");
        assert!(builtin("", "configmaps", &old, Some(&old)).is_empty());
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
