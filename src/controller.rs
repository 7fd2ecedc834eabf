//! Wiring: which objects are watched, and how their changes reach `reconcile`.
//!
//! - WetixCredentials: the controller's own watch, kept packed in a `credential_cache` and
//!   unpacked for each reconcile. A change to a spec or a refresh request reconciles at once
//!   (`triggers`); time is kept by `wakeups`, which hands due credentials over earliest first.
//! - Secrets: two label-selected watches (`secret_cache`), so that Secrets of other tools cost
//!   nothing: managed Secrets by metadata only (names, labels, versions), and client and
//!   bootstrap Secrets labelled `wetix.my/watch=true`, of which only the data and version are
//!   kept. Each change is mapped to the credentials it concerns (`triggers`), except the echo
//!   of our own write.
//! - Which reconcile starts when is `runner`'s: never two of one credential at once, at most
//!   [`wakeups::SLOTS`] in all. Nothing starts before the first list of credentials, nor,
//!   for up to [`SECRET_LISTS_WAIT`] after it, before the Secret watches' first lists
//!   (`runner::Start`); at shutdown nothing more starts, and those running finish.
//!
//! One controller runs per watched namespace (or one for all namespaces), so a namespaced
//! install needs no cluster-wide permission.

use std::{sync::Arc, time::Duration};

use futures::{
    FutureExt, StreamExt, TryStreamExt, channel::mpsc, future::Shared, stream::FuturesUnordered,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    core::PartialObjectMeta,
    runtime::{WatchStreamExt, watcher},
};
use tracing::{info, warn};

use crate::{
    cached_credential::CachedCredential,
    credential::WetixCredential,
    credential_cache::CredentialCache,
    error_chain::error_chain,
    reconcile::{self, Context},
    runner::{Runs, SECRET_LISTS_WAIT, Start},
    secret_cache::{MANAGED_SELECTOR, WATCH_SELECTOR},
    step,
    triggers::{self, CredentialChange},
    wakeups::{self, Key},
};

/// How soon a reconcile that failed on the Kubernetes side is tried again. Short: new tokens
/// may be waiting in memory to be written.
const API_ERROR_RETRY: Duration = Duration::from_secs(5);

/// What reaches a controller.
enum Input {
    /// The credential watch's event.
    Credential(watcher::Event<CachedCredential>),
    /// A changed Secret, by metadata.
    Secret(PartialObjectMeta<Secret>),
    /// A Secret watch completed its first list.
    SecretsListed,
    /// A credential whose wake-up is due.
    Due(Key),
    /// A watch failed; it tries again by itself.
    WatchFailed(watcher::Error),
}

/// The Secret watches of each scope: managed Secrets, and labelled client and bootstrap ones.
const SECRET_WATCHES: usize = 2;

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
        let (wake, woken) = mpsc::unbounded::<Key>();
        routes.push((namespace.clone(), wake));
        let ctx = ctx.clone();
        let cache = Arc::new(CredentialCache::default());
        ctx.metrics.watch_credentials(cache.clone());
        let inputs = inputs(&ctx, namespace.as_deref(), credentials.clone(), woken);
        let listed = {
            let (pending, on_ready) = (pending.clone(), on_ready.clone());
            move || {
                if pending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                    on_ready();
                }
            }
        };
        control(ctx, cache, inputs, shutdown.clone(), listed)
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

