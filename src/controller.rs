//! Wiring: which objects are watched, and how their changes reach `reconcile`.
//!
//! - WetixCredentials: the controller's own watch, cached (managed fields dropped).
//! - Secrets: one metadata-only watch whose store keeps only names, labels and versions
//!   (`secret_cache`); each change is mapped to the credentials it concerns (`triggers`), except
//!   the echo of our own write. Secret data is never watched: reconcile reads the few Secrets it
//!   needs by name, and reads them again only when their version moved.
//!
//! One controller runs per watched namespace (or one for all namespaces), so a namespaced
//! install needs no cluster-wide permission.

use std::{sync::Arc, time::Duration};

use futures::{StreamExt, future::Shared};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        controller::{self, Action, Controller},
        reflector::{self},
        watcher,
    },
};
use tracing::{info, warn};

use crate::{
    credential::WetixCredential,
    error_chain::error_chain,
    reconcile::{self, Context, Error},
    triggers,
};

/// How soon a reconcile that failed on the Kubernetes side is tried again. Short: new tokens
/// may be waiting in memory to be written.
const API_ERROR_RETRY: Duration = Duration::from_secs(5);

/// Reconciles running at once per controller. Bounds the burst of reads at start-up, when
/// every credential is looked at once, without slowing steady state (a reconcile that keeps
/// its tokens takes two reads and no write).
const RECONCILE_CONCURRENCY: u16 = 16;

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
    let runs = scopes.into_iter().map(|namespace| {
        let credential_watch = credentials.clone();
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let on_ready = on_ready.clone();
        let pending = pending.clone();
        async move {
            let (reader, writer) = reflector::store();
            let api = scoped::<WetixCredential>(&ctx.client, namespace.as_deref());
            let metrics = ctx.metrics.clone();
            let forget_ctx = ctx.clone();
            // Readiness is taken from the first InitDone, which `reflect` has just applied to
            // the store. Not `Store::wait_until_ready` in a second task: the Controller waits
            // on the same store, and kube-runtime's ready signal wakes only one waiter.
            let mut synced = false;
            let credentials = watcher(api, credential_watch)
                .default_backoff()
                .modify(keep_what_reconcile_reads)
                .reflect(writer)
                .inspect(move |event| match event {
                    Ok(watcher::Event::Delete(gone)) => {
                        metrics.forget(&gone.namespace().unwrap_or_default(), &gone.name_any());
                        forget_ctx.forget(gone);
                    }
                    Ok(watcher::Event::InitDone) if !synced => {
                        synced = true;
                        if pending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                            on_ready();
                        }
                    }
                    _ => {}
                })
                .touched_objects()
                .predicate_filter(worth_a_reconcile, Default::default());
            let store = reader.clone();
            let secrets = scoped::<PartialObjectMeta<Secret>>(&ctx.client, namespace.as_deref());
            let (versions, versions_writer) = reflector::store();
            ctx.secret_cache.watch_versions(versions);
            let secret_changes = watcher(secrets, watcher::Config::default().any_semantic())
                .default_backoff()
                .modify(keep_identity_only)
                .reflect(versions_writer)
                .touched_objects();
            let own = ctx.clone();
            Controller::for_stream(credentials, reader)
                .watches_stream(secret_changes, move |secret| {
                    let echo = own.secret_cache.is_own_write(
                        secret.metadata.namespace.as_deref().unwrap_or_default(),
                        secret.metadata.name.as_deref().unwrap_or_default(),
                        secret.metadata.resource_version.as_deref(),
                    );
                    if echo {
                        return vec![];
                    }
                    triggers::credentials_for_secret(
                        store.state().iter().map(|c| c.as_ref()),
                        &secret,
                    )
                })
                .with_config(controller::Config::default().concurrency(RECONCILE_CONCURRENCY))
                .graceful_shutdown_on(shutdown)
                .run(reconcile_measured, error_policy, ctx)
                .for_each(|result| async move {
                    if let Err(error) = result {
                        warn!(error = %error_chain(&error), "controller");
                    }
                })
                .await;
        }
    });
    futures::future::join_all(runs).await;
    info!("controller stopped");
}

/// What the credential cache keeps: all but managed fields and other tools' annotations
/// (`kubectl apply` stores a copy of the whole object in one).
fn keep_what_reconcile_reads(credential: &mut WetixCredential) {
    credential.managed_fields_mut().clear();
    if let Some(annotations) = credential.metadata.annotations.as_mut() {
        annotations.retain(|key, _| key.starts_with("wetix.my/"));
    }
}

/// What the Secret watch keeps of each Secret: name, namespace, labels and resourceVersion.
/// Annotations go too: `kubectl apply` copies a Secret's data into one.
fn keep_identity_only(secret: &mut PartialObjectMeta<Secret>) {
    let metadata = &mut secret.metadata;
    metadata.annotations = None;
    metadata.managed_fields = None;
    metadata.owner_references = None;
    metadata.finalizers = None;
}

/// What of a credential asks for a reconcile when it changes: its spec (generation) and the
/// refresh annotation. Status changes, mostly our own writes, do not; the requeue that each
/// reconcile sets covers time.
fn worth_a_reconcile(credential: &WetixCredential) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    credential.metadata.generation.hash(&mut hasher);
    credential
        .annotations()
        .get(crate::step::REFRESH_REQUESTED_AT)
        .hash(&mut hasher);
    Some(hasher.finish())
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

async fn reconcile_measured(
    credential: Arc<WetixCredential>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile::reconcile(credential, ctx.clone()).await;
    ctx.metrics.reconciled(result.is_ok(), started.elapsed());
    result
}

fn error_policy(credential: Arc<WetixCredential>, error: &Error, _: Arc<Context>) -> Action {
    warn!(
        namespace = credential.namespace().unwrap_or_default(),
        name = credential.name_any(),
        reason = %error.reason(),
        error = %error_chain(error),
        "reconcile failed"
    );
    Action::requeue(error.retry_in().unwrap_or(API_ERROR_RETRY))
}
