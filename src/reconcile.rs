//! One reconcile: read the managed Secret, then ask [`step::decide`] what to do and do it (read
//! a referenced Secret, call WeTix), feeding each result back, until the decision is to act:
//! write the Secret, publish Events, restart workloads, write the status, in that order. The
//! only I/O of a reconcile; every rule is in [`crate::step`].

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
    },
};
use serde_json::json;
use tracing::{info, warn};

use crate::{
    credential::{WetixCredential, WetixCredentialStatus},
    error_chain::error_chain,
    managed_secret::{self, FIELD_MANAGER, StoredTokens},
    metrics::Metrics,
    oauth::{OAuthError, TokenIssuer, TokenRequest},
    plan::Why,
    reason::{Notice, Reason},
    rollout,
    secret_cache::{self, SecretCache, Written},
    step::{self, Act, Decision, Effect, Memory, Observed, Seen, Write},
    tokens::TokenPair,
};

pub use crate::step::{MAX_REQUEUE, REFRESH_REQUESTED_AT};

/// Everything a reconcile needs besides the object.
pub struct Context {
    pub client: kube::Client,
    pub issuer: Arc<dyn TokenIssuer>,
    pub allowed_server_urls: Vec<String>,
    /// Who publishes the Events. Each Event is published by a fresh `Recorder`: its cache,
    /// which folds repeats into a series, keeps every Event for six minutes, and at start-up
    /// (every credential issued at once) that is several KiB per credential.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    /// What the operator remembers between reconciles of one credential, by UID.
    memory: Mutex<HashMap<String, Memory>>,
    /// Secrets known without asking again: see [`SecretCache`].
    pub secret_cache: SecretCache,
}

impl Context {
    pub fn new(
        client: kube::Client,
        issuer: Arc<dyn TokenIssuer>,
        allowed_server_urls: Vec<String>,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            issuer,
            allowed_server_urls,
            reporter,
            metrics,
            memory: Mutex::default(),
            secret_cache: SecretCache::default(),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<String, Memory>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget a credential that no longer exists, and what is kept of its managed Secret.
    pub fn forget(&self, credential: &WetixCredential) {
        if let Some(namespace) = credential.namespace() {
            self.secret_cache
                .forget_written(&namespace, &credential.secret_name());
        }
        if let Some(uid) = credential.uid() {
            self.memory().remove(&uid);
        }
    }
}

/// A step that failed on the Kubernetes side. Token failures are not errors here: they are
/// outcomes, reported in status and retried on schedule.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the WetixCredential has no namespace or uid")]
    MissingMetadata,
    #[error("reading Secret {name:?}")]
    ReadSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the managed Secret {name:?}")]
    WriteSecret {
        name: String,
        /// How soon the tokens in hand are written again.
        retry_in: Option<Duration>,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status")]
    WriteStatus(#[source] kube::Error),
}

impl Error {
    /// Short, bounded reason for logs and metrics.
    pub fn reason(&self) -> Reason {
        match self {
            Self::MissingMetadata => Reason::InvalidSpec,
            Self::ReadSecret { .. } | Self::WriteSecret { .. } | Self::WriteStatus(_) => {
                Reason::KubernetesApiError
            }
        }
    }

    /// How soon to try again, when the step decided it.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            Self::WriteSecret { retry_in, .. } => *retry_in,
            _ => None,
        }
    }
}

pub async fn reconcile(
    credential: Arc<WetixCredential>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = credential.namespace().ok_or(Error::MissingMetadata)?;
    let uid = credential.uid().ok_or(Error::MissingMetadata)?;
    let reconcile = Reconcile {
        credential: &credential,
        ctx: &ctx,
        now: Timestamp::now(),
        secrets: Api::namespaced(ctx.client.clone(), &namespace),
        namespace,
        secret_name: credential.secret_name(),
    };
    let memory = ctx.memory().get(&uid).cloned().unwrap_or_default();
    let (memory, result) = reconcile.run(memory).await;
    ctx.memory().insert(uid, memory);
    result
}

