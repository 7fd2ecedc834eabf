//! The kinds of resource served: the built-in ones and those CRDs add.

use serde_json::{Value, json};

/// One served resource at one group/version.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Writes to the main resource keep the stored `.status`; `/status` writes only status (X5).
    pub status_subresource: bool,
    /// Built-in kinds take strategic merge patches and unconditional updates; custom resources don't.
    pub builtin: bool,
    /// The CRD's `openAPIV3Schema` for this version, driving defaults, pruning and validation.
    pub schema: Option<Value>,
    /// Dotted paths usable in field selectors besides `metadata.name`/`metadata.namespace`.
    pub extra_field_selectors: Vec<String>,
    /// The CRD version's `additionalPrinterColumns`, for the Table form.
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Objects are stored per group and plural, whatever version they were written through.
    /// `events.k8s.io` Events share the core Events' storage (see [`crate::events`]).
    pub fn storage_key(&self) -> (String, String) {
        if self.is_events_k8s_io() {
            return (String::new(), "events".into());
        }
        (self.group.clone(), self.plural.clone())
    }

    fn is_events_k8s_io(&self) -> bool {
        self.group == "events.k8s.io" && self.plural == "events"
    }

    /// A stored object in the shape this endpoint serves.
    pub fn from_storage(&self, obj: Value) -> Value {
        if self.is_events_k8s_io() {
            crate::events::to_events(obj)
        } else {
            obj
        }
    }

    /// [`ResourceType::from_storage`] without copying when the shapes are the same.
    pub fn view<'a>(&self, obj: &'a Value) -> std::borrow::Cow<'a, Value> {
        if self.is_events_k8s_io() {
            std::borrow::Cow::Owned(crate::events::to_events(obj.clone()))
        } else {
            std::borrow::Cow::Borrowed(obj)
        }
    }

    /// An object written through this endpoint in the shape it is stored in.
    pub fn to_storage(&self, obj: Value) -> Value {
        if self.is_events_k8s_io() {
            crate::events::to_core(obj)
        } else {
            obj
        }
    }

    pub fn field_selectors(&self) -> Vec<String> {
        let mut f = vec!["metadata.name".to_string()];
        if self.namespaced {
            f.push("metadata.namespace".into());
        }
        f.extend(self.extra_field_selectors.iter().cloned());
        f
    }

    /// Entry for an APIResourceList (discovery).
    pub fn discovery_entries(&self) -> Vec<Value> {
        let verbs = json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]);
        let mut main = json!({
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        let mut entries = vec![main];
        if self.status_subresource {
            entries.push(json!({
                "name": format!("{}/status", self.plural), "singularName": "", "namespaced": self.namespaced,
                "kind": self.kind, "verbs": ["get", "patch", "update"],
            }));
        }
        entries
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    status: bool,
    short: &[&str],
    fields: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        status_subresource: status,
        builtin: true,
        schema: None,
        extra_field_selectors: fields.iter().map(|s| s.to_string()).collect(),
        printer_columns: Vec::new(),
    }
}

/// The built-in resources every emulator serves.
pub fn builtins() -> Vec<ResourceType> {
    vec![
        builtin("", "v1", "secrets", "Secret", true, false, &[], &["type"]),
        builtin(
            "",
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            false,
            &["cm"],
            &[],
        ),
        builtin(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            true,
            false,
            &["sa"],
            &[],
        ),
        builtin(
            "",
            "v1",
            "namespaces",
            "Namespace",
            false,
            true,
            &["ns"],
            &["status.phase"],
        ),
        builtin(
            "",
            "v1",
            "events",
            "Event",
            true,
            false,
            &["ev"],
            &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            true,
            false,
            &["ev"],
            &[
                "regarding.kind",
                "regarding.namespace",
                "regarding.name",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
                "reason",
                "reportingController",
                "type",
            ],
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            true,
            false,
            &[],
            &[],
        ),
        builtin(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            true,
            true,
            &["deploy"],
            &[],
        ),
        builtin(
            "apps",
            "v1",
            "statefulsets",
            "StatefulSet",
            true,
            true,
            &["sts"],
            &[],
        ),
        builtin(
            "apps",
            "v1",
            "daemonsets",
            "DaemonSet",
            true,
            true,
            &["ds"],
            &[],
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            true,
            &["crd", "crds"],
            &[],
        ),
    ]
}

/// The resource types a CRD serves, one per served version; `Err` names what is malformed.
pub fn from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group: Required value")?;
    let names = spec.get("names").ok_or("spec.names: Required value")?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let plural = s(names, "plural").ok_or("spec.names.plural: Required value")?;
    let kind = s(names, "kind").ok_or("spec.names.kind: Required value")?;
    let singular = s(names, "singular").unwrap_or_else(|| kind.to_lowercase());
    let list_kind = s(names, "listKind").unwrap_or_else(|| format!("{kind}List"));
    let short_names: Vec<String> = names
        .get("shortNames")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let namespaced = spec
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("Namespaced")
        == "Namespaced";
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions: Required value")?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let version = s(v, "name").ok_or("spec.versions[].name: Required value")?;
        let status_subresource = v.pointer("/subresources/status").is_some();
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let extra_field_selectors = v
            .get("selectableFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                    .map(|p| p.trim_start_matches('.').to_string())
                    .collect()
            })
            .unwrap_or_default();
        let printer_columns = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        out.push(ResourceType {
            group: group.to_string(),
            version,
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced,
            short_names: short_names.clone(),
            status_subresource,
            builtin: false,
            schema,
            extra_field_selectors,
            printer_columns,
        });
    }
    Ok(out)
}

/// The status a CRD gets once its resources are served.
pub fn crd_status(crd: &Value, now: &str) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let versions: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let cond = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": msg});
    json!({
        "acceptedNames": names,
        "storedVersions": versions,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    })
}
