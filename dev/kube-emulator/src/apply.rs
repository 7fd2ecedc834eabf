//! Field ownership (managedFields, M5) and server-side apply (X4).
//!
//! A field set is the set of leaf paths a manager owns: scalars, lists (atomic) and empty maps.
//! Paths are sequences of fieldsV1 keys (`f:spec`, `f:replicas`).

use crate::status::Cause;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

pub type Path = Vec<String>;
pub type FieldSet = BTreeSet<Path>;

/// Metadata the server owns itself; never part of a manager's field set.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// Which part of an object a write may touch, for field tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything but system metadata.
    All,
    /// Everything but system metadata and `.status` (main resource with a status subresource).
    NoStatus,
    /// Only `.status` (the `/status` subresource).
    StatusOnly,
}

fn in_scope(path: &Path, scope: Scope) -> bool {
    let Some(first) = path.first() else {
        return false;
    };
    if first == "f:apiVersion" || first == "f:kind" {
        return false;
    }
    if first == "f:metadata"
        && let Some(second) = path.get(1)
        && SYSTEM_METADATA.iter().any(|s| second == &format!("f:{s}"))
    {
        return false;
    }
    match scope {
        Scope::All => true,
        Scope::NoStatus => first != "f:status",
        Scope::StatusOnly => first == "f:status",
    }
}

fn collect_leaves(value: &Value, prefix: &mut Path, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                prefix.push(format!("f:{k}"));
                collect_leaves(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Null => {}
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

/// The leaf paths of `value` within `scope`.
pub fn leaves(value: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    collect_leaves(value, &mut Vec::new(), &mut out);
    out.retain(|p| in_scope(p, scope));
    out
}

pub fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = value;
    for seg in path {
        cur = cur.get(seg.strip_prefix("f:")?)?;
    }
    Some(cur)
}

fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for seg in parents {
        let Some(next) = seg.strip_prefix("f:").and_then(|s| cur.get_mut(s)) else {
            return;
        };
        cur = next;
    }
    if let (Some(map), Some(k)) = (cur.as_object_mut(), last.strip_prefix("f:")) {
        map.remove(k);
    }
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|s| format!(".{}", s.strip_prefix("f:").unwrap_or(s)))
        .collect()
}

/// Encodes a field set as fieldsV1 JSON.
pub fn encode(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for seg in path {
            node = node
                .entry(seg.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("fieldsV1 nodes are objects");
        }
    }
    // A node that is both owned itself and has owned children needs ".".
    fn mark(node: &mut Map<String, Value>, path: &mut Path, fields: &FieldSet) {
        for (k, v) in node.iter_mut() {
            path.push(k.clone());
            if let Value::Object(child) = v
                && !child.is_empty()
            {
                if fields.contains(path) {
                    child.insert(".".into(), json!({}));
                }
                mark(child, path, fields);
            }
            path.pop();
        }
    }
    mark(&mut root, &mut Vec::new(), fields);
    Value::Object(root)
}

/// Decodes fieldsV1 JSON; list-item keys (`k:`, `v:`, `i:`) collapse onto their list.
pub fn decode(v: &Value) -> FieldSet {
    fn walk(node: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(map) = node.as_object() else { return };
        if (map.is_empty() || map.contains_key(".")) && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, v) in map {
            if k == "." {
                continue;
            }
            if k.starts_with("f:") {
                path.push(k.clone());
                walk(v, path, out);
                path.pop();
            } else if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn same_slot(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
            "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": encode(&self.fields),
        });
        if let Some(s) = &self.subresource {
            v["subresource"] = json!(s);
        }
        v
    }
}

pub fn entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return vec![];
    };
    list.iter()
        .map(|e| {
            let s = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                api_version: s("apiVersion"),
                time: s("time"),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                fields: e.get("fieldsV1").map(decode).unwrap_or_default(),
            }
        })
        .collect()
}

