//! The credentials one controller reconciles, as its watch last showed them: one packed
//! [`Entry`] each (see `cached_credential`), by namespace and name.
//!
//! It follows the watch as kube-runtime's reflector would: a change or a deletion applies at
//! once; a list (the first, or after the watch was away) is gathered aside and replaces the
//! whole cache when complete, so a credential deleted meanwhile leaves it. Kept in key order,
//! so that a scrape can read it a few hundred credentials at a time.

use std::{
    collections::{BTreeMap, btree_map},
    sync::RwLock,
};

use kube::runtime::watcher;

use crate::{
    cached_credential::{CachedCredential, Entry, Summary},
    credential::WetixCredential,
    wakeups::Key,
};

/// One controller's credentials.
#[derive(Debug, Default)]
pub struct CredentialCache {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<Key, Entry>,
    /// A list under way, not yet complete.
    listing: Option<BTreeMap<Key, Entry>>,
}

impl State {
    /// The credential as the list under way shows it, if it does, else as last seen; with
    /// the key as the cache holds it.
    fn latest(&self, key: &Key) -> Option<(&Key, &Entry)> {
        let listed = self.listing.as_ref().and_then(|l| l.get_key_value(key));
        listed.or_else(|| self.entries.get_key_value(key))
    }
}

impl CredentialCache {
    /// Follows one event of the credential watch.
    pub fn apply(&self, event: watcher::Event<CachedCredential>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match event {
            watcher::Event::Init => state.listing = Some(BTreeMap::new()),
            watcher::Event::InitApply(cached) => {
                let key = cached.key();
                match state.listing.as_mut() {
                    Some(listing) => listing.insert(key, cached.entry),
                    None => state.entries.insert(key, cached.entry),
                };
            }
            watcher::Event::InitDone => {
                if let Some(listed) = state.listing.take() {
                    // Built again from the sorted entries: a tree filled in key order, as a
                    // list arrives, is left with its nodes about half full; built in one
                    // pass, they are full (docs/performance.md, "What changed").
                    state.entries = listed.into_iter().collect();
                }
            }
            watcher::Event::Apply(cached) => {
                let key = cached.key();
                match state.entries.get_mut(&key) {
                    Some(kept) => kept.overwrite(cached.entry),
                    None => {
                        state.entries.insert(key, cached.entry);
                    }
                }
            }
            watcher::Event::Delete(cached) => {
                state.entries.remove(&cached.key());
            }
        }
    }

