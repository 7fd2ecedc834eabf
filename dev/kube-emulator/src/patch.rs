//! Non-apply PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and a simple
//! strategic merge patch for built-in kinds (X3).

use serde_json::Value;

/// The PATCH content types the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// Applies an RFC 6902 patch. A `test` of `null` against an absent member passes, as on the
/// real server (kube-runtime's finalizer helper relies on it when adding the first finalizer).
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops: Vec<json_patch::PatchOperation> =
        serde_json::from_value(ops.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    let ops: Vec<json_patch::PatchOperation> = ops
        .into_iter()
        .filter(|op| match op {
            json_patch::PatchOperation::Test(t) => {
                !(t.value.is_null() && doc.pointer(&t.path.to_string()).is_none())
            }
            _ => true,
        })
        .collect();
    json_patch::patch(doc, &ops).map_err(|e| e.to_string())
}

/// Applies an RFC 7386 merge patch: `null` deletes, lists are replaced whole.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

/// List fields whose items merge by a key instead of being replaced.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "ownerReferences" => "uid",
        "conditions" => "type",
        _ => return None,
    })
}

/// Lists of scalars that merge as sets.
fn merges_as_set(field: &str) -> bool {
    field == "finalizers"
}

/// A simple strategic merge: maps merge, `null` deletes, lists are replaced except the
/// known merge-by-key lists, and `$patch: replace|delete` directives on maps and list items.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(pmap) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    match pmap.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut p = patch.clone();
            p.as_object_mut().map(|m| m.remove("$patch"));
            *target = p;
            return;
        }
        Some("delete") => {
            *target = Value::Object(Default::default());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let tmap = target.as_object_mut().expect("target is an object");
    for (k, v) in pmap {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            tmap.remove(k);
            continue;
        }
        match (tmap.get_mut(k), v) {
            (Some(t @ Value::Object(_)), Value::Object(_)) => strategic_merge(t, v),
            (Some(Value::Array(titems)), Value::Array(pitems)) if merge_key(k).is_some() => {
                let key = merge_key(k).expect("checked");
                for pi in pitems {
                    let id = pi.get(key).cloned();
                    let pos = titems
                        .iter()
                        .position(|t| id.is_some() && t.get(key) == id.as_ref());
                    let delete = pi.get("$patch").and_then(Value::as_str) == Some("delete");
                    match (pos, delete) {
                        (Some(i), true) => {
                            titems.remove(i);
                        }
                        (None, true) => {}
                        (Some(i), false) => strategic_merge(&mut titems[i], pi),
                        (None, false) => {
                            let mut item = Value::Null;
                            strategic_merge(&mut item, pi);
                            titems.push(item);
                        }
                    }
                }
            }
            (Some(Value::Array(titems)), Value::Array(pitems)) if merges_as_set(k) => {
                for pi in pitems {
                    if !titems.contains(pi) {
                        titems.push(pi.clone());
                    }
                }
            }
            _ => {
                let mut fresh = Value::Null;
                if v.is_object() {
                    strategic_merge(&mut fresh, v);
                } else {
                    fresh = v.clone();
                }
                tmap.insert(k.clone(), fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_test_of_null_passes_on_absent_member() {
        let mut doc = json!({"metadata": {}});
        let ops = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["a/b"]}
        ]);
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["a/b"]));
    }

    #[test]
    fn json_patch_failed_test_is_an_error() {
        let mut doc = json!({"a": 1});
        assert!(json_patch(&mut doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
    }

    #[test]
    fn strategic_merge_merges_maps_deletes_nulls_and_merges_containers_by_name() {
        let mut doc = json!({
            "spec": {"template": {"metadata": {"annotations": {"a": "1"}},
                "spec": {"containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "y"}]}}},
            "metadata": {"finalizers": ["f1"]},
            "list": [1, 2]
        });
        let patch = json!({
            "spec": {"template": {"metadata": {"annotations": {"b": "2"}},
                "spec": {"containers": [{"name": "c", "image": "z"}, {"name": "d", "$patch": "delete"}]}}},
            "metadata": {"finalizers": ["f2"]},
            "list": [3],
            "gone": null
        });
        strategic_merge(&mut doc, &patch);
        assert_eq!(
            doc["spec"]["template"]["metadata"]["annotations"],
            json!({"a": "1", "b": "2"})
        );
        assert_eq!(
            doc["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "z"}])
        );
        assert_eq!(doc["metadata"]["finalizers"], json!(["f1", "f2"]));
        assert_eq!(doc["list"], json!([3]));
    }
}