pub fn set_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Copy of `obj` with managedFields timestamps blanked, to compare writes (M3).
pub fn without_times(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(list) = o
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for e in list {
            if let Some(m) = e.as_object_mut() {
                m.remove("time");
            }
        }
    }
    o
}

/// Identity of the writer of one request.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub subresource: Option<&'a str>,
    pub api_version: &'a str,
    pub now: &'a str,
}

/// Records a non-apply write (operation `Update`): the writer takes what it changed, and
/// fields that no longer exist leave every manager's set.
pub fn track_update(old: Option<&Value>, new: &mut Value, scope: Scope, w: &Writer) {
    let mut list = old.map(entries).unwrap_or_default();
    let null = Value::Null;
    let old_v = old.unwrap_or(&null);
    let changed: FieldSet = leaves(new, scope)
        .into_iter()
        .filter(|p| get(old_v, p) != get(new, p))
        .collect();
    for e in list.iter_mut() {
        e.fields
            .retain(|p| get(new, p).is_some() && !changed.iter().any(|c| overlaps(c, p)));
    }
    match list
        .iter_mut()
        .find(|e| e.same_slot(w.manager, "Update", w.subresource))
    {
        Some(e) => {
            if !changed.is_empty() {
                e.fields.extend(changed);
                e.time = w.now.to_string();
                e.api_version = w.api_version.to_string();
            }
        }
        None => list.push(Entry {
            manager: w.manager.to_string(),
            operation: "Update".into(),
            api_version: w.api_version.to_string(),
            time: w.now.to_string(),
            subresource: w.subresource.map(str::to_string),
            fields: changed,
        }),
    }
    set_entries(new, &list);
}

