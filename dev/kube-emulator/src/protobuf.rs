//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl and client-go's
//! typed clients send them for built-in kinds: the magic `k8s\0`, then a `runtime.Unknown`
//! envelope (typeMeta, the object message as raw bytes, contentEncoding, contentType). The
//! object is decoded with the `k8s-pb` message types and turned into the JSON the JSON path
//! takes (base64 for bytes, RFC 3339 timestamps, fields the Go JSON encoding omits left out).
//! Answers stay JSON; clients that send protobuf also accept JSON.

use crate::status::ApiError;
use base64::Engine;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::events::v1 as events;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// Whether a Content-Type header names the Kubernetes protobuf encoding.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// The kinds whose protobuf bodies are decoded, as `(group, kind)`.
pub const KINDS: &[(&str, &str)] = &[
    ("", "Secret"),
    ("", "ConfigMap"),
    ("", "Namespace"),
    ("", "ServiceAccount"),
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("coordination.k8s.io", "Lease"),
];

fn bad(msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("error decoding request body: {msg}"))
}

/// Splits the envelope: (apiVersion, kind, raw object message).
fn envelope(body: &[u8]) -> Result<(String, String, Vec<u8>), ApiError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"))?;
    let unknown = Unknown::decode(rest).map_err(bad)?;
    if let Some(enc) = unknown
        .content_encoding
        .as_deref()
        .filter(|e| !e.is_empty())
    {
        return Err(bad(format!("unsupported content encoding {enc:?}")));
    }
    let tm = unknown.type_meta.unwrap_or_default();
    Ok((
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
        unknown.raw.unwrap_or_default(),
    ))
}