/// One reconcile's inputs, gathered once.
struct Reconcile<'a> {
    credential: &'a WetixCredential,
    ctx: &'a Context,
    now: Timestamp,
    secrets: Api<Secret>,
    namespace: String,
    secret_name: String,
}

impl Reconcile<'_> {
    /// Reads and asks until the step acts, then acts. Returns what to remember either way.
    async fn run(&self, memory: Memory) -> (Memory, Result<Action, Error>) {
        let seen = match self.see_managed_secret().await {
            Ok(seen) => seen,
            Err(error) => return (memory, Err(error)),
        };
        let mut read: HashMap<String, Option<Arc<Secret>>> = HashMap::new();
        let mut answers = vec![];
        loop {
            let referenced = |name: &String| read.get(name).map(|s| s.as_deref());
            let spec = &self.credential.spec;
            let observed = Observed {
                credential: self.credential,
                managed: &seen,
                client_secret: referenced(&spec.client_secret_ref.name),
                bootstrap_secret: spec
                    .refresh_token_secret_ref
                    .as_ref()
                    .and_then(|r| referenced(&r.name)),
                answers: &answers,
                allowed_server_urls: &self.ctx.allowed_server_urls,
                now: self.now,
            };
            match step::decide(&observed, &memory) {
                Decision::Read(name) => match self.read_secret(&name).await {
                    Ok(secret) => {
                        read.insert(name, secret);
                    }
                    Err(error) => return (memory, Err(error)),
                },
                Decision::Request(request, why) => answers.push(self.call(&request, why).await),
                Decision::Act(act) => return self.act(act).await,
            }
        }
    }

    /// Carries out the effects in order. A failed write of new tokens ends it: they are kept
    /// in memory and written before anything else next time.
    async fn act(&self, act: Act) -> (Memory, Result<Action, Error>) {
        let Act {
            effects,
            mut memory,
            requeue,
        } = act;
        for effect in effects {
            let done = match effect {
                Effect::WriteSecret(Write::New(pending)) => {
                    match self.write_secret(&pending.tokens).await {
                        Ok(()) => Ok(()),
                        Err(source) => {
                            let (kept, wait) = step::write_failed(pending, memory);
                            memory = kept;
                            Err(self.write_error(source, Some(wait)))
                        }
                    }
                }
                Effect::WriteSecret(Write::Restore(tokens)) => {
                    info!(secret = %self.secret_name, "restoring the managed Secret");
                    let result = self.write_secret(&tokens).await;
                    result.map_err(|source| self.write_error(source, None))
                }
                Effect::Publish(notice) => {
                    self.publish(&notice).await;
                    Ok(())
                }
                Effect::RestartWorkloads => {
                    self.restart_workloads().await;
                    Ok(())
                }
                Effect::WriteStatus(status) => self.write_status(*status, &mut memory).await,
            };
            if let Err(error) = done {
                return (memory, Err(error));
            }
        }
        let action = requeue.map_or_else(Action::await_change, Action::requeue);
        (memory, Ok(action))
    }

    /// One call to WeTix, measured.
    async fn call(&self, request: &TokenRequest, why: Why) -> Result<TokenPair, OAuthError> {
        let grant = request.grant.label();
        info!(grant, why = why.describe(), "requesting tokens");
        let started = std::time::Instant::now();
        let result = self.ctx.issuer.request(request.clone()).await;
        let failure = result.as_ref().err().map(OAuthError::reason);
        self.ctx
            .metrics
            .token_request(grant, failure, started.elapsed());
        if let Err(error) = &result {
            warn!(reason = %error.reason(), error = %error_chain(error), "token request failed");
        }
        result
    }

    /// Restarts `spec.rolloutRestartTargets`. A target that cannot be restarted is reported;
    /// it never holds up the Secret or the status.
    async fn restart_workloads(&self) {
        let targets = &self.credential.spec.rollout_restart_targets;
        let failures =
            rollout::restart_all(&self.ctx.client, &self.namespace, targets, self.now).await;
        for notice in rollout::notices(targets.len(), &failures, &self.namespace) {
            self.publish(&notice).await;
        }
    }

    /// The managed Secret: as we wrote it when nobody changed it since, else read.
    async fn see_managed_secret(&self) -> Result<Seen, Error> {
        if let Some(written) = self
            .ctx
            .secret_cache
            .written(&self.namespace, &self.secret_name)
        {
            return Ok(Seen::Written(written));
        }
        let secret = self.get(&self.secret_name).await?;
        Ok(Seen::Read(secret.map(Box::new)))
    }

    /// A referenced Secret, from memory while its version is current, else read.
    async fn read_secret(&self, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        if let Some(secret) = self.ctx.secret_cache.read(&self.namespace, name) {
            return Ok(Some(secret));
        }
        let secret = self.get(name).await?;
        Ok(secret.map(|secret| {
            let cache = &self.ctx.secret_cache;
            cache.remember_read(&self.namespace, name, secret.clone());
            Arc::new(secret)
        }))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>, Error> {
        self.secrets
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadSecret {
                name: name.to_owned(),
                source,
            })
    }

    /// Applies the managed Secret built from `tokens`, and remembers what was written.
    async fn write_secret(&self, tokens: &StoredTokens) -> Result<(), kube::Error> {
        let desired = managed_secret::desired(self.credential, tokens);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = self
            .secrets
            .patch(&self.secret_name, &params, &Patch::Apply(&desired))
            .await?;
        info!(secret = %self.secret_name, fingerprint = %tokens.pair.fingerprint(), "managed Secret written");
        if let Some(resource_version) = written.metadata.resource_version {
            let written = Written {
                resource_version,
                tokens: tokens.clone(),
                body: secret_cache::body_hash(&desired),
            };
            let cache = &self.ctx.secret_cache;
            cache.remember_written(&self.namespace, &self.secret_name, written);
        }
        Ok(())
    }

    fn write_error(&self, source: kube::Error, retry_in: Option<Duration>) -> Error {
        warn!(secret = %self.secret_name, error = %error_chain(&source), "writing the managed Secret failed");
        Error::WriteSecret {
            name: self.secret_name.clone(),
            retry_in,
            source,
        }
    }

    /// Writes the status unless it is what the credential already says.
    async fn write_status(
        &self,
        status: WetixCredentialStatus,
        memory: &mut Memory,
    ) -> Result<(), Error> {
        self.ctx.metrics.credential(self.credential, &status);
        if self.credential.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let api: Api<WetixCredential> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        let body = json!({
            "apiVersion": WetixCredential::api_version(&()),
            "kind": WetixCredential::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = self.credential.name_any();
        let written = api
            .patch_status(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(Error::WriteStatus)?;
        let before = self.credential.metadata.resource_version.clone();
        memory.status_written(before, written.metadata.resource_version);
        Ok(())
    }

    /// Publishes an Event on the credential; a failure to publish is logged, never fatal.
    async fn publish(&self, notice: &Notice) {
        if notice.warning {
            warn!(reason = %notice.reason, "{}", notice.note);
        } else {
            info!(reason = %notice.reason, "{}", notice.note);
        }
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.as_str().to_owned(),
            note: Some(notice.note.clone()),
            action: notice.action.to_owned(),
            secondary: None,
        };
        let reference = self.credential.object_ref(&());
        let recorder = Recorder::new(self.ctx.client.clone(), self.ctx.reporter.clone());
        if let Err(error) = recorder.publish(&event, &reference).await {
            warn!(error = %error_chain(&error), "publishing an Event failed");
        }
    }
}