/// The watches of one scope, and its wake-ups, as one stream.
fn inputs(
    ctx: &Arc<Context>,
    namespace: Option<&str>,
    credentials: watcher::Config,
    woken: mpsc::UnboundedReceiver<Key>,
) -> impl futures::Stream<Item = Input> + Send + 'static + use<> {
    let api = scoped::<CachedCredential>(&ctx.watches, namespace);
    let credential_changes = watcher(api, credentials).default_backoff();
    let managed = scoped::<PartialObjectMeta<Secret>>(&ctx.watches, namespace);
    let managed_changes = watcher(managed, selected(MANAGED_SELECTOR))
        .default_backoff()
        .modify(keep_identity_only);
    let labelled = scoped::<Secret>(&ctx.watches, namespace);
    let referenced_changes = watcher(labelled, selected(WATCH_SELECTOR))
        .default_backoff()
        .modify(keep_what_a_client_secret_needs);
    let (managed_cache, referenced_cache) = (ctx.clone(), ctx.clone());
    let scope = namespace.map(str::to_owned);
    let managed_changes = changes_after_first_list(
        managed_changes.inspect_ok(move |event| managed_cache.secret_cache.managed_seen(event)),
    );
    let referenced_changes =
        changes_after_first_list(referenced_changes.inspect_ok(move |event| {
            let scope = scope.as_deref();
            referenced_cache.secret_cache.referenced_seen(scope, event);
        }))
        .map_ok(|secret| {
            secret.map(|secret| PartialObjectMeta {
                types: None,
                metadata: secret.metadata,
                _phantom: Default::default(),
            })
        });
    let secrets =
        futures::stream::select(managed_changes, referenced_changes).map(|change| match change {
            Ok(Some(secret)) => Input::Secret(secret),
            Ok(None) => Input::SecretsListed,
            Err(error) => Input::WatchFailed(error),
        });
    let credentials = credential_changes.map(|event| match event {
        Ok(event) => Input::Credential(event),
        Err(error) => Input::WatchFailed(error),
    });
    futures::stream::select(
        futures::stream::select(credentials, woken.map(Input::Due)),
        secrets,
    )
}

/// One scope's controller: follows its inputs, starts reconciles as `runner` says, until
/// `shutdown`; then waits for those running. `listed` is called after the first list.
async fn control(
    ctx: Arc<Context>,
    cache: Arc<CredentialCache>,
    inputs: impl futures::Stream<Item = Input> + Send,
    shutdown: Shared<futures::future::BoxFuture<'static, ()>>,
    listed: impl FnOnce(),
) {
    let mut runs = Runs::default();
    let mut running = FuturesUnordered::new();
    let mut changes = triggers::CredentialChanges::default();
    let mut listed = Some(listed);
    let mut start = Start::new(SECRET_WATCHES);
    let secret_lists_wait = tokio::time::sleep(Duration::ZERO);
    let mut stopping = false;
    let mut shutdown = shutdown.fuse();
    futures::pin_mut!(inputs, secret_lists_wait);
    loop {
        while !stopping && start.open() {
            let Some(key) = runs.start(wakeups::SLOTS) else {
                break;
            };
            let (cache, ctx) = (cache.clone(), ctx.clone());
            running.push(async move {
                reconcile_measured(&key, &cache, &ctx).await;
                key
            });
        }
        if stopping && running.is_empty() {
            break;
        }
        tokio::select! {
            Some(key) = running.next(), if !running.is_empty() => runs.finish(&key),
            input = inputs.next(), if !stopping => match input {
                Some(Input::SecretsListed) => start.secrets_listed(),
                Some(input) => {
                    if matches!(input, Input::WatchFailed(_)) {
                        start.give_up_waiting();
                    }
                    let first_list = see(&ctx, &cache, &mut changes, &mut runs, input);
                    if first_list && let Some(listed) = listed.take() {
                        listed();
                        start.credentials_listed();
                        let until = tokio::time::Instant::now() + SECRET_LISTS_WAIT;
                        secret_lists_wait.as_mut().reset(until);
                    }
                }
                None => stopping = true,
            },
            () = &mut secret_lists_wait, if start.waiting_for_secrets() => {
                info!("the Secret watches have not listed yet; reconciling without them");
                start.give_up_waiting();
            }
            () = &mut shutdown, if !stopping => {
                if listed.is_some() {
                    info!("stopped before the first list of credentials");
                }
                stopping = true;
            }
        }
    }
}

