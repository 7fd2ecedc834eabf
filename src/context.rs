//! What every reconcile shares: the Kubernetes client, the WeTix client, the caches, and the
//! memory of each credential between its reconciles.

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use kube::{ResourceExt, runtime::events::Reporter};

use crate::{
    api_client::Clients,
    credential::WetixCredential,
    metrics::Metrics,
    oauth::TokenIssuer,
    secret_cache::SecretCache,
    step::Memory,
    wakeups::{self, Key, Wakeups},
};

/// Everything a reconcile needs besides the object.
pub struct Context {
    /// Reads and writes ([`Clients::requests`]).
    pub client: kube::Client,
    /// The watches ([`Clients::watches`]).
    pub watches: kube::Client,
    pub issuer: Arc<dyn TokenIssuer>,
    pub allowed_server_urls: Vec<String>,
    /// Who publishes the Events. Each Event is published by a fresh `Recorder`: its cache,
    /// which folds repeats into a series, keeps every Event for six minutes, and at start-up
    /// (every credential issued at once) that is several KiB per credential.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    /// What the operator remembers between reconciles of one credential, by UID. Boxed: the
    /// map's table has a slot for each of its spare capacity too.
    memory: Mutex<HashMap<String, Box<Memory>>>,
    /// Secrets known without asking again: see [`SecretCache`].
    pub secret_cache: SecretCache,
    /// When each credential is next looked at; hands them to the controllers in due order.
    pub wakeups: Arc<Wakeups>,
    /// The reconcile slots, shared by the controllers of all watched namespaces.
    pub slots: tokio::sync::Semaphore,
}

impl Context {
    pub fn new(
        clients: Clients,
        issuer: Arc<dyn TokenIssuer>,
        allowed_server_urls: Vec<String>,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client: clients.requests,
            watches: clients.watches,
            issuer,
            allowed_server_urls,
            reporter,
            metrics,
            memory: Mutex::default(),
            secret_cache: SecretCache::default(),
            wakeups: Arc::default(),
            slots: tokio::sync::Semaphore::new(wakeups::SLOTS),
        }
    }

    pub(crate) fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<String, Box<Memory>>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps what a reconcile of the credential `uid` leaves to remember; nothing at all
    /// when there is nothing to remember, as for most credentials between their renewals.
    pub(crate) fn remember(&self, uid: String, memory: Memory) {
        let mut memories = self.memory();
        if memory.is_empty() {
            memories.remove(&uid);
        } else {
            memories.insert(uid, Box::new(memory));
        }
    }

    /// The credential `uid` is now cached at `revision`: what its memory kept against older
    /// versions goes once this one follows our last status write (see [`Memory::settle`]).
    pub(crate) fn settle(&self, uid: &str, revision: Option<u64>) {
        let mut memories = self.memory();
        let Some(memory) = memories.get_mut(uid) else {
            return;
        };
        memory.settle(revision);
        if memory.is_empty() {
            memories.remove(uid);
        }
    }

    /// Whether the memory of credential `uid` still guards against older versions.
    pub(crate) fn guards_against_stale(&self, uid: &str) -> bool {
        self.memory()
            .get(uid)
            .is_some_and(|m| m.status_revision.is_some())
    }

    /// Forget a credential that no longer exists, its wake-up, and what is kept of its
    /// managed Secret.
    pub fn forget(&self, credential: &WetixCredential) {
        self.wakeups.remove(&Key::of(credential));
        if let Some(namespace) = credential.namespace() {
            let secret = credential.secret_name();
            self.secret_cache.forget_written(&namespace, &secret);
            let name = credential.name_any();
            self.secret_cache
                .set_waiting(&namespace, &secret, &name, false);
        }
        if let Some(uid) = credential.uid() {
            self.memory().remove(&uid);
        }
    }
}
