//! Wiring: which objects are watched, and how their changes reach `reconcile`.
//!
//! - WetixCredentials: the controller's own watch, cached packed (`cached_credential`) and
//!   unpacked for each reconcile. A change to a spec or a refresh request reconciles at once
//!   (`triggers`); time is kept by `wakeups`, which hands due credentials to the controller
//!   earliest first.
//! - Secrets: two label-selected watches (`secret_cache`), so that Secrets of other tools cost
//!   nothing: managed Secrets by metadata only (names, labels, versions), and client and
//!   bootstrap Secrets labelled `wetix.my/watch=true`, of which only the data and version are
//!   kept. Each change is mapped to the credentials it concerns (`triggers`), except the echo
//!   of our own write.
//!
//! One controller runs per watched namespace (or one for all namespaces), so a namespaced
//! install needs no cluster-wide permission.

use std::{sync::Arc, time::Duration};

use futures::{StreamExt, TryStreamExt, channel::mpsc, future::Shared};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        controller::{self, Action, Controller},
        reflector::{self, ObjectRef},
        watcher,
    },
};
use tracing::{info, warn};

use crate::{
    cached_credential::CachedCredential,
    credential::WetixCredential,
    error_chain::error_chain,
    reconcile::{self, Context, Error},
    secret_cache::{MANAGED_SELECTOR, WATCH_SELECTOR},
    triggers::{self, CredentialChange},
    wakeups,
};

/// How soon a reconcile that failed on the Kubernetes side is tried again. Short: new tokens
/// may be waiting in memory to be written.
const API_ERROR_RETRY: Duration = Duration::from_secs(5);