/// Follows one input: the caches, the wake-ups, and the reconciles it asks for. Whether it
/// completed the first list of credentials.
fn see(
    ctx: &Context,
    cache: &CredentialCache,
    changes: &mut triggers::CredentialChanges,
    runs: &mut Runs,
    input: Input,
) -> bool {
    match input {
        Input::Credential(event) => {
            let seen = unpacked_event(&event);
            let key = match &event {
                watcher::Event::Apply(c)
                | watcher::Event::InitApply(c)
                | watcher::Event::Delete(c) => Some(c.key()),
                _ => None,
            };
            if let (watcher::Event::Delete(_), Some(gone)) = (&event, &key) {
                runs.forget(gone);
                match &seen {
                    Some(watcher::Event::Delete(credential)) => ctx.forget(credential),
                    _ => ctx.wakeups.remove(gone),
                }
            }
            cache.apply(event);
            let key = key.map(|key| cache.held_key(&key).unwrap_or(key));
            let Some(seen) = seen else {
                return false;
            };
            if let watcher::Event::Apply(now) | watcher::Event::InitApply(now) = &seen
                && let Some(uid) = now.metadata.uid.as_deref()
            {
                let revision = now.metadata.resource_version.as_deref();
                ctx.settle(uid, revision.and_then(step::revision));
            }
            match changes.see(seen, jiff::Timestamp::now()) {
                CredentialChange::Reconcile(_) => {
                    if let Some(key) = key {
                        runs.ask(key);
                    }
                }
                CredentialChange::Listed(first) => {
                    for (key, at) in first {
                        ctx.wakeups.set(key, at);
                    }
                    return true;
                }
                CredentialChange::Nothing => {}
            }
        }
        Input::Secret(secret) => {
            for key in credentials_for_secret(ctx, cache, &secret) {
                runs.ask(key);
            }
        }
        Input::Due(key) => runs.ask(key),
        // Counted by `control`, which does not pass it here.
        Input::SecretsListed => {}
        Input::WatchFailed(error) => warn!(error = %error_chain(&error), "watch"),
    }
    false
}

/// The credentials a changed Secret concerns, except when it is the echo of our own write.
fn credentials_for_secret(
    ctx: &Context,
    cache: &CredentialCache,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<Key> {
    let echo = ctx.secret_cache.is_own_write(
        secret.metadata.namespace.as_deref().unwrap_or_default(),
        secret.metadata.name.as_deref().unwrap_or_default(),
        secret.metadata.resource_version.as_deref(),
    );
    if echo {
        return vec![];
    }
    // A managed Secret concerns its owner, found without a pass over every credential (none
    // if the owner is another operator's), and the credentials in conflict over it, kept
    // apart as they are rare.
    if let Some(owner) = triggers::owner(secret) {
        let (namespace, _) = owner.parts();
        let name = secret.metadata.name.as_deref().unwrap_or_default();
        let waiting = ctx.secret_cache.waiting_for(namespace, name);
        let waiting = waiting.iter().map(|n| Key::new(namespace, n));
        let owner = cache.held_key(&owner);
        return owner.into_iter().chain(waiting).collect();
    }
    cache.read(|entries| triggers::credentials_for_secret(entries, secret))
}

/// The credential as a reconcile reads it. Packed by this process, it always unpacks; should
/// a bug ever damage one, that credential is skipped with a warning, and no other.
fn unpacked(cached: &CachedCredential) -> Option<WetixCredential> {
    let credential = cached.credential();
    if credential.is_none() {
        let key = cached.key();
        let (namespace, name) = key.parts();
        warn!(
            namespace,
            name, "cached credential does not unpack; skipped"
        );
    }
    credential
}

/// A credential watch event as `triggers` reads it, unpacked; `None` if it does not unpack.
fn unpacked_event(
    event: &watcher::Event<CachedCredential>,
) -> Option<watcher::Event<WetixCredential>> {
    use watcher::Event;
    Some(match event {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(cached) => Event::InitApply(unpacked(cached)?),
        Event::Apply(cached) => Event::Apply(unpacked(cached)?),
        Event::Delete(cached) => Event::Delete(unpacked(cached)?),
    })
}

/// The objects a watch reports changed, except those of its first list: every credential is
/// reconciled at start-up anyway, and mapping each of thousands of listed Secrets to the
/// credentials that read it would cost a pass over all credentials per Secret. Later lists
/// (after the watch was interrupted) may hide changes, so their objects count. The end of the
/// first list is `None`.
fn changes_after_first_list<K>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
) -> impl futures::Stream<Item = Result<Option<K>, watcher::Error>> {
    let mut listed = false;
    events.filter_map(move |event| {
        let change = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o)) => Some(Ok(Some(o))),
            Ok(watcher::Event::InitApply(o)) if listed => Some(Ok(Some(o))),
            Ok(watcher::Event::InitDone) if !listed => {
                listed = true;
                Some(Ok(None))
            }
            Ok(watcher::Event::InitDone) => None,
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
            Err(error) => Some(Err(error)),
        };
        futures::future::ready(change)
    })
}

