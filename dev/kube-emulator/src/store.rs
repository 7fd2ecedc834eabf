//! The in-memory object store: one resourceVersion counter for every write (M3), the objects
//! of every served resource, a bounded change history for watch replay (W3/W4) and Exact
//! lists of earlier versions (L2), and the channels of open watches.
//!
//! Requests cost what they touch, not what is stored: objects are kept ordered by
//! (namespace, name) so gets are lookups and lists walk only their namespace or page, and
//! ownerReferences are indexed both ways so the garbage collector looks only at objects a
//! write concerns (see [`crate::gc`]).

use crate::clock::Clock;
use crate::resources::{self, ResourceType};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Storage key of a resource: API group and plural, whatever version was used.
pub type ResKey = (String, String);
/// Object key inside a resource: namespace ("" when cluster-scoped) and name.
pub type ObjKey = (String, String);
/// Where one object lives.
pub type Loc = (ResKey, ObjKey);

/// How many changes are kept for watches that resume from an older resourceVersion and for
/// Exact lists. Older resumptions get a 410 Expired ERROR event and relist, as after etcd
/// compaction; older Exact lists get HTTP 410.
pub const HISTORY_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watches see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub key: ResKey,
    pub kind: ChangeKind,
    /// The stored object after the write; for deletes its last state with the delete's RV (W6).
    pub object: Value,
    /// The object before the write, to turn selector transitions into ADDED/DELETED (W2).
    pub previous: Option<Value>,
}

/// What a new watch starts from.
pub enum WatchStart {
    /// Synthetic ADDED events for these objects, then live changes.
    Snapshot(Vec<Value>),
    /// Every change after the requested resourceVersion, then live changes.
    Replay(Vec<Arc<Change>>),
    /// History does not reach the requested version (W4). `oldest` is the newest version
    /// no longer in the history, as the real server's message names it.
    TooOld { requested: u64, oldest: u64 },
}

pub struct Subscription {
    pub start: WatchStart,
    pub rv: u64,
    pub changes: mpsc::UnboundedReceiver<Arc<Change>>,
}

#[derive(Default)]
pub struct Store {
    rv: u64,
    types: Vec<ResourceType>,
    objects: HashMap<ResKey, BTreeMap<ObjKey, Value>>,
    history: VecDeque<Arc<Change>>,
    /// Highest resourceVersion whose change has left the history.
    compacted_rv: u64,
    watchers: Vec<(ResKey, mpsc::UnboundedSender<Arc<Change>>)>,
    /// Where each uid is stored, for owner lookups.
    uids: HashMap<String, Loc>,
    /// The objects naming each uid in their ownerReferences.
    dependents: HashMap<String, BTreeSet<Loc>>,
    /// Objects the garbage collector has to look at: written, or whose owner or dependent
    /// was written or removed since it last looked.
    gc_pending: BTreeSet<Loc>,
    /// Stamps metadata times; shared with the emulator's handle.
    clock: Clock,
}