    /// The credential `key` as a reconcile reads it, if cached: as the list under way shows
    /// it, if it does (a credential created while the watch was away is found before the list
    /// completes), else as last seen.
    pub fn credential(&self, key: &Key) -> Option<WetixCredential> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.latest(key)?.1.credential(key)
    }

    /// The credential's version as an etcd revision, as the cache holds it (see
    /// [`CredentialCache::credential`]), without unpacking it.
    pub fn revision(&self, key: &Key) -> Option<u64> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.latest(key)?.1.revision.map(std::num::NonZeroU64::get)
    }

    /// `key` as the cache holds it, if cached: the one allocation that the wake-ups and the
    /// reconciles then share, where a key made from each watch event would be one more for
    /// each change, kept by the wake-ups until the next.
    pub fn held_key(&self, key: &Key) -> Option<Key> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        Some(state.latest(key)?.0.clone())
    }

    /// `read` over every cached credential, in key order.
    pub fn read<T>(&self, read: impl FnOnce(btree_map::Iter<'_, Key, Entry>) -> T) -> T {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        read(state.entries.iter())
    }

    /// Up to `count` summaries of the credentials after `after` (from the first: `None`), in
    /// key order; credentials without a status are passed over.
    pub fn summaries(&self, after: Option<&Key>, count: usize) -> Vec<(Key, Summary)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let from = after.map_or(Unbounded, Excluded);
        state
            .entries
            .range((from, Unbounded))
            .filter_map(|(key, entry)| Some((key.clone(), entry.summary()?)))
            .take(count)
            .collect()
    }

    /// How many credentials are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{CredentialFixture, credential};
    use watcher::Event;

    fn cached(name: &str, generation: i64) -> CachedCredential {
        let mut c = credential().named(name);
        c.metadata.generation = Some(generation);
        CachedCredential::new(c)
    }

    fn generations(cache: &CredentialCache) -> Vec<(String, Option<i64>)> {
        cache.read(|entries| {
            entries
                .map(|(key, entry)| {
                    let c = entry.credential(key).unwrap();
                    (c.metadata.name.unwrap(), c.metadata.generation)
                })
                .collect()
        })
    }

    #[test]
    fn the_revision_is_the_cached_version_as_a_number_without_unpacking() {
        let cache = CredentialCache::default();
        let at = |version: &str| {
            let mut c = credential().named("ticketing");
            c.metadata.resource_version = Some(version.into());
            CachedCredential::new(c)
        };
        let key = at("1").key();
        assert_eq!(cache.revision(&key), None, "not cached");
        cache.apply(Event::Apply(at("42")));
        assert_eq!(cache.revision(&key), Some(42));
        // A list under way shows the latest.
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(at("43")));
        assert_eq!(cache.revision(&key), Some(43));
        cache.apply(Event::InitDone);
        cache.apply(Event::Apply(at("opaque")));
        assert_eq!(cache.revision(&key), None, "not a number: no order");
    }

    #[test]
    fn changes_and_deletions_apply_at_once() {
        let cache = CredentialCache::default();
        cache.apply(Event::Apply(cached("b", 1)));
        cache.apply(Event::Apply(cached("a", 1)));
        cache.apply(Event::Apply(cached("b", 2)));
        assert_eq!(
            generations(&cache),
            [("a".into(), Some(1)), ("b".into(), Some(2))]
        );
        cache.apply(Event::Delete(cached("a", 1)));
        assert_eq!(generations(&cache), [("b".into(), Some(2))]);
        let key = Key::new("shop", "b");
        assert_eq!(cache.credential(&key).unwrap().metadata.generation, Some(2));
        assert!(cache.credential(&Key::new("shop", "a")).is_none());
    }

    #[test]
    fn the_key_is_handed_out_as_the_cache_holds_it() {
        let cache = CredentialCache::default();
        let asked = Key::new("shop", "a");
        let address = |k: &Key| k.parts().0.as_ptr();
        cache.apply(Event::Apply(cached("a", 1)));
        let held = cache.held_key(&asked).unwrap();
        assert_eq!(held, asked);
        assert_ne!(address(&held), address(&asked), "the cache's own");
        cache.apply(Event::Apply(cached("a", 2)));
        let handed = cache.held_key(&asked).unwrap();
        assert_eq!(address(&handed), address(&held), "kept through a change");
        assert_eq!(cache.held_key(&Key::new("shop", "b")), None);
    }

    #[test]
    fn a_relist_replaces_the_cache_when_complete_and_drops_what_was_deleted_meanwhile() {
        let cache = CredentialCache::default();
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(cached("a", 1)));
        cache.apply(Event::InitApply(cached("gone", 1)));
        cache.apply(Event::InitDone);
        assert_eq!(cache.len(), 2);
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(cached("a", 2)));
        assert_eq!(
            generations(&cache),
            [("a".into(), Some(1)), ("gone".into(), Some(1))],
            "readable as before while the list runs"
        );
        cache.apply(Event::InitDone);
        assert_eq!(generations(&cache), [("a".into(), Some(2))]);
    }

    #[test]
    fn a_reconcile_during_a_relist_reads_the_credential_as_the_list_shows_it() {
        let cache = CredentialCache::default();
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(cached("a", 1)));
        cache.apply(Event::InitDone);
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(cached("a", 2)));
        cache.apply(Event::InitApply(cached("created-meanwhile", 1)));
        let generation = |name: &str| {
            let credential = cache.credential(&Key::new("shop", name));
            credential.and_then(|c| c.metadata.generation)
        };
        assert_eq!(generation("a"), Some(2));
        assert_eq!(generation("created-meanwhile"), Some(1));
        assert!(
            cache
                .held_key(&Key::new("shop", "created-meanwhile"))
                .is_some()
        );
        assert_eq!(
            cache.len(),
            1,
            "the metrics still read the last complete list"
        );
    }

    #[test]
    fn summaries_are_read_in_pieces_in_key_order_passing_over_credentials_without_status() {
        let cache = CredentialCache::default();
        for name in ["d", "b", "a", "c", "e"] {
            let mut c = credential().named(name);
            if name != "c" {
                c.status = Some(Default::default());
            }
            cache.apply(Event::Apply(CachedCredential::new(c)));
        }
        let names = |s: Vec<(Key, Summary)>| -> Vec<String> {
            s.iter().map(|(k, _)| k.parts().1.to_owned()).collect()
        };
        let first = cache.summaries(None, 2);
        assert_eq!(names(first.clone()), ["a", "b"]);
        let second = cache.summaries(first.last().map(|(k, _)| k), 2);
        assert_eq!(names(second.clone()), ["d", "e"]);
        let third = cache.summaries(second.last().map(|(k, _)| k), 2);
        assert!(third.is_empty());
    }
}