/// A watch of the Secrets with these labels, listed from the API server's cache.
fn selected(selector: &str) -> watcher::Config {
    listed_in_pages(watcher::Config::default().labels(selector).any_semantic())
}

/// Objects in one page of a watch's list. The client reads a page whole and copies it twice
/// before its objects are kept, so a page is a short peak of memory on top of everything
/// listed before it. At 100 rather than kube-runtime's 500, a restart at 1,000 credentials
/// peaks at 14.9 MiB instead of 18.1 MiB; at 10,000 it makes 240 more list requests, about
/// 2 % of its requests (docs/performance.md).
pub const LIST_PAGE: u32 = 100;

/// `config`, listed [`LIST_PAGE`] objects at a time.
pub fn listed_in_pages(config: watcher::Config) -> watcher::Config {
    config.page_size(LIST_PAGE)
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

/// Takes a slot, reconciles, and sets the credential's next wake-up: when the reconcile
/// asks, or after a failure when its error says (else [`API_ERROR_RETRY`]). Boxed, so that
/// one waiting for a slot holds only this small future.
///
/// The credential is taken from the cache once the slot is ours, and the reconcile reads its
/// memory in the same poll: no watch event comes in between, so the two always agree, and a
/// change made while it waited is already seen.
async fn reconcile_measured(key: &Key, cache: &CredentialCache, ctx: &Arc<Context>) {
    let _running = ctx.wakeups.start(key);
    let _slot = ctx.slots.acquire().await;
    let Some(credential) = cache.credential(key).map(Arc::new) else {
        // Deleted while it waited: nothing to do, no wake-up to keep.
        ctx.wakeups.remove(key);
        return;
    };
    let uid = credential.metadata.uid.clone();
    let started = std::time::Instant::now();
    let result = Box::pin(reconcile::reconcile(credential, ctx.clone())).await;
    ctx.metrics.reconciled(result.is_ok(), started.elapsed());
    // The watch may have shown the reconcile's status write before the reconcile ended: the
    // cache then already holds a version that settles its memory.
    if let Some(uid) = uid.as_deref()
        && ctx.guards_against_stale(uid)
    {
        ctx.settle(uid, cache.revision(key));
    }
    let again = match result {
        Ok(again) => again,
        Err(error) => {
            let (namespace, name) = key.parts();
            warn!(
                namespace,
                name,
                reason = %error.reason(),
                error = %error_chain(&error),
                "reconcile failed"
            );
            Some(error.retry_in().unwrap_or(API_ERROR_RETRY))
        }
    };
    if let Some(after) = again {
        let now = jiff::Timestamp::now();
        let at = now.checked_add(after).unwrap_or(jiff::Timestamp::MAX);
        ctx.wakeups.set(key.clone(), at);
    }
}
