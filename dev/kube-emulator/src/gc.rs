//! Garbage collection of dependents through ownerReferences (G2), run after writes in the
//! background, never inside the DELETE that removed the owner. It looks only at the objects
//! the store marked since its last run, never at the whole store.

use crate::store::{ResKey, Store, obj_key};
use serde_json::{Value, json};

fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == f))
}

fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

fn owner_refs(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Deletes an object the way the collector does: at once, or by marking it when it has finalizers.
fn delete_dependent(store: &mut Store, key: &ResKey, obj: &Value) {
    if deleting(obj) {
        return;
    }
    let ok = obj_key(obj);
    if obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        let mut new = obj.clone();
        new["metadata"]["deletionTimestamp"] = json!(store.clock().now_seconds());
        new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        store.commit(key, new, Some(obj.clone()));
    } else {
        store.remove(key, &ok);
    }
}

fn remove_finalizer(store: &mut Store, key: &ResKey, obj: &Value, f: &str) {
    let mut new = obj.clone();
    if let Some(a) = new
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        a.retain(|v| v != f);
        if a.is_empty() {
            store.remove(key, &obj_key(obj));
            return;
        }
    }
    store.commit(key, new, Some(obj.clone()));
}

/// Looks at every object a write since the last call concerns (the written objects, their
/// owners and the dependents of removed ones), and at whatever its own writes concern in
/// turn, until nothing is left. Returns how many objects it changed or removed.
pub fn collect(store: &mut Store) -> usize {
    let mut writes = 0;
    while let Some((key, ok)) = store.next_gc_pending() {
        if let Some(obj) = store.get(&key, &ok).cloned()
            && examine(store, &key, &obj)
        {
            writes += 1;
        }
    }
    writes
}

/// Collects one object if its owners are gone, and finishes its orphan or foreground
/// deletion when it is being deleted. Returns whether it wrote anything.
fn examine(store: &mut Store, key: &ResKey, obj: &Value) -> bool {
    let refs = owner_refs(obj);
    let ns = obj_key(obj).0;
    let present = |r: &Value| {
        let u = r.get("uid").and_then(Value::as_str).unwrap_or("");
        store
            .namespace_of_uid(u)
            .is_some_and(|owner_ns| owner_ns.is_empty() || owner_ns == ns)
    };
    if !refs.is_empty() && !deleting(obj) && refs.iter().all(|r| !present(r)) {
        delete_dependent(store, key, obj);
        return true;
    }
    if !deleting(obj) {
        return false;
    }
    let me = uid(obj);
    let dependents = if me.is_empty() {
        Vec::new()
    } else {
        store.dependents_of(me)
    };
    if has_finalizer(obj, "orphan") {
        for (dkey, dep) in &dependents {
            let mut new = dep.clone();
            if let Some(a) = new
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                a.retain(|r| r.get("uid").and_then(Value::as_str) != Some(me));
            }
            store.commit(dkey, new, Some(dep.clone()));
        }
        remove_finalizer(store, key, obj, "orphan");
        true
    } else if has_finalizer(obj, "foregroundDeletion") {
        if dependents.is_empty() {
            remove_finalizer(store, key, obj, "foregroundDeletion");
            return true;
        }
        let mut wrote = false;
        for (dkey, dep) in dependents.iter().filter(|(_, d)| !deleting(d)) {
            delete_dependent(store, dkey, dep);
            wrote = true;
        }
        wrote
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(store: &mut Store, name: &str, uid: &str, owner: Option<&str>) {
        let mut o = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "d", "uid": uid}});
        if let Some(owner) = owner {
            o["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "v1", "kind": "Secret", "name": "o", "uid": owner}]);
        }
        store.commit(&("".into(), "secrets".into()), o, None);
    }

    #[test]
    fn dependents_of_a_missing_owner_are_deleted_transitively() {
        let mut store = Store::new();
        secret(&mut store, "child", "c", Some("gone"));
        secret(&mut store, "grandchild", "g", Some("c"));
        secret(&mut store, "kept", "k", Some("c2"));
        secret(&mut store, "c2", "c2", None);
        collect(&mut store);
        let names: Vec<String> = store
            .list(&("".into(), "secrets".into()), None)
            .iter()
            .map(|o| obj_key(o).1)
            .collect();
        assert_eq!(names, vec!["c2", "kept"]);
    }
}