/// Decodes a protobuf body for an endpoint serving `group`/`kind` into its JSON form.
pub fn decode(body: &[u8], group: &str, version: &str, kind: &str) -> Result<Value, ApiError> {
    let (api_version, body_kind, raw) = envelope(body)?;
    let expected = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    if api_version != expected || body_kind != kind {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): {api_version}, Kind={body_kind}"
        )));
    }
    let raw = raw.as_slice();
    let mut obj = match (group, kind) {
        ("", "Secret") => secret(core::Secret::decode(raw).map_err(bad)?),
        ("", "ConfigMap") => config_map(core::ConfigMap::decode(raw).map_err(bad)?),
        ("", "Namespace") => namespace(core::Namespace::decode(raw).map_err(bad)?),
        ("", "ServiceAccount") => service_account(core::ServiceAccount::decode(raw).map_err(bad)?),
        ("", "Event") => core_event(core::Event::decode(raw).map_err(bad)?),
        ("events.k8s.io", "Event") => event(events::Event::decode(raw).map_err(bad)?),
        ("coordination.k8s.io", "Lease") => lease(coordination::Lease::decode(raw).map_err(bad)?),
        _ => {
            return Err(ApiError::unsupported_media_type(
                MEDIA_TYPE,
                &["application/json", "application/yaml"],
            )
            .with_message(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (this server decodes protobuf only for {})",
                KINDS
                    .iter()
                    .map(|(g, k)| if g.is_empty() { k.to_string() } else { format!("{k}.{g}") })
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    Ok(Value::Object(obj))
}

/// DeleteOptions sent as protobuf, as JSON bytes for [`crate::write::DeleteOptions::parse`];
/// None when the body is not a protobuf DeleteOptions.
pub fn delete_options(body: &[u8]) -> Option<Vec<u8>> {
    let (_, kind, raw) = envelope(body).ok()?;
    if kind != "DeleteOptions" {
        return None;
    }
    let o = meta::DeleteOptions::decode(raw.as_slice()).ok()?;
    let pre = o.preconditions.map(|p| {
        Obj::new()
            .opt_str("uid", p.uid)
            .opt_str("resourceVersion", p.resource_version)
            .value()
    });
    let v = Obj::new()
        .opt_int("gracePeriodSeconds", o.grace_period_seconds)
        .opt_value("preconditions", pre)
        .opt_bool("orphanDependents", o.orphan_dependents)
        .opt_str("propagationPolicy", o.propagation_policy)
        .strs("dryRun", o.dry_run)
        .value();
    serde_json::to_vec(&v).ok()
}

/// A JSON object built the way Go's encoding/json writes Kubernetes types: `omitempty`
/// fields (the plain methods) are left out when empty; pointer fields (`opt_*`) are written
/// whenever set, zero values included.
struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Self {
        Obj(Map::new())
    }
    fn put(mut self, k: &str, v: Value) -> Self {
        self.0.insert(k.into(), v);
        self
    }
    fn str(self, k: &str, v: Option<String>) -> Self {
        match v.filter(|s| !s.is_empty()) {
            Some(s) => self.put(k, json!(s)),
            None => self,
        }
    }
    fn opt_str(self, k: &str, v: Option<String>) -> Self {
        match v {
            Some(s) => self.put(k, json!(s)),
            None => self,
        }
    }
    fn int(self, k: &str, v: Option<impl Into<i64>>) -> Self {
        match v.map(Into::into).filter(|n| *n != 0) {
            Some(n) => self.put(k, json!(n)),
            None => self,
        }
    }
    fn opt_int(self, k: &str, v: Option<impl Into<i64>>) -> Self {
        match v {
            Some(n) => self.put(k, json!(n.into())),
            None => self,
        }
    }
    fn opt_bool(self, k: &str, v: Option<bool>) -> Self {
        match v {
            Some(b) => self.put(k, json!(b)),
            None => self,
        }
    }
    fn strs(self, k: &str, v: Vec<String>) -> Self {
        if v.is_empty() {
            self
        } else {
            self.put(k, json!(v))
        }
    }
    fn map(self, k: &str, v: BTreeMap<String, String>) -> Self {
        if v.is_empty() {
            self
        } else {
            self.put(k, json!(v))
        }
    }
    fn bytes_map(self, k: &str, v: BTreeMap<String, Vec<u8>>) -> Self {
        if v.is_empty() {
            return self;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let m: Map<String, Value> = v
            .into_iter()
            .map(|(k, v)| (k, json!(b64.encode(v))))
            .collect();
        self.put(k, Value::Object(m))
    }
    /// An `omitempty` struct or list: left out when absent or empty.
    fn value(self) -> Value {
        Value::Object(self.0)
    }
    fn nested(self, k: &str, v: Option<Value>) -> Self {
        match v {
            Some(Value::Object(m)) if m.is_empty() => self,
            Some(Value::Array(a)) if a.is_empty() => self,
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    /// A pointer struct: written whenever set.
    fn opt_value(self, k: &str, v: Option<Value>) -> Self {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    fn list<T>(self, k: &str, v: Vec<T>, f: impl Fn(T) -> Value) -> Self {
        let items: Vec<Value> = v.into_iter().map(f).collect();
        self.nested(k, Some(Value::Array(items)))
    }
}

/// `metav1.Time`: whole seconds; the zero time is encoded as an empty message.
fn time(t: Option<meta::Time>) -> Option<Value> {
    let t = t?;
    if t.seconds.is_none() && t.nanos.is_none() {
        return None;
    }
    let ts = jiff::Timestamp::from_second(t.seconds.unwrap_or(0)).ok()?;
    Some(json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

/// `metav1.MicroTime`: microseconds.
fn micro_time(t: Option<meta::MicroTime>) -> Option<Value> {
    let t = t?;
    if t.seconds.is_none() && t.nanos.is_none() {
        return None;
    }
    let nanos = t.nanos.unwrap_or(0).clamp(0, 999_999_999) / 1000 * 1000;
    let ts = jiff::Timestamp::new(t.seconds.unwrap_or(0), nanos).ok()?;
    Some(json!(ts.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()))
}

fn object_meta(m: Option<meta::ObjectMeta>) -> Value {
    let Some(m) = m else { return json!({}) };
    Obj::new()
        .str("name", m.name)
        .str("generateName", m.generate_name)
        .str("namespace", m.namespace)
        .str("selfLink", m.self_link)
        .str("uid", m.uid)
        .str("resourceVersion", m.resource_version)
        .int("generation", m.generation)
        .nested("creationTimestamp", time(m.creation_timestamp))
        .nested("deletionTimestamp", time(m.deletion_timestamp))
        .opt_int(
            "deletionGracePeriodSeconds",
            m.deletion_grace_period_seconds,
        )
        .map("labels", m.labels)
        .map("annotations", m.annotations)
        .list("ownerReferences", m.owner_references, |r| {
            Obj::new()
                .put("apiVersion", json!(r.api_version.unwrap_or_default()))
                .put("kind", json!(r.kind.unwrap_or_default()))
                .put("name", json!(r.name.unwrap_or_default()))
                .put("uid", json!(r.uid.unwrap_or_default()))
                .opt_bool("controller", r.controller)
                .opt_bool("blockOwnerDeletion", r.block_owner_deletion)
                .value()
        })
        .strs("finalizers", m.finalizers)
        .list("managedFields", m.managed_fields, |e| {
            let fields = e
                .fields_v1
                .and_then(|f| f.raw)
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok());
            Obj::new()
                .str("manager", e.manager)
                .str("operation", e.operation)
                .str("apiVersion", e.api_version)
                .nested("time", time(e.time))
                .str("fieldsType", e.fields_type)
                .opt_value("fieldsV1", fields)
                .str("subresource", e.subresource)
                .value()
        })
        .value()
}

fn with_meta(m: Option<meta::ObjectMeta>) -> Obj {
    Obj::new().put("metadata", object_meta(m))
}

fn secret(s: core::Secret) -> Map<String, Value> {
    with_meta(s.metadata)
        .opt_bool("immutable", s.immutable)
        .bytes_map("data", s.data)
        .map("stringData", s.string_data)
        .str("type", s.r#type)
        .0
}

fn config_map(c: core::ConfigMap) -> Map<String, Value> {
    with_meta(c.metadata)
        .opt_bool("immutable", c.immutable)
        .map("data", c.data)
        .bytes_map("binaryData", c.binary_data)
        .0
}

fn namespace(n: core::Namespace) -> Map<String, Value> {
    let spec = n
        .spec
        .map(|s| Obj::new().strs("finalizers", s.finalizers).value());
    let status = n.status.map(|s| {
        Obj::new()
            .str("phase", s.phase)
            .list("conditions", s.conditions, |c| {
                Obj::new()
                    .str("type", c.r#type)
                    .str("status", c.status)
                    .nested("lastTransitionTime", time(c.last_transition_time))
                    .str("reason", c.reason)
                    .str("message", c.message)
                    .value()
            })
            .value()
    });
    with_meta(n.metadata)
        .nested("spec", spec)
        .nested("status", status)
        .0
}

fn object_reference(r: core::ObjectReference) -> Value {
    Obj::new()
        .str("kind", r.kind)
        .str("namespace", r.namespace)
        .str("name", r.name)
        .str("uid", r.uid)
        .str("apiVersion", r.api_version)
        .str("resourceVersion", r.resource_version)
        .str("fieldPath", r.field_path)
        .value()
}

fn service_account(s: core::ServiceAccount) -> Map<String, Value> {
    with_meta(s.metadata)
        .list("secrets", s.secrets, object_reference)
        .list("imagePullSecrets", s.image_pull_secrets, |r| {
            Obj::new().str("name", r.name).value()
        })
        .opt_bool(
            "automountServiceAccountToken",
            s.automount_service_account_token,
        )
        .0
}

fn event_source(s: Option<core::EventSource>) -> Option<Value> {
    s.map(|s| {
        Obj::new()
            .str("component", s.component)
            .str("host", s.host)
            .value()
    })
}

fn core_event(e: core::Event) -> Map<String, Value> {
    let series = e.series.map(|s| {
        Obj::new()
            .int("count", s.count)
            .nested("lastObservedTime", micro_time(s.last_observed_time))
            .value()
    });
    with_meta(e.metadata)
        .nested("involvedObject", e.involved_object.map(object_reference))
        .str("reason", e.reason)
        .str("message", e.message)
        .nested("source", event_source(e.source))
        .nested("firstTimestamp", time(e.first_timestamp))
        .nested("lastTimestamp", time(e.last_timestamp))
        .int("count", e.count)
        .str("type", e.r#type)
        .nested("eventTime", micro_time(e.event_time))
        .opt_value("series", series)
        .str("action", e.action)
        .opt_value("related", e.related.map(object_reference))
        .str("reportingComponent", e.reporting_component)
        .str("reportingInstance", e.reporting_instance)
        .0
}

fn event(e: events::Event) -> Map<String, Value> {
    let series = e.series.map(|s| {
        Obj::new()
            .int("count", s.count)
            .nested("lastObservedTime", micro_time(s.last_observed_time))
            .value()
    });
    with_meta(e.metadata)
        .nested("eventTime", micro_time(e.event_time))
        .opt_value("series", series)
        .str("reportingController", e.reporting_controller)
        .str("reportingInstance", e.reporting_instance)
        .str("action", e.action)
        .str("reason", e.reason)
        .nested("regarding", e.regarding.map(object_reference))
        .opt_value("related", e.related.map(object_reference))
        .str("note", e.note)
        .str("type", e.r#type)
        .nested("deprecatedSource", event_source(e.deprecated_source))
        .nested(
            "deprecatedFirstTimestamp",
            time(e.deprecated_first_timestamp),
        )
        .nested("deprecatedLastTimestamp", time(e.deprecated_last_timestamp))
        .int("deprecatedCount", e.deprecated_count)
        .0
}

fn lease(l: coordination::Lease) -> Map<String, Value> {
    let spec = l.spec.map(|s| {
        Obj::new()
            .opt_str("holderIdentity", s.holder_identity)
            .opt_int("leaseDurationSeconds", s.lease_duration_seconds)
            .opt_value("acquireTime", micro_time(s.acquire_time))
            .opt_value("renewTime", micro_time(s.renew_time))
            .opt_int("leaseTransitions", s.lease_transitions)
            .opt_str("strategy", s.strategy)
            .opt_str("preferredHolder", s.preferred_holder)
            .value()
    });
    with_meta(l.metadata).nested("spec", spec).0
}

/// Encodes `obj` (a k8s-pb message) the way client-go does, for tests.
pub fn encode<M: Message>(api_version: &str, kind: &str, obj: &M) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(obj.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_decodes_to_the_json_the_json_path_takes() {
        let s = core::Secret {
            metadata: Some(meta::ObjectMeta {
                name: Some("s".into()),
                namespace: Some(String::new()),
                generation: Some(0),
                creation_timestamp: Some(meta::Time::default()),
                labels: [("a".to_string(), "b".to_string())].into(),
                ..Default::default()
            }),
            data: [("k".to_string(), b"x".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&encode("v1", "Secret", &s), "", "v1", "Secret").unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "labels": {"a": "b"}},
                "data": {"k": "eA=="}, "type": "Opaque"})
        );
    }

    #[test]
    fn times_are_rfc3339_and_micro_times_keep_microseconds() {
        let t = meta::Time {
            seconds: Some(1_700_000_000),
            nanos: Some(5),
        };
        assert_eq!(time(Some(t)), Some(json!("2023-11-14T22:13:20Z")));
        let m = meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_789),
        };
        assert_eq!(
            micro_time(Some(m)),
            Some(json!("2023-11-14T22:13:20.123456Z"))
        );
    }

    #[test]
    fn protobuf_delete_options_become_their_json_form() {
        let o = meta::DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(meta::Preconditions {
                uid: Some("u".into()),
                resource_version: None,
            }),
            propagation_policy: Some("Foreground".into()),
            dry_run: vec!["All".into()],
            ..Default::default()
        };
        let json = delete_options(&encode("v1", "DeleteOptions", &o)).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "u"},
                "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
        assert!(delete_options(b"{}").is_none());
    }

    #[test]
    fn garbage_and_wrong_kinds_are_refused_without_panicking() {
        for body in [&b""[..], b"k8s", b"k8s\0\xff\xff\xff", b"{}"] {
            assert_eq!(decode(body, "", "v1", "Secret").unwrap_err().code, 400);
        }
        let cm = core::ConfigMap::default();
        let e = decode(&encode("v1", "ConfigMap", &cm), "", "v1", "Secret").unwrap_err();
        assert_eq!(e.code, 400);
        let e = decode(
            &encode("apps/v1", "Deployment", &cm),
            "apps",
            "v1",
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(e.code, 415);
    }
}
