//! CRD structural schema handling: defaulting (D1), pruning (D2) and validation (D3).

use crate::status::Cause;
use serde_json::{Map, Value};

/// ObjectMeta fields a custom resource keeps; anything else under `metadata` is pruned.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Drops fields the schema does not know, keeping the root's apiVersion/kind/metadata.
pub fn prune_root(obj: &mut Value, schema: &Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        meta.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let keep_unknown = preserves_unknown(schema);
    map.retain(|k, _| {
        matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
            || keep_unknown
            || props.is_some_and(|p| p.contains_key(k))
    });
    if let Some(props) = props {
        for (k, v) in map.iter_mut() {
            if k == "metadata" {
                continue;
            }
            if let Some(s) = props.get(k) {
                prune(v, s);
            }
        }
    }
}

fn prune(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            if let Some(add) = additional.filter(|a| a.is_object()) {
                for (k, v) in map.iter_mut() {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => prune(v, s),
                        None => prune(v, add),
                    }
                }
                return;
            }
            let keep_unknown =
                preserves_unknown(schema) || additional.and_then(Value::as_bool) == Some(true);
            if !keep_unknown {
                map.retain(|k, _| props.is_some_and(|p| p.contains_key(k)));
            }
            if let Some(props) = props {
                for (k, v) in map.iter_mut() {
                    if let Some(s) = props.get(k) {
                        prune(v, s);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for v in items {
                    prune(v, s);
                }
            }
        }
        _ => {}
    }
}

/// Fills absent fields from schema defaults, walking only objects that exist.
/// A `null` in a non-nullable field is removed first and then defaulted.
pub fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    if map.get(k).is_some_and(Value::is_null) && !nullable(s) {
                        map.remove(k);
                    }
                    if !map.contains_key(k)
                        && let Some(d) = s.get("default")
                    {
                        map.insert(k.clone(), d.clone());
                    }
                    if let Some(v) = map.get_mut(k) {
                        apply_defaults(v, s);
                    }
                }
            }
            if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                let props = schema.get("properties").and_then(Value::as_object);
                for (k, v) in map.iter_mut() {
                    if props.is_none_or(|p| !p.contains_key(k)) {
                        apply_defaults(v, add);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for v in items {
                    apply_defaults(v, s);
                }
            }
        }
        _ => {}
    }
}

/// Validates the non-metadata part of an object; `only` limits it to one top-level field.
pub fn validate_root(obj: &Value, schema: &Value, only: Option<&str>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(map) = obj.as_object() else {
        return causes;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if only.is_none_or(|o| o == r) && !map.contains_key(r) {
                causes.push(Cause::required(r));
            }
        }
    }
    if let Some(props) = props {
        for (k, v) in map {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                || only.is_some_and(|o| o != k)
            {
                continue;
            }
            if let Some(s) = props.get(k) {
                validate(v, s, k, &mut causes);
            }
        }
    }
    causes
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn validate(value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if !nullable(schema) && schema.get("type").is_some() {
            causes.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            ));
        }
        return;
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let ok = actual == t || (t == "number" && actual == "integer");
        let int_or_string = schema
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
            && matches!(actual, "integer" | "string");
        if !ok && !int_or_string {
            causes.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: \"{actual}\": {path} in body must be of type {t}: \"{actual}\""
                ),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(describe).collect();
        causes.push(Cause::not_supported(
            path,
            format!(
                "Unsupported value: {}: supported values: {}",
                describe(value),
                supported.join(", ")
            ),
        ));
    }
    if let Some(n) = value.as_f64() {
        let excl_min = schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
        let excl_max = schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && (n < min || (excl_min && n == min))
        {
            let rel = if excl_min {
                "greater than"
            } else {
                "greater than or equal to"
            };
            causes.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: {value}: {path} in body should be {rel} {}",
                    schema["minimum"]
                ),
            ));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && (n > max || (excl_max && n == max))
        {
            let rel = if excl_max {
                "less than"
            } else {
                "less than or equal to"
            };
            causes.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: {value}: {path} in body should be {rel} {}",
                    schema["maximum"]
                ),
            ));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            causes.push(Cause {
                reason: "FieldValueTooLong",
                message: format!("Too long: may not be more than {max} bytes"),
                field: path.to_string(),
            });
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            causes.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: {}: {path} in body should be at least {min} chars long",
                    describe(value)
                ),
            ));
        }
        if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(p) {
                Ok(re) if !re.is_match(s) => causes.push(Cause::invalid(
                    path,
                    format!(
                        "Invalid value: {}: {path} in body should match '{p}'",
                        describe(value)
                    ),
                )),
                _ => {}
            }
        }
    }
    match value {
        Value::Object(map) => validate_object(map, schema, path, causes),
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooMany",
                    message: format!("Too many: {}: must have at most {max} items", items.len()),
                    field: path.to_string(),
                });
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                causes.push(Cause::invalid(
                    path,
                    format!(
                        "Invalid value: {}: {path} in body should have at least {min} items",
                        items.len()
                    ),
                ));
            }
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    validate(v, s, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

fn validate_object(map: &Map<String, Value>, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                causes.push(Cause::required(format!("{path}.{r}")));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in map {
        let child = format!("{path}.{k}");
        if let Some(s) = props.and_then(|p| p.get(k)) {
            validate(v, s, &child, causes);
        } else if let Some(s) = additional {
            validate(v, s, &child, causes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                        "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 3},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "inner": {"type": "object", "default": {}, "properties": {"x": {"type": "string", "default": "d"}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn defaults_fill_absent_fields_and_nested_defaults_follow_defaulted_parents() {
        let mut obj = json!({"spec": {"name": "a", "replicas": null}});
        apply_defaults(&mut obj, &schema());
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["inner"]["x"], "d");
        assert!(obj.get("status").is_none());
    }

    #[test]
    fn pruning_drops_unknown_fields_except_under_preserve_unknown() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "bogus": 1},
            "spec": {"name": "a", "bogus": 1, "free": {"any": 1}, "labels": {"k": "v"}}, "top": 1});
        prune_root(&mut obj, &schema());
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"name": "a", "free": {"any": 1}, "labels": {"k": "v"}}})
        );
    }

    #[test]
    fn validation_reports_each_broken_rule_with_its_field() {
        let obj = json!({"spec": {"name": "ABCDEFG", "replicas": 9, "mode": "c"}});
        let fields: Vec<(String, &str)> = validate_root(&obj, &schema(), None)
            .into_iter()
            .map(|c| (c.field, c.reason))
            .collect();
        assert!(fields.contains(&("spec.name".into(), "FieldValueTooLong")));
        assert!(fields.contains(&("spec.name".into(), "FieldValueInvalid")));
        assert!(fields.contains(&("spec.replicas".into(), "FieldValueInvalid")));
        assert!(fields.contains(&("spec.mode".into(), "FieldValueNotSupported")));
        let missing = validate_root(&json!({"spec": {}}), &schema(), None);
        assert_eq!(missing[0].field, "spec.name");
        assert_eq!(missing[0].reason, "FieldValueRequired");
        let wrong_type = validate_root(
            &json!({"spec": {"name": "a", "replicas": "x"}}),
            &schema(),
            None,
        );
        assert_eq!(wrong_type[0].field, "spec.replicas");
    }
}
