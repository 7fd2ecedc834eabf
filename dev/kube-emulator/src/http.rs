//! HTTP routing: parses Kubernetes API paths, query parameters and request bodies (JSON,
//! YAML, protobuf) and dispatches to the store, the write path, watches and discovery. Also
//! logs requests and applies faults.

use crate::clock::Clock;
use crate::discovery;
use crate::faults::{FaultState, RequestRecord};
use crate::patch::PatchKind;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, Cause};
use crate::store::Store;
use crate::table::{self, Include, TableRequest};
use crate::watch::{self, WatchRequest};
use crate::write::{self, Ctx, DeleteOptions};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderMap, Method};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// State shared by every request of one emulator.
pub struct Shared {
    store: Mutex<Store>,
    pub faults: Mutex<FaultState>,
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Woken after writes so the garbage collector looks for orphans.
    pub gc: Notify,
    pub addr: std::net::SocketAddr,
    /// The emulator's clock, also the store's.
    pub clock: Clock,
}

impl Shared {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        let clock = Clock::default();
        Shared {
            store: Mutex::new(Store::with_clock(clock.clone())),
            clock,
            faults: Mutex::new(FaultState::default()),
            requests: Mutex::new(Vec::new()),
            gc: Notify::new(),
            addr,
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

pub fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .expect("valid response")
}

fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.body)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let delay = shared.faults.lock().map(|f| f.delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let response = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(body) => route(&shared, &method, &path, &params, &headers, &body)
            .await
            .unwrap_or_else(error_response),
        Err(e) => error_response(ApiError::bad_request(format!("reading the body: {e}"))),
    };
    let record = RequestRecord {
        method: method.to_string(),
        path,
        query,
        content_type,
        field_manager: params.get("fieldManager").cloned(),
        user_agent,
        status: response.status().as_u16(),
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(record);
    response
}

/// What the client asked to receive (P1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Full,
    Meta,
    MetaList,
    /// A `meta.k8s.io` Table at the given version (server-side printing).
    Table(&'static str),
}

/// The first form in the Accept header that is served; the plain object when none is named.
fn form(headers: &HeaderMap) -> Form {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for range in accept.split(',') {
        let params: HashMap<&str, &str> = range
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let group_ok = params.get("g").is_none_or(|g| *g == "meta.k8s.io");
        match params.get("as").copied() {
            None => return Form::Full,
            Some("PartialObjectMetadataList") => return Form::MetaList,
            Some("PartialObjectMetadata") => return Form::Meta,
            Some("Table") if group_ok => match params.get("v").copied() {
                None | Some("v1") => return Form::Table("v1"),
                Some("v1beta1") => return Form::Table("v1beta1"),
                Some(_) => {}
            },
            Some(_) => {}
        }
    }
    Form::Full
}

/// An object as the client sees it through `rt`: the endpoint's apiVersion, read-time
/// schema defaults (D1) and, for metadata-only requests, PartialObjectMetadata (P2).
pub fn present(rt: &ResourceType, obj: Value, metadata_only: bool) -> Value {
    let mut obj = rt.from_storage(obj);
    obj["apiVersion"] = json!(rt.api_version());
    if let Some(s) = &rt.schema {
        crate::schema::apply_defaults(&mut obj, s);
    }
    if metadata_only {
        return json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]});
    }
    obj
}

