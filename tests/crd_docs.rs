//! Every field of the WetixCredential CRD has a description of its own, so that
//! `kubectl explain wxc.spec.<field>` answers for each one. The descriptions come from the
//! Rust doc comments of `src/credential.rs`.

use kube::CustomResourceExt;
use serde_json::{Value, json};
use wetix_operator::credential::WetixCredential;

/// What Kubernetes' own `Time` type says of itself: true of every timestamp, so it tells a
/// reader nothing about the field.
const GENERIC_TIME: &str = "Time is a wrapper around time.Time";

/// The path (as `kubectl explain` takes it) of every field under `schema` whose description is
/// missing, empty or only the generic one of its type.
fn undescribed(path: &str, schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, field) in properties {
            let field_path = format!("{path}.{name}");
            let description = field.get("description").and_then(Value::as_str);
            match description.map(str::trim) {
                None | Some("") => found.push(field_path.clone()),
                Some(text) if text.starts_with(GENERIC_TIME) => {
                    found.push(format!(
                        "{field_path} (only the generic description of Time)"
                    ));
                }
                Some(_) => {}
            }
            found.extend(undescribed(&field_path, field));
        }
    }
    // Fields of list items and of map values are explained under the list or map's own path.
    for nested in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get(nested).filter(|v| v.is_object()) {
            found.extend(undescribed(path, inner));
        }
    }
    found
}

#[test]
fn every_field_of_the_crd_has_a_description() {
    let crd = serde_json::to_value(WetixCredential::crd()).expect("the CRD serializes");
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    for version in versions {
        let schema = &version["schema"]["openAPIV3Schema"];
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "the resource itself has no description"
        );
        let missing = undescribed("wxc", schema);
        assert!(
            missing.is_empty(),
            "fields of WetixCredential {} without a description (add a /// doc comment in \
             src/credential.rs): {}",
            version["name"],
            missing.join(", ")
        );
    }
}

#[test]
fn the_fields_named_in_the_issue_are_explained() {
    let crd = serde_json::to_value(WetixCredential::crd()).expect("the CRD serializes");
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
    let spec = &root["spec"]["properties"];
    let status = &root["status"]["properties"];
    for field in [
        &spec["clientSecretRef"],
        &spec["clientSecretRef"]["properties"]["name"],
        &spec["rolloutRestartTargets"]["items"]["properties"]["kind"],
        &status["failedAttempts"],
        &status["nextRefreshTime"],
    ] {
        let description = field["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "no description in {field}");
    }
}

#[test]
fn the_walk_names_a_nested_field_without_a_description() {
    let schema = json!({
        "properties": {
            "spec": {
                "description": "the spec",
                "properties": {
                    "ref": {"description": "a reference", "properties": {"name": {"type": "string"}}},
                    "targets": {
                        "description": "a list",
                        "items": {"properties": {"kind": {"type": "string"}}}
                    },
                    "at": {"description": "Time is a wrapper around time.Time which supports ..."}
                }
            },
            "status": {"type": "object"}
        }
    });
    assert_eq!(
        undescribed("wxc", &schema),
        [
            "wxc.spec.at (only the generic description of Time)",
            "wxc.spec.ref.name",
            "wxc.spec.targets.kind",
            "wxc.status",
        ]
    );
}
