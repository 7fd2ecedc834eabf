//! One reconcile: read the managed Secret, then ask [`step::decide`] what to do and do it (read
//! a referenced Secret, call WeTix), feeding each result back, until the decision is to act:
//! write the Secret, publish Events, restart workloads, write the status, in that order. The
//! only I/O of a reconcile; every rule is in [`crate::step`].

use std::{collections::HashMap, sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use crate::{
    credential::WetixCredential,
    error_chain::error_chain,
    oauth::{OAuthError, TokenRequest},
    plan::Why,
    rollout,
    step::{self, Act, Decision, Effect, Memory, Observed, Seen, Write},
    tokens::TokenPair,
};

pub use crate::context::Context;
pub use crate::step::{MAX_REQUEUE, REFRESH_REQUESTED_AT};

/// Reconciles one credential; `Ok` carries when to look at it again, if time alone is a
/// reason to (`None`: only a change is).
pub async fn reconcile(
    credential: Arc<WetixCredential>,
    ctx: Arc<Context>,
) -> Result<Option<Duration>, Error> {
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
    let memory = ctx
        .memory()
        .get(&uid)
        .map(|m| Memory::clone(m))
        .unwrap_or_default();
    let (mut memory, result) = reconcile.run(memory).await;
    let result = match result {
        Ok(again) => {
            memory.reconciled();
            Ok(again)
        }
        Err(error) => {
            let (kept, retry_in) = reconcile.report_api_error(&error, memory).await;
            memory = kept;
            Err(Error::BackingOff {
                error: Box::new(error),
                retry_in,
            })
        }
    };
    ctx.remember(uid, memory);
    result
}

/// Claims of an absent managed Secret in one reconcile: one, and one more should it vanish
/// between a refused claim and the read that follows.
const MAX_CLAIMS: u32 = 2;

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
    async fn run(&self, memory: Memory) -> (Memory, Result<Option<Duration>, Error>) {
        let mut seen = None;
        let mut read: HashMap<String, Option<Arc<Secret>>> = HashMap::new();
        let mut answers = vec![];
        let mut claims = 0;
        // The time of the latest fact: a wait the server asks for counts from its answer,
        // not from the start of the reconcile.
        let mut now = self.now;
        loop {
            let referenced = |name: &String| read.get(name).map(|s| s.as_deref());
            let spec = &self.credential.spec;
            let observed = Observed {
                credential: self.credential,
                managed: seen.as_ref(),
                client_secret: referenced(&spec.client_secret_ref.name),
                bootstrap_secret: spec
                    .refresh_token_secret_ref
                    .as_ref()
                    .and_then(|r| referenced(&r.name)),
                answers: &answers,
                allowed_server_urls: &self.ctx.allowed_server_urls,
                now,
            };
            match step::decide(&observed, &memory) {
                Decision::Read(name) => match self.read_secret(&name).await {
                    Ok(secret) => {
                        read.insert(name, secret);
                    }
                    Err(error) => return (memory, Err(error)),
                },
                Decision::ReadManaged => match self.see_managed_secret().await {
                    Ok(there) => seen = Some(there),
                    Err(error) => return (memory, Err(error)),
                },
                Decision::ReadBack => match self.get(&self.secret_name).await {
                    Ok(there) => seen = Some(Seen::Read(there.map(Box::new))),
                    Err(error) => return (memory, Err(error)),
                },
                Decision::Claim if claims < MAX_CLAIMS => {
                    claims += 1;
                    match self.claim().await {
                        Ok(now_there) => seen = Some(now_there),
                        Err(error) => return (memory, Err(error)),
                    }
                }
                Decision::Claim => {
                    let error = Error::ClaimSecret {
                        name: self.secret_name.clone(),
                    };
                    return (memory, Err(error));
                }
                Decision::Request(request, why) => {
                    answers.push(self.call(&request, why).await);
                    now = Timestamp::now();
                }
                Decision::Act(act) => return self.act(act).await,
            }
        }
    }

    /// Carries out the effects: the Secret write first, then the Events alongside the restarts
    /// and the status, which follow in order. A failed write of new tokens ends it: they are
    /// kept in memory and written before anything else next time, and nothing is announced.
    async fn act(&self, act: Act) -> (Memory, Result<Option<Duration>, Error>) {
        let Act {
            effects,
            mut memory,
            requeue,
        } = act;
        let mut notices = vec![];
        let mut rest = vec![];
        for effect in effects {
            match effect {
                Effect::WriteSecret { write, version } => {
                    if let Err(error) = self.write(write, version, &mut memory).await {
                        return (memory, Err(error));
                    }
                }
                Effect::Publish(notice) => notices.push(notice),
                other => rest.push(other),
            }
        }
        let announce = futures::future::join_all(notices.iter().map(|n| self.publish(n)));
        let report = async {
            for effect in rest {
                match effect {
                    Effect::RestartWorkloads => self.restart_workloads().await,
                    Effect::WriteStatus(status) => {
                        self.write_status(*status, &mut memory).await?;
                    }
                    Effect::WriteSecret { .. } | Effect::Publish(_) => {}
                }
            }
            Ok(())
        };
        let (_, reported) = futures::future::join(announce, report).await;
        (memory, reported.map(|()| requeue))
    }

    async fn write(
        &self,
        write: Write,
        version: Option<String>,
        memory: &mut Memory,
    ) -> Result<(), Error> {
        match write {
            Write::New(pending) => match self.write_secret(&pending.tokens, version).await {
                Ok(()) => Ok(()),
                Err(source) => {
                    *memory = step::write_failed(pending, std::mem::take(memory));
                    Err(self.write_error(source))
                }
            },
            Write::Restore(tokens) if tokens.pair.access_token.held().is_none() => {
                // The step reads the Secret back before it rewrites it. Should it ever not,
                // nothing is written rather than a Secret without its access token.
                warn!(secret = %self.secret_name, "not restoring the managed Secret: its access token was not read back");
                let cache = &self.ctx.secret_cache;
                cache.forget_written(&self.namespace, &self.secret_name);
                Ok(())
            }
            Write::Restore(tokens) => {
                info!(secret = %self.secret_name, "restoring the managed Secret");
                let result = self.write_secret(&tokens, version).await;
                result.map_err(|source| self.write_error(source))
            }
        }
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
        let name = self.credential.name_any();
        let client = &self.ctx.client;
        let failures =
            rollout::restart_all(client, &self.namespace, &name, targets, self.now).await;
        for notice in rollout::notices(targets.len(), &failures, &self.namespace, &name) {
            self.publish(&notice).await;
        }
    }
}

mod error;
mod report;
mod secrets;

pub use error::Error;