/// A request for objects of one resource.
struct Target {
    rt: ResourceType,
    ns: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn find_target(store: &Store, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let is_ns_sub = rest.len() == 3
        && rest[0] == "namespaces"
        && matches!(rest[2], "status" | "finalize")
        && store.find_type(group, version, rest[2]).is_none();
    let (ns, rest) = if rest.len() >= 3 && rest[0] == "namespaces" && !is_ns_sub {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let plural = rest.first()?;
    let rt = store.find_type(group, version, plural)?;
    if rest.len() > 3 || (ns.is_some() && !rt.namespaced) {
        return None;
    }
    Some(Target {
        rt,
        ns,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
    .with_details(json!({}))
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Ok(json_response(200, &discovery::version())),
        ["api"] => return Ok(json_response(200, &discovery::api_versions(shared.addr))),
        ["apis"] => {
            return Ok(json_response(
                200,
                &discovery::group_list(shared.store().types()),
            ));
        }
        ["apis", g] => {
            return discovery::group(shared.store().types(), g)
                .map(|v| json_response(200, &v))
                .ok_or_else(not_found_path);
        }
        ["api", "v1"] => {
            return Ok(json_response(
                200,
                &discovery::resource_list(shared.store().types(), "", "v1"),
            ));
        }
        ["apis", g, v] => {
            let list = discovery::resource_list(shared.store().types(), g, v);
            if list["resources"].as_array().is_some_and(|r| r.is_empty()) {
                return Err(not_found_path());
            }
            return Ok(json_response(200, &list));
        }
        ["openapi", "v3"] => {
            return Ok(json_response(
                200,
                &discovery::openapi_root(shared.store().types()),
            ));
        }
        ["openapi", "v3", gv @ ..] => {
            return discovery::openapi_group_version(shared.store().types(), &gv.join("/"))
                .map(|v| json_response(200, &v))
                .ok_or_else(not_found_path);
        }
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(not_found_path()),
    };
    let target = find_target(&shared.store(), group, version, rest).ok_or_else(not_found_path)?;
    if target
        .subresource
        .as_deref()
        .is_some_and(|s| s != "status" || !target.rt.status_subresource)
    {
        return Err(not_found_path());
    }
    let rt = target.rt.clone();
    let ns = if rt.namespaced {
        target.ns.clone()
    } else {
        Some(String::new())
    };
    if rt.namespaced && ns.is_none() && (target.name.is_some() || *method != Method::GET) {
        return Err(not_found_path());
    }
    let form = form(headers);
    let table = match form {
        Form::Table(version) => Some(TableRequest {
            version,
            include: Include::parse(q.get("includeObject").map(String::as_str))?,
        }),
        _ => None,
    };
    let is_watch = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));

    let verb = match (method, &target.name) {
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        (&Method::GET, _) => "get",
        _ => return Err(ApiError::method_not_allowed()),
    };
    if verb != "get" {
        let injected = shared
            .faults
            .lock()
            .ok()
            .and_then(|mut f| f.take_write_fault(&rt.plural, verb));
        if let Some(code) = injected {
            return Err(ApiError::injected(
                code,
                &rt.plural,
                &rt.group,
                target.name.as_deref().unwrap_or(""),
            ));
        }
    }

    match (verb, target.name.as_deref()) {
        ("get", None) if is_watch => {
            if form == Form::MetaList {
                return Err(ApiError::not_acceptable(
                    "only the PartialObjectMetadata form is served for watches",
                ));
            }
            let req = watch_request(rt, target.ns, q, form == Form::Meta, table, &shared.clock)?;
            Ok(watch::serve(shared.clone(), req))
        }
        ("get", None) => list(shared, &rt, target.ns.as_deref(), q, form, table),
        ("get", Some(name)) => {
            if form == Form::MetaList {
                return Err(ApiError::not_acceptable(
                    "PartialObjectMetadataList is served for collections only",
                ));
            }
            let ns = ns.unwrap_or_default();
            let store = shared.store();
            if let Some(want) = parse_rv(q.get("resourceVersion"))?
                && want > store.current_rv()
            {
                return Err(too_large_rv(want, store.current_rv()));
            }
            let obj = store
                .get(&rt.storage_key(), &(ns, name.to_string()))
                .cloned()
                .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))?;
            drop(store);
            let out = match table {
                Some(t) => table::single(&rt, t, obj, true, shared.clock.now()),
                None => present(&rt, obj, form == Form::Meta),
            };
            Ok(json_response(200, &out))
        }
        ("deletecollection", None) => delete_collection(shared, &rt, target.ns.as_deref(), q, body),
        (verb, name) => {
            let ns = ns.unwrap_or_default();
            let manager = manager(q, headers, verb);
            let ctx = Ctx {
                rt: &rt,
                ns: &ns,
                manager: &manager,
                subresource: target.subresource.as_deref(),
            };
            let answer = {
                let mut store = shared.store();
                match (verb, name) {
                    ("create", _) => {
                        write::create(&mut store, &ctx, parse_body(&rt, headers, body)?)
                    }
                    ("update", Some(n)) => {
                        write::replace(&mut store, &ctx, n, parse_body(&rt, headers, body)?)
                    }
                    ("patch", Some(n)) => {
                        let ct = content_type(headers);
                        let kind = PatchKind::from_content_type(ct).ok_or_else(|| {
                            ApiError::unsupported_media_type(
                                ct,
                                &[
                                    "application/json-patch+json",
                                    "application/merge-patch+json",
                                    "application/strategic-merge-patch+json",
                                    "application/apply-patch+yaml",
                                ],
                            )
                        })?;
                        let force = q.get("force").is_some_and(|f| f == "true");
                        write::patch(&mut store, &ctx, n, kind, body, force)
                    }
                    ("delete", Some(n)) => write::delete(
                        &mut store,
                        &ctx,
                        n,
                        &DeleteOptions::parse(&delete_body(headers, body), q),
                    ),
                    _ => Err(ApiError::method_not_allowed()),
                }
            };
            let (code, obj) = answer?;
            shared.gc.notify_one();
            let is_status = obj.get("kind").and_then(Value::as_str) == Some("Status");
            let out = match table {
                _ if is_status => obj,
                Some(t) => table::single(&rt, t, obj, true, shared.clock.now()),
                None => present(&rt, obj, form == Form::Meta),
            };
            Ok(json_response(code, &out))
        }
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The object of a create or update: JSON, YAML or (built-in kinds) protobuf.
fn parse_body(rt: &ResourceType, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    if crate::protobuf::is_protobuf(ct) {
        return crate::protobuf::decode(body, &rt.group, &rt.version, &rt.kind);
    }
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?;
        return serde_saphyr::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

/// A DELETE body as JSON: protobuf DeleteOptions are converted.
fn delete_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    if crate::protobuf::is_protobuf(content_type(headers))
        && let Some(json) = crate::protobuf::delete_options(body)
    {
        return json.into();
    }
    body.into()
}

/// The field manager of a write: `fieldManager`, else the User-Agent up to its first `/` (M5).
/// Apply requires the explicit parameter.
fn manager(q: &HashMap<String, String>, headers: &HeaderMap, verb: &str) -> String {
    if let Some(m) = q.get("fieldManager") {
        return m.clone();
    }
    let is_apply = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(PatchKind::from_content_type)
        == Some(PatchKind::Apply);
    if verb == "patch" && is_apply {
        return String::new();
    }
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn list_options_invalid(field: &str, message: &str) -> ApiError {
    ApiError::invalid(
        "ListOptions",
        "meta.k8s.io",
        "",
        vec![Cause::invalid(field, message)],
    )
}

fn selectors(
    rt: &ResourceType,
    q: &HashMap<String, String>,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map(String::as_str).unwrap_or(""),
        &rt.field_selectors(),
    )
    .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn parse_rv(s: Option<&String>) -> Result<Option<u64>, ApiError> {
    match s.map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {v:?}"))),
    }
}

/// 504 for a get or list at a resourceVersion the store has not reached (W9).
fn too_large_rv(want: u64, current: u64) -> ApiError {
    ApiError::new(
        504,
        "Timeout",
        format!("Timeout: Too large resource version: {want}, current: {current}"),
    )
    .with_details(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1
    }))
}