/// Runs until `shutdown` completes; `on_ready` is called once every cache has synced.
/// `credentials` is how WetixCredentials are listed and watched (a label selector, for one
/// shard of them).
pub async fn run(
    ctx: Arc<Context>,
    namespaces: &[String],
    credentials: watcher::Config,
    shutdown: Shared<futures::future::BoxFuture<'static, ()>>,
    on_ready: impl Fn() + Send + Sync + 'static,
) {
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    let on_ready = Arc::new(on_ready);
    let pending = Arc::new(std::sync::atomic::AtomicUsize::new(scopes.len()));
    // Each controller takes the wake-ups of its namespace from its own channel.
    let mut routes = vec![];
    let runs = scopes.into_iter().map(|namespace| {
        let (wake, woken) = mpsc::unbounded::<ObjectRef<CachedCredential>>();
        routes.push((namespace.clone(), wake));
        let credential_watch = credentials.clone();
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let on_ready = on_ready.clone();
        let pending = pending.clone();
        async move {
            let (reader, writer) = reflector::store();
            let api = scoped::<CachedCredential>(&ctx.client, namespace.as_deref());
            let forget_ctx = ctx.clone();
            // Readiness is taken from the first InitDone, which `reflect` has just applied to
            // the store. Not `Store::wait_until_ready` in a second task: the Controller waits
            // on the same store, and kube-runtime's ready signal wakes only one waiter.
            // Also what a shutdown before that first list looks at (`stopped_before_first_list`).
            let listed_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let first_list = listed_once.clone();
            let mut changes = triggers::CredentialChanges::default();
            let listed = ctx.clone();
            let credential_changes = watcher(api, credential_watch)
                .default_backoff()
                .reflect(writer)
                .inspect(move |event| match event {
                    Ok(watcher::Event::Delete(gone)) => {
                        if let Some(gone) = unpacked(gone) {
                            forget_ctx.forget(&gone);
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        let first = !first_list.swap(true, std::sync::atomic::Ordering::SeqCst);
                        if first && pending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                            on_ready();
                        }
                    }
                    _ => {}
                })
                .filter_map(move |event| {
                    let change = match event {
                        Ok(event) => {
                            let (event, cached) = unpacked_event(event);
                            match changes.see(event, jiff::Timestamp::now()) {
                                CredentialChange::Reconcile(_) => cached.map(Ok),
                                CredentialChange::Listed(first) => {
                                    for (key, at) in first {
                                        listed.wakeups.set(key, at);
                                    }
                                    None
                                }
                                CredentialChange::Nothing => None,
                            }
                        }
                        Err(error) => Some(Err(error)),
                    };
                    futures::future::ready(change)
                });
            let store = reader.clone();
            let gone = ctx.clone();
            let woken = woken.filter_map(move |credential| {
                let found = store.get(&credential);
                if found.is_none() {
                    // Deleted while the watch was away: nothing to start, no slot to keep.
                    let (namespace, name) =
                        (credential.namespace.unwrap_or_default(), credential.name);
                    gone.wakeups.remove(&wakeups::Key::new(&namespace, &name));
                }
                futures::future::ready(found.map(|c| Ok(CachedCredential::clone(&c))))
            });
            let triggers = futures::stream::select(credential_changes, woken);
            let store = reader.clone();
            ctx.metrics.watch_credentials(reader.clone());
            let managed = scoped::<PartialObjectMeta<Secret>>(&ctx.client, namespace.as_deref());
            let cache = ctx.clone();
            let managed_changes = watcher(managed, selected(MANAGED_SELECTOR))
                .default_backoff()
                .modify(keep_identity_only)
                .inspect_ok(move |event| cache.secret_cache.managed_seen(event));
            let labelled = scoped::<Secret>(&ctx.client, namespace.as_deref());
            let (cache, scope) = (ctx.clone(), namespace.clone());
            let referenced_changes = watcher(labelled, selected(WATCH_SELECTOR))
                .default_backoff()
                .modify(keep_what_a_client_secret_needs)
                .inspect_ok(move |event| {
                    let scope = scope.as_deref();
                    cache.secret_cache.referenced_seen(scope, event);
                });
            let secret_changes = futures::stream::select(
                changes_after_first_list(managed_changes),
                changes_after_first_list(referenced_changes).map_ok(|secret| PartialObjectMeta {
                    types: None,
                    metadata: secret.metadata,
                    _phantom: Default::default(),
                }),
            );
            let own = ctx.clone();
            let unlisted_at_shutdown = stopped_before_first_list(shutdown.clone(), listed_once);
            let controller = Controller::for_stream(triggers, reader)
                .watches_stream(secret_changes, move |secret| {
                    let echo = own.secret_cache.is_own_write(
                        secret.metadata.namespace.as_deref().unwrap_or_default(),
                        secret.metadata.name.as_deref().unwrap_or_default(),
                        secret.metadata.resource_version.as_deref(),
                    );
                    if echo {
                        return vec![];
                    }
                    // A managed Secret concerns its owner, found without a pass over every
                    // credential (none if the owner is another operator's), and the
                    // credentials in conflict over it, kept apart as they are rare.
                    if let Some(owner) = triggers::owner(&secret) {
                        let namespace = owner.namespace.clone().unwrap_or_default();
                        let name = secret.metadata.name.as_deref().unwrap_or_default();
                        let waiting = own.secret_cache.waiting_for(&namespace, name);
                        let waiting = waiting
                            .into_iter()
                            .map(|n| ObjectRef::new(&n).within(&namespace));
                        let owner = store.get(&owner).map(|_| owner);
                        return owner.into_iter().chain(waiting).collect();
                    }
                    triggers::credentials_for_secret(
                        store.state().iter().map(|c| c.as_ref()),
                        &secret,
                    )
                })
                .with_config(controller::Config::default().concurrency(wakeups::SLOTS as u16))
                .graceful_shutdown_on(shutdown)
                .run(reconcile_measured, error_policy, ctx)
                .for_each(|result| async move {
                    if let Err(error) = result {
                        warn!(error = %error_chain(&error), "controller");
                    }
                });
            futures::pin_mut!(controller, unlisted_at_shutdown);
            futures::future::select(controller, unlisted_at_shutdown).await;
        }
    });
    let runs: Vec<_> = runs.collect();
    let route = move |namespace: &str| {
        routes
            .iter()
            .find(|(scope, _)| scope.as_deref().is_none_or(|s| s == namespace))
            .map(|(_, wake)| wake.clone())
    };
    let hand_over = ctx.wakeups.hand_over(route);
    futures::pin_mut!(hand_over);
    futures::future::select(futures::future::join_all(runs), hand_over).await;
    info!("controller stopped");
}

