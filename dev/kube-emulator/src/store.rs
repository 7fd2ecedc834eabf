//! The in-memory object store: one resourceVersion counter for every write (M3), the objects
//! of every served resource, a bounded change history for watch replay (W3/W4) and the
//! channels of open watches.

use crate::resources::{self, ResourceType};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Storage key of a resource: API group and plural, whatever version was used.
pub type ResKey = (String, String);
/// Object key inside a resource: namespace ("" when cluster-scoped) and name.
pub type ObjKey = (String, String);

/// How many changes are kept for watches that resume from an older resourceVersion.
/// Older resumptions get a 410 Expired ERROR event and relist, as after etcd compaction.
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
    /// History no longer reaches back to the requested version (W4).
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
        let mut s = Store {
            types: resources::builtins(),
            ..Default::default()
        };
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "default", "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": crate::clock::now_seconds()},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        s.commit(&("".into(), "namespaces".into()), ns, None);
        s
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
        self.objects
            .get(key)
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every stored object with its resource key (for garbage collection).
    pub fn all(&self) -> Vec<(ResKey, Value)> {
        self.objects
            .iter()
            .flat_map(|(k, m)| m.values().map(move |v| (k.clone(), v.clone())))
            .collect()
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
        let ok = obj_key(&obj);
        self.objects
            .entry(key.clone())
            .or_default()
            .insert(ok, obj.clone());
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

    /// Registers a watch on `key` starting after `from` (None or 0: from a snapshot).
    pub fn subscribe(&mut self, key: &ResKey, ns: Option<&str>, from: Option<u64>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let start = match from.filter(|rv| *rv > 0) {
            None => WatchStart::Snapshot(self.list(key, ns)),
            Some(rv) if rv < self.compacted_rv => WatchStart::TooOld {
                requested: rv,
                oldest: self.compacted_rv + 1,
            },
            Some(rv) => WatchStart::Replay(
                self.history
                    .iter()
                    .filter(|c| c.rv > rv && c.key == *key)
                    .cloned()
                    .collect(),
            ),
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