fn watch_request(
    rt: ResourceType,
    ns: Option<String>,
    q: &HashMap<String, String>,
    metadata_only: bool,
    table: Option<TableRequest>,
    clock: &Clock,
) -> Result<WatchRequest, ApiError> {
    let (labels, fields) = selectors(&rt, q)?;
    let send_initial_events = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let rvm = q
        .get("resourceVersionMatch")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    if send_initial_events && rvm != Some("NotOlderThan") {
        return Err(list_options_invalid(
            "resourceVersionMatch",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if !send_initial_events && rvm.is_some() {
        return Err(list_options_invalid(
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let from = if send_initial_events {
        None
    } else {
        parse_rv(q.get("resourceVersion"))?
    };
    Ok(WatchRequest {
        rt,
        ns,
        labels,
        fields,
        from,
        bookmarks: q.get("allowWatchBookmarks").is_some_and(|v| v == "true"),
        send_initial_events,
        timeout: q
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs),
        metadata_only,
        table,
        headers_sent: Default::default(),
        clock: clock.clone(),
    })
}

/// The stored namespace and name a list or watch can be narrowed to before its selectors
/// are matched: the request's namespace ("" for cluster-scoped resources), else one the field
/// selector requires, and the name the field selector requires.
pub fn lookup(
    rt: &ResourceType,
    ns: Option<&str>,
    fields: &FieldSelector,
) -> (Option<String>, Option<String>) {
    let ns = if rt.namespaced {
        ns.or_else(|| fields.required("metadata.namespace"))
    } else {
        Some("")
    };
    (
        ns.map(str::to_string),
        fields.required("metadata.name").map(str::to_string),
    )
}

/// The opaque `continue` token: the list's resourceVersion and the last key served.
fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"rv": rv, "ns": ns, "name": name}).to_string())
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((
        v["rv"].as_u64()?,
        v["ns"].as_str()?.to_string(),
        v["name"].as_str()?.to_string(),
    ))
}

fn list(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &HashMap<String, String>,
    form: Form,
    table: Option<TableRequest>,
) -> Result<Response, ApiError> {
    if form == Form::Meta {
        return Err(ApiError::not_acceptable(
            "PartialObjectMetadata is served for single objects only",
        ));
    }
    let rv = q.get("resourceVersion").filter(|s| !s.is_empty());
    let rvm = q.get("resourceVersionMatch").filter(|s| !s.is_empty());
    let cont = q.get("continue").filter(|s| !s.is_empty());
    if q.get("sendInitialEvents").is_some() {
        return Err(list_options_invalid(
            "sendInitialEvents",
            "Forbidden: sendInitialEvents is forbidden for list",
        ));
    }
    if let Some(m) = rvm {
        if rv.is_none() {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if cont.is_some() {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        match m.as_str() {
            "NotOlderThan" => {}
            "Exact" if rv.is_some_and(|r| r == "0") => {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            "Exact" => {}
            other => {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    &format!(
                        "Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                    ),
                ));
            }
        }
    }
    let (labels, fields) = selectors(rt, q)?;
    let store = shared.store();
    let current = store.current_rv();
    let exact = rvm.is_some_and(|m| m == "Exact")
        || (rvm.is_none() && q.get("limit").is_some() && rv.is_some_and(|r| r != "0"));
    let want = if cont.is_none() { parse_rv(rv)? } else { None };
    if let Some(want) = want
        && want > current
    {
        return Err(too_large_rv(want, current));
    }
    // An Exact read of an earlier version is served from the history (L2).
    let past = match want {
        Some(want) if exact && want < current => Some((
            want,
            store.objects_at(&rt.storage_key(), want).ok_or_else(|| {
                ApiError::new(
                    410,
                    "Expired",
                    "The resourceVersion for the provided list is too old.",
                )
            })?,
        )),
        _ => None,
    };
    let (list_rv, after) = match cont {
        Some(token) => {
            if rv.is_some_and(|r| r != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, ns, name) = decode_continue(token)
                .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            (rv, Some((ns, name)))
        }
        None => (past.as_ref().map_or(current, |(rv, _)| *rv), None),
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    // Copies only the objects served; the rest of the matches are only counted, without
    // looking into them when there are no selectors.
    let (scan_ns, name) = lookup(rt, ns, &fields);
    let everything = labels.is_empty() && fields.is_empty();
    let objects = match &past {
        Some((_, objects)) => {
            crate::store::range_in(objects, scan_ns.as_deref(), name.as_deref(), after.as_ref())
        }
        None => store.range(
            &rt.storage_key(),
            scan_ns.as_deref(),
            name.as_deref(),
            after.as_ref(),
        ),
    };
    let mut matching = objects.filter(|o| {
        everything || {
            let o = rt.view(o);
            labels.matches(&o) && fields.matches(&o)
        }
    });
    let items: Vec<Value> = matching
        .by_ref()
        .take(limit.unwrap_or(usize::MAX))
        .map(|o| rt.from_storage(o.clone()))
        .collect();
    // As the real server (L4): the remaining items are counted only for a list without
    // selectors, where that is a count of keys; with one, it only looks for a next match,
    // so that a list read page by page costs one scan, not one a page.
    let (more, remaining) = if everything {
        let remaining = matching.count();
        (remaining > 0, Some(remaining))
    } else {
        let mut rest = matching;
        (rest.next().is_some(), None)
    };
    drop(store);
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if more && let Some(last) = items.last() {
        let last = crate::store::obj_key(last);
        meta["continue"] = json!(encode_continue(list_rv, &last.0, &last.1));
        if let Some(remaining) = remaining {
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    if let Some(t) = table {
        return Ok(json_response(
            200,
            &table::table(rt, t, meta, items, true, shared.clock.now()),
        ));
    }
    let metadata_only = form == Form::MetaList;
    let items: Vec<Value> = items
        .into_iter()
        .map(|o| present(rt, o, metadata_only))
        .collect();
    let body = if metadata_only {
        json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items})
    } else {
        json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": meta, "items": items})
    };
    Ok(json_response(200, &body))
}

fn delete_collection(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(rt, q)?;
    let opts = DeleteOptions::parse(body, q);
    let mut store = shared.store();
    let (scan_ns, name) = lookup(rt, ns, &fields);
    let victims: Vec<Value> = store
        .range(&rt.storage_key(), scan_ns.as_deref(), name.as_deref(), None)
        .filter(|o| {
            let o = rt.view(o);
            labels.matches(&o) && fields.matches(&o)
        })
        .map(|o| rt.from_storage(o.clone()))
        .collect();
    let mut items = Vec::new();
    for v in victims {
        let (vns, name) = crate::store::obj_key(&v);
        let ctx = Ctx {
            rt,
            ns: &vns,
            manager: "",
            subresource: None,
        };
        if write::delete(&mut store, &ctx, &name, &opts).is_ok() {
            items.push(present(rt, v, false));
        }
    }
    let rv = store.current_rv();
    drop(store);
    shared.gc.notify_one();
    Ok(json_response(
        200,
        &json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
    ))
}
