//! The write path: create, replace, patch, apply and delete, with the metadata the server
//! maintains (M1–M6), the status subresource rules (X5), CRD schema handling (D1–D3) and
//! finalizer-driven deletion.

use crate::apply::{self, Scope, Writer};
use crate::patch::{self, PatchKind};
use crate::resources::{self, ResourceType};
use crate::schema;
use crate::status::{ApiError, Cause};
use crate::store::{ObjKey, Store, rv_of};
use crate::validation;
use base64::Engine;
use serde_json::{Map, Value, json};

/// Who writes, where, through which endpoint.
pub struct Ctx<'a> {
    pub rt: &'a ResourceType,
    /// Namespace from the URL ("" for cluster-scoped resources).
    pub ns: &'a str,
    pub manager: &'a str,
    /// `Some("status")` for writes to the status subresource.
    pub subresource: Option<&'a str>,
}

/// An HTTP status with the object or Status body to answer with.
pub type Answer = Result<(u16, Value), ApiError>;

fn is_crd_resource(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

/// Custom resources and the workload kinds carry metadata.generation; Secrets and the like don't.
fn has_generation(rt: &ResourceType) -> bool {
    !rt.builtin || matches!(rt.group.as_str(), "apps" | "apiextensions.k8s.io")
}

fn scope(ctx: &Ctx) -> Scope {
    match (ctx.subresource, ctx.rt.status_subresource) {
        (Some("status"), _) => Scope::StatusOnly,
        (_, true) => Scope::NoStatus,
        _ => Scope::All,
    }
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn finalizers(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn invalid(ctx: &Ctx, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid(&ctx.rt.kind, &ctx.rt.group, name, causes)
}

/// Compares two objects ignoring metadata (and status when `skip_status`), for generation (M4).
fn spec_differs(a: &Value, b: &Value, skip_status: bool) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if skip_status {
                m.remove("status");
            }
        }
        v
    };
    strip(a) != strip(b)
}

