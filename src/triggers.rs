//! Which credentials a change concerns. Pure:
//! - a change to a Secret (watched by metadata only) is mapped back to the credentials it
//!   matters to;
//! - a change to a credential asks for a reconcile only when its spec or its refresh
//!   annotation moved ([`CredentialChanges`]); the credentials of the first list are given a
//!   first look in due order instead (see `wakeups`).

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{ResourceExt, core::PartialObjectMeta, runtime::watcher};

use crate::{
    cached_credential::Entry,
    credential::WetixCredential,
    managed_secret::labels,
    wakeups::{self, Key},
};

/// What a credential's watch event asks for.
#[derive(Debug)]
pub enum CredentialChange {
    /// Nothing: our own status write, say.
    Nothing,
    /// A reconcile now.
    Reconcile(Box<WetixCredential>),
    /// The first list is complete: a first look at each credential, at these times.
    Listed(Vec<(Key, Timestamp)>),
}

/// Which credential events ask for a reconcile: those that move its spec (generation) or its
/// refresh annotation. Status changes, mostly our own writes, do not; the wake-up that each
/// reconcile sets covers time. Keeps one fingerprint per credential, by UID.
#[derive(Debug, Default)]
pub struct CredentialChanges {
    seen: HashMap<u64, u64>,
    listed: bool,
    first: Vec<(Key, Timestamp)>,
}

impl CredentialChanges {
    pub fn see(
        &mut self,
        event: watcher::Event<WetixCredential>,
        now: Timestamp,
    ) -> CredentialChange {
        match event {
            watcher::Event::Init => CredentialChange::Nothing,
            watcher::Event::InitApply(credential) if !self.listed => {
                self.record(&credential);
                let at = wakeups::first_look(&credential, now);
                self.first.push((Key::of(&credential), at));
                CredentialChange::Nothing
            }
            watcher::Event::InitDone if !self.listed => {
                self.listed = true;
                CredentialChange::Listed(std::mem::take(&mut self.first))
            }
            watcher::Event::InitDone => CredentialChange::Nothing,
            watcher::Event::InitApply(credential) | watcher::Event::Apply(credential) => {
                if self.record(&credential) {
                    CredentialChange::Reconcile(Box::new(credential))
                } else {
                    CredentialChange::Nothing
                }
            }
            watcher::Event::Delete(credential) => {
                self.seen.remove(&uid_hash(&credential));
                CredentialChange::Nothing
            }
        }
    }

    /// Remembers the credential's fingerprint; whether it is new or moved.
    fn record(&mut self, credential: &WetixCredential) -> bool {
        let print = fingerprint(credential);
        self.seen.insert(uid_hash(credential), print) != Some(print)
    }
}

fn uid_hash(credential: &WetixCredential) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    credential.metadata.uid.hash(&mut hasher);
    credential.metadata.namespace.hash(&mut hasher);
    credential.metadata.name.hash(&mut hasher);
    hasher.finish()
}

/// The spec's generation and the latest refresh request: the one pending, else the one
/// handled last. Not the annotation itself: the cache drops it once handled, and the handling
/// (a status write of our own) asks for nothing.
fn fingerprint(credential: &WetixCredential) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    credential.metadata.generation.hash(&mut hasher);
    crate::step::pending_refresh_request(credential)
        .unwrap_or(crate::step::last_handled_refresh_request(credential))
        .hash(&mut hasher);
    hasher.finish()
}

/// The credential a managed Secret names as its owner in its labels.
pub fn owner(secret: &PartialObjectMeta<Secret>) -> Option<Key> {
    let labels = secret.labels();
    let managed = labels.get(labels::MANAGED_BY)? == labels::MANAGED_BY_VALUE;
    let owner = labels.get(labels::CREDENTIAL).filter(|_| managed)?;
    Some(Key::new(&secret.namespace()?, owner))
}

