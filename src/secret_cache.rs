//! What the operator knows of Secrets without asking the API server again.
//!
//! A metadata-only watch (names, labels and resourceVersions; no data, no annotations) says
//! which version of each Secret is current. The data behind a version is kept only for the
//! Secrets the operator reads (client and bootstrap Secrets, usually shared by many
//! credentials) and for the managed Secrets it wrote itself. A reconcile uses the kept data
//! when its version is still current and reads the Secret otherwise, so a stale watch can only
//! cost an extra read, followed by the reconcile its watch event triggers.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::{Arc, Mutex, RwLock},
};

use k8s_openapi::api::core::v1::Secret;
use kube::{
    core::PartialObjectMeta,
    runtime::reflector::{ObjectRef, Store},
};

use crate::managed_secret::StoredTokens;

type Key = (String, String);

/// A managed Secret as the operator last wrote it.
#[derive(Clone, Debug)]
pub struct Written {
    /// The UID of the credential that wrote it: another credential naming the same Secret
    /// must read it, and find it is not its own.
    pub by: String,
    pub resource_version: String,
    pub tokens: StoredTokens,
    /// [`body_hash`] of what was applied: compared with what the credential now wants.
    pub body: u64,
}

#[derive(Default)]
pub struct SecretCache {
    versions: RwLock<Vec<Store<PartialObjectMeta<Secret>>>>,
    read: Mutex<HashMap<Key, Arc<Secret>>>,
    written: Mutex<HashMap<Key, Written>>,
}

impl SecretCache {
    /// Adds the store of one metadata-only Secret watch (one per watched scope).
    pub fn watch_versions(&self, store: Store<PartialObjectMeta<Secret>>) {
        self.versions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(store);
    }

    /// The resourceVersion the watch last saw for this Secret.
    fn version(&self, namespace: &str, name: &str) -> Option<String> {
        let key = ObjectRef::new(name).within(namespace);
        let stores = self.versions.read().unwrap_or_else(|e| e.into_inner());
        stores
            .iter()
            .find_map(|store| store.get(&key))
            .and_then(|meta| meta.metadata.resource_version.clone())
    }

    /// A Secret read before, if that version is still the current one.
    pub fn read(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let current = self.version(namespace, name)?;
        let read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        read.get(&key(namespace, name))
            .filter(|s| s.metadata.resource_version.as_deref() == Some(current.as_str()))
            .cloned()
    }

    pub fn remember_read(&self, namespace: &str, name: &str, secret: Secret) {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        read.insert(key(namespace, name), Arc::new(secret));
    }

    /// The managed Secret as we wrote it, if nobody changed it since.
    pub fn written(&self, namespace: &str, name: &str) -> Option<Written> {
        let current = self.version(namespace, name)?;
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written
            .get(&key(namespace, name))
            .filter(|w| w.resource_version == current)
            .cloned()
    }

    pub fn remember_written(&self, namespace: &str, name: &str, written: Written) {
        let mut map = self.written.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key(namespace, name), written);
    }

    /// Whether a Secret at this version is exactly what our last write left: the watch event
    /// of our own write needs no reconcile.
    pub fn is_own_write(
        &self,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> bool {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        resource_version.is_some()
            && written
                .get(&key(namespace, name))
                .map(|w| w.resource_version.as_str())
                == resource_version
    }

    /// Drops what is kept for a managed Secret whose credential is gone.
    pub fn forget_written(&self, namespace: &str, name: &str) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.remove(&key(namespace, name));
    }
}

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_owned(), name.to_owned())
}

/// A fingerprint of an apply body: equal bodies, equal hashes.
pub fn body_hash(secret: &Secret) -> u64 {
    // serde_json fails only on a map with non-string keys or a `Serialize` impl that errors; a
    // Secret is strings, string-keyed maps and bytes (written as base64 strings).
    #[allow(clippy::expect_used, reason = "a Secret always serializes")]
    let bytes = serde_json::to_vec(secret).expect("a Secret always serializes");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, pair};
    use kube::api::ObjectMeta;
    use kube::runtime::{reflector, watcher};

    fn meta(name: &str, rv: &str) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            _phantom: Default::default(),
        }
    }

    fn secret(name: &str, rv: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    fn cache_seeing(objects: Vec<PartialObjectMeta<Secret>>) -> SecretCache {
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Init);
        for o in objects {
            writer.apply_watcher_event(&watcher::Event::InitApply(o));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let cache = SecretCache::default();
        cache.watch_versions(store);
        cache
    }

    #[test]
    fn a_read_secret_is_served_only_while_its_version_is_current() {
        let cache = cache_seeing(vec![meta("wetix-client", "7")]);
        assert!(cache.read("shop", "wetix-client").is_none());
        cache.remember_read("shop", "wetix-client", secret("wetix-client", "7"));
        assert!(cache.read("shop", "wetix-client").is_some());

        let moved_on = cache_seeing(vec![meta("wetix-client", "8")]);
        moved_on.remember_read("shop", "wetix-client", secret("wetix-client", "7"));
        assert!(moved_on.read("shop", "wetix-client").is_none());
    }

    #[test]
    fn a_written_secret_is_ours_until_someone_else_changes_it() {
        let written = Written {
            by: "u1".into(),
            resource_version: "9".into(),
            tokens: StoredTokens {
                pair: pair("2026-11-25T10:00:00Z", 100, 1000),
                issued_for: "f".into(),
            },
            body: 1,
        };
        let cache = cache_seeing(vec![meta("ticketing-token", "9")]);
        cache.remember_written("shop", "ticketing-token", written.clone());
        assert!(cache.written("shop", "ticketing-token").is_some());
        assert!(cache.is_own_write("shop", "ticketing-token", Some("9")));
        assert!(!cache.is_own_write("shop", "ticketing-token", Some("10")));

        let edited = cache_seeing(vec![meta("ticketing-token", "10")]);
        edited.remember_written("shop", "ticketing-token", written);
        assert!(edited.written("shop", "ticketing-token").is_none());
        let _ = at("2026-11-25T10:00:00Z");
    }

    #[test]
    fn a_secret_the_watch_has_not_seen_is_never_served_from_memory() {
        let cache = cache_seeing(vec![]);
        cache.remember_read("shop", "wetix-client", secret("wetix-client", "7"));
        assert!(cache.read("shop", "wetix-client").is_none());
    }
}