/// Secrets: stringData folds into data, type defaults to Opaque (X7).
fn normalize_secret(obj: &mut Value) {
    if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
        let data = obj
            .as_object_mut()
            .expect("object")
            .entry("data")
            .or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        for (k, v) in sd {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            data[k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
    if obj.get("type").is_none_or(Value::is_null) {
        obj["type"] = json!("Opaque");
    }
}

/// Namespaces: the `kubernetes.io/metadata.name` label always names the namespace; a new
/// one gets the `kubernetes` finalizer and phase Active.
fn normalize_namespace(obj: &mut Value, created: bool) {
    let name = name_of(obj).to_string();
    let meta = meta_mut(obj);
    if !meta.get("labels").is_some_and(Value::is_object) {
        meta.insert("labels".into(), json!({}));
    }
    meta["labels"]["kubernetes.io/metadata.name"] = json!(name);
    if created {
        if obj.pointer("/spec/finalizers").is_none() {
            if !obj.get("spec").is_some_and(Value::is_object) {
                obj["spec"] = json!({});
            }
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
        }
        obj["status"] = json!({"phase": "Active"});
    }
}

/// Makes `new` a proper stored object, validates it and commits it, or answers the no-op.
fn finish(
    store: &mut Store,
    ctx: &Ctx,
    old: Option<&Value>,
    mut new: Value,
    applied: bool,
) -> Answer {
    let rt = ctx.rt;
    let now = store.clock().now_seconds();
    if !new.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    {
        let meta = meta_mut(&mut new);
        if rt.namespaced {
            meta.insert("namespace".into(), json!(ctx.ns));
        } else {
            meta.remove("namespace");
        }
        meta.remove("selfLink");
        // The real server drops exact repeats of an ownerReference (with a warning).
        if let Some(Value::Array(refs)) = meta.get_mut("ownerReferences") {
            let mut seen = Vec::with_capacity(refs.len());
            refs.retain(|r| {
                let repeat = seen.contains(r);
                if !repeat {
                    seen.push(r.clone());
                }
                !repeat
            });
        }
    }
    let name = name_of(&new).to_string();

    let namespace_kind = rt.builtin && rt.group.is_empty() && rt.plural == "namespaces";
    let mut causes = validation::metadata(&new, old, namespace_kind);
    if !causes.is_empty() {
        return Err(invalid(ctx, &name, causes));
    }

    // Status subresource: each endpoint writes only its part (X5).
    if let Some(old) = old {
        if ctx.subresource == Some("status") {
            let status = new.get("status").cloned();
            let managed = new.pointer("/metadata/managedFields").cloned();
            new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
            match managed {
                Some(m) => new["metadata"]["managedFields"] = m,
                None => {
                    meta_mut(&mut new).remove("managedFields");
                }
            }
        } else if rt.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        let meta = meta_mut(&mut new);
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old.get("metadata").and_then(|m| m.get(f)) {
                Some(v) => meta.insert(f.into(), v.clone()),
                None => meta.remove(f),
            };
        }
    } else {
        if rt.status_subresource && !is_crd_resource(rt) {
            new.as_object_mut().map(|m| m.remove("status"));
        }
        let meta = meta_mut(&mut new);
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now));
        for f in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            meta.remove(f);
        }
    }

    // Kind-specific normalisation, schema and validation.
    if rt.group.is_empty() && rt.plural == "secrets" {
        normalize_secret(&mut new);
    }
    if namespace_kind {
        normalize_namespace(&mut new, old.is_none());
    }
    if let Some(s) = &rt.schema {
        schema::prune_root(&mut new, s);
        schema::apply_defaults(&mut new, s);
        let only = if ctx.subresource == Some("status") {
            Some("status")
        } else {
            None
        };
        causes.extend(
            schema::validate_root(&new, s, only)
                .into_iter()
                .filter(|c| {
                    only.is_some() || !rt.status_subresource || !c.field.starts_with("status")
                }),
        );
    }
    if rt.builtin {
        causes.extend(validation::builtin(&rt.group, &rt.plural, &new, old));
    }
    if is_crd_resource(rt) {
        if let Err(e) = resources::from_crd(&new) {
            let (field, msg) = e.split_once(": ").unwrap_or(("spec", &e));
            causes.push(Cause::invalid(field, msg));
        }
        if old.is_none() {
            new["status"] = resources::crd_status(&new, &now);
        }
    }
    if !causes.is_empty() {
        return Err(invalid(ctx, &name, causes));
    }

    if !applied {
        let w = Writer {
            manager: ctx.manager,
            subresource: ctx.subresource,
            api_version: &rt.api_version(),
            now: &now,
        };
        apply::track_update(old, &mut new, scope(ctx), &w);
    }

    if has_generation(rt) {
        let generation = match old {
            None => 1,
            Some(old) => {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                if spec_differs(old, &new, rt.status_subresource) {
                    g + 1
                } else {
                    g
                }
            }
        };
        meta_mut(&mut new).insert("generation".into(), json!(generation));
    }

    let key = rt.storage_key();
    let Some(old) = old else {
        let stored = store.commit(&key, rt.to_storage(new), None);
        after_commit(store, rt, &stored);
        return Ok((201, stored));
    };
    meta_mut(&mut new).insert(
        "resourceVersion".into(),
        old["metadata"]["resourceVersion"].clone(),
    );
    if apply::without_times(old) == apply::without_times(&new) {
        return Ok((200, old.clone()));
    }
    if old.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&new).is_empty() {
        store.remove(&key, &(ctx.ns.to_string(), name));
        after_delete(store, rt, &new);
        return Ok((200, new));
    }
    let stored = store.commit(&key, rt.to_storage(new), Some(rt.to_storage(old.clone())));
    after_commit(store, rt, &stored);
    Ok((200, stored))
}

/// A stored CRD makes its resources served at once.
fn after_commit(store: &mut Store, rt: &ResourceType, obj: &Value) {
    if is_crd_resource(rt)
        && let Ok(types) = resources::from_crd(obj)
        && let (Some(g), Some(p)) = (
            obj.pointer("/spec/group"),
            obj.pointer("/spec/names/plural"),
        )
    {
        store.set_crd_types(g.as_str().unwrap_or(""), p.as_str().unwrap_or(""), types);
    }
}

/// A deleted CRD stops being served and takes its objects with it.
fn after_delete(store: &mut Store, rt: &ResourceType, obj: &Value) {
    if !is_crd_resource(rt) {
        return;
    }
    let group = obj
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let plural = obj
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    store.set_crd_types(&group, &plural, vec![]);
    let key = (group, plural);
    for o in store.list(&key, None) {
        store.remove(&key, &crate::store::obj_key(&o));
    }
}

fn check_namespace(ctx: &Ctx, body: &Value) -> Result<(), ApiError> {
    match body.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if ctx.rt.namespaced && !ns.is_empty() && ns != ctx.ns => {
            Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ))
        }
        _ => Ok(()),
    }
}

fn check_name(body: &Value, url_name: &str) -> Result<(), ApiError> {
    match body.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if n != url_name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({url_name})"
        ))),
        _ => Ok(()),
    }
}