/// The credentials that must look again when `secret` changes: the one that manages it (by
/// its labels), and every credential in its namespace that reads it as client Secret or
/// bootstrap refresh token. Only credentials in `credentials`: another operator's (a shard
/// with another `--credential-selector`) are not this one's to reconcile. Only those whose
/// fingerprints name the Secret are unpacked.
pub fn credentials_for_secret<'a>(
    credentials: impl IntoIterator<Item = (&'a Key, &'a Entry)>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<Key> {
    let Some(namespace) = secret.namespace() else {
        return vec![];
    };
    let name = secret.name_any();
    let owner = owner(secret);
    let mut found = vec![];
    for (key, entry) in credentials {
        if key.parts().0 != namespace {
            continue;
        }
        let reads_it = || {
            entry.may_read(&name)
                && entry.credential(key).is_some_and(|credential| {
                    let spec = &credential.spec;
                    spec.client_secret_ref.name == name
                        || spec
                            .refresh_token_secret_ref
                            .as_ref()
                            .is_some_and(|r| r.name == name)
                        || credential.secret_name() == name
                })
        };
        if (owner.as_ref() == Some(key) || reads_it()) && !found.contains(key) {
            found.push(key.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{CredentialFixture, credential};
    use kube::api::ObjectMeta;

    fn secret(namespace: &str, name: &str, labels: &[(&str, &str)]) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            _phantom: Default::default(),
        }
    }

    fn names(keys: Vec<Key>) -> Vec<String> {
        keys.iter().map(|k| k.parts().1.to_owned()).collect()
    }

    fn cached<const N: usize>(credentials: [WetixCredential; N]) -> Vec<(Key, Entry)> {
        credentials
            .map(|c| {
                let cached = crate::cached_credential::CachedCredential::new(c);
                (cached.key(), cached.entry)
            })
            .into()
    }

    fn credentials_for_secret(
        credentials: &[(Key, Entry)],
        secret: &PartialObjectMeta<Secret>,
    ) -> Vec<Key> {
        super::credentials_for_secret(credentials.iter().map(|(k, e)| (k, e)), secret)
    }

    #[test]
    fn a_client_secret_change_reaches_every_credential_that_reads_it_in_its_namespace() {
        let a = credential().named("a");
        let b = credential().named("b");
        let mut elsewhere = credential().named("c");
        elsewhere.metadata.namespace = Some("billing".into());
        let all = cached([a, b, elsewhere]);
        let found = credentials_for_secret(&all, &secret("shop", "wetix-client", &[]));
        assert_eq!(names(found), ["a", "b"]);
    }

    #[test]
    fn a_bootstrap_secret_change_reaches_the_credential_that_reads_it() {
        let mut bootstrapped = credential().named("a");
        bootstrapped.spec.refresh_token_secret_ref =
            Some(crate::credential::RefreshTokenSecretRef {
                name: "first-refresh-token".into(),
                key: "refresh_token".into(),
            });
        let all = cached([bootstrapped, credential().named("b")]);
        let found = credentials_for_secret(&all, &secret("shop", "first-refresh-token", &[]));
        assert_eq!(names(found), ["a"]);
    }

    #[test]
    fn a_managed_secret_change_reaches_its_credential_by_label() {
        let labelled = secret(
            "shop",
            "renamed-token",
            &[
                ("app.kubernetes.io/managed-by", "wetix-operator"),
                ("wetix.my/credential", "ticketing"),
            ],
        );
        let ours = cached([credential().named("ticketing"), credential().named("other")]);
        let found = credentials_for_secret(&ours, &labelled);
        assert_eq!(found, [Key::new("shop", "ticketing")]);
    }

    #[test]
    fn a_managed_secret_names_its_owner_only_with_both_labels() {
        let both = [
            ("app.kubernetes.io/managed-by", "wetix-operator"),
            ("wetix.my/credential", "ticketing"),
        ];
        let owner = owner(&secret("shop", "t", &both)).unwrap();
        assert_eq!(owner.parts(), ("shop", "ticketing"));
        let other_tool = [
            ("app.kubernetes.io/managed-by", "helm"),
            ("wetix.my/credential", "ticketing"),
        ];
        assert!(super::owner(&secret("shop", "t", &other_tool)).is_none());
        assert!(super::owner(&secret("shop", "t", &both[..1])).is_none());
    }

    #[test]
    fn a_managed_secret_of_a_credential_this_operator_does_not_reconcile_reaches_nobody() {
        let another_shard_s = secret(
            "shop",
            "bravo-token",
            &[
                ("app.kubernetes.io/managed-by", "wetix-operator"),
                ("wetix.my/credential", "bravo"),
            ],
        );
        let ours = cached([credential().named("alpha")]);
        assert!(credentials_for_secret(&ours, &another_shard_s).is_empty());
    }

    #[test]
    fn a_deleted_managed_secret_without_labels_still_reaches_its_credential_by_name() {
        let all = cached([credential()]);
        let found = credentials_for_secret(&all, &secret("shop", "ticketing-token", &[]));
        assert_eq!(names(found), ["ticketing"]);
    }

    #[test]
    fn an_unrelated_secret_reaches_nobody() {
        let all = cached([credential()]);
        assert!(credentials_for_secret(&all, &secret("shop", "other", &[])).is_empty());
    }

    mod credential_changes {
        use super::*;
        use crate::fixtures::at;
        use watcher::Event;

        const NOW: &str = "2026-11-25T10:00:00Z";

        fn named(name: &str) -> WetixCredential {
            credential().named(name).with_uid(&format!("uid-{name}"))
        }

        fn reconciles(change: CredentialChange) -> Option<String> {
            match change {
                CredentialChange::Reconcile(c) => Some(c.name_any()),
                _ => None,
            }
        }

        fn listed(changes: &mut CredentialChanges, credentials: &[WetixCredential]) {
            let now = at(NOW);
            changes.see(Event::Init, now);
            for c in credentials {
                assert!(reconciles(changes.see(Event::InitApply(c.clone()), now)).is_none());
            }
            changes.see(Event::InitDone, now);
        }

        #[test]
        fn the_first_list_gives_each_credential_a_first_look_and_reconciles_none() {
            let now = at(NOW);
            let mut changes = CredentialChanges::default();
            changes.see(Event::Init, now);
            let mut overdue = named("overdue");
            overdue.status = Some(crate::credential::WetixCredentialStatus {
                next_refresh_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(
                    "2026-11-25T09:00:00Z",
                ))),
                ..Default::default()
            });
            for c in [named("new"), overdue] {
                assert!(reconciles(changes.see(Event::InitApply(c), now)).is_none());
            }
            let CredentialChange::Listed(first) = changes.see(Event::InitDone, now) else {
                panic!("the first list ends with a first look at each");
            };
            let first: Vec<_> = first.iter().map(|(k, t)| (k.parts().1, *t)).collect();
            assert_eq!(
                first,
                [("new", now), ("overdue", at("2026-11-25T09:00:00Z"))]
            );
        }

        #[test]
        fn a_status_change_asks_for_nothing_and_a_spec_or_refresh_request_for_a_reconcile() {
            let now = at(NOW);
            let mut changes = CredentialChanges::default();
            let c = named("a");
            listed(&mut changes, std::slice::from_ref(&c));
            let mut status_only = c.clone();
            status_only.status = Some(Default::default());
            assert!(reconciles(changes.see(Event::Apply(status_only), now)).is_none());
            let mut spec = c.clone();
            spec.metadata.generation = Some(2);
            assert_eq!(
                reconciles(changes.see(Event::Apply(spec.clone()), now)).as_deref(),
                Some("a")
            );
            let mut asked = spec.clone();
            asked.metadata.annotations = Some(
                [(
                    crate::step::REFRESH_REQUESTED_AT.to_string(),
                    NOW.to_string(),
                )]
                .into(),
            );
            assert_eq!(
                reconciles(changes.see(Event::Apply(asked.clone()), now)).as_deref(),
                Some("a")
            );
            assert!(reconciles(changes.see(Event::Apply(asked.clone()), now)).is_none());
            // The request handled: the status says so, and the cache no longer keeps the
            // annotation. Our own write asks for nothing.
            let mut handled = asked;
            handled.metadata.annotations = None;
            handled.status = Some(crate::credential::WetixCredentialStatus {
                last_refresh_request: NOW.to_string(),
                ..Default::default()
            });
            assert!(reconciles(changes.see(Event::Apply(handled.clone()), now)).is_none());
            // The same value asked again is no new request; another value is.
            let mut again = handled.clone();
            again.metadata.annotations = Some(
                [(
                    crate::step::REFRESH_REQUESTED_AT.to_string(),
                    NOW.to_string(),
                )]
                .into(),
            );
            assert!(reconciles(changes.see(Event::Apply(again.clone()), now)).is_none());
            again.metadata.annotations = Some(
                [(
                    crate::step::REFRESH_REQUESTED_AT.to_string(),
                    "later".to_string(),
                )]
                .into(),
            );
            assert_eq!(
                reconciles(changes.see(Event::Apply(again), now)).as_deref(),
                Some("a")
            );
        }

        #[test]
        fn a_credential_created_later_is_reconciled_at_once() {
            let now = at(NOW);
            let mut changes = CredentialChanges::default();
            listed(&mut changes, &[]);
            assert_eq!(
                reconciles(changes.see(Event::Apply(named("new")), now)).as_deref(),
                Some("new")
            );
        }

        #[test]
        fn after_a_relist_only_what_moved_meanwhile_is_reconciled() {
            let now = at(NOW);
            let mut changes = CredentialChanges::default();
            listed(&mut changes, &[named("same"), named("moved")]);
            changes.see(Event::Init, now);
            let mut moved = named("moved");
            moved.metadata.generation = Some(7);
            assert!(reconciles(changes.see(Event::InitApply(named("same")), now)).is_none());
            assert_eq!(
                reconciles(changes.see(Event::InitApply(moved), now)).as_deref(),
                Some("moved")
            );
            assert!(matches!(
                changes.see(Event::InitDone, now),
                CredentialChange::Nothing
            ));
        }

        #[test]
        fn a_credential_deleted_and_made_again_under_its_name_is_reconciled() {
            let now = at(NOW);
            let mut changes = CredentialChanges::default();
            listed(&mut changes, &[named("a")]);
            changes.see(Event::Delete(named("a")), now);
            assert_eq!(
                reconciles(changes.see(Event::Apply(named("a")), now)).as_deref(),
                Some("a")
            );
            let again = credential().named("a").with_uid("another-uid");
            assert_eq!(
                reconciles(changes.see(Event::Apply(again), now)).as_deref(),
                Some("a")
            );
        }
    }
}
