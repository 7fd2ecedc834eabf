//! Rollout restarts of `spec.rolloutRestartTargets` when the access token changes, the way
//! `kubectl rollout restart` does it: a new pod-template annotation makes the workload roll,
//! so pods that read the token from an environment variable pick up the new one.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::{
    credential::{RolloutRestartTarget, WorkloadKind},
    error_chain::error_chain,
    managed_secret::{FIELD_MANAGER, rfc3339},
    reason::{Notice, Reason},
};

/// The pod-template annotation whose new value restarts the workload.
pub const RESTARTED_AT: &str = "wetix.my/restartedAt";

/// The merge patch that restarts a workload at `now`.
pub fn restart_patch(now: Timestamp) -> Value {
    json!({
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339(now)}}}}
    })
}

/// The workload's own annotation opting it in: a comma-separated list of the WetixCredentials
/// (of its namespace) that may restart it. Without it, a tenant who may create credentials
/// could restart any workload of the namespace.
pub const RESTART_ON_TOKEN_CHANGE: &str = "wetix.my/restart-on-token-change";

/// Whether a workload with these annotations lets `credential` restart it.
pub fn opted_in(
    annotations: &std::collections::BTreeMap<String, String>,
    credential: &str,
) -> bool {
    annotations
        .get(RESTART_ON_TOKEN_CHANGE)
        .is_some_and(|names| names.split(',').any(|n| n.trim() == credential))
}

/// Why a target was not restarted.
#[derive(Debug)]
pub enum NotRestarted {
    NotFound,
    /// The workload does not list the credential in [`RESTART_ON_TOKEN_CHANGE`].
    NotOptedIn,
    Api(kube::Error),
}

/// A target that could not be restarted.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} {name:?} was not restarted")]
pub struct RestartFailed {
    pub kind: WorkloadKind,
    pub name: String,
    pub cause: NotRestarted,
}

/// The Events after restarting `targets` targets with these failures: one Warning per failure,
/// and one Normal counting the restarted, if any.
pub fn notices(
    targets: usize,
    failures: &[RestartFailed],
    namespace: &str,
    credential: &str,
) -> Vec<Notice> {
    let mut notices: Vec<Notice> = failures
        .iter()
        .map(|failure| {
            let message = match &failure.cause {
                NotRestarted::NotFound => {
                    format!("{failure}: not found in namespace {namespace:?}")
                }
                NotRestarted::NotOptedIn => format!(
                    "{failure}: its annotation {RESTART_ON_TOKEN_CHANGE} does not list {credential:?}"
                ),
                NotRestarted::Api(error) => format!("{failure}: {}", error_chain(error)),
            };
            Notice::warning(Reason::RolloutRestartFailed, &message, ACTION)
        })
        .collect();
    let restarted = targets.saturating_sub(failures.len());
    if restarted > 0 {
        let note = format!("restarted {restarted} of {targets} rollout targets");
        notices.push(Notice::normal(Reason::RolloutRestarted, &note, ACTION));
    }
    notices
}

const ACTION: &str = "RestartWorkload";

/// Restarts every target that opted in to `credential`; the failures are returned, never
/// fatal: the Secret is already written. Each target is read, checked, and patched at the
/// version read, so an opt-in removed meanwhile is never overridden.
pub async fn restart_all(
    client: &Client,
    namespace: &str,
    credential: &str,
    targets: &[RolloutRestartTarget],
    now: Timestamp,
) -> Vec<RestartFailed> {
    let restart = Restart {
        client,
        namespace,
        credential,
        now,
    };
    let mut failures = vec![];
    for target in targets {
        let result = match target.kind {
            WorkloadKind::Deployment => restart.one::<Deployment>(&target.name).await,
            WorkloadKind::StatefulSet => restart.one::<StatefulSet>(&target.name).await,
            WorkloadKind::DaemonSet => restart.one::<DaemonSet>(&target.name).await,
        };
        if let Err(cause) = result {
            failures.push(RestartFailed {
                kind: target.kind,
                name: target.name.clone(),
                cause,
            });
        }
    }
    failures
}

struct Restart<'a> {
    client: &'a Client,
    namespace: &'a str,
    credential: &'a str,
    now: Timestamp,
}

impl Restart<'_> {
    async fn one<K>(&self, name: &str) -> Result<(), NotRestarted>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.namespace);
        let workload = api
            .get_opt(name)
            .await
            .map_err(NotRestarted::Api)?
            .ok_or(NotRestarted::NotFound)?;
        if !opted_in(workload.annotations(), self.credential) {
            return Err(NotRestarted::NotOptedIn);
        }
        let mut patch = restart_patch(self.now);
        if let Some(fields) = patch.as_object_mut() {
            fields.insert(
                "metadata".into(),
                json!({"resourceVersion": workload.resource_version()}),
            );
        }
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        api.patch(name, &params, &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|error| match &error {
                kube::Error::Api(status) if status.code == 404 => NotRestarted::NotFound,
                _ => NotRestarted::Api(error),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_opts_in_by_naming_the_credential() {
        let with = |value: &str| {
            std::collections::BTreeMap::from([(
                RESTART_ON_TOKEN_CHANGE.to_owned(),
                value.to_owned(),
            )])
        };
        let table = [
            (with("ticketing"), true),
            (with("payments, ticketing"), true),
            (with("ticketing-old"), false),
            (with(""), false),
            (with("*"), false),
            (std::collections::BTreeMap::new(), false),
        ];
        for (annotations, expected) in table {
            assert_eq!(
                opted_in(&annotations, "ticketing"),
                expected,
                "{annotations:?}"
            );
        }
    }

    #[test]
    fn the_patch_sets_only_the_pod_template_annotation() {
        let patch = restart_patch("2026-11-25T10:00:00.5Z".parse().unwrap());
        assert_eq!(
            patch,
            json!({"spec": {"template": {"metadata": {"annotations": {
                "wetix.my/restartedAt": "2026-11-25T10:00:00Z"
            }}}}})
        );
    }
}