/// Letters the real server uses for generateName suffixes (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generate_name(prefix: &str) -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut p: String = prefix.chars().take(58).collect();
    p.extend(
        bytes
            .iter()
            .take(5)
            .map(|b| NAME_ALPHABET[*b as usize % NAME_ALPHABET.len()] as char),
    );
    p
}

fn refuse_create_rv(body: &Value) -> Result<(), ApiError> {
    if rv_of(body) != 0 {
        return Err(ApiError::new(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
        ));
    }
    Ok(())
}

/// POST to a collection (X1).
pub fn create(store: &mut Store, ctx: &Ctx, mut body: Value) -> Answer {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_namespace(ctx, &body)?;
    refuse_create_rv(&body)?;
    let key = ctx.rt.storage_key();
    if name_of(&body).is_empty() {
        let Some(prefix) = body
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(invalid(ctx, "", vec![Cause::required("metadata.name")]).with_message(format!(
                "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                ctx.rt.kind
            )));
        };
        let free = (0..8)
            .map(|_| generate_name(&prefix))
            .find(|n| store.get(&key, &(ctx.ns.into(), n.clone())).is_none());
        let Some(name) = free else {
            let mut e = ApiError::already_exists(&ctx.rt.plural, &ctx.rt.group, &prefix);
            e.body["details"]["retryAfterSeconds"] = json!(1);
            return Err(e);
        };
        meta_mut(&mut body).insert("name".into(), json!(name));
    }
    let name = name_of(&body).to_string();
    if store.get(&key, &(ctx.ns.into(), name.clone())).is_some() {
        return Err(ApiError::already_exists(
            &ctx.rt.plural,
            &ctx.rt.group,
            &name,
        ));
    }
    meta_mut(&mut body).remove("managedFields");
    finish(store, ctx, None, body, false)
}

fn load(store: &Store, ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    store
        .get(
            &ctx.rt.storage_key(),
            &(ctx.ns.to_string(), name.to_string()),
        )
        .cloned()
        .map(|o| ctx.rt.from_storage(o))
        .ok_or_else(|| ApiError::not_found(&ctx.rt.plural, &ctx.rt.group, name))
}

/// PUT of one object or its status (X2).
pub fn replace(store: &mut Store, ctx: &Ctx, name: &str, mut body: Value) -> Answer {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_name(&body, name)?;
    check_namespace(ctx, &body)?;
    let old = load(store, ctx, name)?;
    match body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) if !rv.is_empty() && rv_of(&old).to_string() != rv => {
            return Err(ApiError::stale(&ctx.rt.plural, &ctx.rt.group, name));
        }
        Some(rv) if !rv.is_empty() => {}
        _ if !ctx.rt.builtin => {
            return Err(invalid(
                ctx,
                name,
                vec![Cause::invalid(
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                )],
            ));
        }
        _ => {}
    }
    meta_mut(&mut body).insert("name".into(), json!(name));
    if body.pointer("/metadata/managedFields").is_none()
        && let Some(m) = old.pointer("/metadata/managedFields")
    {
        body["metadata"]["managedFields"] = m.clone();
    }
    finish(store, ctx, Some(&old), body, false)
}

/// PATCH of one object or its status, every content type (X3, X4).
pub fn patch(
    store: &mut Store,
    ctx: &Ctx,
    name: &str,
    kind: PatchKind,
    body: &[u8],
    force: bool,
) -> Answer {
    if kind == PatchKind::Apply {
        return apply_patch(store, ctx, name, body, force);
    }
    if force {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            vec![Cause::forbidden(
                "force",
                "Forbidden: may not be specified for non-apply patch",
            )],
        ));
    }
    if kind == PatchKind::Strategic && !ctx.rt.builtin {
        return Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ],
        ));
    }
    let old = load(store, ctx, name)?;
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mut new = old.clone();
    match kind {
        PatchKind::Json => patch::json_patch(&mut new, &p).map_err(|e| {
            invalid(ctx, name, vec![Cause::invalid("", e.clone())]).with_message(format!(
                "the server rejected our request due to an error in our request: {e}"
            ))
        })?,
        PatchKind::Merge => patch::merge_patch(&mut new, &p),
        PatchKind::Strategic => patch::strategic_merge(&mut new, &p),
        PatchKind::Apply => unreachable!("handled above"),
    }
    if let Some(rv) = new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && rv != rv_of(&old).to_string()
    {
        return Err(ApiError::stale(&ctx.rt.plural, &ctx.rt.group, name));
    }
    check_name(&new, name)?;
    finish(store, ctx, Some(&old), new, false)
}