fn uid_of(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The uids an object names in its ownerReferences.
pub fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

pub fn rv_of(obj: &Value) -> u64 {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn obj_key(obj: &Value) -> ObjKey {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

impl Store {
    pub fn new() -> Self {
        Self::with_clock(Clock::default())
    }

    /// A store whose metadata times come from `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        let mut s = Store {
            types: resources::builtins(),
            clock,
            ..Default::default()
        };
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "default", "uid": uuid::Uuid::new_v4().to_string(),
                "labels": {"kubernetes.io/metadata.name": "default"},
                "creationTimestamp": s.clock.now_seconds()},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        s.commit(&("".into(), "namespaces".into()), ns, None);
        s
    }

    /// The clock metadata times come from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// Replaces the served types of one (group, plural); empty `types` stops serving it.
    pub fn set_crd_types(&mut self, group: &str, plural: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|t| t.builtin || !(t.group == group && t.plural == plural));
        self.types.extend(types);
    }

    pub fn get(&self, key: &ResKey, ok: &ObjKey) -> Option<&Value> {
        self.objects.get(key).and_then(|m| m.get(ok))
    }

    /// Objects of one resource, in one namespace or (None) all.
    pub fn list(&self, key: &ResKey, ns: Option<&str>) -> Vec<Value> {
        self.range(key, ns, None, None).cloned().collect()
    }

    /// Objects of one resource in (namespace, name) order, without copying them: in one
    /// namespace or (None) all, only the one called `name` when given, and only those after
    /// `after` (a continue key) when given. Walks just that part of the resource.
    pub fn range<'a>(
        &'a self,
        key: &ResKey,
        ns: Option<&str>,
        name: Option<&str>,
        after: Option<&ObjKey>,
    ) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        match self.objects.get(key) {
            Some(m) => range_in(m, ns, name, after),
            None => Box::new(std::iter::empty()),
        }
    }

    /// The objects of one resource as they were at `rv`, rebuilt from the change history;
    /// None when the history no longer reaches back that far or `rv` was never written.
    pub fn objects_at(&self, key: &ResKey, rv: u64) -> Option<BTreeMap<ObjKey, Value>> {
        if rv < self.compacted_rv || rv > self.rv {
            return None;
        }
        let mut m = self.objects.get(key).cloned().unwrap_or_default();
        for c in self.history.iter().rev().take_while(|c| c.rv > rv) {
            if c.key != *key {
                continue;
            }
            let ok = obj_key(&c.object);
            match (&c.previous, c.kind) {
                (Some(p), ChangeKind::Modified | ChangeKind::Deleted) => {
                    m.insert(ok, p.clone());
                }
                _ => {
                    m.remove(&ok);
                }
            }
        }
        Some(m)
    }

    /// Takes the next object the garbage collector has to look at.
    pub fn next_gc_pending(&mut self) -> Option<Loc> {
        self.gc_pending.pop_first()
    }

    /// The namespace ("" when cluster-scoped) of the object with this uid, if stored.
    pub fn namespace_of_uid(&self, uid: &str) -> Option<&str> {
        self.uids.get(uid).map(|(_, (ns, _))| ns.as_str())
    }

    /// The objects naming `uid` in their ownerReferences.
    pub fn dependents_of(&self, uid: &str) -> Vec<(ResKey, Value)> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|(key, ok)| self.get(key, ok).map(|o| (key.clone(), o.clone())))
            .collect()
    }

    fn mark_uid(&mut self, uid: &str) {
        if let Some(loc) = self.uids.get(uid) {
            self.gc_pending.insert(loc.clone());
        }
    }

    fn mark_owners(&mut self, obj: &Value) {
        for owner in owner_uids(obj) {
            self.mark_uid(owner);
        }
    }

    fn index(&mut self, loc: &Loc, obj: &Value) {
        let uid = uid_of(obj);
        if !uid.is_empty() {
            self.uids.insert(uid.to_string(), loc.clone());
        }
        for owner in owner_uids(obj) {
            self.dependents
                .entry(owner.to_string())
                .or_default()
                .insert(loc.clone());
        }
    }

    fn unindex(&mut self, loc: &Loc, obj: &Value) {
        let uid = uid_of(obj);
        if self.uids.get(uid) == Some(loc) {
            self.uids.remove(uid);
        }
        for owner in owner_uids(obj) {
            if let Some(d) = self.dependents.get_mut(owner) {
                d.remove(loc);
                if d.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn publish(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > HISTORY_LIMIT {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
        self.watchers
            .retain(|(k, tx)| *k != change.key || tx.send(change.clone()).is_ok());
    }

    /// Stores `obj` under a fresh resourceVersion and tells watchers. `previous` is the
    /// stored object it replaces (None for a create).
    pub fn commit(&mut self, key: &ResKey, mut obj: Value, previous: Option<Value>) -> Value {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let loc = (key.clone(), obj_key(&obj));
        let replaced = self
            .objects
            .entry(key.clone())
            .or_default()
            .insert(loc.1.clone(), obj.clone());
        // The object, and the owners it named before and after the write, may now have
        // something to collect.
        if let Some(old) = replaced {
            self.unindex(&loc, &old);
            self.mark_owners(&old);
        }
        self.index(&loc, &obj);
        self.mark_owners(&obj);
        self.gc_pending.insert(loc);
        let kind = if previous.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        self.publish(Change {
            rv,
            key: key.clone(),
            kind,
            object: obj.clone(),
            previous,
        });
        obj
    }

    /// Removes an object; watchers get its last state with the delete's resourceVersion.
    pub fn remove(&mut self, key: &ResKey, ok: &ObjKey) -> Option<Value> {
        let old = self.objects.get_mut(key)?.remove(ok)?;
        // Its dependents lost an owner; its owners may be waiting for it to go.
        let loc = (key.clone(), ok.clone());
        self.unindex(&loc, &old);
        self.gc_pending.remove(&loc);
        if let Some(deps) = self.dependents.get(uid_of(&old)) {
            self.gc_pending.extend(deps.iter().cloned());
        }
        self.mark_owners(&old);
        let rv = self.next_rv();
        let mut gone = old.clone();
        gone["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.publish(Change {
            rv,
            key: key.clone(),
            kind: ChangeKind::Deleted,
            object: gone.clone(),
            previous: Some(old),
        });
        Some(gone)
    }

    /// Registers a watch on `key` starting after `from` (None or 0: from a snapshot of the
    /// objects in `ns`, or just the one called `name`, that `wanted` accepts).
    pub fn subscribe(
        &mut self,
        key: &ResKey,
        ns: Option<&str>,
        name: Option<&str>,
        from: Option<u64>,
        wanted: &dyn Fn(&Value) -> bool,
    ) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let start = match from.filter(|rv| *rv > 0) {
            None => WatchStart::Snapshot(
                self.range(key, ns, name, None)
                    .filter(|o| wanted(o))
                    .cloned()
                    .collect(),
            ),
            // Older than the history, or newer than anything this store wrote (a version
            // from an earlier emulator): either way the client must relist (W4).
            Some(rv) if rv < self.compacted_rv || rv > self.rv => WatchStart::TooOld {
                requested: rv,
                oldest: self.compacted_rv,
            },
            Some(rv) => {
                // History is in resourceVersion order: skip straight to the first change after `rv`.
                let first = self.history.partition_point(|c| c.rv <= rv);
                WatchStart::Replay(
                    self.history
                        .range(first..)
                        .filter(|c| c.key == *key)
                        .cloned()
                        .collect(),
                )
            }
        };
        if !matches!(start, WatchStart::TooOld { .. }) {
            self.watchers.push((key.clone(), tx));
        }
        Subscription {
            start,
            rv: self.rv,
            changes: rx,
        }
    }

    /// Forgets all history, as etcd compaction does: older watch resumptions get 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    /// Ends every open watch stream.
    pub fn drop_watches(&mut self) {
        self.watchers.clear();
    }
}

/// [`Store::range`] over one resource's objects.
pub fn range_in<'a>(
    m: &'a BTreeMap<ObjKey, Value>,
    ns: Option<&str>,
    name: Option<&str>,
    after: Option<&ObjKey>,
) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
    let after_ok = |k: &ObjKey| after.is_none_or(|a| k > a);
    match (ns, name) {
        (Some(ns), Some(name)) => {
            let k = (ns.to_string(), name.to_string());
            let hit = m.get(&k).filter(|_| after_ok(&k));
            Box::new(hit.into_iter())
        }
        (Some(ns), None) => {
            let start = match after {
                Some(a) if a.0.as_str() > ns => return Box::new(std::iter::empty()),
                Some(a) if a.0 == ns => Bound::Excluded(a.clone()),
                _ => Bound::Included((ns.to_string(), String::new())),
            };
            // The first key past the namespace: names never contain NUL.
            let end = Bound::Excluded((format!("{ns}\0"), String::new()));
            Box::new(m.range((start, end)).map(|(_, v)| v))
        }
        (None, name) => {
            let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.clone()));
            let name = name.map(str::to_string);
            Box::new(
                m.range((start, Bound::Unbounded))
                    .filter(move |((_, n), _)| name.as_ref().is_none_or(|name| name == n))
                    .map(|(_, v)| v),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(it: Box<dyn Iterator<Item = &Value> + '_>) -> Vec<String> {
        it.map(|o| {
            let (ns, name) = obj_key(o);
            format!("{ns}/{name}")
        })
        .collect()
    }

    #[test]
    fn range_walks_one_namespace_one_name_or_what_follows_a_continue_key() {
        let mut store = Store::new();
        let key: ResKey = ("".into(), "configmaps".into());
        for (ns, name) in [("a", "x"), ("a", "y"), ("ab", "x"), ("b", "x"), ("b", "z")] {
            store.commit(
                &key,
                json!({"metadata": {"namespace": ns, "name": name}}),
                None,
            );
        }
        assert_eq!(
            names(store.range(&key, Some("a"), None, None)),
            ["a/x", "a/y"]
        );
        assert_eq!(
            names(store.range(&key, Some("b"), Some("z"), None)),
            ["b/z"]
        );
        assert!(names(store.range(&key, Some("b"), Some("y"), None)).is_empty());
        assert_eq!(
            names(store.range(&key, None, Some("x"), None)),
            ["a/x", "ab/x", "b/x"]
        );
        let after = ("a".to_string(), "x".to_string());
        assert_eq!(
            names(store.range(&key, None, None, Some(&after))),
            ["a/y", "ab/x", "b/x", "b/z"]
        );
        assert_eq!(
            names(store.range(&key, Some("a"), None, Some(&after))),
            ["a/y"]
        );
        assert_eq!(
            names(store.range(&key, Some("b"), None, Some(&after))),
            ["b/x", "b/z"]
        );
        assert!(
            names(store.range(&key, Some("a"), None, Some(&("b".into(), "".into())))).is_empty()
        );
        assert!(names(store.range(&("x".into(), "y".into()), None, None, None)).is_empty());
    }

    #[test]
    fn writes_mark_only_the_objects_they_concern_for_collection() {
        let mut store = Store::new();
        let key: ResKey = ("".into(), "secrets".into());
        let obj = |name: &str, uid: &str, owner: Option<&str>| {
            let mut o = json!({"metadata": {"namespace": "d", "name": name, "uid": uid}});
            if let Some(owner) = owner {
                o["metadata"]["ownerReferences"] = json!([{"uid": owner}]);
            }
            o
        };
        store.commit(&key, obj("owner", "o", None), None);
        store.commit(&key, obj("dep", "d", Some("o")), None);
        store.commit(&key, obj("other", "x", None), None);
        while store.next_gc_pending().is_some() {}

        let dep = store.get(&key, &("d".into(), "dep".into())).cloned();
        store.commit(&key, obj("dep", "d", Some("o")), dep);
        let mut pending: Vec<Loc> = std::iter::from_fn(|| store.next_gc_pending()).collect();
        pending.sort();
        let loc = |n: &str| (key.clone(), ("d".to_string(), n.to_string()));
        assert_eq!(pending, [loc("dep"), loc("owner")]);

        store.remove(&key, &("d".into(), "owner".into()));
        let pending: Vec<Loc> = std::iter::from_fn(|| store.next_gc_pending()).collect();
        assert_eq!(pending, [loc("dep")]);
        assert_eq!(store.namespace_of_uid("o"), None);
        assert_eq!(store.dependents_of("o").len(), 1);
    }
}