fn deep_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else if let Some(tv) = t.get_mut(k) {
                    deep_merge(tv, v);
                } else {
                    let mut fresh = json!({});
                    deep_merge(&mut fresh, v);
                    t.insert(k.clone(), fresh);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Result of server-side apply: the merged object, or the conflicting fields.
pub type ApplyResult = Result<Value, Vec<Cause>>;

/// Server-side apply of `cfg` onto `live` (an empty object when creating).
pub fn apply(live: &Value, cfg: &Value, scope: Scope, force: bool, w: &Writer) -> ApplyResult {
    let mut list = entries(live);
    let applied = leaves(cfg, scope);
    let mut merged = live.clone();
    let mut scoped_cfg = cfg.clone();
    for p in leaves(cfg, Scope::All).difference(&applied) {
        remove(&mut scoped_cfg, p);
    }
    if let Some(meta) = scoped_cfg
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        for k in SYSTEM_METADATA {
            meta.remove(*k);
        }
    }
    deep_merge(&mut merged, &scoped_cfg);

    // Conflicts with every other manager over fields whose value would change.
    let mut conflicts = Vec::new();
    for e in list.iter_mut() {
        if e.same_slot(w.manager, "Apply", w.subresource) {
            continue;
        }
        let mut lost = Vec::new();
        for q in &e.fields {
            // Owning a map does not own its members: only fields at or below what is
            // applied can conflict, compared where the other manager's value lives.
            for p in applied.iter().filter(|p| q.starts_with(p)) {
                if get(live, q) != get(&merged, q) {
                    lost.push(q.clone());
                    conflicts.push(Cause {
                        reason: "FieldManagerConflict",
                        message: format!("conflict with \"{}\" using {}", e.manager, e.api_version),
                        field: dotted(p),
                    });
                }
            }
        }
        if force {
            for q in lost {
                e.fields.remove(&q);
            }
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.dedup();
        return Err(conflicts);
    }

    // Fields this manager applied before and now omits go, unless someone else owns them.
    let previous = list
        .iter()
        .find(|e| e.same_slot(w.manager, "Apply", w.subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: Vec<&Entry> = list
        .iter()
        .filter(|e| !e.same_slot(w.manager, "Apply", w.subresource))
        .collect();
    let owned_elsewhere = |p: &Path| {
        others
            .iter()
            .any(|e| e.fields.iter().any(|q| q.starts_with(p)))
    };
    for p in previous
        .iter()
        .filter(|p| !applied.iter().any(|a| overlaps(a, p)))
    {
        if owned_elsewhere(p) {
            continue;
        }
        remove(&mut merged, p);
        // Parents left empty by the removal go too, unless still owned or applied.
        let mut parent = p.clone();
        while parent.pop().is_some() && !parent.is_empty() {
            let empty = get(&merged, &parent)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty);
            if !empty || owned_elsewhere(&parent) || applied.iter().any(|a| a.starts_with(&parent))
            {
                break;
            }
            remove(&mut merged, &parent);
        }
    }

    list.retain(|e| !e.same_slot(w.manager, "Apply", w.subresource));
    list.push(Entry {
        manager: w.manager.to_string(),
        operation: "Apply".into(),
        api_version: w.api_version.to_string(),
        time: w.now.to_string(),
        subresource: w.subresource.map(str::to_string),
        fields: applied,
    });
    // Keep the entry order stable for unchanged managers so no-op applies stay no-ops.
    if let Some(old) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    {
        let pos = |e: &Entry| {
            old.iter()
                .position(|o| {
                    o.get("manager").and_then(Value::as_str) == Some(&e.manager)
                        && o.get("operation").and_then(Value::as_str) == Some(&e.operation)
                        && o.get("subresource").and_then(Value::as_str) == e.subresource.as_deref()
                })
                .unwrap_or(usize::MAX)
        };
        list.sort_by_key(pos);
    }
    set_entries(&mut merged, &list);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            subresource: None,
            api_version: "v1",
            now: "2026-01-01T00:00:00Z",
        }
    }

    #[test]
    fn fields_v1_round_trips() {
        let obj = json!({"metadata": {"labels": {"a": "1"}, "name": "x"}, "spec": {"x": 1, "l": [1], "e": {}}});
        let set = leaves(&obj, Scope::All);
        assert_eq!(decode(&encode(&set)), set);
        assert_eq!(encode(&set)["f:metadata"], json!({"f:labels": {"f:a": {}}}));
    }

    #[test]
    fn apply_conflicts_then_force_moves_ownership() {
        let a = apply(
            &json!({"metadata": {}}),
            &json!({"spec": {"x": 1}}),
            Scope::All,
            false,
            &w("a"),
        )
        .unwrap();
        let err = apply(&a, &json!({"spec": {"x": 2}}), Scope::All, false, &w("b")).unwrap_err();
        assert_eq!(err[0].field, ".spec.x");
        let same = apply(&a, &json!({"spec": {"x": 1}}), Scope::All, false, &w("b")).unwrap();
        assert_eq!(entries(&same).len(), 2);
        let forced = apply(&a, &json!({"spec": {"x": 2}}), Scope::All, true, &w("b")).unwrap();
        assert_eq!(forced["spec"]["x"], 2);
        assert_eq!(entries(&forced).len(), 1);
    }

    #[test]
    fn apply_removes_fields_the_manager_stops_applying() {
        let a = apply(
            &json!({"metadata": {}}),
            &json!({"data": {"a": "1", "b": "2"}}),
            Scope::All,
            false,
            &w("a"),
        )
        .unwrap();
        let b = apply(&a, &json!({"data": {"a": "1"}}), Scope::All, false, &w("a")).unwrap();
        assert_eq!(b["data"], json!({"a": "1"}));
        let c = apply(&b, &json!({}), Scope::All, false, &w("a")).unwrap();
        assert!(c.get("data").is_none());
    }

    #[test]
    fn update_takes_ownership_of_changed_fields() {
        let a = apply(
            &json!({"metadata": {}}),
            &json!({"spec": {"x": 1}}),
            Scope::All,
            false,
            &w("a"),
        )
        .unwrap();
        let mut b = a.clone();
        b["spec"]["x"] = json!(5);
        track_update(Some(&a), &mut b, Scope::All, &w("kubectl"));
        let e = entries(&b);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].manager, "kubectl");
        assert_eq!(e[0].operation, "Update");
    }
}