fn parse_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// Server-side apply (X4).
fn apply_patch(store: &mut Store, ctx: &Ctx, name: &str, body: &[u8], force: bool) -> Answer {
    if ctx.manager.is_empty() {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            vec![Cause::required("fieldManager")],
        )
        .with_message("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
    }
    let cfg = parse_apply_body(body)?;
    if !cfg.is_object() {
        return Err(ApiError::bad_request("the apply body must be an object"));
    }
    let api_version = cfg.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = cfg.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != ctx.rt.api_version() || kind != ctx.rt.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            ctx.rt.api_version()
        )));
    }
    if cfg.pointer("/metadata/managedFields").is_some() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    check_name(&cfg, name)?;
    check_namespace(ctx, &cfg)?;
    let old = store
        .get(
            &ctx.rt.storage_key(),
            &(ctx.ns.to_string(), name.to_string()),
        )
        .cloned()
        .map(|o| ctx.rt.from_storage(o));
    match &old {
        None => refuse_create_rv(&cfg)?,
        Some(old) => {
            if let Some(rv) = cfg
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                && rv != rv_of(old).to_string()
            {
                return Err(ApiError::stale(&ctx.rt.plural, &ctx.rt.group, name));
            }
        }
    }
    if old.is_none() && ctx.subresource.is_some() {
        return Err(ApiError::not_found(&ctx.rt.plural, &ctx.rt.group, name));
    }
    let live = old.clone().unwrap_or_else(|| {
        json!({"apiVersion": ctx.rt.api_version(), "kind": ctx.rt.kind, "metadata": {"name": name, "namespace": ctx.ns}})
    });
    let now = store.clock().now_seconds();
    let w = Writer {
        manager: ctx.manager,
        subresource: ctx.subresource,
        api_version: &ctx.rt.api_version(),
        now: &now,
    };
    let merged = apply::apply(&live, &cfg, scope(ctx), force, &w)
        .map_err(|causes| ApiError::apply_conflict(&ctx.rt.plural, &ctx.rt.group, name, causes))?;
    finish(store, ctx, old.as_ref(), merged, true)
}

/// Parsed DeleteOptions (body and query).
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn parse(body: &[u8], query: &std::collections::HashMap<String, String>) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let orphan = v
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| query.get("orphanDependents").map(|s| s == "true"));
        DeleteOptions {
            propagation: s("/propagationPolicy")
                .or_else(|| query.get("propagationPolicy").cloned())
                .or_else(|| {
                    orphan.map(|o| {
                        if o {
                            "Orphan".into()
                        } else {
                            "Background".into()
                        }
                    })
                }),
            uid: s("/preconditions/uid"),
            resource_version: s("/preconditions/resourceVersion"),
            dry_run: v
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
                || query.contains_key("dryRun"),
        }
    }
}

/// DELETE of one object (X6, M6).
pub fn delete(store: &mut Store, ctx: &Ctx, name: &str, opts: &DeleteOptions) -> Answer {
    let rt = ctx.rt;
    let old = load(store, ctx, name)?;
    let uid = old
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(want) = &opts.uid
        && *want != uid
    {
        return Err(ApiError::conflict(
            &rt.plural,
            &rt.group,
            name,
            &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
        ));
    }
    if let Some(want) = &opts.resource_version
        && *want != rv_of(&old).to_string()
    {
        return Err(ApiError::conflict(
            &rt.plural,
            &rt.group,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                rv_of(&old)
            ),
        ));
    }
    if opts.dry_run {
        return Ok((
            200,
            crate::status::delete_success(&rt.plural, &rt.group, name, &uid),
        ));
    }
    if old.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok((200, old));
    }
    let mut fins = finalizers(&old);
    let policy_finalizer = match opts.propagation.as_deref() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        _ => None,
    };
    if let Some(f) = policy_finalizer
        && !fins.contains(&json!(f))
    {
        fins.push(json!(f));
    }
    let key = rt.storage_key();
    let ok: ObjKey = (ctx.ns.to_string(), name.to_string());
    if fins.is_empty() {
        store.remove(&key, &ok);
        after_delete(store, rt, &old);
        return Ok((
            200,
            crate::status::delete_success(&rt.plural, &rt.group, name, &uid),
        ));
    }
    let mut new = old.clone();
    let meta = meta_mut(&mut new);
    meta.insert("finalizers".into(), Value::Array(fins));
    meta.insert(
        "deletionTimestamp".into(),
        json!(store.clock().now_seconds()),
    );
    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        meta.insert("generation".into(), json!(g + 1));
    }
    Ok((
        200,
        store.commit(&key, rt.to_storage(new), Some(rt.to_storage(old))),
    ))
}