/// Completes when `shutdown` comes before the first list of credentials, and never
/// otherwise. kube-runtime's graceful shutdown waits for a cache that has never been listed
/// (the API server unreachable, say) to be listed first, so without this a SIGTERM would wait
/// for the API server. Nothing is lost by stopping then: no reconcile starts before the list.
/// The flag is set in the same poll that marks the cache listed, before any reconcile can start.
async fn stopped_before_first_list(
    shutdown: Shared<futures::future::BoxFuture<'static, ()>>,
    listed: Arc<std::sync::atomic::AtomicBool>,
) {
    shutdown.await;
    if listed.load(std::sync::atomic::Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    info!("stopped before the first list of credentials");
}

/// The credential as a reconcile reads it. Packed by this process, it always unpacks; should
/// a bug ever damage one, that credential is skipped with a warning, and no other.
fn unpacked(cached: &CachedCredential) -> Option<WetixCredential> {
    let credential = cached.credential();
    if credential.is_none() {
        warn!(
            namespace = cached.namespace().unwrap_or_default(),
            name = cached.name_any(),
            "cached credential does not unpack; skipped"
        );
    }
    credential
}

/// A watch event as `triggers` reads it, unpacked, and the cached credential it carried.
fn unpacked_event(
    event: watcher::Event<CachedCredential>,
) -> (watcher::Event<WetixCredential>, Option<CachedCredential>) {
    use watcher::Event;
    match event {
        Event::Init => (Event::Init, None),
        Event::InitDone => (Event::InitDone, None),
        Event::InitApply(cached) => match unpacked(&cached) {
            Some(c) => (Event::InitApply(c), Some(cached)),
            None => (Event::Init, None),
        },
        Event::Apply(cached) => match unpacked(&cached) {
            Some(c) => (Event::Apply(c), Some(cached)),
            None => (Event::Init, None),
        },
        Event::Delete(cached) => match unpacked(&cached) {
            Some(c) => (Event::Delete(c), None),
            None => (Event::Init, None),
        },
    }
}

/// The objects a watch reports changed, except those of its first list: every credential is
/// reconciled at start-up anyway, and mapping each of thousands of listed Secrets to the
/// credentials that read it would cost a pass over all credentials per Secret. Later lists
/// (after the watch was interrupted) may hide changes, so their objects count.
fn changes_after_first_list<K>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> {
    let mut listed = false;
    events.filter_map(move |event| {
        let change = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o)) => Some(Ok(o)),
            Ok(watcher::Event::InitApply(o)) if listed => Some(Ok(o)),
            Ok(watcher::Event::InitDone) => {
                listed = true;
                None
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
            Err(error) => Some(Err(error)),
        };
        futures::future::ready(change)
    })
}

/// A watch of the Secrets with these labels, listed from the API server's cache.
fn selected(selector: &str) -> watcher::Config {
    watcher::Config::default().labels(selector).any_semantic()
}

/// What the managed-Secret watch keeps of each Secret: name, namespace, labels and
/// resourceVersion.
fn keep_identity_only(secret: &mut PartialObjectMeta<Secret>) {
    drop_what_no_reconcile_reads(&mut secret.metadata);
}

/// What the watch of labelled client and bootstrap Secrets passes on, to the cache (which
/// keeps their data and version) and to the triggers (which read names and labels).
fn keep_what_a_client_secret_needs(secret: &mut Secret) {
    drop_what_no_reconcile_reads(&mut secret.metadata);
}

/// Annotations (`kubectl apply` copies a whole Secret, data included, into one), managed
/// fields, owners and finalizers: nothing a reconcile reads of a cached Secret.
fn drop_what_no_reconcile_reads(metadata: &mut kube::api::ObjectMeta) {
    metadata.annotations = None;
    metadata.managed_fields = None;
    metadata.owner_references = None;
    metadata.finalizers = None;
}

fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Takes a slot, reconciles, and sets the credential's next wake-up. The reconcile is boxed
/// so that one waiting for a slot holds only this small future.
async fn reconcile_measured(
    cached: Arc<CachedCredential>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let Some(credential) = unpacked(&cached).map(Arc::new) else {
        return Ok(Action::await_change());
    };
    drop(cached);
    let key = wakeups::Key::of(&credential);
    let _running = ctx.wakeups.start(&key);
    let _slot = ctx.slots.acquire().await;
    let started = std::time::Instant::now();
    let result = Box::pin(reconcile::reconcile(credential, ctx.clone())).await;
    ctx.metrics.reconciled(result.is_ok(), started.elapsed());
    let again = result?;
    if let Some(after) = again {
        let now = jiff::Timestamp::now();
        let at = now.checked_add(after).unwrap_or(jiff::Timestamp::MAX);
        ctx.wakeups.set(key, at);
    }
    Ok(Action::await_change())
}

fn error_policy(credential: Arc<CachedCredential>, error: &Error, _: Arc<Context>) -> Action {
    warn!(
        namespace = credential.namespace().unwrap_or_default(),
        name = credential.name_any(),
        reason = %error.reason(),
        error = %error_chain(error),
        "reconcile failed"
    );
    Action::requeue(error.retry_in().unwrap_or(API_ERROR_RETRY))
}
